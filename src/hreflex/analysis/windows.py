"""M and H windows found from the data, bounded by a species/muscle prior.

Inputs are the per-intensity mean sweeps of one channel, ``level_mean_V`` (n_levels,
n_samples) in ascending intensity, conditioned (baseline removed). The method, step by step
(``docs/METRICS.md`` has the rationale):

1. **Activity** of each level: moving RMS over ``prior.smooth_ms``. It is *significant*
   where it exceeds ``activity_sd`` x the level's noise RMS (pre-stimulus part of the mean
   sweep; without pre-stimulus samples, the 10th percentile of the moving RMS of its first
   difference after the blanking) and ``activity_fraction`` x its own peak after the artifact. Runs of
   significant activity shorter than 2 x ``smooth_ms`` are ignored.
2. **Artifact end**: at the highest intensity (largest artifact), the first time after the
   pulse end + ``blank_ms[0]`` from which the mean sweep stays below the noise threshold for
   ``smooth_ms``; never later than pulse end + ``blank_ms[1]``.
3. **M window**: at the highest intensity (M grows and saturates there), the significant run
   of activity that starts after the artifact and no later than ``m_onset_ms[1]``, with the
   largest peak. It ends where the run ends, or earlier (after its peak and not before
   ``h_onset_ms[0]``) where the envelope (moving RMS over 4 x ``smooth_ms``) of an
   intensity with little M (less than half the top's M activity) is larger by
   1 / ``h_dominance``: an H-reflex that follows the M-wave without a pause.
4. **H window**: after the M window, at every intensity, significant runs whose start lies
   in ``h_onset_ms``; the run with the largest peak over all intensities is the H-reflex
   (H appears at low/moderate intensity in humans and persists in rats).

Manual windows from the config replace either result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from hreflex.analysis.config import WindowConfig, WindowPrior


@dataclass(frozen=True)
class Window:
    """A time window ``[start_ms, stop_ms)`` after the stimulus; ``source`` is ``auto`` or
    ``manual``."""

    start_ms: float
    stop_ms: float
    source: str = "auto"

    def as_list(self) -> list[float]:
        return [round(self.start_ms, 3), round(self.stop_ms, 3)]


@dataclass(frozen=True)
class ChannelWindows:
    """Windows of one channel: artifact blanked until ``blank_ms``; ``m``/``h`` None when not
    found (``notes`` say why); ``prior`` is the name of the prior used, ``smooth_ms`` its
    activity smoothing."""

    blank_ms: float
    m: Window | None
    h: Window | None
    prior: str
    smooth_ms: float
    notes: tuple[str, ...] = ()

    def onset_search_ms(self, wave: str) -> float:
        """Where an onset search for ``wave`` ("m"/"h") may start: the artifact end for M,
        the end of the M window (or the artifact end) for H."""
        return self.m.stop_ms if wave == "h" and self.m is not None else self.blank_ms


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the True runs of a 1-D mask."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def activity(level_mean_V: np.ndarray, smooth_samples: int) -> np.ndarray:
    """Moving RMS along the last axis over ``smooth_samples`` samples (centred)."""
    power = uniform_filter1d(level_mean_V**2, max(1, smooth_samples), axis=-1, mode="nearest")
    return np.sqrt(np.maximum(power, 0.0))  # a running sum can leave -1e-30 on silence


def quiet_rms(x_V: np.ndarray, after: int) -> np.ndarray:
    """Noise RMS of signals (..., n_samples) that have no pre-stimulus samples: the 10th
    percentile, from sample ``after`` on, of the moving RMS (over 1/50 of that span) of the
    first difference / sqrt(2). White noise gives its RMS; slow drifts and offsets do not
    count. Shape ``x_V.shape[:-1]``."""
    diff = np.diff(x_V[..., after:], axis=-1) / np.sqrt(2.0)
    width = max(1, diff.shape[-1] // 50)
    return np.percentile(activity(diff, width), 10, axis=-1)


def noise_rms(level_mean_V: np.ndarray, baseline: slice | None, after: int) -> np.ndarray:
    """(n_levels,) noise RMS of each mean sweep: its RMS over the ``baseline`` samples, else
    :func:`quiet_rms` from sample ``after`` on."""
    if baseline is not None:
        return np.sqrt(np.mean(level_mean_V[:, baseline] ** 2, axis=1))
    return quiet_rms(level_mean_V, after)


def artifact_end(top_mean_V: np.ndarray, time_ms: np.ndarray, threshold_V: float,
                 pulse_end_ms: float, prior: WindowPrior) -> float:
    """Time (ms) from which the mean sweep at the top intensity stays below ``threshold_V``
    for ``prior.smooth_ms``, searched in pulse end + ``prior.blank_ms``."""
    lo, hi = pulse_end_ms + prior.blank_ms[0], pulse_end_ms + prior.blank_ms[1]
    dt_ms = time_ms[1] - time_ms[0] if time_ms.size > 1 else 1.0
    need = max(1, int(round(prior.smooth_ms / dt_ms)))
    quiet = np.abs(top_mean_V) < threshold_V
    run = np.convolve(quiet, np.ones(need), "valid") >= need  # quiet[i:i+need] all True
    start = np.searchsorted(time_ms, lo - 1e-9)
    ok = np.flatnonzero(run[start:])
    t = time_ms[start + ok[0]] if ok.size else hi
    return float(min(max(t, lo), hi))


def find_windows(level_mean_V: np.ndarray, time_ms: np.ndarray, prior: WindowPrior,
                 cfg: WindowConfig, pulse_end_ms: float, baseline: slice | None
                 ) -> ChannelWindows:
    """Automatic M/H windows of one channel (see the module docstring).

    ``level_mean_V`` (n_levels, n_samples): mean conditioned sweep per intensity level,
    ascending intensity; ``time_ms`` (n_samples,); ``baseline``: the pre-stimulus samples.
    """
    notes: list[str] = []
    dt_ms = time_ms[1] - time_ms[0]
    act = activity(level_mean_V, int(round(prior.smooth_ms / dt_ms)))
    first = int(np.searchsorted(time_ms, max(0.0, pulse_end_ms)))
    sigma = noise_rms(level_mean_V, baseline, first)
    top = level_mean_V.shape[0] - 1
    blank_ms = artifact_end(level_mean_V[top], time_ms, cfg.activity_sd * sigma[top],
                            pulse_end_ms, prior)
    end = int(np.searchsorted(time_ms, prior.max_end_ms))
    i0 = int(np.searchsorted(time_ms, blank_ms - 1e-9))
    if end - i0 < 2:
        return ChannelWindows(blank_ms, None, None, prior.name, prior.smooth_ms,
                              (f"sweeps end before {blank_ms:.1f} ms: no room for windows",))

    peak_all = act[:, i0:end].max(axis=1)
    threshold = np.maximum(cfg.activity_sd * sigma, cfg.activity_fraction * peak_all)
    min_len = 2 * max(1, int(round(prior.smooth_ms / dt_ms)))

    def runs(lev: int, lo: int) -> list[tuple[int, int]]:
        """Significant runs (start, stop) of one level over lo..end, >= min_len samples."""
        starts, stops = _runs(act[lev, lo:end] > threshold[lev])
        return [(lo + a, lo + b) for a, b in zip(starts, stops, strict=True)
                if b - a >= min_len]

    # -- M: largest early run at the top intensity
    m_win, m_stop = None, i0
    early = [(a, b) for a, b in runs(top, i0) if time_ms[a] <= prior.m_onset_ms[1]]
    if early:
        a, b = max(early, key=lambda r: act[top, r[0]:r[1]].max())
        low_m = act[:, a:b].max(axis=1) < 0.5 * act[top, a:b].max()  # little M there
        c = max(a + int(np.argmax(act[top, a:b])),
                int(np.searchsorted(time_ms, prior.h_onset_ms[0] - 1e-9)))
        if low_m.any() and c < b:
            env = activity(level_mean_V[:, c:b], 4 * int(round(prior.smooth_ms / dt_ms)))
            h_like = env[top] < cfg.h_dominance * env[low_m].max(axis=0)
            if h_like.any():
                b = c + int(np.argmax(h_like))
        m_win, m_stop = Window(float(time_ms[a]), float(time_ms[min(b, time_ms.size - 1)])), b
    else:
        notes.append(f"no M-wave found with onset {blank_ms:.1f}-{prior.m_onset_ms[1]:g} ms")

    # -- H: largest run after M, starting in the H onset range, over all intensities
    h_win = None
    lo = max(m_stop, int(np.searchsorted(time_ms, prior.h_onset_ms[0] - 1e-9)), i0)
    best = 0.0
    if end - lo >= 2:
        for lev in range(act.shape[0]):
            for a, b in runs(lev, lo):
                if time_ms[a] > prior.h_onset_ms[1]:
                    break
                peak = act[lev, a:b].max()
                if peak > best:
                    best = peak
                    h_win = Window(float(time_ms[a]), float(time_ms[min(b, time_ms.size - 1)]))
    if h_win is None:
        notes.append(f"no H-reflex found with onset {time_ms[min(lo, time_ms.size - 1)]:.1f}-"
                     f"{prior.h_onset_ms[1]:g} ms")
    return ChannelWindows(blank_ms, m_win, h_win, prior.name, prior.smooth_ms, tuple(notes))


def apply_manual(found: ChannelWindows, manual: dict[str, tuple[float, float]],
                 time_ms: np.ndarray) -> ChannelWindows:
    """Replace found windows by manual ones (``{"m": (start, stop), "h": ...}``, ms); a
    manual window not inside the sweep is dropped with a note."""
    out = {"m": found.m, "h": found.h}
    notes = list(found.notes)
    for key, (start, stop) in manual.items():
        if start < time_ms[0] or stop > time_ms[-1]:
            out[key] = None
            notes.append(f"manual {key.upper()} window {start:g}-{stop:g} ms is outside the "
                         f"sweep ({time_ms[0]:g}..{time_ms[-1]:g} ms)")
            continue
        out[key] = Window(float(start), float(stop), "manual")
        if start < found.blank_ms:
            notes.append(f"manual {key.upper()} window starts at {start:g} ms, inside the "
                         f"artifact (until {found.blank_ms:.1f} ms)")
    return ChannelWindows(found.blank_ms, out["m"], out["h"], found.prior, found.smooth_ms,
                          tuple(notes))
