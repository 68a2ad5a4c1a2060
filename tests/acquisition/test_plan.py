"""The session plan: schedule from the config, run-time intensities, limit checks, dry run."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from hreflex.acquisition.config import parse_config
from hreflex.acquisition.plan import (
    build_plan,
    check_plan,
    format_duration,
    resolve_intensity,
    summary,
)
from hreflex.errors import ConfigError, SafetyError

from .helpers import base_config

# base config by hand: recruitment ascending, 2 sweeps, 5 s apart -> 0..25 s;
# 10 s gap; RDD 1 Hz train at 35, 36, 37 s; 20 s rest; 5 Hz train at 57, 57.2, 57.4 s
TIMES = [0, 5, 10, 15, 20, 25, 35, 36, 37, 57, 57.2, 57.4]


def plan_of(data, seed=None):
    return build_plan(parse_config(data, "p.toml"), seed=seed)


def test_schedule_of_base_config():
    plan = plan_of(base_config())
    s = plan.schedule
    assert np.allclose(s.time_s, TIMES)
    assert s.intensity_mA[:6].tolist() == [10, 10, 15, 15, 20, 20]
    assert np.isnan(s.intensity_mA[6:]).all()  # resolved at run time
    assert plan.intensity_bound_mA[6:].tolist() == [20] * 6  # bounded by the recruitment max
    assert s.block_id.tolist() == [0] * 6 + [1] * 6
    assert s.train_id.tolist() == [-1] * 6 + [0, 0, 0, 1, 1, 1]
    assert s.nominal_frequency_Hz[6:].tolist() == [1, 1, 1, 5, 5, 5]
    assert [(b.kind, b.label) for b in s.blocks] == [("recruitment", "recruitment"), ("rdd", "rdd")]
    (d,) = plan.deferred
    assert (d.block_id, d.source_block, d.h_fraction, d.bound_mA) == (1, 0, 0.5, 20)
    assert plan.max_rate_Hz == pytest.approx(5.0)
    assert plan.seed == 3 and plan.seed_given
    check_plan(plan)


def test_gating_applies_outside_trains_and_to_first_pulses():
    data = base_config()
    assert not plan_of(data).gated.any()
    data["gating"] = {"max_rms_uV": 20}
    assert plan_of(data).gated.tolist() == [True] * 6 + [True, False, False] * 2


def test_seed_reproduces_random_parts_and_is_drawn_when_absent():
    data = base_config()
    data["protocols"][0].update(randomize=True, jitter_s=2.0)
    a, b = plan_of(data, seed=11), plan_of(data, seed=11)
    assert np.array_equal(a.schedule.time_s, b.schedule.time_s)
    assert np.array_equal(a.schedule.intensity_mA, b.schedule.intensity_mA, equal_nan=True)
    del data["schedule"]["seed"]
    c, d = plan_of(data), plan_of(data)
    assert not c.seed_given and c.seed != d.seed
    again = plan_of(data, seed=c.seed)
    assert np.array_equal(again.schedule.time_s, c.schedule.time_s)
    assert f"set [schedule] seed = {c.seed} to repeat" in summary(c)


LIMIT_BREAKS = [
    # (change, expected message part)
    (lambda d: d["limits"].update(max_rate_Hz=4),
     "#2 (rdd 'rdd'): frequencies_Hz: stimulus 11 needs rate 5 Hz, above [limits] max_rate_Hz = 4"),
    (lambda d: d["limits"].update(max_intensity_mA=18),
     "#1 (recruitment 'recruitment'): intensities_mA: stimulus 5 needs intensity 20 mA"),
    (lambda d: (d["protocols"][1].pop("test_intensity"), d["limits"].update(max_intensity_mA=22),
                d["protocols"][1].update(test_intensity_mA=25)),
     "#2 (rdd 'rdd'): test_intensity_mA: stimulus 7 needs intensity 25 mA, above [limits] "
     "max_intensity_mA = 22"),
    (lambda d: d["protocols"][0].update(pulse_width_us=1200),
     "#1 (recruitment 'recruitment'): pulse_width_us: stimulus 1 needs pulse width 1200 µs"),
    (lambda d: d["schedule"].update(block_gap_s=0.1),
     "#2 (rdd 'rdd'): [schedule] block_gap_s: stimulus 7 needs rate 10 Hz"),
    (lambda d: d["protocols"][1].update(rest_s=0.1),
     "#2 (rdd 'rdd'): rest_s: stimulus 10 needs rate 10 Hz"),
    (lambda d: d["protocols"][0].update(isi_s=0.125),
     "#1 (recruitment 'recruitment'): isi_s: stimulus 2 needs rate 8 Hz"),
    (lambda d: d["limits"].update(max_stimuli=11),
     "[limits] max_stimuli = 11 but the protocols plan 12 stimuli"),
]


@pytest.mark.parametrize(("change", "message"), LIMIT_BREAKS)
def test_plan_breaking_a_limit_is_refused_naming_the_key(change, message):
    data = base_config()
    change(data)
    with pytest.raises(ConfigError) as err:
        check_plan(plan_of(data))
    assert str(err.value).startswith("p.toml") and message in str(err.value)


def test_rate_exactly_at_the_limit_passes_despite_float_times():
    data = base_config()
    data["protocols"][1]["frequencies_Hz"] = [10]
    data["protocols"][1]["pulses_per_train"] = 10  # k / 10 s: float steps around 0.1 s
    data["limits"]["max_rate_Hz"] = 10
    plan = plan_of(data)
    assert np.diff(plan.schedule.time_s).min() < 0.1  # 0.09999999999999998 somewhere
    check_plan(plan)


def test_resolve_intensity_fills_the_block_within_its_bound():
    plan = plan_of(base_config())
    done = resolve_intensity(plan, 1, 12.5)
    assert done.schedule.intensity_mA[6:].tolist() == [12.5] * 6
    assert done.schedule.intensity_mA[:6].tolist() == [10, 10, 15, 15, 20, 20]
    assert done.deferred == () and np.isnan(plan.schedule.intensity_mA[6:]).all()
    for bad in (20.5, -1.0, float("nan")):
        with pytest.raises(SafetyError, match="outside 0..20 mA"):
            resolve_intensity(plan, 1, bad)
    with pytest.raises(ValueError):
        resolve_intensity(plan, 0, 5.0)


def test_summary_reports_counts_limits_and_duration(tmp_path):
    data = base_config()
    data["recording"] = {"output_dir": str(tmp_path), "name": "{subject}_{date}"}
    text = summary(plan_of(data), now=datetime(2024, 1, 2))
    assert "#1 recruitment 'recruitment': 6 stimuli, 1000 µs, 0:25; 10–20 mA, 3 levels × 2" in text
    assert "#2 rdd         'rdd': 6 stimuli, 1000 µs, 0:22; test intensity resolved at run time: " \
           "0.5 × Hmax on the ascending limb of block #1, ≤ 20 mA" in text
    assert "stimuli   12 (limit 100)" in text
    assert "intensity max 20 mA (limit 30 mA; run-time intensities counted at their bound)" in text
    assert "rate      max 5 Hz (limit 5 Hz)" in text
    assert "duration  0:57 expected" in text
    assert f"output    {tmp_path / 'S9_20240102.h5'} + journal" in text
    (tmp_path / "S9_20240102.h5").touch()
    assert "(exists: will be refused" in summary(plan_of(data), now=datetime(2024, 1, 2))


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59.6, "1:00"), (75, "1:15"),
                                              (3725, "1:02:05")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
