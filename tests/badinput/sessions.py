"""Bad session files: a valid small file (continuous or epoched) changed in one way, each
case named with the field the error must name. Truncations, wrong types, shapes, NaN/inf,
out-of-range values and headers that lie about the data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from hreflex.io.format import ANNOTATION_DTYPE, RECORDED_WINDOW_DTYPE, empty_table
from hreflex.io.importers.build import epoched_session
from hreflex.io.writer import write_session
from tests.conftest import small_session

STR = h5py.string_dtype()


def base(path: Path, epoched: bool) -> Path:
    """A valid small file (the continuous one has faults, blocks, devices)."""
    if epoched:
        sweeps = np.random.default_rng(2).normal(0, 1e-4, (3, 2, 100))
        session = epoched_session(Path("x.csv"), sweeps, 5000.0, 2.0, [1.0, 2.0, 3.0])
    else:
        session = small_session()
    return write_session(path, session)


def _replace(f: h5py.File, name: str, data, **kwargs) -> None:
    attrs = dict(f[name].attrs) if name in f else {}
    del f[name]
    f.create_dataset(name, data=data, **kwargs).attrs.update(attrs)


def _events(field: str, value, row: int = 0) -> Callable[[h5py.File], None]:
    def change(f):
        events = f["stimuli/events"][()]
        events[field][row] = value
        f["stimuli/events"][...] = events
    return change


def _table(name: str, dtype, row) -> Callable[[h5py.File], None]:
    def change(f):
        table = empty_table(dtype, 1)
        table[0] = row
        if name in f:
            del f[name]
        f[name] = table
    return change


def _attr(name: str, key: str, value) -> Callable[[h5py.File], None]:
    def change(f):
        f[name].attrs[key] = value
    return change


def _typed_events(field: str, kind: str) -> Callable[[h5py.File], None]:
    def change(f):
        events = f["stimuli/events"][()]
        dtype = [(n, kind if n == field else events.dtype[n]) for n in events.dtype.names]
        new = np.zeros(len(events), dtype)
        for n in events.dtype.names:
            new[n] = events[n].astype(str).astype(kind) if n == field else events[n]
        _replace(f, "stimuli/events", new)
    return change


def _cont(f):
    return f["emg/continuous"][()]


#: (case id, epoched?, change of the open file, the field/words the error must name)
H5_CASES: list[tuple[str, bool, Callable[[h5py.File], None], str]] = [
    # wrong types
    ("continuous-strings", False,
     lambda f: _replace(f, "emg/continuous", np.array([["a", "b"]] * 5000, dtype=STR)),
     "emg/continuous"),
    ("continuous-float64", False,
     lambda f: _replace(f, "emg/continuous", _cont(f).astype("f8")), "emg/continuous"),
    ("continuous-uint8", False,
     lambda f: _replace(f, "emg/continuous", _cont(f).astype("u1")), "emg/continuous"),
    ("continuous-complex", False,
     lambda f: _replace(f, "emg/continuous", _cont(f).astype("c8")), "emg/continuous"),
    ("sweeps-float64", True,
     lambda f: _replace(f, "emg/sweeps", f["emg/sweeps"][()].astype("f8")), "emg/sweeps"),
    ("rate-string", False, _attr("emg", "sample_rate_Hz", "5000"), "sample_rate_Hz"),
    ("rate-array", False, _attr("emg", "sample_rate_Hz", [5000.0, 5000.0]), "sample_rate_Hz"),
    ("pre-trigger-string", True, _attr("emg/sweeps", "pre_trigger_ms", "2"), "pre_trigger_ms"),
    ("channel-names-numbers", False,
     lambda f: _replace(f, "emg/channel_names", [1.0, 2.0]), "channel_names"),
    ("channel-muscles-numbers", False,
     lambda f: _replace(f, "emg/channel_muscles", [1, 2]), "channel_muscles"),
    ("scale-strings", False,
     lambda f: _replace(f, "emg/scale_V_per_count", np.array(["1", "2"], dtype=STR)),
     "scale_V_per_count"),
    ("intensity-field-text", False, _typed_events("intensity_mA", "S8"), "intensity_mA"),
    ("block-id-field-float", False, _typed_events("block_id", "f8"), "block_id"),
    ("subject-id-number", False, _attr("/", "subject_id", 17), "subject_id"),
    ("format-version-number", False, _attr("/", "format_version", 1.1), "format_version"),
    ("end-state-number", False, _attr("/", "end_state", 5), "end_state"),
    ("faults-a-group", False,
     lambda f: (f.__delitem__("faults"), f.create_group("faults")), "/faults"),
    ("emg-a-dataset", False,
     lambda f: (f.__delitem__("emg"), f.create_dataset("emg", data=[1])), "/emg"),
    ("session-toml-number", False,
     lambda f: _replace(f, "config/session_toml", 3), "config/session_toml"),
    ("adc-bits-text", False, _attr("devices/amplifier", "adc_bits", "16"), "adc_bits"),
    ("firmware-number", False, _attr("devices/amplifier", "firmware", 1.0), "firmware"),
    ("devices-role-dataset", False,
     lambda f: f["devices"].create_dataset("stimulator", data=[1]), "devices/stimulator"),
    ("trigger-float", False,
     lambda f: _replace(f, "emg/trigger", f["emg/trigger"][()].astype("f4")), "emg/trigger"),
    # shapes
    ("continuous-1d", False,
     lambda f: _replace(f, "emg/continuous", _cont(f)[:, 0]), "emg/continuous"),
    ("continuous-3-channels", False,
     lambda f: _replace(f, "emg/continuous", np.zeros((5000, 3), "i2")), "emg/continuous"),
    ("sweeps-2d", True,
     lambda f: _replace(f, "emg/sweeps", f["emg/sweeps"][:, 0, :]), "emg/sweeps"),
    ("sweeps-0-samples", True,
     lambda f: _replace(f, "emg/sweeps", np.zeros((3, 2, 0), "f4")), "emg/sweeps"),
    ("scale-3-values", False,
     lambda f: _replace(f, "emg/scale_V_per_count", [1.0, 1.0, 1.0]), "scale_V_per_count"),
    ("no-channel-names", False,
     lambda f: _replace(f, "emg/channel_names", np.array([], dtype=STR)), "channel_names"),
    ("muscles-1-of-2", False,
     lambda f: _replace(f, "emg/channel_muscles", np.array(["a"], dtype=STR)), "channel_muscles"),
    ("trigger-too-short", False,
     lambda f: _replace(f, "emg/trigger", f["emg/trigger"][:100]), "emg/trigger"),
    ("trigger-in-epoched", True,
     lambda f: f["emg"].create_dataset("trigger", data=np.zeros(100, "u1")), "emg/trigger"),
    ("continuous-and-sweeps", False,
     lambda f: f["emg"].create_dataset("sweeps", data=np.zeros((3, 2, 10), "f4")), "emg"),
    ("no-emg-data", False, lambda f: f["emg"].__delitem__("continuous"), "emg"),
    ("events-2d", False,
     lambda f: _replace(f, "stimuli/events", np.stack([f["stimuli/events"][()]] * 2)),
     "stimuli/events"),
    ("events-not-a-table", False,
     lambda f: _replace(f, "stimuli/events", [1.0, 2.0]), "stimuli/events"),
    ("events-fewer-than-sweeps", True,
     lambda f: _replace(f, "stimuli/events", f["stimuli/events"][:2]), "stimuli/events"),
    ("missing-events", False, lambda f: f["stimuli"].__delitem__("events"), "/stimuli/events"),
    ("missing-blocks", False, lambda f: f["stimuli"].__delitem__("blocks"), "/stimuli/blocks"),
    # NaN / inf
    ("pre-trigger-nan", True, _attr("emg/sweeps", "pre_trigger_ms", np.nan), "pre_trigger_ms"),
    ("pre-trigger-inf", True, _attr("emg/sweeps", "pre_trigger_ms", np.inf), "pre_trigger_ms"),
    ("rate-nan", False, _attr("emg", "sample_rate_Hz", np.nan), "sample_rate_Hz"),
    ("rate-inf", True, _attr("emg", "sample_rate_Hz", np.inf), "sample_rate_Hz"),
    ("intensity-nan", False, _events("intensity_mA", np.nan, 1), "intensity_mA"),
    ("intensity-inf", True, _events("intensity_mA", np.inf, 2), "intensity_mA"),
    ("time-nan", False, _events("time_s", np.nan), "time_s"),
    ("scale-nan", False,
     lambda f: _replace(f, "emg/scale_V_per_count", [np.nan, 1.0]), "scale_V_per_count"),
    ("train-frequency-inf", False, _events("nominal_frequency_Hz", np.inf, 1),
     "nominal_frequency_Hz"),
    ("pulse-width-inf", False, _events("pulse_width_us", -np.inf), "pulse_width_us"),
    ("wait-nan", False, _events("wait_s", np.nan), "wait_s"),
    ("window-nan", True, _table("emg/recorded_windows", RECORDED_WINDOW_DTYPE,
                                (0, b"h", np.nan, 30.0, b"p2p", b"")), "recorded_windows"),
    ("gain-nan", False, _attr("devices/amplifier", "gain", np.nan), "gain"),
    # out of range
    ("rate-1e-9", False, _attr("emg", "sample_rate_Hz", 1e-9), "sample_rate_Hz"),
    ("rate-0", True, _attr("emg", "sample_rate_Hz", 0.0), "sample_rate_Hz"),
    ("rate-negative", False, _attr("emg", "sample_rate_Hz", -5000.0), "sample_rate_Hz"),
    ("rate-1e12", False, _attr("emg", "sample_rate_Hz", 1e12), "sample_rate_Hz"),
    ("pre-trigger-1e9", True, _attr("emg/sweeps", "pre_trigger_ms", 1e9), "pre_trigger_ms"),
    ("pre-trigger--1e9", True, _attr("emg/sweeps", "pre_trigger_ms", -1e9), "pre_trigger_ms"),
    ("pre-trigger-past-sweep", True, _attr("emg/sweeps", "pre_trigger_ms", 20.0),
     "pre_trigger_ms"),
    ("intensity-negative", False, _events("intensity_mA", -3.0), "intensity_mA"),
    ("sample-index-negative", False, _events("sample_index", -10), "sample_index"),
    ("pulse-index-below--1", False, _events("pulse_index", -5, 1), "pulse_index"),
    ("pulse-index-missing-in-train", False, _events("pulse_index", -1, 2), "pulse_index"),
    ("train-id-below--1", False, _events("train_id", -7), "train_id"),
    ("gap-n-negative", False,
     lambda f: f["faults"].__setitem__("n_samples", np.array([-20])), "n_samples"),
    ("gap-start-negative", False,
     lambda f: f["faults"].__setitem__("sample_start", np.array([-1])), "sample_start"),
    ("annotation-sweep-99", False, _table("analysis/annotations", ANNOTATION_DTYPE,
                                          (99, 0, b"x", b"user")), "analysis/annotations"),
    ("annotation-channel-7", False, _table("analysis/annotations", ANNOTATION_DTYPE,
                                           (0, 7, b"x", b"user")), "analysis/annotations"),
    ("window-channel-9", True, _table("emg/recorded_windows", RECORDED_WINDOW_DTYPE,
                                      (9, b"h", 14.0, 30.0, b"p2p", b"")), "recorded_windows"),
    ("adc-bits-99", False, _attr("devices/amplifier", "adc_bits", 99), "adc_bits"),
    ("scale-0", False,
     lambda f: _replace(f, "emg/scale_V_per_count", [0.0, 1.0]), "scale_V_per_count"),
    ("scale-1e300", False,  # overflowed float32 volts and leaked numpy warnings before
     lambda f: _replace(f, "emg/scale_V_per_count", [1e300, 1.0]), "scale_V_per_count"),
    ("format-version-2", False, _attr("/", "format_version", "2.0"), "format version 2.0"),
    ("format-version-0.3", False, _attr("/", "format_version", "0.3"), "format version 0.3"),
    # headers that lie
    ("format-misspelt", False, _attr("/", "format", "hreflex-sesion"), "format"),
    ("format-missing", True, lambda f: f.attrs.__delitem__("format"), "format"),
    ("format-version-words", False, _attr("/", "format_version", "one"), "format_version"),
    ("layout-sideways", False, _attr("emg", "layout", "sideways"), "layout"),
    ("end-state-unknown", False, _attr("/", "end_state", "finished"), "end_state"),
    ("block-kind-unknown", False,
     lambda f: f["stimuli/blocks"].__setitem__("kind", np.array([b"warmup", b"rdd"])), "kind"),
    ("block-id-twice", False,
     lambda f: f["stimuli/blocks"].__setitem__("block_id", np.array([1, 1])), "block_id"),
    ("annotation-source-unknown", False, _table("analysis/annotations", ANNOTATION_DTYPE,
                                                (0, 0, b"x", b"robot")), "source"),
    ("pre-trigger-missing", True,
     lambda f: f["emg/sweeps"].attrs.__delitem__("pre_trigger_ms"), "pre_trigger_ms"),
]


def truncations(good: bytes) -> list[tuple[str, bytes, str]]:
    """(case id, the file's bytes, what the error must say) of cut or foreign files."""
    return [
        ("truncated-half", good[: len(good) // 2], "not a readable HDF5 file"),
        ("truncated-tenth", good[: len(good) // 10], "not a readable HDF5 file"),
        ("truncated-signature", good[:8], "not a readable HDF5 file"),
        ("empty-file", b"", "not a readable HDF5 file"),
        ("text-file", b"time,value\n0,1\n", "not a readable HDF5 file"),
        ("last-bytes-cut", good[:-64], ""),
        ("garbage-after-signature", good[:512] + bytes(range(256)) * 8, ""),
    ]


def foreign_hdf5(path: Path) -> None:
    """An HDF5 file that is not a session file."""
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
