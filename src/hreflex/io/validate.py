"""Checking a session file against format v1.x (``docs/FORMAT.md``) before anyone reads it:
structure, types, shapes and the file-level rules here, the table values in
:mod:`hreflex.io.validate_tables`.

:func:`check_file` returns a list of human-readable problems, each naming the field and
what is wrong; an empty list means the file is valid. It never raises for a bad file.
:func:`check_warnings` lists what a reader should know about a valid file (how it ended).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from hreflex.io.endstate import ATTR as END_STATE
from hreflex.io.endstate import (
    COMPLETED,
    RECORDING,
    RECOVERED,
    STOPPED_PREFIX,
    end_state_warning,
    read_end_state,
)
from hreflex.io.format import (
    ANNOTATION_DTYPE,
    BLOCK_DTYPE,
    FAULT_DTYPE,
    FORMAT_NAME,
    FORMAT_VERSION,
    RECORDED_WINDOW_DTYPE,
    STIMULUS_DTYPE,
    decode_str,
    open_h5,
)
from hreflex.io.validate_tables import (
    check_annotations,
    check_blocks,
    check_devices,
    check_faults,
    check_fields,
    check_recorded_windows,
    check_stimuli,
    is_number,
    is_string,
    is_string_dataset,
    show,
)

#: what must exist, and as what
_GROUPS = ("emg", "stimuli")
#: volts per raw unit above this are no EMG recording (float volts use 1, ADC counts µV)
MAX_SCALE_V = 10.0

_REQUIRED = ("emg/channel_names", "emg/channel_muscles", "emg/scale_V_per_count",
             "stimuli/events", "stimuli/blocks", "faults")
#: optional objects, and what they must be when present
_OPTIONAL_GROUPS = ("config", "devices", "analysis")
_OPTIONAL_STRINGS = ("config/session_toml", "analysis/results_json")
#: root attributes that are strings (``docs/FORMAT.md``, "Root attributes")
ROOT_STRINGS = ("format_version", "created_utc", "software_version", "subject_id",
                "session_id", "condition", "species", "muscle", "nerve", "notes", END_STATE)
#: the dtypes EMG samples may have, and the range of a sane sampling rate (Hz)
EMG_DTYPES = (np.dtype("int16"), np.dtype("int32"), np.dtype("float32"))
MIN_RATE_HZ, MAX_RATE_HZ = 100.0, 1.0e6


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


def check_rate(rate: object, what: str = "emg: attribute sample_rate_Hz") -> list[str]:
    """A sampling rate in Hz: a finite number in MIN_RATE_HZ..MAX_RATE_HZ."""
    if is_number(rate) and MIN_RATE_HZ <= float(rate) <= MAX_RATE_HZ:
        return []
    return [f"{what} must be a number of Hz in {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} (got {show(rate)})"]


def check_pre_trigger(pre_ms: object, n_samples: int, rate: float,
                      what: str = "emg/sweeps: attribute pre_trigger_ms") -> list[str]:
    """``pre_trigger_ms``: finite, and the stimulus less than one sweep duration from
    sample 0 (|pre_trigger_ms| < n_samples x 1000 / rate)."""
    duration = n_samples * 1000.0 / rate
    if is_number(pre_ms) and abs(float(pre_ms)) < duration:
        return []
    return [f"{what} must be a number of ms with |pre_trigger_ms| < the sweep duration "
            f"({duration:g} ms) (got {show(pre_ms)})"]


def _check_structure(f: h5py.File) -> list[str]:
    """Every required group/dataset exists as what it must be; root attributes are strings."""
    missing = [n for n in (*_GROUPS, *_REQUIRED) if n not in f]
    if missing:
        return [f"required dataset/group missing: {', '.join('/' + m for m in missing)}"]
    p = [f"/{n}: must be a group" for n in (*_GROUPS, *_OPTIONAL_GROUPS)
         if n in f and not isinstance(f[n], h5py.Group)]
    p += [f"/{n}: must be a dataset" for n in _REQUIRED if not isinstance(f[n], h5py.Dataset)]
    if p:
        return p
    p += [f"/{n}: must be a scalar string" for n in _OPTIONAL_STRINGS if n in f and not (
        isinstance(f[n], h5py.Dataset) and f[n].shape == () and is_string_dataset(f[n]))]
    p += [f"root attribute {k} must be a string (got {show(f.attrs[k])})"
          for k in ROOT_STRINGS if k in f.attrs and not is_string(f.attrs[k])]
    state = read_end_state(f)
    if state is not None and state not in (RECORDING, COMPLETED, RECOVERED) \
            and not state.startswith(STOPPED_PREFIX):
        p.append(f"root attribute {END_STATE} {show(state)} is not one of {RECORDING!r}, "
                 f"{COMPLETED!r}, {RECOVERED!r} or '{STOPPED_PREFIX}<reason>'")
    return p


def _check_channels(emg: h5py.Group) -> tuple[int, list[str]]:
    """(number of channels, problems) of the channel description datasets."""
    names, p = emg["channel_names"], []
    n_ch = names.shape[0] if names.ndim == 1 else -1
    if n_ch < 1 or not is_string_dataset(names):
        p.append("emg/channel_names: need a list of at least one channel name (strings)")
    muscles = emg["channel_muscles"]
    if muscles.shape != (n_ch,) or not is_string_dataset(muscles):
        p.append(f"emg/channel_muscles: need {n_ch} strings (got {muscles.dtype} "
                 f"{muscles.shape})")
    scale = emg["scale_V_per_count"]
    values = scale[()] if scale.dtype.kind == "f" else None
    if values is None or np.shape(values) != (n_ch,) or not np.all(np.isfinite(values)) \
            or np.any(values == 0):
        p.append(f"emg/scale_V_per_count: need {n_ch} finite non-zero floats (got "
                 f"{scale.dtype} {scale.shape})")
    elif np.any(np.abs(values) > MAX_SCALE_V):
        p.append(f"emg/scale_V_per_count: {float(np.abs(values).max()):g} V per count is not "
                 f"an EMG scale (at most {MAX_SCALE_V:g} V; volts stored as floats use 1)")
    return n_ch, p


def _check_emg(f: h5py.File) -> list[str]:
    emg = f["emg"]
    rate = emg.attrs.get("sample_rate_Hz")
    p = check_rate(rate)
    layout = emg.attrs.get("layout")
    if layout is not None and decode_str(layout) not in ("continuous", "epoched"):
        p.append(f"emg: attribute layout must be 'continuous' or 'epoched' (got {show(layout)})")
    n_ch, problems = _check_channels(emg)
    p += problems
    has = [k for k in ("continuous", "sweeps") if k in emg]
    if len(has) != 1:
        return p + ["emg: needs exactly one of 'continuous' or 'sweeps' "
                    f"(found {', '.join(has) or 'neither'})"]
    name = f"emg/{has[0]}"
    data = emg[has[0]]
    if not isinstance(data, h5py.Dataset):
        return p + [f"{name}: must be a dataset"]
    if data.dtype not in EMG_DTYPES:
        p.append(f"{name}: dtype {data.dtype} is not int16, int32 or float32")
    if has[0] == "continuous":
        if data.ndim != 2 or data.shape[1] != n_ch:
            p.append(f"{name}: shape {data.shape} is not (n_samples, {n_ch} channels)")
        return p + _check_trigger(f, data.shape[0])
    if data.ndim != 3 or data.shape[1] != n_ch or data.shape[2] < 1:
        p.append(f"{name}: shape {data.shape} is not (n_sweeps, {n_ch} channels, "
                 "n_sweep_samples >= 1)")
    if "trigger" in emg:
        p.append("emg/trigger: only continuous files have a trigger")
    if "pre_trigger_ms" not in data.attrs:
        p.append(f"{name}: attribute pre_trigger_ms is missing")
    elif not p:
        p += check_pre_trigger(data.attrs["pre_trigger_ms"], data.shape[2], float(rate))
    return p


def _check_trigger(f: h5py.File, n_samples: int) -> list[str]:
    """``/emg/trigger``: (n_samples,) uint8; a file being recorded may be a flush apart."""
    if "emg/trigger" not in f:
        return []
    trig = f["emg/trigger"]
    if not isinstance(trig, h5py.Dataset) or trig.dtype != np.uint8 or trig.ndim != 1:
        return [f"emg/trigger: need a 1-D uint8 dataset (got {getattr(trig, 'dtype', 'a group')})"]
    if trig.shape[0] != n_samples and read_end_state(f) != RECORDING:
        return [f"emg/trigger: {trig.shape[0]} samples but emg/continuous has {n_samples}"]
    return []


def _check_tables(f: h5py.File) -> list[str]:
    """Every table's fields, then (if they are right) its values."""
    tables = {"stimuli/events": STIMULUS_DTYPE, "stimuli/blocks": BLOCK_DTYPE,
              "faults": FAULT_DTYPE}
    for optional, dtype in (("emg/recorded_windows", RECORDED_WINDOW_DTYPE),
                            ("analysis/annotations", ANNOTATION_DTYPE)):
        if optional in f:
            tables[optional] = dtype
    p = [q for name, dtype in tables.items() for q in check_fields(f[name], name, dtype)]
    if p:
        return p
    events, blocks = f["stimuli/events"][()], f["stimuli/blocks"][()]
    emg, n_ch = f["emg"], f["emg/channel_names"].shape[0]
    p += check_blocks(blocks)
    p += check_stimuli(events, continuous="continuous" in emg)
    p += check_faults(f["faults"][()])
    if "sweeps" in emg and len(events) != emg["sweeps"].shape[0]:
        p.append(f"stimuli/events: {len(events)} rows but emg/sweeps holds "
                 f"{emg['sweeps'].shape[0]} sweeps")
    if "emg/recorded_windows" in tables:
        p += check_recorded_windows(f["emg/recorded_windows"][()], n_ch)
    if "analysis/annotations" in tables:
        p += check_annotations(f["analysis/annotations"][()], len(events), n_ch)
    if "devices" in f:
        p += check_devices(f["devices"])
    return p


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
            problems = _check_version(f.attrs["format_version"]) or _check_structure(f)
            if problems:
                return problems
            problems = _check_emg(f)
            return problems + (_check_tables(f) if not problems else [])
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        return [f"unreadable ({type(exc).__name__}: {' '.join(str(exc).split())})"]


def check_warnings(path: str | Path) -> list[str]:
    """Things to know about a valid file: its ``end_state`` when the session did not
    complete (stopped early, never closed, recovered). [] when there is nothing to say."""
    try:
        with open_h5(path) as f:
            warning = end_state_warning(read_end_state(f))
    except (OSError, KeyError, ValueError, TypeError):
        return []
    return [warning] if warning else []
