"""Signal conditioning of sweeps (n_sweeps, n_channels, n_samples), along the last axis.

Baseline (DC) removal from a pre-stimulus window, mains removal by regression on it,
artifact blanking (linear bridge), and
optional zero-phase Butterworth band-pass and mains notch (``scipy.signal.sosfiltfilt``;
``scipy.signal`` is imported only when a filter is used: it costs ~0.9 s of start-up).
Blanking comes before filtering so the filters never smear the stimulus artifact into the
M window. Each function returns a new array and leaves its input alone, except
:func:`remove_mains` (always in place) and :func:`remove_baseline` with ``overwrite=True``.
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


#: harmonics of the mains frequency that :func:`remove_mains` takes out
MAINS_HARMONICS = (1, 2, 3)
#: ``mains = "auto"`` judges 50 against 60 Hz on this many sweeps (the first ones)
AUTO_SWEEPS = 200
#: :func:`remove_mains` subtracts the fitted mains from this many sweeps at a time (its
#: temporary is a block, not the whole recording)
SUBTRACT_SWEEPS = 200
#: rows of :func:`_mains_design` that are the mains (the others model the baseline's drift)
N_MAINS_ROWS = 2 * len(MAINS_HARMONICS)


def _mains_design(time_ms: np.ndarray, freq_Hz: float, centre_ms: float = 0.0) -> np.ndarray:
    """(N_MAINS_ROWS + 3, n_samples): sine and cosine of each harmonic, then a constant, a
    line and a parabola about ``centre_ms`` (slow drift, which must not leak into the fit)."""
    phase = 2 * np.pi * freq_Hz * time_ms / 1000.0
    rows = [f(k * phase) for k in MAINS_HARMONICS for f in (np.sin, np.cos)]
    u = (time_ms - centre_ms) / 50.0
    return np.vstack([*rows, np.ones_like(time_ms), u, u**2])


def mains_fit(data_V: np.ndarray, time_ms: np.ndarray, window: slice, freq_Hz: float
              ) -> tuple[np.ndarray, float]:
    """Least-squares mains of every sweep (..., n_samples) over its ``window`` samples, with
    a parabola for the drift: ``(coefficients (..., N_MAINS_ROWS), power)``, power = the mean
    square of the fitted mains over the window (all sweeps), V^2. In ``data_V``'s dtype."""
    t = time_ms[window]
    x = _mains_design(t, freq_Hz, float(t.mean()))
    coef = data_V[..., window] @ np.linalg.pinv(x).astype(data_V.dtype)  # (..., k + 3)
    mains = coef[..., :N_MAINS_ROWS]
    gram = (x[:N_MAINS_ROWS] @ x[:N_MAINS_ROWS].T / t.size).astype(data_V.dtype)
    flat = mains.reshape(-1, N_MAINS_ROWS)
    power = float(np.einsum("si,ij,sj->", flat, gram, flat, dtype=np.float64)) / max(
        flat.shape[0], 1)
    return mains, power


def mains_choices(time_ms: np.ndarray, window_ms: tuple[float, float], mains: str
                  ) -> list[float]:
    """The mains frequencies ``mains`` ("50", "60", "auto", "off") allows whose period fits
    in the baseline ``window_ms`` (none: no mains removal; two: "auto", judged on sweeps)."""
    sl = window_slice(time_ms, window_ms)
    if mains == "off" or sl is None:
        return []
    span_ms = float(time_ms[sl][-1] - time_ms[sl][0])
    freqs = [50.0, 60.0] if mains == "auto" else [float(mains)]
    return [f for f in freqs if span_ms >= 1000.0 / f]


def mains_frequency(sample_V: np.ndarray, time_ms: np.ndarray, window_ms: tuple[float, float],
                    freqs: list[float]) -> float | None:
    """Which of ``freqs`` (:func:`mains_choices`) to take out: the only one, or the one whose
    fit has more power over the sweeps of ``sample_V`` (the first ``AUTO_SWEEPS``, all
    channels); None without any."""
    if len(freqs) <= 1:
        return freqs[0] if freqs else None
    sl = window_slice(time_ms, window_ms)
    return freqs[int(np.argmax([mains_fit(sample_V, time_ms, sl, f)[1] for f in freqs]))]


