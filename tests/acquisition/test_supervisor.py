"""Device supervision on its own: the heartbeat cadence (fake clock, fake link) and link events.

The cadence expected is the spec's: one HEARTBEAT every timeout / 5 (the protocol asks for at
most timeout / 3), none retried, a late one sent at once without a catch-up burst."""

from __future__ import annotations

import pytest

from hreflex.acquisition.config import parse_config
from hreflex.acquisition.outcome import SessionStopped
from hreflex.acquisition.supervisor import DeviceSupervisor
from hreflex.devices import LinkEvent, StimulatorClient, Timebase, stimulator
from hreflex.devices.stimulator import heartbeat_loop
from hreflex.errors import DeviceError
from hreflex.protocol import Opcode, StimLimits

from .helpers import base_config


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeStop:
    """``wait(timeout)`` lets ``timeout`` pass on the fake clock; set after ``n`` waits."""

    def __init__(self, clock, n):
        self.clock, self.n, self.waits = clock, n, []

    def wait(self, timeout):
        self.waits.append(timeout)
        self.clock.t += timeout
        return len(self.waits) >= self.n


def test_beats_on_a_fixed_cadence():
    clock = FakeClock()
    sent = []
    heartbeat_loop(lambda: sent.append(clock.t), 0.2, FakeStop(clock, 5), clock=clock)
    assert sent == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


def test_a_slow_send_keeps_the_cadence_and_a_pause_causes_no_burst():
    clock = FakeClock()
    sent = []

    def send():
        sent.append(clock.t)
        clock.t += {1: 0.05, 2: 0.5}.get(len(sent), 0.0)  # ACK after 50 ms; a 0.5 s stall

    heartbeat_loop(send, 0.2, FakeStop(clock, 5), clock=clock)
    # the 50 ms ACK does not delay the next beat; the second send stalls 0.2 -> 0.7 s (due
    # 0.4): the next goes at once and the cadence continues from it, no beat in between
    assert sent == pytest.approx([0.0, 0.2, 0.7, 0.9, 1.1])


def test_missing_acks_are_counted_not_retried():
    clock = FakeClock()
    calls, missed = [], []

    def send():
        calls.append(clock.t)
        if len(calls) in (2, 3):
            raise DeviceError("no answer to HEARTBEAT")

    heartbeat_loop(send, 0.2, FakeStop(clock, 4), clock=clock,
                   on_missed=lambda: missed.append(clock.t))
    assert calls == pytest.approx([0.0, 0.2, 0.4, 0.6]) and missed == pytest.approx([0.2, 0.4])


class FakeLink:
    def __init__(self, clock, fail=()):
        self.clock, self.fail, self.requests = clock, fail, []

    def request(self, opcode, **kw):
        self.requests.append((self.clock.t, opcode, kw))
        if len(self.requests) in self.fail:
            raise DeviceError("no answer")


@pytest.mark.parametrize(("speed", "period_s"), [(1.0, 0.2), (4.0, 0.05)])
def test_the_stimulator_beats_every_fifth_of_its_timeout(monkeypatch, speed, period_s):
    clock = FakeClock()
    stop = FakeStop(clock, 3)
    real = stimulator.heartbeat_loop
    monkeypatch.setattr(stimulator, "heartbeat_loop",
                        lambda send, period, _stop, **kw: real(send, period, stop, clock=clock,
                                                               **kw))
    stim = StimulatorClient("loop://", StimLimits(50_000, 1000, 5000),
                            heartbeat_timeout_ms=1000, timebase=Timebase(speed))
    stim.link = FakeLink(clock, fail=(2,))
    stim._beat()  # the heartbeat thread's body, run here
    # 1000 ms of experiment time / 5, in wall seconds at the speed factor
    assert [t for t, _, _ in stim.link.requests] == pytest.approx([0, period_s, 2 * period_s])
    assert all(op == Opcode.HEARTBEAT and kw == {"retries": 0, "timeout_s": period_s}
               for _, op, kw in stim.link.requests)
    assert stim.heartbeats_missed == 1


def test_link_events_mark_devices_down_and_back():
    faults = []
    dev = DeviceSupervisor(parse_config(base_config(), "p.toml"), Timebase(),
                           on_bytes=lambda *a: None, fault=lambda k, d, *a: faults.append(k))
    down = []
    dev.on_stimulator_down = lambda: down.append(True)
    assert dev.ready
    dev.link_event("stimulator", LinkEvent("disconnected", 1.0, "stimulator: gone"))
    assert not dev.ready and down == [True]
    dev.link_event("stimulator", LinkEvent("reconnected", 2.0, "stimulator: back"))
    assert not dev.ready and dev.stim_reinit  # back only once identified again (recover)
    dev.link_event("amplifier", LinkEvent("stall", 3.0, "amplifier: quiet"))
    assert faults == ["disconnect", "reconnect", "stall"]
    with pytest.raises(SessionStopped, match="stopped safely"):
        dev.link_event("amplifier", LinkEvent("lost", 4.0, "amplifier: lost"))
