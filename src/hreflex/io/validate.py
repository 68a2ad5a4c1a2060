"""Checking a session file against format v1.x (``docs/FORMAT.md``) before anyone reads it.

:func:`check_file` returns a list of human-readable problems, each naming the field and
what is wrong; an empty list means the file is valid. It never raises for a bad file.
:func:`check_warnings` lists what a reader should know about a valid file (how it ended).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from hreflex.io.endstate import end_state_warning, read_end_state
from hreflex.io.format import (
    BLOCK_DTYPE,
    FAULT_DTYPE,
    FORMAT_NAME,
    FORMAT_VERSION,
    RECORDED_WAVES,
    RECORDED_WINDOW_DTYPE,
    STIMULUS_DTYPE,
    decode_str,
    open_h5,
)

_REQUIRED = (
    "emg/channel_names",
    "emg/channel_muscles",
    "emg/scale_V_per_count",
    "stimuli/events",
    "stimuli/blocks",
    "faults",
)


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:limit])
    return f"row{'s' if len(idx) > 1 else ''} {shown}{', ...' if len(idx) > limit else ''} (of {len(mask)})"


def _check_version(value: object) -> list[str]:
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        major, minor = (int(p) for p in text.split("."))
    except ValueError:
        return [f"format_version {text!r} is not MAJOR.MINOR"]
    if major > FORMAT_VERSION[0]:
        return [
            f"format version {major}.{minor} is newer than this hreflex reads "
            f"({FORMAT_VERSION[0]}.x); upgrade hreflex"
        ]
    if major < 1:
        return [f"format version {text} predates format 1.0 and cannot be read"]
    return []


def _check_table(f: h5py.File, name: str, dtype: np.dtype) -> list[str]:
    ds = f[name]
    missing = [n for n in dtype.names if ds.dtype.names is None or n not in ds.dtype.names]
    if ds.ndim != 1 or missing:
        return [f"{name}: not a table with fields {', '.join(missing or dtype.names)}"]
    return []


def _check_emg(f: h5py.File) -> list[str]:
    emg = f["emg"]
    problems = []
    rate = emg.attrs.get("sample_rate_Hz")
    if rate is None or not np.isfinite(rate) or rate <= 0:
        problems.append(f"emg: attribute sample_rate_Hz must be a positive number (got {rate!r})")
    n_ch = emg["channel_names"].shape[0] if emg["channel_names"].ndim == 1 else -1
    if n_ch < 1:
        problems.append("emg/channel_names: needs at least one channel name")
    scale = emg["scale_V_per_count"][()]
    if np.shape(scale) != (n_ch,) or not np.all(np.isfinite(scale)) or np.any(scale == 0):
        problems.append(
            f"emg/scale_V_per_count: need {n_ch} finite non-zero values (got {scale!r})"
        )
    if emg["channel_muscles"].shape != (n_ch,):
        problems.append(
            f"emg/channel_muscles: need {n_ch} entries (got {emg['channel_muscles'].shape[0]})"
        )
    has = [k for k in ("continuous", "sweeps") if k in emg]
    if len(has) != 1:
        problems.append(
            "emg: needs exactly one of 'continuous' or 'sweeps' "
            f"(found {', '.join(has) or 'neither'})"
        )
        return problems
    data = emg[has[0]]
    want_ndim, axis = (2, 1) if has[0] == "continuous" else (3, 1)
    if data.ndim != want_ndim or data.shape[axis] != n_ch:
        problems.append(
            f"emg/{has[0]}: shape {data.shape} does not have {n_ch} channels on axis {axis}"
        )
    if has[0] == "sweeps" and "pre_trigger_ms" not in data.attrs:
        problems.append("emg/sweeps: attribute pre_trigger_ms is missing")
    return problems


def _check_stimuli(f: h5py.File) -> list[str]:
    events = f["stimuli/events"][()]
    problems = []
    for name in ("intensity_mA", "time_s"):
        bad = ~np.isfinite(events[name])
        if name == "time_s" and "sweeps" in f["emg"]:
            continue  # epoched imports may not know when each sweep was taken
        if bad.any():
            problems.append(f"stimuli/events: {name} is NaN/inf in {_rows(bad)}")
    if (events["intensity_mA"] < 0).any():
        problems.append(
            f"stimuli/events: intensity_mA is negative in {_rows(events['intensity_mA'] < 0)}"
        )
    emg = f["emg"]
    if "continuous" in emg:
        # indices past the end are left to analysis: in a live file their samples are in flight
        before = events["sample_index"] < 0
        if before.any():
            problems.append(f"stimuli/events: sample_index < 0 in {_rows(before)}")
    elif len(events) != emg["sweeps"].shape[0]:
        problems.append(
            f"stimuli/events: {len(events)} rows but emg/sweeps holds {emg['sweeps'].shape[0]} sweeps"
        )
    return problems


def check_recorded_windows(windows: np.ndarray, n_channels: int) -> list[str]:
    """Problems of a RECORDED_WINDOW table for a file of ``n_channels`` channels ([] = valid):
    ``channel`` in -1..n_channels-1, finite ``start_ms < stop_ms``, ``wave`` m/h/background."""
    name, problems = "emg/recorded_windows", []
    if len(windows) == 0:
        return problems
    channel = windows["channel"]
    bad = (channel < -1) | (channel >= n_channels)
    if bad.any():
        problems.append(
            f"{name}: channel outside -1..{n_channels - 1} in {_rows(bad)} "
            f"(got {int(channel[bad][0])})"
        )
    start, stop = windows["start_ms"], windows["stop_ms"]
    bad = ~(np.isfinite(start) & np.isfinite(stop) & (start < stop))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        problems.append(
            f"{name}: need finite start_ms < stop_ms in {_rows(bad)} "
            f"(got {start[i]:g}..{stop[i]:g} ms)"
        )
    waves = np.array([decode_str(w) for w in windows["wave"]])
    bad = ~np.isin(waves, RECORDED_WAVES)
    if bad.any():
        problems.append(
            f"{name}: wave {str(waves[bad][0])!r} in {_rows(bad)} is not one of "
            f"{', '.join(RECORDED_WAVES)}"
        )
    return problems


def check_file(path: str | Path) -> list[str]:
    """All problems that make ``path`` an invalid format-v1 session file ([] = valid)."""
    path = Path(path)
    if not path.exists():
        return ["no such file"]
    if path.is_dir():
        return ["is a directory, not a session file"]
    try:
        f = open_h5(path)
    except OSError as exc:
        detail = str(exc).split("(")[-1].rstrip(")") if "(" in str(exc) else str(exc)
        return [f"not a readable HDF5 file (truncated, corrupt or another format: {detail})"]
    try:
        with f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != FORMAT_NAME:
                return [
                    f"not an hreflex session file (root attribute 'format' is {fmt!r}, "
                    f"expected {FORMAT_NAME!r})"
                ]
            if "format_version" not in f.attrs:
                return ["root attribute 'format_version' is missing"]
            problems = _check_version(f.attrs["format_version"])
            if problems:
                return problems
            missing = [n for n in ("emg", *_REQUIRED) if n not in f]
            if missing:
                return [f"required dataset/group missing: {', '.join('/' + m for m in missing)}"]
            problems += _check_table(f, "stimuli/events", STIMULUS_DTYPE)
            problems += _check_table(f, "stimuli/blocks", BLOCK_DTYPE)
            problems += _check_table(f, "faults", FAULT_DTYPE)
            problems += _check_emg(f)
            windows = "emg/recorded_windows"
            if windows in f:  # optional (format 1.1)
                table = _check_table(f, windows, RECORDED_WINDOW_DTYPE)
                problems += table or check_recorded_windows(
                    f[windows][()], f["emg/channel_names"].shape[0]
                )
            if not problems:
                problems += _check_stimuli(f)
            return problems
    except (OSError, KeyError, ValueError, TypeError) as exc:
        return [f"unreadable ({type(exc).__name__}: {exc})"]


def check_warnings(path: str | Path) -> list[str]:
    """Things to know about a valid file: its ``end_state`` when the session did not
    complete (stopped early, never closed, recovered). [] when there is nothing to say."""
    try:
        with open_h5(path) as f:
            warning = end_state_warning(read_end_state(f))
    except (OSError, KeyError, ValueError, TypeError):
        return []
    return [warning] if warning else []
