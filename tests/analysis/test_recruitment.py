"""Recruitment: pooling, fits on curves with known parameters, summary values, and the
'not determinable' cases."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.pooling import intensity_levels, level_stats
from hreflex.analysis.recruitment import bell, below_tested, boltzmann, fit_curve, recruitment

LEVELS = np.arange(4.0, 52.1, 2.0)  # 25 intensities
M_TRUE = dict(amp_mV=8.0, i50_mA=30.0, slope_mA=3.0)
H_TRUE = dict(amp_mV=6.0, i_rise_mA=15.0, k_rise_mA=2.0, i_fall_mA=26.0, k_fall_mA=2.5)
FLOOR = 0.03  # noise peak-to-peak, mV


def _stats(values, n=4):
    return values, np.full(values.shape, 0.1), np.full(values.shape, n)


def _measured(curve):
    return np.hypot(curve, FLOOR)  # what p2p shows with noise: see recruitment.measured


def test_intensity_levels_pool_scattered_currents():
    delivered = np.array([10.02, 9.98, 12.01, 11.97, 10.0, np.nan, 14.0])
    levels, level = intensity_levels(delivered, tolerance=0.01)
    np.testing.assert_allclose(levels, [10.0, 11.99, 14.0])
    assert level.tolist() == [0, 0, 1, 1, 0, -1, 2]


def test_level_stats_by_hand():
    values = np.array([[1.0], [3.0], [10.0], [np.nan], [7.0]])
    include = np.array([[True], [True], [True], [True], [False]])
    mean, sd, n = level_stats(values, np.array([0, 0, 1, 1, 1]), 2, include)
    np.testing.assert_allclose(mean[:, 0], [2.0, 10.0])
    assert sd[0, 0] == pytest.approx(np.sqrt(2.0)) and np.isnan(sd[1, 0])
    assert n[:, 0].tolist() == [2, 1]


def test_fits_recover_known_curves():
    m = fit_curve("boltzmann", LEVELS, _measured(boltzmann(LEVELS, **M_TRUE)), np.full(25, 4))
    assert m.acceptable and m.r2 > 0.9999
    assert m.params["amp_mV"] == pytest.approx(8.0, rel=1e-3)
    assert m.params["i50_mA"] == pytest.approx(30.0, abs=0.01)
    assert m.params["floor_mV"] == pytest.approx(FLOOR, abs=0.005)
    h = fit_curve("bell", LEVELS, _measured(bell(LEVELS, **H_TRUE)), np.full(25, 4))
    grid = np.linspace(0, 52, 52001)
    assert h.acceptable
    np.testing.assert_allclose(h(grid), bell(grid, **H_TRUE), atol=0.01)


def test_summary_values_match_the_true_curves():
    m_curve, h_curve = boltzmann(LEVELS, **M_TRUE), bell(LEVELS, **H_TRUE)
    r = recruitment(LEVELS, _stats(_measured(m_curve)), _stats(_measured(h_curve)),
                    (8.3, 3.9), RecruitmentConfig())
    grid = np.linspace(0, 52, 52001)
    h_true = bell(grid, **H_TRUE)
    k = int(np.argmax(h_true))
    assert r.mmax_mV == pytest.approx(8.0, rel=1e-3) and r.mmax_source == "fit"
    assert r.plateau_reached
    assert r.hmax_mV == pytest.approx(h_true[k], rel=2e-3) and r.hmax_source == "fit"
    assert r.hmax_mmax == pytest.approx(h_true[k] / 8.0, rel=3e-3)
    assert r.intensity_at_hmax_mA == pytest.approx(grid[k], abs=0.1)
    assert r.m_at_hmax_pct_mmax == pytest.approx(100 * boltzmann(grid[k], **M_TRUE) / 8, abs=0.3)
    # 5 % of the M curve's own maximum: s(x) = 0.05 at x = ln(0.05 / 0.95)
    assert r.m_threshold_mA == pytest.approx(30.0 + 3.0 * np.log(0.05 / 0.95), abs=0.05)
    h_thr = grid[np.argmax(h_true >= 0.05 * h_true[k])]
    assert r.h_threshold_mA == pytest.approx(h_thr, abs=0.05)
    assert r.m_slope_mV_per_mA == pytest.approx(8.0 / (4 * 3.0), rel=1e-2)  # amp / (4 slope)
    assert (r.mmax_observed_mV, r.hmax_observed_mV) == (8.3, 3.9)
    assert r.reasons == {}


@pytest.mark.parametrize(("method", "value", "expected"), [
    ("mmax", 0.10, 30.0 + 3.0 * np.log(0.10 / 0.90)),  # M reaches 10 % of Mmax (= amp)
    ("background", 4.0, 30.0 + 3.0 * np.log(0.2 / 0.8)),  # 4 x 0.4 mV = 1.6 mV = 0.2 amp
])
def test_other_threshold_methods(method, value, expected):
    cfg = RecruitmentConfig(threshold_method=method, threshold_value=value)
    m = _measured(boltzmann(LEVELS, **M_TRUE))
    r = recruitment(LEVELS, _stats(m), None, (None, None), cfg, (0.4, 0.4))
    assert r.m_threshold_mA == pytest.approx(expected, abs=0.05)


def test_m_that_never_saturates_is_not_determinable():
    low = LEVELS[LEVELS <= 30]
    m = _measured(boltzmann(low, **M_TRUE))
    h = _measured(bell(low, **H_TRUE))
    r = recruitment(low, _stats(m), _stats(h), (4.0, 3.9), RecruitmentConfig())
    assert r.mmax_mV is None and r.plateau_reached is False
    assert "plateau" in r.reasons["mmax_mV"]
    assert r.hmax_mmax is None and "plateau" in r.reasons["hmax_mmax"]
    assert r.hmax_mV is not None and r.m_threshold_mA is not None  # the curve itself is fine
    assert r.mmax_observed_mV == 4.0


def test_one_intensity_only():
    one = np.array([20.0])
    r = recruitment(one, _stats(np.array([2.0])), _stats(np.array([1.0])), (2.1, 1.2),
                    RecruitmentConfig())
    for key in ("mmax_mV", "hmax_mV", "hmax_mmax", "m_threshold_mA", "h_threshold_mA",
                "intensity_at_hmax_mA"):
        assert getattr(r, key) is None
        assert "one intensity only (20 mA)" in r.reasons[key]
    assert (r.mmax_observed_mV, r.hmax_observed_mV) == (2.1, 1.2)


def test_poor_fit_falls_back_to_pooled_means():
    levels = np.arange(10.0, 26.0, 2.0)  # 8 levels
    h = np.array([0.1, 2.0, 0.2, 2.2, 0.1, 1.9, 0.3, 2.1])  # no bell shape at all
    m = _measured(boltzmann(levels, amp_mV=5.0, i50_mA=12.0, slope_mA=1.0))
    r = recruitment(levels, _stats(m), _stats(h), (5.1, 2.3), RecruitmentConfig())
    assert not r.h_fit.acceptable
    assert r.hmax_mV == 2.2 and r.hmax_source == "pooled" and r.intensity_at_hmax_mA == 16.0
    assert r.h_threshold_mA is None and "not acceptable" in r.reasons["h_threshold_mA"]
    assert r.hmax_mmax == pytest.approx(2.2 / r.mmax_mV)


def test_pooled_plateau_when_too_few_intensities_to_fit():
    levels = np.array([0.0, 56.0, 100.0])  # like the clinical M-max protocol
    r = recruitment(levels, _stats(np.array([0.02, 7.9, 8.1])), None, (8.4, None),
                    RecruitmentConfig(), missing=("", "no H-reflex found"))
    assert r.mmax_mV == 8.1 and r.mmax_source == "pooled"
    assert "too few intensities" in r.reasons["m_slope_mV_per_mA"]
    assert r.reasons["hmax_mV"] == "no H-reflex found"


def test_a_threshold_whose_level_is_unknown_says_why():
    """threshold_method = mmax without an Mmax (M never saturates): the reason names Mmax's
    own reason, not a 'nan mV' level."""
    levels = np.linspace(1, 20, 12)
    m = boltzmann(levels, 8.0, 30.0, 3.0) + 0.05  # far from saturating in 1..20 mA
    n = np.full(12, 4)
    stats = (m, np.full(12, 0.05), n)
    cfg = RecruitmentConfig(threshold_method="mmax")
    r = recruitment(levels, stats, None, (float(m.max()), None), cfg)
    assert r.mmax_mV is None and r.m_threshold_mA is None
    assert "needs Mmax" in r.reasons["m_threshold_mA"]
    assert r.reasons["mmax_mV"] in r.reasons["m_threshold_mA"] and "nan" not in \
        r.reasons["m_threshold_mA"]


def test_m_threshold_is_a_fraction_of_mmax_when_the_top_level_is_below_it():
    """Tested up to 40 mA, M reaches 96.6 % of its asymptote (a plateau by the default 0.95
    rule): the threshold is 5 % of Mmax, the curve's own maximum, not 5 % of the fitted M at
    the top level (that would be 0.1 mA lower)."""
    low = LEVELS[LEVELS <= 40]
    r = recruitment(low, _stats(_measured(boltzmann(low, **M_TRUE))), None, (None, None),
                    RecruitmentConfig())
    assert r.plateau_reached and r.mmax_mV == pytest.approx(8.0, rel=2e-3)
    assert r.m_threshold_mA == pytest.approx(30.0 + 3.0 * np.log(0.05 / 0.95), abs=0.03)


def test_a_threshold_below_the_tested_intensities_is_said_to_be_extrapolated():
    # H threshold (5 % of Hmax) at ~9.2 mA, M's at ~21.2 mA: a run from 12 mA starts above H's
    levels = LEVELS[LEVELS >= 12.0]
    m_curve, h_curve = boltzmann(levels, **M_TRUE), bell(levels, **H_TRUE)
    r = recruitment(levels, _stats(_measured(m_curve)), _stats(_measured(h_curve)),
                    (None, None), RecruitmentConfig())
    assert r.h_threshold_mA is not None and r.h_threshold_mA < 12.0
    assert below_tested(r) == [f"H threshold {r.h_threshold_mA:.3g} mA is below the lowest "
                               "tested intensity (12 mA): extrapolated from the fitted curve"]
    full = recruitment(LEVELS, _stats(_measured(boltzmann(LEVELS, **M_TRUE))),
                       _stats(_measured(bell(LEVELS, **H_TRUE))), (None, None),
                       RecruitmentConfig())
    assert below_tested(full) == []


def test_intensity_levels_keep_requested_steps_apart_whatever_the_range():
    # a decreasing ramp: one M-max trace at 94 mA, then 0.5 mA steps (the Cadwell lab's)
    ramp = np.array([94.0, 30, 20, 19.5, 19, 18.5, 18, 17.5, 17, 16.5, 16, 16.5, 17])
    levels, level = intensity_levels(ramp)
    np.testing.assert_array_equal(levels, [16, 16.5, 17, 17.5, 18, 18.5, 19, 19.5, 20, 30, 94])
    assert level[[9, 11]].tolist() == [1, 1] and level[0] == 10
    # a level spans at most the tolerance of its lowest intensity: no chain of small steps
    levels, _ = intensity_levels(np.array([10.0, 10.04, 10.08, 10.12]), tolerance=0.005)
    np.testing.assert_allclose(levels, [10.02, 10.1])


def test_hmax_is_not_extrapolated_below_the_lowest_stimulated_level():
    """Like the lab's forearm increasing ramp (s2802mytb left): one 0 mA trace, then 10-31 mA
    with H already at its largest at 10 mA. The fitted bell may peak anywhere between 0 and
    10 mA, where no intensity was tested; Hmax is the fit's largest value from 10 mA on (it
    read 132 mV, 7 x Mmax, while the 0 mA trace counted as tested)."""
    levels = np.array([0.0, 10, 12.5, 16.5, 21, 25, 31])
    m = _measured(boltzmann(levels, amp_mV=19.0, i50_mA=11.0, slope_mA=1.5))
    h = _measured(np.array([0.0, 14.3, 4.1, 3.0, 2.8, 2.9, 2.7]))
    r = recruitment(levels, _stats(m, n=1), _stats(h, n=1), (19.1, 14.3), RecruitmentConfig())
    assert r.hmax_source == "fit" and r.hmax_mV == pytest.approx(14.3, rel=0.05)
    assert r.intensity_at_hmax_mA == pytest.approx(10.0, abs=0.1)
    # both thresholds lie below 10 mA, and say so (the 0 mA trace tests no intensity)
    assert r.h_threshold_mA < 10.0 and r.m_threshold_mA < 10.0
    assert [m[:11] for m in below_tested(r)] == ["M threshold", "H threshold"]
    assert all("below the lowest tested intensity (10 mA)" in m for m in below_tested(r))
