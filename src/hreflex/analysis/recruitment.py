"""Recruitment curves: per-intensity pooling, model fits, and the summary measures.

Response models (``s(x) = 1 / (1 + exp(-x))``, intensities I in mA, amplitudes in mV):

- M: Boltzmann ``amp * s((I - i50) / slope)``;
- H: bell, the product of a rising and a falling sigmoid,
  ``amp * s((I - i_rise) / k_rise) * (1 - s((I - i_fall) / k_fall))``.

An amplitude measured on a noisy sweep never drops to 0: without a response it is the
amplitude of the noise, and near threshold response and noise mix. The fitted curve is
therefore ``sqrt(response(I)^2 + floor^2)`` (:func:`measured`), and every summary value
(Mmax, Hmax, thresholds, slopes) is taken from the noise-free ``response``. Fits use the
per-intensity means (weights: the number of sweeps), bounded robust least squares
(``scipy.optimize.least_squares``, soft-L1 loss) and a few data-driven starting points.
Every summary value is either a number or None with a reason in ``reasons`` (see
``docs/METRICS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from hreflex.analysis.config import RecruitmentConfig

GRID_POINTS = 4001
_PARAMS = {
    "boltzmann": ("floor_mV", "amp_mV", "i50_mA", "slope_mA"),
    "bell": ("floor_mV", "amp_mV", "i_rise_mA", "k_rise_mA", "i_fall_mA", "k_fall_mA"),
}


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def boltzmann(intensity_mA, amp_mV, i50_mA, slope_mA):
    """M response: ``amp * s((I - i50) / slope)`` (mV)."""
    return amp_mV * _sig((np.asarray(intensity_mA) - i50_mA) / slope_mA)


def bell(intensity_mA, amp_mV, i_rise_mA, k_rise_mA, i_fall_mA, k_fall_mA):
    """H response: ``amp * s((I - i_rise) / k_rise) * (1 - s((I - i_fall) / k_fall))`` (mV)."""
    i = np.asarray(intensity_mA)
    return amp_mV * _sig((i - i_rise_mA) / k_rise_mA) * (1.0 - _sig((i - i_fall_mA) / k_fall_mA))


_MODELS = {"boltzmann": boltzmann, "bell": bell}


def measured(model: str, intensity_mA, floor_mV, **params):
    """What an amplitude measure shows: the response and the noise floor in quadrature,
    ``sqrt(response(I)^2 + floor^2)`` (p2p of noise alone is the floor; a large response is
    barely changed by the noise)."""
    return np.hypot(_MODELS[model](intensity_mA, **params), floor_mV)


@dataclass(frozen=True)
class CurveFit:
    """A fitted recruitment model. ``params`` by name (units in the names); ``r2`` and
    ``aic`` on the per-intensity means (weighted by the sweep counts); ``acceptable`` when
    the fit converged and ``r2 >= min_r2``."""

    model: str
    params: dict[str, float]
    r2: float
    aic: float
    acceptable: bool

    def __call__(self, intensity_mA: np.ndarray | float) -> np.ndarray:
        """The noise-free response curve (mV), without the floor."""
        p = {k: v for k, v in self.params.items() if k != "floor_mV"}
        return _MODELS[self.model](intensity_mA, **p)

    def to_dict(self) -> dict:
        return {"model": self.model, "params": self.params, "r2": self.r2, "aic": self.aic,
                "acceptable": self.acceptable}


def _starts(model: str, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    lo, hi = float(y.min()), float(y.max())
    span = max(float(x[-1] - x[0]), 1e-9)
    half = lo + 0.5 * (hi - lo)
    up = x[int(np.argmax(y >= half))]
    if model == "boltzmann":
        return [np.array([lo, hi - lo, up, k * span]) for k in (0.05, 0.15)]
    p = int(np.argmax(y))
    after = np.flatnonzero(y[p:] < half)
    down = x[p + after[0]] if after.size else x[-1] + 0.5 * span
    rise = x[int(np.argmax(y[: p + 1] >= half))]
    return [np.array([lo, (hi - lo) * f, rise, k * span, down, k * span])
            for f in (1.2, 2.0) for k in (0.03, 0.1)]


def _bounds(model: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = max(float(x[-1] - x[0]), 1e-9)
    top = max(float(np.abs(y).max()), 1e-9)
    if model == "boltzmann":
        return (np.array([0.0, 0.0, x[0] - span, span / 500]),
                np.array([top, 3 * top, x[-1] + span, span]))
    return (np.array([0.0, 0.0, x[0] - span, span / 500, x[0] - span, span / 500]),
            np.array([top, 10 * top, x[-1] + span, span, x[-1] + 2 * span, 2 * span]))


def fit_curve(model: str, intensity_mA: np.ndarray, mean_mV: np.ndarray, n: np.ndarray,
              min_r2: float = 0.8) -> CurveFit | str:
    """Fit ``model`` ("boltzmann" or "bell") to per-level means (L,) with counts n (L,).

    Returns a :class:`CurveFit`, or a string saying why no fit was attempted (fewer levels
    than parameters + 1).
    """
    names = _PARAMS[model]
    use = (n > 0) & np.isfinite(mean_mV)
    x, y, w = intensity_mA[use], mean_mV[use], np.sqrt(n[use].astype(float))
    if x.size < len(names) + 1:
        return f"too few intensities for a {model} fit ({x.size} < {len(names) + 1})"
    def f(i, floor, *p):
        return measured(model, i, floor, **dict(zip(names[1:], p, strict=True)))

    lo, hi = _bounds(model, x, y)
    scale = max(0.05 * float(y.max() - y.min()), 1e-6)
    best = None
    for p0 in _starts(model, x, y):
        p0 = np.clip(p0, lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
        res = least_squares(lambda p: w * (f(x, *p) - y), p0, bounds=(lo, hi),
                            loss="soft_l1", f_scale=scale)
        if best is None or res.cost < best.cost:
            best = res
    resid = f(x, *best.x) - y
    ss_res = float(np.sum(w**2 * resid**2))
    ybar = float(np.sum(w**2 * y) / np.sum(w**2))
    ss_tot = float(np.sum(w**2 * (y - ybar) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    aic = float(x.size * np.log(max(ss_res, 1e-300) / x.size) + 2 * len(names))
    ok = bool(best.success and np.isfinite(r2) and r2 >= min_r2)
    return CurveFit(model, dict(zip(names, map(float, best.x), strict=True)), r2, aic, ok)


@dataclass
class RecruitmentResult:
    """Recruitment summary of one channel (amplitudes in the configured measure, mV).

    Per level (L,): ``levels_mA``, ``n``, ``m_mean_mV``, ``m_sd_mV``, ``h_mean_mV``,
    ``h_sd_mV``. Summary values are None when not determinable and ``reasons[name]`` then
    says why; ``*_source`` is ``fit`` or ``pooled``.
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
    reasons: dict[str, str] = field(default_factory=dict)

    SUMMARY = ("mmax_mV", "mmax_observed_mV", "hmax_mV", "hmax_observed_mV", "hmax_mmax",
               "intensity_at_hmax_mA", "m_at_hmax_pct_mmax", "m_threshold_mA",
               "h_threshold_mA", "m_slope_mV_per_mA", "h_slope_mV_per_mA")


