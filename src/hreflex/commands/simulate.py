"""``hreflex simulate``: write a session file straight from the physiology model (no devices)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("simulate")
@click.option("--preset", required=True, help="Simulated subject, e.g. soleus_healthy.")
@click.option(
    "--protocol",
    type=click.Choice(["recruitment", "rdd", "both"]),
    default="both",
    show_default=True,
    help="Which default protocol of the preset to run.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Session file to write (.h5).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--contraction-probability",
    type=float,
    default=0.0,
    show_default=True,
    help="Fraction of time in voluntary-contraction bursts (0 <= P < 1).",
)
@click.option(
    "--no-noise",
    is_flag=True,
    help="Noise-free: no background EMG, mains, DC or trial-to-trial variability.",
)
@click.option("--sample-rate", type=float, default=None, help="Hz (default: the preset's).")
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the ground truth (per stimulus + summary) as JSON.",
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
def command(
    preset: str,
    protocol: str,
    output: Path,
    seed: int,
    contraction_probability: float,
    no_noise: bool,
    sample_rate: float | None,
    truth_path: Path | None,
    overwrite: bool,
) -> None:
    """Simulate a recruitment and/or RDD session and write it as a session file."""
    import json
    import time

    from hreflex.errors import ConfigError
    from hreflex.io.files import atomic_output
    from hreflex.io.session import write_session
    from hreflex.sim.presets import get_preset
    from hreflex.sim.session import default_schedule, simulate_session

    t0 = time.perf_counter()
    p = get_preset(preset)
    if truth_path is not None and truth_path.exists() and not overwrite:
        raise ConfigError(f"{truth_path} already exists; pass --overwrite to replace it")
    schedule = default_schedule(p, protocol, seed=seed)
    with atomic_output(output, overwrite) as partial:
        session, truth = simulate_session(
            p,
            schedule,
            seed,
            noise=not no_noise,
            contraction_probability=contraction_probability,
            sample_rate_Hz=sample_rate,
        )
        write_session(partial, session)
    if truth_path is not None:
        truth_path.write_text(json.dumps(truth.to_dict(), indent=1))
    click.echo(
        f"wrote {output}: {p.name}, {protocol}, {len(schedule)} stimuli, "
        f"{session.duration_s:.0f} s at {session.sample_rate_Hz:g} Hz, "
        f"channels {', '.join(session.channel_names)} ({time.perf_counter() - t0:.1f} s)"
    )
