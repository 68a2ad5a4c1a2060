"""``hreflex import SRC -o FILE.h5``: convert a foreign recording to a session file, then say
where each value came from (the file's header, an option, a default) and warn about values
implausible in the unit they were read in."""

from __future__ import annotations

import glob
from pathlib import Path

import click

from hreflex.commands import options as opts


def _inputs(src: Path, fmt: str | None, options: dict) -> list[Path]:
    """What an import reads: SRC, the intensity sidecar and, for neo's multi-file formats
    (e.g. BrainVision .vhdr + .vmrk + .eeg), every file beside SRC with its stem."""
    inputs = [src, *([options["intensity_file"]] if options.get("intensity_file") else [])]
    if fmt == "neo" or (fmt is None and src.suffix.lower() not in (".csv", ".mat", ".dat")):
        inputs += [p for p in src.parent.glob(f"{glob.escape(src.stem)}.*")
                   if p.is_file() and p.suffix.lower() != ".h5"]
    return inputs


@click.command("import")
@click.argument("src", type=click.Path(path_type=Path))
@opts.output("Session file to write (.h5).", required=True)
@click.option(
    "--format",
    "fmt",
    default=None,
    help="cadwell, csv, mat, bci2000 or neo (default: from content and extension).",
)
@click.option(
    "--pre-ms",
    type=float,
    default=None,
    help="Time from sweep start to stimulus, ms (Cadwell default: from the artifact).",
)
@opts.sample_rate("Sampling rate, Hz.", old=("--fs-hz",))
@click.option("--units", default=None, help="What the EMG numbers are: V, mV or uV (default V).")
@click.option("--sweeps", default=None, help="MAT: variable holding the sweeps (epoched).")
@click.option(
    "--sweep-axis",
    type=int,
    default=None,
    help="MAT: axis of --sweeps that counts sweeps (default: matched to intensities).",
)
@click.option(
    "--signal",
    default=None,
    help="MAT: continuous signal variable; neo: comma-separated EMG channel names.",
)
@click.option(
    "--trigger",
    default=None,
    help="Trigger variable (MAT), state or channel (BCI2000; default: the header's), event or "
    "channel (neo).",
)
@click.option(
    "--trigger-threshold",
    type=float,
    default=None,
    help="Trigger level in the trigger's units, BCI2000 channels in µV (default: the header's "
    "TriggerThreshold, else half-way min..max).",
)
@click.option(
    "--intensity",
    default=None,
    help="Intensities: a constant in mA, or the variable/row/column/state holding them.",
)
@click.option(
    "--intensity-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Sidecar file with one intensity per sweep/stimulus (mA unless --intensity-scale).",
)
@click.option(
    "--intensity-scale",
    type=float,
    default=None,
    help="mA per stored intensity unit, e.g. 0.001 for µA (BCI2000 CurrentAmplitude: 0.001).",
)
@click.option("--pulse-width-us", type=float, default=None, help="Pulse width, µs.")
@click.option("--channel-names", default=None, help="Comma-separated channel names.")
@click.option("--subject-id", default=None, help="Subject code to store.")
@click.option("--session-id", default=None, help="Session code to store.")
@click.option("--species", default=None, help="human, rat, … (default: the file's, else human).")
@click.option("--nerve", default=None, help="Stimulated nerve, e.g. tibial.")
@click.option("--condition", default=None, help="Condition, e.g. pre, baclofen.")
@click.option(
    "--muscle",
    default=None,
    help="Muscle of every channel, or per channel: EMG1=flexor carpi radialis,EMG2=….",
)
@opts.overwrite
def command(src: Path, output: Path, fmt: str | None, overwrite: bool, **options) -> None:
    """Import SRC (Cadwell CSV, generic CSV, MATLAB .mat, BCI2000 .dat, neo formats)."""
    import warnings

    from hreflex.errors import FileFormatError
    from hreflex.io.files import atomic_output
    from hreflex.io.importers import import_file
    from hreflex.io.importers.origins import Origins, SourceWarning
    from hreflex.io.validate import check_file
    from hreflex.io.writer import write_session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SourceWarning)
        with atomic_output(output, overwrite, _inputs(src, fmt, options)) as partial:
            session = import_file(src, fmt, **options)
            write_session(partial, session)
            problems = check_file(partial)  # an import never leaves an invalid file
            if problems:
                raise FileFormatError(f"{src}: cannot be imported: {'; '.join(problems)}")
    source = session.devices.get("source", {})
    if session.sweeps is not None:
        n_sweeps, n_ch, n_samples = session.sweeps.shape
        shape = (
            f"{n_sweeps} sweeps × {n_samples} samples, {n_ch} channel(s), pre-trigger "
            f"{session.pre_trigger_ms:g} ms"
        )
        if source.get("pre_trigger_ms_source", "").startswith("detected"):
            shape += " (detected from the stimulus artifact)"
    else:
        shape = (
            f"{len(session.continuous)} samples, {session.n_channels} channel(s), "
            f"{len(session.stimuli)} stimuli"
        )
    click.echo(
        f"wrote {output}: {source.get('format', fmt)} import of {src.name}, {shape}, "
        f"{session.sample_rate_Hz:g} Hz"
    )
    for line in Origins.parse(source.get("provenance", "")).lines():
        click.echo(f"  {line}")
    for w in caught:
        if issubclass(w.category, SourceWarning):
            click.echo(f"warning: {w.message}", err=True)
