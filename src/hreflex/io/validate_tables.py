"""The value rules of the session file's tables and device attributes (``docs/FORMAT.md``),
used by :mod:`hreflex.io.validate`. Every function returns a list of problems, each naming
the dataset, field and rows; [] means valid. Tables are 1-D structured arrays already
checked to have every field of their dtype (:func:`check_fields`)."""

from __future__ import annotations

import h5py
import numpy as np

from hreflex.io.format import RECORDED_WAVES, decode_str

#: values of ``/stimuli/blocks.kind`` and ``/analysis/annotations.source``
BLOCK_KINDS = ("recruitment", "rdd", "fixed")
ANNOTATION_SOURCES = ("auto-qc", "user")
#: typed attributes of the ``amplifier`` and ``stimulator`` device groups
DEVICE_STRINGS = ("model", "serial_number", "firmware", "port")
DEVICE_INTEGERS = {"protocol_version": (0, 255), "adc_bits": (1, 32)}
DEVICE_NUMBERS = ("sample_rate_Hz", "gain", "highpass_Hz", "lowpass_Hz", "max_intensity_mA",
                  "max_pulse_width_us", "max_rate_Hz")
#: dtype kinds a field of each kind may have in a file (widths may differ)
_KINDS = {"i": "iu", "u": "iu", "f": "fiu", "S": "SO"}


def rows(mask: np.ndarray, limit: int = 5) -> str:
    """``rows 3, 7 (of 10)``: where ``mask`` is True."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:limit])
    more = ", ..." if len(idx) > limit else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more} (of {len(mask)})"


def show(value: object) -> str:
    """A value as a message shows it: numbers plainly (``1e-09``, ``nan``), text quoted."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return f"{value:g}" if isinstance(value, float) else repr(value)


