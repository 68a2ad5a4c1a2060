"""A session as an NWB file (optional ``pynwb`` extra).

- EMG: one ``TimeSeries`` ``EMG`` in acquisition, float32 volts, (n_samples, n_channels).
  Epoched sessions are laid end to end (sweep i starts at ``i × sweep duration``).
- Stimuli: an ``EventsTable`` ``stimuli`` (a plain ``DynamicTable`` in acquisition when the
  installed pynwb has no EventsTable) with onset time, intensity, pulse width, block, train.
- Sweeps: the trials table, one trial per stimulus (epoched: the sweep; continuous:
  ``pre_ms`` before to ``post_ms`` after the stimulus), with the stimulus columns.
- Recorded gaps: ``invalid_times``. Devices: one NWB ``Device`` per ``/devices`` role.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

import numpy as np

from hreflex.errors import ConfigError
from hreflex.io.format import decode_str
from hreflex.io.session import Session
from hreflex.species import latin_name

_COLUMNS = {  # stimulus field -> description
    "intensity_mA": "delivered stimulus intensity, mA",
    "pulse_width_us": "delivered pulse width, µs (NaN: unknown)",
    "block_id": "protocol block (see the block_kind/block_label columns), -1: none",
    "train_id": "RDD train number, -1 outside trains",
    "pulse_index": "position within the RDD train (0 = first), -1 outside trains",
    "nominal_frequency_Hz": "RDD train frequency, Hz (NaN outside trains)",
}


def _emg_V(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """``(emg (n, n_ch) float32 volts, stimulus_time_s (n_stimuli,))`` on the NWB time line."""
    fs = session.sample_rate_Hz
    if session.sweeps is not None:
        n_sweeps, n_ch, n_samples = session.sweeps.shape
        volts = session.to_volts(np.asarray(session.sweeps, np.float64), channel_axis=1)
        emg = volts.transpose(0, 2, 1).reshape(n_sweeps * n_samples, n_ch)
        onset = np.arange(n_sweeps) * (n_samples / fs) + session.pre_trigger_ms / 1000.0
        return emg.astype(np.float32), onset
    emg = session.to_volts(np.asarray(session.continuous, np.float64)).astype(np.float32)
    for fault in session.faults[session.faults["kind"] == b"gap"]:
        emg[fault["sample_start"] : fault["sample_start"] + fault["n_samples"]] = np.nan
    return emg, session.stimuli["sample_index"] / fs


def build_nwbfile(
    session: Session, *, pre_ms: float = 100.0, post_ms: float = 100.0, subject_age: str = ""
):
    """The ``pynwb.NWBFile`` for ``session`` (see the module doc).

    ``subject_age``: ISO 8601 duration (``P34Y``); when empty the age is written as the open
    range ``P0D/`` (unknown), as NWB requires an age.
    """
    try:
        from hdmf.backends.hdf5.h5_utils import H5DataIO
        from pynwb import TimeSeries
    except ImportError:
        raise ConfigError(
            "NWB export needs the optional nwb extra (pip install 'hreflex[nwb]')"
        ) from None
    fs = session.sample_rate_Hz
    nwb = _nwbfile_header(session, subject_age)
    emg, onset_s = _emg_V(session)
    channels = ", ".join(
        f"{n} ({m})" if m else n
        for n, m in zip(session.channel_names, session.channel_muscles, strict=True)
    )
    nwb.add_acquisition(
        TimeSeries(
            name="EMG",
            data=H5DataIO(emg, compression="gzip"),
            unit="volts",
            rate=float(fs),
            starting_time=0.0,
            description=f"surface EMG, columns: {channels}"
            + (f"; {len(onset_s)} sweeps laid end to end" if session.sweeps is not None else ""),
        )
    )

    ev = session.stimuli
    kinds = {
        int(b["block_id"]): (decode_str(b["kind"]), decode_str(b["label"])) for b in session.blocks
    }
    block_kind = [kinds.get(int(i), ("", ""))[0] for i in ev["block_id"]]
    block_label = [kinds.get(int(i), ("", ""))[1] for i in ev["block_id"]]
    columns = {
        **{name: ev[name].tolist() for name in _COLUMNS},
        "block_kind": block_kind,
        "block_label": block_label,
    }
    if session.sweeps is not None:
        trial_start = onset_s - session.pre_trigger_ms / 1000.0
        trial_stop = trial_start + session.sweeps.shape[2] / fs
    else:
        trial_start = np.maximum(onset_s - pre_ms / 1000.0, 0.0)
        trial_stop = np.minimum(onset_s + post_ms / 1000.0, len(emg) / fs)
    events = _events_table(nwb)
    for name in columns:
        description = _COLUMNS.get(name, name.replace("_", " "))
        events.add_column(name=name, description=description)
        nwb.add_trial_column(name=name, description=description)
    nwb.add_trial_column(name="stimulus_time", description="stimulus onset, s")
    for i, t in enumerate(onset_s.tolist()):
        row = {name: values[i] for name, values in columns.items()}
        events.add_row(timestamp=t, **row)
        nwb.add_trial(
            start_time=float(trial_start[i]), stop_time=float(trial_stop[i]), stimulus_time=t, **row
        )
    for fault in session.faults[session.faults["kind"] == b"gap"]:
        begin = fault["sample_start"] / fs
        nwb.add_invalid_time_interval(start_time=begin, stop_time=begin + fault["n_samples"] / fs)
    return nwb


def _events_table(nwb):
    """An empty events table with a ``timestamp`` column (an EventsTable when pynwb has it)."""
    description = "electrical stimuli, one row per stimulus / sweep"
    try:
        from pynwb.event import EventsTable
    except ImportError:
        from hdmf.common import DynamicTable

        table = DynamicTable(name="stimuli", description=description)
        table.add_column(name="timestamp", description="stimulus onset, s")
        nwb.add_acquisition(table)
        return table
    table = EventsTable(
        name="stimuli", description=description, source_description="hreflex session stimulus table"
    )
    nwb.add_events_table(table)
    return table


def write_nwb(
    session: Session,
    path: str | Path,
    *,
    pre_ms: float = 100.0,
    post_ms: float = 100.0,
    subject_age: str = "",
) -> Path:
    """Write ``session`` as an NWB file at ``path`` (see :func:`build_nwbfile`). Returns it."""
    path = Path(path)
    nwb = build_nwbfile(session, pre_ms=pre_ms, post_ms=post_ms, subject_age=subject_age)
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _nwbfile_header(session: Session, subject_age: str):
    """An empty ``pynwb.NWBFile``: session description and start, subject, devices."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    meta = session.meta
    try:
        start = datetime.fromisoformat(meta.created_utc)
    except ValueError:
        start = datetime.now(timezone.utc)
    start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    nwb = NWBFile(
        session_description=meta.notes or "H-reflex session (hreflex)",
        identifier=str(uuid4()),
        session_start_time=start,
        session_id=meta.session_id or None,
        notes=f"condition: {meta.condition}" if meta.condition else None,
        source_script=f"hreflex export ({meta.software_version or 'hreflex'})",
        source_script_file_name="hreflex",
        subject=Subject(
            subject_id=meta.subject_id or "unknown",
            species=latin_name(meta.species) or None,  # the Latin binomial NWB expects
            sex="U",
            age=subject_age or "P0D/",
            description=f"muscle: {meta.muscle or '?'}, nerve: {meta.nerve or '?'}",
        ),
    )
    for role, attrs in session.devices.items():
        text = "; ".join(f"{k}={v}" for k, v in attrs.items())
        nwb.create_device(name=role, description=text or role)
    return nwb
