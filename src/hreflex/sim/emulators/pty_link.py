"""The device end of a pseudo-terminal pair that a host opens as a real serial port.

The host opens ``path``: a symlink to the current ``/dev/pts/N``, like a udev
``/dev/serial/by-id/...`` link. :meth:`PtyLink.disconnect` closes the pty and removes the link
(the host's reads fail, as after unplugging a USB device); :meth:`PtyLink.connect` makes a
new pty and points the link at it, so the host finds the device again at the same path.
Output is delivered the way USB delivers it (:class:`~hreflex.sim.emulators.delivery.DeviceEnd`).

Under CPU load the Linux pty is late in both directions: the bytes one end writes reach the
other through a kernel worker (the tty flip-buffer work), which runs when the scheduler lets
it (docs/ACQUISITION.md, "Where the device side's lateness comes from"). A real USB-serial
device has no such step; :class:`~hreflex.sim.emulators.socket_link.SocketLink` has none.
"""

from __future__ import annotations

import os
import select
import time
import tty
from pathlib import Path

import numpy as np

from hreflex.sim.emulators.delivery import DeviceEnd

__all__ = ["PtyLink"]


class PtyLink(DeviceEnd):
    """One device port at ``path``. Not thread-safe: one device thread drives it."""

    def __init__(self, path: str | Path, *, jitter_s: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(jitter_s=jitter_s, rng=rng)
        self.path = Path(path)
        self._fds: tuple[int, int] | None = None

    @property
    def url(self) -> str:
        """The stable path the host opens."""
        return str(self.path)

    @property
    def connected(self) -> bool:
        return self._fds is not None

    @property
    def device_name(self) -> str | None:
        """The ``/dev/pts/N`` the link points at now (None while disconnected)."""
        return os.ttyname(self._fds[1]) if self._fds else None

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
        self._drop_in_transit()

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

    def _try_write(self, data: bytearray) -> int | None:
        try:
            return os.write(self._fds[0], data)
        except BlockingIOError:
            return None