def is_number(value: object) -> bool:
    """A real scalar number (not a bool, a string or an array)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def is_string(value: object) -> bool:
    return isinstance(value, (str, bytes))


def is_string_dataset(ds: h5py.Dataset) -> bool:
    """A dataset of UTF-8/ASCII strings (variable or fixed length)."""
    return h5py.check_string_dtype(ds.dtype) is not None or ds.dtype.kind == "S"


def check_fields(ds: h5py.Dataset, name: str, dtype: np.dtype) -> list[str]:
    """A 1-D table with every field of ``dtype``, each of a compatible kind."""
    have = ds.dtype.names or ()
    missing = [n for n in dtype.names if n not in have]
    if ds.ndim != 1 or missing:
        return [f"{name}: not a table with fields {', '.join(missing or dtype.names)}"]
    wrong = [f"{n} ({ds.dtype[n]})" for n in dtype.names
             if ds.dtype[n].kind not in _KINDS[dtype[n].kind] or ds.dtype[n].shape]
    if wrong:
        return [f"{name}: wrong type of field {', '.join(wrong)} (FORMAT.md gives the types)"]
    return []


def _where(name: str, table: np.ndarray, field: str, bad: np.ndarray, rule: str) -> list[str]:
    if not bad.any():
        return []
    first = table[field][bad][0]
    shown = decode_str(first) if isinstance(first, bytes) else f"{first:g}" if isinstance(
        first, np.floating) else str(first)
    return [f"{name}: {field} must be {rule} ({rows(bad)}; got {shown})"]


def _nan_or_nonneg(name: str, table: np.ndarray, field: str) -> list[str]:
    v = table[field].astype(np.float64)
    return _where(name, table, field, ~np.isnan(v) & ~(np.isfinite(v) & (v >= 0)),
                  "NaN (unknown) or a finite number >= 0")


def check_stimuli(events: np.ndarray, continuous: bool) -> list[str]:
    """Rules of ``/stimuli/events`` (see FORMAT.md) for a continuous or epoched file."""
    name, p = "stimuli/events", []
    intensity = events["intensity_mA"].astype(np.float64)
    p += _where(name, events, "intensity_mA", ~(np.isfinite(intensity) & (intensity >= 0)),
                "finite and >= 0")
    if continuous:
        p += _where(name, events, "sample_index", events["sample_index"] < 0, ">= 0")
        p += _where(name, events, "time_s", ~np.isfinite(events["time_s"].astype(float)),
                    "finite in a continuous file")
    for field in ("intensity_requested_mA", "pulse_width_us", "pulse_width_requested_us",
                  "sync_residual_samples"):
        p += _nan_or_nonneg(name, events, field)
    wait = events["wait_s"].astype(np.float64)
    p += _where(name, events, "wait_s", ~(np.isfinite(wait) & (wait >= 0)), "finite and >= 0")
    p += _where(name, events, "block_id", events["block_id"] < -1, ">= -1")
    train, pulse = events["train_id"], events["pulse_index"]
    p += _where(name, events, "train_id", train < -1, ">= -1")
    p += _where(name, events, "pulse_index", (pulse < -1) | ((pulse >= 0) != (train >= 0)),
                ">= 0 inside a train (train_id >= 0) and -1 outside")
    freq = events["nominal_frequency_Hz"].astype(np.float64)
    p += _where(name, events, "nominal_frequency_Hz",
                ~np.isnan(freq) & ~(np.isfinite(freq) & (freq > 0)),
                "NaN (outside trains) or a finite frequency > 0")
    return p


def check_blocks(blocks: np.ndarray) -> list[str]:
    """Rules of ``/stimuli/blocks``: unique ids >= 0, kind one of :data:`BLOCK_KINDS`."""
    name, p = "stimuli/blocks", []
    ids = blocks["block_id"]
    _, first = np.unique(ids, return_index=True)
    repeated = np.ones(len(ids), bool)
    repeated[first] = False
    p += _where(name, blocks, "block_id", (ids < 0) | repeated, ">= 0 and unique")
    kinds = np.array([decode_str(k) for k in blocks["kind"]], dtype=object)
    p += _where(name, blocks, "kind", ~np.isin(kinds, BLOCK_KINDS), " or ".join(BLOCK_KINDS))
    return p


def check_faults(faults: np.ndarray) -> list[str]:
    """Rules of ``/faults``: sample_start >= -1 (>= 0 for gaps), n_samples >= 0."""
    name, p = "faults", []
    start, gap = faults["sample_start"], faults["kind"] == b"gap"
    p += _where(name, faults, "sample_start", (start < -1) | (gap & (start < 0)),
                ">= -1, and >= 0 in gap rows")
    p += _where(name, faults, "n_samples", faults["n_samples"] < 0, ">= 0")
    return p


def check_annotations(table: np.ndarray, n_stimuli: int, n_channels: int) -> list[str]:
    """Rules of ``/analysis/annotations``: a sweep and channel of this file, a known source."""
    name, p = "analysis/annotations", []
    p += _where(name, table, "sweep", (table["sweep"] < 0) | (table["sweep"] >= n_stimuli),
                f"a row of stimuli/events (0..{n_stimuli - 1})")
    ch = table["channel"]
    p += _where(name, table, "channel", (ch < -1) | (ch >= n_channels),
                f"-1 or a channel index (0..{n_channels - 1})")
    sources = np.array([decode_str(s) for s in table["source"]], dtype=object)
    p += _where(name, table, "source", ~np.isin(sources, ANNOTATION_SOURCES),
                " or ".join(ANNOTATION_SOURCES))
    return p


def check_recorded_windows(windows: np.ndarray, n_channels: int) -> list[str]:
    """Problems of a RECORDED_WINDOW table for a file of ``n_channels`` channels ([] = valid):
    ``channel`` in -1..n_channels-1, finite ``start_ms < stop_ms``, ``wave`` m/h/background."""
    name, p = "emg/recorded_windows", []
    if len(windows) == 0:
        return p
    channel = windows["channel"]
    p += _where(name, windows, "channel", (channel < -1) | (channel >= n_channels),
                f"-1 or a channel index (0..{n_channels - 1})")
    start, stop = windows["start_ms"].astype(float), windows["stop_ms"].astype(float)
    bad = ~(np.isfinite(start) & np.isfinite(stop) & (start < stop))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        p.append(f"{name}: need finite start_ms < stop_ms in {rows(bad)} "
                 f"(got {start[i]:g}..{stop[i]:g} ms)")
    waves = np.array([decode_str(w) for w in windows["wave"]], dtype=object)
    p += _where(name, windows, "wave", ~np.isin(waves, RECORDED_WAVES),
                "one of " + ", ".join(RECORDED_WAVES))
    return p


def check_devices(devices: h5py.Group) -> list[str]:
    """``/devices/<role>`` are groups; the documented attributes of ``amplifier`` and
    ``stimulator`` have their documented types (strings, integers in range, finite numbers)."""
    p = []
    for role, group in devices.items():
        where = f"devices/{role}"
        if not isinstance(group, h5py.Group):
            p.append(f"{where}: must be a group of attributes, not a dataset")
            continue
        if role not in ("amplifier", "stimulator"):
            continue
        attrs = group.attrs
        p += [f"{where}: attribute {k} must be a string (got {show(attrs[k])})"
              for k in DEVICE_STRINGS if k in attrs and not is_string(attrs[k])]
        for k, (low, high) in DEVICE_INTEGERS.items():
            v = attrs.get(k)
            if v is not None and not (is_number(v) and float(v).is_integer()
                                      and low <= v <= high):
                p.append(f"{where}: attribute {k} must be an integer in {low}..{high} "
                         f"(got {show(v)})")
        p += [f"{where}: attribute {k} must be a finite number (got {show(attrs[k])})"
              for k in DEVICE_NUMBERS if k in attrs
              and not (is_number(attrs[k]) and np.isfinite(attrs[k]))]
    return p
