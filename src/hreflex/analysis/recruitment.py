"""Recruitment curves: per-intensity pooling, model fits, and the summary measures.

Response models (``s(x) = 1 / (1 + exp(-x))``, intensities I in mA, amplitudes in mV):

- M: Boltzmann ``amp * s((I - i50) / slope)``;
- H: bell, the product of a rising and a falling sigmoid,
  ``amp * s((I - i_rise) / k_rise) * (1 - s((I - i_fall) / k_fall))``, or for an H that
  persists (``RecruitmentConfig.h_model``; "auto": the rat's) a bell whose fall comes after
  its rise and takes away only a fraction ``depth`` of it,
  ``... * (1 - depth * s((I - i_rise - fall_after) / k_fall))``.

An amplitude measured on a noisy sweep never drops to 0: without a response it is the
amplitude of the noise, and near threshold response and noise mix. The fitted curve is
therefore ``floor * e(response(I) / floor)``, ``e`` the channel's noise shape
(:mod:`hreflex.analysis.noise_shape`; the quadrature ``sqrt(response^2 + floor^2)`` without
one), and every summary value
(Mmax, Hmax, thresholds, slopes) is taken from the noise-free ``response``. Fits use the
per-intensity means (weights: the number of sweeps), bounded robust least squares
(soft-L1 loss, :func:`hreflex.analysis.fitting.lm_fit`) and a few data-driven starting points.
Every summary value is either a number or None with a reason in ``reasons`` (see
``docs/METRICS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.fitting import CurveFit, fit_curve
from hreflex.analysis.models import PARAMS, bell, boltzmann, response

__all__ = ["CurveFit", "RecruitmentResult", "bell", "boltzmann", "fit_curve", "recruitment"]

GRID_POINTS = 4001


@dataclass
class RecruitmentResult:
    """Recruitment summary of one channel (amplitudes in the configured measure, mV).

    Per level (L,): ``levels_mA``, ``n``, ``m_mean_mV``, ``m_sd_mV``, ``h_mean_mV``,
    ``h_sd_mV`` (H: of matched amplitudes when ``h_amplitude`` is ``"matched"``,
    :mod:`hreflex.analysis.matched`). Summary values are None when not determinable and
    ``reasons[name]`` then says why; ``*_source`` is ``fit`` or ``pooled``; ``ci95[name]`` =
    (low, high) 95 % interval of the ``INTERVALS`` values (:mod:`hreflex.analysis.intervals`).
    """

    levels_mA: np.ndarray
    n: np.ndarray
    m_mean_mV: np.ndarray
    m_sd_mV: np.ndarray
    h_mean_mV: np.ndarray
    h_sd_mV: np.ndarray
    m_fit: CurveFit | None = None
    h_fit: CurveFit | None = None
    mmax_mV: float | None = None
    mmax_source: str | None = None
    mmax_observed_mV: float | None = None
    plateau_reached: bool | None = None
    hmax_mV: float | None = None
    hmax_source: str | None = None
    hmax_observed_mV: float | None = None
    hmax_mmax: float | None = None
    intensity_at_hmax_mA: float | None = None
    m_at_hmax_pct_mmax: float | None = None
    m_threshold_mA: float | None = None
    h_threshold_mA: float | None = None
    m_slope_mV_per_mA: float | None = None
    h_slope_mV_per_mA: float | None = None
    threshold_method: str = "fraction"
    h_amplitude: str = "measure"
    reasons: dict[str, str] = field(default_factory=dict)
    ci95: dict[str, tuple[float, float]] = field(default_factory=dict)

    SUMMARY = ("mmax_mV", "mmax_observed_mV", "hmax_mV", "hmax_observed_mV", "hmax_mmax",
               "intensity_at_hmax_mA", "m_at_hmax_pct_mmax", "m_threshold_mA",
               "h_threshold_mA", "m_slope_mV_per_mA", "h_slope_mV_per_mA")
    #: the values that get a 95 % interval in ``ci95``
    INTERVALS = ("mmax_mV", "hmax_mV", "hmax_mmax", "m_threshold_mA", "h_threshold_mA")


def first_crossing(grid: np.ndarray, curves: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Lowest grid intensity where each curve (B, G) reaches its ``level`` (B,), linearly
    interpolated; NaN where it never does (or the level is NaN)."""
    above = curves >= level[:, None]
    k = np.argmax(above, axis=1)
    rows = np.arange(curves.shape[0])
    a, b = curves[rows, np.maximum(k - 1, 0)], curves[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(b > a, (level - a) / (b - a), 0.0)
    x = np.where(k == 0, grid[0], grid[np.maximum(k - 1, 0)] + frac * (grid[k]
                                                                        - grid[k - 1]))
    return np.where(above.any(axis=1), x, np.nan)


def curve_values(model: str, params: np.ndarray, grid: np.ndarray, tested: np.ndarray,
                 plateau_fraction: float, slopes: bool = True) -> dict[str, np.ndarray]:
    """Summary values of fitted curves, one per row of ``params`` (B, k) (floor first).

    M (``boltzmann``): ``max`` = the asymptote where the fitted M at the top of the grid is
    at least ``plateau_fraction`` of it (NaN otherwise), ``plateau`` (bool), ``slope``;
    H (``bell``, ``persistent``): ``max`` over the tested grid, ``at`` its intensity,
    ``slope`` on the rising limb. Always ``curve`` (B, G) and ``top`` (the curve's maximum over ``tested``);
    ``slope`` only with ``slopes`` (the bootstrap has no use for it).
    """
    curve = response(model, grid, params[:, 1:])
    in_range = np.where(tested, curve, -np.inf)
    top = np.max(in_range, axis=1)
    grad = np.gradient(curve, grid, axis=1) if slopes else None
    if model == "boltzmann":
        asym = params[:, 1]
        plateau = curve[:, -1] >= plateau_fraction * asym
        out = {"curve": curve, "top": top, "max": np.where(plateau, asym, np.nan),
               "plateau": plateau}
        if grad is not None:
            out["slope"] = grad.max(axis=1)
        return out
    k = np.argmax(in_range, axis=1)
    out = {"curve": curve, "top": top, "max": curve[np.arange(k.size), k], "at": grid[k]}
    if grad is not None:
        rising = np.arange(grid.size)[None, :] <= k[:, None]
        out["slope"] = np.max(np.where(rising, grad, -np.inf), axis=1)
    return out


def threshold_levels(cfg: RecruitmentConfig, top: np.ndarray, mmax: np.ndarray,
                     noise_p2p_mV: float, wave: str) -> np.ndarray:
    """(B,) response level that defines the ``wave`` ("m"/"h") threshold
    (``docs/METRICS.md``, step 6). ``fraction``: of the curve's own maximum, which for M is
    Mmax (its asymptote) where known, else the top of the fitted curve over the tested range."""
    if cfg.threshold_method == "fraction":
        if wave == "m":
            top = np.where(np.isfinite(mmax), mmax, top)
        return cfg.threshold * top
    if cfg.threshold_method == "mmax":
        return cfg.threshold * mmax
    return np.full(top.shape, cfg.threshold * noise_p2p_mV)


Stats = tuple[np.ndarray, np.ndarray, np.ndarray]  # mean, sd, n per level (L,)


def _fit(model: str, levels_mA: np.ndarray, stats: Stats, cfg: RecruitmentConfig,
         given: CurveFit | str | None = None) -> tuple[CurveFit | None, str | None]:
    """(fit or None, reason when there is no acceptable fit); ``given``: the
    :func:`fit_curve` of these stats made already (see :func:`fits_needed`)."""
    used = stats[2] > 0
    if used.sum() < 2:
        return None, ("no usable sweep" if not used.any() else
                      f"one intensity only ({levels_mA[used][0]:g} mA): no recruitment curve")
    fit = given if given is not None else fit_curve(model, levels_mA, stats[0], stats[2],
                                                    cfg.min_r2)
    if isinstance(fit, str):
        return None, fit
    wave = "M" if model == "boltzmann" else "H"
    return fit, None if fit.acceptable else f"{wave} fit not acceptable (R² {fit.r2:.2f})"


def fits_needed(stats: Stats | None) -> bool:
    """Whether :func:`recruitment` fits a curve to these stats (at least 2 levels used)."""
    return stats is not None and int((stats[2] > 0).sum()) >= 2


def _params(fit: CurveFit) -> np.ndarray:
    return np.array([fit.params[k] for k in PARAMS[fit.model]])[None, :]


def intensity_grid(levels_mA: np.ndarray, n: np.ndarray, points: int = GRID_POINTS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The intensity grid 0..top tested level (``points`` points), and which grid points
    lie in the tested range: from the lowest stimulated level (> 0 mA; a 0 mA level is the
    unstimulated baseline and tests no intensity) to the top one."""
    x_hi = float(levels_mA[n > 0].max()) if (n > 0).any() else 0.0
    x_lo = float(tested_levels(levels_mA, n).min(initial=x_hi))
    grid = np.linspace(0.0, x_hi, points)
    return grid, grid >= x_lo


def tested_levels(levels_mA: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The stimulated levels (> 0 mA) that hold sweeps."""
    return levels_mA[(n > 0) & (levels_mA > 0)]


def below_tested(r: RecruitmentResult) -> list[str]:
    """One message per threshold below the lowest tested intensity: the curve was already
    above its threshold level there, so the value is the fitted curve's extrapolation."""
    tested = tested_levels(r.levels_mA, r.n)
    out = []
    for wave in ("m", "h"):
        value = getattr(r, f"{wave}_threshold_mA")
        if value is not None and tested.size and value < float(tested.min()) - 1e-9:
            out.append(f"{wave.upper()} threshold {value:.3g} mA is below the lowest tested "
                       f"intensity ({float(tested.min()):g} mA): extrapolated from the fitted "
                       "curve")
    return out


def pooled_mmax(means: np.ndarray, plateau_fraction: float) -> np.ndarray:
    """(B,) largest level mean where the pooled means (B, L; NaN = no sweep) show a plateau:
    two levels at ``plateau_fraction`` of the largest, the highest level among them."""
    top = np.nanmax(means, axis=1)
    used = np.isfinite(means)
    big = used & (means >= plateau_fraction * top[:, None])
    last = used.shape[1] - 1 - np.argmax(used[:, ::-1], axis=1)
    ok = (big.sum(axis=1) >= 2) & big[np.arange(means.shape[0]), last] & (top > 0)
    return np.where(ok, top, np.nan)


def _m_values(r: RecruitmentResult, m_stats: Stats | None, cfg: RecruitmentConfig,
              grid: np.ndarray, tested: np.ndarray, missing: str,
              given: CurveFit | str | None = None) -> dict | None:
    """Mmax (the Boltzmann asymptote when it is reached, else a pooled plateau) and the M
    slope into ``r``; the fitted curve's values (None without an acceptable fit)."""
    why, x_hi = r.reasons, float(grid[-1])
    if m_stats is None:
        for key in ("mmax_mV", "m_slope_mV_per_mA", "m_threshold_mA"):
            why[key] = missing
        return None
    r.m_fit, reason = _fit("boltzmann", r.levels_mA, m_stats, cfg, given)
    if reason is not None:
        used = m_stats[2] > 0
        pooled = pooled_mmax(np.where(used, r.m_mean_mV, np.nan)[None, :],
                             cfg.plateau_fraction)[0] if used.any() else np.nan
        r.plateau_reached = bool(np.isfinite(pooled))
        if r.plateau_reached:
            r.mmax_mV, r.mmax_source = float(pooled), "pooled"
        else:
            why["mmax_mV"] = (reason if used.sum() < 2
                              else f"{reason}; the pooled means show no plateau")
        why["m_slope_mV_per_mA"] = reason
        return None
    values = curve_values("boltzmann", _params(r.m_fit), grid, tested, cfg.plateau_fraction)
    r.plateau_reached = bool(values["plateau"][0])
    asym = r.m_fit.params["amp_mV"]
    if r.plateau_reached:
        r.mmax_mV, r.mmax_source = asym, "fit"
    else:
        why["mmax_mV"] = (f"M did not reach a plateau: the fitted M at {x_hi:g} mA is "
                          f"{100 * float(r.m_fit(x_hi)) / max(asym, 1e-12):.0f} % of its "
                          "asymptote")
    r.m_slope_mV_per_mA = float(values["slope"][0])
    return values


def _h_values(r: RecruitmentResult, h_stats: Stats | None, cfg: RecruitmentConfig,
              grid: np.ndarray, tested: np.ndarray, missing: str,
              given: CurveFit | str | None = None) -> dict | None:
    """Hmax (the maximum of the H curve over the tested range, else the largest pooled mean),
    where it is and the H slope into ``r``; the fitted curve's values (None without an
    acceptable fit)."""
    why = r.reasons
    if h_stats is None:
        for key in ("hmax_mV", "intensity_at_hmax_mA", "h_threshold_mA", "h_slope_mV_per_mA"):
            why[key] = missing
        return None
    # the pipeline made "auto" the species' model already; called without one: the bell
    r.h_fit, reason = _fit(cfg.for_species(None).h_model, r.levels_mA, h_stats, cfg, given)
    if reason is not None:
        why["h_slope_mV_per_mA"] = reason
        used = h_stats[2] > 0
        if used.sum() >= 3:
            k = int(np.argmax(np.where(used, r.h_mean_mV, -np.inf)))
            r.hmax_mV, r.hmax_source = float(r.h_mean_mV[k]), "pooled"
            r.intensity_at_hmax_mA = float(r.levels_mA[k])
        else:
            why["hmax_mV"] = why["intensity_at_hmax_mA"] = (
                reason if used.sum() < 2
                else f"{reason}; too few intensities to pool ({int(used.sum())} < 3)")
        return None
    values = curve_values(r.h_fit.model, _params(r.h_fit), grid, tested, cfg.plateau_fraction)
    r.hmax_mV, r.hmax_source = float(values["max"][0]), "fit"
    r.intensity_at_hmax_mA = float(values["at"][0])
    r.h_slope_mV_per_mA = float(values["slope"][0])
    return values


def recruitment(levels_mA: np.ndarray, m_stats: Stats | None, h_stats: Stats | None,
                observed: tuple[float | None, float | None], cfg: RecruitmentConfig,
                background_p2p_mV: tuple[float, float] = (float("nan"), float("nan")),
                missing: tuple[str, str] = ("no M window", "no H window"),
                fits: tuple[CurveFit | str | None, CurveFit | str | None] = (None, None)
                ) -> RecruitmentResult:
    """Summarise one channel's recruitment.

    ``m_stats``/``h_stats`` are (mean, sd, n) per level (L,) from
    :func:`hreflex.analysis.pooling.level_stats`, None when the channel has no such window
    (``missing`` says why, for M and H). ``observed`` = (largest single-sweep M, H).
    ``background_p2p_mV`` = noise peak-to-peak in the M and H windows (``background``
    threshold method). ``fits``: the M and H :func:`fit_curve` of these stats when made
    already (e.g. for every channel at once, :func:`~hreflex.analysis.fitting.fit_curves`).
    """
    empty = (np.full(levels_mA.shape, np.nan),) * 2 + (np.zeros(levels_mA.shape, np.int64),)
    m_mean, m_sd, m_n = m_stats or empty
    h_mean, h_sd, h_n = h_stats or empty
    n = np.maximum(m_n, h_n)
    r = RecruitmentResult(levels_mA, n, m_mean, m_sd, h_mean, h_sd,
                          threshold_method=cfg.threshold_method)
    why = r.reasons
    r.mmax_observed_mV, r.hmax_observed_mV = observed
    for key, value, stats, miss in (("mmax_observed_mV", observed[0], m_stats, missing[0]),
                                    ("hmax_observed_mV", observed[1], h_stats, missing[1])):
        if value is None:
            why[key] = miss if stats is None else "no usable sweep"
    grid, tested = intensity_grid(levels_mA, n)
    m_vals = _m_values(r, m_stats, cfg, grid, tested, missing[0], fits[0])
    h_vals = _h_values(r, h_stats, cfg, grid, tested, missing[1], fits[1])

    # -- ratio, M at Hmax, thresholds
    if r.hmax_mV is not None and r.mmax_mV is not None and r.mmax_mV > 0:
        r.hmax_mmax = r.hmax_mV / r.mmax_mV
    else:
        why["hmax_mmax"] = why.get("mmax_mV") or why.get("hmax_mV") or "Mmax is 0"
    if r.intensity_at_hmax_mA is not None and r.mmax_mV is not None and r.mmax_mV > 0:
        m_there = (float(r.m_fit(r.intensity_at_hmax_mA)) if m_vals is not None
                   else float(m_mean[np.argmin(np.abs(levels_mA - r.intensity_at_hmax_mA))]))
        r.m_at_hmax_pct_mmax = 100.0 * m_there / r.mmax_mV
    else:
        why["m_at_hmax_pct_mmax"] = (why.get("intensity_at_hmax_mA") or why.get("mmax_mV")
                                     or "Mmax is 0")
    mmax = np.array([np.nan if r.mmax_mV is None else r.mmax_mV])
    for wave, vals, noise in (("m", m_vals, background_p2p_mV[0]),
                              ("h", h_vals, background_p2p_mV[1])):
        key = f"{wave}_threshold_mA"
        if vals is None:
            why.setdefault(key, why.get(f"{wave}_slope_mV_per_mA", "no acceptable fit"))
            continue
        level = threshold_levels(cfg, vals["top"], mmax, noise, wave)
        value = first_crossing(grid, vals["curve"], level)[0]
        if not np.isfinite(level[0]):  # the level itself is not known
            why[key] = (f"the {cfg.threshold_method} threshold needs "
                        + ("Mmax: " + why.get("mmax_mV", "not determined")
                           if cfg.threshold_method == "mmax" else
                           "the noise amplitude of a pre-stimulus stretch, which the sweeps "
                           "do not have"))
        elif not np.isfinite(value):
            why[key] = (f"the fitted curve never reaches the {cfg.threshold_method} "
                        f"threshold ({level[0]:.3g} mV)")
        setattr(r, key, float(value) if np.isfinite(value) else None)
    return r
