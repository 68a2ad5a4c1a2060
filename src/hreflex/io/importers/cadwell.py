"""Cadwell Sierra EMG CSV exports (one test item per file, one column per trace).

Layout (Latin-1, or UTF-8 once re-saved): header rows named in column 0 (``Test Name``,
``Test Item``, ``Patient Name``, ``Test Date``, ``Trace Label``, ``Sensitivity (µV/Div)``,
``Hicut``, ``Locut``, ``ms/Sample``, ``Samples``), then ``Trace Data (µV)`` whose row holds
the first sample, then one row per sample. Trace labels such as ``"Tr 3 : 100 mA : 400 µs"``
give intensity and pulse width (``"Tr 3 : 56 mA"``: intensity only, pulse width unknown).
The file does not say where the stimulus is: see :func:`artifact_pre_ms`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from hreflex.errors import FileFormatError
from hreflex.io.importers.build import epoched_session, volts_per_unit
from hreflex.io.importers.origins import Origins, value_range
from hreflex.io.importers.tables import as_comma_separated, numbers, read_lines, split_rows
from hreflex.io.session import Session, SessionMeta

#: ``Tr <n> : <intensity> mA`` with an optional ``: <pulse width> µs`` (or ``ms``); the
#: Sierra's "H-Reflex Inc-Dec" tests print no pulse width
_LABEL = re.compile(
    r"^\s*Tr\s*(\d+)\s*:\s*([-+\d.eE]+)\s*mA\s*(?::\s*([-+\d.eE]+)\s*(µs|us|ms)\s*)?$"
)
_DATA_ROW = "Trace Data"
#: a Test Item holding one of these names a protocol step ("Right Increasing -> M-max",
#: "Right M-max"), not a muscle
_PROTOCOL_WORDS = ("->", "m-max", "h-max", "increasing", "decreasing")
#: fraction of a trace's steepest sample-to-sample step that marks the artifact onset
ARTIFACT_STEP_FRACTION = 0.25


def looks_like_cadwell(head: str) -> bool:
    """True when the first lines of a text file are a Cadwell Sierra export header."""
    return "Trace Label" in head and _DATA_ROW in head


def _field(header: dict[str, list[str]], name: str, source: Path) -> list[str]:
    if name not in header:
        raise FileFormatError(f"{source}: header row {name!r} is missing (not a Cadwell export?)")
    return header[name]


def _rate_Hz(ms_per_sample: str, source: Path) -> float:
    """Sampling rate from the printed ``ms/Sample`` (4 decimals, e.g. 0.1563 for 6.4 kHz).

    The nearest multiple of 100 Hz is used when its period rounds to the printed number and
    the print is precise to better than 0.1 %.
    """
    try:
        period_ms = float(ms_per_sample)
    except ValueError:
        period_ms = -1.0
    if not 0 < period_ms < float("inf"):
        raise FileFormatError(
            f"{source}: ms/Sample {ms_per_sample!r} is not a positive number of ms"
        )
    decimals = len(ms_per_sample.split(".")[1]) if "." in ms_per_sample else 0
    half_step = 0.5001 * 10.0**-decimals  # the printed value is this close to the true one
    round_rate = round(1000.0 / period_ms, -2)
    if (
        round_rate > 0
        and half_step < 1e-3 * period_ms
        and abs(1000.0 / round_rate - period_ms) <= half_step
    ):
        return float(round_rate)
    return 1000.0 / period_ms


def parse_labels(labels: list[str], source: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(intensity_mA, pulse_width_us)`` from trace labels ``"Tr N : I mA : W µs"``; the
    pulse width is NaN (unknown) in a label ``"Tr N : I mA"`` that has none."""
    values = []
    for column, label in enumerate(labels, start=1):
        match = _LABEL.match(label)
        if match is None:
            raise FileFormatError(
                f"{source}: Trace Label of column {column} is {label!r}; expected "
                "'Tr <n> : <intensity> mA' or 'Tr <n> : <intensity> mA : <pulse width> µs'"
            )
        width = float(match[3]) * (1000.0 if match[4] == "ms" else 1.0) if match[3] else math.nan
        values.append((float(match[2]), width))
    arr = np.array(values, dtype=np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def artifact_pre_ms(traces: np.ndarray, intensity_mA: np.ndarray, sample_ms: float) -> float | None:
    """Pre-stimulus time (ms) of Sierra traces, from the stimulus artifact.

    ``traces``: (n_traces, n_samples). Per trace with intensity > 0, the artifact onset is the
    first sample-to-sample step in the first half of the trace larger than
    ``ARTIFACT_STEP_FRACTION`` of the steepest step there; the file's onset is the median over
    traces, and the stimulus is taken at that time rounded **up** to a whole millisecond
    (the Sierra's artifact starts ≈0.5 ms before its nominal stimulus time). A trace that
    starts inside the artifact gives 0 (it starts at the stimulus). None if no trace was
    stimulated.
    """
    stimulated = traces[intensity_mA > 0]
    if stimulated.size == 0:
        return None
    half = stimulated[:, : max(2, stimulated.shape[1] // 2)]
    step = np.abs(np.diff(half, axis=1))
    onset = np.argmax(step > ARTIFACT_STEP_FRACTION * step.max(axis=1, keepdims=True), axis=1)
    return float(math.ceil(np.median(onset) * sample_ms - 1e-9))


def _first(header: dict[str, list[str]], name: str) -> str:
    """First cell of header row ``name`` ("" when absent or empty)."""
    return (header.get(name) or [""])[0]


def _meta(header: dict[str, list[str]]) -> tuple[SessionMeta, str, str]:
    """Session metadata, channel name and muscle from Test Item / Patient Name."""
    item = _first(header, "Test Item")
    words = item.split()
    side = words[0].lower() if words and words[0].lower() in ("left", "right") else ""
    rest = " ".join(words[1:] if side else words)
    muscle = "" if any(word in rest.lower() for word in _PROTOCOL_WORDS) else rest.lower()
    patient = _first(header, "Patient Name").split()
    subject = patient[-1] if patient else ""
    session_id = " ".join(patient[:-1])
    test = _first(header, "Test Name")
    notes = f"Cadwell Sierra test {test!r}, item {item!r}" + (f", {side} side" if side else "")
    meta = SessionMeta(subject_id=subject, session_id=session_id, muscle=muscle, notes=notes)
    return meta, item or "EMG", muscle


def _common(values: list[str]):
    """Per-trace header values as numbers when they are; one value when all traces agree."""
    try:
        values = [float(v) for v in values]
    except ValueError:
        pass
    return values[0] if len(set(values)) == 1 else list(values) or ""


def read_cadwell(path: str | Path, *, pre_ms: float | None = None) -> Session:
    """Import a Cadwell Sierra CSV export as an epoched session (one channel, one sweep per trace).

    ``pre_ms``: time from the first sample to the stimulus; by default detected from the
    stimulus artifact (:func:`artifact_pre_ms`).
    """
    source = Path(path)
    # the Sierra writes Latin-1 CSV; a file re-saved as UTF-8 or UTF-16, with ";" or tabs
    # and decimal commas, reads too, its Greek mu as micro
    lines = as_comma_separated([line.replace("μ", "µ") for line in read_lines(source)])[0]
    _, rows, data = split_rows(lines, lambda c: bool(c) and c[0].startswith(_DATA_ROW))
    header = {row[0]: row[1:] for row in rows if row}
    if not data:
        raise FileFormatError(f"{source}: no 'Trace Data' row (not a Cadwell export?)")
    labels = _field(header, "Trace Label", source)
    intensity, width = parse_labels(labels, source)
    n_traces = len(labels)
    unit = re.search(r"\((.*)\)", data[0].split(",", 1)[0])
    scale = volts_per_unit(unit[1] if unit else "", source, "Trace Data unit")
    periods = _field(header, "ms/Sample", source)[:n_traces]
    if len(set(periods)) != 1:
        raise FileFormatError(
            f"{source}: ms/Sample differs between traces ({sorted(set(periods))})"
        )
    rate = _rate_Hz(periods[0], source)
    first_data_line = len(lines) - len(data) + 1
    traces = numbers(source, data, n_traces + 1, first_data_line).T * scale
    if not np.isfinite(traces).all():  # a Sierra export holds every sample as a number
        row, col = np.argwhere(~np.isfinite(traces.T))[0]
        raise FileFormatError(f"{source}: Trace Data line {first_data_line + row}, trace "
                              f"{col + 1} is not a finite number")
    for k, n_samples in enumerate(header.get("Samples", [])[:n_traces]):
        if n_samples != str(traces.shape[1]):  # every trace's count, as ms/Sample above
            raise FileFormatError(f"{source}: header says {n_samples or 'nothing'!r} Samples "
                                  f"for trace {k + 1} but {traces.shape[1]} data rows follow")
    detected = pre_ms is None
    if detected:
        pre_ms = artifact_pre_ms(traces, intensity, 1000.0 / rate)
        if pre_ms is None:
            raise FileFormatError(
                f"{source}: no stimulated trace (all 0 mA) to find the stimulus artifact in; "
                "give the pre-stimulus time with --pre-ms"
            )
    meta, channel, muscle = _meta(header)
    origins = Origins()
    origins.set("sample rate", f"{rate:g} Hz", "header", f"ms/Sample {periods[0]}")
    origins.set(
        "pre-trigger",
        f"{pre_ms:g} ms",
        *(("detected", "stimulus artifact") if detected else ("option", "--pre-ms")),
    )
    origins.set("intensity", value_range(intensity, "mA"), "header", "Trace Label (read as mA)")
    origins.set("pulse width", value_range(width, "µs"), "header", "Trace Label (read as µs)")
    origins.set("channels", channel, "header", "Test Item")
    for field, value, row in (
        ("subject", meta.subject_id, "Patient Name"),
        ("session", meta.session_id, "Patient Name"),
    ):
        if value:
            origins.set(field, value, "header", row)
    description = {
        "system": "Cadwell Sierra",
        "test_name": _first(header, "Test Name"),
        "test_item": _first(header, "Test Item"),
        "test_date": _first(header, "Test Date"),
        "sensitivity_uV_per_div": _common(header.get("Sensitivity (µV/Div)", [""])[:n_traces]),
        "highpass_Hz": _common(header.get("Locut", [""])[:n_traces]),
        "lowpass_Hz": _common(header.get("Hicut", [""])[:n_traces]),
        "ms_per_sample": periods[0],
        "pre_trigger_ms_source": "detected from stimulus artifact" if detected else "given",
        "trace_labels": list(labels),
        "provenance": origins.text(),
    }
    return epoched_session(
        source,
        traces[:, None, :],
        rate,
        pre_ms,
        intensity,
        pulse_width_us=width,
        channel_names=[channel],
        channel_muscles=[muscle],
        meta=meta,
        description=description,
    )
