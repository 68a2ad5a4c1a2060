"""``hreflex batch PATHS... -o results.csv``: analyse many session files in parallel into
one CSV (one row per file and channel), skipping files whose cached results are up to date.

Exit status (``docs/REPORT.md``): 0 when every file was analysed or up to date, 1 when any
file failed (the others are still in the CSV) or nothing could be done, 2 for bad usage.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import click

from hreflex.commands import options
from hreflex.threads import BLAS_THREAD_ENV as SINGLE_THREAD_ENV  # noqa: F401 (tests use it)
from hreflex.threads import limit_blas_threads


class Progress:
    """A one-line progress bar on ``stream`` (stderr) that other lines can be printed
    above. Drawn only on a terminal (``live``); otherwise only those lines appear."""

    def __init__(self, total: int, stream: TextIO, live: bool | None = None, width: int = 28):
        self.total, self.stream, self.width = total, stream, width
        self.live = stream.isatty() if live is None else live
        self.done = self.failed = self.cached = 0
        self.t0 = time.monotonic()
        if self.live:
            self.stream.write(self._bar())
            self.stream.flush()

    def _bar(self) -> str:
        fill = int(self.width * self.done / max(self.total, 1))
        return (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} files, "
                f"{self.cached} up to date, {self.failed} failed, "
                f"{time.monotonic() - self.t0:.0f} s")

    def update(self, status: str, message: str | None = None) -> None:
        """Count one file (``analysed``/``cached``/``failed``), print ``message`` above."""
        self.done += 1
        self.failed += status == "failed"
        self.cached += status == "cached"
        clear = "\r\033[K" if self.live else ""
        if message:
            self.stream.write(f"{clear}{message}\n")
        if self.live:
            self.stream.write(f"\r\033[K{self._bar()}")
            if self.done == self.total:
                self.stream.write("\n")
        self.stream.flush()


@click.command("batch")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@options.output("Results CSV (one row per file and channel); its cache goes in "
                "OUTPUT.cache/.", required=True, old=("--out",))
@options.jobs
@options.force
@options.analysis_config
@options.overwrite
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Analyse on the Dask distributed cluster whose scheduler is at ADDRESS "
                   "(e.g. tcp://10.0.0.5:8786) instead of local processes (needs the dask "
                   "extra; the workers must see the files and OUTPUT.cache/ at the same "
                   "paths).")
def command(paths: tuple[Path, ...], output: Path, jobs: int | None, force: bool,
            config_path: Path | None, overwrite: bool, scheduler: str | None) -> None:
    """Analyse every session in PATHS (files, or folders searched for *.h5) into one CSV."""
    limit_blas_threads()  # as hreflex.cli.main does, for callers of the command itself
    from hreflex.analysis import load_config
    from hreflex.batch import find_sessions, run_batch
    from hreflex.errors import HreflexError

    if scheduler is not None and jobs is not None:
        raise HreflexError("--jobs and --scheduler: give one (on a cluster its workers "
                           "decide how many files run at once)")
    cfg = load_config(config_path)
    files = find_sessions(paths)
    if not files:
        raise HreflexError(f"no session files (*.h5) in {', '.join(map(str, paths))}")
    progress = Progress(len(files), sys.stderr)
    result = run_batch(files, output, jobs=jobs, force=force, config=cfg,
                       on_file=lambda o: progress.update(
                           o.status, f"failed: {o.error}" if o.error else None),
                       overwrite=overwrite, inputs=[config_path] if config_path else [],
                       scheduler=scheduler)
    n, failed = len(result.files), len(result.failed)
    rows = sum(len(f.rows) for f in result.files)
    click.echo(f"{n} files: {result.count('analysed')} analysed, {result.count('cached')} up "
               f"to date (skipped), {failed} failed; wrote {output} ({rows} rows)")
    if failed:
        raise HreflexError(f"{failed} of {n} files could not be analysed (listed above); "
                           f"the results of the other {n - failed} are in {output}")
