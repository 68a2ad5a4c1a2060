"""A straightforward per-sweep Python loop doing the per-sweep work of the analysis.

It is the reference the vectorised code in ``hreflex.analysis`` is timed against
(``bench/bench_analysis.py``): for every stimulus and channel it cuts the sweep, scales it,
removes the baseline, and measures background RMS and, in the M and H windows,
peak-to-peak, rectified area, RMS, mean rectified value, peak time and clipping, exactly as
``make_epochs`` + ``remove_baseline`` + ``background_rms`` + ``measure_wave`` do, onset
included (same algorithm as ``measures.onset_crossing``). Not used by the package.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d


def onset_1d(x, peak, threshold, t, smooth):
    """Onset of one signal (see ``hreflex.analysis.measures.onset_crossing``)."""
    mag = np.abs(x)
    if mag[peak] < threshold:
        return np.nan
    act = np.sqrt(np.maximum(uniform_filter1d(x * x, smooth, mode="nearest"), 0.0))
    quiet = np.flatnonzero(act[:peak] < threshold)
    if not quiet.size:
        return np.nan
    j = quiet[-1] + 1 + np.flatnonzero(mag[quiet[-1] + 1:peak + 1] >= threshold)[0]
    if j == 0:
        return np.nan
    a, b = mag[j - 1], mag[j]
    frac = np.clip((threshold - a) / (b - a) if b > a else 0.0, 0.0, 1.0)
    return t[j - 1] + frac * (t[1] - t[0])


def per_sweep_loop(continuous, scale_V_per_count, sample_index, sample_rate_Hz, start_ms,
                   stop_ms, windows_ms, baseline_ms, background_ms, clip_counts, onset_sd,
                   smooth_ms):
    """Returns dict of (n_sweeps, n_channels) arrays: ``background_V`` and for wave in
    (m, h): ``<wave>_p2p_mV``, ``_area_mVms``, ``_rms_mV``, ``_mean_rect_mV``, ``_peak_ms``,
    ``_onset_ms``, ``_clipped``. ``windows_ms``: per channel {"m": (start, stop),
    "h": (start, stop), "m_from": ms, "h_from": ms} (where each onset search may start; it
    reaches at most 5 ``smooth_ms`` before the window); ``smooth_ms``: moving-RMS width."""
    fs = sample_rate_Hz
    start = int(np.floor(start_ms * fs / 1000.0))
    n = int(np.ceil(stop_ms * fs / 1000.0)) - start + 1
    t = (start + np.arange(n)) * 1000.0 / fs
    dt = 1000.0 / fs
    n_sw, n_ch = len(sample_index), continuous.shape[1]
    out = {"background_V": np.full((n_sw, n_ch), np.nan)}
    for wave in ("m", "h"):
        for name in ("p2p_mV", "area_mVms", "rms_mV", "mean_rect_mV", "peak_ms", "onset_ms"):
            out[f"{wave}_{name}"] = np.full((n_sw, n_ch), np.nan)
        out[f"{wave}_clipped"] = np.zeros((n_sw, n_ch), bool)
    smooth = int(round(smooth_ms / dt))
    base = (t >= baseline_ms[0] - 1e-9) & (t < baseline_ms[1])
    back = (t >= background_ms[0] - 1e-9) & (t < background_ms[1])
    for i, s in enumerate(sample_index):
        a = s + start
        if a < 0 or a + n > continuous.shape[0]:
            continue
        for c in range(n_ch):
            raw = continuous[a:a + n, c]
            x = raw * scale_V_per_count[c]
            x = x - x[base].mean()
            noise = out["background_V"][i, c] = x[back].std()
            for wave in ("m", "h"):
                w0, w1 = windows_ms[c][wave]
                sel = (t >= w0 - 1e-9) & (t <= w1 + 1e-9)
                seg = x[sel] * 1e3
                reach = max(windows_ms[c][f"{wave}_from"], w0 - 5 * smooth_ms)
                ext = (t >= min(w0, reach) - 1e-9) & (t <= w1 + 1e-9)
                peak = int(np.argmax(np.abs(seg)))
                out[f"{wave}_onset_ms"][i, c] = onset_1d(
                    x[ext] * 1e3, peak + int(ext.sum() - sel.sum()), onset_sd * noise * 1e3,
                    t[ext], smooth)
                out[f"{wave}_p2p_mV"][i, c] = seg.max() - seg.min()
                out[f"{wave}_area_mVms"][i, c] = np.abs(seg).sum() * dt
                out[f"{wave}_rms_mV"][i, c] = np.sqrt(np.mean(seg**2))
                out[f"{wave}_mean_rect_mV"][i, c] = np.abs(seg).mean()
                out[f"{wave}_peak_ms"][i, c] = t[sel][peak]
                out[f"{wave}_clipped"][i, c] = bool(np.any(np.abs(raw[sel]) >= clip_counts))
    return out
