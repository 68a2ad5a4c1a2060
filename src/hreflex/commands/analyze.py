"""``hreflex analyze FILE``: analyse a session file, print a summary, write JSON/CSV and store
the results (plus auto-QC annotations) in the file's ``/analysis`` group."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("analyze")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Analysis config (TOML); default: built-in defaults.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the results JSON here.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write sweeps/channels/levels/rdd CSV files into this folder.")
@click.option("--no-store", is_flag=True,
              help="Do not store results and QC annotations in FILE.")
def command(file: Path, config_path: Path | None, json_path: Path | None,
            csv_dir: Path | None, no_store: bool) -> None:
    """Analyse FILE: windows, M/H per sweep, QC, recruitment curve, Hmax/Mmax, RDD."""
    from hreflex.analysis import analyze_session, load_config
    from hreflex.analysis.summary import summary_text
    from hreflex.io.export.results_csv import write_result_csv
    from hreflex.io.files import file_sha256
    from hreflex.io.session import read_session
    from hreflex.io.writer import store_analysis

    cfg = load_config(config_path)
    sha = file_sha256(file)
    session = read_session(file)
    result = analyze_session(session, cfg, input_info={"path": str(file), "sha256": sha})
    doc = result.to_dict()
    click.echo(summary_text(doc))
    for message in doc["messages"]:
        click.echo(f"warning: {message}", err=True)
    for ch in doc["channels"]:
        for message in ch["messages"]:
            click.echo(f"warning: {ch['name']}: {message}", err=True)
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_path}")
    if csv_dir is not None:
        write_result_csv(result, doc, csv_dir)
        click.echo(f"wrote CSV files to {csv_dir}")
    if not no_store:
        store_analysis(file, doc, result.annotations)
        click.echo(f"stored results and {len(result.annotations)} QC annotations in {file}")
