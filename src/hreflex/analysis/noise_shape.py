"""How an amplitude measure reads a response in a channel's own noise (``docs/METRICS.md``,
step 6, "Noise floor").

A peak-to-peak (or area, RMS) taken on a noisy sweep is larger than the response's own: noise
alone reads the *floor* F, and a response of size S reads ``E(S) = F e(S / F)``. For white
noise and the p2p, ``e(x) = sqrt(1 + x^2)`` is the usual approximation, but it is only right
at the two ends: between them (a response of 1-10 x the floor) the largest noise excursion
near the peak and the trough adds more, by up to 0.2 F, and it fades slowly.

:func:`noise_shape` measures ``e`` for one channel and window: the wave's own template (the
mean of its large sweeps, scaled to each size S) is added to the channel's pre-stimulus
stretches of the window's length (its real noise, with its colour), the measure is taken, and
the mean over the stretches, divided by the floor, is ``e`` at ``x = S / F``, on the fixed
nodes :data:`X_NODES`. A :class:`ShapeTable` evaluates ``e`` and ``de/dx`` for any number of
channels at once (cubic Hermite on the nodes, a shift of ``x`` beyond the last);
:func:`net_of_floor` takes a mean back to the response it estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hreflex.analysis.measures import amplitude

#: nodes of ``e``: x = S / F from 0 to 64, evenly spaced in log(1 + x)
U_NODES = np.linspace(0.0, np.log1p(64.0), 49)
X_NODES = np.expm1(U_NODES)
#: pre-stimulus stretches used at most (evenly spread over the included sweeps) and at least
MAX_STRETCHES = 64
MIN_STRETCHES = 16


def noise_shape(data_V: np.ndarray, time_ms: np.ndarray, span: tuple[int, int],
                template_sweeps: np.ndarray, include: np.ndarray,
                background_ms: tuple[float, float], measure: str, floor: float
                ) -> np.ndarray | None:
    """``e`` at :data:`X_NODES` (49,) for one channel's window.

    ``data_V`` (n_sweeps, n_samples) the channel's sweeps, ``span`` the window's sample range
    ``[a, b)``, ``template_sweeps`` (n_sweeps,) bool: the sweeps whose mean is the wave's
    shape, ``include`` (n_sweeps,): the sweeps whose pre-stimulus stretches (the last ``b - a``
    samples before ``background_ms[1]``, none before ``background_ms[0]``) are the noise;
    ``floor`` (mV or mV·ms): the measure's floor F. None (use the quadrature) without enough
    stretches, a template or a positive floor, or where a sample is not finite."""
    a, b = span
    k = b - a
    end = int(np.searchsorted(time_ms, background_ms[1]))
    first = int(np.searchsorted(time_ms, background_ms[0] - 1e-9))
    rows = np.flatnonzero(include)
    if not (floor > 0) or end - k < first or rows.size < MIN_STRETCHES or not template_sweeps.any():
        return None
    rows = rows[np.linspace(0, rows.size - 1, min(rows.size, MAX_STRETCHES)).astype(int)]
    noise = data_V[rows, end - k:end].astype(np.float32)  # (float32: half the traffic)
    template = data_V[template_sweeps, a:b].mean(axis=0, dtype=np.float64)
    dt_ms = float(time_ms[1] - time_ms[0])
    size = float(amplitude(template, dt_ms, measure))
    if not (size > 0):
        return None
    scale_V = X_NODES * floor / size  # template x scale has the measure x F
    waves = (scale_V[:, None] * template[None, :]).astype(np.float32)
    trials = waves[:, None, :] + noise[None, :, :]
    e = amplitude(trials, dt_ms, measure).mean(axis=1) / floor
    return np.maximum.accumulate(e) if np.isfinite(e).all() else None


def quadrature() -> np.ndarray:
    """``e(x) = sqrt(1 + x^2)`` at :data:`X_NODES`: the shape where none is measured."""
    return np.hypot(X_NODES, 1.0)


def _slopes(e: np.ndarray) -> np.ndarray:
    """de/du at the nodes (..., G): centred differences; 0 at x = 0 (a response of either
    sign reads alike: ``e`` is even), 1 + x (de/dx = 1) at the last node, as beyond it."""
    m = np.empty(e.shape)
    m[..., 1:-1] = (e[..., 2:] - e[..., :-2]) / (2 * (U_NODES[1] - U_NODES[0]))
    m[..., 0] = 0.0
    m[..., -1] = 1.0 + X_NODES[-1]
    return m


def _cubics(e: np.ndarray) -> np.ndarray:
    """Per interval of the nodes, the cubic Hermite polynomial of ``e`` (..., G) in the
    interval's own t = (u - u_i) / du in [0, 1]: coefficients (..., G - 1, 4) of 1, t, t², t³."""
    du = U_NODES[1] - U_NODES[0]
    m = _slopes(e) * du
    v0, v1, m0, m1 = e[..., :-1], e[..., 1:], m[..., :-1], m[..., 1:]
    return np.stack([v0, m0, 3 * (v1 - v0) - 2 * m0 - m1, 2 * (v0 - v1) + m0 + m1], axis=-1)


