"""Finding serial ports by path, URL or USB ids; ``hreflex ports``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hreflex.acquisition import ports as ports_mod
from hreflex.acquisition.config import PortSpec
from hreflex.acquisition.ports import PortInfo, format_ports
from hreflex.cli import cli
from hreflex.devices.transport import find_port
from hreflex.errors import DeviceError

PORTS = [
    PortInfo("/dev/ttyACM0", 0x16C0, 0x0483, "111", "Teensy USB Serial", "Teensyduino"),
    PortInfo("/dev/ttyACM1", 0x16C0, 0x0483, "222", "Teensy USB Serial", "Teensyduino"),
    PortInfo("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "FT232R USB UART", "FTDI"),
    PortInfo("/dev/ttyS0"),
]


def test_port_and_url_are_used_as_given():
    assert PortSpec("amplifier", port="loop://").target() == "loop://"
    assert PortSpec("stimulator", port="/dev/pts/4").target() == "/dev/pts/4"


def test_usb_match_needs_exactly_one_port():
    ftdi = PortSpec("stimulator", vid=0x0403, pid=0x6001).target()
    assert find_port(ftdi, PORTS) == "/dev/ttyUSB0"
    teensy = PortSpec("amplifier", vid=0x16C0, pid=0x0483, serial_number="222").target()
    assert find_port(teensy, PORTS) == "/dev/ttyACM1"
    with pytest.raises(DeviceError, match=r"amplifier: 2 ports match USB "
                                          r"vid=0x16C0 pid=0x0483 \(/dev/ttyACM0, /dev/ttyACM1\)"
                                          r"; add serial_number"):
        find_port(PortSpec("amplifier", vid=0x16C0, pid=0x0483).target(), PORTS, name="amplifier")
    with pytest.raises(DeviceError, match="no serial port matches USB serial=999"):
        find_port(PortSpec("amplifier", serial_number="999").target(), PORTS)
    assert PortSpec("amplifier", emulated=True).describe() == "emulated"


def test_format_ports_table():
    lines = format_ports(PORTS).splitlines()
    assert lines[0].split() == ["device", "vid:pid", "serial_number", "description"]
    assert lines[3].split() == ["/dev/ttyUSB0", "0403:6001", "A50285BI", "FT232R", "USB", "UART",
                                "(FTDI)"]
    assert lines[4].split() == ["/dev/ttyS0", "-", "-", "-"]
    col = lines[0].index("vid:pid")  # columns line up under their headings
    assert [line[col:].split()[0] for line in lines[1:]] == ["16C0:0483", "16C0:0483",
                                                             "0403:6001", "-"]


def test_ports_command(monkeypatch):
    monkeypatch.setattr(ports_mod, "list_ports", lambda: [])
    result = CliRunner().invoke(cli, ["ports"])
    assert result.exit_code == 0 and result.output.startswith("No serial ports found")
    monkeypatch.setattr(ports_mod, "list_ports", lambda: PORTS[:1])
    result = CliRunner().invoke(cli, ["ports"])
    assert result.exit_code == 0 and "/dev/ttyACM0  16C0:0483  111" in result.output


def test_list_ports_reads_pyserial(monkeypatch):
    class Fake:
        device, vid, pid, serial_number = "/dev/ttyACM9", 1, 2, "s"
        description, manufacturer = "thing", None

    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [Fake()])
    assert ports_mod.list_ports() == [PortInfo("/dev/ttyACM9", 1, 2, "s", "thing", None)]
