"""Sweeps around each stimulus, from continuous EMG (one gather, no per-sweep loop) or from a
file that is epoched already, plus the reasons a sweep cannot be used at all.

An epoch is ``n_samples`` samples starting ``start`` samples after (negative: before) the
stimulus sample. Everything here works on raw samples; :func:`to_volts` scales afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hreflex.io.format import FAULT_DTYPE
from hreflex.io.lazy import LazySamples


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
    inside = (first >= 0) & (first + n_samples <= n_total)
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
    """Lazy saturation mask of raw sweeps (n_sweeps, n_channels, n_samples): indexing
    ``[sweeps, channel, samples]`` with one channel returns the boolean mask of that block
    (raw value at or beyond the channel's limit), computed only where it is asked for."""

    def __init__(self, raw: np.ndarray, level_raw: np.ndarray) -> None:
        self.raw, self.level_raw = raw, level_raw

    def __getitem__(self, key: tuple) -> np.ndarray:
        lv = self.level_raw[key[1]]
        block = self.raw[key]
        return (block >= lv) | (block <= -lv)


def to_volts(raw: np.ndarray, scale_V_per_count: np.ndarray,
             clip_level_V: np.ndarray | None = None) -> tuple[np.ndarray, Saturation | None]:
    """Scale raw sweeps (n_sweeps, n_channels, n_samples) to float32 volts: the float64
    product ``raw x scale`` rounded once (7 significant digits, far below ADC resolution).

    ``clip_level_V`` (n_channels,) is the amplifier limit; the returned :class:`Saturation`
    marks raw samples at or beyond it, less half a count (None without a limit).
    """
    scale = np.asarray(scale_V_per_count, dtype=np.float64)
    volts = np.empty(raw.shape, dtype=np.float32)  # raw x scale in float64, rounded once
    np.multiply(raw, scale[None, :, None], out=volts, casting="same_kind")
    if clip_level_V is None:
        return volts, None
    level = np.asarray(clip_level_V, dtype=np.float64) / np.abs(scale) - 0.5
    if raw.dtype.kind in "iu":  # compare in the raw type: no float copy of the sweeps
        level = np.clip(np.ceil(level), 0, np.iinfo(raw.dtype).max).astype(raw.dtype)
    return volts, Saturation(raw, level)


def make_epochs(session, start_ms: float, stop_ms: float,
                clip_level_V: np.ndarray | None = None) -> Epochs:
    """Sweeps of a :class:`~hreflex.io.session.Session` covering ``start_ms..stop_ms``.

    Continuous files are cut around ``stimuli.sample_index``; epoched files are used as they
    are (their own time range, which may be shorter or longer than asked). Sweeps that leave
    the recording, overlap a ``gap`` fault or hold NaN samples are marked in ``unusable``.
    """
    fs = float(session.sample_rate_Hz)
    n_ch = session.n_channels
    if session.sweeps is not None:
        raw = np.asarray(session.sweeps)
        t0_ms = -float(session.pre_trigger_ms)
        reasons = np.full((raw.shape[0], n_ch), "", dtype=object)
    else:
        start = int(np.floor(start_ms * fs / 1000.0))
        n = max(1, int(np.ceil(stop_ms * fs / 1000.0)) - start + 1)
        index = np.asarray(session.stimuli["sample_index"], dtype=np.int64)
        raw, inside = gather(session.continuous, index, start, n)
        t0_ms = start * 1000.0 / fs
        reasons = np.full((raw.shape[0], n_ch), "", dtype=object)
        n_total = session.continuous.shape[0]
        reasons[~inside] = (
            f"epoch {start_ms:g}..{stop_ms:g} ms outside the recording (0..{n_total - 1})")
        gap = gap_overlap(index + start, n, session.faults)
        for k in np.unique(gap[(gap >= 0) & inside]):  # one message per gap, not per sweep
            f = session.faults[k]
            reasons[gap == k] = (f"overlaps recorded gap at samples {f['sample_start']}.."
                                 f"{f['sample_start'] + f['n_samples'] - 1}")
    volts, saturated = to_volts(raw, session.scale_V_per_count, clip_level_V)
    if raw.dtype.kind == "f":  # integer counts cannot be NaN
        bad = ~np.isfinite(volts).all(axis=2) & (reasons == "")
        reasons[bad] = "NaN samples (not recorded)"
    unusable = reasons != ""
    if unusable.any():
        volts[unusable] = 0.0  # (QC ignores saturation in unusable sweeps)
    return Epochs(volts, t0_ms, fs, saturated, reasons)