def _hermite(e: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``e`` (..., G) and de/dx at u = log(1 + x) (D,) in [0, u_G]: cubic Hermite."""
    du = U_NODES[1] - U_NODES[0]
    pos = u / du
    i = np.minimum(pos.astype(np.int64), U_NODES.size - 2)
    t = pos - i
    c0, c1, c2, c3 = np.moveaxis(_cubics(e)[..., i, :], -1, 0)
    value = c0 + t * (c1 + t * (c2 + t * c3))
    return value, (c1 + t * (2 * c2 + 3 * t * c3)) / (du * np.exp(u))


#: the dense grid in w = sqrt(x) on which a :class:`ShapeTable` holds ``e`` and de/dx (even
#: in w: fine near 0, where ``e`` bends most; a square root is cheap to take)
W_DENSE = np.linspace(0.0, np.sqrt(X_NODES[-1]), 1025)


@dataclass(frozen=True)
class ShapeTable:
    """A shape ``e`` (or one per row) ready to evaluate, on the even grid w = sqrt(x)
    :data:`W_DENSE`: ``grad`` = de/dw at the grid points (the cubic Hermite's) and ``value``
    = e there, integrated from e(0) by the trapezoid rule, so that between grid points e is
    the quadratic whose derivative is the linear interpolation of ``grad``: value and
    derivative agree exactly (a fit's Levenberg-Marquardt converges as on a closed form).
    (D,) or (B, D) each."""

    value: np.ndarray
    grad: np.ndarray

    @classmethod
    def of(cls, e: np.ndarray) -> ShapeTable:
        """The table of ``e`` (G,) or (B, G) at :data:`X_NODES`."""
        value, slope = _hermite(np.asarray(e, dtype=np.float64), np.log1p(W_DENSE**2))
        grad = 2 * W_DENSE * slope
        steps = 0.5 * (W_DENSE[1] - W_DENSE[0]) * (grad[..., 1:] + grad[..., :-1])
        start = value[..., :1]
        value = np.concatenate([start, start + np.cumsum(steps, axis=-1)], axis=-1)
        # C order: evaluation flattens them (the Hermite's arithmetic leaves them in F order)
        return cls(np.ascontiguousarray(value), np.ascontiguousarray(grad))

    @cached_property
    def _row_starts(self) -> np.ndarray:
        """(B, 1): where each row of a (B, D) table starts in the flattened table."""
        return self.value.shape[-1] * np.arange(self.value.shape[0])[:, None]

    def take(self, rows: np.ndarray) -> ShapeTable:
        """The table of rows ``rows`` (indices) of a (B, D) table."""
        return ShapeTable(self.value[rows], self.grad[rows])

    def slope(self) -> np.ndarray:
        """de/dx at the grid points (0 at x = 0)."""
        return self.grad / (2 * np.maximum(W_DENSE, W_DENSE[1]))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``e(x)`` and ``de/dx`` at responses over floor ``x`` (..., L) >= 0 (rows of a
        (B, D) table against ``x`` (B, L)); beyond the last node ``e(x_G) + x - x_G``,
        slope 1."""
        d, step = W_DENSE.size, W_DENSE[1] - W_DENSE[0]
        w = np.sqrt(np.minimum(x, X_NODES[-1]))
        pos = w / step
        i = np.minimum(pos.astype(np.int64), d - 2)
        t = pos - i
        if self.value.ndim > 1:  # row b's entries start at b * D of the flattened table
            i = i + self._row_starts
        v, g = self.value.ravel(), self.grad.ravel()
        g0 = g[i]
        dg = g[i + 1] - g0
        # beyond the last node (w clipped to it, where de/dx is 1): a shift of x
        value = v[i] + step * t * (g0 + 0.5 * t * dg) + np.maximum(x - X_NODES[-1], 0.0)
        return value, (g0 + t * dg) / (2 * np.maximum(w, 1e-150))


def table_of(e: np.ndarray | None) -> ShapeTable | None:
    """:meth:`ShapeTable.of` a measured shape; None (the quadrature) for None."""
    return None if e is None else ShapeTable.of(e)


def net_of_floor(mean: np.ndarray, floor: float, e: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean amplitudes (any shape) taken back to the responses they estimate, and the
    derivative of that with respect to the mean: the response S whose reading ``F e(S / F)``
    is the mean (0 at or below ``F e(0)``), F = ``floor``; without a measured shape ``e``,
    the quadrature ``sqrt(max(mean^2 - F^2, 0))``. Unchanged (derivative 1) for a NaN
    floor."""
    mean = np.asarray(mean, dtype=np.float64)
    if not np.isfinite(floor):
        return mean, np.ones_like(mean)
    if e is None:
        net = np.sqrt(np.maximum(mean**2 - floor**2, 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return net, np.where(net > 0, mean / net, np.inf)
    table = ShapeTable.of(e)
    xs, es, slope = W_DENSE**2, np.maximum.accumulate(table.value), table.slope()
    y = mean / floor
    x = np.where(y > es[-1], xs[-1] + y - es[-1], np.interp(y, es, xs, left=0.0))
    d = np.interp(x, xs, slope, right=1.0)
    with np.errstate(divide="ignore"):
        deriv = np.where(x > 0, 1.0 / np.maximum(d, 1e-12), np.inf)
    return x * floor, deriv
