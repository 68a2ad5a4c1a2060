"""Analyse many session files (``hreflex batch``): a process pool, one CSV row per file and
channel, and a per-file result cache so that a rerun only analyses what changed.

Cache (``docs/REPORT.md``): next to ``results.csv`` a folder ``results.csv.cache/`` with one
JSON document per session file (``<stem>-<hash of its absolute path>.json``): the file's
CSV rows plus what they were made from (file size and modification time, hash of the
analysis parameters, hreflex version). A file is up to date, and skipped, when all of these
still match. Workers write their file's cache entry themselves, so an interrupted batch
resumes where it stopped. Failures are not cached: a failed file is tried again next time.
Session files are only read, never written. The same per-file job runs on a Dask distributed
cluster instead of the local pool with ``scheduler=ADDRESS`` (the ``dask`` extra).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hreflex import __version__
from hreflex.analysis import AnalysisConfig, analyze_session
from hreflex.analysis.recruitment import RecruitmentResult
from hreflex.errors import HreflexError
from hreflex.export.results_csv import csv_cell
from hreflex.io.files import atomic_output, check_output, file_sha256

CACHE_SCHEMA = "hreflex-batch-cache/1"
#: session metadata columns (from the file's root attributes)
META_COLUMNS = ("subject_id", "session_id", "condition", "species", "nerve")
#: the columns of every row, in order; ``rdd_ratio_<f>Hz`` columns (one per train frequency
#: found in any file, ascending) and ``notes`` follow
COLUMNS = (
    "file", "sha256", *META_COLUMNS, "channel", "muscle", "n_sweeps", "n_excluded",
    "m_window_start_ms", "m_window_stop_ms", "h_window_start_ms", "h_window_stop_ms",
    "m_latency_ms", "h_latency_ms", "m_peak_latency_ms", "h_peak_latency_ms",
    *RecruitmentResult.SUMMARY, "mmax_source", "hmax_source", "plateau_reached",
    "threshold_method", "rdd_reference_Hz",
)
RDD_PREFIX = "rdd_ratio_"


@dataclass
class FileOutcome:
    """What happened to one file: ``status`` is ``analysed``, ``cached`` (up to date,
    skipped) or ``failed`` (``error`` is a one-line message naming the file)."""

    path: Path
    status: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`: every file in input order, and the CSV written."""

    files: list[FileOutcome]
    csv_path: Path

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]


def find_sessions(paths: Iterable[str | Path]) -> list[Path]:
    """Session files named by ``paths``: files as given, directories searched recursively
    for ``*.h5`` (sorted; ``*.partial-<pid>.h5`` files being written are skipped). Duplicates
    are dropped; a missing path is an error."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.h5")
                           if q.is_file() and ".partial-" not in q.name)  # a write under way
        elif p.exists():
            found = [p]
        else:
            raise HreflexError(f"{p}: no such file or directory")
        for q in found:
            if q.resolve() not in seen:
                seen.add(q.resolve())
                out.append(q)
    return out


def cache_dir_for(csv_path: Path) -> Path:
    """The cache folder of a results CSV: ``<csv name>.cache`` next to it."""
    return csv_path.with_name(csv_path.name + ".cache")


def cache_file(cache_dir: Path, session_path: Path) -> Path:
    digest = hashlib.sha256(str(session_path.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"{session_path.stem}-{digest}.json"


def config_hash(config: AnalysisConfig) -> str:
    """SHA-256 of the analysis parameters (canonical JSON)."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(path: Path, config_sha: str) -> dict[str, Any]:
    st = path.stat()
    return {"schema": CACHE_SCHEMA, "software_version": __version__,
            "config_sha256": config_sha, "input_size": st.st_size,
            "input_mtime_ns": st.st_mtime_ns}


def cached_rows(session_path: Path, entry: Path, config_sha: str) -> list[dict] | None:
    """The cached rows of ``session_path`` if ``entry`` is up to date, else None."""
    try:
        doc = json.loads(entry.read_text(encoding="utf-8"))
        stamp = _stamp(session_path, config_sha)
    except (OSError, ValueError):
        return None
    fresh = isinstance(doc, dict) and all(doc.get(k) == v for k, v in stamp.items())
    return doc.get("rows") if fresh else None


def _value(d: dict | None, key: str) -> Any:
    return None if d is None else d.get(key)


