"""The stimulus scheduler on its own: plan → next pulse, with the rate limit, gating and a
run-time intensity. Expectations are the plan's times by hand (``test_plan.TIMES``) and the
timing rules of docs/ACQUISITION.md ("Timing"); no device, no clock but the one passed in."""

from __future__ import annotations

import math

import pytest

from hreflex.acquisition.config import parse_config
from hreflex.acquisition.plan import build_plan
from hreflex.acquisition.scheduler import TICK_S, Derive, Go, Scheduler, Wait

from .helpers import base_config

#: margin after the rate limit at speed 1: 3 ms of wall + 1 ms
MARGIN_S = 0.004


def scheduler(gating=None, speed=1.0, gate=None):
    d = base_config()
    if gating is not None:
        d["gating"] = gating
    cfg = parse_config(d, "p.toml")
    return Scheduler(build_plan(cfg), speed=speed, gate=gate,
                     max_wait_s=cfg.gating.max_wait_s if cfg.gating else math.inf)


class FakeGate:
    def __init__(self):
        self.is_ready, self.asked = False, []

    def ready(self, exclude=()):
        self.asked.append(list(exclude))
        return self.is_ready


def test_pulses_go_at_their_planned_times_after_the_start():
    s = scheduler()
    s.start(100.0)
    assert s.next(100.0, -math.inf) == Go(0, 10.0, 1000.0, 0.0, ())
    s.fired(0, 100.0)
    assert s.next(102.0, -math.inf) == Wait(pytest.approx(3.0))  # planned at 5 s
    assert s.next(105.0, -math.inf) == Go(1, 10.0, 1000.0, 0.0, ())
    s.fired(1, 105.0)
    assert s.next(110.0, -math.inf).intensity_mA == 15.0  # ascending: 10, 10, 15, ...


def test_a_late_pulse_shifts_the_rest_so_no_interval_shrinks():
    s = scheduler()
    s.start(100.0)
    s.fired(0, 100.0)
    s.fired(1, 105.7)  # planned at 105, went 0.7 s late
    # stimulus 2 was planned at 110: now due at 110.7, 5 s after the late one
    assert s.next(110.2, -math.inf) == Wait(pytest.approx(0.5))
    assert isinstance(s.next(110.7, -math.inf), Go)


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_the_rate_limit_holds_a_due_pulse_back_by_the_margin(speed):
    s = scheduler(speed=speed)
    s.start(0.0)
    # due at 0, but the guard allows the next FIRE only from 0.5 s (experiment time)
    margin = speed * 0.003 + 0.001
    step = s.next(0.0, 0.5)
    assert step == Wait(pytest.approx((0.5 + margin) / speed))  # wall seconds
    assert isinstance(s.next(0.5 + margin, 0.5), Go)
    assert isinstance(s.next(0.5 + margin - 1e-6, 0.5), Wait)


def test_gating_waits_until_ready_and_records_the_wait():
    gate = FakeGate()
    s = scheduler({"channel": "SOL", "max_rms_uV": 20, "max_wait_s": 8}, gate=gate)
    s.start(0.0)
    assert s.next(0.0, -math.inf, lambda: [(5, 10)]) == Wait(TICK_S / 2)
    assert gate.asked == [[(5, 10)]]  # the exclusions reach the gate
    assert s.next(1.5, -math.inf) == Wait(TICK_S / 2)
    gate.is_ready = True
    assert s.next(2.25, -math.inf) == Go(0, 10.0, 1000.0, 2.25, ())  # waited since 0
    s.fired(0, 2.25)
    # the wait shifted the plan: stimulus 1 (planned at 5 s) is due at 7.25
    assert s.next(7.0, -math.inf) == Wait(pytest.approx(0.25))
    assert s.next(7.25, -math.inf) == Go(1, 10.0, 1000.0, 0.0, ())  # ready at once: no wait


def test_gating_gives_up_after_max_wait_and_flags_it():
    gate = FakeGate()
    s = scheduler({"channel": "SOL", "max_rms_uV": 20, "max_wait_s": 8}, gate=gate)
    s.start(0.0)
    assert isinstance(s.next(0.0, -math.inf), Wait)
    assert isinstance(s.next(7.9, -math.inf), Wait)
    assert s.next(8.0, -math.inf) == Go(0, 10.0, 1000.0, 8.0, ("gate_timeout",))


def test_train_pulses_after_the_first_keep_the_rhythm_without_gating():
    gate = FakeGate()
    s = scheduler({"channel": "SOL", "max_rms_uV": 20}, gate=gate)
    s.start(0.0)
    for k in range(6):  # recruitment
        s.fired(k, [0, 5, 10, 15, 20, 25][k])
    s.set_intensity(1, 12.0)
    gate.is_ready = True
    assert isinstance(s.next(35.0, -math.inf), Go)  # first pulse of the 1 Hz train: gated
    s.fired(6, 35.0)
    gate.is_ready, gate.asked = False, []
    assert s.next(36.0, -math.inf) == Go(7, 12.0, 1000.0, 0.0, ())  # second: not gated
    assert gate.asked == []


def test_a_deferred_block_asks_for_its_intensity_once_its_sweeps_are_written():
    s = scheduler()
    s.start(0.0)
    for k, t in enumerate([0, 5, 10, 15, 20, 25]):
        s.fired(k, t)
    assert s.next(35.0, -math.inf, pending=True) == Wait(TICK_S)  # last sweeps not written
    assert s.next(35.0, -math.inf) == Derive(1)
    s.set_intensity(1, 12.5)
    assert s.next(35.0, -math.inf) == Go(6, 12.5, 1000.0, 0.0, ())
    assert not s.done
    for k in range(6, 12):
        s.fired(k, 60.0)
    assert s.done
