"""Session file format v1.1: names, versions and table layouts (see ``docs/FORMAT.md``).

This module holds the vocabulary (and how to open a file for reading) so the writer, the
reader, importers and tests all agree on one definition. Every table is a 1-D HDF5 dataset of a fixed-size
compound type (fixed-length byte strings, no variable-length fields) so it can be appended
to in SWMR mode while recording.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

FORMAT_NAME = "hreflex-session"
#: (major, minor). A reader accepts files of its own major version; a newer major is refused.
#: 1.1 added the optional ``/emg/recorded_windows`` table (1.0 files are read unchanged).
FORMAT_VERSION = (1, 1)

#: Stimulus events, one row per delivered stimulus (one row per sweep in epoched files).
STIMULUS_DTYPE = np.dtype(
    [
        (
            "sample_index",
            "<i8",
        ),  # stimulus onset on the EMG sample clock (row of /emg/continuous); -1 epoched
        ("time_s", "<f8"),  # onset time from the start of the recording, s (sample_index / rate)
        ("intensity_mA", "<f8"),  # delivered intensity, mA (as reported by the stimulator)
        ("intensity_requested_mA", "<f8"),  # requested intensity, mA (NaN when unknown)
        ("pulse_width_us", "<f8"),  # delivered pulse width, µs
        ("pulse_width_requested_us", "<f8"),  # requested pulse width, µs (NaN when unknown)
        ("block_id", "<i4"),  # protocol block (row of /stimuli/blocks), -1 when none
        ("train_id", "<i4"),  # RDD train number within the session, -1 outside trains
        ("pulse_index", "<i4"),  # position within the train (0 = first), -1 outside trains
        ("nominal_frequency_Hz", "<f8"),  # train frequency, Hz; NaN outside RDD trains
        (
            "sync_method",
            "S16",
        ),  # how sample_index was found: trigger | timestamp | model | imported
        ("sync_residual_samples", "<f4"),  # |residual| of that alignment, samples; NaN if n/a
        ("wait_s", "<f4"),  # time spent waiting for background-EMG gating, s (0 = none)
    ]
)

#: Protocol blocks of the session, in the order they were run.
BLOCK_DTYPE = np.dtype(
    [
        ("block_id", "<i4"),
        ("kind", "S16"),  # recruitment | rdd | fixed
        ("label", "S64"),  # free text, e.g. "soleus recruitment"
    ]
)

#: Faults and gaps: anything that happened to the recording, with the samples it affected.
FAULT_DTYPE = np.dtype(
    [
        (
            "kind",
            "S32",
        ),  # gap | crc_error | device_reset | disconnect | reconnect | saturation | ...
        (
            "sample_start",
            "<i8",
        ),  # first affected sample on the EMG clock (-1 when not tied to samples)
        ("n_samples", "<i8"),  # number of affected samples (0 when none, e.g. a CRC error count)
        ("detail", "S128"),  # free text
    ]
)

#: Non-destructive annotations written by analysis or a user (never changes raw data).
ANNOTATION_DTYPE = np.dtype(
    [
        ("sweep", "<i8"),  # row of /stimuli/events the annotation is about
        ("channel", "<i4"),  # channel index, -1 = all channels
        ("reason", "S128"),  # e.g. "background EMG 85 µV > 50 µV"
        ("source", "S32"),  # auto-qc | user
    ]
)

#: Windows a recording system defined (e.g. EPOCS's ResponseDefinition), one row per window,
#: kept so analysis can measure where the lab measured (``/emg/recorded_windows``).
RECORDED_WINDOW_DTYPE = np.dtype(
    [
        ("channel", "<i4"),  # index into /emg/channel_names, -1 = every channel
        ("wave", "S16"),  # m | h | background (lower case)
        ("start_ms", "<f8"),  # window start relative to the stimulus, ms
        ("stop_ms", "<f8"),  # window end relative to the stimulus, ms (> start_ms)
        ("measure", "S16"),  # p2p | mean_rect | area | rms | "" (unknown)
        ("source", "S64"),  # free text, e.g. "EPOCS ResponseDefinition EMG1"
    ]
)
#: ``wave`` values of RECORDED_WINDOW_DTYPE
RECORDED_WAVES = ("m", "h", "background")
#: ``measure`` values of RECORDED_WINDOW_DTYPE ("" = unknown; readers treat others as unknown)
RECORDED_MEASURES = ("p2p", "mean_rect", "area", "rms", "")

#: Values an "unknown" cell holds, per kind of field.
_INT_UNKNOWN = -1
_FLOAT_UNKNOWN = np.nan


def empty_table(dtype: np.dtype, n: int = 0) -> np.ndarray:
    """Return an ``(n,)`` table of ``dtype`` filled with "unknown" values.

    Floats are NaN, integers -1 and strings empty, except ``wait_s`` (0: no wait) and
    ``n_samples`` (0), so a caller only fills in what it knows.
    """
    table = np.zeros(n, dtype=dtype)
    for name in dtype.names:
        kind = dtype[name].kind
        if kind == "f":
            table[name] = _FLOAT_UNKNOWN
        elif kind == "i":
            table[name] = _INT_UNKNOWN
    for name in ("wait_s", "n_samples"):
        if name in dtype.names:
            table[name] = 0
    return table


def as_table(rows: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``rows`` (a structured array having every field of ``dtype``) as a ``dtype`` table,
    fields copied by name (numpy's ``astype`` would pair them by position)."""
    table = empty_table(dtype, len(rows))
    for name in dtype.names:
        table[name] = rows[name]
    return table


def decode_str(value: bytes | np.bytes_ | str) -> str:
    """Fixed-length UTF-8 bytes from a table cell -> ``str``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def version_string(version: tuple[int, int] = FORMAT_VERSION) -> str:
    """``(1, 0)`` -> ``"1.0"``."""
    return f"{version[0]}.{version[1]}"


def open_h5(path: str | os.PathLike[str]) -> h5py.File:
    """Open an HDF5 file for reading, tolerating a writer that is recording (or was killed).

    A plain open is tried first: it refuses truncated files immediately. Only a file flagged
    as open by a SWMR writer is then reopened with ``swmr=True`` (a SWMR open of a truncated
    file would retry metadata reads for minutes). Raises ``OSError`` as h5py does.
    """
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "already open for write" not in str(exc):
            raise
    return h5py.File(path, "r", swmr=True)
