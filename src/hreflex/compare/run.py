"""The whole ``hreflex compare`` job: read the manifest (or the sessions' metadata), analyse
every file as ``hreflex analyze`` would (in parallel, through the batch machinery and its
per-file cache), recognise the design and compute the comparison document
(``docs/COMPARE.md``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import hreflex.compare.mixed as mixed
import hreflex.compare.table as table
from hreflex import __version__
from hreflex.analysis import AnalysisConfig
from hreflex.batch import FileOutcome, analyse_files, analyze_file, config_hash, find_sessions
from hreflex.compare.design import recognise
from hreflex.compare.manifest import Entry, entries_from_metadata, read_manifest
from hreflex.compare.measures import RECORD_SCHEMA, channel_measures
from hreflex.errors import HreflexError

SCHEMA = "hreflex-compare/1"
MANIFEST_SUFFIXES = (".csv", ".tsv", ".txt")
SESSION_CACHE = "hreflex-compare.cache"


class StudyError(HreflexError):
    """Nothing can be compared; ``problems`` are the one-line problems met before that."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


def _plan(entries: list[Entry], by: str, reference: str | None, source: str,
          problems: list[str]):
    try:
        return recognise(entries, by, reference, source)
    except HreflexError as exc:
        raise StudyError(str(exc), problems) from None


def is_manifest(inputs: Sequence[str | Path]) -> bool:
    """Whether ``inputs`` name one manifest table (a ``.csv``/``.tsv``/``.txt`` file) rather
    than session files or folders."""
    return len(inputs) == 1 and Path(inputs[0]).suffix.lower() in MANIFEST_SUFFIXES \
        and not Path(inputs[0]).is_dir()


def default_cache(inputs: Sequence[str | Path]) -> Path:
    """``<manifest>.cache/`` next to a manifest; ``./hreflex-compare.cache/`` otherwise."""
    if is_manifest(inputs):
        m = Path(inputs[0])
        return m.with_name(m.name + ".cache")
    return Path(SESSION_CACHE)


def _files_doc(entries: list[Entry], outcomes: dict[Path, FileOutcome]) -> list[dict]:
    out = []
    for e in entries:
        o = outcomes.get(e.file)
        out.append({"file": str(e.file), "row": e.row, "subject": e.subject,
                    "condition": e.level, "timepoint": e.timepoint,
                    "status": o.status if o else "not analysed",
                    "error": o.error if o else None})
    return out


def run_compare(inputs: Sequence[str | Path], by: str = "condition",
                reference: str | None = None, *, config: AnalysisConfig | None = None,
                config_path: str | Path | None = None, jobs: int | None = None,
                force: bool = False, cache: str | Path | None = None,
                on_file: Callable[[FileOutcome], None] | None = None,
                on_start: Callable[[int], None] | None = None) -> dict:
    """Compare the levels of ``by``; ``inputs`` is one manifest CSV or session files/folders
    (subject and level from their metadata). Returns the comparison document. Structural
    problems raise :class:`HreflexError` (:class:`StudyError`, with the problems met so far,
    when no comparison is left); problems of single rows or files are in the document's
    ``problems`` (one line each) and those sessions are left out.
    ``on_start(n_files)`` is called once the files to analyse are known."""
    cfg = config or AnalysisConfig()
    by = by.strip().lower()
    problems: list[str] = []
    plan = None
    if is_manifest(inputs):
        source = str(inputs[0])
        man = read_manifest(inputs[0], by)
        entries, problems = man.entries, list(man.problems)
        plan = _plan(entries, by, reference, source, problems)  # a wrong reference stops here
        files = list(dict.fromkeys(e.file for e in entries))
    else:
        source = "the session files"
        files = find_sessions(inputs)
        if not files:
            raise HreflexError(f"no session files (*.h5) in {', '.join(map(str, inputs))}")
    if on_start:
        on_start(len(files))
    sha = hashlib.sha256(f"{config_hash(cfg)} {RECORD_SCHEMA}".encode()).hexdigest()
    outcomes = {o.path: o for o in analyse_files(
        files, Path(cache) if cache else default_cache(inputs), cfg, jobs=jobs, force=force,
        on_file=on_file, analyse=partial(analyze_file, extract=channel_measures),
        config_sha=sha)}
    records = {f: (o.rows if o.status != "failed" else None) for f, o in outcomes.items()}
    problems += [f"{o.error}; left out" for o in outcomes.values() if o.status == "failed"]
    if plan is None:
        meta = {f: (r[0] if r else None) for f, r in records.items()}
        problems += [f"{f}: no channels; left out" for f, r in records.items() if r == []]
        entries, more = entries_from_metadata(meta, by)
        problems += more
        plan = _plan(entries, by, reference, source, problems)
    channels = table.study_channels({e.file: records.get(e.file) for e in entries})
    measures, rdd_ref = table.study_measures({e.file: records.get(e.file) for e in entries})
    obs = table.observations(entries, records, measures, channels, rdd_ref)
    notes = [plan.reference_note]
    if plan.mixed and mixed.unavailable():
        notes.append(mixed.unavailable())
    return {
        "schema": SCHEMA,
        "software": {"name": "hreflex", "version": __version__},
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {"manifest": source if is_manifest(inputs) else None,
                  "sessions": None if is_manifest(inputs) else [str(f) for f in files],
                  "config": str(config_path) if config_path else None,
                  "config_sha256": config_hash(cfg), "amplitude": cfg.to_dict().get("amplitude")},
        "by": by, "design": plan.design, "reference": plan.reference, "levels": plan.levels,
        "timepoints": None if plan.timepoints == [None] else plan.timepoints,
        "n_subjects": len({e.subject for e in entries}),
        "rdd_reference_Hz": rdd_ref,
        "comparisons": [{"condition": p.condition, "timepoint": p.timepoint, "design": p.kind}
                        for p in plan.pairs],
        "notes": notes, "problems": problems,
        "files": _files_doc(entries, outcomes),
        "measures": table.comparison_rows(obs, measures, channels, plan),
        "values": [{"file": str(o.entry.file), "subject": o.entry.subject,
                    "condition": o.entry.level, "timepoint": o.entry.timepoint,
                    "channel": ch, "measure": key, "value": o.value, "reason": o.reason}
                   for (key, ch), items in obs.items() for o in items],
    }
