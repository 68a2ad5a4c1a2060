"""Per-sweep measures of a wave inside a window, and response latencies.

All functions take conditioned sweeps ``data_V`` (n_sweeps, n_channels, n_samples) in volts
and a time axis ``time_ms`` (n_samples,) relative to the stimulus; results are in mV, mV·ms
and ms. Windows differ per channel, so channels are looped over (a handful); sweeps never are.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from hreflex.analysis.components import moving_mean
from hreflex.analysis.windows import ChannelWindows

#: an onset may lie up to this many ``smooth_ms`` before the window start (and never before
#: the artifact end / the M window end for H)
ONSET_REACH = 5
#: per-sweep onsets are found this many sweeps at a time (the float64 running sums of a
#: whole file's onset spans would add ~10 MB to the analysis' peak memory)
ONSET_BLOCK = 500


@dataclass
class WaveMeasures:
    """Measures of one wave (M or H); every array is (n_sweeps, n_channels), NaN where the
    channel has no window.

    - ``p2p_mV``: maximum minus minimum inside the window;
    - ``area_mVms``: integral of the rectified signal (sum of |x| x sample interval);
    - ``rms_mV``, ``mean_rect_mV``: RMS and mean of |x| inside the window;
    - ``onset_ms``: last crossing of the onset threshold before the peak (interpolated);
      NaN when the peak stays below the threshold or the signal never drops below it;
    - ``peak_ms``: time of the largest |x|;
    - ``clipped``: a sample inside the window reached the amplifier limit.
    """

    p2p_mV: np.ndarray
    area_mVms: np.ndarray
    rms_mV: np.ndarray
    mean_rect_mV: np.ndarray
    onset_ms: np.ndarray
    peak_ms: np.ndarray
    clipped: np.ndarray

    def amplitude(self, measure: str) -> np.ndarray:
        """The amplitude named in the config: ``p2p``, ``area``, ``rms`` or ``mean_rect``."""
        return getattr(self, AMPLITUDE_FIELDS[measure])


def onset_crossing(x: np.ndarray, peak: np.ndarray, threshold: np.ndarray,
                   time_ms: np.ndarray, smooth_samples: int) -> np.ndarray:
    """Onset times of signals ``x`` (n, n_samples) whose peaks are at indices ``peak`` (n,).

    The response is the stretch before the peak where the moving RMS over
    ``smooth_samples`` stays at or above ``threshold`` (n,) (this bridges the zero crossings
    between phases); the onset is the first sample of that stretch where |x| reaches the
    threshold, linearly interpolated with the sample before. NaN when the peak is below the
    threshold or the signal is never quiet before it.
    """
    n, m = x.shape
    rows = np.arange(n)
    thr = threshold.astype(x.dtype)[:, None]
    col = np.arange(m)
    power = moving_mean(x * x, smooth_samples)
    quiet = power < thr * thr
    quiet &= col[None, :] < peak[:, None]  # (before the peak only)
    has_quiet = quiet.any(axis=1)
    last_quiet = np.where(has_quiet, m - 1 - np.argmax(quiet[:, ::-1], axis=1), -1)
    mag = np.abs(x)
    above = mag >= thr
    above &= col[None, :] > last_quiet[:, None]  # (after the quiet stretch only)
    j = np.argmax(above, axis=1)  # first sample above after the quiet stretch
    mag_j, mag_0 = mag[rows, j], mag[rows, np.maximum(j - 1, 0)]
    ok = has_quiet & (j > 0) & (j <= peak) & (mag[rows, peak] >= threshold)
    frac = np.clip((threshold - mag_0) / np.where(mag_j > mag_0, mag_j - mag_0, 1.0), 0.0, 1.0)
    dt = time_ms[1] - time_ms[0] if m > 1 else 0.0
    return np.where(ok, time_ms[np.maximum(j - 1, 0)] + frac * dt, np.nan)


def _span(time_ms: np.ndarray, start_ms: float, stop_ms: float) -> tuple[int, int]:
    a, b = np.searchsorted(time_ms, [start_ms - 1e-9, stop_ms + 1e-9])
    return int(a), int(b)


def wave_span(time_ms: np.ndarray, cw: ChannelWindows | None, wave: str
              ) -> tuple[int, int] | None:
    """Sample range ``[a, b)`` of a channel's ``wave`` window; None without one (or with
    fewer than 2 samples)."""
    win = getattr(cw, wave) if cw is not None else None
    if win is None:
        return None
    a, b = _span(time_ms, win.start_ms, win.stop_ms)
    return (a, b) if b - a >= 2 else None


def wave_amplitudes(data_V: np.ndarray, time_ms: np.ndarray,
                    windows: list[ChannelWindows | None], wave: str) -> dict[str, np.ndarray]:
    """Every amplitude (:func:`amplitudes`) of ``wave`` in each channel's window: name ->
    (n_sweeps, n_channels), NaN where a channel has no window. One slice per channel,
    every sweep at once."""
    n_sw, n_ch, _ = data_V.shape
    out = {name: np.full((n_sw, n_ch), np.nan) for name in AMPLITUDE_FIELDS}
    dt_ms = time_ms[1] - time_ms[0]
    for c, cw in enumerate(windows):
        span = wave_span(time_ms, cw, wave)
        if span is not None:
            for name, value in amplitudes(data_V[:, c, span[0]:span[1]], dt_ms).items():
                out[name][:, c] = value
    return out


def measure_wave(data_V: np.ndarray, time_ms: np.ndarray, windows: list[ChannelWindows | None],
                 wave: str, noise_V: np.ndarray, onset_sd: float,
                 saturated=None) -> WaveMeasures:
    """Measure ``wave`` ("m" or "h") of every sweep in each channel's window.

    ``windows`` has one :class:`ChannelWindows` (or None) per channel; ``noise_V`` (n_sweeps,
    n_channels) sets each sweep's onset threshold (``onset_sd`` x noise); the onset search
    starts at ``ChannelWindows.onset_search_ms(wave)``. ``saturated``: None, or a mask
    indexable like ``data_V`` with one channel (an array or an epochs ``Saturation``).
    """
    n_sw, n_ch, _ = data_V.shape
    amps = wave_amplitudes(data_V, time_ms, windows, wave)
    out = WaveMeasures(*(amps[name] for name in AMPLITUDE_FIELDS),
                       *(np.full((n_sw, n_ch), np.nan) for _ in range(2)),
                       clipped=np.zeros((n_sw, n_ch), bool))
    dt_ms = time_ms[1] - time_ms[0]
    for c, cw in enumerate(windows):
        span = wave_span(time_ms, cw, wave)
        if span is None:
            continue
        a, b = span
        win = getattr(cw, wave)
        reach_ms = max(cw.onset_search_ms(wave), win.start_ms - ONSET_REACH * cw.smooth_ms)
        s0 = min(a, _span(time_ms, reach_ms, win.stop_ms)[0])
        ext = data_V[:, c, s0:b]  # onset search span; the window is its tail
        peak = np.argmax(np.abs(ext[:, a - s0:]), axis=1)
        out.peak_ms[:, c] = time_ms[a + peak]
        for lo in range(0, n_sw, ONSET_BLOCK):  # (blocks of sweeps: smaller temporaries)
            rows = slice(lo, lo + ONSET_BLOCK)
            out.onset_ms[rows, c] = onset_crossing(
                ext[rows], peak[rows] + (a - s0), onset_sd * noise_V[rows, c], time_ms[s0:b],
                int(round(cw.smooth_ms / dt_ms)))
        if saturated is not None:
            out.clipped[:, c] = saturated[:, c, a:b].any(axis=1)
    return out


#: the configured amplitude name -> its WaveMeasures field
AMPLITUDE_FIELDS = {"p2p": "p2p_mV", "area": "area_mVms", "rms": "rms_mV",
                    "mean_rect": "mean_rect_mV"}


def amplitude(seg_V: np.ndarray, dt_ms: float, measure: str) -> np.ndarray:
    """One amplitude ``measure`` of segments (..., k) in volts, (...,): ``p2p`` (mV),
    ``area`` (mV·ms, rectified), ``rms`` or ``mean_rect`` (mV)."""
    k = seg_V.shape[-1]
    if measure == "p2p":
        return (seg_V.max(axis=-1) - seg_V.min(axis=-1)) * 1e3
    if measure == "rms":
        return np.sqrt(np.einsum("...i,...i->...", seg_V, seg_V, dtype=np.float64) / k) * 1e3
    area = np.abs(seg_V).sum(axis=-1, dtype=np.float64) * (dt_ms * 1e3)
    return area if measure == "area" else area / (dt_ms * k)


def amplitudes(seg_V: np.ndarray, dt_ms: float) -> dict[str, np.ndarray]:
    """Every amplitude measure (:func:`amplitude`) of segments (n, k) in volts; each (n,)."""
    return {name: amplitude(seg_V, dt_ms, name) for name in ("p2p", "area", "rms", "mean_rect")}


def noise_amplitude(data_V: np.ndarray, time_ms: np.ndarray, window_ms: tuple[float, float],
                    length_ms: float, include: np.ndarray, measure: str) -> float:
    """What the amplitude ``measure`` of a window ``length_ms`` long shows without a response:
    its median over the ``include``-d sweeps of one channel (n_sweeps, n_samples) on the last
    ``length_ms`` of the pre-stimulus ``window_ms`` (mV or mV·ms); NaN without such samples."""
    a, b = np.searchsorted(time_ms, [max(window_ms[0], window_ms[1] - length_ms), window_ms[1]])
    if b - a < 2 or not include.any():
        return float("nan")
    dt_ms = float(time_ms[1] - time_ms[0])
    return float(np.median(amplitude(data_V[include, a:b], dt_ms, measure)))


def background_rms(data_V: np.ndarray, time_ms: np.ndarray,
                   window_ms: tuple[float, float]) -> np.ndarray:
    """(n_sweeps, n_channels) RMS about the mean over ``window_ms`` (pre-stimulus EMG), V;
    NaN when the sweeps hold fewer than 2 samples of the window."""
    a, b = np.searchsorted(time_ms, [window_ms[0] - 1e-9, window_ms[1]])
    if b - a < 2:
        return np.full(data_V.shape[:2], np.nan)
    seg = data_V[..., a:b]
    mean = seg.mean(axis=-1, dtype=np.float64)
    power = np.einsum("ijk,ijk->ij", seg, seg, dtype=np.float64) / (b - a)
    return np.sqrt(np.maximum(power - mean**2, 0.0))


def response_latency(mean_V: np.ndarray, time_ms: np.ndarray, windows: ChannelWindows,
                     wave: str, noise_V: float, onset_sd: float) -> tuple[float, float]:
    """Onset and peak latency (ms) of ``wave`` ("m"/"h") in a mean sweep (n_samples,) of one
    channel whose noise RMS is ``noise_V`` (onset threshold ``onset_sd x noise_V``)."""
    res = measure_wave(mean_V[None, None, :], time_ms, [windows], wave,
                       np.array([[noise_V]]), onset_sd)
    return float(res.onset_ms[0, 0]), float(res.peak_ms[0, 0])


MEASURE_NAMES = tuple(f.name for f in fields(WaveMeasures))
