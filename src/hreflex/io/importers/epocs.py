"""EPOCS's own response windows (its RangeIntegrator parameters) as recorded windows.

EPOCS (Evoked Potential Operant Conditioning System, built on BCI2000) measures every trial
in windows of its RangeIntegrator signal-processing filter, defined in the header:

- ``ResponseDefinition`` (matrix, one row per window): ``Input Channel`` (a label or 1-based
  index of the channels its TrapFilter epochs, ``ChannelsToTrap``), ``Start``, ``End`` (time
  from the trigger; a number without unit is in sample blocks), ``Subtract Mean?``, ``Norm``,
  ``Weight``, ``Response Name``. Rows with the same name are summed (× weight).
- ``ResponseAssessment`` (column ``Response Name``): the conditioned responses -> wave ``h``.
- ``ReferenceAssessment`` (column ``Response Name``): the reference responses -> wave ``m``.
  (A name in neither, or in both, has no known wave: its row is skipped with a warning.)
- ``AnalysisType``: 0 = mean rectified (the mean of |x|^Norm; Norm 1 -> ``mean_rect``, other
  norms -> unknown), 1 = peak-to-peak (``p2p``). Files from before the parameter existed
  always used the mean: Norm 1 -> ``mean_rect``, Norm 2 -> ``rms`` (the root was taken).

EPOCS's window is samples ``t + round(Start·fs)`` … ``+ round((End − Start)·fs) − 1`` around
the trigger sample ``t``, measured on its online filtered signal (IIRBandpass parameters, kept
in ``/devices/source``); its peak-to-peak is ``max(0, max) − min(0, min)`` in the window.
"""

from __future__ import annotations

import warnings

import numpy as np

from hreflex.errors import FileFormatError
from hreflex.io.format import RECORDED_WINDOW_DTYPE, empty_table
from hreflex.io.importers.bci2000_header import Header, Param, channel_index
from hreflex.io.importers.build import as_number
from hreflex.io.importers.origins import SourceWarning

_SOURCE = "EPOCS ResponseDefinition"


def _names(header: Header, param: str) -> set[str]:
    """Response names listed in assessment matrix ``param`` (lower case)."""
    p = header.param(param)
    if p is None:
        return set()
    col = p.column("Response Name", 0)
    return {row[col].strip().lower() for row in p.matrix() if len(row) > col}


def _measure(analysis_type: str | None, norm: str) -> str:
    try:
        power = float(norm) if norm.strip() else 0.0
    except ValueError:
        return ""
    if analysis_type == "1":
        return "p2p"
    if analysis_type in ("0", None) and power == 1.0:
        return "mean_rect"
    if analysis_type is None and power == 2.0:
        return "rms"
    return ""


def _columns(p: Param) -> dict[str, int] | None:
    cols = {
        name: p.column(name, i)
        for i, name in enumerate(
            ("Input Channel", "Start", "End", "Subtract Mean?", "Norm", "Weight", "Response Name")
        )
    }
    return cols if p.cols > max(cols.values()) else None


def sample_span_ms(start_ms: float, stop_ms: float, rate_Hz: float) -> tuple[float, float]:
    """The times of the first and last sample EPOCS measures for a window ``Start``..``End``:
    samples ``round(Start fs)`` .. ``round(Start fs) + round((End - Start) fs) - 1``."""
    first = int(np.floor(start_ms * rate_Hz / 1e3 + 0.5))
    n = int(np.floor((stop_ms - start_ms) * rate_Hz / 1e3 + 0.5))
    return first * 1e3 / rate_Hz, (first + max(n, 1) - 1) * 1e3 / rate_Hz


