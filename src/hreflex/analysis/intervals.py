"""95 % intervals of the recruitment values by a bootstrap over sweeps within intensity levels.

Every replicate resamples each level's sweeps (:func:`hreflex.analysis.bootstrap.
resampled_means`), its deviations from the level means scaled by the square root of the fit's
lack of fit (:func:`lack_of_fit`: a curve that misses the means by more than their sampling
error widens its intervals, as a reduced chi-square scales a fit's covariance), refits the curves
that gave the point estimate (or re-pools, where the value came from the pooled means) and recomputes Mmax, Hmax, Hmax/Mmax and both thresholds
exactly as :func:`hreflex.analysis.recruitment.recruitment` defines them. The interval is
the 2.5-97.5 percentile range of the replicates (``N_BOOT`` = 300, fixed seed; their curves are
evaluated on a 401-point intensity grid); a value whose
replicates are not determinable in more than 10 % of them gets no interval.

A level of one sweep has nothing to resample (a ramp of one sweep per intensity, as many
clinical systems record, would get intervals of width 0). Where a curve was fitted, such a
level's replicate mean is its mean plus a normal draw times the modelled SD of one sweep there
(:func:`sweep_variance`: noise, excitability and threshold terms, ``a + b y^2 + c y'^2``,
fitted to the within-level variances and the squared residuals of all levels),
refitted like the others but to a tighter tolerance (``SINGLE_REFIT_TOL``). A value whose
replicates do not vary at all (pooled from levels of one sweep) gets no interval, and says
why.
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.bootstrap import N_BOOT, SEED, percentile_interval, resampled_means
from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.fitting import CurveFit, fit_setup, lm_fit
from hreflex.analysis.models import PARAMS, measured_and_jacobian
from hreflex.analysis.recruitment import (
    RecruitmentResult,
    curve_values,
    first_crossing,
    intensity_grid,
    pooled_mmax,
    threshold_levels,
)

#: intensity grid of the replicates' curves (the point estimate uses 4001 points)
BOOT_GRID_POINTS = 401
#: the replicates start at the point estimate; each is refitted until it converges, in at
#: most this many steps (a replicate of few sweeps per level, or of levels of one sweep,
#: moves far from the point estimate: stopped short, it leaves the intervals too narrow)
REFIT_ITERATIONS = 60
#: ... to this tolerance (relative change of cost or parameters in a step) ...
REFIT_TOL = 1e-4
#: ... or this one where a level has one sweep (its replicates move by a sweep's spread, and
#: converge slowly: at 1e-4 a real clinical ramp's interval ends stopped up to 27 % of their
#: width short)
SINGLE_REFIT_TOL = 1e-5
#: re-weighted passes of the fit of :func:`sweep_variance`
VARIANCE_PASSES = 5
#: why a value whose replicates do not vary at all gets no interval
NO_SPREAD = ("no spread to resample: every bootstrap replicate gives the same value (the "
             "intensities it comes from have one sweep each)")


def lack_of_fit(fit: CurveFit, levels_mA: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                n: np.ndarray) -> float:
    """Lack-of-fit ratio of the fit, at least 1: the mean square of the level means around
    the curve, ``sum n (mean - fit)^2 / (L - k)``, over the mean within-level variance
    (pure error, levels with n >= 2) — as in the lack-of-fit F test. About 1 when the
    curve misses the means only by their sampling error; larger when the model misfits."""
    use = (n >= 2) & np.isfinite(mean) & np.isfinite(sd)
    k = len(fit.params)
    if use.sum() <= k or not np.any(sd[use] > 0):
        return 1.0
    between = np.sum(n[use] * (mean[use] - fit.measured(levels_mA[use])) ** 2) / (use.sum() - k)
    return float(max(1.0, between / np.mean(sd[use] ** 2)))


def level_residuals(fit: CurveFit, levels_mA: np.ndarray, mean: np.ndarray, n: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(L,) each level mean's residual about the fitted curve (what it estimates, floor
    included) and (L,) the level's leverage h in the sqrt(n)-weighted fit: a fit pulls its
    curve towards every mean, so a residual's expected square is its variance x (1 - h),
    nothing for a level that alone fixes a parameter (h = 1). NaN without a mean."""
    use = (n > 0) & np.isfinite(mean)
    p = np.array([fit.params[k] for k in PARAMS[fit.model]])
    curve, jac = measured_and_jacobian(fit.model, levels_mA[use], p, fit.table)
    jw = np.sqrt(n[use].astype(float))[:, None] * jac
    res, lev = np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    res[use] = mean[use] - curve
    lev[use] = np.clip(np.einsum("lk,lk->l", jw @ np.linalg.pinv(jw.T @ jw), jw), 0.0, 1.0)
    return res, lev


