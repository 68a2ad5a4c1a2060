"""``hreflex acquire CONFIG``: run a session from a configuration file (``--dry-run``: only
plan it, print the schedule summary and check it against the limits)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("acquire")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Plan and check only; no device is opened.")
@click.option("--seed", type=int, default=None,
              help="Seed for jitter and random order (default: [schedule] seed, else random).")
def command(config: Path, dry_run: bool, seed: int | None) -> None:
    """Acquire an H-reflex session described by CONFIG (a TOML file)."""
    from hreflex.acquisition.config import load_config
    from hreflex.acquisition.plan import build_plan, check_plan, summary
    from hreflex.errors import DeviceError

    cfg = load_config(config)
    plan = build_plan(cfg, seed=seed)
    check_plan(plan)
    if dry_run:
        click.echo(summary(plan))
        return
    raise DeviceError(
        "live acquisition needs the device drivers, which are not built yet; "
        "use --dry-run to check the plan"
    )
