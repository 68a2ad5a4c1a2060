"""The per-sweep stage as a competent lab scientist writes it: a loop over the sweeps.

It is the reference the vectorised stage of ``hreflex.analysis`` is timed against
(``bench/bench_analysis.py``) and does the same work, no more: the index ranges of the
epoch, baseline, background and each channel's M and H windows are computed once, before
the loop (no masks recomputed per sweep, no onset search); every sweep is one numpy slice
of the continuous recording (all channels), scaled to volts, its baseline (mean) removed;
then per channel the background RMS and, in its M and H windows, peak-to-peak, rectified
area, RMS and mean rectified value. The amplitudes are pooled per intensity level at the
end (mean, SD, n), as ``level_stats`` does. Not used by the package.
"""

from __future__ import annotations

import numpy as np


def index_ranges(sample_rate_Hz: float, start_ms: float, stop_ms: float,
                 baseline_ms: tuple[float, float], background_ms: tuple[float, float],
                 windows_ms: list[dict[str, tuple[float, float]]]) -> dict:
    """Sample ranges relative to the stimulus, computed once: ``epoch`` (first, n), the
    ``baseline`` and ``background`` slices of the epoch and per channel the ``m``/``h``
    slices (windows inclusive of both ends, as the analysis defines them)."""
    fs = sample_rate_Hz
    first = int(np.floor(start_ms * fs / 1000.0))
    n = int(np.ceil(stop_ms * fs / 1000.0)) - first + 1
    t = (first + np.arange(n)) * 1000.0 / fs

    def half_open(a_ms, b_ms):  # [a, b)
        return slice(int(np.searchsorted(t, a_ms - 1e-9)), int(np.searchsorted(t, b_ms)))

    def closed(a_ms, b_ms):  # [a, b]
        return slice(int(np.searchsorted(t, a_ms - 1e-9)),
                     int(np.searchsorted(t, b_ms + 1e-9)))

    return {"epoch": (first, n), "baseline": half_open(*baseline_ms),
            "background": half_open(*background_ms),
            "windows": [{k: closed(*w[k]) for k in ("m", "h")} for w in windows_ms]}


def per_sweep_loop(continuous, scale_V_per_count, sample_index, sample_rate_Hz, ranges,
                   level, n_levels):
    """Returns a dict of (n_sweeps, n_channels) arrays: ``background_V`` and for wave in
    (m, h) ``<wave>_p2p_mV``, ``_area_mVms``, ``_rms_mV``, ``_mean_rect_mV``; and
    ``pooled``: (mean, sd, n) of the M and H p2p per level (n_levels, n_channels)."""
    first, n = ranges["epoch"]
    base, back, wins = ranges["baseline"], ranges["background"], ranges["windows"]
    dt = 1000.0 / sample_rate_Hz
    n_sw, n_ch = len(sample_index), continuous.shape[1]
    names = ("p2p_mV", "area_mVms", "rms_mV", "mean_rect_mV")
    out = {"background_V": np.full((n_sw, n_ch), np.nan)}
    out.update({f"{w}_{k}": np.full((n_sw, n_ch), np.nan) for w in "mh" for k in names})
    for i, s in enumerate(sample_index):
        a = s + first
        if a < 0 or a + n > continuous.shape[0]:
            continue
        x = continuous[a:a + n] * scale_V_per_count  # (n, n_channels) volts
        x -= x[base].mean(axis=0)
        out["background_V"][i] = x[back].std(axis=0)
        for c in range(n_ch):
            for wave in ("m", "h"):
                seg = x[wins[c][wave], c] * 1e3
                rect = np.abs(seg)
                out[f"{wave}_p2p_mV"][i, c] = seg.max() - seg.min()
                out[f"{wave}_area_mVms"][i, c] = rect.sum() * dt
                out[f"{wave}_rms_mV"][i, c] = np.sqrt(np.mean(seg * seg))
                out[f"{wave}_mean_rect_mV"][i, c] = rect.mean()
    pooled = {}
    for wave in ("m", "h"):
        amp = out[f"{wave}_p2p_mV"]
        stats = np.full((3, n_levels, n_ch), np.nan)
        for k in range(n_levels):
            v = amp[level == k]
            stats[2, k] = len(v)
            if len(v):
                stats[0, k] = v.mean(axis=0)
            if len(v) > 1:
                stats[1, k] = v.std(axis=0, ddof=1)
        pooled[wave] = stats
    out["pooled"] = pooled
    return out
