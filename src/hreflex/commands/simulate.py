"""``hreflex simulate``: write a session file straight from the physiology model (no devices)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from hreflex.commands import options


def _list_presets(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from hreflex.sim.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, preset in PRESETS.items():
        click.echo(f"{name:<{width}}  {' '.join(preset.description.split())}")
    ctx.exit()


def _list_scenarios(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from hreflex.sim.scenarios import SCENARIOS

    click.echo("  ".join(SCENARIOS) + "\n(what each changes: docs/SIMULATOR.md, Scenarios)")
    ctx.exit()


@click.command("simulate")
@click.option("--preset", help="Simulated subject, e.g. soleus_healthy (see --list-presets).")
@click.option("--list-presets", is_flag=True, expose_value=False, is_eager=True,
              callback=_list_presets, help="List the simulated subjects and exit.")
@click.option("--scenario", default="preset", show_default=True,
              help="A variant of the preset (wave shapes, timing, artifacts, interference; "
                   "see --list-scenarios).")
@click.option("--list-scenarios", is_flag=True, expose_value=False, is_eager=True,
              callback=_list_scenarios, help="List the scenarios and exit.")
@click.option(
    "--protocol",
    type=click.Choice(["recruitment", "rdd", "both"]),
    default="both",
    show_default=True,
    help="Which default protocol of the preset to run.",
)
@options.output("Session file to write (.h5).")
@options.seed("Random seed.", default=0)
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
@options.sample_rate("Sampling rate, Hz (default: the preset's).")
@options.extra_output("--truth", "truth_path",
                      help="Also write the ground truth (per stimulus + summary) as JSON.")
@options.overwrite
def command(
    preset: str | None,
    scenario: str,
    protocol: str,
    output: Path | None,
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

    from hreflex.commands.text import number
    from hreflex.errors import ConfigError
    from hreflex.io.files import atomic_output, check_outputs
    from hreflex.io.validate import MAX_RATE_HZ, MIN_RATE_HZ
    from hreflex.io.writer import write_session
    from hreflex.sim.presets import get_preset
    from hreflex.sim.scenarios import apply_scenario
    from hreflex.sim.session import default_schedule, simulate_session

    t0 = time.perf_counter()
    if preset is None or output is None:
        raise click.UsageError("give --preset NAME and -o/--output FILE (or --list-presets)")
    if not (0 <= contraction_probability < 1):
        raise ConfigError(f"--contraction-probability {contraction_probability!r} must be in "
                          "0 <= P < 1")
    if sample_rate is not None and not (MIN_RATE_HZ <= sample_rate <= MAX_RATE_HZ):
        raise ConfigError(f"--sample-rate {sample_rate!r} Hz is outside {MIN_RATE_HZ:g}.."
                          f"{MAX_RATE_HZ:g} Hz")
    check_outputs([output, *([truth_path] if truth_path else [])], overwrite=overwrite)
    p = apply_scenario(get_preset(preset), scenario)
    schedule = default_schedule(p, protocol, seed=seed)
    with ExitStack() as stack:  # both outputs placed at the end
        partial = stack.enter_context(atomic_output(output, overwrite))
        truth_partial = truth_path and stack.enter_context(atomic_output(truth_path, overwrite))
        session, truth = simulate_session(
            p,
            schedule,
            seed,
            noise=not no_noise,
            contraction_probability=contraction_probability,
            sample_rate_Hz=sample_rate,
        )
        write_session(partial, session)
        if truth_partial:
            truth_partial.write_text(json.dumps(truth.to_dict(), indent=1))
    click.echo(
        f"wrote {output}: {p.name}, {protocol}, {len(schedule)} stimuli, "
        f"{number(session.duration_s, 's')} s at {number(session.sample_rate_Hz, 'Hz')} Hz, "
        f"channels {', '.join(session.channel_names)} ({time.perf_counter() - t0:.1f} s)"
    )
