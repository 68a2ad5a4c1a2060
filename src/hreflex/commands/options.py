"""The options several commands share, defined once so the same thing has the same name
everywhere (the conventions in README.md, checked by ``tests/io/test_cli_conventions.py``):
``-o/--output`` for a command's main output, ``--overwrite`` to replace an existing output,
``--config`` for the analysis config, ``-j/--jobs``, ``--force``, ``--sample-rate``.

Renamed options keep their old spelling as a hidden alias (:class:`Option` ``old=``): it
still works and is left out of ``--help``. :class:`OutputOption` marks every option naming
something the command writes.
"""

from __future__ import annotations

from pathlib import Path

import click


class Option(click.Option):
    """A click option whose ``old`` spellings work but are not shown in ``--help``."""

    def __init__(self, param_decls=None, old: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__([*(param_decls or ()), *old], **kwargs)
        self.old = tuple(old)

    def get_help_record(self, ctx: click.Context):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.old]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown

    @property
    def names(self) -> list[str]:
        """The spellings shown in the help."""
        return [o for o in self.opts + self.secondary_opts if o not in self.old]


class OutputOption(Option):
    """An option naming a file or folder the command writes: never one of its inputs,
    replaced only with ``--overwrite``."""


def _path(folder: bool) -> click.Path:
    return click.Path(file_okay=not folder, dir_okay=folder, path_type=Path)


def output(help: str, *, folder: bool = False, required: bool = False, default=None,
           old: tuple[str, ...] = ()):
    """``-o/--output`` (parameter ``output``), the command's main output."""
    return click.option("-o", "--output", "output", type=_path(folder), required=required,
                        default=default, show_default=default is not None, help=help,
                        cls=OutputOption, old=old)


def extra_output(name: str, dest: str, help: str, *, folder: bool = False,
                 old: tuple[str, ...] = ()):
    """A further output, named by what it holds (``--csv DIR``, ``--truth FILE``...)."""
    return click.option(name, dest, type=_path(folder), default=None, help=help,
                        cls=OutputOption, old=old)


overwrite = click.option("--overwrite", is_flag=True,
                         help="Replace outputs that exist already (never an input).")
analysis_config = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Analysis config (TOML); default: built-in defaults.")
jobs = click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                    help="Worker processes [default: the CPUs available].")
force = click.option("--force", is_flag=True,
                     help="Analyse every file again, even if up to date.")


def sample_rate(help: str, old: tuple[str, ...] = ()):
    """``--sample-rate``, Hz (parameter ``sample_rate``)."""
    return click.option("--sample-rate", "sample_rate", type=float, default=None, help=help,
                        cls=Option, old=old)


def seed(help: str, default: int | None = None):
    """``--seed``: an unsigned 64-bit integer (the range of ``[schedule] seed``)."""
    return click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=default,
                        show_default=default is not None, help=help)
