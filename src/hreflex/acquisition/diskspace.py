"""Free disk space where a session is written: stop before the disk is full.

HDF5 does not survive a write that fails for lack of space well (a half-flushed file, errors
on close, a crash at exit), so the recorder never lets it come to that: :class:`DiskGuard`
reports when the free space on the session file's filesystem falls below a reserve big
enough for everything still in flight plus closing the file, and the engine then stops the
session (disarm, write what arrived, close) while there is still room. For a write that
fails anyway (a quota ``statvfs`` does not show, another program filling the disk faster)
the guard also holds ``<name>.reserve``, :data:`BALLAST_BYTES` allocated beside the file at
the start and deleted when the session shuts down or a write fails, so the file can still
be flushed and closed. :func:`write_error_text` turns such an error into one line.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from hreflex.errors import HreflexError

#: the reserve never goes below this (HDF5 metadata and the end state at close)
MIN_RESERVE_BYTES = 1 << 20
#: space held by the ``.reserve`` file, freed to close the file after a failed write
BALLAST_BYTES = 1 << 20
#: wall seconds of data the reserve holds: queued data plus the safe shutdown (< 1 s)
RESERVE_WALL_S = 2.0
#: bytes per sample block on the wire and in the journal besides the samples
_BLOCK_OVERHEAD = 50


def reserve_bytes(n_channels: int, sample_rate_Hz: float, speed: float = 1.0,
                  blocks_per_s: float = 1000.0) -> int:
    """Reserve for a session of ``n_channels`` int16 channels at ``sample_rate_Hz`` in
    ``blocks_per_s`` blocks, device time running ``speed`` times faster than real time:
    :data:`RESERVE_WALL_S` of what the file (2 bytes per sample and channel + 1 trigger
    byte) and the journal (the wire bytes: the same plus each block's framing) take, at least
    :data:`MIN_RESERVE_BYTES`."""
    per_s = (2 * (2 * n_channels + 1) * sample_rate_Hz + _BLOCK_OVERHEAD * blocks_per_s) * speed
    return max(MIN_RESERVE_BYTES, int(RESERVE_WALL_S * per_s))


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def ballast_path(session_path: str | Path) -> Path:
    """``data/x.h5`` -> ``data/x.reserve``."""
    return Path(session_path).with_suffix(".reserve")


class DiskGuard:
    """Watches the filesystem of the session file ``path`` (:meth:`low` is cheap: one
    ``statvfs``; call it at every flush) and holds its ballast (:meth:`start`,
    :meth:`release`)."""

    def __init__(self, path: str | Path, reserve: int) -> None:
        self.path = Path(path)
        self.reserve = int(reserve)
        self.ballast = ballast_path(self.path)

    def free_bytes(self) -> int:
        """Bytes this process may still write there (``statvfs`` on POSIX)."""
        target = self.path if self.path.exists() else self.path.parent
        return shutil.disk_usage(target).free

    def low(self) -> str | None:
        """``disk full: …`` once the free space is below the reserve, else None."""
        free = self.free_bytes()
        if free >= self.reserve:
            return None
        return (f"disk full: {_mb(free)} free on the filesystem of {self.path}, below the "
                f"{_mb(self.reserve)} kept to close the file")

    def start(self, factor: float = 2.0) -> None:
        """Refuse to start a session with less than ``factor`` × the reserve (plus the
        ballast) free, then allocate the ballast."""
        need = factor * self.reserve + BALLAST_BYTES
        free = self.free_bytes()
        if free < need:
            raise HreflexError(f"{self.path}: only {_mb(free)} free on its filesystem; a "
                               f"session needs at least {_mb(need)} (free some space or "
                               "choose another [recording] output_dir; nothing was sent)")
        try:
            fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, BALLAST_BYTES)
                else:  # pragma: no cover (macOS, Windows): real blocks all the same
                    os.write(fd, bytes(BALLAST_BYTES))
            finally:
                os.close(fd)
        except OSError as exc:
            self.release()
            raise HreflexError(f"{self.ballast}: cannot reserve {_mb(BALLAST_BYTES)} beside "
                               f"the session file ({exc.strerror}; nothing was sent)") from None

    def release(self) -> None:
        """Free the ballast (idempotent)."""
        self.ballast.unlink(missing_ok=True)


_ERRNO = re.compile(r"errno = (\d+)")


def write_error_text(exc: BaseException) -> str:
    """One line for a failed write: ``disk full (No space left on device)`` for ENOSPC and
    EDQUOT (also when h5py wraps them in a RuntimeError), else the error's own first line."""
    code = exc.errno if isinstance(exc, OSError) else None
    m = _ERRNO.search(str(exc))
    if code is None and m is not None:
        code = int(m.group(1))
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({os.strerror(code)})"
    if code is not None:
        return f"write failed ({os.strerror(code)})"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"write failed ({type(exc).__name__}: {first})"
