"""``hreflex report FILE --out DIR``: analyse a session and write a self-contained HTML page
plus its figures as PNG files (``docs/REPORT.md``)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.html and the PNG figures (created if needed).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Analysis config (TOML); default: built-in defaults.")
def command(file: Path, out_dir: Path, config_path: Path | None) -> None:
    """Write an HTML report of FILE: sweeps, recruitment curve, H vs M, RDD, QC, provenance."""
    from hreflex.report import write_report

    page = write_report(file, out_dir, config_path)
    n_figures = page.read_text(encoding="utf-8").count("<figure ")
    click.echo(f"wrote {page} ({n_figures} figures, also as PNG files in {out_dir})")