def sweep_variance(fit: CurveFit, levels_mA: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                   n: np.ndarray) -> np.ndarray:
    """(L,) the variance of one sweep's amplitude at each level, modelled as
    ``v = a + b y^2 + c y'^2``: a noise part, a part that grows with the response
    (trial-to-trial excitability) and one that grows with the curve's steepness (a
    fluctuating threshold moves a sweep along the curve: large on the rising limb, nothing
    on a plateau); y the fitted curve (floor included), y' its slope (per mA). ``a, b, c >=
    0`` are fitted by least squares to what every level says of its own v: its within-level
    variance estimates v (dof n - 1) where n >= 2; where n = 1, its squared residual
    (:func:`level_residuals`) estimates v (1 - h) (dof 1). Weights dof / (v + v_bar)^2, v
    from the previous of ``VARIANCE_PASSES`` passes, v_bar the estimates' average. One sweep
    says little about its own level's spread; the model pools what all levels say."""
    use = (n > 0) & np.isfinite(mean)
    step = 1e-3 * max(float(np.ptp(levels_mA)), 1e-9)
    y = fit.measured(levels_mA)
    slope = (fit.measured(levels_mA + step) - fit.measured(levels_mA - step)) / (2 * step)
    res, lev = level_residuals(fit, levels_mA, mean, n)
    replicated = n >= 2
    est = np.where(replicated, sd**2, res**2)
    ok = use & np.isfinite(est)
    terms = np.stack([np.ones_like(y), y**2, slope**2], axis=1)
    seen = (terms * np.where(replicated, 1.0, 1.0 - np.nan_to_num(lev))[:, None])[ok]
    dof, est = np.where(replicated, n - 1.0, 1.0)[ok], est[ok]
    # a variance estimate's error grows with the variance (its SD is v sqrt(2 / dof)), so
    # the levels weigh dof / v^2, v from the previous pass plus the average estimate (no
    # level counts for more than an average one: one sweep's square is a rough estimate)
    typical = max(float(np.average(est, weights=dof)) if est.size else 0.0, 1e-300)
    coef = _nonnegative_lstsq(seen * np.sqrt(dof)[:, None], est * np.sqrt(dof))
    for _ in range(VARIANCE_PASSES):
        root_w = np.sqrt(dof) / (seen @ coef + typical)
        coef = _nonnegative_lstsq(seen * root_w[:, None], est * root_w)
    return terms @ coef


