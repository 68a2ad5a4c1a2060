"""``hreflex validate FILE...``: exit 0 if every file is a valid session file, 1 with reasons
if not; a valid file whose session did not complete gets a warning (stderr), not an error."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(files: tuple[Path, ...]) -> None:
    """Check session files against format v1; list every problem found."""
    from hreflex.io.validate import check_file, check_warnings

    bad = 0
    for path in files:
        problems = check_file(path)
        if problems:
            bad += 1
            for problem in problems:
                click.echo(f"{path}: invalid: {problem}", err=True)
        else:
            click.echo(f"{path}: valid")
            for warning in check_warnings(path):
                click.echo(f"{path}: warning: {warning}", err=True)
    sys.exit(1 if bad else 0)
