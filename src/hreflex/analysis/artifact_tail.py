"""The stimulus artifact's slow tail under an M-wave: fitted where it is alone, then removed.

After its steep part (blanked) a stimulus artifact often decays for several ms, into an early
M-wave (forearm, short latencies). A peak-to-peak taken in the M window then measures part of
the tail. Where the windows search found the tail as a component of its own just before M
(role "artifact tail"), :func:`fit_tail` fits it on that stretch of every level's mean sweep
as ``A_i exp(-(t - t0) / tau)`` (it decays to the baseline, which is removed): one time
constant for all levels (the tail's shape is the stimulator's and the electrodes', not the
intensity's), an amplitude per level (the artifact grows with the current).
:func:`remove_tail` subtracts ``A(I) exp(-(t - t0) / tau)`` from every sweep from ``t0`` on,
``A(I)`` interpolated in the sweep's intensity between the levels' amplitudes.
``docs/METRICS.md`` (step 3, "Artifact tail under M") has the definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: time constants tried, ms (a tail lasting from a fraction of a ms to tens of ms)
TAU_GRID_MS = tuple(float(v) for v in np.geomspace(0.05, 50.0, 61))
#: the best time constant is then refined on this many values between its grid neighbours
REFINE = 41
#: fewest samples of a tail stretch to fit it on (an amplitude per level, a shared tau)
MIN_SAMPLES = 6
#: the tail is removed only where its amplitude at the top level exceeds this many noise SDs
#: of that level's mean ...
MIN_SNR = 5.0
#: ... and the decay explains the stretch there: residual RMS within this many noise SDs
#: (or 1 % of the amplitude)
MAX_RESIDUAL = 3.0
#: the stretch may be shortened from its end to this fraction of it, no further (a decay
#: fitted on a short start of a tail that bends would be extrapolated under the wave)
MIN_KEPT = 0.75
#: the time constant may be at most this multiple of the stretch's length: the tail must be
#: seen decaying (to exp(-1/2) of its start or less), not only its nearly straight beginning
MAX_TAU_RATIO = 2.0


@dataclass(frozen=True)
class TailFit:
    """A fitted artifact tail: ``A exp(-(t - t0_ms) / tau_ms)`` with ``amplitude_V`` (L,) at
    the intensity levels ``levels_mA`` (L,, increasing); ``span_ms`` the stretch it was
    fitted on; ``residual`` the fit's residual RMS at the top level over its noise SD."""

    t0_ms: float
    tau_ms: float
    levels_mA: np.ndarray
    amplitude_V: np.ndarray
    span_ms: tuple[float, float]
    residual: float

    def describe(self) -> str:
        """One line for the channel's messages."""
        return (f"artifact tail removed before M: fitted {self.span_ms[0]:.2f}-"
                f"{self.span_ms[1]:.2f} ms, tau {self.tau_ms:.2f} ms, "
                f"{1e3 * abs(self.amplitude_V[-1]):.3g} mV at {self.levels_mA[-1]:g} mA")


def _fit_grid(y: np.ndarray, t: np.ndarray, taus: np.ndarray
              ) -> tuple[int, np.ndarray, np.ndarray]:
    """Least squares of ``y`` (L, k) by ``A_i exp(-t / tau)`` for every tau of ``taus``:
    ``(best index, amplitudes (L,), squared residuals (L,))``."""
    e = np.exp(-t[None, :] / taus[:, None])  # (G, k)
    see = (e * e).sum(axis=1)  # (G,)
    sey = e @ y.T  # (G, L)
    sse = np.maximum((y * y).sum(axis=1)[None, :] - sey**2 / see[:, None], 0.0)  # (G, L)
    g = int(np.argmin(sse.sum(axis=1)))
    return g, sey[g] / see[g], sse[g]


