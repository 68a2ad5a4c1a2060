"""Windows given instead of found: manual (config), from another analysis (``--windows-from``)
or recorded by the acquisition system (``windows = "recorded"``).

Each source yields, per channel, ``{"m": (start_ms, stop_ms), "h": ...}`` (either key may be
missing); :func:`given_windows` merges them by precedence — manual, then the other file, then
the recorded ones — and says where each came from. Pure functions over tables and dicts; the
caller reads the files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hreflex.errors import FileFormatError
from hreflex.io.format import decode_str

Spans = dict[str, tuple[float, float]]


def recorded_spans(table: np.ndarray, channel: int, measure: str) -> tuple[Spans, list[str]]:
    """The M and H windows a recording system stored for ``channel`` (rows of the
    RECORDED_WINDOW table for it or for every channel, -1; the first row of a wave wins),
    and notes where that system measured with another amplitude than ``measure``."""
    spans: Spans = {}
    notes = []
    for row in table[(table["channel"] == channel) | (table["channel"] == -1)]:
        wave = decode_str(row["wave"])
        if wave not in ("m", "h") or wave in spans:
            continue
        spans[wave] = (float(row["start_ms"]), float(row["stop_ms"]))
        theirs = decode_str(row["measure"])
        if theirs and theirs != measure:
            notes.append(f"recorded {wave.upper()} window was measured as {theirs} by "
                         f"{decode_str(row['source']) or 'the recording system'}; this "
                         f"analysis measures {measure}")
    return spans, notes


def spans_from_results(doc: dict[str, Any], source: str) -> dict[str, Spans]:
    """Channel name -> windows of a results document (``hreflex-analysis/1``, as written by
    ``hreflex analyze --json``); ``source`` names the file in errors."""
    if not isinstance(doc, dict) or doc.get("schema") != "hreflex-analysis/1":
        raise FileFormatError(f"{source}: not an hreflex results document (schema "
                              f"{doc.get('schema') if isinstance(doc, dict) else None!r})")
    out: dict[str, Spans] = {}
    for ch in doc.get("channels", []):
        win = ch.get("windows_ms") or {}
        spans = {k: (float(win[k][0]), float(win[k][1])) for k in ("m", "h")
                 if isinstance(win.get(k), list) and len(win[k]) == 2}
        if spans:
            out[str(ch.get("name"))] = spans
    if not out:
        raise FileFormatError(f"{source}: holds no M or H windows to use")
    return out


def given_windows(channel: str, index: int, manual: dict[str, Spans],
                  from_file: dict[str, Spans] | None, recorded: np.ndarray | None,
                  measure: str) -> tuple[list[tuple[Spans, str]], list[str]]:
    """The given windows of one channel as ``[(spans, source), ...]`` from the lowest to the
    highest precedence (recorded, file, manual: apply them in that order), plus notes."""
    layers, notes = [], []
    if recorded is not None:
        spans, notes = recorded_spans(recorded, index, measure)
        if not spans:
            notes.append("no recorded windows for this channel: automatic windows used")
        layers.append((spans, "recorded"))
    if from_file is not None:
        spans = from_file.get(channel) or from_file.get("*") or {}
        if not spans:
            notes.append("the --windows-from file has no windows for this channel: "
                         "automatic windows used")
        layers.append((spans, "file"))
    layers.append((manual.get(channel, manual.get("*", {})), "manual"))
    return [(s, src) for s, src in layers if s], notes