def mains_model(time_ms: np.ndarray, window_ms: tuple[float, float], freq_Hz: float,
                dtype: np.dtype) -> tuple[slice, np.ndarray, np.ndarray]:
    """What :func:`subtract_mains` needs, computed once for any number of sweeps: the
    baseline window, the least-squares projector over it ((window samples, N_MAINS_ROWS +
    3)) and the mains over the whole sweep ((N_MAINS_ROWS, n_samples)), in ``dtype``."""
    window = window_slice(time_ms, window_ms)
    t = time_ms[window]
    projector = np.linalg.pinv(_mains_design(t, freq_Hz, float(t.mean()))).astype(dtype)
    return window, projector, _mains_design(time_ms, freq_Hz)[:N_MAINS_ROWS].astype(dtype)


def subtract_mains(data_V: np.ndarray, model: tuple[slice, np.ndarray, np.ndarray]) -> None:
    """Subtract from every sweep (..., n_samples), in place, the mains of ``model``
    (:func:`mains_model`: harmonics ``MAINS_HARMONICS`` fitted to the sweep's baseline
    window, extended over the whole sweep); ``SUBTRACT_SWEEPS`` sweeps at a time. Each
    sweep's result depends on that sweep only, so sweeps may come a block at a time."""
    window, projector, design = model
    coef = (data_V[..., window] @ projector)[..., :N_MAINS_ROWS]
    for i in range(0, data_V.shape[0], SUBTRACT_SWEEPS):
        data_V[i:i + SUBTRACT_SWEEPS] -= coef[i:i + SUBTRACT_SWEEPS] @ design


def remove_mains(data_V: np.ndarray, time_ms: np.ndarray, window_ms: tuple[float, float],
                 mains: str) -> tuple[np.ndarray, float | None]:
    """Subtract from every sweep (..., n_samples) the mains (harmonics ``MAINS_HARMONICS`` of
    50 or 60 Hz) fitted to its baseline ``window_ms`` and extended over the whole sweep.
    Mains interference is a steady sinusoid, so the fit on the baseline predicts it under the
    responses; where the stimulation rate locks to it (trains at 5 or 10 Hz are whole mains
    periods) averaging over sweeps would not take it out. ``mains``: "50", "60", "auto"
    (the one whose fit has more power over the first ``AUTO_SWEEPS`` sweeps) or "off". The
    window must hold one period at least, else nothing is done. In place; returns
    ``(data, the frequency used or None)``. :class:`MainsByBlock` does the same to sweeps
    arriving a block at a time."""
    freq = mains_frequency(data_V[:AUTO_SWEEPS], time_ms, window_ms,
                           mains_choices(time_ms, window_ms, mains))
    if freq is not None:
        subtract_mains(data_V, mains_model(time_ms, window_ms, freq, data_V.dtype))
    return data_V, freq


class MainsByBlock:
    """:func:`remove_mains` on sweeps (n_sweeps, ...) that arrive a block at a time, in
    order: call it with ``(sweeps, lo, hi, time_ms)`` for each block ``lo..hi-1`` (the rows
    before ``lo`` came already). It subtracts as soon as the frequency is known ("auto":
    once the first ``AUTO_SWEEPS`` sweeps, or all there are, have come); the result is
    :func:`remove_mains`'s, bit for bit. ``freq_Hz``: the frequency used (None: none)."""

    def __init__(self, window_ms: tuple[float, float], mains: str) -> None:
        self.window_ms, self.mains = window_ms, mains
        self.freq_Hz: float | None = None
        self._decided, self._done, self._model = False, 0, None

    def __call__(self, sweeps: np.ndarray, lo: int, hi: int, time_ms: np.ndarray) -> None:
        if not self._decided:
            freqs = mains_choices(time_ms, self.window_ms, self.mains)
            if len(freqs) > 1 and hi < min(AUTO_SWEEPS, sweeps.shape[0]):
                return  # not yet the sweeps "auto" is judged on
            self.freq_Hz = mains_frequency(sweeps[:AUTO_SWEEPS], time_ms, self.window_ms,
                                           freqs)
            self._decided = True
            if self.freq_Hz is not None:
                self._model = mains_model(time_ms, self.window_ms, self.freq_Hz, sweeps.dtype)
        if self._model is not None:
            subtract_mains(sweeps[self._done:hi], self._model)
        self._done = hi


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