def channel_rows(doc: dict, meta: dict[str, str], path: Path, sha256: str) -> list[dict]:
    """One CSV row per channel of a results document (``AnalysisResult.to_dict()``);
    ``notes`` explains every empty key number."""
    rows = []
    for ch in doc["channels"]:
        rec, lat, win = ch["recruitment"], ch["latency_ms"], ch["windows_ms"]
        row: dict[str, Any] = {"file": str(path), "sha256": sha256, **meta,
                               "channel": ch["name"], "muscle": ch["muscle"] or meta["muscle"],
                               "n_sweeps": ch["qc"]["n_sweeps"],
                               "n_excluded": ch["qc"]["n_excluded"]}
        for k in ("m", "h"):
            start, stop = win.get(k) or (None, None)
            row.update({f"{k}_window_start_ms": start, f"{k}_window_stop_ms": stop,
                        f"{k}_latency_ms": lat.get(k), f"{k}_peak_latency_ms": lat.get(f"{k}_peak")})
        for k in (*RecruitmentResult.SUMMARY, "mmax_source", "hmax_source", "plateau_reached",
                  "threshold_method"):
            row[k] = _value(rec, k)
        row["rdd_reference_Hz"] = ch["rdd_info"]["reference_Hz"]
        row.update({f"{RDD_PREFIX}{r['frequency_Hz']:g}Hz": r["ratio"] for r in ch["rdd"]})
        why = [f"{k}: {rec[f'{k}_reason']}" for k in RecruitmentResult.SUMMARY
               if rec and rec.get(k) is None and f"{k}_reason" in rec]
        if rec is None:
            why.append(f"recruitment: {ch.get('recruitment_reason')}")
        if not ch["rdd"]:
            why.append(f"rdd: {ch.get('rdd_reason')}")
        row["notes"] = "; ".join([*ch["messages"], *why])
        rows.append(row)
    return rows


def analyze_file(path: Path, config: AnalysisConfig,
                 extract: Callable[[dict, dict, Path, str], list[dict]] = channel_rows
                 ) -> list[dict]:
    """Analyse one session file and return its CSV rows (raises ``HreflexError`` for a
    file that cannot be read). ``extract(doc, meta, path, sha256)`` makes the rows from the
    results document (default :func:`channel_rows`; ``hreflex compare`` passes its own)."""
    from hreflex.io.session import read_session

    sha = file_sha256(path)
    session = read_session(path)
    result = analyze_session(session, config, input_info={"path": str(path), "sha256": sha})
    meta = {k: getattr(session.meta, k) for k in (*META_COLUMNS, "muscle")}
    return extract(result.to_dict(), meta, path, sha)


def _one_line(path: Path, message: str) -> str:
    message = " ".join(message.split())
    return message if str(path) in message else f"{path}: {message}"


def process_file(path: Path, config: AnalysisConfig, entry: Path, config_sha: str,
                 analyse: Callable[[Path, AnalysisConfig], list[dict]] | None = None
                 ) -> FileOutcome:
    """Analyse one file (``analyse(path, config)``, default :func:`analyze_file`) and write
    its cache entry; never raises for a bad file."""
    try:
        stamp = _stamp(path, config_sha)  # before reading: a file changed meanwhile is redone
        rows = (analyse or analyze_file)(path, config)
    except HreflexError as exc:
        return FileOutcome(path, "failed", error=_one_line(path, str(exc)))
    except Exception as exc:  # a bug or an unreadable file: report it, keep going
        return FileOutcome(path, "failed",
                           error=_one_line(path, f"internal error ({type(exc).__name__}: {exc})"))
    tmp = entry.with_name(entry.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**stamp, "path": str(path.resolve()), "rows": rows}),
                   encoding="utf-8")
    os.replace(tmp, entry)
    return FileOutcome(path, "analysed", rows)


def default_jobs() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run(tasks: list[tuple], jobs: int) -> Iterator[FileOutcome]:
    """Outcomes of ``process_file(*task)`` in completion order; in this process when
    ``jobs`` is 1."""
    if jobs <= 1:
        yield from (process_file(*t) for t in tasks)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(process_file, *t): t[0] for t in tasks}
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # the worker died (e.g. a crash inside a C library)
                    path = futures[fut]
                    yield FileOutcome(path, "failed", error=_one_line(
                        path, f"worker process failed ({type(exc).__name__}: {exc})"))
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


#: how long ``--scheduler`` tries to reach the Dask scheduler, s
CONNECT_TIMEOUT_S = 30


