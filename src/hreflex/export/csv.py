"""Sweeps of a session as generic sweep CSV (the wide layout ``hreflex import`` reads back).

Continuous sessions are cut around each stimulus with the analysis epoching
(:func:`hreflex.analysis.epochs.make_epochs`); sweeps it cannot use (outside the recording,
in a gap) are written as NaN. Values are volts printed with 9 significant digits, so float32
samples survive the round trip exactly.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from hreflex.io.format import decode_str
from hreflex.io.importers.generic_csv import CHANNEL, MUSCLE, STIMULUS_FIELDS, SWEEP
from hreflex.io.session import Session, SessionMeta


def session_sweeps(session: Session, pre_ms: float, post_ms: float) -> tuple[np.ndarray, float]:
    """``(sweeps_V (n_sweeps, n_channels, n_samples) float32, pre_trigger_ms)``.

    Epoched sessions keep their own sweeps; continuous ones are cut from ``pre_ms`` before to
    ``post_ms`` after each stimulus (unusable sweeps become NaN).
    """
    from hreflex.analysis.epochs import make_epochs

    epochs = make_epochs(session, -float(pre_ms), float(post_ms))
    sweeps = epochs.data_V.astype(np.float32)
    sweeps[np.asarray(epochs.unusable, dtype=bool)] = np.nan
    return sweeps, -epochs.t0_ms


def _row(writer, name: str, values) -> None:
    writer.writerow([name, *values])


def write_sweeps_csv(
    session: Session, path: str | Path, *, pre_ms: float = 100.0, post_ms: float = 100.0
) -> Path:
    """Write ``session``'s sweeps to ``path`` (one column per sweep and channel). Returns it."""
    path = Path(path)
    sweeps, pre = session_sweeps(session, pre_ms, post_ms)
    n_sweeps, n_ch, n_samples = sweeps.shape
    ev = session.stimuli
    head = io.StringIO()
    head.write("# hreflex sweeps CSV: one column per sweep and channel, values in volts\n")
    settings = {
        "sample_rate_Hz": repr(session.sample_rate_Hz),
        "pre_trigger_ms": repr(pre),
        "units": "V",
    }
    settings |= {k: getattr(session.meta, k) for k in SessionMeta.__dataclass_fields__}
    for key, value in settings.items():
        if value:
            head.write(f"# {key}: {' '.join(str(value).split())}\n")
    for b in session.blocks:
        head.write(f"# block: {b['block_id']},{decode_str(b['kind'])},{decode_str(b['label'])}\n")
    writer = csv.writer(head, lineterminator="\n")
    column_sweep = np.repeat(np.arange(n_sweeps), n_ch)
    _row(writer, SWEEP, column_sweep)
    _row(writer, CHANNEL, session.channel_names * n_sweeps)
    _row(writer, MUSCLE, session.channel_muscles * n_sweeps)
    for name in STIMULUS_FIELDS:
        _row(writer, name, [f"{v:.9g}" for v in ev[name][column_sweep]])
    time_ms = -pre + np.arange(n_samples) * (1000.0 / session.sample_rate_Hz)
    table = np.column_stack([time_ms, sweeps.reshape(n_sweeps * n_ch, n_samples).T])
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(head.getvalue())
        np.savetxt(f, table, fmt="%.9g", delimiter=",")
    return path
