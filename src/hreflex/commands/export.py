"""``hreflex export FILE --format nwb|csv -o OUT``: a session file in a format others read."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from hreflex.commands import options

FORMATS = ("nwb", "csv")


@click.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", default=None, help="nwb or csv (default: from the output's extension)."
)
@options.output("File to write (.nwb or .csv).", required=True)
@click.option(
    "--pre-ms",
    type=float,
    default=100.0,
    show_default=True,
    help="Continuous files: sweep/trial start before each stimulus, ms.",
)
@click.option(
    "--post-ms",
    type=float,
    default=100.0,
    show_default=True,
    help="Continuous files: sweep/trial end after each stimulus, ms.",
)
@click.option(
    "--subject-age",
    default="",
    help="NWB: subject age as ISO 8601 duration, e.g. P34Y (default: unknown).",
)
@options.extra_output(
    "--measures",
    "measures_dir",
    folder=True,
    help="CSV: also analyse FILE and write per-sweep measures and summaries "
    "(sweeps/channels/levels/rdd .csv) into this folder.",
)
@options.analysis_config
@options.overwrite
def command(
    file: Path,
    fmt: str | None,
    output: Path,
    pre_ms: float,
    post_ms: float,
    subject_age: str,
    measures_dir: Path | None,
    config_path: Path | None,
    overwrite: bool,
) -> None:
    """Export FILE's EMG, stimuli and sweeps as NWB, or its sweeps (and measures) as CSV."""
    from hreflex.errors import ConfigError
    from hreflex.io.files import atomic_folder, atomic_output
    from hreflex.io.session import read_session

    fmt = (fmt or output.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ConfigError(
            f"{output}: cannot tell the export format; give --format ({' or '.join(FORMATS)})"
        )
    if measures_dir is not None and fmt != "csv":
        raise ConfigError("--measures goes with --format csv")
    if not (pre_ms >= 0 and post_ms > 0):
        raise ConfigError(f"--pre-ms {pre_ms:g} must be >= 0 and --post-ms {post_ms:g} > 0")
    inputs = [file, *([config_path] if config_path else [])]
    with ExitStack() as stack:  # every output checked before any work, placed at the end
        partial = stack.enter_context(atomic_output(output, overwrite, inputs))
        measures = measures_dir and stack.enter_context(
            atomic_folder(measures_dir, (), overwrite, inputs))
        session = read_session(file)
        if fmt == "nwb":
            from hreflex.export.nwb import write_nwb

            write_nwb(session, partial, pre_ms=pre_ms, post_ms=post_ms, subject_age=subject_age)
        else:
            from hreflex.export.csv import write_sweeps_csv

            write_sweeps_csv(session, partial, pre_ms=pre_ms, post_ms=post_ms)
        if measures:
            from hreflex.analysis import analyze_session, load_config
            from hreflex.export.results_csv import write_result_csv

            result = analyze_session(session, load_config(config_path))
            names = [p.name for p in write_result_csv(result, result.to_dict(), measures)]
    click.echo(f"wrote {output}: {fmt} export of {file.name} ({len(session.stimuli)} stimuli)")
    if measures_dir is not None:
        click.echo(f"wrote {', '.join(names)} to {measures_dir}")
