"""Reading comma-separated text tables (Cadwell exports, generic sweep CSV; either may also be
``;``- or tab-separated with decimal commas, :func:`as_comma_separated`, and UTF-16).

Both layouts have a label column (column 0), a few header rows named in it, then numeric data
rows; :func:`split_rows` separates them and :func:`numbers` parses the data block with numpy's
C parser, so a bad cell is reported with its row and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hreflex.errors import FileFormatError


def decode_text(raw: bytes) -> str:
    """Text of a file's bytes: UTF-16 where it starts with a UTF-16 byte-order mark (a
    spreadsheet's "Unicode text"), else UTF-8 (with or without its mark), else Latin-1. (A
    cut UTF-16 head, e.g. the first bytes read to detect a format, decodes as far as it
    goes.)"""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_lines(path: Path, encoding: str | None = None) -> list[str]:
    """Lines of a text file (:func:`decode_text` unless ``encoding`` is given)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return (decode_text(raw) if encoding is None else raw.decode(encoding)).splitlines()


#: a number written with a decimal comma (``-1,25``, ``3,5e-06``)
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*$")


def as_comma_separated(lines: list[str]) -> tuple[list[str], str]:
    """``(lines, delimiter)``: a table written with ``;`` or tab between cells (the way a
    spreadsheet exports it where the decimal mark is a comma) as comma-separated lines with
    decimal points. The delimiter is ``;`` (or tab) when every one of the first 20 lines
    that are not blank or ``#`` comments holds it; numbers with a decimal comma become
    ``1.25``. Comma-separated tables and comment lines are returned as they are."""
    table = [ln for ln in lines if ln.strip() and not ln.startswith("#")][:20]
    delimiter = next((d for d in (";", "\t") if table and all(d in ln for ln in table)), ",")
    if delimiter == ",":
        return lines, delimiter
    out = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        row = [c.replace(",", ".") if _DECIMAL_COMMA.match(c) else c
               for c in next(csv.reader([line], delimiter=delimiter))]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(row)
        out.append(buffer.getvalue())
    return out, delimiter


def cells(line: str) -> list[str]:
    """One CSV line -> stripped cells (quotes removed)."""
    return [c.strip() for c in next(csv.reader([line]))] if line else []


def split_rows(
    lines: list[str], is_data: Callable[[list[str]], bool]
) -> tuple[list[str], list[list[str]], list[str]]:
    """``(comments, header_rows, data_lines)``: leading ``#`` lines (without the ``#``), the rows
    before the first row for which ``is_data(cells)`` is true, and the lines from there on
    (blank lines dropped)."""
    lines = [ln for ln in lines if ln.strip()]
    n_comments = next((i for i, ln in enumerate(lines) if not ln.startswith("#")), len(lines))
    comments = [ln[1:].strip() for ln in lines[:n_comments]]
    rest = lines[n_comments:]
    header: list[list[str]] = []
    for i, line in enumerate(rest):
        row = cells(line)
        if is_data(row):
            return comments, header, rest[i:]
        header.append(row)
    return comments, header, []


def numbers(source: Path, data_lines: list[str], n_columns: int, first_line: int) -> np.ndarray:
    """Columns 1..n_columns-1 of ``data_lines`` as float64 (n_rows, n_columns - 1).

    ``first_line`` is the 1-based line number of ``data_lines[0]`` in the file (for messages).
    """
    if not data_lines:
        raise FileFormatError(f"{source}: no data rows after the header")
    try:
        return np.loadtxt(
            data_lines, delimiter=",", usecols=range(1, n_columns), ndmin=2, dtype=np.float64
        )
    except ValueError as exc:
        bad = re.search(r"string '(.*)' to \w+ at row (\d+), column (\d+)", str(exc))
        where = (
            f"line {first_line + int(bad[2])}, column {bad[3]}: {bad[1]!r} is not a number"
            if bad
            else f"data rows from line {first_line} on: {exc}"
        )
        raise FileFormatError(
            f"{source}: {where} (expected {n_columns - 1} numbers per row after the label column)"
        ) from None
