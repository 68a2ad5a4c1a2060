"""Recruitment-curve models and their analytic derivatives (intensities in mA, amplitudes mV).

With ``s(x) = 1 / (1 + exp(-x))``:

- M: Boltzmann ``amp * s((I - i50) / slope)``;
- H: bell, the product of a rising and a falling sigmoid,
  ``amp * s((I - i_rise) / k_rise) * (1 - s((I - i_fall) / k_fall))``;
- H that persists (the rat's): a bell whose fall comes after its rise and takes away only a
  fraction ``depth`` (0..1) of it, ``amp * s((I - i_rise) / k_rise) * (1 - depth *
  s((I - i_rise - fall_after) / k_fall))``, ``fall_after`` >= 0 (mA).

An amplitude measured on a noisy sweep never drops to 0, so what is fitted is
``measured = floor * e(response / floor)``, ``e`` the channel's noise shape
(:mod:`hreflex.analysis.noise_shape`; without one the quadrature ``sqrt(response^2 +
floor^2)``). Every function broadcasts: parameters may carry a
leading batch axis (the bootstrap fits many replicates at once), intensities the last axis.
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.noise_shape import ShapeTable

#: parameter names of each model, in order (``floor_mV`` first)
PARAMS = {
    "boltzmann": ("floor_mV", "amp_mV", "i50_mA", "slope_mA"),
    "bell": ("floor_mV", "amp_mV", "i_rise_mA", "k_rise_mA", "i_fall_mA", "k_fall_mA"),
    "persistent": ("floor_mV", "amp_mV", "i_rise_mA", "k_rise_mA", "fall_after_mA",
                   "k_fall_mA", "depth"),
}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``; ``exp`` overflowing to inf for x < -709 gives exactly 0 (and
    ``exp`` is 2.5x faster than the ``tanh`` form on the bootstrap's grids)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(x)))


def boltzmann(intensity_mA, amp_mV, i50_mA, slope_mA):
    """M response: ``amp * s((I - i50) / slope)`` (mV)."""
    return amp_mV * sigmoid((np.asarray(intensity_mA) - i50_mA) / slope_mA)


def bell(intensity_mA, amp_mV, i_rise_mA, k_rise_mA, i_fall_mA, k_fall_mA):
    """H response: ``amp * s((I - i_rise) / k_rise) * (1 - s((I - i_fall) / k_fall))`` (mV)."""
    return _rise_fall(intensity_mA, amp_mV, i_rise_mA, k_rise_mA, i_fall_mA, k_fall_mA, 1.0)


def persistent(intensity_mA, amp_mV, i_rise_mA, k_rise_mA, fall_after_mA, k_fall_mA, depth):
    """H that persists: ``amp * s((I - i_rise) / k_rise) * (1 - depth * s((I - i_rise -
    fall_after) / k_fall))`` (mV; ``depth`` 0..1)."""
    return _rise_fall(intensity_mA, amp_mV, i_rise_mA, k_rise_mA, i_rise_mA + fall_after_mA,
                      k_fall_mA, depth)


def _rise_fall(intensity_mA, amp, i_rise, k_rise, i_fall, k_fall, depth):
    i = np.asarray(intensity_mA)
    return amp * sigmoid((i - i_rise) / k_rise) * (1.0 - depth * sigmoid((i - i_fall) / k_fall))


MODELS = {"boltzmann": boltzmann, "bell": bell, "persistent": persistent}


def response(model: str, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Noise-free response (..., L) for parameters ``p`` (..., k) in :data:`PARAMS` order
    *without* the floor, at intensities ``x`` (L,)."""
    return MODELS[model](x, *(p[..., j, None] for j in range(p.shape[-1])))


def response_and_jacobian(model: str, x: np.ndarray, p: np.ndarray,
                          out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free response and its derivatives with respect to the parameters after the
    floor. ``p`` (..., k) in :data:`PARAMS` order *without* the floor, ``x`` (L,).
    Returns ``(r (..., L), dr (..., L, k))``; ``out``: where to write ``dr`` (e.g. a view of
    a larger Jacobian)."""
    pp = [p[..., j, None] for j in range(p.shape[-1])]
    dr = np.empty((*np.broadcast_shapes(p.shape[:-1] + (1,), x.shape), p.shape[-1])) \
        if out is None else out
    if model == "boltzmann":
        amp, i50, slope = pp
        z = (x - i50) / slope
        s = sigmoid(z)
        g = amp * s * (1 - s) / slope  # amp ds/dz / slope
        dr[..., 0], dr[..., 1] = s, -g
        np.multiply(-g, z, out=dr[..., 2])
        return amp * s, dr
    amp, ir, kr, if_, kf = pp[:5]
    persists = model == "persistent"
    if persists:  # the fall's position is relative to the rise
        if_ = ir + if_
    z1, z2 = (x - ir) / kr, (x - if_) / kf
    s1, s2 = sigmoid(z1), sigmoid(z2)
    taken = pp[5] * s2 if persists else s2  # what the fall takes away
    fall = 1 - taken
    rise_g = amp * s1 * (1 - s1) * fall / kr  # d/d(z1) over k_rise
    fall_g = amp * s1 * taken * (1 - s2 if persists else fall) / kf  # -d/d(z2) over k_fall
    dr[..., 0] = s1 * fall
    dr[..., 1] = -rise_g
    np.multiply(-rise_g, z1, out=dr[..., 2])
    dr[..., 3] = fall_g
    np.multiply(fall_g, z2, out=dr[..., 4])
    if persists:  # d/d(i_rise) also moves the fall
        dr[..., 1] += dr[..., 3]
        np.multiply(-amp * s1, s2, out=dr[..., 5])
    return amp * dr[..., 0], dr


def measured_and_jacobian(model: str, x: np.ndarray, p: np.ndarray,
                          shape: ShapeTable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What the level means estimate, ``floor * e(response / floor)``, and its derivatives
    with respect to every parameter (floor first). ``p`` (..., k + 1) in :data:`PARAMS`
    order; ``shape``: the noise shape ``e`` as a :class:`~hreflex.analysis.noise_shape.
    ShapeTable` (one for all rows of ``p``, or one per row), None = the quadrature
    ``sqrt(response^2 + floor^2)``.
    Returns ``(m (..., L), dm (..., L, k + 1))``."""
    floor = p[..., :1]
    jac = np.empty((*np.broadcast_shapes(p.shape[:-1] + (1,), x.shape), p.shape[-1]))
    r, _ = response_and_jacobian(model, x, p[..., 1:], out=jac[..., 1:])
    if shape is not None:
        f = np.maximum(floor, 1e-15)
        e, de = shape(r / f)
        jac[..., 0] = e - r / f * de
        scale_columns(jac[..., 1:], de, out=jac[..., 1:])
        return f * e, jac
    m = np.sqrt(r * r + floor * floor)
    safe = np.maximum(m, 1e-300)
    jac[..., 0] = floor / safe
    scale_columns(jac[..., 1:], r / safe, out=jac[..., 1:])
    return m, jac


#: up to this many elements :func:`scale_columns` broadcasts (one call costs less than k);
#: above it, numpy's broadcast over a short last axis is several times slower than k calls
SCALE_BROADCAST_MAX = 4096


def scale_columns(jac: np.ndarray, factor: np.ndarray, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """``jac (..., L, k) * factor (..., L)[..., None]``, into ``out`` (e.g. ``jac`` itself;
    default a new array); returns it."""
    if jac.size <= SCALE_BROADCAST_MAX:
        return np.multiply(jac, factor[..., None], out=out)
    out = np.empty(np.broadcast_shapes(jac.shape, factor.shape + (1,))) if out is None else out
    for j in range(jac.shape[-1]):
        np.multiply(jac[..., j], factor, out=out[..., j])
    return out
