"""open_port: paths, pyserial URLs and USB matches (against a stand-in port list)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import serial

from hreflex.devices import UsbMatch, find_port, open_port
from hreflex.devices import transport as transport_module
from hreflex.errors import DeviceError
from hreflex.sim.emulators import PtyLink

PORTS = [
    SimpleNamespace(device="/dev/ttyACM0", vid=0x16C0, pid=0x0483, serial_number="A0001"),
    SimpleNamespace(device="/dev/ttyACM1", vid=0x16C0, pid=0x0483, serial_number="S0002"),
    SimpleNamespace(device="/dev/ttyUSB0", vid=0x0403, pid=0x6001, serial_number="FT1"),
    SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, serial_number=None),
]


def test_url_and_path_open_the_same_way(tmp_path) -> None:
    port = open_port("loop://", read_timeout_s=0.05)
    port.write(b"\x00abc")
    assert port.read(4) == b"\x00abc"
    port.close()
    link = PtyLink(tmp_path / "dev")
    link.connect()
    try:
        port = open_port(str(link.path))
        link.send(b"xyz", 0.0)
        link.flush(0.0)
        assert port.read(3) == b"xyz"
        with pytest.raises(DeviceError, match="amp: cannot open"):  # exclusive: one owner
            open_port(str(link.path), name="amp")
        port.close()
    finally:
        link.disconnect()


def test_missing_port_is_a_device_error_naming_it() -> None:
    with pytest.raises(DeviceError, match="stimulator: cannot open /nonexistent/ttyX"):
        open_port("/nonexistent/ttyX", name="stimulator")


def test_usb_match_finds_exactly_one_port() -> None:
    assert find_port(UsbMatch(serial_number="S0002"), PORTS) == "/dev/ttyACM1"
    assert find_port(UsbMatch(vid=0x0403, pid=0x6001), PORTS) == "/dev/ttyUSB0"
    with pytest.raises(DeviceError, match="2 ports match USB vid=0x16C0 pid=0x0483 .*ttyACM0"):
        find_port(UsbMatch(vid=0x16C0, pid=0x0483), PORTS, name="amplifier")
    with pytest.raises(DeviceError, match="amplifier: no serial port matches USB serial=X"):
        find_port(UsbMatch(serial_number="X"), PORTS, name="amplifier")
    with pytest.raises(ValueError, match="at least one"):
        UsbMatch()


def test_usb_match_is_resolved_again_at_every_open(tmp_path, monkeypatch) -> None:
    """After a replug the device may have a new name: the match finds it there."""
    link = PtyLink(tmp_path / "dev")
    link.connect()
    present = [SimpleNamespace(device=link.device_name, vid=1, pid=2, serial_number="Z")]
    monkeypatch.setattr(transport_module.list_ports, "comports", lambda: present)
    try:
        port = open_port(UsbMatch(vid=1, pid=2, serial_number="Z"))
        port.close()
        link.disconnect()
        link.connect()  # a new /dev/pts/N
        present[0].device = link.device_name
        port = open_port(UsbMatch(serial_number="Z"))
        assert isinstance(port, serial.SerialBase) and port.port == link.device_name
        port.close()
    finally:
        link.disconnect()
