"""PtyLink: a real serial port for the host at a stable path, disconnect/reconnect at that path,
USB-like delivery (late and bunched, never reordered), stalls and a non-blocking backlog.
Time is given by hand here, so the delivery schedule is checked exactly."""

from __future__ import annotations

import numpy as np
import pytest
import serial

from hreflex.sim.emulators import PtyLink


@pytest.fixture
def link(tmp_path):
    lk = PtyLink(tmp_path / "device", jitter_s=0.02, rng=np.random.default_rng(3))
    lk.connect()
    yield lk
    lk.disconnect()


def host(path) -> serial.Serial:
    return serial.serial_for_url(str(path), timeout=0.05)


def test_host_opens_the_link_and_reconnects_at_the_same_path(link) -> None:
    first = link.device_name
    assert link.path.is_symlink() and str(link.path.resolve()) == first
    port = host(link.path)
    port.write(b"\x01\x02")
    assert link.read(0.5) == b"\x01\x02"
    link.send(b"hello", now_s=0.0)
    link.flush(now_s=1.0)
    assert port.read(5) == b"hello"

    link.disconnect()
    assert not link.path.exists()
    with pytest.raises(serial.SerialException):
        port.read(1)
    link.send(b"lost", now_s=2.0)  # nothing is connected: lost in transit
    assert link.lost_bytes == 4
    port.close()

    link.connect()
    assert link.path.is_symlink() and str(link.path.resolve()) == link.device_name
    port = host(link.path)
    link.send(b"again", now_s=3.0)
    link.flush(now_s=4.0)
    assert port.read(5) == b"again"
    port.close()


def test_delivery_is_late_and_bunched_but_in_order(link) -> None:
    port = host(link.path)
    sent_at = [k * 0.002 for k in range(200)]  # a 2-byte chunk every 2 ms
    delivered_at: dict[int, float] = {}
    t, n_sent, received = 0.0, 0, b""
    while n_sent < len(sent_at) or link.backlog_bytes:
        while n_sent < len(sent_at) and sent_at[n_sent] <= t:
            link.send(n_sent.to_bytes(2, "little"), now_s=sent_at[n_sent])
            n_sent += 1
        link.flush(now_s=t)
        written = 2 * n_sent - link.backlog_bytes  # what this flush and earlier ones wrote
        while len(received) < written:
            chunk = port.read(written - len(received))
            assert chunk, "bytes written to the pty did not arrive"
            received += chunk
        for k in range(len(delivered_at), len(received) // 2):
            delivered_at[int.from_bytes(received[2 * k : 2 * k + 2], "little")] = t
        t += 0.0005
        assert t < 2.0, "delivery stalled"
    order = list(delivered_at)
    assert order == list(range(len(sent_at)))  # everything, never reordered
    delay = np.array([delivered_at[k] - sent_at[k] for k in order])
    assert delay.min() >= 0 and delay.max() <= 0.02 + 0.0005  # 0..jitter (+ one flush step)
    assert delay.std() > 0.003  # really jittered
    per_flush = np.unique(list(delivered_at.values()), return_counts=True)[1]
    assert per_flush.max() >= 3  # bunched: several chunks arrive at once
    port.close()


def test_pause_holds_output_and_backlog_never_blocks(link) -> None:
    port = host(link.path)
    link.pause(until_s=1.0)
    big = bytes(range(1, 256)) * 1000  # 255 kB: far more than a pty buffer holds
    link.send(big, now_s=0.0)
    link.flush(now_s=0.5)
    assert port.read(1) == b"" and link.backlog_bytes == len(big)
    link.flush(now_s=1.0)  # returns at once although the host is not reading
    assert 0 < link.backlog_bytes < len(big)
    received = b""
    for _ in range(1000):
        received += port.read(port.in_waiting or 1)
        link.flush(now_s=1.0)
        if len(received) >= len(big):
            break
    assert received == big and link.backlog_bytes == 0
    port.close()
