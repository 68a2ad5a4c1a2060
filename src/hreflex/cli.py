"""The ``hreflex`` command line.

Each sub-command lives in its own module ``hreflex.commands.<name>`` that exposes a click
command called ``command``; this module only finds them (lazily, so ``hreflex --help``
stays fast) and turns user errors into one-line messages.

Nothing heavy is imported here or by a command module at import time (numpy, scipy, h5py,
matplotlib load inside the command that uses them), so ``hreflex --help`` and
``hreflex --version`` stay fast; :func:`main` first limits BLAS to one thread
(:mod:`hreflex.threads`), before numpy is loaded.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys

import click

from hreflex import __version__
from hreflex.errors import HreflexError
from hreflex.threads import THREADS_ENV, limit_blas_threads

#: sub-command name -> module that defines it (modules not written yet are simply absent)
COMMANDS = {
    "demo": "hreflex.commands.demo",
    "acquire": "hreflex.commands.acquire",
    "recover": "hreflex.commands.recover",
    "simulate": "hreflex.commands.simulate",
    "analyze": "hreflex.commands.analyze",
    "report": "hreflex.commands.report",
    "import": "hreflex.commands.import_",
    "export": "hreflex.commands.export",
    "batch": "hreflex.commands.batch",
    "compare": "hreflex.commands.compare",
    "info": "hreflex.commands.info",
    "validate": "hreflex.commands.validate",
    "ports": "hreflex.commands.ports",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, m in COMMANDS.items() if importlib.util.find_spec(m) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None or importlib.util.find_spec(module) is None:
            return None
        return importlib.import_module(module).command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HreflexError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None
        except Exception as exc:  # a bug: say so on one line, keep the traceback for --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(
                f"internal error ({type(exc).__name__}: {exc}); rerun with --debug for details"
            ) from None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hreflex")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run H-reflex experiments on lab hardware and analyse them."""
    ctx.obj = {"debug": debug}


def main() -> None:
    """Console-script entry point."""
    if limit_blas_threads() is None:
        click.echo(f"Error: {THREADS_ENV}={os.environ[THREADS_ENV]!r} is not a positive "
                   "integer (the number of BLAS threads)", err=True)
        sys.exit(2)
    try:
        cli.main(prog_name="hreflex")
    finally:
        _settle_before_exit()


def _settle_before_exit() -> None:
    """Freeze every object left (``gc.freeze``): the interpreter's collections at shutdown
    skip frozen objects, and with numpy, h5py and click loaded they otherwise spend 20-60 ms
    traversing them after every command (a ``gc.collect()`` first, to finalize the command's
    cyclic garbage, costs 10-15 ms of that again, measured on ``hreflex analyze``; its garbage
    there is functions and classes). What is frozen is not finalized by the shutdown
    collections: hreflex closes its files and processes explicitly (``with``, ``atexit``), and
    Python does not promise ``__del__`` at exit anyway."""
    gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
