"""The rate limit holds at the device whatever the transport delays (PROTOCOL.md §5.3).

A scripted transport stands between :class:`StimulusGuard` and the firmware's own safety state
machine (:class:`StimSafety`, on a drifting µs clock): each command reaches the device a given
delay after it was sent and its answer comes back a given delay later; ``send`` blocks until
then, as ``DeviceLink.request`` does. The host fires as early as the guard allows. Everything
runs on a scripted clock: no sleeping, no timing-dependent outcome.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.acquisition.safety import StimulusGuard
from hreflex.devices import NackError
from hreflex.errors import DeviceError, SafetyError
from hreflex.protocol import Opcode, Reason, StimLimits, StimSafety


class Clock:
    def __init__(self, t: float = 50.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class DelayedStimulator:
    """``send(opcode)``: the command reaches the device ``out`` s after it was sent, the
    answer the host ``back`` s after that (``back = None``: the answer is lost and the host
    gives up ``timeout_s`` after sending). ``delays`` gives (out, back) per command."""

    def __init__(self, clock: Clock, limits: StimLimits, delays, *, drift_ppm: float = -100.0,
                 timeout_s: float = 0.5) -> None:
        self.clock, self.delays, self.timeout_s = clock, iter(delays), timeout_s
        self.rate = 1.0 + drift_ppm * 1e-6
        self.device = StimSafety(limits, 0)
        #: (host send time, device µs when processed, answer reason) of every FIRE
        self.fires: list[tuple[float, int, Reason]] = []
        #: host time at which each FIRE's send returned or raised
        self.answers: list[float] = []

    def device_us(self, true_s: float) -> int:
        return math.floor(true_s * self.rate * 1e6)

    def __call__(self, opcode, **fields):
        sent = self.clock.t
        out, back = next(self.delays)
        arrive = sent + out
        us = self.device_us(arrive)
        reason = Reason.OK
        if opcode == Opcode.SET_STIMULUS:
            reason = self.device.set_stimulus(fields["intensity_uA"], fields["pulse_width_us"])
        elif opcode == Opcode.ARM:
            reason = self.device.arm(us)
        elif opcode == Opcode.FIRE:
            reason = self.device.fire(us)
            self.fires.append((sent, us, reason))
        if back is None:
            assert out <= self.timeout_s  # (a later arrival: see the GET_STATUS test)
            self.clock.t = sent + self.timeout_s
            if opcode == Opcode.FIRE:
                self.answers.append(self.clock.t)
            raise DeviceError("no answer")
        self.clock.t = arrive + back
        if opcode == Opcode.FIRE:
            self.answers.append(self.clock.t)
        if reason != Reason.OK:
            raise NackError(f"refused: {reason.name}", opcode, reason)
        return "ack"


LIMITS = StimLimits(50_000, 1000, 500)  # 0.5 Hz: 2 s between pulses
INTERVAL_S = 2.0


def run(delays, n_fires: int, limits: StimLimits = LIMITS, drift_ppm: float = -100.0):
    clock = Clock()
    dev = DelayedStimulator(clock, limits, [(0.0, 0.0), (0.0, 0.0)] + list(delays),
                            drift_ppm=drift_ppm)
    guard = StimulusGuard(dev, limits, clock=clock)
    guard.set_stimulus(10.0, 500)
    guard.arm()
    for _ in range(n_fires):
        clock.t = max(clock.t, guard.earliest_fire_s)  # as early as the guard allows
        try:
            guard.fire()
        except (NackError, DeviceError):
            pass
    return dev, guard


def assert_spaced(dev: DelayedStimulator, min_interval_s: float, rate_mHz: int) -> None:
    """Device: no two FIREs (delivered or not) closer than 1 / max rate on its own clock, so
    it never had to refuse one; host: no FIRE sent before 1 / max rate after the previous
    FIRE's answer."""
    assert all(reason != Reason.RATE_LIMIT for _, _, reason in dev.fires)
    us = [u for _, u, _ in dev.fires]
    assert all((b - a) * rate_mHz >= 1_000_000_000 for a, b in zip(us, us[1:], strict=False))
    sends = [t for t, _, _ in dev.fires]
    assert all(s >= a + min_interval_s for a, s in zip(dev.answers, sends[1:], strict=False))