def _first_crossing(grid: np.ndarray, curve: np.ndarray, level: float) -> float | None:
    above = curve >= level
    if not above.any():
        return None
    k = int(np.argmax(above))
    if k == 0:
        return float(grid[0])
    a, b = curve[k - 1], curve[k]
    return float(grid[k - 1] + (level - a) / (b - a) * (grid[k] - grid[k - 1]))


def _max_slope(grid: np.ndarray, curve: np.ndarray, stop: int | None = None) -> float:
    return float(np.max(np.gradient(curve, grid)[: None if stop is None else stop + 1]))


Stats = tuple[np.ndarray, np.ndarray, np.ndarray]  # mean, sd, n per level (L,)


def _fit(model: str, levels_mA: np.ndarray, stats: Stats, cfg: RecruitmentConfig
         ) -> tuple[CurveFit | None, str | None]:
    """(fit or None, reason when there is no acceptable fit)."""
    used = stats[2] > 0
    if used.sum() < 2:
        return None, ("no usable sweep" if not used.any() else
                      f"one intensity only ({levels_mA[used][0]:g} mA): no recruitment curve")
    fit = fit_curve(model, levels_mA, stats[0], stats[2], cfg.min_r2)
    if isinstance(fit, str):
        return None, fit
    wave = "M" if model == "boltzmann" else "H"
    return fit, None if fit.acceptable else f"{wave} fit not acceptable (R² {fit.r2:.2f})"


