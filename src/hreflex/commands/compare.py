"""``hreflex compare MANIFEST.csv --by condition``: compare conditions across sessions
(paired, independent groups, or a mixed model over levels and timepoints), as JSON, CSV and
an HTML report (``docs/COMPARE.md``).

Exit status: 0 when every session could be used, 1 when a row or file was left out (one line
each on stderr; the outputs hold the comparison of the rest) or nothing could be compared,
2 for bad usage.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hreflex.commands.batch import SINGLE_THREAD_ENV, Progress


def _check_outputs(doc: dict, outputs: list[Path]) -> None:
    """No output may overwrite an input (the manifest or a session file)."""
    from hreflex.errors import HreflexError

    inputs = {Path(f["file"]).resolve() for f in doc["files"]}
    inputs |= {Path(f).resolve() for f in doc["input"]["sessions"] or []}
    if doc["input"]["manifest"]:
        inputs.add(Path(doc["input"]["manifest"]).resolve())
    for out in outputs:
        if out.resolve() in inputs:
            raise HreflexError(f"{out}: is an input of this comparison; choose another output")


@click.command("compare")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--by", default="condition", show_default=True,
              help="Manifest column (or session metadata field) whose levels are compared.")
@click.option("--reference", default=None,
              help="The level the others are compared with [default: the first listed].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the comparison JSON here.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write compare.csv and values.csv into this folder.")
@click.option("-o", "--out", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write the HTML report (compare.html + PNGs) into this folder.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Analysis config (TOML); default: built-in defaults.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: the CPUs available].")
@click.option("--force", is_flag=True, help="Analyse every file again, even if up to date.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Per-file result cache [default: MANIFEST.csv.cache/ next to "
              "the manifest, ./hreflex-compare.cache/ for session files].")
def command(inputs: tuple[Path, ...], by: str, reference: str | None, json_path: Path | None,
            csv_dir: Path | None, report_dir: Path | None, config_path: Path | None,
            jobs: int | None, force: bool, cache_dir: Path | None) -> None:
    """Compare the levels of --by across the sessions of INPUTS: one manifest CSV (columns
    file, subject, condition, ...) or session files/folders whose metadata name subject and
    condition."""
    for name in SINGLE_THREAD_ENV:  # before numpy is imported (workers inherit it)
        os.environ.setdefault(name, "1")
    from hreflex.analysis import load_config
    from hreflex.compare import run_compare
    from hreflex.compare.output import FILES, summary_text, write_csv, write_json
    from hreflex.compare.run import StudyError
    from hreflex.errors import HreflexError

    cfg = load_config(config_path)
    bar: list[Progress] = []
    try:
        doc = run_compare(list(inputs), by, reference, config=cfg, config_path=config_path,
                          jobs=jobs, force=force, cache=cache_dir,
                          on_start=lambda n: bar.append(Progress(n, sys.stderr)),
                          on_file=lambda o: bar[0].update(o.status))
    except StudyError as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        raise
    outputs = [json_path] if json_path else []
    outputs += [csv_dir / f for f in FILES] if csv_dir else []
    _check_outputs(doc, outputs)
    for line in doc["problems"]:
        click.echo(line, err=True)
    click.echo(summary_text(doc))
    if json_path is not None:
        click.echo(f"wrote {write_json(doc, json_path)}")
    if csv_dir is not None:
        click.echo(f"wrote {', '.join(map(str, write_csv(doc, csv_dir)))}")
    if report_dir is not None:
        from hreflex.report.compare_page import write_compare_report

        click.echo(f"wrote {write_compare_report(doc, report_dir)}")
    if doc["problems"]:
        raise HreflexError(f"{len(doc['problems'])} problem(s) listed above: those sessions "
                           "were left out; the comparison is of the others")