def _fit(y: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_fit_grid` on ``TAU_GRID_MS``, then on ``REFINE`` values between the best one's
    neighbours (the grid's 12 % steps leave a large tail a residual of several noise SDs):
    ``(tau ms, amplitudes (L,), squared residuals (L,))``."""
    grid = np.asarray(TAU_GRID_MS)
    g = _fit_grid(y, t, grid)[0]
    fine = np.geomspace(grid[max(g - 1, 0)], grid[min(g + 1, grid.size - 1)], REFINE)
    f, amp, sse = _fit_grid(y, t, fine)
    return float(fine[f]), amp, sse


def fit_tail(means_V: np.ndarray, time_ms: np.ndarray, span_ms: tuple[float, float],
             levels_mA: np.ndarray, noise_V: np.ndarray) -> TailFit | None:
    """The tail on ``span_ms`` of the level means ``means_V`` (L, n) V at ``levels_mA`` (L,)
    mA, each with noise SD ``noise_V`` (L,) V, baseline (DC) removed: the tail decays to 0
    (see the module docstring). The time constant minimises the total squared residual over
    the levels; per level the amplitude is linear least squares. The stretch is shortened
    from its end (where the segmentation may have given the tail the wave's first samples)
    until the decay explains it at the top level (residual RMS <= ``MAX_RESIDUAL`` noise SDs,
    or 1 % of the tail's size). None when no such stretch of ``MIN_SAMPLES`` or more does, when
    the tail is not ``MIN_SNR`` noise SDs at the top level, or its time constant exceeds
    ``MAX_TAU_RATIO`` x the stretch (too little of the decay seen to extrapolate it)."""
    if len(levels_mA) == 0:
        return None
    a, b = np.searchsorted(time_ms, [span_ms[0] - 1e-9, span_ms[1] + 1e-9])
    top = int(np.argmax(levels_mA))
    sd = max(float(noise_V[top]), 1e-15)
    y = np.asarray(means_V[:, a:b], dtype=np.float64)
    t = time_ms[a:b] - time_ms[a]
    for k in range(b - a, max(MIN_SAMPLES, int(np.ceil(MIN_KEPT * (b - a)))) - 1, -1):
        tau, amp, sse = _fit(y[:, :k], t[:k])
        rms = float(np.sqrt(sse[top] / max(k - 1, 1)))
        if rms <= max(MAX_RESIDUAL * sd, 0.01 * abs(amp[top])):
            break
    else:
        return None
    if abs(amp[top]) < MIN_SNR * sd or tau > MAX_TAU_RATIO * (t[k - 1] - t[0]):
        return None
    order = np.argsort(levels_mA, kind="stable")
    return TailFit(float(time_ms[a]), tau, np.asarray(levels_mA, float)[order],
                   amp[order], (float(time_ms[a]), float(time_ms[a + k - 1])), rms / sd)


def tail_V(fit: TailFit, time_ms: np.ndarray, intensity_mA: np.ndarray) -> np.ndarray:
    """(len(intensity_mA), n) the tail at each intensity (mA) on ``time_ms`` (n,): 0 before
    ``t0_ms``; the amplitude interpolated between the levels (held beyond them; NaN
    intensities get the top level's)."""
    inten = np.where(np.isfinite(intensity_mA), intensity_mA, fit.levels_mA[-1])
    amp = np.interp(inten, fit.levels_mA, fit.amplitude_V)
    after = np.clip(time_ms - fit.t0_ms, 0.0, None)
    shape = np.where(time_ms >= fit.t0_ms, np.exp(-after / fit.tau_ms), 0.0)
    return amp[:, None] * shape[None, :]


def remove_tail(data_V: np.ndarray, time_ms: np.ndarray, intensity_mA: np.ndarray,
                fit: TailFit) -> None:
    """Subtract the tail from sweeps ``data_V`` (n_sweeps, n_samples) V in place, each at its
    ``intensity_mA`` (n_sweeps,)."""
    a = int(np.searchsorted(time_ms, fit.t0_ms - 1e-9))
    data_V[:, a:] -= tail_V(fit, time_ms[a:], intensity_mA).astype(data_V.dtype, copy=False)
