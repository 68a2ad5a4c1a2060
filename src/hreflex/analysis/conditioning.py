"""Signal conditioning of sweeps (n_sweeps, n_channels, n_samples), along the last axis.

Baseline (DC) removal from a pre-stimulus window, artifact blanking (linear bridge), and
optional zero-phase Butterworth band-pass and mains notch (``scipy.signal.sosfiltfilt``;
``scipy.signal`` is imported only when a filter is used: it costs ~0.9 s of start-up).
Blanking comes before filtering so the filters never smear the stimulus artifact into the
M window. Each function returns a new array and leaves its input alone (unless asked to
overwrite it).
"""

from __future__ import annotations

import numpy as np

from hreflex.errors import ConfigError


def window_slice(time_ms: np.ndarray, window_ms: tuple[float, float]) -> slice | None:
    """Samples of ``time_ms`` (n_samples,) inside ``[start, stop)`` ms; None if fewer than 2."""
    lo, hi = np.searchsorted(time_ms, window_ms[0] - 1e-9), np.searchsorted(time_ms, window_ms[1])
    return slice(int(lo), int(hi)) if hi - lo >= 2 else None


def remove_baseline(data_V: np.ndarray, time_ms: np.ndarray, window_ms: tuple[float, float],
                    fallback_from_ms: float = 0.0, overwrite: bool = False,
                    detrend_min_ms: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Subtract each sweep's baseline: its mean over ``window_ms`` (pre-stimulus) or, when
    that window holds at least ``detrend_min_ms`` (> 0) of samples, the least-squares line
    through it, extended over the whole sweep (slow drift removed).

    Sweeps holding fewer than 2 samples of the window (e.g. epoched files that start at the
    stimulus) use the median of the sweep from ``fallback_from_ms`` on instead (responses
    are short oscillations, so the median is close to the DC). Returns ``(data,
    offset_V)``, offset (n_sweeps, n_channels) = the baseline at the window's centre;
    ``overwrite=True`` subtracts in place (no copy of a large array).
    """
    sl = window_slice(time_ms, window_ms)
    slope = None
    if sl is None:
        k = min(int(np.searchsorted(time_ms, fallback_from_ms)), time_ms.size - 1)
        offset = np.median(data_V[..., k:], axis=-1)
    else:
        offset = data_V[..., sl].mean(axis=-1)
        tb = time_ms[sl] - time_ms[sl].mean()
        if detrend_min_ms > 0 and time_ms[sl][-1] - time_ms[sl][0] >= detrend_min_ms:
            slope = (data_V[..., sl] @ tb.astype(data_V.dtype)) / float(tb @ tb)  # V per ms
            centre = float(time_ms[sl].mean())
    out = data_V if overwrite else data_V.copy()
    out -= offset[..., None].astype(out.dtype)
    if slope is not None:
        out -= (slope[..., None] * (time_ms - centre)).astype(out.dtype)
    return out, offset


def blank(data_V: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Replace samples ``start..stop-1`` by a straight line from sample ``start - 1`` to
    sample ``stop`` (per sweep and channel); indices are clipped to the sweep."""
    n = data_V.shape[-1]
    start, stop = max(int(start), 1), min(int(stop), n - 1)
    out = data_V.copy()
    if stop <= start:
        return out
    a, b = data_V[..., start - 1:start], data_V[..., stop:stop + 1]
    frac = (np.arange(start, stop) - (start - 1)) / (stop - (start - 1))
    out[..., start:stop] = a + (b - a) * frac
    return out


def bandpass(data_V: np.ndarray, sample_rate_Hz: float, band_Hz: tuple[float, float],
             order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass; the upper edge is capped at 0.45 x the rate."""
    lo, hi = band_Hz[0], min(band_Hz[1], 0.45 * sample_rate_Hz)
    if not 0 < lo < hi:
        raise ConfigError(f"[conditioning] bandpass_Hz {band_Hz} does not fit a sampling rate "
                          f"of {sample_rate_Hz:g} Hz")
    from scipy import signal

    sos = signal.butter(order, [lo, hi], "bandpass", fs=sample_rate_Hz, output="sos")
    return signal.sosfiltfilt(sos, data_V, axis=-1)


def notch(data_V: np.ndarray, sample_rate_Hz: float, freq_Hz: float,
          q: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at ``freq_Hz`` with quality factor ``q``."""
    if not 0 < freq_Hz < 0.5 * sample_rate_Hz:
        raise ConfigError(f"[conditioning] notch_Hz {freq_Hz:g} is not below the Nyquist "
                          f"frequency of {sample_rate_Hz:g} Hz")
    from scipy import signal

    b, a = signal.iirnotch(freq_Hz, q, fs=sample_rate_Hz)
    return signal.filtfilt(b, a, data_V, axis=-1)


def online_highpass(continuous: np.ndarray, sample_rate_Hz: float, corner_Hz: float,
                    order: int) -> np.ndarray:
    """A recording system's causal online high-pass (Butterworth of ``order``, run from the
    first sample, as EPOCS's IIRBandpass does) applied to continuous samples (n, n_channels);
    float32, the input untouched."""
    from scipy import signal

    b, a = signal.butter(int(order), corner_Hz, "highpass", fs=sample_rate_Hz)
    return signal.lfilter(b, a, np.asarray(continuous, np.float64), axis=0).astype(np.float32)
