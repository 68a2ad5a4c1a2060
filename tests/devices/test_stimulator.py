"""StimulatorClient against the emulated stimulator: the safety guard (the emulator's command
record proves what reached the wire), NACKs, rate limit, heartbeats and the watchdog,
missing answers, and disarming on close."""

from __future__ import annotations

import contextlib

import pytest

from hreflex.devices import LinkEvent, NackError
from hreflex.errors import DeviceError, SafetyError
from hreflex.protocol import Opcode, Reason, Status, StimEvent, StimLimits
from hreflex.sim.emulators import TRANSPORTS
from tests.devices.helpers import LIMITS, wait_for


def sent(bench, opcode: Opcode) -> list:
    """The commands with ``opcode`` the emulated stimulator received, in order."""
    return [c.command for c in bench.stimulator.commands if c.command.opcode == opcode]


def test_out_of_limit_stimuli_never_reach_the_wire(rig) -> None:
    bench = rig.bench()
    stim = rig.stimulator(bench)  # host limits 50 mA, 1000 us, 5 Hz; the device allows more
    for mA, us, why in [(50.001, 500, "INTENSITY_LIMIT"), (10.0, 1001, "PULSE_WIDTH_LIMIT"),
                        (10.0, 0, "PULSE_WIDTH_LIMIT"), (-1.0, 500, "INTENSITY_LIMIT"),
                        (float("nan"), 500, "INTENSITY_LIMIT"), (60.0, 2000, "INTENSITY_LIMIT")]:
        with pytest.raises(SafetyError, match=f"nothing sent: {why}"):
            stim.set_stimulus(mA, us)
    assert sent(bench, Opcode.SET_STIMULUS) == []
    stim.set_stimulus(50.0004, 1000.7)  # truncated to the limits, never rounded up
    (cmd,) = sent(bench, Opcode.SET_STIMULUS)
    assert cmd.fields() == {"intensity_uA": 50_000, "pulse_width_us": 1000}
    # the device's record agrees with the spec's limits for everything it ever received
    assert all(c.fields()["intensity_uA"] <= LIMITS.max_intensity_uA
               for c in sent(bench, Opcode.SET_STIMULUS))


def test_effective_limits_never_exceed_the_devices(rig) -> None:
    bench = rig.bench(limits=StimLimits(20_000, 500, 2000))
    stim = rig.stimulator(bench, limits=StimLimits(80_000, 1000, 10_000))
    assert stim.device_limits == StimLimits(20_000, 500, 2000)
    assert stim.limits == StimLimits(20_000, 500, 2000)
    with pytest.raises(SafetyError, match="INTENSITY_LIMIT"):
        stim.set_stimulus(25.0, 200)
    assert sent(bench, Opcode.SET_STIMULUS) == []


def test_fire_when_disarmed_is_nacked(rig) -> None:
    bench = rig.bench()
    stim = rig.stimulator(bench)
    with pytest.raises(NackError, match="refused FIRE: NOT_ARMED") as err:
        stim.fire()
    assert err.value.reason == Reason.NOT_ARMED
    with pytest.raises(NackError, match="NO_STIMULUS"):
        stim.arm()
    assert bench.delivered == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fire_delivers_one_pulse_and_reports_it(rig, transport) -> None:
    bench = rig.bench(transport=transport)
    stim = rig.stimulator(bench)
    stim.set_stimulus(12.5, 1000)
    stim.arm()
    event = stim.fire()
    (truth,) = bench.delivered
    assert (event.pulse_counter, event.intensity_uA, event.pulse_width_us) == (1, 12_500, 1000)
    assert event.sample_index is None  # the stimulator has no ADC clock
    assert (truth.intensity_mA, truth.pulse_width_us, truth.stimulator_time_us,
            truth.request_id) == (12.5, 1000, event.device_time_us, event.request_id)
    assert wait_for(lambda: stim.get(timeout_s=0.05), what="the queued event") == event


def test_rate_limit_is_enforced_before_sending(rig) -> None:
    bench = rig.bench()
    limits = StimLimits(50_000, 1000, max_rate_mHz=500)  # 2 s between pulses (experiment time)
    stim = rig.stimulator(bench, limits=limits)
    stim.set_stimulus(10.0, 200)
    stim.arm()
    first = stim.fire()
    with pytest.raises(SafetyError, match="nothing sent: RATE_LIMIT"):
        stim.fire()
    assert len(sent(bench, Opcode.FIRE)) == 1
    # counted from the FIRE's answer, which came after the device delivered the pulse
    assert stim.earliest_fire_s >= bench.delivered[0].true_time_s + 2.0
    wait_for(lambda: bench.true_time_s() >= stim.earliest_fire_s, what="the minimum interval")
    second = stim.fire()
    interval_us = second.device_time_us - first.device_time_us
    assert interval_us * limits.max_rate_mHz >= 1e9  # spec section 5.3, on the device clock
    assert len(bench.delivered) == 2


