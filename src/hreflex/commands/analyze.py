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
@click.option("--windows", "windows_source", type=click.Choice(["auto", "recorded"]),
              default=None, help="auto: find the M/H windows; recorded: use the windows the "
              "recording system stored in FILE (default: the config's [windows] source).")
@click.option("--windows-from", "windows_from", type=click.Path(exists=True, dir_okay=False,
                                                                  path_type=Path),
              default=None, help="Use the M/H windows of another analysis (a results JSON or "
              "a session file, e.g. the same subject's recruitment run), per channel name.")
def command(file: Path, config_path: Path | None, json_path: Path | None,
            csv_dir: Path | None, no_store: bool, windows_source: str | None,
            windows_from: Path | None) -> None:
    """Analyse FILE: windows, M/H per sweep, QC, recruitment curve, Hmax/Mmax, RDD."""
    from dataclasses import replace

    from hreflex.analysis import analyze_session, load_config
    from hreflex.analysis.summary import summary_text
    from hreflex.io.export.results_csv import write_result_csv
    from hreflex.io.files import file_sha256
    from hreflex.io.session import read_session
    from hreflex.io.windows_file import read_windows_from
    from hreflex.io.writer import store_analysis

    cfg = load_config(config_path)
    if windows_source is not None:
        cfg = replace(cfg, windows=replace(cfg.windows, source=windows_source))
    given = read_windows_from(windows_from, cfg) if windows_from is not None else None
    sha = file_sha256(file)
    session = read_session(file)
    result = analyze_session(session, cfg, input_info={"path": str(file), "sha256": sha},
                             windows_from=given)
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
