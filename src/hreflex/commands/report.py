"""``hreflex report FILE -o DIR``: analyse a session and write a self-contained HTML page
plus its figures as PNG files (``docs/REPORT.md``)."""

from __future__ import annotations

from pathlib import Path

import click

from hreflex.commands import options


@click.command("report")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@options.output("Folder for report.html and the PNG figures (created if needed).",
                folder=True, required=True, old=("--out",))
@options.analysis_config
@options.overwrite
def command(file: Path, output: Path, config_path: Path | None, overwrite: bool) -> None:
    """Write an HTML report of FILE: sweeps, recruitment curve, H vs M, RDD, QC, provenance."""
    from hreflex.report import write_report

    page = write_report(file, output, config_path, overwrite=overwrite)
    n_figures = page.read_text(encoding="utf-8").count("<figure ")
    click.echo(f"wrote {page} ({n_figures} figures, also as PNG files in {output})")
