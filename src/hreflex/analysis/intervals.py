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
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.bootstrap import N_BOOT, SEED, percentile_interval, resampled_means
from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.fitting import CurveFit, fit_setup, lm_fit
from hreflex.analysis.models import PARAMS
from hreflex.analysis.noise_shape import table_of
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
#: the replicates start at the point estimate, a few steps reach their optimum
REFIT_ITERATIONS = 6


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


def _refit(fit: CurveFit, levels_mA: np.ndarray, point_mean: np.ndarray, sd: np.ndarray,
           n: np.ndarray, boot: np.ndarray) -> np.ndarray:
    """(B, k) parameters of ``fit``'s model refitted to every replicate (B, L), the
    replicates' deviations scaled by sqrt(:func:`lack_of_fit`)."""
    use = (n > 0) & np.isfinite(point_mean)
    x, w = levels_mA[use], np.sqrt(n[use].astype(float))
    bounds, scale = fit_setup(fit.model, x, point_mean[use])
    p0 = np.array([fit.params[k] for k in PARAMS[fit.model]])
    inflate = np.sqrt(lack_of_fit(fit, levels_mA, point_mean, sd, n))
    y = point_mean[use] + inflate * (boot[:, use] - point_mean[use])
    y = np.where(np.isfinite(y), y, point_mean[use])
    params, _, _ = lm_fit(fit.model, x, y, w, np.broadcast_to(p0, (y.shape[0], p0.size)),
                          bounds, scale, iterations=REFIT_ITERATIONS,
                          shape=table_of(fit.shape))
    return params


def recruitment_intervals(r: RecruitmentResult, level: np.ndarray, m_amp: np.ndarray | None,
                          h_amp: np.ndarray | None, cfg: RecruitmentConfig,
                          floor_mV: tuple[float, float], n_boot: int = N_BOOT
                          ) -> dict[str, tuple[float, float]]:
    """95 % intervals of ``mmax_mV``, ``hmax_mV``, ``hmax_mmax``, ``m_threshold_mA`` and
    ``h_threshold_mA`` (those with a point estimate).

    ``level`` (n,): each included sweep's level (-1 = not used); ``m_amp``/``h_amp`` (n,)
    their amplitudes (None: no such window); ``floor_mV``: the noise amplitude of the M and
    H windows (``background`` thresholds)."""
    rng = np.random.default_rng(SEED)
    n_lv = r.levels_mA.size
    grid, tested = intensity_grid(r.levels_mA, r.n, BOOT_GRID_POINTS)
    have = [(key, amp) for key, amp in (("m", m_amp), ("h", h_amp)) if amp is not None]
    boot = {"m": None, "h": None}
    if have:  # the same resampled sweeps for M and H
        both = np.stack([amp for _, amp in have], axis=1)
        means = resampled_means(both, level, n_lv, rng, n_boot)
        boot.update({key: means[..., i] for i, (key, _) in enumerate(have)})
    mmax = np.full(n_boot, np.nan)
    values: dict[str, np.ndarray] = {}
    curves = {}
    if boot["m"] is not None and r.mmax_mV is not None:
        if r.mmax_source == "fit":
            mv = curve_values("boltzmann", _refit(r.m_fit, r.levels_mA, r.m_mean_mV,
                                                  r.m_sd_mV, r.n, boot["m"]),
                              grid, tested, cfg.plateau_fraction, slopes=False)
            mmax, curves["m"] = mv["max"], mv
        else:
            mmax = pooled_mmax(boot["m"], cfg.plateau_fraction)
        values["mmax_mV"] = mmax
    if boot["h"] is not None and r.hmax_mV is not None:
        if r.hmax_source == "fit":
            hv = curve_values(r.h_fit.model, _refit(r.h_fit, r.levels_mA, r.h_mean_mV, r.h_sd_mV,
                                            r.n, boot["h"]), grid, tested,
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
    out = {}
    for key, samples in values.items():
        ci = percentile_interval(samples)
        if ci is not None:
            out[key] = ci
    return out
