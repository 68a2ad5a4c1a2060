"""Given windows: recorded in the file, from another analysis, manual; their precedence."""

from __future__ import annotations

import pytest

from hreflex.analysis.window_sources import given_windows, recorded_spans, spans_from_results
from hreflex.errors import FileFormatError
from hreflex.io.format import RECORDED_WINDOW_DTYPE, empty_table


def _recorded(*rows):
    t = empty_table(RECORDED_WINDOW_DTYPE, len(rows))
    for i, r in enumerate(rows):
        t[i] = r
    return t


TABLE = _recorded((0, b"h", 14.0, 30.0, b"p2p", b"EPOCS"), (-1, b"m", 3.5, 13.0, b"mean_rect",
                                                            b"EPOCS"),
                  (1, b"background", -60, -10, b"", b""), (0, b"h", 1.0, 2.0, b"p2p", b""))


def test_recorded_spans_per_channel_first_row_wins_and_measures_are_named():
    spans, notes = recorded_spans(TABLE, 0, "p2p")
    assert spans == {"h": (14.0, 30.0), "m": (3.5, 13.0)}
    assert len(notes) == 1 and "mean_rect" in notes[0] and "p2p" in notes[0]
    assert recorded_spans(TABLE, 1, "mean_rect") == ({"m": (3.5, 13.0)}, [])


def test_precedence_is_manual_then_file_then_recorded():
    manual = {"SOL": {"h": (31.0, 44.0)}}
    from_file = {"SOL": {"m": (5.0, 20.0), "h": (30.0, 45.0)}}
    layers, notes = given_windows("SOL", 0, manual, from_file, TABLE, "p2p")
    assert [src for _, src in layers] == ["recorded", "file", "manual"]  # applied in order
    merged = {}
    for spans, _ in layers:
        merged.update(spans)
    assert merged == {"m": (5.0, 20.0), "h": (31.0, 44.0)}
    layers, notes = given_windows("MG", 5, {}, from_file, TABLE, "p2p")
    assert [src for _, src in layers] == ["recorded"]  # -1 row only; the file has no MG
    assert any("--windows-from" in n for n in notes)


def test_results_documents_are_checked():
    doc = {"schema": "hreflex-analysis/1", "channels": [
        {"name": "SOL", "windows_ms": {"m": [6.0, 20.0], "h": None}}]}
    assert spans_from_results(doc, "rec.json") == {"SOL": {"m": (6.0, 20.0)}}
    with pytest.raises(FileFormatError, match="rec.json: not an hreflex results"):
        spans_from_results({"channels": []}, "rec.json")
    with pytest.raises(FileFormatError, match="no M or H windows"):
        spans_from_results({"schema": "hreflex-analysis/1", "channels": []}, "rec.json")
