"""File-level helpers shared by every command that writes: an output is never an input and
never replaces an existing file without ``--overwrite``; it is written under a temporary
name and renamed into place, so a crash or a kill leaves the old file or the new one, never
a partial one. Plus fingerprinting an input (SHA-256).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hreflex.errors import ConfigError

PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` are one file: the same path, a symlink to it or a hard link
    (same device and inode); for a path that does not exist yet, the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_output(path: PathLike, *, inputs: Iterable[PathLike] = (),
                 overwrite: bool = False) -> Path:
    """Refuse (:class:`ConfigError`, one line) an output that is one of ``inputs``, a folder,
    or an existing file when not ``overwrite``. Returns ``path`` as a Path."""
    path = Path(path)
    for source in inputs:
        if same_file(path, source):
            what = "is an input" if Path(source) == path else f"is the input {source}"
            raise ConfigError(f"{path}: {what} of this command; choose another output")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it")
    return path


def check_outputs(paths: Iterable[PathLike], *, inputs: Iterable[PathLike] = (),
                  overwrite: bool = False) -> None:
    """:func:`check_output` for every path, and no two of them the same file."""
    inputs, seen = list(inputs), []
    for path in map(Path, paths):
        check_output(path, inputs=inputs, overwrite=overwrite)
        twin = next((p for p in seen if same_file(p, path)), None)
        if twin is not None:
            raise ConfigError(f"{path}: named for two outputs ({twin}); give each its own file")
        seen.append(path)


def _durable(path: Path) -> None:
    """Flush ``path``'s bytes to the disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(partial: Path, path: Path, overwrite: bool) -> None:
    """Rename ``partial`` to ``path`` in one step; without ``overwrite`` never replace a file
    that appeared meanwhile (a hard link fails if ``path`` exists)."""
    _durable(partial)
    if overwrite:
        os.replace(partial, path)
        return
    try:
        os.link(partial, path)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it") from None
    except OSError:  # no hard links on this file system
        os.replace(partial, path)
        return
    partial.unlink()


@contextmanager
def atomic_output(path: PathLike, overwrite: bool = False,
                  inputs: Iterable[PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    Checked up front (:func:`check_output`), so no work is wasted: ``path`` must not be one
    of ``inputs`` and must not exist unless ``overwrite``. A failure inside the block leaves
    ``path`` untouched and no partial file (a killed process may leave
    ``<stem>.partial-<pid><suffix>``, safe to delete; the suffix is kept for
    tools that go by it).
    """
    path = check_output(path, inputs=inputs, overwrite=overwrite)
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield partial
        _place(partial, path, overwrite)
    finally:
        partial.unlink(missing_ok=True)


def write_output(path: PathLike, data: str | bytes, overwrite: bool = False,
                 inputs: Iterable[PathLike] = ()) -> Path:
    """Write ``data`` (str as UTF-8) to ``path`` through :func:`atomic_output`."""
    with atomic_output(path, overwrite, inputs) as partial:
        partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def atomic_folder(folder: PathLike, names: Iterable[str] = (), overwrite: bool = False,
                  inputs: Iterable[PathLike] = ()) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; when the block succeeds every file
    written into it is moved into ``folder`` (created if needed), each in one rename.

    ``names``: the files known up front, checked before any work like :func:`check_output`;
    the others are checked the same way when the block is done (an existing one refused
    unless ``overwrite``, an input always). A failure leaves ``folder`` as it was.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: is a file, not a folder; give a folder name")
    inputs = list(inputs)
    check_outputs([folder / n for n in names], inputs=inputs, overwrite=overwrite)
    import shutil  # here: the single-file commands never need them (import time)
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        yield tmp
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        check_outputs([folder / p.name for p in files], inputs=inputs, overwrite=overwrite)
        folder.mkdir(exist_ok=True)
        for p in files:
            _place(p, folder / p.name, overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def file_sha256(path: PathLike) -> str:
    """SHA-256 of a file's bytes, hex (provenance of analysed files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
