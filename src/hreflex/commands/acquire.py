"""``hreflex acquire CONFIG``: run a session from a configuration file (``--dry-run``: only
plan it, print the schedule summary and check it against the limits)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[threading.Event]:
    """While inside: the first Ctrl-C (SIGINT) or SIGTERM sets the yielded event (the engine
    stops at its next turn, disarms and closes the files); a second Ctrl-C raises
    KeyboardInterrupt (the engine still disarms on its way out)."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_live(cfg, *, seed: int | None = None, plot: str | None = None,
             output: Path | None = None):
    """Run ``cfg`` on its devices with the live view on stderr; returns the
    :class:`~hreflex.acquisition.engine.RunResult`. ``plot``: PNG path for the live plot
    ("" = beside the session file, None = none). Raises :class:`HreflexError` with one line
    when the session could not start or stopped early (everything recorded then)."""
    from hreflex.acquisition.engine import Engine, describe
    from hreflex.errors import HreflexError

    output = Path(output) if output is not None else cfg.output_path()
    png = None if plot is None else Path(plot) if plot else output.with_suffix(".live.png")
    with graceful_interrupt() as stop:
        result = Engine(cfg, seed=seed, output=output, plot=png, stop=stop,
                        log=sys.stderr).run()
    click.echo(describe(result))
    if png is not None:
        click.echo(f"live plot {png}")
    if result.stopped:
        raise HreflexError(f"session stopped early: {result.stopped} (everything up to then is "
                           f"in {result.path})")
    return result


@click.command("acquire")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Plan and check only; no device is opened.")
@click.option("--seed", type=int, default=None,
              help="Seed for jitter and random order (default: [schedule] seed, else random).")
@click.option("--plot", is_flag=False, flag_value="", default=None, metavar="[PNG]",
              help="Render the latest sweeps and the recruitment curve to a PNG while "
                   "recording (default path: beside the session file, .live.png).")
def command(config: Path, dry_run: bool, seed: int | None, plot: str | None) -> None:
    """Acquire an H-reflex session described by CONFIG (a TOML file)."""
    from hreflex.acquisition.config import load_config
    from hreflex.acquisition.plan import build_plan, check_plan, summary

    cfg = load_config(config)
    plan = build_plan(cfg, seed=seed)
    check_plan(plan)
    if dry_run:
        click.echo(summary(plan))
        return
    run_live(cfg, seed=plan.seed, plot=plot)
