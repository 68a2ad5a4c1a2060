"""USB-like output delivery shared by the device ends of the emulators' ports (pty, socket).

Each chunk a device sends is held back a random 0–``jitter_s`` (true time) but never
overtakes an earlier one, so bytes arrive bunched and late, in order. Writes never block the
device: what the port does not take yet waits in the backlog (a device uses
:attr:`DeviceEnd.backlog_bytes` to decide when its output buffer overflows). A subclass
provides the port: :meth:`connect`, :meth:`disconnect`, :meth:`read`, :attr:`url`,
:attr:`connected` and :meth:`_try_write`.
"""

from __future__ import annotations

import collections

import numpy as np

__all__ = ["DeviceEnd"]


class DeviceEnd:
    """Delivery queue and backlog of one device port. Not thread-safe: one device thread
    drives it. ``jitter_s``: largest delivery delay (true s); ``rng`` draws the delays."""

    def __init__(self, *, jitter_s: float = 0.0, rng: np.random.Generator | None = None) -> None:
        self.jitter_s = float(jitter_s)
        self.rng = rng or np.random.default_rng()
        #: bytes sent while disconnected, or in transit at a disconnect (lost)
        self.lost_bytes = 0
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._queued = 0
        self._out = bytearray()
        self._last_release = 0.0
        self._paused_until = -np.inf

    # -- provided by the port ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """What the host opens with ``serial.serial_for_url``."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        """The device is plugged in (the host can open it)."""
        raise NotImplementedError

    def connect(self) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def read(self, timeout_wall_s: float) -> bytes:
        """What the host wrote, waiting up to ``timeout_wall_s`` (wall clock)."""
        raise NotImplementedError

    def _try_write(self, data: bytearray) -> int | None:
        """Write a prefix of ``data`` without blocking: bytes taken, None when none can be."""
        raise NotImplementedError

    # -- delivery ---------------------------------------------------------------------------

    @property
    def backlog_bytes(self) -> int:
        """Bytes sent but not yet taken by the port (in transit or waiting for the host)."""
        return self._queued + len(self._out)

    def send(self, data: bytes, now_s: float) -> None:
        """Queue ``data`` for delivery after a random delay (true time ``now_s``)."""
        if not data:
            return
        if not self.connected:
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
        """Hand everything due by true time ``now_s`` to the port, as far as it takes it."""
        if not self.connected or now_s < self._paused_until:
            return
        while self._queue and self._queue[0][0] <= now_s:
            data = self._queue.popleft()[1]
            self._queued -= len(data)
            self._out += data
        self._write_out()

    def _write_out(self) -> None:
        """Write delivered bytes to the port as far as it takes them (never blocks)."""
        while self._out:
            n = self._try_write(self._out)
            if not n:
                return
            del self._out[:n]

    def _drop_in_transit(self) -> None:
        """A disconnect: what was queued or waiting for the port is lost."""
        self.lost_bytes += self.backlog_bytes
        self._queue.clear()
        self._queued = 0
        self._out.clear()
