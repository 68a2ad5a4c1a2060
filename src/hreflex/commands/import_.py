"""``hreflex import SRC -o FILE.h5``: convert a foreign recording to a session file, then say
where each value came from (the file's header, an option, a default) and warn about values
implausible in the unit they were read in."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import")
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Session file to write (.h5).",
)
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
@click.option("--fs-hz", type=float, default=None, help="Sampling rate, Hz.")
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
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
def command(src: Path, output: Path, fmt: str | None, overwrite: bool, **options) -> None:
    """Import SRC (Cadwell CSV, generic CSV, MATLAB .mat, BCI2000 .dat, neo formats)."""
    import warnings

    from hreflex.io.files import atomic_output
    from hreflex.io.importers import import_file
    from hreflex.io.importers.origins import Origins, SourceWarning
    from hreflex.io.session import write_session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SourceWarning)
        with atomic_output(output, overwrite) as partial:
            session = import_file(src, fmt, **options)
            write_session(partial, session)
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
