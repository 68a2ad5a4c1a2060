"""Fitting one recruitment model to per-intensity means (see :mod:`hreflex.analysis.models`).

Bounded robust least squares (soft-L1 loss with f_scale = 5 % of the data range, the
analytic Jacobian of :mod:`hreflex.analysis.models`), weights sqrt(n) per level, by
:func:`lm_fit`, a Levenberg-Marquardt that fits many curves at once: a few data-driven
starting points of every curve are screened together and the most promising polished. The
bootstrap replicates (:mod:`hreflex.analysis.intervals`) are refitted from the point
estimate by the same :func:`lm_fit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hreflex.analysis.models import MODELS, PARAMS, measured_and_jacobian, scale_columns
from hreflex.analysis.noise_shape import ShapeTable, quadrature, table_of


@dataclass(frozen=True)
class CurveFit:
    """A fitted recruitment model. ``params`` by name (units in the names); ``r2`` and
    ``aic`` on the per-intensity means (weighted by the sweep counts); ``acceptable`` when
    the fit converged and ``r2 >= min_r2``; ``shape``: the noise shape the floor was fitted
    with (:mod:`hreflex.analysis.noise_shape`; None = quadrature)."""

    model: str
    params: dict[str, float]
    r2: float
    aic: float
    acceptable: bool
    shape: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __call__(self, intensity_mA: np.ndarray | float) -> np.ndarray:
        """The noise-free response curve (mV), without the floor."""
        p = {k: v for k, v in self.params.items() if k != "floor_mV"}
        return MODELS[self.model](intensity_mA, **p)

    def measured(self, intensity_mA: np.ndarray) -> np.ndarray:
        """The fitted curve with its noise floor: what the level means estimate (mV)."""
        p = np.array([self.params[k] for k in PARAMS[self.model]])[None, :]
        return measured_and_jacobian(self.model, np.asarray(intensity_mA, float), p,
                                     self.table)[0][0]

    @cached_property
    def table(self) -> ShapeTable | None:
        """The noise shape ready to evaluate (None = quadrature)."""
        return table_of(self.shape)

    def to_dict(self) -> dict:
        return {"model": self.model, "params": self.params, "r2": self.r2, "aic": self.aic,
                "acceptable": self.acceptable,
                "noise_shape": "quadrature" if self.shape is None else "measured"}


def _starts(model: str, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    lo, hi = float(y.min()), float(y.max())
    span = max(float(x[-1] - x[0]), 1e-9)
    half = lo + 0.5 * (hi - lo)
    up = x[int(np.argmax(y >= half))]
    if model == "boltzmann":
        return [np.array([lo, hi - lo, up, k * span]) for k in (0.05, 0.15)]
    p = int(np.argmax(y))
    rise = x[int(np.argmax(y[: p + 1] >= half))]
    # the fall: where the means drop halfway to the bottom (bell) or to their end (persistent)
    tail: list[float] = []
    drop = half
    if model == "persistent":
        tail = [float(np.clip((hi - y[-1]) / max(hi - lo, 1e-12), 0.02, 1.0))]  # depth
        drop = hi - 0.5 * tail[0] * (hi - lo)
    after = np.flatnonzero(y[p:] < drop)
    down = x[p + after[0]] if after.size else x[-1] + 0.5 * span
    if model == "persistent":  # the fall's distance after the rise
        down = max(down - rise, 0.0)
    return [np.array([lo, (hi - lo) * f, rise, k * span, down, k * span, *tail])
            for f in (1.2, 2.0) for k in (0.03, 0.1)]


def fit_setup(model: str, x: np.ndarray, y: np.ndarray
              ) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """``((lower, upper) bounds, soft-L1 f_scale)`` of a fit to means ``y`` at ``x``."""
    return _bounds(model, x, y), max(0.05 * float(y.max() - y.min()), 1e-6)


def _bounds(model: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = max(float(x[-1] - x[0]), 1e-9)
    top = max(float(np.abs(y).max()), 1e-9)
    if model == "boltzmann":
        return (np.array([0.0, 0.0, x[0] - span, span / 500]),
                np.array([top, 3 * top, x[-1] + span, span]))
    lo = [0.0, 0.0, x[0] - span, span / 500, x[0] - span, span / 500]
    hi = [top, 10 * top, x[-1] + span, span, x[-1] + 2 * span, 2 * span]
    if model == "persistent":  # the fall after the rise; depth
        lo, hi = lo + [0.0], hi + [1.0]
        lo[4], hi[4], lo[5] = 0.0, 3 * span, span / 20
    return np.array(lo), np.array(hi)


#: relative change of the cost or the parameters in a step below which a fit has converged
#: (scipy's least_squares ftol and xtol)
TOL = 1e-8
#: Levenberg-Marquardt steps every start gets; the POLISHED most promising starts are then
#: fitted to convergence
SCREEN_ITERATIONS = 30
POLISHED = 2
POLISH_ITERATIONS = 400


def lm_fit(model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, p0: np.ndarray,
           bounds: tuple[np.ndarray, np.ndarray], f_scale: float | np.ndarray,
           iterations: int = 100, shape: ShapeTable | None = None, tol: float = TOL
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the measured curve of ``model`` (:func:`~hreflex.analysis.models.
    measured_and_jacobian`) at intensities ``x`` (L,) to every row of ``y`` (B, L), weights
    ``w`` (L,) or (B, L), from starts ``p0`` (B, k): Levenberg-Marquardt (Marquardt's
    diagonal damping) on the soft-L1 loss with ``f_scale`` (a number, or (B, 1))
    (re-weighted least squares), parameters kept inside ``bounds`` ((k,) or (B, k) each),
    analytic Jacobian, all rows at once; ``shape``: the noise shape(s) of
    :func:`~hreflex.analysis.models.measured_and_jacobian` (one, or one per row).

    The damping follows Nielsen's rule (a step that gains what its quadratic model predicts
    divides it by 3, a refused one multiplies it by 2, 4, 8, ...). A row stops once
    converged: a step changed its cost by less than ``tol`` of it or its parameters by less
    than ``tol`` (relative), or no step helps any more. Returns ``(params (B, k), cost (B,),
    converged (B,))``: the soft-L1 cost ``sum 2 (sqrt(1 + (r / f_scale)^2) - 1)`` of the
    weighted residuals r, and whether the row converged within ``iterations`` steps."""
    lo, hi = bounds
    # starts are kept a little inside the bounds: at the floor's bound 0, hypot(s, floor)
    # has no slope in the floor, and a step from 1e-12 of the range is all noise and refused
    inset = 1e-4 * (hi - lo)
    p = np.clip(np.array(p0, dtype=np.float64), lo + inset, hi - inset)
    y = np.broadcast_to(y, (p.shape[0], x.size))
    damping, grow = np.full(p.shape[0], 1e-3), np.full(p.shape[0], 2.0)
    diag = np.arange(p.shape[1])
    # the result, each row written when it leaves the batch (or at the end)
    out_p, out_cost, out_conv = np.empty_like(p), np.empty(p.shape[0]), np.empty(p.shape[0], bool)
    rows = np.arange(p.shape[0])  # the rows of the result still being iterated

    def evaluate(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m, jac = measured_and_jacobian(model, x, params, shape)
        r = w * (m - y)
        q = np.sqrt(1 + (r / f_scale) ** 2)
        return 2 * (q.sum(axis=1) - q.shape[1]), r, q, jac

    cost, r, q, jac = evaluate(p)
    converged = np.zeros(p.shape[0], bool)
    for _ in range(iterations):
        rw = 1 / np.sqrt(q)  # IRLS weights of soft-L1
        jw = scale_columns(jac, w * rw)
        jt = jw.transpose(0, 2, 1)
        a = jt @ jw
        g = (jt @ (rw * r)[..., None])[..., 0]
        # a parameter on a bound that the descent pushes outwards is held there (projected
        # LM): without this, clipped steps stall the other parameters short of the optimum
        held = ((p <= lo) & (g > 0)) | ((p >= hi) & (g < 0))
        if held.any():
            free = ~held
            a *= free[:, :, None] & free[:, None, :]
            a[:, diag, diag] += held
            g *= free
        d = a[:, diag, diag]  # Marquardt: damp each parameter by its own curvature
        scale_d = d + 1e-12 * d.sum(axis=1)[:, None]  # what the damping multiplies
        a[:, diag, diag] = d + damping[:, None] * scale_d + 1e-300
        step = _solve(a, g)
        trial = np.clip(p - step, lo, hi)
        c_new, r_new, q_new, jac_new = evaluate(trial)
        gain = cost - c_new
        better = gain > 0
        # the gain the step's quadratic model predicts, in the cost's units (the soft-L1
        # cost is the IRLS sum of squares x 2 / f_scale^2 near the optimum)
        predicted = (np.einsum("bk,bk->b", step, g)
                     + damping * np.einsum("bk,bk->b", scale_d, step**2)
                     ) / np.square(f_scale).ravel()
        small = (np.abs(trial - p) <= tol * (np.abs(p) + tol)).all(axis=1)
        tiny = (gain <= tol * np.maximum(cost, 1e-300)) | small
        # done: a step that changes next to nothing, or none helps any more
        converged |= (better & tiny) | (~better & (small | (damping > 1e6)))
        if better.any():
            col = better[:, None]
            np.copyto(p, trial, where=col)
            np.copyto(r, r_new, where=col)
            np.copyto(q, q_new, where=col)
            np.copyto(jac, jac_new, where=col[..., None])
            cost = np.where(better, c_new, cost)
        # Nielsen's update: a step that gains as predicted (ratio 1) divides the damping by
        # 3, one that gains little keeps it, a refused one multiplies it by 2, 4, 8, ...
        ratio = np.clip(gain / np.maximum(predicted, 1e-300), 0.0, 1.0)  # (>= 1: all the 1/3)
        damping = np.where(better, damping * np.maximum(1 / 3, 1 - (2 * ratio - 1) ** 3),
                           damping * grow)
        grow = np.where(better, 2.0, 2 * grow)
        if converged.all():
            break
        if 4 * converged.sum() >= converged.size:  # a quarter done: go on with the rest only
            out_p[rows], out_cost[rows], out_conv[rows] = p, cost, converged
            go = ~converged
            rows, p, cost, r, q, jac, damping, grow, converged = (
                v[go] for v in (rows, p, cost, r, q, jac, damping, grow, converged))
            y, w, f_scale, lo, hi = (_rows_of(v, go) for v in (y, w, f_scale, lo, hi))
            if shape is not None and shape.value.ndim > 1:
                shape = shape.take(go)
    out_p[rows], out_cost[rows], out_conv[rows] = p, cost, converged
    bad = ~np.isfinite(out_cost)
    out_p[bad] = np.nan
    return out_p, out_cost, out_conv & ~bad


def _rows_of(a: np.ndarray | float, go: np.ndarray) -> np.ndarray | float:
    """Rows ``go`` of a per-row (B, ...) argument of :func:`lm_fit`; a shared one as it is."""
    return a[go] if isinstance(a, np.ndarray) and a.ndim == 2 else a


def _solve(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``a^-1 g`` of every row ((B, k, k), (B, k)); where a row's ``a`` is singular (a
    parameter that no longer changes the curve at all), the least-squares step of all."""
    try:
        return np.linalg.solve(a, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(a) @ g[..., None])[..., 0]


def fit_curve(model: str, intensity_mA: np.ndarray, mean_mV: np.ndarray, n: np.ndarray,
              min_r2: float = 0.8, shape: np.ndarray | None = None) -> CurveFit | str:
    """Fit ``model`` (a key of :data:`~hreflex.analysis.models.PARAMS`) to per-level means
    (L,) with counts n (L,): :func:`fit_curves` of one curve."""
    return fit_curves(model, intensity_mA, mean_mV[None, :], n[None, :], min_r2,
                      None if shape is None else [shape])[0]


def fit_curves(model: str, intensity_mA: np.ndarray, mean_mV: np.ndarray, n: np.ndarray,
               min_r2: float = 0.8, shapes: list[np.ndarray | None] | None = None
               ) -> list[CurveFit | str]:
    """Fit ``model`` to every row of per-level means (C, L) with counts n (C, L) at the
    levels ``intensity_mA`` (L,) (e.g. every channel of a session), all at once: every start
    of ``_starts`` takes ``SCREEN_ITERATIONS`` batched steps of :func:`lm_fit`, then the
    ``POLISHED`` ones of each curve that got furthest are run on to convergence
    (``POLISH_ITERATIONS`` at most) and the lowest cost is kept. A level without sweeps
    weighs 0. ``acceptable`` needs convergence. ``shapes``: each row's noise shape (None in
    the list or for all: quadrature).

    Returns one :class:`CurveFit` per row, or a string saying why no fit was attempted
    (fewer levels than parameters + 1).
    """
    names = PARAMS[model]
    use = (n > 0) & np.isfinite(mean_mV)
    out: list[CurveFit | str] = [
        f"too few intensities for a {model} fit ({u.sum()} < {len(names) + 1})" for u in use]
    rows = [c for c in range(use.shape[0]) if use[c].sum() >= len(names) + 1]
    if not rows:
        return out
    setups = [fit_setup(model, intensity_mA[use[c]], mean_mV[c, use[c]]) for c in rows]
    starts = [np.array(_starts(model, intensity_mA[use[c]], mean_mV[c, use[c]])) for c in rows]
    n_st = starts[0].shape[0]
    y = np.where(use, mean_mV, 0.0)[rows]
    w = np.where(use, np.sqrt(np.maximum(n, 0).astype(float)), 0.0)[rows]
    shapes = shapes if shapes is not None else [None] * use.shape[0]
    table = (ShapeTable.of(np.array([quadrature() if shapes[c] is None else shapes[c]
                                     for c in rows]))
             if any(shapes[c] is not None for c in rows) else None)

    def batch(k: int, p0: np.ndarray, iterations: int) -> tuple[np.ndarray, ...]:
        """lm_fit of ``k`` starts per curve (rows grouped by curve)."""
        lo, hi = (np.repeat([b[i] for b, _ in setups], k, axis=0) for i in (0, 1))
        scale = np.repeat([[sc] for _, sc in setups], k, axis=0)
        return lm_fit(model, intensity_mA, np.repeat(y, k, axis=0), np.repeat(w, k, axis=0),
                      p0, (lo, hi), scale, iterations=iterations,
                      shape=None if table is None
                      else table.take(np.repeat(np.arange(len(rows)), k)))

    all_starts = np.concatenate(starts)
    screened, cost, conv = batch(n_st, all_starts, SCREEN_ITERATIONS)
    cost = np.where(np.isfinite(cost), cost, np.inf).reshape(len(rows), n_st)
    pick = np.argsort(cost, axis=1)[:, :POLISHED] + n_st * np.arange(len(rows))[:, None]
    pick = pick.ravel()
    p0 = np.where(np.isfinite(screened[pick]), screened[pick], all_starts[pick])
    polished, cost, conv = p0, cost.ravel()[pick], conv[pick]
    if not conv.all():  # (converged ones would stop at once)
        polished, cost, conv = batch(POLISHED, p0, POLISH_ITERATIONS)
    for i, c in enumerate(rows):
        part = slice(i * POLISHED, (i + 1) * POLISHED)
        k = int(np.argmin(np.where(np.isfinite(cost[part]), cost[part], np.inf)))
        best = (polished[part][k] if np.isfinite(cost[part][k]) else p0[part][k])
        out[c] = _curve_fit(model, intensity_mA[use[c]], mean_mV[c, use[c]],
                            np.sqrt(n[c, use[c]].astype(float)), best,
                            bool(conv[part][k]), min_r2, shapes[c],
                            None if table is None else table.take(i))
    return out


def _curve_fit(model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, best: np.ndarray,
               converged: bool, min_r2: float, shape: np.ndarray | None = None,
               table: ShapeTable | None = None) -> CurveFit:
    """The :class:`CurveFit` of parameters ``best`` to means ``y`` at ``x``, weights ``w``:
    weighted R², AIC, acceptable (converged and R² >= ``min_r2``); ``table``: ``shape``'s
    :class:`ShapeTable` when already made."""
    names = PARAMS[model]
    table = table if table is not None else table_of(shape)
    resid = measured_and_jacobian(model, x, best, table)[0] - y
    ss_res = float(np.sum(w**2 * resid**2))
    ybar = float(np.sum(w**2 * y) / np.sum(w**2))
    ss_tot = float(np.sum(w**2 * (y - ybar) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    aic = float(x.size * np.log(max(ss_res, 1e-300) / x.size) + 2 * len(names))
    ok = bool(converged and np.isfinite(r2) and r2 >= min_r2)
    return CurveFit(model, dict(zip(names, map(float, best), strict=True)), r2, aic, ok, shape)
