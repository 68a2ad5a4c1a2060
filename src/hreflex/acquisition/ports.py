"""Serial ports: list them (pyserial ``list_ports``) and find the one a ``[devices]`` entry
means (a path or pyserial URL as given, or the single port matching its USB VID/PID/serial)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hreflex.acquisition.config import PortSpec
from hreflex.errors import ConfigError, DeviceError


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


def matches(spec: PortSpec, port: PortInfo) -> bool:
    """True when every USB field ``spec`` sets equals the port's."""
    return all(
        want is None or want == have
        for want, have in ((spec.vid, port.vid), (spec.pid, port.pid),
                           (spec.serial_number, port.serial_number))
    )


def resolve_port(spec: PortSpec, ports: Sequence[PortInfo] | None = None) -> str:
    """The port name or URL to open for ``spec``.

    ``port`` is returned as given (pyserial opens paths and URLs alike). A USB match must
    find exactly one port among ``ports`` (default: :func:`list_ports`); otherwise
    :class:`DeviceError` says what was found.
    """
    if spec.emulated:
        raise ConfigError(f"[devices.{spec.role}] is emulated: the engine starts the emulator")
    if spec.port is not None:
        return spec.port
    found = [p for p in (list_ports() if ports is None else ports) if matches(spec, p)]
    if len(found) == 1:
        return found[0].device
    if not found:
        raise DeviceError(f"[devices.{spec.role}]: no serial port matches {spec.describe()} "
                          "(is it plugged in? 'hreflex ports' lists what is there)")
    raise DeviceError(f"[devices.{spec.role}]: {len(found)} ports match {spec.describe()} "
                      f"({', '.join(p.device for p in found)}); add serial_number")


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