def test_heartbeats_keep_the_device_armed(rig) -> None:
    bench = rig.bench(speed=4.0)
    stim = rig.stimulator(bench, heartbeat_timeout_ms=2000)
    stim.set_stimulus(10.0, 200)
    stim.arm()
    start = bench.true_time_s()
    wait_for(lambda: bench.true_time_s() > start + 10.0, what="5 watchdog timeouts")
    status = stim.status()
    assert status.armed and status.watchdog_trips == 0 and status.heartbeat_timeout_ms == 2000
    assert len(sent(bench, Opcode.HEARTBEAT)) >= 5 * 3  # every timeout / 5 (at least timeout / 4)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_watchdog_disarms_when_heartbeats_stop_arriving(rig, transport) -> None:
    bench = rig.bench(transport=transport)
    stim = rig.stimulator(bench, heartbeat_timeout_ms=200)
    stim.set_stimulus(10.0, 200)
    stim.arm()
    # from now on the host's heartbeats are lost before the device sees them
    bench.stimulator.inject("no_response", n=10**6, opcode=Opcode.HEARTBEAT, execute=False)
    status = wait_for(lambda: stim.get(timeout_s=0.05), what="the watchdog STATUS")
    assert isinstance(status, Status)
    assert (status.armed, status.watchdog_tripped, status.last_disarm_reason,
            status.watchdog_trips) == (False, True, Reason.WATCHDOG, 1)
    with pytest.raises(NackError, match="NOT_ARMED"):
        stim.fire()
    assert stim.heartbeats_missed > 0 and bench.delivered == []


def test_missing_answer_is_retried_but_fire_never_is(rig) -> None:
    bench = rig.bench()
    stim = rig.stimulator(bench, timeout_s=0.1)
    bench.stimulator.inject("no_response", opcode=Opcode.SET_STIMULUS, execute=False)
    stim.set_stimulus(10.0, 200)  # the first command was lost, the retry got through
    assert len(sent(bench, Opcode.SET_STIMULUS)) == 2 and stim.link.counters["retries"] == 1
    stim.arm()
    bench.stimulator.inject("no_response", opcode=Opcode.FIRE)  # executed, answer lost
    with pytest.raises(DeviceError, match=r"no answer to FIRE after 1 attempt\(s\)"):
        stim.fire()
    assert len(sent(bench, Opcode.FIRE)) == 1 and len(bench.delivered) == 1
    event = wait_for(lambda: stim.get(timeout_s=0.05), what="the STIM_EVENT")
    assert isinstance(event, StimEvent) and event.pulse_counter == 1


def test_injected_nack_names_the_reason(rig) -> None:
    bench = rig.bench()
    stim = rig.stimulator(bench)
    bench.stimulator.inject("nack", opcode=Opcode.ARM, reason=Reason.NO_STIMULUS)
    with pytest.raises(NackError, match="stimulator on .* refused ARM: NO_STIMULUS"):
        stim.arm()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("how", ["normal", "exception"])
def test_leaving_the_context_disarms_before_heartbeats_stop(rig, how, transport) -> None:
    bench = rig.bench(transport=transport)
    expect = pytest.raises(RuntimeError) if how == "exception" else contextlib.nullcontext()
    with expect, rig.stimulator(bench) as stim:
        stim.set_stimulus(10.0, 200)
        stim.arm()
        assert stim.status().armed
        if how == "exception":
            raise RuntimeError("the experiment crashed")
    safety = bench.stimulator.safety
    assert not safety.armed and safety.last_disarm_reason == Reason.HOST_DISARM
    assert safety.watchdog_trips == 0  # disarmed by the host, not by the watchdog
    ops = [c.command.opcode for c in bench.stimulator.commands]
    assert Opcode.DISARM in ops[ops.index(Opcode.ARM):]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reboot_after_disconnect_leaves_the_device_disarmed(rig, transport) -> None:
    bench = rig.bench(transport=transport)
    stim = rig.stimulator(bench)
    stim.set_stimulus(10.0, 200)
    stim.arm()
    bench.stimulator.inject("disconnect", duration_s=1.0, reboot=True)
    kinds = []

    def reconnected() -> bool:
        item = stim.get(timeout_s=0.02)
        if isinstance(item, LinkEvent):
            kinds.append(item.kind)
        return "reconnected" in kinds

    wait_for(reconnected, what="the reconnection")
    assert kinds == ["disconnected", "reconnected"]
    with pytest.raises(NackError, match="NOT_ARMED"):
        stim.fire()
    assert bench.delivered == []
