"""Writing session files: :func:`write_session` writes a finished file in one call;
:class:`SessionWriter` creates the whole v1.x layout up front, then
appends samples, stimuli and faults — in SWMR mode while recording, so other processes can
read the file live and a killed writer leaves a readable file behind.

HDF5 forbids creating objects once SWMR mode is on, so every dataset (empty, resizable) is
created in ``__init__``; tables use fixed-size types only. ``flush()`` makes everything
appended so far durable and visible to readers; call it at least every 0.5 s.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from hreflex import __version__
from hreflex.errors import FileFormatError
from hreflex.io.endstate import ATTR as END_STATE
from hreflex.io.endstate import COMPLETED, RECORDING, stopped
from hreflex.io.format import (
    ANNOTATION_DTYPE,
    BLOCK_DTYPE,
    FAULT_DTYPE,
    FORMAT_NAME,
    RECORDED_WINDOW_DTYPE,
    STIMULUS_DTYPE,
    as_table,
    decode_str,
    empty_table,
    version_string,
)
from hreflex.io.session import Session, SessionMeta

_STR = h5py.string_dtype("utf-8")

#: How finished files (``finished=True``) store EMG, chosen by measurement
#: (``bench/bench_compression.py``; ``docs/FORMAT.md``, "Compression (finished files)"):
#: the HDF5 filter of ``continuous``/``sweeps``, of ``trigger``, and the rows per chunk of
#: ``continuous`` (x all channels) and ``trigger``.
FINISHED_FILTER: dict = {}
TRIGGER_FILTER: dict = {}
FINISHED_CHUNK_ROWS = 4096


def _set_attrs(obj: h5py.HLObject, values: dict) -> None:
    for key, value in values.items():
        if value is None:
            continue
        obj.attrs[key] = value if not isinstance(value, (list, tuple)) else np.asarray(value)


def _write_root(f: h5py.File, meta: SessionMeta, config_toml: str,
                devices: dict[str, dict] | None) -> None:
    """Root attributes (format, version, ``meta``, end state ``recording``), ``/config`` and
    ``/devices``."""
    meta_attrs = {k: getattr(meta, k) for k in SessionMeta.__dataclass_fields__}
    meta_attrs["created_utc"] = meta.created_utc or datetime.now(timezone.utc).isoformat(
        timespec="seconds"
    )
    meta_attrs["software_version"] = meta.software_version or f"hreflex {__version__}"
    _set_attrs(f, {"format": FORMAT_NAME, "format_version": version_string(), **meta_attrs,
                   END_STATE: RECORDING})
    f.create_group("config").create_dataset("session_toml", data=config_toml, dtype=_STR)
    dev = f.create_group("devices")
    for role, description in (devices or {}).items():
        _set_attrs(dev.create_group(role), description)


def _write_channels(f: h5py.File, sample_rate_Hz: float, channel_names: list[str],
                    channel_muscles: list[str] | None, scale: np.ndarray,
                    recorded_windows: np.ndarray | None, epoched: bool) -> h5py.Group:
    """``/emg`` with its attributes, channel datasets and ``recorded_windows``; returns it."""
    emg = f.create_group("emg")
    _set_attrs(emg, {"sample_rate_Hz": float(sample_rate_Hz),
                     "layout": "epoched" if epoched else "continuous"})
    emg.create_dataset("channel_names", data=list(channel_names), dtype=_STR)
    muscles = list(channel_muscles) if channel_muscles else [""] * len(channel_names)
    emg.create_dataset("channel_muscles", data=muscles, dtype=_STR)
    emg.create_dataset("scale_V_per_count", data=scale).attrs["units"] = "V/count"
    windows = (
        empty_table(RECORDED_WINDOW_DTYPE)
        if recorded_windows is None
        else as_table(recorded_windows, RECORDED_WINDOW_DTYPE)
    )
    emg.create_dataset("recorded_windows", data=windows)
    return emg


class SessionWriter:
    """Create a format-v1.x session file at ``path`` and append to it.

    Parameters are the session's fixed description; see :class:`hreflex.io.session.Session`
    for their meaning (``recorded_windows``: RECORDED_WINDOW rows, written as
    ``/emg/recorded_windows``; empty when None). ``sweeps`` (n_sweeps, n_channels, n_samples)
    makes an epoched file; otherwise samples arrive through :meth:`append_samples`, stored in
    chunks of ``chunk_samples`` rows x all channels. With ``swmr=True`` the file is switched
    to SWMR mode right after the layout is created. ``finished`` stores the EMG datasets as
    finished files do (:data:`FINISHED_FILTER`, :data:`TRIGGER_FILTER`; not while recording).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        meta: SessionMeta,
        sample_rate_Hz: float,
        channel_names: list[str],
        scale_V_per_count: np.ndarray,
        channel_muscles: list[str] | None = None,
        sample_dtype: np.dtype | type = np.int16,
        blocks: np.ndarray | None = None,
        recorded_windows: np.ndarray | None = None,
        config_toml: str = "",
        devices: dict[str, dict] | None = None,
        with_trigger: bool = True,
        sweeps: np.ndarray | None = None,
        pre_trigger_ms: float = 0.0,
        swmr: bool = True,
        chunk_samples: int = 4096,
        finished: bool = False,
    ) -> None:
        self.path = Path(path)
        n_ch = len(channel_names)
        scale = np.asarray(scale_V_per_count, dtype=np.float64)
        if n_ch == 0 or scale.shape != (n_ch,):
            raise FileFormatError(
                f"{self.path}: need one scale_V_per_count per channel ({n_ch} channels, got shape {scale.shape})"
            )
        self.n_channels = n_ch
        f = self._file = h5py.File(self.path, "w", libver="latest", track_order=True)
        _write_root(f, meta, config_toml, devices)
        emg = _write_channels(f, sample_rate_Hz, channel_names, channel_muscles, scale,
                              recorded_windows, epoched=sweeps is not None)
        packing = dict(FINISHED_FILTER) if finished else {}
        units = "V" if np.dtype(sample_dtype).kind == "f" else "counts"
        self._samples = self._trigger = None
        if sweeps is not None:
            ds = emg.create_dataset("sweeps", data=sweeps, chunks=True, **packing)
            _set_attrs(ds, {"units": units, "pre_trigger_ms": float(pre_trigger_ms)})
        else:
            self._create_continuous(emg, np.dtype(sample_dtype), units,
                                    max(1, int(chunk_samples)), with_trigger, packing,
                                    dict(TRIGGER_FILTER) if finished else {})
        self._create_tables(f, blocks)
        if swmr:
            f.swmr_mode = True

    def _create_continuous(self, emg: h5py.Group, dtype: np.dtype, units: str, rows: int,
                           with_trigger: bool, packing: dict, trigger_packing: dict) -> None:
        """Empty resizable ``continuous`` (chunks ``rows`` x all channels) and ``trigger``."""
        n_ch = self.n_channels
        self._samples = emg.create_dataset("continuous", shape=(0, n_ch), maxshape=(None, n_ch),
                                           chunks=(rows, n_ch), dtype=dtype, **packing)
        self._samples.attrs["units"] = units
        if with_trigger:
            self._trigger = emg.create_dataset("trigger", shape=(0,), maxshape=(None,),
                                               chunks=(rows,), dtype=np.uint8,
                                               **trigger_packing)
            self._trigger.attrs["units"] = "bitmask (bit 0 = stimulus trigger copy)"

    def _create_tables(self, f: h5py.File, blocks: np.ndarray | None) -> None:
        """``/stimuli/events`` and ``/stimuli/blocks``, ``/faults``, ``/analysis/annotations``."""
        stim = f.create_group("stimuli")
        self._stimuli = stim.create_dataset(
            "events", shape=(0,), maxshape=(None,), chunks=(256,), dtype=STIMULUS_DTYPE
        )
        stim.create_dataset(
            "blocks",
            data=empty_table(BLOCK_DTYPE) if blocks is None else blocks.astype(BLOCK_DTYPE),
        )
        self._faults = f.create_dataset(
            "faults", shape=(0,), maxshape=(None,), chunks=(64,), dtype=FAULT_DTYPE
        )
        self._annotations = f.create_group("analysis").create_dataset(
            "annotations", shape=(0,), maxshape=(None,), chunks=(64,), dtype=ANNOTATION_DTYPE
        )

    # -- appending -------------------------------------------------------------------------
    @staticmethod
    def _append(ds: h5py.Dataset, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        n = ds.shape[0]
        ds.resize(n + len(rows), axis=0)
        ds[n:] = rows

    def append_samples(self, samples: np.ndarray, trigger: np.ndarray | None = None) -> None:
        """Append (n, n_channels) samples and, if the file has one, the (n,) trigger bitmask."""
        if self._samples is None:
            raise FileFormatError(f"{self.path}: epoched file takes no continuous samples")
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[1] != self.n_channels:
            raise FileFormatError(
                f"{self.path}: samples must be (n, {self.n_channels}), got {samples.shape}"
            )
        self._append(self._samples, samples)
        if self._trigger is not None:
            self._append(
                self._trigger, np.zeros(len(samples), np.uint8) if trigger is None else trigger
            )

    def append_stimuli(self, rows: np.ndarray) -> None:
        """Append rows of :data:`STIMULUS_DTYPE`."""
        self._append(self._stimuli, np.asarray(rows, dtype=STIMULUS_DTYPE))

    def append_faults(self, rows: np.ndarray) -> None:
        """Append rows of :data:`FAULT_DTYPE`."""
        self._append(self._faults, np.asarray(rows, dtype=FAULT_DTYPE))

    def append_annotations(self, rows: np.ndarray) -> None:
        """Append rows of :data:`ANNOTATION_DTYPE`."""
        self._append(self._annotations, np.asarray(rows, dtype=ANNOTATION_DTYPE))

    @property
    def n_samples(self) -> int:
        """Samples written so far."""
        return 0 if self._samples is None else self._samples.shape[0]

    def flush(self) -> None:
        """Make everything appended so far durable and visible to SWMR readers."""
        for ds in (self._samples, self._trigger, self._stimuli, self._faults, self._annotations):
            if ds is not None:
                ds.flush()
        self._file.flush()

    def close(self, end_state: str = COMPLETED) -> None:
        """Record ``end_state`` (``hreflex.io.endstate``: how the file ended), flush, close.
        Closing again does nothing."""
        if self._file.id.valid:
            try:
                self._file.attrs.modify(END_STATE, end_state)
                self.flush()
            finally:
                self._file.close()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(COMPLETED if exc is None else stopped(f"error ({type(exc).__name__}: {exc})"))


def write_session(path: str | Path, session: Session) -> Path:
    """Write ``session`` to ``path`` as a complete, closed format-v1.x file, its EMG stored as
    finished files store it (:data:`FINISHED_FILTER`, :data:`TRIGGER_FILTER`, chunks of
    :data:`FINISHED_CHUNK_ROWS` rows). Returns the path."""
    path = Path(path)
    with SessionWriter(
        path,
        meta=session.meta,
        sample_rate_Hz=session.sample_rate_Hz,
        channel_names=session.channel_names,
        channel_muscles=session.channel_muscles,
        scale_V_per_count=session.scale_V_per_count,
        sample_dtype=(
            session.continuous if session.continuous is not None else session.sweeps
        ).dtype,
        blocks=session.blocks,
        recorded_windows=session.recorded_windows,
        config_toml=session.config_toml,
        devices=session.devices,
        with_trigger=session.trigger is not None,
        sweeps=session.sweeps,
        pre_trigger_ms=session.pre_trigger_ms,
        swmr=False,
        chunk_samples=FINISHED_CHUNK_ROWS,
        finished=True,
    ) as writer:
        if session.continuous is not None:
            writer.append_samples(session.continuous, session.trigger)
        writer.append_stimuli(session.stimuli)
        writer.append_faults(session.faults)
        writer.append_annotations(session.annotations)
    return path


def store_analysis(path: str | Path, results: dict, annotations: np.ndarray) -> None:
    """Store analysis output in the file's ``/analysis`` group, without ever writing into
    the recording itself (``docs/FORMAT.md``, "Storing analysis results").

    The file is copied byte for byte beside itself, the copy's ``/analysis`` is replaced
    (``results`` -> ``results_json``; ``annotations`` replace earlier ``auto-qc`` rows, ``user``
    rows are kept), the copy is checked, and one rename puts it in place of the original. A
    crash or kill at any point leaves the original as it was (and at most a
    ``<stem>.partial-<pid>.h5`` copy). Refused for a file that is being recorded (or whose
    writer died: ``hreflex recover`` first) and for a file that changed meanwhile.
    """
    import shutil

    from hreflex.io.files import atomic_output
    from hreflex.io.format import open_h5
    from hreflex.io.validate import check_file

    path = Path(path)
    known = set(check_file(path))  # problems of the file as it is (not the store's)
    with open_h5(path) as f:
        if f.attrs.get(END_STATE) in (RECORDING, RECORDING.encode()):
            raise FileFormatError(f"{path}: end_state is 'recording' (being recorded, or its "
                                  "writer died: run 'hreflex recover' first); nothing stored")
    before = path.stat()
    with atomic_output(path, overwrite=True) as copy:
        shutil.copyfile(path, copy)
        shutil.copymode(path, copy)
        _replace_analysis(copy, results, annotations, path)
        problems = [p for p in check_file(copy) if p not in known]
        after = path.stat()
        if problems or (after.st_mtime_ns, after.st_size, after.st_ino) != (
                before.st_mtime_ns, before.st_size, before.st_ino):
            why = "; ".join(problems) or "it changed while the results were being stored"
            raise FileFormatError(f"{path}: nothing stored ({why})")


def _replace_analysis(path: Path, results: dict, annotations: np.ndarray, name: Path) -> None:
    """Replace ``/analysis`` results and auto-QC annotations in ``path`` (a copy of ``name``)."""
    try:
        f = h5py.File(path, "r+")
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot open for writing analysis results ({exc}); if "
                              "recording was interrupted run 'hreflex recover' first") from None
    with f:
        group = f.require_group("analysis")
        old = group["annotations"][()] if "annotations" in group else empty_table(ANNOTATION_DTYPE)
        keep = old[[decode_str(s) != "auto-qc" for s in old["source"]]] if len(old) else old
        new = np.concatenate([keep, np.asarray(annotations, dtype=ANNOTATION_DTYPE)])
        for name in ("annotations", "results_json"):
            if name in group:
                del group[name]
        group.create_dataset("annotations", data=new, maxshape=(None,), chunks=(64,))
        group.create_dataset("results_json", data=json.dumps(results), dtype=_STR)
