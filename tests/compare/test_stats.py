"""The statistics of ``hreflex compare`` against scipy.stats on the same numbers, against
exhaustive enumeration of the rank tests' null distributions, and against textbook formulas
on hand-computed examples (Cohen's dz, Hedges' g with J, their intervals, Holm)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as st

from hreflex.compare import stats

REF = np.array([10.0, 12.0, 14.0, 11.0, 13.0])
COND = np.array([12.0, 15.0, 15.0, 13.0, 16.0])  # differences 2, 3, 1, 2, 3
GROUP_A = np.array([4.0, 6.0, 8.0, 5.0, 7.0])  # mean 6, variance 2.5
GROUP_B = np.array([7.0, 9.0, 10.0, 8.0, 11.0, 9.0])  # mean 9, variance 2


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [3, 7, 30])
def test_paired_matches_scipy(seed, n):
    rng = np.random.default_rng(seed)
    ref = rng.lognormal(0.0, 0.5, n)
    cond = ref * rng.normal(1.2, 0.2, n)
    c = stats.paired(ref, cond)
    t = st.ttest_rel(cond, ref)
    assert (c.statistic, c.df, c.p) == pytest.approx((t.statistic, t.df, t.pvalue), rel=1e-12)
    assert c.ci95 == pytest.approx(tuple(t.confidence_interval()), rel=1e-12)
    assert c.difference == pytest.approx(np.mean(cond - ref), rel=1e-12)
    w = st.wilcoxon(cond, ref, method="exact")  # no ties, n <= 50
    assert (c.statistic_nonparametric, c.p_nonparametric) == pytest.approx(
        (w.statistic, w.pvalue), rel=1e-12)
    assert (c.mean_reference, c.sd_reference) == pytest.approx((ref.mean(), ref.std(ddof=1)))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sizes", [(3, 3), (5, 11), (25, 19)])
def test_independent_matches_scipy(seed, sizes):
    rng = np.random.default_rng(seed)
    ref, cond = rng.normal(1.0, 0.3, sizes[0]), rng.normal(1.3, 0.9, sizes[1])
    c = stats.independent(ref, cond)
    t = st.ttest_ind(cond, ref, equal_var=False)
    assert (c.statistic, c.df, c.p) == pytest.approx((t.statistic, t.df, t.pvalue), rel=1e-10)
    assert c.ci95 == pytest.approx(tuple(t.confidence_interval()), rel=1e-10)
    u = st.mannwhitneyu(cond, ref, alternative="two-sided", method="exact")  # no ties
    assert (c.statistic_nonparametric, c.p_nonparametric) == pytest.approx(
        (u.statistic, u.pvalue), rel=1e-10)


def test_rank_tests_match_their_exhaustive_null_distributions():
    # Wilcoxon signed-rank: every assignment of signs to the ranks of |d| is equally likely
    d = np.array([0.7, -0.2, 1.9, 1.1, -0.4, 2.3, 0.05, 1.6])
    ranks = st.rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    total = ranks.sum()
    sums = np.array([sum(r for r, s in zip(ranks, signs, strict=True) if s)
                     for signs in itertools.product([0, 1], repeat=d.size)])
    obs = min(w_plus, total - w_plus)
    p = np.mean((sums <= obs) | (sums >= total - obs))
    c = stats.paired(np.zeros(d.size), d)
    assert c.statistic_nonparametric == obs
    assert c.p_nonparametric == pytest.approx(p, rel=1e-12)
    # Mann-Whitney U: every split of the pooled values into groups of the same sizes
    a, b = np.array([1.2, 3.4, 2.2, 0.9, 2.8]), np.array([3.1, 4.4, 2.9, 5.0, 3.9, 2.5])
    pooled = np.r_[a, b]
    u_of = lambda idx: sum(x > y for x in pooled[list(idx)]  # noqa: E731
                           for y in np.delete(pooled, list(idx)))
    us = np.array([u_of(idx) for idx in itertools.combinations(range(pooled.size), b.size)])
    u_obs, mean_u = u_of(range(a.size, pooled.size)), a.size * b.size / 2
    c = stats.independent(a, b)
    assert c.statistic_nonparametric == u_obs
    assert c.p_nonparametric == pytest.approx(
        np.mean(np.abs(us - mean_u) >= abs(u_obs - mean_u)), rel=1e-12)


def test_ties_and_zero_differences_use_the_normal_approximation_like_scipy():
    ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    cond = ref + np.array([0.0, 1.0, 1.0, 2.0, -1.0, 2.0, 3.0])  # a zero and tied |d|
    c = stats.paired(ref, cond)
    w = st.wilcoxon(cond, ref, zero_method="wilcox", correction=False, method="asymptotic")
    assert c.p_nonparametric == pytest.approx(w.pvalue, rel=1e-12)
    a, b = np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0, 4.0, 5.0])
    u = st.mannwhitneyu(b, a, method="asymptotic", use_continuity=True)
    assert stats.independent(a, b).p_nonparametric == pytest.approx(u.pvalue, rel=1e-12)


def test_cohen_dz_hand_computed():
    c = stats.paired(REF, COND)
    # d = 2, 3, 1, 2, 3: mean 2.2, SD sqrt(2.8 / 4) = sqrt(0.7)
    assert c.difference == pytest.approx(2.2)
    assert c.effect_size == pytest.approx(2.2 / math.sqrt(0.7), rel=1e-12)
    t = 2.2 / (math.sqrt(0.7) / math.sqrt(5))
    assert c.statistic == pytest.approx(t, rel=1e-12)
    half = st.t.ppf(0.975, 4) * math.sqrt(0.7) / math.sqrt(5)
    assert c.ci95 == pytest.approx((2.2 - half, 2.2 + half), rel=1e-12)
    # the interval of dz is the noncentral-t interval of nc, divided by sqrt(n): at its ends
    # the observed t is at the 97.5th / 2.5th percentile
    lo, hi = c.effect_size_ci95
    assert st.nct.cdf(t, 4, lo * math.sqrt(5)) == pytest.approx(0.975, abs=1e-9)
    assert st.nct.cdf(t, 4, hi * math.sqrt(5)) == pytest.approx(0.025, abs=1e-9)
    assert lo < c.effect_size < hi


def test_hedges_g_hand_computed():
    c = stats.independent(GROUP_A, GROUP_B)
    sp = math.sqrt((4 * 2.5 + 5 * 2.0) / 9)  # pooled SD, 9 degrees of freedom
    d = 3.0 / sp
    j_exact = math.gamma(4.5) / (math.sqrt(4.5) * math.gamma(4.0))  # Hedges 1981
    assert stats.hedges_j(9) == pytest.approx(j_exact, rel=1e-12)
    assert stats.hedges_j(9) == pytest.approx(1 - 3 / (4 * 9 - 1), abs=1e-3)  # approximation
    assert c.effect_size == pytest.approx(j_exact * d, rel=1e-12)
    assert c.difference == pytest.approx(3.0)
    scale = math.sqrt(1 / 5 + 1 / 6)
    lo, hi = c.effect_size_ci95
    t = d / scale
    assert st.nct.cdf(t, 9, lo / j_exact / scale) == pytest.approx(0.975, abs=1e-9)
    assert st.nct.cdf(t, 9, hi / j_exact / scale) == pytest.approx(0.025, abs=1e-9)
    # Welch: SE sqrt(2.5/5 + 2/6), df by Welch-Satterthwaite
    v1, v2 = 2.5 / 5, 2.0 / 6
    df = (v1 + v2) ** 2 / (v1**2 / 4 + v2**2 / 5)
    assert c.df == pytest.approx(df, rel=1e-12)
    assert c.statistic == pytest.approx(3.0 / math.sqrt(v1 + v2), rel=1e-12)


def test_effect_size_intervals_approach_the_large_sample_formulas():
    rng = np.random.default_rng(5)
    n = 800
    ref = rng.normal(0, 1, n)
    c = stats.paired(ref, ref + rng.normal(0.5, 1.0, n))
    se = math.sqrt(1 / n + c.effect_size**2 / (2 * n))
    assert c.effect_size_ci95 == pytest.approx(
        (c.effect_size - 1.96 * se, c.effect_size + 1.96 * se), abs=0.004)
    a, b = rng.normal(0, 1, n), rng.normal(0.4, 1, n)
    c = stats.independent(a, b)
    se = math.sqrt(2 / n + c.effect_size**2 / (4 * n))
    assert c.effect_size_ci95 == pytest.approx(
        (c.effect_size - 1.96 * se, c.effect_size + 1.96 * se), abs=0.004)


def test_holm_hand_computed():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> 0.06
    assert stats.holm([0.01, 0.04, None, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, None, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == [] and stats.holm([None]) == [None]


def test_fewer_than_three_is_descriptive_only_and_degenerate_cases_say_why():
    c = stats.paired(np.array([1.0, 2.0]), np.array([2.0, 3.5]))
    assert c.difference == pytest.approx(1.25) and c.p is None and c.ci95 is None
    assert c.reason == "fewer than 3 pairs (2 reference, 2 condition): descriptive only"
    c = stats.independent(np.array([1.0, 2.0, 3.0]), np.array([5.0, 6.0]))
    assert c.mean_condition == 5.5 and c.p is None and c.effect_size is None
    assert "fewer than 3 subjects in a condition (3 reference, 2 condition)" in c.reason
    c = stats.paired(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    assert c.p is None and c.reason == "no variance: every difference is the same"
    # every |d| tied: the normal approximation, as scipy's
    assert c.p_nonparametric == pytest.approx(
        st.wilcoxon(np.ones(3), method="asymptotic").pvalue, rel=1e-12)
    c = stats.paired(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert c.p is None and c.p_nonparametric is None
    c = stats.independent(np.array([2.0, 2.0, 2.0]), np.array([3.0, 3.0, 3.0]))
    assert c.p is None and c.reason.startswith("no variance")
    assert stats.describe(np.array([4.0])) == (1, 4.0, None)