def epocs_windows(
    header: Header, trapped: list[int], emg: list[int], labels: list[str], block_s: float | None,
    rate_Hz: float | None = None,
) -> np.ndarray:
    """RECORDED_WINDOW rows from ``ResponseDefinition`` (empty when the header has none).

    ``trapped``: source-channel indices of ``ChannelsToTrap`` (what the RangeIntegrator sees,
    in order); ``emg``: source-channel index of each session channel; ``labels``: the source
    channel labels; ``block_s``: the duration of a sample block (for times without unit);
    ``rate_Hz``: the sampling rate: each window is stored as the times of the first and last
    sample EPOCS measured (:func:`sample_span_ms`), so a window taken as ``start <= t <=
    stop`` measures exactly EPOCS's samples (None: the nominal Start and End).
    Rows that cannot be placed (unknown channel, wave or time) are skipped with a
    :class:`SourceWarning` naming them.
    """
    p = header.param("ResponseDefinition")
    if p is None or p.rows == 0:
        return empty_table(RECORDED_WINDOW_DTYPE)
    source = header.source
    cols = _columns(p)
    if cols is None:
        warnings.warn(
            f"{source}: ResponseDefinition has {p.cols} columns, not EPOCS's 7; its windows "
            "are not imported",
            SourceWarning,
            stacklevel=2,
        )
        return empty_table(RECORDED_WINDOW_DTYPE)
    h_names, m_names = _names(header, "ResponseAssessment"), _names(header, "ReferenceAssessment")
    analysis = header.text("AnalysisType")
    trapped_labels = [labels[i] for i in trapped]
    block_ms = None if block_s is None else 1e3 * block_s
    rows, skipped = [], []
    for number, row in enumerate(p.matrix(), start=1):
        name = row[cols["Response Name"]].strip()
        where = f"row {number} ({name})"
        spec = row[cols["Input Channel"]]
        k = channel_index(spec, trapped_labels)
        channel = emg.index(trapped[k]) if k is not None and trapped[k] in emg else None
        wave = {(True, False): "h", (False, True): "m"}.get(
            (name.lower() in h_names, name.lower() in m_names)
        )
        if channel is None or wave is None:
            why = (
                f"channel {spec!r} is not an EMG channel"
                if channel is None
                else ("its name is in neither or both of ResponseAssessment / ReferenceAssessment")
            )
            skipped.append(f"{where}: {why}")
            continue
        try:
            start, stop = (
                header.physical("ResponseDefinition", row[cols[c]], "s", block_ms, power=-3)
                for c in ("Start", "End")
            )
        except FileFormatError as exc:
            skipped.append(f"{where}: {exc}".replace(f"{source}: ", ""))
            continue
        if not start < stop:
            skipped.append(f"{where}: Start {start:g} ms is not before End {stop:g} ms")
            continue
        text = f"{_SOURCE} {name}"
        if row[cols["Subtract Mean?"]].strip().lower() in ("yes", "true", "1", "on"):
            text += ", mean subtracted"
        weight = row[cols["Weight"]].strip()
        if as_number(weight) != 1.0:
            text += f", weight {weight}"
        measure = _measure(analysis, row[cols["Norm"]])
        if rate_Hz:
            start, stop = sample_span_ms(start, stop, rate_Hz)
        rows.append((channel, wave.encode(), start, stop, measure.encode(), text.encode()[:64]))
    if skipped:
        warnings.warn(
            f"{source}: ResponseDefinition windows not imported: {'; '.join(skipped)}",
            SourceWarning,
            stacklevel=2,
        )
    table = empty_table(RECORDED_WINDOW_DTYPE, len(rows))
    for i, values in enumerate(rows):
        table[i] = values
    return table


def describe_windows(windows: np.ndarray, channel_names: list[str]) -> str:
    """``"H EMG1 14–30 ms p2p; M EMG1 3.5–13 ms p2p"`` for the provenance notes."""
    parts = []
    for w in windows:
        channel = "all" if w["channel"] < 0 else channel_names[w["channel"]]
        measure = w["measure"].decode() or "measure unknown"
        parts.append(
            f"{w['wave'].decode().upper()} {channel} {w['start_ms']:g}–{w['stop_ms']:g} ms "
            f"{measure}"
        )
    return "; ".join(parts) or "none"