@pytest.mark.parametrize("delays", [
    [(0.05, 0.0), (0.0, 0.0)],  # the previous FIRE delivered late, the next on time
    [(0.3, 0.02), (0.0, 0.0), (0.25, 0.0), (0.0, 0.3)],  # late, on time, late answers
    [(0.4, None), (0.0, 0.0)],  # no answer (executed 0.4 s after sending), the next on time
])
def test_a_late_fire_never_brings_the_next_closer_at_the_device(delays):
    dev, guard = run(delays, len(delays))
    assert len(dev.fires) == len(delays) and guard.n_fired == len(delays)
    assert_spaced(dev, INTERVAL_S, LIMITS.max_rate_mHz)
    assert [r for _, _, r in dev.fires] == [Reason.OK] * len(delays)


def test_spacing_from_the_send_would_not_hold_and_is_refused():
    """The failure it prevents: FIRE 1 reaches the device 50 ms late; a FIRE sent 1 / rate +
    31 ms after FIRE 1 was *sent* reaches it 1.981 s after FIRE 1. The guard refuses it."""
    dev, guard = run([(0.05, 0.0), (0.0, 0.0)], 1)
    (sent1, us1, _), = dev.fires
    early = sent1 + INTERVAL_S + 0.031
    assert early < guard.earliest_fire_s
    assert (dev.device_us(early) - us1) * LIMITS.max_rate_mHz < 1_000_000_000  # too close
    dev.clock.t = early
    with pytest.raises(SafetyError, match="exceeds the rate limit of 0.5 Hz"):
        guard.fire()
    assert len(dev.fires) == 1 and guard.n_fired == 1  # nothing was sent


def test_a_refused_fire_counts_and_the_retry_waits_from_the_refusal():
    clock = Clock()
    dev = DelayedStimulator(clock, LIMITS, [(0.0, 0.0)] * 3 + [(0.0, 0.1), (0.0, 0.0)])
    guard = StimulusGuard(dev, LIMITS, clock=clock)
    guard.set_stimulus(10.0, 500)
    dev.device.disarm()
    with pytest.raises(NackError):  # not armed: refused (the device's answer is a NACK)
        guard.fire()
    assert guard.n_fired == 1 and dev.answers == [clock.t]
    nacked_at = clock.t
    guard.arm()
    with pytest.raises(SafetyError):  # right after the refusal: not yet
        guard.fire()
    clock.t = guard.earliest_fire_s
    assert clock.t >= nacked_at + INTERVAL_S
    guard.fire()
    assert [r for _, _, r in dev.fires] == [Reason.NOT_ARMED, Reason.OK]


def test_an_answer_after_a_lost_fire_answer_moves_the_spacing():
    """A FIRE without answer may still be on its way when the host gives up; once the device
    answers a later command (GET_STATUS: commands are handled in order) the host counts the
    rate from that answer (``StimulusGuard.answered``)."""
    clock = Clock()

    def send(opcode, **fields):
        if opcode == Opcode.FIRE:
            clock.t += 0.5
            raise DeviceError("no answer")
        return "ack"

    guard = StimulusGuard(send, LIMITS, clock=clock)
    guard.set_stimulus(10.0, 500)
    with pytest.raises(DeviceError):
        guard.fire()
    gave_up = guard.earliest_fire_s
    assert gave_up == pytest.approx(clock.t + 2.0 / 0.999 + 2e-6)  # from giving up, not sending
    clock.t += 0.8  # GET_STATUS answered 0.8 s later
    guard.answered()
    assert guard.earliest_fire_s == pytest.approx(gave_up + 0.8)
    clock.t -= 0.5  # an older answer never moves it back
    guard.answered()
    assert guard.earliest_fire_s == pytest.approx(gave_up + 0.8)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    rate_mHz=st.integers(100, 20_000),
    drift_ppm=st.floats(-999, 999),
    delays=st.lists(st.tuples(st.floats(0, 0.5), st.one_of(st.none(), st.floats(0, 0.5))),
                    min_size=2, max_size=12),
)
def test_property_any_delays_and_drift_within_the_tolerance(rate_mHz, drift_ppm, delays):
    limits = StimLimits(50_000, 1000, rate_mHz)
    dev, _ = run(delays, len(delays), limits, drift_ppm)
    assert len(dev.fires) == len(delays)
    assert_spaced(dev, 1000.0 / rate_mHz, rate_mHz)
