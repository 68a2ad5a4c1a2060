"""``hreflex analyze FILE``: analyse a session file, print a summary and write the results
JSON beside it (``FILE`` with ``.analysis.json``, or ``-o``), optionally CSV tables
(``--csv DIR``). The recording is only read, and of its samples only the sweep windows
(``read_session(lazy=True)``; ``input.sha256`` hashes what was read, ``docs/FORMAT.md``):
``--store`` also stores the results and QC annotations in its ``/analysis`` group, safely."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import click

from hreflex.commands import options


def default_output(file: Path) -> Path:
    """Where the results JSON goes by default: beside FILE, ``<stem>.analysis.json``."""
    return file.with_suffix(".analysis.json")


@click.command("analyze")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@options.analysis_config
@options.output("Results JSON [default: FILE with .analysis.json].", old=("--json",))
@options.extra_output("--csv", "csv_dir", folder=True,
                      help="Also write sweeps/channels/levels/rdd CSV files into this folder.")
@click.option("--store", is_flag=True,
              help="Also store results and QC annotations in FILE's /analysis group (the "
                   "file is copied, the copy updated, then renamed over FILE).")
@click.option("--no-store", is_flag=True, hidden=True,
              help="Deprecated, does nothing: FILE is only written with --store.")
@click.option("--windows", "windows_source", type=click.Choice(["auto", "recorded"]),
              default=None, help="auto: find the M/H windows; recorded: use the windows the "
              "recording system stored in FILE (default: the config's [windows] source).")
@click.option("--windows-from", "windows_from", type=click.Path(exists=True, dir_okay=False,
                                                                  path_type=Path),
              default=None, help="Use the M/H windows of another analysis (a results JSON or "
              "a session file, e.g. the same subject's recruitment run), per channel name.")
@options.overwrite
def command(file: Path, config_path: Path | None, output: Path | None, csv_dir: Path | None,
            store: bool, no_store: bool, windows_source: str | None,
            windows_from: Path | None, overwrite: bool) -> None:
    """Analyse FILE: windows, M/H per sweep, QC, recruitment curve, Hmax/Mmax, RDD."""
    from dataclasses import replace

    from hreflex.analysis import analyze_session, load_config
    from hreflex.commands.text import summary_text
    from hreflex.errors import ConfigError
    from hreflex.io.files import atomic_folder, atomic_output
    from hreflex.io.session import read_session

    if store and no_store:
        raise ConfigError("--store and --no-store contradict each other; give one")
    inputs = [file, *(p for p in (config_path, windows_from) if p)]
    json_path = output or default_output(file)
    with ExitStack() as outputs:  # every output checked before any work, placed at the end
        partial = outputs.enter_context(atomic_output(json_path, overwrite, inputs))
        tmp = csv_dir and outputs.enter_context(atomic_folder(csv_dir, overwrite=overwrite,
                                                              inputs=inputs))
        cfg = load_config(config_path)
        if windows_source is not None:
            cfg = replace(cfg, windows=replace(cfg.windows, source=windows_source))
        given = None
        if windows_from is not None:
            from hreflex.commands.windows_from import read_windows_from  # (import time)

            given = read_windows_from(windows_from, cfg)
        session = read_session(file, lazy=True)  # only the sweeps, hashed as they are read
        result = analyze_session(session, cfg, input_info={"path": str(file)},
                                 windows_from=given)
        result.provenance["input"].update(session.read_hash.provenance())
        doc = result.to_dict()
        partial.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        if tmp:
            from hreflex.export.results_csv import write_result_csv  # (import time)

            write_result_csv(result, doc, tmp)
    click.echo(summary_text(doc))
    for message in doc["messages"]:
        click.echo(f"warning: {message}", err=True)
    for ch in doc["channels"]:
        for message in ch["messages"]:
            click.echo(f"warning: {ch['name']}: {message}", err=True)
    click.echo(f"wrote {json_path}")
    if csv_dir is not None:
        click.echo(f"wrote CSV files to {csv_dir}")
    if store:
        from hreflex.io.writer import store_analysis  # (import time)

        store_analysis(file, doc, result.annotations)
        click.echo(f"stored results and {len(result.annotations)} QC annotations in {file}")
