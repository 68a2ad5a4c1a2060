"""``hreflex acquire CONFIG``: run a session from a configuration file (``--dry-run``: only
plan it, print the schedule summary and check it against the limits).

Exit status: 0 the plan was completed; 1 the session could not start or stopped early
(device lost, disk full, a refusal...); 130 stopped by Ctrl-C, 143 by SIGTERM (in every
case after disarming the stimulator and closing the file, whose ``end_state`` says why).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hreflex.commands import options


class SessionInterrupted(click.ClickException):
    """A session stopped by a signal: exit status 128 + the signal number (130 Ctrl-C,
    143 SIGTERM) after the usual one-line error."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_live(cfg, *, seed: int | None = None, plot: str | None = None,
             output: Path | None = None):
    """Run ``cfg`` on its devices with the live view on stderr; returns the
    :class:`~hreflex.acquisition.engine.RunResult`. ``plot``: PNG path for the live plot
    ("" = beside the session file, None = none). Raises :class:`HreflexError` with one line
    when the session could not start or stopped early (everything recorded then), or
    :class:`SessionInterrupted` when a signal stopped it. Output that cannot be written (a
    closed pipe or terminal) is dropped: it never stops the session."""
    from hreflex.acquisition.console import echo
    from hreflex.acquisition.engine import Engine
    from hreflex.acquisition.outcome import describe
    from hreflex.acquisition.signals import session_signals
    from hreflex.errors import HreflexError

    output = Path(output) if output is not None else cfg.output_path()
    png = None if plot is None else Path(plot) if plot else output.with_suffix(".live.png")
    with session_signals() as stop:
        result = Engine(cfg, seed=seed, output=output, plot=png, stop=stop,
                        log=sys.stderr).run()
    echo(describe(result))
    if png is not None:
        echo(f"live plot {png}")
    if result.stopped:
        message = (f"session stopped early: {result.stopped} (everything up to then is in "
                   f"{result.path})")
        if stop.exit_code is not None and result.stopped == stop.reason:
            raise SessionInterrupted(message, stop.exit_code)
        raise HreflexError(message)
    return result


@click.command("acquire")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Plan and check only; no device is opened.")
@options.output("Session file to write [default: CONFIG's [recording] output_dir and name].")
@options.seed("Seed for jitter and random order (default: [schedule] seed, else random).")
@click.option("--plot", is_flag=False, flag_value="", default=None, metavar="[PNG]",
              help="Render the latest sweeps and the recruitment curve to a PNG while "
                   "recording (default path: beside the session file, .live.png).",
              cls=options.OutputOption)
@options.overwrite
def command(config: Path, dry_run: bool, output: Path | None, seed: int | None,
            plot: str | None, overwrite: bool) -> None:
    """Acquire an H-reflex session described by CONFIG (a TOML file)."""
    import dataclasses

    from hreflex.acquisition.config import load_config
    from hreflex.acquisition.plan import build_plan, check_plan, summary
    from hreflex.io.files import check_outputs

    cfg = load_config(config)
    if overwrite:
        cfg = dataclasses.replace(cfg, recording=dataclasses.replace(cfg.recording,
                                                                     overwrite=True))
    plan = build_plan(cfg, seed=seed)
    check_plan(plan)
    if dry_run:
        click.echo(summary(plan))
        return
    path = output or cfg.output_path()
    png = [] if plot is None else [Path(plot) if plot else path.with_suffix(".live.png")]
    check_outputs([path, *png], inputs=[config], overwrite=cfg.recording.overwrite)
    run_live(cfg, seed=plan.seed, plot=plot, output=path)
