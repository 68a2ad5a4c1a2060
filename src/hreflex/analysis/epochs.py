"""Sweeps around each stimulus, from continuous EMG (one gather, no per-sweep loop) or from a
file that is epoched already, plus the reasons a sweep cannot be used at all.

An epoch is ``n_samples`` samples starting ``start`` samples after (negative: before) the
stimulus sample. Epochs are cut from raw samples and then scaled to volts; windows read from
the file are scaled (and conditioned, :data:`Condition`) a block at a time while the next
ones are read (:meth:`hreflex.io.lazy.LazySamples.stream_windows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hreflex.io.format import FAULT_DTYPE
from hreflex.io.lazy import LazySamples

#: In-place work on sweeps in volts, a block at a time: ``condition(sweeps_V, lo, hi,
#: time_ms)`` conditions rows ``lo..hi-1`` of ``sweeps_V`` (n_sweeps, n_channels, n_samples),
#: the rows before ``lo`` done already (blocks come in order); ``time_ms`` (n_samples,).
Condition = Callable[[np.ndarray, int, int, np.ndarray], None]


@dataclass
class Epochs:
    """Sweeps of one session in volts.

    ``data_V``: (n_sweeps, n_channels, n_samples) float32; sample k of a sweep lies
    ``t0_ms + 1000 k / sample_rate_Hz`` ms after its stimulus. ``saturated``: indexed like
    ``data_V`` with one channel, True where the raw sample reached the amplifier's limit
    (None when the limit is unknown).
    ``unusable``: (n_sweeps, n_channels) reason a sweep/channel could not be read ("" = fine):
    outside the recording, in a recorded gap, NaN samples; such rows hold zeros.
    """

    data_V: np.ndarray
    t0_ms: float
    sample_rate_Hz: float
    saturated: Saturation | None
    unusable: np.ndarray

    @property
    def time_ms(self) -> np.ndarray:
        """(n_samples,) time of every sample relative to the stimulus, ms."""
        return self.t0_ms + np.arange(self.data_V.shape[2]) * (1000.0 / self.sample_rate_Hz)

    def index(self, t_ms: float | np.ndarray) -> np.ndarray:
        """Sample index at or after ``t_ms`` (clipped to the sweep), int."""
        k = np.ceil((np.asarray(t_ms) - self.t0_ms) * self.sample_rate_Hz / 1000.0 - 1e-9)
        return np.clip(k, 0, self.data_V.shape[2]).astype(np.int64)


def gather(continuous: np.ndarray | LazySamples, sample_index: np.ndarray, start: int,
           n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut epochs from ``continuous`` (n_total, n_channels) at ``sample_index`` (n_sweeps,):
    an array, or samples left in the file (:class:`~hreflex.io.lazy.LazySamples`, of which
    only the epochs are read).

    Returns ``(sweeps, inside)``: sweeps (n_sweeps, n_channels, n_samples) of the input dtype
    (rows that do not fit in the recording are zero) and ``inside`` (n_sweeps,) bool.
    """
    sample_index = np.asarray(sample_index, dtype=np.int64)
    first = sample_index + int(start)
    n_total = continuous.shape[0]
    inside = _inside(first, n_samples, n_total)
    out_shape = (len(sample_index), continuous.shape[1], n_samples)
    if n_total < n_samples:
        return np.zeros(out_shape, continuous.dtype), inside
    if isinstance(continuous, LazySamples):
        if inside.all():
            return continuous.read_windows(sample_index, start, n_samples), inside
        sweeps = np.zeros(out_shape, continuous.dtype)
        sweeps[inside] = continuous.read_windows(sample_index[inside], start, n_samples)
        return sweeps, inside
    view = sliding_window_view(continuous, n_samples, axis=0)  # (n_total-n+1, n_ch, n)
    sweeps = view[np.where(inside, first, 0)]
    sweeps[~inside] = 0
    return sweeps, inside


def _inside(first: np.ndarray, n_samples: int, n_total: int) -> np.ndarray:
    """(n_sweeps,) True where the epoch ``[first, first + n_samples)`` lies in ``0..n_total``."""
    return (first >= 0) & (first + n_samples <= n_total)


def gap_overlap(first: np.ndarray, n_samples: int, faults: np.ndarray) -> np.ndarray:
    """(n_sweeps,) row of the first ``gap`` fault overlapping each epoch ``[first, first +
    n_samples)``, -1 where none does."""
    faults = np.asarray(faults, dtype=FAULT_DTYPE)
    rows = np.flatnonzero((faults["kind"] == b"gap") & (faults["n_samples"] > 0))
    first = np.asarray(first, dtype=np.int64)
    out = np.full(first.shape, -1, dtype=np.int64)
    if rows.size == 0:
        return out
    gap_start = faults["sample_start"][rows]
    hit = (first[:, None] < gap_start + faults["n_samples"][rows]) & (
        gap_start < first[:, None] + n_samples)
    any_hit = hit.any(axis=1)
    out[any_hit] = rows[np.argmax(hit[any_hit], axis=1)]
    return out


