"""Statistics of two conditions (``hreflex compare``; definitions in ``docs/COMPARE.md``).

Pure functions over 1-D float arrays of per-subject values (any unit; the difference is in
the unit of the values, effect sizes in standard deviations). Every comparison is
*condition − reference*. Tests are two-sided. Confidence intervals are 95 %:

- the difference: Student t interval (paired: on the differences; independent: Welch);
- Cohen's dz and Hedges' g: inversion of the noncentral t distribution (exact under
  normality, e.g. Steiger & Fouladi 1997), for g times the small-sample correction J.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy import stats as st

LEVEL = 0.95
#: fewer subjects than this in a condition (or pairs) -> descriptive only
MIN_N = 3
#: exact null distributions of the rank tests up to this many values (no ties, no zeros)
EXACT_MAX_N = 50


@dataclass
class Comparison:
    """One measure, one comparison. ``statistic``/``df``/``p`` belong to the parametric test,
    ``statistic_nonparametric``/``p_nonparametric`` to its rank-based partner. None = not
    computed; ``reason`` says why (descriptive only, no variance, ...)."""

    n_reference: int
    n_condition: int
    mean_reference: float | None
    mean_condition: float | None
    sd_reference: float | None
    sd_condition: float | None
    difference: float | None = None
    ci95: tuple[float, float] | None = None
    effect_size: float | None = None
    effect_size_ci95: tuple[float, float] | None = None
    statistic: float | None = None
    df: float | None = None
    p: float | None = None
    statistic_nonparametric: float | None = None
    p_nonparametric: float | None = None
    reason: str | None = None


def describe(x: np.ndarray) -> tuple[int, float | None, float | None]:
    """``(n, mean, SD with ddof 1)``; None where not defined (n = 0; n < 2 for the SD)."""
    x = np.asarray(x, dtype=float)
    n = int(x.size)
    mean = float(np.mean(x)) if n else None
    sd = float(np.std(x, ddof=1)) if n > 1 else None
    return n, mean, sd


def t_interval(estimate: float, se: float, df: float) -> tuple[float, float]:
    """``estimate ± t(0.975, df) × se``."""
    h = float(st.t.ppf(0.5 + LEVEL / 2, df)) * se
    return estimate - h, estimate + h


def t_test(estimate: float, se: float, df: float) -> tuple[float, float]:
    """``(t, two-sided p)`` of ``estimate / se`` with ``df`` degrees of freedom."""
    t = estimate / se
    return t, float(2.0 * st.t.sf(abs(t), df))


def nct_interval(t_obs: float, df: float) -> tuple[float, float] | None:
    """95 % interval of the noncentrality parameter of a noncentral t with ``df`` degrees of
    freedom given the observed ``t_obs``: the ``nc`` with ``P(T <= t_obs | nc)`` = 0.975
    (lower bound) and = 0.025 (upper bound). None if the bounds cannot be bracketed."""
    alpha = 1.0 - LEVEL

    def root(target: float) -> float | None:
        f = lambda nc: float(st.nct.cdf(t_obs, df, nc)) - target  # noqa: E731
        lo = hi = t_obs
        for k in range(60):  # the cdf falls as nc grows: widen until the root is inside
            lo, hi = t_obs - 2.0**k, t_obs + 2.0**k
            if f(lo) >= 0 >= f(hi):
                return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))
        return None

    lo, hi = root(1.0 - alpha / 2), root(alpha / 2)
    return None if lo is None or hi is None else (lo, hi)


def hedges_j(df: float) -> float:
    """Exact small-sample correction of Cohen's d (Hedges 1981):
    ``J = Γ(df/2) / (√(df/2) Γ((df−1)/2))`` (≈ 1 − 3 / (4 df − 1))."""
    return math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)


def _rank_method(values: np.ndarray) -> str:
    ties = np.unique(values).size < values.size
    return "exact" if values.size <= EXACT_MAX_N and not ties else "asymptotic"


def wilcoxon_signed_rank(d: np.ndarray) -> tuple[float | None, float | None, str | None]:
    """Wilcoxon signed-rank test of the differences ``d`` (scipy): zero differences dropped,
    the smaller of the signed rank sums W+ and W− as statistic, the exact null distribution
    without ties up to :data:`EXACT_MAX_N` values, else the tie-corrected normal
    approximation without continuity correction. ``(W, p, reason)``."""
    nz = np.abs(d[d != 0])
    if nz.size == 0:
        return None, None, "every difference is 0"
    res = _scipy_rank(st.wilcoxon, (d[d != 0],), _rank_method(nz), zero_method="wilcox",
                      correction=False)
    return float(res.statistic), float(res.pvalue), None


def mann_whitney(ref: np.ndarray, cond: np.ndarray) -> tuple[float, float]:
    """Mann–Whitney U test (scipy): U of the condition sample, exact null distribution
    without ties when both samples have at most :data:`EXACT_MAX_N` values, else the
    tie-corrected normal approximation with continuity correction. ``(U, p)``."""
    both = np.concatenate([ref, cond])
    method = "exact" if max(ref.size, cond.size) <= EXACT_MAX_N and \
        _rank_method(both) == "exact" else "asymptotic"
    res = _scipy_rank(st.mannwhitneyu, (cond, ref), method, use_continuity=True)
    return float(res.statistic), float(res.pvalue)


def _scipy_rank(test, args: tuple, method: str, **kw):
    try:
        return test(*args, alternative="two-sided", method=method, **kw)
    except ValueError:  # scipy < 1.13 calls the normal approximation "approx" (wilcoxon)
        if method != "asymptotic":
            raise
        return test(*args, alternative="two-sided", method="approx", **kw)


def _few(n_ref: int, n_cond: int, what: str) -> str | None:
    if min(n_ref, n_cond) >= MIN_N:
        return None
    return (f"fewer than {MIN_N} {what} ({n_ref} reference, {n_cond} condition): "
            "descriptive only")


def paired(ref: np.ndarray, cond: np.ndarray) -> Comparison:
    """Paired comparison of the same subjects (``ref[i]`` and ``cond[i]`` belong to subject
    i): mean difference with its t interval, paired t, Cohen's dz = mean(d) / SD(d) with its
    noncentral-t interval, Wilcoxon signed-rank."""
    ref, cond = np.asarray(ref, dtype=float), np.asarray(cond, dtype=float)
    d = cond - ref
    n, mean_d, sd_d = describe(d)
    _, m_r, s_r = describe(ref)
    _, m_c, s_c = describe(cond)
    out = Comparison(n, n, m_r, m_c, s_r, s_c, difference=mean_d)
    out.reason = _few(n, n, "pairs")
    if out.reason:
        return out
    out.statistic_nonparametric, out.p_nonparametric, why = wilcoxon_signed_rank(d)
    if not sd_d > 0:
        out.reason = "no variance: every difference is the same"
        return out
    se = sd_d / math.sqrt(n)
    out.df = float(n - 1)
    out.ci95 = t_interval(mean_d, se, out.df)
    out.statistic, out.p = t_test(mean_d, se, out.df)
    out.effect_size = mean_d / sd_d
    nc = nct_interval(out.statistic, out.df)
    out.effect_size_ci95 = nc and (nc[0] / math.sqrt(n), nc[1] / math.sqrt(n))
    out.reason = why
    return out


def independent(ref: np.ndarray, cond: np.ndarray) -> Comparison:
    """Two independent groups: difference of means with the Welch interval, Welch t,
    Hedges' g = J × (difference / pooled SD) with J × the noncentral-t interval of δ,
    Mann–Whitney U."""
    ref, cond = np.asarray(ref, dtype=float), np.asarray(cond, dtype=float)
    n_r, m_r, s_r = describe(ref)
    n_c, m_c, s_c = describe(cond)
    diff = m_c - m_r if n_r and n_c else None
    out = Comparison(n_r, n_c, m_r, m_c, s_r, s_c, difference=diff)
    out.reason = _few(n_r, n_c, "subjects in a condition")
    if out.reason:
        return out
    out.statistic_nonparametric, out.p_nonparametric = mann_whitney(ref, cond)
    v_r, v_c = s_r**2 / n_r, s_c**2 / n_c
    if not v_r + v_c > 0:
        out.reason = "no variance: every value is the same within each condition"
        return out
    se = math.sqrt(v_r + v_c)
    out.df = (v_r + v_c) ** 2 / (v_r**2 / (n_r - 1) + v_c**2 / (n_c - 1))
    out.ci95 = t_interval(diff, se, out.df)
    out.statistic, out.p = t_test(diff, se, out.df)
    df_pooled = n_r + n_c - 2
    sd_pooled = math.sqrt(((n_r - 1) * s_r**2 + (n_c - 1) * s_c**2) / df_pooled)
    if sd_pooled > 0:
        j, scale = hedges_j(df_pooled), math.sqrt(1 / n_r + 1 / n_c)
        d = diff / sd_pooled
        out.effect_size = j * d
        nc = nct_interval(d / scale, df_pooled)
        out.effect_size_ci95 = nc and (j * nc[0] * scale, j * nc[1] * scale)
    return out


def holm(p: list[float | None]) -> list[float | None]:
    """Holm step-down adjusted p values (None entries are skipped and stay None): with the m
    p values sorted ascending, ``p_holm(i) = min(1, max over j <= i of (m − j + 1) p(j))``."""
    idx = [i for i, v in enumerate(p) if v is not None]
    out: list[float | None] = [None] * len(p)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda k: p[k])):
        running = max(running, min(1.0, (len(idx) - rank) * p[i]))
        out[i] = running
    return out
