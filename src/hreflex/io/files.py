"""File-level helpers: writing an output all-or-nothing, fingerprinting an input."""

from __future__ import annotations

import hashlib
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


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex (provenance of analysed files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
