"""``hreflex recover SESSION``: clear the write flag of a crashed recording and finish (or
rebuild) it from its raw byte journal."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("recover")
@click.argument("session", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--journal", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Journal to replay (default: SESSION with .journal suffix).")
def command(session: Path, journal: Path | None) -> None:
    """Make a crashed session file readable again and complete it from its journal."""
    from hreflex.acquisition.recover import recover
    from hreflex.errors import FileFormatError

    report = recover(session, journal)
    click.echo(report.text())
    if report.problems:
        raise FileFormatError(f"{report.path}: still invalid after recovery")
