"""A whole session in memory (:class:`Session`) and reading it from a format-v1.x file
(writing: :mod:`hreflex.io.writer`).

``read_session`` opens with ``swmr=True`` so it works on a finished file, on a file that is
still being recorded, and on a file whose writer was killed. It checks the file first
(:func:`hreflex.io.validate.check_file`) and raises one :class:`FileFormatError` naming the
file and every problem found, so nobody meets a bare ``KeyError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from hreflex.errors import FileFormatError
from hreflex.io.format import (
    ANNOTATION_DTYPE,
    BLOCK_DTYPE,
    FAULT_DTYPE,
    RECORDED_WINDOW_DTYPE,
    STIMULUS_DTYPE,
    as_table,
    decode_str,
    empty_table,
    open_h5,
)
from hreflex.io.lazy import LazySamples, ReadHash, hash_metadata


@dataclass
class SessionMeta:
    """Who/what was recorded. Free text; no personal data is required."""

    subject_id: str = ""
    session_id: str = ""
    species: str = "human"  # human | rat | ...
    muscle: str = ""  # primary muscle, e.g. "soleus"
    nerve: str = ""  # stimulated nerve, e.g. "tibial"
    condition: str = ""  # e.g. "pre", "baclofen", "week 5"
    notes: str = ""
    created_utc: str = ""  # ISO 8601; filled in on write when empty
    software_version: str = ""  # "hreflex X.Y.Z" that wrote the file; filled in on write


@dataclass
class Session:
    """Everything a session file holds.

    Exactly one of ``continuous`` and ``sweeps`` is set:

    - ``continuous``: (n_samples, n_channels) raw samples — integer ADC counts, or float32
      volts for imported data; volts = sample × ``scale_V_per_count[channel]``. Read with
      ``read_session(lazy=True)``: a :class:`~hreflex.io.lazy.LazySamples` (rows read on
      demand) for analysis only.
    - ``sweeps``: (n_sweeps, n_channels, n_sweep_samples) epoched data (imports from systems
      that export sweeps), same scaling; sample 0 lies ``pre_trigger_ms`` before the stimulus.
      ``stimuli`` then has one row per sweep.

    ``recorded_windows`` (RECORDED_WINDOW_DTYPE): the M/H/background windows the recording
    system itself defined (e.g. EPOCS's ResponseDefinition); empty when it defined none.
    """

    meta: SessionMeta
    sample_rate_Hz: float
    channel_names: list[str]
    scale_V_per_count: np.ndarray
    channel_muscles: list[str] = field(default_factory=list)
    continuous: np.ndarray | LazySamples | None = None
    trigger: np.ndarray | None = None  # (n_samples,) uint8, bit 0 = stimulus trigger copy
    sweeps: np.ndarray | None = None
    pre_trigger_ms: float = 0.0
    stimuli: np.ndarray = field(default_factory=lambda: empty_table(STIMULUS_DTYPE))
    blocks: np.ndarray = field(default_factory=lambda: empty_table(BLOCK_DTYPE))
    faults: np.ndarray = field(default_factory=lambda: empty_table(FAULT_DTYPE))
    annotations: np.ndarray = field(default_factory=lambda: empty_table(ANNOTATION_DTYPE))
    recorded_windows: np.ndarray = field(default_factory=lambda: empty_table(RECORDED_WINDOW_DTYPE))
    config_toml: str = ""  # the session configuration as requested
    devices: dict[str, dict] = field(default_factory=dict)  # role -> description
    format_version: str = ""  # set by the reader
    path: Path | None = None  # set by the reader
    read_hash: ReadHash | None = None  # what a lazy read read (read_session(lazy=True))

    def __post_init__(self) -> None:
        self.scale_V_per_count = np.asarray(self.scale_V_per_count, dtype=np.float64)
        if not self.channel_muscles:
            self.channel_muscles = [""] * len(self.channel_names)

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def layout(self) -> str:
        """``"continuous"`` or ``"epoched"``."""
        return "epoched" if self.sweeps is not None else "continuous"

    @property
    def duration_s(self) -> float:
        """Recorded duration, s (continuous: samples / rate; epoched: total sweep time)."""
        if self.continuous is not None:
            return self.continuous.shape[0] / self.sample_rate_Hz
        if self.sweeps is not None:
            return self.sweeps.shape[0] * self.sweeps.shape[2] / self.sample_rate_Hz
        return 0.0

    def to_volts(self, samples: np.ndarray, channel_axis: int = -1) -> np.ndarray:
        """Scale raw samples (channels on ``channel_axis``) to float64 volts."""
        shape = [1] * samples.ndim
        shape[channel_axis] = self.n_channels
        return samples * self.scale_V_per_count.reshape(shape)


def _attrs(obj: h5py.HLObject) -> dict:
    out = {}
    for key, value in obj.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        out[key] = value
    return out


def _strings(ds: h5py.Dataset) -> list[str]:
    return [decode_str(v) for v in ds[()]]


def _recorded_windows(emg: h5py.Group) -> np.ndarray:
    """``/emg/recorded_windows`` as RECORDED_WINDOW_DTYPE (fields copied by name, so a table
    written by another tool with other string lengths reads the same); empty when absent."""
    if "recorded_windows" not in emg:
        return empty_table(RECORDED_WINDOW_DTYPE)
    return as_table(emg["recorded_windows"][()], RECORDED_WINDOW_DTYPE)


def read_session(path: str | Path, *, validate: bool = True, lazy: bool = False) -> Session:
    """Read a session file (format v1.x) completely into memory.

    Raises :class:`FileFormatError` (one line naming the file) when the file is not a valid
    session file; ``validate=False`` skips the checks (for recovery tools). ``lazy=True`` is
    for analysis: ``continuous`` stays in the file as a :class:`~hreflex.io.lazy.LazySamples`
    (epoching reads only the sweep windows), ``trigger`` is not read (None), and
    ``read_hash`` hashes what is read (:mod:`hreflex.io.lazy`).
    """
    from hreflex.io.validate import check_file

    path = Path(path)
    if validate:
        problems = check_file(path)
        if problems:
            raise FileFormatError(f"{path}: " + "; ".join(problems))
    try:
        with open_h5(path) as f:
            session = _read(f, path, lazy)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{path}: cannot read session ({exc})") from None
    if session.continuous is not None and session.trigger is not None:
        # a live file may have one dataset a flush ahead of the other: keep the common part
        n = min(len(session.continuous), len(session.trigger))
        session.continuous, session.trigger = session.continuous[:n], session.trigger[:n]
    return session


def _samples(f: h5py.File, path: Path, lazy: bool) -> dict:
    """The sample fields of a Session: eager, or lazy (continuous left in the file, no
    trigger, everything analysis uses hashed)."""
    emg = f["emg"]
    if not lazy:
        return {"continuous": emg["continuous"][()] if "continuous" in emg else None,
                "trigger": emg["trigger"][()] if "trigger" in emg else None,
                "sweeps": emg["sweeps"][()] if "sweeps" in emg else None}
    digest = ReadHash()
    if "sweeps" in emg:
        sweeps = emg["sweeps"][()]
        hash_metadata(f, digest, emg["sweeps"], sweeps.shape)
        digest.add(sweeps)
        digest.samples = "all"
        return {"sweeps": sweeps, "read_hash": digest}
    ds = emg["continuous"]
    rows = min(ds.shape[0], emg["trigger"].shape[0]) if "trigger" in emg else ds.shape[0]
    hash_metadata(f, digest, ds, (rows, ds.shape[1]))
    samples = LazySamples(path, (rows, ds.shape[1]), ds.dtype,
                          ds.chunks[0] if ds.chunks else 4096, digest)
    return {"continuous": samples, "read_hash": digest}


def _read(f: h5py.File, path: Path, lazy: bool) -> Session:
    root = _attrs(f)
    meta = SessionMeta(**{k: str(root.get(k, "")) for k in SessionMeta.__dataclass_fields__})
    emg = f["emg"]
    return Session(
        meta=meta,
        sample_rate_Hz=float(emg.attrs["sample_rate_Hz"]),
        channel_names=_strings(emg["channel_names"]),
        channel_muscles=_strings(emg["channel_muscles"]),
        scale_V_per_count=emg["scale_V_per_count"][()],
        **_samples(f, path, lazy),
        pre_trigger_ms=float(emg["sweeps"].attrs["pre_trigger_ms"]) if "sweeps" in emg
        else 0.0,
        stimuli=f["stimuli/events"][()],
        blocks=f["stimuli/blocks"][()],
        faults=f["faults"][()],
        annotations=f["analysis/annotations"][()] if "analysis/annotations" in f
        else empty_table(ANNOTATION_DTYPE),
        recorded_windows=_recorded_windows(emg),
        config_toml=decode_str(f["config/session_toml"][()]) if "config/session_toml" in f
        else "",
        devices={role: _attrs(grp) for role, grp in f["devices"].items()} if "devices" in f
        else {},
        format_version=str(root.get("format_version", "")),
        path=path,
    )
