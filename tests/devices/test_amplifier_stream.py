"""Acceptance: 16 channels x 20 kHz through a pty for 30 s of device time, nothing lost.

The emulated bench runs in a child process, as a real device would not share the host's CPU
time (and GIL)."""

from __future__ import annotations

import numpy as np

from tests.devices.helpers import Collector, pattern

RATE_HZ, N_CH, DEVICE_S = 20_000, 16, 30.0
SPEED = 10.0  # 6.9 MB/s through the pty


def test_16ch_20kHz_30s_without_loss(rig) -> None:
    # a device buffer of ~100 s of data: a test machine busy with other work may hold the
    # host back for a second or two (10-20 s of device time), which is not what this tests
    bench = rig.bench_process(signal="test", n_channels=N_CH, sample_rate_Hz=RATE_HZ,
                              speed=SPEED, buffer_bytes=64 << 20)
    chunks: list[bytes] = []
    # answers queue behind the data in flight: allow for a host that fell behind
    amp = rig.amplifier(bench, on_bytes=lambda source, t, data: chunks.append(data),
                        timeout_s=10.0)
    ident = amp.configure(sample_rate_Hz=RATE_HZ, n_channels=N_CH, samples_per_block=20)
    assert (ident.sample_rate_Hz, ident.n_channels) == (RATE_HZ, N_CH)
    amp.start()
    got = Collector(amp)
    n_wanted = int(DEVICE_S * RATE_HZ)
    got.pump(lambda c: c.n_samples >= n_wanted, timeout_s=30.0, what="30 s of samples")
    amp.stop()  # when it returns, every block sent before the answer is queued
    got.pump(lambda c: c.amp.link.backlog == 0, what="the last records")

    assert not got.gaps and not got.errors and not got.events
    idx = got.indices()
    assert np.array_equal(idx, np.arange(len(idx)))  # every sample, in order, none twice
    assert np.array_equal(got.samples(), pattern(idx, N_CH))
    stats = amp.stats
    assert stats.errors == 0 and stats.gaps == 0 and stats.resets == 0
    assert sum(len(c) for c in chunks) == stats.bytes_in  # on_bytes saw every byte
    status = amp.status()
    assert status.dropped_samples == 0 and status.rx_errors == 0
    # the device's own count: every block it sent arrived
    assert len(idx) == 20 * status.blocks_sent == 20 * bench.call("amplifier.blocks_sent")
