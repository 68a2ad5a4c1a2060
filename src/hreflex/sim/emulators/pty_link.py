"""The device end of a pseudo-terminal pair that a host opens as a real serial port.

The host opens ``path``: a symlink to the current ``/dev/pts/N``, like a udev
``/dev/serial/by-id/...`` link. :meth:`PtyLink.disconnect` closes the pty and removes the link
(the host's reads fail, as after unplugging a USB device); :meth:`PtyLink.connect` makes a
new pty and points the link at it, so the host finds the device again at the same path.

Output is delivered the way USB delivers it: each chunk is held back a random 0–``jitter_s``
(true time) but never overtakes an earlier one, so bytes arrive bunched and late, in order.
Writes never block the device: what the pty does not take yet waits in the backlog (a
device uses :attr:`PtyLink.backlog_bytes` to decide when its output buffer overflows).
"""

from __future__ import annotations

import collections
import os
import select
import time
import tty
from pathlib import Path

import numpy as np

__all__ = ["PtyLink"]


class PtyLink:
    """One device port at ``path``. Not thread-safe: one device thread drives it."""

    def __init__(self, path: str | Path, *, jitter_s: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        self.path = Path(path)
        self.jitter_s = float(jitter_s)
        self.rng = rng or np.random.default_rng()
        #: bytes sent while disconnected (lost in transit)
        self.lost_bytes = 0
        self._fds: tuple[int, int] | None = None
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._queued = 0
        self._out = bytearray()
        self._last_release = 0.0
        self._paused_until = -np.inf

    @property
    def connected(self) -> bool:
        return self._fds is not None

    @property
    def device_name(self) -> str | None:
        """The ``/dev/pts/N`` the link points at now (None while disconnected)."""
        return os.ttyname(self._fds[1]) if self._fds else None

    @property
    def backlog_bytes(self) -> int:
        """Bytes sent but not yet taken by the pty (in transit or waiting for the host)."""
        return self._queued + len(self._out)

    def connect(self) -> None:
        """Make a new raw pty pair and point ``path`` at its slave end."""
        if self._fds is not None:
            return
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)  # atomic: the host never sees a missing or stale link
        self._fds = (master, slave)  # the slave stays open: the pty lives while unopened

    def disconnect(self) -> None:
        """Close the pty and remove the link; what was in transit is lost."""
        if self._fds is None:
            return
        self.path.unlink(missing_ok=True)
        for fd in self._fds:
            os.close(fd)
        self._fds = None
        self.lost_bytes += self.backlog_bytes
        self._queue.clear()
        self._queued = 0
        self._out.clear()

    def read(self, timeout_wall_s: float) -> bytes:
        """What the host wrote, waiting up to ``timeout_wall_s`` (wall clock) for something;
        meanwhile delivered output goes on to the pty as soon as the host makes room (so
        the throughput does not depend on how often the device thread runs)."""
        if self._fds is None:
            time.sleep(timeout_wall_s)
            return b""
        master = self._fds[0]
        deadline = time.monotonic() + timeout_wall_s
        while True:
            left = max(0.0, deadline - time.monotonic())
            readable, writable, _ = select.select([master], [master] if self._out else [], [],
                                                  left)
            if readable:
                try:
                    return os.read(master, 1 << 16)
                except OSError:  # EAGAIN, or EIO while the host side is in flux
                    return b""
            if not writable or left == 0.0:
                return b""
            self._write_out()

    def send(self, data: bytes, now_s: float) -> None:
        """Queue ``data`` for delivery after a random delay (true time ``now_s``)."""
        if not data:
            return
        if self._fds is None:
            self.lost_bytes += len(data)
            return
        delay = self.rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0
        self._last_release = max(self._last_release, now_s + delay)
        self._queue.append((self._last_release, data))
        self._queued += len(data)

    def pause(self, until_s: float) -> None:
        """Deliver nothing before true time ``until_s`` (a stalled USB pipe)."""
        self._paused_until = max(self._paused_until, until_s)

    def flush(self, now_s: float) -> None:
        """Hand everything due by true time ``now_s`` to the pty, as far as it takes it."""
        if self._fds is None or now_s < self._paused_until:
            return
        while self._queue and self._queue[0][0] <= now_s:
            data = self._queue.popleft()[1]
            self._queued -= len(data)
            self._out += data
        self._write_out()

    def _write_out(self) -> None:
        """Write delivered bytes to the pty as far as it takes them (never blocks)."""
        while self._out:
            try:
                n = os.write(self._fds[0], self._out)
            except BlockingIOError:
                return
            del self._out[:n]