class Saturation:
    """Which raw samples of sweeps (n_sweeps, n_channels, n_samples) reached the amplifier's
    limit ``level_raw`` (n_channels,), one bit per sample (packed along the samples: an
    eighth of a byte per sample, so the raw sweeps need not be kept). :meth:`mark` records a
    block of raw sweeps; indexing ``[sweeps, channel]`` or ``[sweeps, channel, samples]``
    with one channel returns the boolean mask of that block."""

    def __init__(self, shape: tuple[int, int, int], level_raw: np.ndarray) -> None:
        self.n_samples, self.level_raw = shape[2], level_raw
        self.bits = np.zeros((shape[0], shape[1], -(-shape[2] // 8)), dtype=np.uint8)

    def mark(self, lo: int, raw: np.ndarray) -> None:
        """Record raw sweeps ``lo..lo + len(raw) - 1`` ((k, n_channels, n_samples))."""
        low = self.level_raw.min()
        if raw.size == 0 or (raw.max() < low and raw.min() > -low):
            return  # (nothing reaches any channel's limit: the block's bits stay 0; cheap)
        level = self.level_raw[None, :, None]
        self.bits[lo:lo + raw.shape[0]] = np.packbits((raw >= level) | (raw <= -level),
                                                      axis=2)

    def __getitem__(self, key: tuple) -> np.ndarray:
        rows, channel, samples = (*key, slice(None))[:3]
        if not isinstance(samples, slice):
            return np.unpackbits(self.bits[rows, channel], axis=-1,
                                 count=self.n_samples).view(bool)[..., samples]
        a, b, step = samples.indices(self.n_samples)
        b = max(a, b)  # (only the bytes of samples a..b-1 are unpacked)
        bits = np.unpackbits(self.bits[rows, channel, a // 8:-(-b // 8)], axis=-1)
        return bits.view(bool)[..., a % 8:a % 8 + b - a:step]


def to_volts(raw: np.ndarray, scale_V_per_count: np.ndarray,
             clip_level_V: np.ndarray | None = None) -> tuple[np.ndarray, Saturation | None]:
    """Scale raw sweeps (n_sweeps, n_channels, n_samples) to float32 volts: the float64
    product ``raw x scale`` rounded once (7 significant digits, far below ADC resolution).

    ``clip_level_V`` (n_channels,) is the amplifier limit; the returned :class:`Saturation`
    marks raw samples at or beyond it, less half a count (None without a limit).
    """
    volts = np.empty(raw.shape, dtype=np.float32)
    _scale_into(raw, np.asarray(scale_V_per_count, dtype=np.float64), volts)
    saturated = saturation(raw.shape, raw.dtype, scale_V_per_count, clip_level_V)
    if saturated is not None:
        saturated.mark(0, raw)
    return volts, saturated


def _scale_into(raw: np.ndarray, scale: np.ndarray, volts: np.ndarray) -> None:
    """``volts[...] = raw x scale`` (n_channels,) float64, rounded once to float32."""
    np.multiply(raw, scale[None, :, None], out=volts, casting="same_kind")


def saturation(shape: tuple[int, int, int], dtype: np.dtype, scale_V_per_count: np.ndarray,
               clip_level_V: np.ndarray | None) -> Saturation | None:
    """An empty :class:`Saturation` of raw sweeps of ``shape`` and ``dtype`` for an
    amplifier limit ``clip_level_V`` (n_channels,) V (raw at or beyond it: less half a
    count for integer counts, less 1 ppm for values stored as floats, e.g. imported
    volts); None without a limit."""
    if clip_level_V is None:
        return None
    scale = np.asarray(scale_V_per_count, dtype=np.float64)
    level = np.asarray(clip_level_V, dtype=np.float64) / np.abs(scale)
    if np.dtype(dtype).kind in "iu":  # compare in the raw type: no float copy of the sweeps
        level = np.clip(np.ceil(level - 0.5), 0, np.iinfo(dtype).max).astype(dtype)
    else:  # half a count of a float is no count: half a volt made every sample "saturated"
        level = level * (1.0 - 1e-6)
    return Saturation(shape, level)


def _usable_volts(raw: np.ndarray, scale: np.ndarray, volts: np.ndarray, known: np.ndarray,
                  lo: int, hi: int, time_ms: np.ndarray, condition: Condition | None,
                  saturated: Saturation | None) -> np.ndarray | None:
    """Scale raw sweeps ``lo..hi-1`` (hi - lo, n_channels, n_samples) into those rows of
    ``volts`` and mark them in ``saturated``, zero the unusable ones (``known`` (n_sweeps,
    n_channels) True, or holding NaN samples), then ``condition`` them. Returns the (hi -
    lo, n_channels) rows with NaN samples (None for integer counts)."""
    block = volts[lo:hi]
    _scale_into(raw, scale, block)
    if saturated is not None:
        saturated.mark(lo, raw)
    nan_rows = None if raw.dtype.kind != "f" else ~np.isfinite(block).all(axis=2)
    zero = known[lo:hi] if nan_rows is None else known[lo:hi] | nan_rows
    if zero.any():
        block[zero] = 0.0  # (QC ignores saturation in unusable sweeps)
    if condition is not None:
        condition(volts, lo, hi, time_ms)
    return nan_rows


def _streamed(samples: LazySamples, index: np.ndarray, start: int, n: int,
              scale: np.ndarray, known: np.ndarray, time_ms: np.ndarray,
              condition: Condition | None, saturated: Saturation | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Windows of the file (every one inside the recording) read, and scaled, marked,
    zeroed and conditioned by :func:`_usable_volts` a block at a time in the reading's
    second thread while the next ones are read (the raw windows are never all in memory,
    :meth:`~hreflex.io.lazy.LazySamples.stream_windows`): ``(volts, NaN rows or None)``."""
    volts = np.empty((len(index), samples.shape[1], n), dtype=np.float32)
    nan_rows: list[np.ndarray | None] = []

    def each_block(lo: int, hi: int, rows: np.ndarray) -> None:
        nan_rows.append(_usable_volts(rows.transpose(0, 2, 1), scale, volts, known, lo, hi,
                                      time_ms, condition, saturated))

    samples.stream_windows(index, start, n, each_block)
    if not nan_rows or nan_rows[0] is None:
        return volts, None
    return volts, np.concatenate(nan_rows)


def make_epochs(session, start_ms: float, stop_ms: float,
                clip_level_V: np.ndarray | None = None,
                condition: Condition | None = None) -> Epochs:
    """Sweeps of a :class:`~hreflex.io.session.Session` covering ``start_ms..stop_ms``.

    Continuous files are cut around ``stimuli.sample_index``; epoched files are used as they
    are (their own time range, which may be shorter or longer than asked). Sweeps that leave
    the recording, overlap a ``gap`` fault or hold NaN samples are marked in ``unusable``
    (and are zeros). ``condition`` (:data:`Condition`), if given, then works in place on the
    sweeps (e.g. baseline removal): on all at once, or, when every window is read from the
    file, a block at a time as soon as it is read (in the reading's second thread).
    """
    fs = float(session.sample_rate_Hz)
    n_ch = session.n_channels
    scale = np.asarray(session.scale_V_per_count, dtype=np.float64)
    if session.sweeps is not None:
        raw = np.asarray(session.sweeps)
        t0_ms = -float(session.pre_trigger_ms)
        reasons = np.full((raw.shape[0], n_ch), "", dtype=object)
    else:
        start = int(np.floor(start_ms * fs / 1000.0))
        n = max(1, int(np.ceil(stop_ms * fs / 1000.0)) - start + 1)
        index = np.asarray(session.stimuli["sample_index"], dtype=np.int64)
        n_total = session.continuous.shape[0]
        inside = _inside(index + start, n, n_total)
        t0_ms = start * 1000.0 / fs
        reasons = np.full((len(index), n_ch), "", dtype=object)
        reasons[~inside] = (
            f"epoch {start_ms:g}..{stop_ms:g} ms outside the recording (0..{n_total - 1})")
        gap = gap_overlap(index + start, n, session.faults)
        for k in np.unique(gap[(gap >= 0) & inside]):  # one message per gap, not per sweep
            f = session.faults[k]
            reasons[gap == k] = (f"overlaps recorded gap at samples {f['sample_start']}.."
                                 f"{f['sample_start'] + f['n_samples'] - 1}")
        if isinstance(session.continuous, LazySamples) and inside.all() and index.size:
            time_ms = t0_ms + np.arange(n) * (1000.0 / fs)
            saturated = saturation((len(index), n_ch, n), session.continuous.dtype, scale,
                                   clip_level_V)
            volts, nan_rows = _streamed(session.continuous, index, start, n, scale,
                                        reasons != "", time_ms, condition, saturated)
            return _epochs(volts, nan_rows, reasons, t0_ms, fs, saturated)
        raw = gather(session.continuous, index, start, n)[0]
    volts = np.empty(raw.shape, dtype=np.float32)
    time_ms = t0_ms + np.arange(raw.shape[2]) * (1000.0 / fs)
    saturated = saturation(raw.shape, raw.dtype, scale, clip_level_V)
    nan_rows = _usable_volts(raw, scale, volts, reasons != "", 0, raw.shape[0], time_ms,
                             condition, saturated)
    return _epochs(volts, nan_rows, reasons, t0_ms, fs, saturated)


def _epochs(volts: np.ndarray, nan_rows: np.ndarray | None, reasons: np.ndarray,
            t0_ms: float, fs: float, saturated: Saturation | None) -> Epochs:
    """The :class:`Epochs`, with NaN rows (not unusable already) named in ``reasons``."""
    if nan_rows is not None:  # integer counts cannot be NaN
        reasons[nan_rows & (reasons == "")] = "NaN samples (not recorded)"
    return Epochs(volts, t0_ms, fs, saturated, reasons)
