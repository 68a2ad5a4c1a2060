"""The study manifest of ``hreflex compare``: which session file belongs to which subject and
condition (``docs/COMPARE.md``).

A manifest is a CSV table with a header row and at least the columns ``file``, ``subject``
and the ``--by`` column (default ``condition``); any other column is kept. A ``timepoint``
column (when ``--by`` is another column) marks repeated measurements. Without a manifest the
same entries are made from the session files' own metadata (:func:`entries_from_metadata`).

Structural problems (unreadable file, missing columns) raise :class:`HreflexError`. Problems
of single rows (a file that does not exist, an empty cell, a subject twice in a condition)
become one-line messages and those rows are left out: the rest goes on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from hreflex.errors import HreflexError
from hreflex.species import canonical_species

REQUIRED = ("file", "subject")
TIMEPOINT = "timepoint"
#: --by values usable without a manifest -> the session metadata field that holds them
METADATA_LEVELS = {"condition": "condition", "session": "session_id",
                   "session_id": "session_id", "species": "species", "muscle": "muscle",
                   "nerve": "nerve"}


@dataclass
class Entry:
    """One session of the study: ``row`` is its line in the manifest (None without one),
    ``level`` its value of the ``--by`` column, ``timepoint`` None without that column,
    ``columns`` every column of its row (lower-case names)."""

    file: Path
    subject: str
    level: str
    timepoint: str | None = None
    row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"row {self.row} ({self.file.name})" if self.row is not None else str(self.file)


@dataclass
class Manifest:
    """The usable entries, the one-line problems of the rows left out, and the columns."""

    path: Path | None
    by: str
    entries: list[Entry]
    problems: list[str]
    columns: list[str]

    @property
    def timepoints(self) -> bool:
        return any(e.timepoint is not None for e in self.entries)


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HreflexError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    for encoding in ("utf-8-sig", "cp1252"):  # Excel writes either
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise HreflexError(f"{path}: the manifest is not UTF-8 or Windows-1252 text")


def _delimiter(header: str) -> str:
    """The most frequent of comma, semicolon and tab in the header line (comma on ties)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = base / p
    if not p.exists() and "\\" in value:  # a manifest written on Windows
        q = Path(value.replace("\\", "/")).expanduser()
        q = q if q.is_absolute() else base / q
        p = q if q.exists() else p
    return p


def read_manifest(path: str | Path, by: str = "condition") -> Manifest:
    """Read and check a manifest CSV (comma, semicolon or tab separated; UTF-8 with or
    without BOM, or Windows-1252; column names case-insensitive; file paths relative to the
    manifest's folder). Blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    by = by.strip().lower()
    text = _text(path)
    first = next((line for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        raise HreflexError(f"{path}: the manifest is empty (no header row)")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    table = [(reader.line_num, cells) for cells in reader
             if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#")]
    header = [h.strip().lower() for h in table[0][1]]
    dup = sorted({h for h in header if header.count(h) > 1 and h})
    if dup:
        raise HreflexError(f"{path}: column(s) {', '.join(map(repr, dup))} appear more than "
                           "once in the header")
    missing = [c for c in (*REQUIRED, by) if c not in header]
    if missing:
        raise HreflexError(f"{path}: missing column(s) {', '.join(map(repr, missing))} "
                           f"(the header has: {', '.join(h for h in header if h) or 'nothing'})")
    timepoint = TIMEPOINT in header and by != TIMEPOINT
    entries, problems = [], []
    for line_no, cells in table[1:]:
        where = f"{path}: row {line_no}"
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            problems.append(f"{where}: {len(cells)} cells, the header has {len(header)}; "
                            "row left out")
            continue
        row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        empty = [c for c in (*REQUIRED, by, *([TIMEPOINT] if timepoint else [])) if not row[c]]
        if empty:
            problems.append(f"{where}: empty {', '.join(map(repr, empty))}; row left out")
            continue
        file = _resolve(path.parent, row["file"])
        if not file.is_file():
            problems.append(f"{where}: {file}: no such file; row left out")
            continue
        entries.append(Entry(file, row["subject"], row[by],
                             row[TIMEPOINT] if timepoint else None, line_no, row))
    if not entries and not problems:
        raise HreflexError(f"{path}: the manifest has a header but no rows")
    kept, more = check_entries(entries, by, str(path))
    return Manifest(path, by, kept, problems + more, header)


def check_entries(entries: list[Entry], by: str, source: str) -> tuple[list[Entry], list[str]]:
    """Leave out (with one line each) a file listed twice (the later rows) and a subject
    found more than once in one level (and timepoint): all of those entries, since which
    one is meant cannot be known."""
    problems, seen, kept = [], {}, []
    for e in entries:
        key = e.file.resolve()
        if key in seen:
            problems.append(f"{source}: {e.where}: {e.file} is already listed ({seen[key].where});"
                            " left out")
            continue
        seen[key] = e
        kept.append(e)
    cells: dict[tuple, list[Entry]] = {}
    for e in kept:
        cells.setdefault((e.subject, e.level, e.timepoint), []).append(e)
    bad = set()
    for (subject, level, tp), group in cells.items():
        if len(group) > 1:
            at = f" at {TIMEPOINT} {tp!r}" if tp is not None else ""
            problems.append(f"{source}: subject {subject!r} appears {len(group)} times in "
                            f"{by} {level!r}{at} ({', '.join(e.where for e in group)}); "
                            "all of them left out")
            bad.update(id(e) for e in group)
    return [e for e in kept if id(e) not in bad], problems


def entries_from_metadata(records: dict[Path, dict | None], by: str
                          ) -> tuple[list[Entry], list[str]]:
    """Entries from the session files' own metadata (``subject_id`` and the field named by
    ``by``, see :data:`METADATA_LEVELS`); ``records`` maps each file to the metadata of
    its analysis (None when it failed: it is reported elsewhere). Species are compared by
    the species they name (``Rattus norvegicus`` and ``rat`` are one level, ``rat``)."""
    by = by.strip().lower()
    if by not in METADATA_LEVELS:
        raise HreflexError(f"--by {by}: session files only carry "
                           f"{', '.join(sorted(set(METADATA_LEVELS)))}; use a manifest CSV "
                           "for other columns")
    entries, problems = [], []
    for file, meta in records.items():
        if meta is None:
            continue
        subject, level = meta.get("subject_id", ""), meta.get(METADATA_LEVELS[by], "")
        missing = [k for k, v in (("subject_id", subject), (METADATA_LEVELS[by], level)) if not v]
        if missing:
            problems.append(f"{file}: no {' or '.join(missing)} in its metadata; left out")
            continue
        if METADATA_LEVELS[by] == "species":
            level = canonical_species(level) or level
        entries.append(Entry(file, subject, level, columns={k: str(v) for k, v in meta.items()}))
    kept, more = check_entries(entries, by, "sessions")
    return kept, problems + more
