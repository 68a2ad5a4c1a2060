"""SocketLink: the host opens ``socket://127.0.0.1:PORT`` through the same ``open_port`` as a
serial device; bytes both ways, the USB-like delivery schedule, one host at a time, and
disconnect/reconnect on the same port. Time is given by hand, so the schedule is exact."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import serial

from hreflex.devices import open_port
from hreflex.errors import DeviceError
from hreflex.sim.emulators import SocketLink
from tests.devices.helpers import wait_for


@pytest.fixture
def link():
    lk = SocketLink(jitter_s=0.02, rng=np.random.default_rng(3))
    lk.connect()
    yield lk
    lk.disconnect()


def host(link: SocketLink) -> serial.SerialBase:
    """The host's port, once the device has accepted it (the device thread's read does)."""
    port = open_port(link.url, read_timeout_s=0.05)
    before = link.accepted
    wait_for(lambda: link.read(0.01) == b"" and link.accepted > before, what="the accept")
    return port


def test_bytes_both_ways_with_no_delay_on_either_end(link) -> None:
    assert link.url.startswith("socket://127.0.0.1:") and link.port > 0
    port = host(link)
    with socket.socket(fileno=os.dup(port.fileno())) as sock:  # the host's end
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert link._client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    port.write(b"\x01\x02\x00")
    assert wait_for(lambda: link.read(0.05), what="the host's bytes") == b"\x01\x02\x00"
    link.send(b"hello", now_s=0.0)
    link.flush(now_s=1.0)
    assert port.read(5) == b"hello"
    port.close()


def test_delivery_waits_for_its_release_time_and_keeps_the_order(link) -> None:
    port = host(link)
    draws = np.random.default_rng(3).uniform(0.0, 0.02, 2)  # the link's delays, in order
    release = [0.0 + draws[0], max(0.0 + draws[0], 0.001 + draws[1])]
    link.send(b"ab", now_s=0.0)
    link.send(b"cd", now_s=0.001)
    link.flush(now_s=release[0] - 1e-9)
    assert link.backlog_bytes == 4  # nothing is due yet
    link.flush(now_s=release[0])
    assert link.backlog_bytes == (0 if release[1] == release[0] else 2)
    link.flush(now_s=release[1])
    assert link.backlog_bytes == 0
    assert port.read(4) == b"abcd"
    link.pause(until_s=5.0)  # a stall holds everything back, then lets it go
    link.send(b"ef", now_s=1.0)
    link.flush(now_s=4.9)
    assert link.backlog_bytes == 2
    link.flush(now_s=5.0)
    assert port.read(2) == b"ef"
    port.close()


def test_output_waits_for_a_host_and_a_new_host_replaces_the_old(link) -> None:
    link.send(b"\x00", now_s=0.0)  # the power-on announcement, before anyone connected
    link.flush(now_s=1.0)
    assert link.backlog_bytes == 1 and not link.host_connected
    first = open_port(link.url, read_timeout_s=0.05)
    wait_for(lambda: link.read(0.01) == b"" and link.host_connected, what="the accept")
    link.flush(now_s=1.0)
    assert first.read(1) == b"\x00" and link.backlog_bytes == 0
    second = host(link)  # the host reopened its port
    assert link.accepted == 2
    with pytest.raises(serial.SerialException):
        first.read(1)  # the old connection was reset
    link.send(b"new", now_s=2.0)
    link.flush(now_s=3.0)
    assert second.read(3) == b"new"
    first.close()
    second.close()


def test_disconnect_refuses_the_host_until_the_device_is_back_on_its_port(link) -> None:
    url = link.url
    port = host(link)
    link.send(b"in transit", now_s=0.0)
    link.disconnect()
    assert not link.connected and link.lost_bytes == len(b"in transit")
    with pytest.raises(serial.SerialException):
        port.read(1)  # unplugged: the host's read fails
    port.close()
    with pytest.raises(DeviceError, match="cannot open socket://"):
        open_port(url, name="amp")  # nothing listens: refused
    link.send(b"lost", now_s=1.0)
    assert link.lost_bytes == len(b"in transit") + 4
    link.connect()
    assert link.url == url  # the same port again
    port = host(link)
    link.send(b"again", now_s=2.0)
    link.flush(now_s=3.0)
    assert port.read(5) == b"again"
    port.close()