def recruitment(levels_mA: np.ndarray, m_stats: Stats | None, h_stats: Stats | None,
                observed: tuple[float | None, float | None], cfg: RecruitmentConfig,
                background_p2p_mV: tuple[float, float] = (float("nan"), float("nan")),
                missing: tuple[str, str] = ("no M window", "no H window")
                ) -> RecruitmentResult:
    """Summarise one channel's recruitment.

    ``m_stats``/``h_stats`` are (mean, sd, n) per level (L,) from
    :func:`hreflex.analysis.pooling.level_stats`, None when the channel has no such window
    (``missing`` says why, for M and H). ``observed`` = (largest single-sweep M, H).
    ``background_p2p_mV`` = noise peak-to-peak in the M and H windows (``background``
    threshold method).
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
    x_hi = float(levels_mA[n > 0].max()) if (n > 0).any() else 0.0
    x_lo = float(levels_mA[n > 0].min()) if (n > 0).any() else 0.0
    grid = np.linspace(0.0, x_hi, GRID_POINTS)
    tested = grid >= x_lo

    # -- M: asymptote of the Boltzmann when it is reached, else a pooled plateau
    m_curve = None
    if m_stats is None:
        for key in ("mmax_mV", "m_slope_mV_per_mA", "m_threshold_mA"):
            why[key] = missing[0]
    else:
        r.m_fit, m_reason = _fit("boltzmann", levels_mA, m_stats, cfg)
        if m_reason is None:
            m_curve = r.m_fit(grid)
            asym, top = r.m_fit.params["amp_mV"], float(r.m_fit(x_hi))
            r.plateau_reached = top >= cfg.plateau_fraction * asym
            if r.plateau_reached:
                r.mmax_mV, r.mmax_source = asym, "fit"
            else:
                why["mmax_mV"] = (f"M did not reach a plateau: the fitted M at {x_hi:g} mA "
                                  f"is {100 * top / max(asym, 1e-12):.0f} % of its asymptote")
            r.m_slope_mV_per_mA = _max_slope(grid, m_curve)
        else:
            used = m_n > 0
            pooled = m_mean[used]
            big = pooled >= cfg.plateau_fraction * pooled.max() if used.any() else pooled
            r.plateau_reached = bool(big.sum() >= 2 and big[-1] and pooled.max() > 0)
            if r.plateau_reached:
                r.mmax_mV, r.mmax_source = float(pooled.max()), "pooled"
            else:
                why["mmax_mV"] = (m_reason if used.sum() < 2
                                  else f"{m_reason}; the pooled means show no plateau")
            why["m_slope_mV_per_mA"] = m_reason

    # -- H: maximum of the bell over the tested range, else the largest pooled mean
    h_curve = None
    if h_stats is None:
        for key in ("hmax_mV", "intensity_at_hmax_mA", "h_threshold_mA", "h_slope_mV_per_mA"):
            why[key] = missing[1]
    else:
        r.h_fit, h_reason = _fit("bell", levels_mA, h_stats, cfg)
        if h_reason is None:
            h_curve = r.h_fit(grid)
            k = int(np.argmax(np.where(tested, h_curve, -np.inf)))
            r.hmax_mV, r.hmax_source = float(h_curve[k]), "fit"
            r.intensity_at_hmax_mA = float(grid[k])
            r.h_slope_mV_per_mA = _max_slope(grid, h_curve, k)
        else:
            why["h_slope_mV_per_mA"] = h_reason
            used = h_n > 0
            if used.sum() >= 3:
                k = int(np.argmax(np.where(used, h_mean, -np.inf)))
                r.hmax_mV, r.hmax_source = float(h_mean[k]), "pooled"
                r.intensity_at_hmax_mA = float(levels_mA[k])
            else:
                why["hmax_mV"] = why["intensity_at_hmax_mA"] = (
                    h_reason if used.sum() < 2
                    else f"{h_reason}; too few intensities to pool ({int(used.sum())} < 3)")

    # -- ratio, M at Hmax, thresholds
    if r.hmax_mV is not None and r.mmax_mV is not None and r.mmax_mV > 0:
        r.hmax_mmax = r.hmax_mV / r.mmax_mV
    else:
        why["hmax_mmax"] = why.get("mmax_mV") or why.get("hmax_mV") or "Mmax is 0"
    if r.intensity_at_hmax_mA is not None and r.mmax_mV is not None and r.mmax_mV > 0:
        m_there = (float(r.m_fit(r.intensity_at_hmax_mA)) if m_curve is not None
                   else float(m_mean[np.argmin(np.abs(levels_mA - r.intensity_at_hmax_mA))]))
        r.m_at_hmax_pct_mmax = 100.0 * m_there / r.mmax_mV
    else:
        why["m_at_hmax_pct_mmax"] = (why.get("intensity_at_hmax_mA") or why.get("mmax_mV")
                                     or "Mmax is 0")
    for wave, curve, noise in (("m", m_curve, background_p2p_mV[0]),
                               ("h", h_curve, background_p2p_mV[1])):
        key = f"{wave}_threshold_mA"
        if curve is None:
            why.setdefault(key, why.get(f"{wave}_slope_mV_per_mA", "no acceptable fit"))
            continue
        level = {"fraction": cfg.threshold * curve[tested].max(),
                 "mmax": cfg.threshold * (r.mmax_mV if r.mmax_mV is not None else np.nan),
                 "background": cfg.threshold * noise}[cfg.threshold_method]
        value = _first_crossing(grid, curve, level) if np.isfinite(level) else None
        if value is None:
            why[key] = (f"the fitted curve never reaches the {cfg.threshold_method} "
                        f"threshold ({level:.3g} mV)")
        setattr(r, key, value)
    return r
