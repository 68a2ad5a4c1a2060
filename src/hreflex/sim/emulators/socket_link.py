"""The device end of a localhost TCP port that a host opens as ``socket://127.0.0.1:PORT``.

The host opens it through the same ``serial.serial_for_url`` path as a serial device
(pyserial's ``socket://`` handler; :func:`hreflex.devices.transport.open_port`). Bytes the
host writes are in the device's socket when its ``send`` returns (loopback delivers in the
sender's system call), so, unlike a pty, no kernel worker stands between the host's write
and the device's read: under CPU load what the emulated device receives late is the device
thread's own lateness, as with a USB-serial device. Both directions use the socket; output is
delivered like USB (:class:`~hreflex.sim.emulators.delivery.DeviceEnd`).

- :meth:`SocketLink.connect` listens on ``host:port`` (port 0: the system picks one at the
  first connect, and the device keeps it); one host at a time: a new connection replaces the
  current one (the host reopening its port), whose socket is reset.
- :meth:`SocketLink.disconnect` (unplugging) resets the host's connection and stops listening:
  the host's reads fail and its reopen attempts are refused until :meth:`connect` listens on
  the same port again. What was in transit is lost.
- The kernel's socket buffers hold some output besides :attr:`backlog_bytes`
  (``send_buffer_bytes`` bounds the device's send buffer; the host's receive buffer adds to
  it), so an amplifier's buffer overflow comes that much later than over a pty.
- There is no device path: what needs one (``/dev/serial/by-id`` style links, USB matches)
  needs :class:`~hreflex.sim.emulators.pty_link.PtyLink`.
"""

from __future__ import annotations

import select
import socket
import struct
import time

import numpy as np

from hreflex.sim.emulators.delivery import DeviceEnd

__all__ = ["SocketLink"]


class SocketLink(DeviceEnd):
    """One device port on ``host:port`` (TCP, TCP_NODELAY). Not thread-safe: one device thread
    drives it. ``send_buffer_bytes``: the device socket's SO_SNDBUF request (bytes)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, jitter_s: float = 0.0,
                 rng: np.random.Generator | None = None,
                 send_buffer_bytes: int = 1 << 18) -> None:
        super().__init__(jitter_s=jitter_s, rng=rng)
        self.host, self.port = host, int(port)
        self.send_buffer_bytes = int(send_buffer_bytes)
        #: host connections accepted so far
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None

    @property
    def url(self) -> str:
        """``socket://host:port`` (the port is known after the first :meth:`connect`)."""
        if self.port == 0:
            raise RuntimeError("the socket link has no port before its first connect()")
        return f"socket://{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._listener is not None

    @property
    def host_connected(self) -> bool:
        """A host has the port open now."""
        return self._client is not None

    def connect(self) -> None:
        """Listen on ``host:port`` (the same port after a disconnect)."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(1)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener

    def disconnect(self) -> None:
        """Reset the host's connection and stop listening; what was in transit is lost."""
        if self._listener is None:
            return
        self._drop_client()
        self._listener.close()
        self._listener = None
        self._drop_in_transit()

    def read(self, timeout_wall_s: float) -> bytes:
        """What the host wrote, waiting up to ``timeout_wall_s`` (wall clock) for something;
        meanwhile a host connecting is accepted and delivered output goes on to the socket as
        soon as it takes it. Empty when nothing came (or the host closed its port)."""
        if self._listener is None:
            time.sleep(timeout_wall_s)
            return b""
        deadline = time.monotonic() + timeout_wall_s
        while True:
            left = max(0.0, deadline - time.monotonic())
            client = self._client
            readable, writable, _ = select.select(
                [self._listener] + ([client] if client else []),
                [client] if client is not None and self._out else [], [], left)
            if client is not None and client in readable:
                try:
                    data = client.recv(1 << 16)
                except BlockingIOError:
                    data = None
                except OSError:  # reset by the host
                    data = b""
                if data == b"":  # the host closed its port
                    self._drop_client()
                if data:
                    return data
            if self._listener in readable:
                self._accept()
            if writable:
                self._write_out()
            if left == 0.0 or not (readable or writable):
                return b""

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self._drop_client()  # the host reopened its port: the new connection replaces it
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
        self._client = conn
        self.accepted += 1

    def _drop_client(self) -> None:
        """Close the host's connection with a reset (nothing more is delivered on it)."""
        if self._client is None:
            return
        try:
            self._client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self._client.close()
        self._client = None

    def _try_write(self, data: bytearray) -> int | None:
        if self._client is None:
            return None  # output waits for a host to connect (as in an unopened pty)
        try:
            return self._client.send(data)
        except BlockingIOError:
            return None
        except OSError:  # the host went away
            self._drop_client()
            return None
