"""The real recordings of the accuracy corpus and the values their labs published.

``root`` is a ``real_data`` folder laid out as the project's shared one (its README): the
Cadwell exports of the public repository PeggyS/m_max_h_reflex under ``cadwell/`` and an EPOCS
recording under ``epocs/``. Nothing here is part of an analysis; ``bench/bench_accuracy.py``
grades the automatic analysis on these files and ``tests/analysis/test_real_data.py`` asserts
it. The files are read, never written.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hreflex.analysis import analyze_session
from hreflex.io.importers.cadwell import read_cadwell
from hreflex.io.session import Session

#: the EPOCS stimulus test of the shared data
EPOCS_FILE = Path("epocs") / "fcr2l-2016-09-22-14-21-R41-ST.dat"


@dataclass(frozen=True)
class MmaxRow:
    """One row of ``cadwell/s2718tdvg/m_max.csv``: the ramp's file, the lab's M-max (µV,
    the largest single-trace peak-to-peak in its M window) and that window (ms after the
    stimulus: ``mep_latency_ms`` lasting ``mep_dur_ms``)."""

    session: str
    side: str  # "inv" (the left leg) or "uninv"
    muscle: str
    path: Path
    published_uV: int
    window_ms: tuple[float, float]


def m_max_rows(root: Path) -> list[MmaxRow]:
    """The 16 M-max ramps of ``s2718tdvg`` with the lab's values (README: the involved side
    is the left leg)."""
    folder = Path(root) / "cadwell" / "s2718tdvg"
    with open(folder / "m_max.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [MmaxRow(r["session"], r["side"], r["muscle"],
                    folder / r["session"] / (f"{'left' if r['side'] == 'inv' else 'right'}_"
                                             f"{r['muscle'].lower()}.csv"),
                    int(r["mep_ampl_uv"]),
                    (float(r["mep_latency_ms"]),
                     float(r["mep_latency_ms"]) + float(r["mep_dur_ms"]))) for r in rows]


def automatic_m_max(rows: list[MmaxRow],
                    transform: Callable[[Session], Session] | None = None) -> np.ndarray:
    """(n_rows,) the automatic analysis' largest single-sweep M peak-to-peak of each ramp
    (``recruitment.mmax_observed_mV``, µV), of the file as read or as ``transform`` changes
    it (e.g. another sample rate)."""
    out = []
    for row in rows:
        session = read_cadwell(row.path)
        if transform is not None:
            session = transform(session)
        out.append(analyze_session(session).channels[0].recruitment.mmax_observed_mV * 1e3)
    return np.array(out)


def resampled(session: Session, up: bool) -> Session:
    """An epoched session at twice its rate (linear interpolation between samples) or at half
    (the mean of each pair of samples: a plain anti-alias filter and decimation)."""
    x = np.asarray(session.sweeps, np.float64)
    if up:
        y = np.empty((*x.shape[:-1], 2 * x.shape[-1] - 1))
        y[..., ::2], y[..., 1::2] = x, (x[..., :-1] + x[..., 1:]) / 2
        rate = 2 * session.sample_rate_Hz
    else:
        n = x.shape[-1] // 2 * 2
        y = x[..., :n].reshape(*x.shape[:-1], -1, 2).mean(axis=-1)
        rate = session.sample_rate_Hz / 2
    return replace(session, sweeps=y.astype(np.float32), sample_rate_Hz=rate)


def h_max_top3(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The three largest single-trace H peak-to-peaks (µV) of the forearm's decreasing ramp
    (``s2802mytb/week5/right_flexors_dec.csv``): the lab's (``m_max_h_reflex.csv``, row
    week5 / uninv / flexors; µV despite the column names) and the automatic analysis'."""
    folder = Path(root) / "cadwell" / "s2802mytb"
    with open(folder / "m_max_h_reflex.csv", newline="") as f:
        lab = next(r for r in csv.DictReader(f)
                   if (r["session"], r["side"], r["muscle"]) == ("week5", "uninv", "flexors"))
    published = np.array([float(lab[f"h_max_{k}_us"]) for k in (1, 2, 3)])
    result = analyze_session(read_cadwell(folder / "week5" / "right_flexors_dec.csv"))
    return published, np.sort(result.sweeps.h.p2p_mV[:, 0])[::-1][:3] * 1e3


def epocs_windows(root: Path) -> list[tuple[str, str, tuple[float, float],
                                            tuple[float, float] | None]]:
    """EPOCS's own windows (its header's ``ResponseDefinition``) beside the automatic ones:
    (channel name, wave, EPOCS's (start, stop) ms, the automatic (start, stop) ms or None)
    for every recorded window."""
    from hreflex.io.importers import import_file

    session = import_file(Path(root) / EPOCS_FILE)
    result = analyze_session(session)
    out = []
    for w in session.recorded_windows:
        wave, c = w["wave"].decode(), int(w["channel"])
        auto = getattr(result.channels[c].windows, wave) if result.channels[c].windows else None
        out.append((session.channel_names[c], wave, (float(w["start_ms"]), float(w["stop_ms"])),
                    None if auto is None else (auto.start_ms, auto.stop_ms)))
    return out
