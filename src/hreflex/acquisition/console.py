"""Output for a person that may go away: a session never stops because its output failed.

``hreflex acquire … | head -3`` closes the pipe (EPIPE), a closed terminal fails every write
(EIO): :class:`Console` swallows such errors, says nothing more and points the stream's file
descriptor at ``/dev/null``, so later writes, flushes and the interpreter's own final flush
succeed silently too. :func:`echo` is ``click.echo`` through a :class:`Console`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO


class Console:
    """Writes to ``stream``; after the first failed write or flush it drops everything
    (``lost`` is then True) and redirects the stream's descriptor to ``/dev/null``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lost = False

    def _fail(self) -> None:
        self.lost = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self.stream.fileno())
            finally:
                os.close(null)

    def write(self, text: str) -> None:
        if self.lost:
            return
        try:
            self.stream.write(text)
        except (OSError, ValueError):  # EPIPE, EIO, or a stream closed under us
            self._fail()

    def flush(self) -> None:
        if self.lost:
            return
        try:
            self.stream.flush()
        except (OSError, ValueError):
            self._fail()

    def isatty(self) -> bool:
        try:
            return not self.lost and self.stream.isatty()
        except (OSError, ValueError):
            return False


def guard(stream: TextIO | None) -> Console | None:
    """``stream`` wrapped in a :class:`Console` (once; None stays None)."""
    if stream is None or isinstance(stream, Console):
        return stream
    return Console(stream)


_STD: dict[bool, Console] = {}


def echo(text: str = "", err: bool = False) -> None:
    """One line to stdout (``err``: stderr) that never raises for a vanished reader."""
    stream = sys.stderr if err else sys.stdout
    console = _STD.get(err)
    if console is None or console.stream is not stream:
        console = _STD[err] = Console(stream)
    console.write(f"{text}\n")
    console.flush()