def dask_client(scheduler: str):
    """A ``distributed.Client`` of the Dask scheduler at ``scheduler`` (e.g.
    ``tcp://10.0.0.5:8786``); ``HreflexError`` without the ``dask`` extra or when the
    scheduler cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise HreflexError("--scheduler needs the optional dask extra: pip install "
                           "'hreflex[dask]'") from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise HreflexError(f"cannot reach the Dask scheduler at {scheduler}: "
                           f"{' '.join(str(exc).split()) or type(exc).__name__}") from None


def _run_on_cluster(tasks: list[tuple], client) -> Iterator[FileOutcome]:
    """Outcomes of ``process_file(*task)`` run by the workers of a ``distributed.Client``,
    in completion order; the client is closed at the end."""
    from distributed import as_completed

    with client:
        futures = {client.submit(process_file, *t, pure=False): t[0] for t in tasks}
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # the worker died or could not run the task
                    path = futures[fut]
                    yield FileOutcome(path, "failed", error=_one_line(
                        path, f"cluster worker failed ({type(exc).__name__}: {exc})"))
        except BaseException:
            client.cancel(list(futures))
            raise


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write the rows (atomically) with :data:`COLUMNS`, the RDD ratio columns and notes."""
    freqs = sorted({k for r in rows for k in r if k.startswith(RDD_PREFIX)},
                   key=lambda k: float(k[len(RDD_PREFIX):-2]))
    header = [*COLUMNS, *freqs, "notes"]
    with atomic_output(path, overwrite=True) as partial:
        with open(partial, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows([csv_cell(r.get(k)) for k in header] for r in rows)


def run_batch(paths: Iterable[str | Path], csv_path: str | Path, *, jobs: int | None = None,
              force: bool = False, config: AnalysisConfig | None = None,
              on_file: Callable[[FileOutcome], None] | None = None,
              overwrite: bool = False, inputs: Iterable[str | Path] = (),
              scheduler: str | None = None) -> BatchResult:
    """Analyse every session file under ``paths`` into ``csv_path`` (see the module doc).

    Up-to-date files are taken from the cache unless ``force``; the rest are analysed by
    ``jobs`` processes (default: the CPUs available). ``on_file`` is called in this process
    with every outcome as it happens (cached files first). Bad files are reported in the
    result, never raised; the CSV holds the rows of every file that did not fail. With
    ``scheduler`` (a Dask scheduler address; the ``dask`` extra) the files are analysed on
    that cluster instead of local processes, with the same cache, rows and errors. An
    existing ``csv_path`` is replaced only with ``overwrite``, and never when it is one of
    the session files or of ``inputs`` (e.g. the analysis config): checked before any work.
    """
    csv_path = Path(csv_path)
    files = find_sessions(paths)
    if not files:
        raise HreflexError(f"no session files (*.h5) in {', '.join(map(str, paths))}")
    check_output(csv_path, inputs=[*files, *inputs], overwrite=overwrite)
    ordered = analyse_files(files, cache_dir_for(csv_path), config or AnalysisConfig(),
                            jobs=jobs, force=force, on_file=on_file, scheduler=scheduler)
    write_csv(csv_path, [r for o in ordered for r in o.rows])
    return BatchResult(ordered, csv_path)


def analyse_files(files: list[Path], cache: Path, config: AnalysisConfig, *,
                  jobs: int | None = None, force: bool = False,
                  on_file: Callable[[FileOutcome], None] | None = None,
                  analyse: Callable[[Path, AnalysisConfig], list[dict]] | None = None,
                  config_sha: str | None = None, scheduler: str | None = None
                  ) -> list[FileOutcome]:
    """The outcome of every file (in input order), from the ``cache`` folder when up to date
    (unless ``force``), else made by ``analyse(path, config)`` (default :func:`analyze_file`;
    a module-level function or a ``functools.partial`` of one, for the worker processes) in
    ``jobs`` processes. ``config_sha`` (default :func:`config_hash`) is what cache entries
    must have been made with: a caller whose rows differ passes its own, so that entries of
    another kind never match. ``on_file`` and ``scheduler`` as in :func:`run_batch`."""
    sha = config_sha or config_hash(config)
    client = dask_client(scheduler) if scheduler else None  # fails early, before any work
    cache.mkdir(parents=True, exist_ok=True)
    outcomes: dict[Path, FileOutcome] = {}
    tasks = []
    for f in files:
        entry = cache_file(cache, f)
        rows = None if force else cached_rows(f, entry, sha)
        if rows is None:
            tasks.append((f, config, entry, sha, analyse))
            continue
        outcomes[f] = FileOutcome(f, "cached", rows)
        if on_file:
            on_file(outcomes[f])
    run = (_run_on_cluster(tasks, client) if client is not None
           else _run(tasks, min(jobs or default_jobs(), len(tasks))))
    for outcome in run:
        outcomes[outcome.path] = outcome
        if on_file:
            on_file(outcome)
    return [outcomes[f] for f in files]
