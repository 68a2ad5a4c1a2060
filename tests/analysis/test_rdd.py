"""RDD: trains from the file or inferred from stimulus times; ratios by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.config import RddConfig
from hreflex.analysis.noise_shape import net_of_floor
from hreflex.analysis.rdd import (
    _ratio_ci,
    infer_trains,
    rdd,
    trains_of,
    trial_variance,
)
from hreflex.io.format import STIMULUS_DTYPE, empty_table


def _protocol():
    """Recruitment (jittered), then 10 pulses at 1 Hz, 30 s rest, 10 pulses at 5 Hz."""
    rng = np.random.default_rng(3)
    rec_t = np.cumsum(8 + rng.uniform(0, 2, 12))
    rec_i = rng.permutation(np.linspace(8, 30, 12))
    t1 = rec_t[-1] + 30 + np.arange(10) * 1.0
    t5 = t1[-1] + 30 + np.arange(10) * 0.2
    time = np.r_[rec_t, t1, t5]
    intensity = np.r_[rec_i, np.full(20, 17.5)]
    return time, intensity


def test_infer_trains_from_times():
    time, intensity = _protocol()
    tr = infer_trains(time, intensity, RddConfig())
    assert tr.source == "inferred"
    assert (tr.train_id[:12] == -1).all() and (tr.pulse_index[:12] == -1).all()
    assert tr.train_id[12:22].tolist() == [0] * 10 and tr.train_id[22:].tolist() == [1] * 10
    assert tr.pulse_index[12:].tolist() == list(range(10)) * 2
    np.testing.assert_allclose(tr.frequency_Hz[12:22], 1.0)
    np.testing.assert_allclose(tr.frequency_Hz[22:], 5.0)


def test_jitter_and_intensity_changes_are_not_trains():
    rng = np.random.default_rng(0)
    time = np.cumsum(5 + rng.uniform(0, 1, 200))  # one intensity, jittered intervals
    assert infer_trains(time, np.full(200, 20.0), RddConfig()).source == "none"
    regular = np.arange(20) * 10.0  # equal intervals, but the intensity changes every time
    assert infer_trains(regular, np.arange(20.0), RddConfig()).source == "none"


def test_trains_from_the_file_win():
    table = empty_table(STIMULUS_DTYPE, 6)
    table["time_s"] = [0, 10, 20, 20.5, 21.0, 21.5]
    table["intensity_mA"] = 10.0
    table["train_id"] = [-1, -1, 4, 4, 4, 4]
    table["pulse_index"] = [-1, -1, 0, 1, 2, 3]
    table["nominal_frequency_Hz"] = [np.nan, np.nan, 2.0, 2.0, 2.0, 2.0]
    tr = trains_of(table, RddConfig())
    assert tr.source == "file" and tr.frequency_Hz[2:].tolist() == [2.0] * 4
    table["nominal_frequency_Hz"] = np.nan  # missing: from the train's own times
    np.testing.assert_allclose(trains_of(table, RddConfig()).frequency_Hz[2:], 2.0)


def test_ratios_by_hand():
    time, intensity = _protocol()
    tr = infer_trains(np.r_[time, time[-1] + 30 + np.arange(10) * 10.0],
                      np.r_[intensity, np.full(10, 17.5)], RddConfig())  # + 0.1 Hz train
    n = tr.train_id.size
    h = np.full(n, 9.0)
    ones, fives, tenths = (np.isclose(tr.frequency_Hz, f) for f in (1.0, 5.0, 0.1))
    h[ones] = [4.0, 2.0, 2.2, 1.8, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]  # mean of 2..10 = 2.0
    h[fives] = [4.0] + [0.5] * 9
    h[tenths] = [4.0] + [4.0, 4.4, 3.6] * 3  # mean 4.0
    m = np.where(fives, 1.3, 1.0)
    include = np.ones(n, bool)
    include[np.flatnonzero(ones)[1]] = False  # an excluded sweep does not count
    r = rdd(h, m, include, tr, RddConfig())
    rows = {row.frequency_Hz: row for row in r.rows}
    assert r.reference_Hz == pytest.approx(0.1) and list(rows) == [0.1, 1.0, 5.0]
    assert rows[1.0].n == 8 and rows[1.0].h_mean_mV == pytest.approx(2.0)
    assert rows[1.0].ratio == pytest.approx(0.5) and rows[5.0].ratio == pytest.approx(0.125)
    assert rows[0.1].h_sd_mV == pytest.approx(np.std([4.0, 4.4, 3.6] * 3, ddof=1))
    assert rows[5.0].per_pulse_ratio[0] == pytest.approx(1.0)  # rested first pulse 4 / 4
    assert rows[1.0].per_pulse_ratio[1] is None  # the only pulse 1 at 1 Hz was excluded
    assert r.m_change_pct == pytest.approx(30.0) and r.m_changed  # 1.3 vs 1.0 > 20 %
    r2 = rdd(h, m, include, tr, RddConfig(skip_first=0, reference_Hz=1.0))
    rows = {row.frequency_Hz: row for row in r2.rows}
    assert rows[1.0].ratio == 1.0 and rows[1.0].n == 9
    assert rows[5.0].ratio == pytest.approx((4.0 + 9 * 0.5) / 10 / ((4.0 + 16.0) / 9))


def test_missing_reference_and_no_trains_are_reasons():
    time, intensity = _protocol()
    tr = infer_trains(time, intensity, RddConfig())
    r = rdd(np.ones(time.size), np.ones(time.size), np.ones(time.size, bool), tr,
            RddConfig(reference_Hz=0.1))
    assert not r.rows and "reference frequency 0.1 Hz" in r.reason
    none = infer_trains(time[:12], intensity[:12], RddConfig())
    r = rdd(np.ones(12), np.ones(12), np.ones(12, bool), none, RddConfig())
    assert not r.rows and "no stimulus trains" in r.reason


def test_trial_variance_ignores_the_course_of_depression_along_a_train():
    rng = np.random.default_rng(4)
    pulses, trains = 10, 200
    trend = 1.0 - 0.05 * np.arange(pulses)  # depression deepening pulse by pulse
    h = (trend + rng.normal(0, 0.1, (trains, pulses))).reshape(-1)
    group = np.zeros(h.size, np.int64)
    train = np.repeat(np.arange(trains), pulses)
    pulse = np.tile(np.arange(pulses), trains)
    var, dof = trial_variance(h, group, train, pulse, 1)
    assert var[0] == pytest.approx(0.01, rel=0.1) and dof[0] == trains * (pulses - 2)
    var, _ = trial_variance(np.tile(trend, trains), group, train, pulse, 1)
    assert var[0] == pytest.approx(0.0, abs=1e-12)  # a pure (linear) course is not noise


def _fieller(a, b, sa, sb, t):
    """Fieller's ends: the roots in rho of (a - rho b)^2 = t^2 (sa^2 + rho^2 sb^2)."""
    return sorted(np.roots([b * b - t * t * sb * sb, -2 * a * b, a * a - t * t * sa * sa]).real)


