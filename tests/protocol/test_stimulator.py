"""Stimulator safety: the Python rules, and the C controller core driven through the test driver
with a simulated clock (limits, arming, rate limit, heartbeat watchdog), cross-checked."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.protocol import (
    Command,
    DeviceKind,
    FrameError,
    Identity,
    Opcode,
    Reason,
    Response,
    Status,
    StimEvent,
    StimLimits,
    StimSafety,
    StreamDecoder,
    check_fire,
    check_stimulus,
    encode_wire,
)

LIMITS = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=10_000)
MIN_INTERVAL_US = 100_000  # 10 Hz


# ---- pure Python rules ------------------------------------------------------------------------

@pytest.mark.parametrize(("mA", "us", "since", "why"), [
    (50.0, 1000, None, None),
    (50.0004, 1000, None, None),  # truncated to 50.000 mA: at the limit, not above
    (50.001, 1000, None, Reason.INTENSITY_LIMIT),
    (0.0, 1, None, None),
    (-0.5, 100, None, Reason.INTENSITY_LIMIT),
    (float("nan"), 100, None, Reason.INTENSITY_LIMIT),
    (10.0, 0, None, Reason.PULSE_WIDTH_LIMIT),
    (10.0, 1001, None, Reason.PULSE_WIDTH_LIMIT),
    (10.0, 1000.7, None, None),  # truncated to 1000 us
    (10.0, 500, 0.1, None),  # exactly the 10 Hz interval
    (10.0, 500, 0.099999, Reason.RATE_LIMIT),
])
def test_check_stimulus(mA, us, since, why) -> None:
    assert check_stimulus(LIMITS, mA, us, since) == why


def test_check_fire_and_limits_from_identity() -> None:
    assert check_fire(LIMITS, armed=False, since_last_s=None) == Reason.NOT_ARMED
    assert check_fire(LIMITS, armed=True, since_last_s=None) is None
    assert check_fire(LIMITS, armed=True, since_last_s=0.05) == Reason.RATE_LIMIT
    ident = Identity(DeviceKind.STIMULATOR, "x", "y", max_intensity_uA=1, max_pulse_width_us=2,
                     max_rate_mHz=3)
    assert StimLimits.from_identity(ident) == StimLimits(1, 2, 3)
    assert (LIMITS.max_intensity_mA, LIMITS.max_rate_Hz) == (50.0, 10.0)


def test_python_state_machine_watchdog() -> None:
    s = StimSafety(LIMITS, now_us=0)
    assert s.arm(0) == Reason.NO_STIMULUS
    assert s.set_stimulus(10_000, 500) == Reason.OK and s.arm(1_000) == Reason.OK
    assert s.fire(2_000) == Reason.OK and s.fire(2_000 + MIN_INTERVAL_US - 1) == Reason.RATE_LIMIT
    s.heartbeat(500_000)
    assert not s.tick(1_499_999) and s.armed
    assert s.tick(1_500_000) and not s.armed and s.watchdog_tripped
    assert s.last_disarm_reason == Reason.WATCHDOG and s.fire(1_600_000) == Reason.NOT_ARMED
    assert s.configure(5) == Reason.BAD_CONFIG and s.configure(200) == Reason.OK


# ---- the C controller core ------------------------------------------------------------------

@dataclass
class Run:
    responses: dict[int, Response] = field(default_factory=dict)
    events: list[StimEvent] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    hw: list[tuple[int, str]] = field(default_factory=list)


def run_c(c_driver, script, limits: StimLimits = LIMITS) -> Run:
    """Feed ``(now_us, frame or raw bytes or None)`` steps to the simulated stimulator."""
    lines = []
    for t, item in script:
        data = encode_wire(item) if hasattr(item, "TYPE") else (item or b"")
        lines.append(f"{t} {data.hex() or '-'}")
    out, log = c_driver.run("stim", str(limits.max_intensity_uA),
                            str(limits.max_pulse_width_us), str(limits.max_rate_mHz),
                            data=("\n".join(lines) + "\n").encode())
    dec = StreamDecoder()
    run = Run()
    for f in dec.feed(out).frames:
        run.order.append(type(f).__name__)
        if isinstance(f, Response):
            assert f.request_id not in run.responses
            run.responses[f.request_id] = f
        else:
            {StimEvent: run.events, Status: run.statuses, Identity: run.identities}[
                type(f)].append(f)
    assert dec.stats.errors == 0
    for entry in log.splitlines():
        t, what = entry.split(" ", 1)
        run.hw.append((int(t), what))
    return run


def cmd(rid: int, op: Opcode, **kw) -> Command:
    return Command.make(rid, op, **kw)


def reason(run: Run, rid: int) -> Reason:
    r = run.responses[rid]
    assert r.ack == (r.reason == Reason.OK)
    return Reason(r.reason)


def test_limits_arming_and_rate(c_driver) -> None:
    set_ = Opcode.SET_STIMULUS
    run = run_c(c_driver, [
        (0, cmd(1, Opcode.FIRE)),
        (10, cmd(2, Opcode.ARM)),
        (20, cmd(3, set_, intensity_uA=50_001, pulse_width_us=500)),
        (30, cmd(4, set_, intensity_uA=50_000, pulse_width_us=0)),
        (40, cmd(5, set_, intensity_uA=50_000, pulse_width_us=1001)),
        (50, cmd(6, set_, intensity_uA=50_000, pulse_width_us=1000)),
        (60, cmd(7, Opcode.ARM)),
        (10_000, cmd(8, Opcode.FIRE)),
        (10_000 + MIN_INTERVAL_US - 1, cmd(9, Opcode.FIRE)),
        (10_000 + MIN_INTERVAL_US, cmd(10, Opcode.FIRE)),
        (200_000, cmd(11, Opcode.DISARM)),
        (400_000, cmd(12, Opcode.FIRE)),
        (400_001, cmd(13, Opcode.GET_STATUS)),
    ])
    expected = {1: Reason.NOT_ARMED, 2: Reason.NO_STIMULUS, 3: Reason.INTENSITY_LIMIT,
                4: Reason.PULSE_WIDTH_LIMIT, 5: Reason.PULSE_WIDTH_LIMIT, 6: Reason.OK,
                7: Reason.OK, 8: Reason.OK, 9: Reason.RATE_LIMIT, 10: Reason.OK,
                11: Reason.OK, 12: Reason.NOT_ARMED, 13: Reason.OK}
    assert {rid: reason(run, rid) for rid in expected} == expected
    assert run.events == [StimEvent(1, None, 10_000, 50_000, 1000, 8),
                          StimEvent(2, None, 10_000 + MIN_INTERVAL_US, 50_000, 1000, 10)]
    # the hardware was driven only by accepted commands
    assert run.hw == [(0, "enable 0"), (50, "apply 50000 1000"), (60, "enable 1"),
                      (10_000, "pulse"), (10_000 + MIN_INTERVAL_US, "pulse"),
                      (200_000, "enable 0")]
    status = run.statuses[-1]
    assert (status.armed, status.pulses_delivered, status.last_disarm_reason,
            status.frames_received) == (False, 2, Reason.HOST_DISARM, 13)


def test_heartbeat_watchdog_disarms_and_reports(c_driver) -> None:
    beats = [(100_000 + 400_000 * k, cmd(10 + k, Opcode.HEARTBEAT)) for k in range(5)]
    last_beat = beats[-1][0]  # 1.7 s
    run = run_c(c_driver, [
        (0, cmd(1, Opcode.SET_STIMULUS, intensity_uA=5000, pulse_width_us=200)),
        (100_000, cmd(2, Opcode.ARM)),
        *beats,
        (last_beat + 999_999, cmd(3, Opcode.FIRE)),  # 1 us before the timeout: still armed
        (last_beat + 1_000_000, None),  # the watchdog fires on this tick
        (last_beat + 1_000_001, cmd(4, Opcode.FIRE)),
        (last_beat + 2_000_000, cmd(5, Opcode.ARM)),
        (last_beat + 2_000_001, cmd(6, Opcode.GET_STATUS)),
    ])
    assert reason(run, 3) == Reason.OK and reason(run, 4) == Reason.NOT_ARMED
    tripped = run.statuses[0]
    assert tripped.device_time_us == last_beat + 1_000_000
    assert (tripped.armed, tripped.watchdog_tripped, tripped.last_disarm_reason,
            tripped.watchdog_trips) == (False, True, Reason.WATCHDOG, 1)
    assert (last_beat + 1_000_000, "enable 0") in run.hw
    rearmed = run.statuses[1]
    assert reason(run, 5) == Reason.OK and rearmed.armed and not rearmed.watchdog_tripped
    assert rearmed.watchdog_trips == 1 and rearmed.heartbeat_timeout_ms == 1000


def test_configurable_timeout(c_driver) -> None:
    run = run_c(c_driver, [
        (0, cmd(1, Opcode.CONFIGURE_STIMULATOR, heartbeat_timeout_ms=5)),
        (0, cmd(2, Opcode.CONFIGURE_STIMULATOR, heartbeat_timeout_ms=200)),
        (0, cmd(3, Opcode.SET_STIMULUS, intensity_uA=1000, pulse_width_us=100)),
        (1_000, cmd(4, Opcode.ARM)),
        (200_999, None),
        (201_000, None),
    ])
    assert reason(run, 1) == Reason.BAD_CONFIG and reason(run, 2) == Reason.OK
    assert [s.device_time_us for s in run.statuses] == [201_000]


def test_identify_unknown_and_malformed_commands(c_driver) -> None:
    garbage = b"\x07\x01\x02\x00"  # a code byte pointing past the end: no answer, counted
    run = run_c(c_driver, [
        (0, cmd(1, Opcode.IDENTIFY)),
        (1, Command(2, 0x7F)),
        (2, Command(3, Opcode.SET_STIMULUS, b"\x01\x02\x03\x04")),
        (3, cmd(4, Opcode.START)),
        (4, garbage),
        (5, cmd(5, Opcode.GET_STATUS)),
    ])
    assert run.order[:2] == ["Identity", "Response"]  # identity first, then its ACK
    ident = run.identities[0]
    assert ident.kind == DeviceKind.STIMULATOR and StimLimits.from_identity(ident) == LIMITS
    assert [reason(run, r) for r in (1, 2, 3, 4)] == [Reason.OK, Reason.UNKNOWN_OPCODE,
                                                     Reason.BAD_ARGUMENTS, Reason.NOT_SUPPORTED]
    assert run.statuses[0].rx_errors == 1 and run.statuses[0].frames_received == 5


# ---- C core == Python rules on random command sequences --------------------------------------

def python_reference(script, limits: StimLimits):
    """What the controller must answer, from the Python rules (mirrors stim_device.c)."""
    s = StimSafety(limits, 0)
    answers, pulses, trips = [], [], []
    for t, c in script:
        if s.tick(t):
            trips.append(t)
        if c is None:
            continue
        try:
            f = c.fields()
        except FrameError as e:
            answers.append(Reason.UNKNOWN_OPCODE if e.kind == "unknown_opcode"
                           else Reason.BAD_ARGUMENTS)
            continue
        if c.opcode == Opcode.SET_STIMULUS:
            why = s.set_stimulus(f["intensity_uA"], f["pulse_width_us"])
        elif c.opcode == Opcode.CONFIGURE_STIMULATOR:
            why = s.configure(f["heartbeat_timeout_ms"])
        elif c.opcode == Opcode.ARM:
            why = s.arm(t)
        elif c.opcode == Opcode.FIRE:
            why = s.fire(t)
        else:
            s.disarm() if c.opcode == Opcode.DISARM else s.heartbeat(t)
            why = Reason.OK
        if c.opcode == Opcode.FIRE and why == Reason.OK:
            pulses.append(t)
        answers.append(why)
    return answers, pulses, trips


steps = st.lists(st.tuples(
    st.integers(0, 400_000),  # time step, us
    st.one_of(
        st.none(),
        st.builds(lambda ua, us: (Opcode.SET_STIMULUS, {"intensity_uA": ua,
                                                        "pulse_width_us": us}),
                  st.integers(0, 60_000), st.integers(0, 1200)),
        st.builds(lambda ms: (Opcode.CONFIGURE_STIMULATOR, {"heartbeat_timeout_ms": ms}),
                  st.integers(0, 2000)),
        st.sampled_from([(op, {}) for op in (Opcode.ARM, Opcode.FIRE, Opcode.FIRE,
                                             Opcode.DISARM, Opcode.HEARTBEAT)]),
    )), max_size=40)


@settings(max_examples=30, deadline=None)
@given(steps)
def test_c_core_matches_python_rules(c_driver, raw_steps) -> None:
    script, t = [], 0
    for k, (dt, spec) in enumerate(raw_steps, start=1):
        t += dt
        script.append((t, None if spec is None else Command.make(k, spec[0], **spec[1])))
    answers, pulses, trips = python_reference(script, LIMITS)
    run = run_c(c_driver, script)
    rids = [c.request_id for _, c in script if c is not None]
    assert [reason(run, r) for r in rids] == answers
    assert [e.device_time_us for e in run.events] == pulses
    assert [s.device_time_us for s in run.statuses] == trips
