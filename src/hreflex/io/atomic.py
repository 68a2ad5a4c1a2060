"""Writing an output file all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hreflex.errors import ConfigError


@contextmanager
def atomic_output(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    An existing ``path`` is refused up front (:class:`ConfigError`) unless ``overwrite``, so
    no work is wasted; a failure inside the block leaves ``path`` untouched and no partial file.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it")
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
