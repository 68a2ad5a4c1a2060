"""Stimulus schedules: counts, timings, ordering, ids and argument validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.errors import ConfigError
from hreflex.schedule import Block, Schedule, concat, fixed, intensity_levels, rdd, recruitment


def test_intensity_levels_inclusive_and_clean():
    assert intensity_levels(8, 52, 2).tolist() == list(range(8, 53, 2))
    # 0.3 + 0.05 k accumulates float error; levels are rounded and stop is included
    levels = intensity_levels(0.3, 1.6, 0.05)
    assert len(levels) == 27 and levels[-1] == 1.6 and levels[1] == 0.35


def test_recruitment_ascending_blocks_of_sweeps():
    s = recruitment(start_mA=10, stop_mA=14, step_mA=2, sweeps=3, isi_s=8.0)
    assert s.intensity_mA.tolist() == [10, 10, 10, 12, 12, 12, 14, 14, 14]
    assert np.allclose(s.time_s, 8.0 * np.arange(9))
    assert s.blocks == (Block(0, "recruitment", "recruitment"),)
    assert (s.block_id == 0).all() and (s.train_id == -1).all() and (s.pulse_index == -1).all()
    assert np.isnan(s.nominal_frequency_Hz).all() and (s.pulse_width_us == 1000).all()


def test_recruitment_randomised_rounds_and_jitter():
    levels = [5.0, 7.5, 10.0, 12.5, 15.0]
    s = recruitment(levels, sweeps=4, isi_s=5.0, jitter_s=2.0, randomize=True, seed=3)
    rounds = s.intensity_mA.reshape(4, 5)
    for r in rounds:  # every round holds every intensity once
        assert sorted(r.tolist()) == levels
    assert not all((r == levels).all() for r in rounds)  # and the order is shuffled
    gaps = np.diff(s.time_s)
    assert s.time_s[0] == 0 and gaps.min() >= 5.0 and gaps.max() <= 7.0 and gaps.std() > 0
    again = recruitment(levels, sweeps=4, isi_s=5.0, jitter_s=2.0, randomize=True, seed=3)
    assert np.array_equal(again.time_s, s.time_s)
    assert np.array_equal(again.intensity_mA, s.intensity_mA)


def test_rdd_train_timing_and_ids():
    s = rdd(
        [0.1, 1.0, 10.0], intensity_mA=17.5, pulses_per_train=5, rest_s=20.0, pulse_width_us=500
    )
    expected = [0, 10, 20, 30, 40, 60, 61, 62, 63, 64, 84, 84.1, 84.2, 84.3, 84.4]
    assert np.allclose(s.time_s, expected)
    assert s.train_id.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert s.pulse_index.tolist() == list(range(5)) * 3
    assert s.nominal_frequency_Hz.tolist() == [0.1] * 5 + [1.0] * 5 + [10.0] * 5
    assert (s.intensity_mA == 17.5).all() and (s.pulse_width_us == 500).all()
    assert s.blocks[0].kind == "rdd"


def test_rdd_randomised_train_order_keeps_train_spacing():
    freqs = [0.2, 0.5, 1.0, 2.0, 5.0]
    s = rdd(freqs, intensity_mA=10, pulses_per_train=4, randomize=True, seed=7)
    order = s.nominal_frequency_Hz[s.pulse_index == 0]
    assert sorted(order.tolist()) == freqs and order.tolist() != freqs
    for t in range(5):
        sel = s.train_id == t
        assert np.allclose(np.diff(s.time_s[sel]), 1 / s.nominal_frequency_Hz[sel][0])


def test_fixed_block():
    s = fixed(12.0, 6, isi_s=3.0, label="probe")
    assert len(s) == 6 and np.allclose(s.time_s, 3.0 * np.arange(6))
    assert (s.intensity_mA == 12).all() and s.blocks == (Block(0, "fixed", "probe"),)


def test_concat_renumbers_blocks_trains_and_offsets_time():
    a = recruitment([10, 20], sweeps=1, isi_s=5)  # times 0, 5
    b = rdd([1.0, 2.0], intensity_mA=15, pulses_per_train=3, rest_s=10)
    c = rdd([5.0], intensity_mA=15, pulses_per_train=2)
    s = concat(a, b, c, gap_s=30)
    assert [(x.block_id, x.kind) for x in s.blocks] == [(0, "recruitment"), (1, "rdd"), (2, "rdd")]
    assert s.block_id.tolist() == [0, 0] + [1] * 6 + [2] * 2
    assert s.train_id.tolist() == [-1, -1, 0, 0, 0, 1, 1, 1, 2, 2]
    # b starts 30 s after a's last stimulus (5 s), c 30 s after b's last (35 + 2 + 10 + 1)
    assert np.allclose(s.time_s, [0, 5, 35, 36, 37, 47, 47.5, 48, 78, 78.2])
    nested = concat(concat(a, b, gap_s=30), c, gap_s=30)
    assert np.array_equal(nested.train_id, s.train_id)
    assert np.allclose(nested.time_s, s.time_s)


def test_schedule_arrays_are_read_only_and_consistent():
    s = fixed(1.0, 3)
    with pytest.raises(ValueError):
        s.time_s[0] = 5.0
    with pytest.raises(ConfigError, match="intensity_mA"):
        Schedule(
            time_s=[0, 1],
            intensity_mA=[1],
            pulse_width_us=[1, 1],
            block_id=[0, 0],
            train_id=[-1, -1],
            pulse_index=[-1, -1],
            nominal_frequency_Hz=[0, 0],
            blocks=(Block(0, "fixed", ""),),
        )
    with pytest.raises(ConfigError, match="non-decreasing"):
        Schedule(
            time_s=[1, 0],
            intensity_mA=[1, 1],
            pulse_width_us=[1, 1],
            block_id=[0, 0],
            train_id=[-1, -1],
            pulse_index=[-1, -1],
            nominal_frequency_Hz=[0, 0],
            blocks=(Block(0, "fixed", ""),),
        )
    with pytest.raises(ConfigError, match="block_id"):
        Schedule(
            time_s=[0],
            intensity_mA=[1],
            pulse_width_us=[1],
            block_id=[3],
            train_id=[-1],
            pulse_index=[-1],
            nominal_frequency_Hz=[0],
            blocks=(Block(0, "fixed", ""),),
        )
    with pytest.raises(ConfigError, match="kind"):
        Schedule(
            time_s=[0],
            intensity_mA=[1],
            pulse_width_us=[1],
            block_id=[0],
            train_id=[-1],
            pulse_index=[-1],
            nominal_frequency_Hz=[0],
            blocks=(Block(0, "ramp", ""),),
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: recruitment([]), "empty"),
        (lambda: recruitment([5, -1]), ">= 0"),
        (lambda: recruitment([5], isi_s=-1), "isi_s"),
        (lambda: recruitment([5], isi_s=0), "isi_s"),
        (lambda: recruitment([5], jitter_s=-0.5), "jitter_s"),
        (lambda: recruitment([5], sweeps=0), "sweeps"),
        (lambda: recruitment([5], pulse_width_us=0), "pulse_width_us"),
        (lambda: recruitment(start_mA=1, stop_mA=5), "start_mA, stop_mA, step_mA"),
        (lambda: recruitment([5], start_mA=1, stop_mA=5, step_mA=1), "not both"),
        (lambda: recruitment(start_mA=5, stop_mA=1, step_mA=1), "stop_mA"),
        (lambda: recruitment(start_mA=1, stop_mA=5, step_mA=0), "step_mA"),
        (lambda: rdd([], intensity_mA=5), "empty"),
        (lambda: rdd([1, 0], intensity_mA=5), "> 0"),
        (lambda: rdd([1], intensity_mA=5, pulses_per_train=1), "pulses_per_train"),
        (lambda: rdd([1], intensity_mA=5, rest_s=-1), "rest_s"),
        (lambda: rdd([1], intensity_mA=-5), "intensity_mA"),
        (lambda: fixed(5, 0), "n_stimuli"),
        (lambda: fixed(5, 3, isi_s=-2), "isi_s"),
        (lambda: concat(), "no schedules"),
        (lambda: concat(fixed(1, 1), gap_s=0), "gap_s"),
    ],
)
def test_invalid_arguments_raise_config_error(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=12),
    sweeps=st.integers(1, 5),
    isi=st.floats(0.1, 20),
    jitter=st.floats(0, 5),
    randomize=st.booleans(),
)
def test_recruitment_properties(levels, sweeps, isi, jitter, randomize):
    s = recruitment(levels, sweeps=sweeps, isi_s=isi, jitter_s=jitter, randomize=randomize)
    assert len(s) == len(levels) * sweeps
    assert sorted(s.intensity_mA.tolist()) == sorted(levels * sweeps)
    gaps = np.diff(s.time_s)
    assert np.all(gaps >= isi - 1e-9) and np.all(gaps <= isi + jitter + 1e-9)
