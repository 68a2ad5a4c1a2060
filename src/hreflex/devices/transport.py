"""Open the serial port of a device: from a path, a pyserial URL or a USB VID/PID/serial match.

Every port is opened through ``serial.serial_for_url`` (``socket://`` through pyserial's own
socket port class, see :class:`SocketPort`), so a path (``/dev/ttyACM0``, ``COM3``,
an emulator's ``/tmp/.../amplifier`` link), ``loop://`` or ``socket://host:port`` all work the
same way; tests swap the transport by passing a different string. A :class:`UsbMatch` is
resolved against ``serial.tools.list_ports`` each time the port is opened, so a device that
comes back under a new ``/dev/ttyACM*`` number after a replug is found again.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import serial
from serial.tools import list_ports
from serial.urlhandler import protocol_socket

from hreflex.errors import DeviceError

__all__ = ["DEFAULT_BAUD", "PortTarget", "SocketPort", "UsbMatch", "find_port", "open_port"]

#: default line speed, bit/s (irrelevant for USB CDC devices and ptys, used by UART bridges)
DEFAULT_BAUD = 2_000_000


@dataclass(frozen=True)
class UsbMatch:
    """A USB serial device identified by any of vendor id, product id and serial number."""

    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None

    def __post_init__(self) -> None:
        if self.vid is None and self.pid is None and self.serial_number is None:
            raise ValueError("UsbMatch needs at least one of vid, pid, serial_number")

    def matches(self, port: Any) -> bool:
        """True when every field set here equals the port's (a ``list_ports`` entry)."""
        return all(want is None or want == have for want, have in (
            (self.vid, port.vid), (self.pid, port.pid), (self.serial_number, port.serial_number)))

    def __str__(self) -> str:
        parts = [f"vid=0x{self.vid:04X}" if self.vid is not None else "",
                 f"pid=0x{self.pid:04X}" if self.pid is not None else "",
                 f"serial={self.serial_number}" if self.serial_number is not None else ""]
        return "USB " + " ".join(p for p in parts if p)


#: what identifies a port: a path or pyserial URL, or a USB match
PortTarget = str | UsbMatch


def find_port(match: UsbMatch, ports: Sequence[Any] | None = None, name: str = "device") -> str:
    """The device path of the one port ``match`` selects among ``ports`` (default: the ports
    present now); :class:`DeviceError` when none or several match."""
    found = [p for p in (list_ports.comports() if ports is None else ports) if match.matches(p)]
    if len(found) == 1:
        return found[0].device
    if not found:
        raise DeviceError(f"{name}: no serial port matches {match} (is it plugged in? "
                          "'hreflex ports' lists what is there)")
    raise DeviceError(f"{name}: {len(found)} ports match {match} "
                      f"({', '.join(p.device for p in found)}); add serial_number")


def open_port(target: PortTarget, *, name: str = "device", baudrate: int = DEFAULT_BAUD,
              read_timeout_s: float = 0.02, write_timeout_s: float = 1.0) -> serial.SerialBase:
    """Open ``target`` (raw 8N1, no flow control) and return the pyserial port.

    ``read_timeout_s`` bounds each ``read`` (wall clock). Plain device paths are opened with
    an exclusive lock (POSIX), so a second program cannot silently steal half of the bytes.
    Any failure raises :class:`DeviceError` naming ``name`` and the port.
    """
    url = find_port(target, name=name) if isinstance(target, UsbMatch) else target
    options: dict[str, Any] = {} if "://" in url else {"exclusive": True}
    try:
        if url.startswith("socket://"):
            return SocketPort(url, baudrate=baudrate, timeout=read_timeout_s,
                              write_timeout=write_timeout_s)
        return serial.serial_for_url(url, baudrate=baudrate, timeout=read_timeout_s,
                                     write_timeout=write_timeout_s, **options)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(f"{name}: cannot open {url}: {exc}") from None


class SocketPort(protocol_socket.Serial):
    """pyserial's ``socket://`` port with TCP_NODELAY (a command goes out when it is written,
    not held back behind an unacknowledged one by Nagle's algorithm, as a USB transfer would)
    and a :meth:`close` that returns at once: pyserial's own sleeps 0.3 s "for quick
    reconnects" (and leaves a reset socket open), which held up the host's report of a
    disconnect by 0.3 s wall (the reader closes the old port before it reports)."""

    def open(self) -> None:
        super().open()
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.is_open and self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
            self._socket = None
        self.is_open = False
