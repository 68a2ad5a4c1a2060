"""Serial ports present on this machine, for ``hreflex ports``. (Finding the port a
``[devices]`` entry means is :func:`hreflex.devices.transport.find_port`.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None


def list_ports() -> list[PortInfo]:
    """Serial ports present now, sorted by device name."""
    from serial.tools import list_ports as lp

    return sorted(
        (PortInfo(p.device, p.vid, p.pid, p.serial_number, p.description or "", p.manufacturer)
         for p in lp.comports()),
        key=lambda p: p.device,
    )


def format_ports(ports: Sequence[PortInfo]) -> str:
    """A table: device, VID:PID, serial number, description (manufacturer)."""
    rows = [("device", "vid:pid", "serial_number", "description")]
    for p in ports:
        usb = f"{p.vid:04X}:{p.pid:04X}" if p.vid is not None and p.pid is not None else "-"
        desc = p.description + (f" ({p.manufacturer})" if p.manufacturer else "")
        rows.append((p.device, usb, p.serial_number or "-", desc or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )
