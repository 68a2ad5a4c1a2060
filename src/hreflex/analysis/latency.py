"""Where a wave leaves its baseline (take-off), also when that baseline is an artifact tail.

An evoked wave often starts on the slowly decaying tail of the stimulus artifact, so there is
no quiet stretch before it and a fixed threshold meets the tail first. :func:`takeoff` walks
forward from where the search may start: at every sample j it fits the baseline seen so far
(``lo .. j-1``) with a constant or a level plus an exponential decay, ``C + A exp(-(t - lo) /
tau)`` (tau from a grid of time constants; the decay only where it fits better by more than
its extra parameter costs), and predicts the next samples. The wave is detected at the
first j from which the signal departs from that prediction by more than ``onset_sd`` x its
standard error for ``persist`` samples in a row, with one sign (from the artifact end, not
before the decay can be fitted: ``settle``). The take-off is where that departure began:
walking back while it falls, its last crossing of ``BACK_SD`` standard errors (interpolated
to the sub-sample crossing), or the local minimum where it grows again going back. The
standard error uses the larger of the noise RMS and the fit's own residual RMS, so a tail
the model follows only roughly needs a larger departure.
``docs/METRICS.md`` (step 4) has the definition.
"""

from __future__ import annotations

import numpy as np

#: a departure from the baseline must also exceed this fraction of the wave's peak-to-peak
#: (a tail the model follows to 1 % is not a wave; on a quiet baseline the noise decides)
ONSET_FRACTION = 0.01
#: once detected (``onset_sd``), the take-off is where the departure last rose above this
#: many standard errors: a wave that leaves its baseline slowly is not timed by when it
#: cleared the detection threshold
BACK_SD = 1.0
#: the decay baseline is fitted from this many samples on; a search that starts at the
#: artifact end waits for them, at most 2 smoothing widths (``settle``, set by the window
#: search): a constant through the first samples of the artifact's decaying tail would take
#: the tail itself for the wave
DECAY_MIN_SAMPLES = 6
#: decay time constants tried for the baseline, in units of ``smooth`` samples
TAU_GRID = tuple(float(v) for v in np.geomspace(0.25, 64.0, 25))