def test_ratio_interval_is_fiellers():
    # ratio 2 / 4; SE 0.1 and 0.2; t(0.975, 8) = 2.306004
    lo, hi = _ratio_ci((2.0, 4.0), (1.0, 1.0), (0.1, 0.2), 8)
    assert (lo, hi) == pytest.approx(_fieller(2.0, 4.0, 0.1, 0.2, 2.306004), rel=1e-5)
    assert lo < 0.5 < hi
    # the SEs are of g(m): slope x SE of the mean
    assert _ratio_ci((2.0, 4.0), (2.0, 0.5), (0.05, 0.4), 8) == pytest.approx((lo, hi))
    # a ratio near 0 (an H depressed into the noise) keeps a bounded interval from 0, where
    # the log-ratio delta method gave an upper end many times the rested H
    lo, hi = _ratio_ci((0.05, 4.0), (1.0, 1.0), (0.2, 0.2), 8)
    assert lo == 0.0 and hi == pytest.approx(_fieller(0.05, 4.0, 0.2, 0.2, 2.306004)[1])
    assert hi < 0.15
    # a reference that cannot be told from 0 (4 < t x SE): unbounded, so no interval
    assert _ratio_ci((2.0, 4.0), (1.0, 1.0), (0.1, 2.0), 8) is None
    # quadrature: sqrt(5^2 - 3^2) = 4, slope 5 / 4; at or below the floor: 0
    net, slope = net_of_floor(np.array([5.0, 2.0]), 3.0)
    assert net.tolist() == pytest.approx([4.0, 0.0]) and slope[0] == pytest.approx(1.25)


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 5, 9, 10, 29, 30, 101, 1000])
def test_t_quantile_is_students(dof):
    """The interval's t quantile, computed without scipy, equals scipy's (and the normal
    quantile in the limit)."""
    from scipy.special import stdtrit

    from hreflex.analysis.rdd import t_quantile

    for q in (0.6, 0.9, 0.975, 0.995):
        assert t_quantile(q, dof) == pytest.approx(float(stdtrit(dof, q)), rel=1e-10)
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174704, rel=1e-12)  # tables
