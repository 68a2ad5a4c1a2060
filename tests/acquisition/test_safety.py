"""Safety: limit rounding, device limits, and the guard every stimulator command passes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hreflex.acquisition.config import parse_config
from hreflex.acquisition.plan import build_plan, check_plan, resolve_intensity
from hreflex.acquisition.safety import StimulusGuard, effective_limits, wire_limits
from hreflex.errors import ConfigError, SafetyError
from hreflex.protocol.frames import Opcode
from hreflex.protocol.safety import StimLimits

from .helpers import base_config


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A fake driver: records (time, opcode, fields) of every command sent."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.sent = clock, []

    def __call__(self, opcode, **fields):
        self.sent.append((self.clock.t, Opcode(opcode), fields))
        return "ack"


LIMITS = StimLimits(30_000, 1000, 5000)


def make_guard(limits=LIMITS, max_stimuli=None):
    clock = Clock()
    rec = Recorder(clock)
    return StimulusGuard(rec, limits, max_stimuli=max_stimuli, clock=clock), rec, clock


@pytest.mark.parametrize(("mA", "us", "Hz", "wire"), [
    (40, 1000, 10, (40_000, 1000, 10_000)),
    (4.1, 999.9, 0.5, (4100, 999, 500)),  # 4.1 * 1000 is 4099.999... in binary: decimal wins
    (39.9999999999996, 1000, 1 / 3, (39_999, 1000, 333)),  # never rounded up
    (0.0005, 1, 0.0001, (0, 1, 0)),
])
def test_wire_limits_round_down_from_the_written_decimal(mA, us, Hz, wire):
    lim = wire_limits(mA, us, Hz)
    assert (lim.max_intensity_uA, lim.max_pulse_width_us, lim.max_rate_mHz) == wire


def test_effective_limits_refuse_a_config_above_the_device():
    device = StimLimits(50_000, 1000, 20_000)
    mine = wire_limits(30, 500, 10)
    assert effective_limits(mine, device) == mine
    assert effective_limits(wire_limits(50, 1000, 20), device) == device
    cases = [(wire_limits(60, 500, 10), "max_intensity_mA = 60 mA is above the stimulator's "
                                        "own limit of 50 mA"),
             (wire_limits(30, 1001, 10), "max_pulse_width_us = 1001 µs"),
             (wire_limits(30, 500, 25), "max_rate_Hz = 25 Hz is above the stimulator's own "
                                        "limit of 20 Hz")]
    for config, message in cases:
        with pytest.raises(SafetyError, match="nothing was sent") as err:
            effective_limits(config, device)
        assert message in str(err.value)


def test_guard_sends_checked_wire_values():
    guard, rec, clock = make_guard()
    guard.set_stimulus(12.5, 1000)
    guard.arm()
    guard.fire()
    assert rec.sent == [
        (100.0, Opcode.SET_STIMULUS, {"intensity_uA": 12_500, "pulse_width_us": 1000}),
        (100.0, Opcode.ARM, {}),
        (100.0, Opcode.FIRE, {}),
    ]
    assert guard.stimulus == (12.5, 1000.0) and guard.n_fired == 1
    # 5 Hz: 0.2 s from the answer, for a device clock up to 0.1 % slow, + 2 µs of flooring
    assert guard.earliest_fire_s == pytest.approx(100.0 + 0.2 / 0.999 + 2e-6, abs=1e-9)


@pytest.mark.parametrize(("mA", "us", "why"), [
    (30.001, 1000, "intensity 30.001 mA is outside 0..30 mA"),
    (-0.5, 1000, "intensity -0.5 mA"),
    (float("nan"), 1000, "intensity nan mA"),
    (10, 1000.5, None),  # truncated to 1000 µs: allowed
    (10, 1001, "pulse width 1001 µs is outside 0 < width <= 1000 µs"),
    (10, 0.5, "pulse width 0.5 µs"),  # truncates to 0 µs: not a pulse
])
def test_guard_refuses_out_of_limit_stimulus_and_sends_nothing(mA, us, why):
    guard, rec, _ = make_guard()
    if why is None:
        guard.set_stimulus(mA, us)
        assert rec.sent[-1][2] == {"intensity_uA": 10_000, "pulse_width_us": 1000}
        return
    with pytest.raises(SafetyError, match="nothing was sent") as err:
        guard.set_stimulus(mA, us)
    assert why in str(err.value) and rec.sent == []


def test_guard_fire_needs_stimulus_rate_and_count():
    guard, rec, clock = make_guard(max_stimuli=2)
    with pytest.raises(SafetyError, match="no stimulus set"):
        guard.fire()
    guard.set_stimulus(10, 500)
    guard.fire()
    clock.t += 0.1999  # 5 Hz needs 0.2 s
    with pytest.raises(SafetyError, match="exceeds the rate limit of 5 Hz"):
        guard.fire()
    clock.t = 100.2  # exactly 1 / rate: a device clock a little slow would measure less
    with pytest.raises(SafetyError, match="exceeds the rate limit of 5 Hz"):
        guard.fire()
    clock.t = 100.0 + 0.2 / 0.999 + 2e-6
    guard.fire()
    clock.t += 10
    with pytest.raises(SafetyError, match="max_stimuli = 2 already delivered"):
        guard.fire()
    assert [op for _, op, _ in rec.sent] == [Opcode.SET_STIMULUS, Opcode.FIRE, Opcode.FIRE]


def test_guard_other_commands_and_unknown_state_after_failed_send():
    guard, rec, _ = make_guard()
    for op in (Opcode.SET_STIMULUS, Opcode.FIRE):
        with pytest.raises(SafetyError, match="must go through"):
            guard.send(op)
    guard.send(Opcode.HEARTBEAT)
    guard.disarm()
    assert [op for _, op, _ in rec.sent] == [Opcode.HEARTBEAT, Opcode.DISARM]

    def broken(opcode, **fields):
        raise OSError("port gone")

    g2 = StimulusGuard(broken, StimLimits(30_000, 1000, 5000))
    with pytest.raises(OSError):
        g2.set_stimulus(5, 500)
    with pytest.raises(SafetyError, match="no stimulus set"):  # device state unknown
        g2.fire()


def _assert_within(sent, mA: float, us: float, Hz: float, max_stimuli: int | None) -> None:
    """Independent check of a command log against limits written as decimals."""
    max_uA = Decimal(repr(mA)) * 1000
    fires = []
    stimulus_set = False
    for t, op, fields in sent:
        if op == Opcode.SET_STIMULUS:
            assert Fraction(fields["intensity_uA"]) <= Fraction(max_uA)
            assert 0 < fields["pulse_width_us"] <= Decimal(repr(us))
            stimulus_set = True
        elif op == Opcode.FIRE:
            assert stimulus_set
            fires.append(t)
    assert max_stimuli is None or len(fires) <= max_stimuli
    assert all(dt >= 1 / Hz - 1e-9 for dt in np.diff(fires))


limits_st = st.tuples(
    st.floats(0.001, 100, allow_nan=False), st.floats(1, 2000), st.floats(0.05, 100),
    st.one_of(st.none(), st.integers(0, 12)),
)
op_st = st.one_of(
    st.tuples(st.just("set"), st.one_of(st.floats(-5, 150), st.sampled_from([np.nan, np.inf])),
              st.one_of(st.floats(-10, 3000), st.just(np.nan))),
    st.tuples(st.just("fire"), st.floats(0, 2)),
    st.tuples(st.just("arm")), st.tuples(st.just("disarm")),
)


@settings(max_examples=300, deadline=None)
@given(limits=limits_st, ops=st.lists(op_st, max_size=40))
def test_property_no_command_sequence_leaves_the_limits(limits, ops):
    mA, us, Hz, max_stimuli = limits
    guard, rec, clock = make_guard(wire_limits(mA, us, Hz), max_stimuli)
    for op in ops:
        try:
            if op[0] == "set":
                guard.set_stimulus(op[1], op[2])
                # no false refusal: a value clearly inside was accepted (it did not raise)
            elif op[0] == "fire":
                clock.t += op[1]
                guard.fire()
            elif op[0] == "arm":
                guard.arm()
            else:
                guard.disarm()
        except SafetyError:
            if op[0] == "set":  # refused only when not clearly inside the limits
                assert not (0 <= op[1] <= 0.999 * mA and 1 <= op[2] <= us)
    _assert_within(rec.sent, mA, us, Hz, max_stimuli)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limits=st.tuples(st.floats(5, 100), st.floats(100, 2000), st.floats(0.5, 50),
                     st.one_of(st.none(), st.integers(1, 12))),
    levels=st.lists(st.floats(0, 60), min_size=1, max_size=5),
    isi=st.floats(0.05, 5), freqs=st.lists(st.floats(0.1, 10), min_size=1, max_size=3),
    rest=st.floats(0, 5), gap=st.floats(0.01, 5), pw=st.floats(50, 1500),
    derived=st.booleans(), test_mA=st.floats(0, 60),
)
def test_property_random_configs_plan_and_run_within_limits(
    limits, levels, isi, freqs, rest, gap, pw, derived, test_mA
):
    mA, us, Hz, max_stimuli = limits
    data = base_config()
    data["limits"] = {"max_intensity_mA": mA, "max_pulse_width_us": us, "max_rate_Hz": Hz,
                      "max_stimuli": max_stimuli or 50}
    data["schedule"]["block_gap_s"] = gap
    rdd = {"kind": "rdd", "frequencies_Hz": freqs, "pulses_per_train": 2, "rest_s": rest,
           "pulse_width_us": pw}
    rdd.update({"test_intensity": {"from": "recruitment", "h_fraction": 0.5}} if derived
               else {"test_intensity_mA": test_mA})
    data["protocols"] = [{"kind": "recruitment", "intensities_mA": levels, "sweeps": 1,
                          "isi_s": isi, "pulse_width_us": pw}, rdd]
    try:
        plan = build_plan(parse_config(data), seed=0)
    except ConfigError:
        event("plan refused before it was built")
        assert len(levels) + 2 * len(freqs) > data["limits"]["max_stimuli"]
        return
    s = plan.schedule
    bound = plan.intensity_bound_mA
    # independent verdict, with a margin either side of each limit for float edges
    intervals = np.diff(s.time_s)
    clearly_bad = (len(s) > data["limits"]["max_stimuli"] or bound.max() > mA * 1.001 + 1e-6
                   or pw > us + 1 or intervals.min() < (1 / Hz) * 0.999)
    clearly_ok = (len(s) <= data["limits"]["max_stimuli"] and bound.max() <= mA * 0.999
                  and pw <= us - 1 and intervals.min() > (1 / Hz) * 1.001)
    try:
        check_plan(plan)
    except ConfigError:
        event("plan refused")
        assert not clearly_ok
        return
    event("plan accepted and run")
    assert not clearly_bad
    if plan.deferred:
        plan = resolve_intensity(plan, 1, plan.deferred[0].bound_mA)  # worst case
    guard, rec, clock = make_guard(wire_limits(mA, us, Hz), data["limits"]["max_stimuli"])
    start = clock.t
    for t, i, w in zip(s.time_s, plan.schedule.intensity_mA, s.pulse_width_us, strict=True):
        clock.t = max(start + t, guard.earliest_fire_s)  # an engine waits for the guard
        guard.set_stimulus(i, w)
        guard.fire()  # an accepted plan never trips the guard
    assert guard.n_fired == len(s)
    _assert_within(rec.sent, mA, us, Hz, data["limits"]["max_stimuli"])