def _baseline_predictions(
        y: np.ndarray, lo: int, hi: int, smooth: int, persist: int, noise_V: float,
        decay: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every j in ``lo + 2 .. hi - 1``: the baseline fitted to ``y[lo:j]``, predicted at
    ``j .. j + persist - 1``: a constant, or ``C + A exp(-(t - lo) / tau)`` for the tau of
    ``TAU_GRID`` that fits best, whichever has the smaller ``SSE + 2 k noise^2`` (k = 1 or 2
    parameters; the decay needs ``DECAY_MIN_SAMPLES``; only the constant when ``decay`` is
    False).

    Returns ``(j (K,), pred (K, persist), spread (K, persist), rms (K,))``: the predictions,
    their standard error per unit of noise (``sqrt(1 + x' (X'X)^-1 x)``) and the fit's
    residual RMS."""
    n = hi - lo
    t = np.arange(n + persist, dtype=np.float64)
    seg = np.asarray(y[lo:hi], dtype=np.float64)
    js = np.arange(2, n)  # fit on [0, j)
    ahead = js[:, None] + np.arange(persist)[None, :]

    def sums(v: np.ndarray) -> np.ndarray:  # sums over [0, j), along the last axis
        c = np.zeros((*v.shape[:-1], v.shape[-1] + 1))
        np.cumsum(v, axis=-1, out=c[..., 1:])
        return c[..., js]

    s1, sy, syy = js.astype(float), sums(seg), sums(seg**2)
    sse_c = np.maximum(syy - sy**2 / s1, 0.0)  # the constant model
    best = sse_c + 2 * noise_V**2
    pred = np.repeat((sy / s1)[:, None], persist, axis=1)
    spread = np.repeat(np.sqrt(1 + 1 / s1)[:, None], persist, axis=1)
    sse_best = sse_c.copy()
    dof = np.maximum(js - 1, 1)
    if not decay:
        return lo + js, pred, spread, np.sqrt(sse_best / dof)
    # every tau of the grid at once: rows (G,) of e, columns j
    e = np.exp(-t[None, :] / (np.asarray(TAU_GRID)[:, None] * smooth))  # (G, n + persist)
    se, see, sey = sums(e[:, :n]), sums(e[:, :n] ** 2), sums(e[:, :n] * seg)
    det = s1 * see - se**2
    ok = (js >= DECAY_MIN_SAMPLES) & (det > 1e-9 * np.maximum(s1 * see, 1e-300))
    det = np.where(ok, det, 1.0)
    # least squares of y = C + A e: [[s1, se], [se, see]] [C, A] = [sy, sey]
    C = (see * sy - se * sey) / det
    A = (s1 * sey - se * sy) / det
    sse = np.maximum(syy - C * sy - A * sey, 0.0)
    score = np.where(ok, sse + 4 * noise_V**2, np.inf)
    score[np.isnan(score)] = np.inf
    g = np.argmin(score, axis=0)  # per j the first tau of the smallest score
    k = np.arange(js.size)
    better = score[g, k] < best  # (the decay beats the constant by its extra parameter)
    if not better.any():
        return lo + js, pred, spread, np.sqrt(sse_best / dof)
    ea = e[g[:, None], ahead]
    var = ((see[g, k][:, None] - 2 * se[g, k][:, None] * ea + s1[:, None] * ea**2)
           / det[g, k][:, None])
    sse_best = np.where(better, sse[g, k], sse_best)
    dof = np.where(better, np.maximum(js - 2, 1), dof)
    pred = np.where(better[:, None], C[g, k][:, None] + A[g, k][:, None] * ea, pred)
    spread = np.where(better[:, None], np.sqrt(1.0 + np.maximum(var, 0.0)), spread)
    return lo + js, pred, spread, np.sqrt(sse_best / dof)


def takeoff(y: np.ndarray, lo: int, peak: int, noise_V: float, smooth: int,
            onset_sd: float = 3.0, persist: int = 2, min_departure_V: float = 0.0,
            decay: bool = True, settle: int = 0) -> float | None:
    """First sample (fractional index) from which ``y`` (n,) leaves its baseline on the way
    to the wave whose largest deflection is at ``peak``, searched from ``lo`` (see the module
    docstring). ``noise_V``: RMS noise of ``y``; ``smooth`` (samples) scales the decay time
    constants tried; a departure must also exceed ``min_departure_V`` and lie ``settle`` or
    more samples after ``lo`` (it is then detected, and timed by walking back; a window
    search from the artifact end settles for ``DECAY_MIN_SAMPLES``, at most 2 x ``smooth``);
    ``decay=False``: the baseline is a constant (a quiet stretch, no artifact tail: a decay
    fitted there would bend into the wave's first slow phase and put the take-off late).
    None when the signal never departs before ``peak``.
    """
    hi = peak + 1
    if hi - lo < 3 or noise_V <= 0:
        return None
    j, pred, spread, rms = _baseline_predictions(y, lo, hi, max(1, smooth), persist, noise_V,
                                                 decay)
    idx = np.minimum(j[:, None] + np.arange(persist)[None, :], y.size - 1)
    err = np.maximum(spread * np.maximum(rms, noise_V)[:, None], min_departure_V / onset_sd)
    z = (y[idx] - pred) / err
    hit = ((np.abs(z) > onset_sd).all(axis=1)
           & (np.sign(z) == np.sign(z[:, :1])).all(axis=1))
    hit &= j - lo >= settle
    k = np.flatnonzero(hit)
    if k.size == 0:
        return None
    k0 = int(k[0])  # detected; the departure began where it last rose above BACK_SD
    toward = z[:k0 + 1, 0] * np.sign(z[k0, 0])  # the departure in the wave's direction
    # (or where it stopped falling, walking back: an earlier noise excursion is not the wave)
    rising = np.r_[toward[1:] >= toward[:-1], True]
    below = np.flatnonzero((toward <= BACK_SD) | ~rising)
    kb = int(below[-1]) + 1 if below.size else 0
    z1, z0 = toward[kb], toward[kb - 1] if kb > 0 else 0.0
    level = min(BACK_SD, z1)
    frac = float(np.clip((level - z0) / (z1 - z0), 0.0, 1.0)) if z1 > z0 else 1.0
    return float(j[kb] - 1 + frac)


def wave_latency(mean_V: np.ndarray, time_ms: np.ndarray, window_ms: tuple[float, float],
                 search_from_ms: float, noise_V: float, smooth_ms: float,
                 onset_sd: float = 3.0, onset: float | None = None) -> tuple[float, float]:
    """Onset and peak latency (ms) of the wave in ``window_ms`` of a mean sweep (n_samples,).

    Onset: :func:`takeoff` searched from ``search_from_ms`` (the artifact end for M, the M
    window's end for H), the departure exceeding ``onset_sd`` x ``noise_V`` and 1 % of the
    wave's peak-to-peak (``ONSET_FRACTION``). Peak: the time of the largest |x| in the
    window. NaN where not found. A known ``onset`` (ms; the take-off of an automatic
    window's matched waveform) is returned as it is.
    """
    a, b = np.searchsorted(time_ms, [window_ms[0] - 1e-9, window_ms[1] + 1e-9])
    lo = int(min(np.searchsorted(time_ms, search_from_ms - 1e-9), a))
    if b - a < 2:
        return float("nan"), float("nan")
    seg = mean_V[a:b]
    peak_ms = float(time_ms[a + int(np.argmax(np.abs(seg)))])
    if onset is not None:
        return float(onset), peak_ms
    ref = a + int(np.argmax(np.abs(seg - mean_V[lo])))
    dt_ms = float(time_ms[1] - time_ms[0])
    k = takeoff(mean_V, lo, ref, noise_V, max(1, int(round(smooth_ms / dt_ms))), onset_sd,
                min_departure_V=ONSET_FRACTION * float(seg.max() - seg.min()))
    onset_ms = float(time_ms[0] + k * dt_ms) if k is not None else float("nan")
    return onset_ms, peak_ms
