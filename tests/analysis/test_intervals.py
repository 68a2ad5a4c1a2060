"""95 % intervals of the recruitment values: resampling, lack of fit, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import f as f_dist

from hreflex.analysis.bootstrap import percentile_interval, resampled_means
from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.fitting import fit_curve
from hreflex.analysis.intervals import NO_SPREAD, lack_of_fit, recruitment_intervals
from hreflex.analysis.models import bell, boltzmann
from hreflex.analysis.pooling import level_stats
from hreflex.analysis.recruitment import recruitment
from tests.analysis.refits import end_shifts, refit_to_convergence

LEVELS = np.linspace(4, 40, 19)
M_TRUE = {"amp_mV": 8.0, "i50_mA": 20.0, "slope_mA": 3.0}
H_TRUE = {"amp_mV": 2.0, "i_rise_mA": 12.0, "k_rise_mA": 1.5, "i_fall_mA": 22.0, "k_fall_mA": 2.5}


def test_resampled_level_means_have_the_variance_of_a_mean():
    rng = np.random.default_rng(0)
    level = np.repeat(np.arange(3), 5)
    values = rng.normal([1.0, 2.0, 3.0], [0.1, 0.2, 0.4], (5, 3)).T.reshape(-1)
    paired = np.stack([values, 2 * values], axis=1)
    boot = resampled_means(paired, level, 3, rng, n_boot=20000)
    var = np.array([values[level == k].var(ddof=1) / 5 for k in range(3)])
    assert boot[..., 0].mean(axis=0) == pytest.approx(
        [values[level == k].mean() for k in range(3)], abs=0.01)
    assert boot[..., 0].var(axis=0) == pytest.approx(var, rel=0.05)  # the n/(n-1) correction
    np.testing.assert_allclose(boot[..., 1], 2 * boot[..., 0])  # one draw for both columns


def _sweeps(seed, sd=0.15, n=4):
    rng = np.random.default_rng(seed)
    i = np.repeat(LEVELS, n)
    return i, boltzmann(i, **M_TRUE) + rng.normal(0, sd, i.size)


def test_lack_of_fit_is_one_for_the_right_model_and_large_for_a_wrong_one():
    i, m = _sweeps(1)
    level = np.searchsorted(LEVELS, i)
    mean, sd, n = (a[:, 0] for a in level_stats(m[:, None], level, LEVELS.size,
                                               np.ones((i.size, 1), bool)))
    fit = fit_curve("boltzmann", LEVELS, mean, n)
    # the right model: an F(L - k, L (n - 1)) variate, clipped at 1; its 99th percentile
    assert 1.0 <= lack_of_fit(fit, LEVELS, mean, sd, n) < f_dist.ppf(0.99, 19 - 4, 19 * 3)
    bent = mean + 0.8 * np.sin(LEVELS / 3)  # wiggles no Boltzmann can follow
    fit = fit_curve("boltzmann", LEVELS, bent, n)
    assert lack_of_fit(fit, LEVELS, bent, sd, n) > 5


def test_mmax_and_threshold_intervals_cover_the_truth():
    cfg = RecruitmentConfig()
    true_thr = M_TRUE["i50_mA"] + M_TRUE["slope_mA"] * np.log(0.05 / 0.95)  # s(z) = 0.05
    hits, width = [], []
    for seed in range(20):
        i, m = _sweeps(100 + seed)
        level = np.searchsorted(LEVELS, i)
        stats = [a[:, 0] for a in level_stats(m[:, None], level, LEVELS.size,
                                             np.ones((i.size, 1), bool))]
        r = recruitment(LEVELS, tuple(stats), None, (float(m.max()), None), cfg)
        ci, _ = recruitment_intervals(r, level, m, None, cfg, (np.nan, np.nan))
        hits += [ci["mmax_mV"][0] <= M_TRUE["amp_mV"] <= ci["mmax_mV"][1],
                 ci["m_threshold_mA"][0] <= true_thr <= ci["m_threshold_mA"][1]]
        width.append((ci["mmax_mV"][1] - ci["mmax_mV"][0]) / M_TRUE["amp_mV"])
    assert np.mean(hits) >= 0.85  # nominal 0.95; 40 checks
    assert np.median(width) < 0.05  # and not uselessly wide


def test_percentile_interval_needs_most_replicates():
    assert percentile_interval(np.arange(101.0)) == (2.5, 97.5)
    assert percentile_interval(np.r_[np.arange(80.0), np.full(20, np.nan)]) is None


def _ramp(seed, x):
    """One sweep per intensity (a clinical ramp): M Boltzmann, H a bell, each with 5 / 15 %
    trial-to-trial variability and additive noise; independent of the analysis' models'
    noise handling (no floor, no noise shape)."""
    rng = np.random.default_rng(seed)
    m, h = boltzmann(x, **M_TRUE), bell(x, **H_TRUE)
    return (m * (1 + 0.05 * rng.standard_normal(x.size)) + 0.02 * rng.standard_normal(x.size),
            h * (1 + 0.15 * rng.standard_normal(x.size)) + 0.02 * rng.standard_normal(x.size))


def test_one_sweep_per_intensity_still_gets_intervals_that_cover():
    """Nothing to resample within a level of one sweep: without the modelled spread of
    ``sweep_variance`` every interval here had width 0."""
    cfg, x = RecruitmentConfig(), np.linspace(4, 40, 31)
    fine = np.linspace(4, 40, 100001)
    h_fine = bell(fine, **H_TRUE)
    truth = {"mmax_mV": M_TRUE["amp_mV"], "hmax_mV": h_fine.max(),
             "hmax_mmax": h_fine.max() / M_TRUE["amp_mV"],
             "m_threshold_mA": M_TRUE["i50_mA"] + M_TRUE["slope_mA"] * np.log(0.05 / 0.95),
             "h_threshold_mA": fine[np.argmax(h_fine >= 0.05 * h_fine.max())]}
    hits, widths = {k: [] for k in truth}, {k: [] for k in truth}
    one = np.ones(x.size)
    for seed in range(40):
        m, h = _ramp(300 + seed, x)
        r = recruitment(x, (m, np.full(x.size, np.nan), one), (h, np.full(x.size, np.nan), one),
                        (None, None), cfg, (0.02, 0.02))
        ci, why = recruitment_intervals(r, np.arange(x.size), m, h, cfg, (0.02, 0.02))
        assert not why
        for key, true in truth.items():
            hits[key].append(ci[key][0] <= true <= ci[key][1])
            widths[key].append((ci[key][1] - ci[key][0]) / abs(true))
    for key in truth:
        # nominal 0.95; 40 seeds (Hmax covers in ~0.88 of 150): at least 0.8, where the
        # intervals of width 0 that these ramps used to get covered nothing
        assert np.mean(hits[key]) >= 0.8, key
        assert 0 < np.median(widths[key]) < 0.5, key


def test_a_value_pooled_from_single_sweeps_gets_no_interval_and_says_why():
    cfg = RecruitmentConfig(min_r2=1.5)  # no fit is acceptable: the values are pooled
    x = np.linspace(4, 40, 19)
    m, h = _ramp(7, x)
    one = np.ones(x.size)
    r = recruitment(x, (m, np.full(x.size, np.nan), one), (h, np.full(x.size, np.nan), one),
                    (None, None), cfg, (0.02, 0.02))
    assert r.hmax_source == "pooled" and r.hmax_mV is not None  # the largest single sweep
    ci, why = recruitment_intervals(r, np.arange(x.size), m, h, cfg, (0.02, 0.02))
    assert "hmax_mV" not in ci and why["hmax_mV_ci95"] == NO_SPREAD


def test_the_replicates_are_refitted_to_their_optimum(monkeypatch):
    """Few sweeps per level (15 levels x 3 sweeps) move a replicate far from the point
    estimate. Its refit must reach its optimum: the intervals' ends must stay within 5 % of
    their width when every replicate is given 400 steps to 1e-10 (here 2.8 %; 6 steps, as
    before, moved them by up to 25 %, and left the Hmax interval too narrow: 81 % coverage
    in 200 such ramps)."""
    cfg, x = RecruitmentConfig(), np.linspace(4, 40, 15)
    level = np.repeat(np.arange(x.size), 3)
    worst = 0.0
    for seed in range(4):
        sweeps = [_ramp(500 + 10 * seed + k, x) for k in range(3)]
        m = np.stack([s[0] for s in sweeps], axis=1).ravel()
        h = np.stack([s[1] for s in sweeps], axis=1).ravel()
        stats = level_stats(np.stack([m, h], axis=1), level, x.size, np.ones((m.size, 2), bool))
        m_stats, h_stats = (tuple(v[:, c] for v in stats) for c in (0, 1))
        r = recruitment(x, m_stats, h_stats, (None, None), cfg, (0.02, 0.02))
        ci, _ = recruitment_intervals(r, level, m, h, cfg, (0.02, 0.02))
        refit_to_convergence(monkeypatch)
        full, _ = recruitment_intervals(r, level, m, h, cfg, (0.02, 0.02))
        monkeypatch.undo()
        shifts = end_shifts(ci, full, ("mmax_mV", "hmax_mV", "hmax_mmax", "h_threshold_mA"))
        worst = max(worst, *shifts.values())
    assert worst < 0.05