def _nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k,) the least-squares ``x >= 0`` of ``a x = b`` ((m, k), k small): the best of the
    unconstrained solutions on every subset of the columns that come out non-negative."""
    k = a.shape[1]
    best, best_cost = np.zeros(k), float(b @ b)
    for mask in range(1, 2**k):
        cols = [j for j in range(k) if mask >> j & 1]
        if len(cols) > a.shape[0]:
            continue
        x = np.linalg.lstsq(a[:, cols], b, rcond=None)[0]
        cost = float(np.sum((a[:, cols] @ x - b) ** 2))
        if (x >= 0).all() and cost < best_cost:
            best = np.zeros(k)
            best[cols], best_cost = x, cost
    return best


def _refit(fit: CurveFit, levels_mA: np.ndarray, point_mean: np.ndarray, sd: np.ndarray,
           n: np.ndarray, boot: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """(B, k) parameters of ``fit``'s model refitted to every replicate (B, L): the
    resampled means' deviations scaled by sqrt(:func:`lack_of_fit`); a level of one sweep
    is its mean plus ``draws`` (B, L) (standard normal) x the modelled SD of a sweep there
    (:func:`sweep_variance`)."""
    use = (n > 0) & np.isfinite(point_mean)
    x, w = levels_mA[use], np.sqrt(n[use].astype(float))
    bounds, scale = fit_setup(fit.model, x, point_mean[use])
    p0 = np.array([fit.params[k] for k in PARAMS[fit.model]])
    inflate = np.sqrt(lack_of_fit(fit, levels_mA, point_mean, sd, n))
    y = point_mean[use] + inflate * (boot[:, use] - point_mean[use])
    one = n[use] == 1
    if one.any():
        spread = np.sqrt(sweep_variance(fit, levels_mA, point_mean, sd, n)[use][one])
        y[:, one] = point_mean[use][one] + draws[:, use][:, one] * spread
    y = np.where(np.isfinite(y), y, point_mean[use])
    params, _, _ = lm_fit(fit.model, x, y, w, np.broadcast_to(p0, (y.shape[0], p0.size)),
                          bounds, scale, shape=fit.table, iterations=REFIT_ITERATIONS,
                          tol=SINGLE_REFIT_TOL if one.any() else REFIT_TOL)
    return params


def recruitment_intervals(r: RecruitmentResult, level: np.ndarray, m_amp: np.ndarray | None,
                          h_amp: np.ndarray | None, cfg: RecruitmentConfig,
                          floor_mV: tuple[float, float], n_boot: int = N_BOOT
                          ) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """95 % intervals of ``mmax_mV``, ``hmax_mV``, ``hmax_mmax``, ``m_threshold_mA`` and
    ``h_threshold_mA`` (those with a point estimate), and the reasons of the values that
    have a point estimate but no interval for a reason other than too few replicates
    (``"<value>_ci95"`` -> why).

    ``level`` (n,): each included sweep's level (-1 = not used); ``m_amp``/``h_amp`` (n,)
    their amplitudes (None: no such window); ``floor_mV``: the noise amplitude of the M and
    H windows (``background`` thresholds)."""
    rng = np.random.default_rng(SEED)
    n_lv, singles = r.levels_mA.size, bool((r.n == 1).any())
    grid, tested = intensity_grid(r.levels_mA, r.n, BOOT_GRID_POINTS)
    have = [(key, amp) for key, amp in (("m", m_amp), ("h", h_amp)) if amp is not None]
    boot = {"m": None, "h": None}
    if have:  # the same resampled sweeps for M and H
        both = np.stack([amp for _, amp in have], axis=1)
        means = resampled_means(both, level, n_lv, rng, n_boot)
        boot.update({key: means[..., i] for i, (key, _) in enumerate(have)})
    # the levels of one sweep: normal draws, M's and H's (drawn after the resampling, and
    # only where there are such levels: the intervals of other designs are unchanged)
    draws = rng.standard_normal((2, n_boot, n_lv)) if singles else np.zeros((2, 0, 0))
    mmax = np.full(n_boot, np.nan)
    values: dict[str, np.ndarray] = {}
    curves = {}
    if boot["m"] is not None and r.mmax_mV is not None:
        if r.mmax_source == "fit":
            mv = curve_values("boltzmann", _refit(r.m_fit, r.levels_mA, r.m_mean_mV,
                                                  r.m_sd_mV, r.n, boot["m"], draws[0]),
                              grid, tested, cfg.plateau_fraction, slopes=False)
            mmax, curves["m"] = mv["max"], mv
        else:
            mmax = pooled_mmax(boot["m"], cfg.plateau_fraction)
        values["mmax_mV"] = mmax
    if boot["h"] is not None and r.hmax_mV is not None:
        if r.hmax_source == "fit":
            hv = curve_values(r.h_fit.model, _refit(r.h_fit, r.levels_mA, r.h_mean_mV, r.h_sd_mV,
                                            r.n, boot["h"], draws[1]), grid, tested,
                              cfg.plateau_fraction, slopes=False)
            hmax, curves["h"] = hv["max"], hv
        else:
            hmax = np.nanmax(boot["h"], axis=1)
        values["hmax_mV"] = hmax
        if r.hmax_mmax is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                values["hmax_mmax"] = hmax / mmax
    for wave, noise in (("m", floor_mV[0]), ("h", floor_mV[1])):
        key = f"{wave}_threshold_mA"
        if wave in curves and getattr(r, key) is not None:
            cv = curves[wave]
            level_mV = threshold_levels(cfg, cv["top"], mmax, noise, wave)
            values[key] = first_crossing(grid, cv["curve"], level_mV)
    out, why = {}, {}
    for key, samples in values.items():
        ci = percentile_interval(samples)
        if ci is not None and ci[0] == ci[1] and singles:  # (nothing resampled; noise-free
            ci, why[f"{key}_ci95"] = None, NO_SPREAD       # replicated levels keep [x, x])
        if ci is not None:
            out[key] = ci
    return out, why
