"""``hreflex compare MANIFEST.csv --by condition``: compare conditions across sessions
(paired, independent groups, or a mixed model over levels and timepoints), as JSON, CSV and
an HTML report (``docs/COMPARE.md``).

Exit status: 0 when every session could be used, 1 when a row or file was left out (one line
each on stderr; the outputs hold the comparison of the rest) or nothing could be compared,
2 for bad usage.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click

from hreflex.commands import options
from hreflex.commands.batch import Progress
from hreflex.threads import limit_blas_threads


def _inputs(doc: dict) -> list[Path]:
    """Every input of a comparison: the manifest, the session files, the config."""
    inputs = [Path(f["file"]) for f in doc["files"]]
    inputs += [Path(f) for f in doc["input"]["sessions"] or []]
    inputs += [Path(doc["input"]["manifest"])] if doc["input"]["manifest"] else []
    return inputs


@click.command("compare")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--by", default="condition", show_default=True,
              help="Manifest column (or session metadata field) whose levels are compared.")
@click.option("--reference", default=None,
              help="The level the others are compared with [default: the first listed].")
@options.output("Write the HTML report (compare.html + PNGs) into this folder.",
                folder=True, old=("--out",))
@options.extra_output("--json", "json_path", help="Write the comparison JSON here.")
@options.extra_output("--csv", "csv_dir", folder=True,
                      help="Write compare.csv and values.csv into this folder.")
@options.analysis_config
@options.jobs
@options.force
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Per-file result cache [default: MANIFEST.csv.cache/ next to "
              "the manifest, ./hreflex-compare.cache/ for session files].")
@options.overwrite
def command(inputs: tuple[Path, ...], by: str, reference: str | None, output: Path | None,
            json_path: Path | None, csv_dir: Path | None, config_path: Path | None,
            jobs: int | None, force: bool, cache_dir: Path | None, overwrite: bool) -> None:
    """Compare the levels of --by across the sessions of INPUTS: one manifest CSV (columns
    file, subject, condition, ...) or session files/folders whose metadata name subject and
    condition."""
    limit_blas_threads()  # as hreflex.cli.main does, for callers of the command itself
    from hreflex.analysis import load_config
    from hreflex.compare import run_compare
    from hreflex.compare.output import FILES, summary_text, write_csv, write_json
    from hreflex.compare.run import StudyError
    from hreflex.errors import HreflexError
    from hreflex.io.files import atomic_folder, atomic_output, check_outputs
    from hreflex.report.compare_page import REPORT_NAME, write_compare_report

    given = [*inputs, *([config_path] if config_path else [])]
    with ExitStack() as stack:  # every output checked before any work, placed at the end
        enter = stack.enter_context
        js = json_path and enter(atomic_output(json_path, overwrite, given))
        csv = csv_dir and enter(atomic_folder(csv_dir, FILES, overwrite, given))
        report = output and enter(atomic_folder(output, [REPORT_NAME], overwrite, given))
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
        outputs = [p for p in (json_path, *(csv_dir / f for f in FILES if csv_dir),
                               output and output / REPORT_NAME) if p]
        check_outputs(outputs, inputs=_inputs(doc), overwrite=True)  # the files it read
        for line in doc["problems"]:
            click.echo(line, err=True)
        click.echo(summary_text(doc))
        if js:
            write_json(doc, js)
        if csv:
            write_csv(doc, csv)
        if report:
            write_compare_report(doc, report)
    for path in outputs:
        click.echo(f"wrote {path}")
    if doc["problems"]:
        raise HreflexError(f"{len(doc['problems'])} problem(s) listed above: those sessions "
                           "were left out; the comparison is of the others")
