"""Faults injected into the emulated amplifier are detected and reported by AmplifierClient with
the right sample range (the emulator's fault records say which blocks it really hit)."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.devices import NackError
from hreflex.errors import DeviceError
from hreflex.protocol import Opcode, Reason
from hreflex.sim.emulators import TRANSPORTS
from tests.devices.helpers import Collector, pattern, wait_for

RATE_HZ, N_CH, BLOCK = 5000, 2, 5  # blocks of 1 ms


def streaming(rig, **bench_options):
    """A bench streaming the known test signal for 0.5 s of device time."""
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ, n_channels=N_CH, **bench_options)
    amp = rig.amplifier(bench, stall_timeout_s=0.1, timeout_s=0.2)
    amp.start()
    got = Collector(amp)
    got.pump(lambda c: c.n_samples >= RATE_HZ // 2, what="streaming")
    return bench, amp, got


def applied(device, kind: str, n: int = 1):
    """The emulator's records of the first ``n`` faults of ``kind`` it applied."""
    return wait_for(lambda: [f for f in device.faults if f.kind == kind][:n] if sum(
        f.kind == kind for f in device.faults) >= n else None, what=f"{n} {kind} fault(s)")


def after(got: Collector, index: int) -> None:
    """Collect until rows past device sample ``index`` (+ 0.1 s) have arrived."""
    got.pump(lambda c: c.last_index > index + RATE_HZ // 10, what=f"samples past {index}")


def assert_accounted(got: Collector) -> np.ndarray:
    """Every sample index from 0 on is received exactly once or inside exactly one reported
    gap, and every received row holds the test signal of its index."""
    idx = got.indices()
    assert np.all(np.diff(idx) > 0)
    lost = [np.arange(g.first_missing_sample, g.first_missing_sample + g.n_missing_samples)
            for g in got.gaps]
    covered = np.sort(np.concatenate([idx, *lost]))
    assert np.array_equal(covered, np.arange(len(covered)))
    assert np.array_equal(got.samples(), pattern(idx, N_CH))
    return idx


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dropped_blocks_become_one_gap_with_the_exact_samples(rig, transport) -> None:
    bench, amp, got = streaming(rig, transport=transport)
    bench.amplifier.inject("drop", n=3)
    hit = applied(bench.amplifier, "drop", 3)
    assert [r.seq for r in hit] == [hit[0].seq + k for k in range(3)]
    after(got, hit[-1].first_sample)
    first, n = hit[0].first_sample, sum(r.n_samples for r in hit)
    assert [(g.kind, g.first_missing_sample, g.n_missing_samples, g.n_missing_blocks)
            for g in got.gaps] == [("gap", first, n, 3)]
    assert not got.errors
    idx = assert_accounted(got)
    assert not np.isin(np.arange(first, first + n), idx).any()


def test_blocks_lost_right_after_start_are_a_gap_from_sample_0(rig) -> None:
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ, n_channels=N_CH)
    amp = rig.amplifier(bench)
    bench.amplifier.inject("drop", n=2)
    amp.start()
    got = Collector(amp)
    got.pump(lambda c: c.n_samples >= RATE_HZ // 10)
    assert [(g.kind, g.first_missing_sample, g.n_missing_samples, g.n_missing_blocks)
            for g in got.gaps] == [("gap", 0, 2 * BLOCK, 2)]
    assert [(r.seq, r.first_sample) for r in bench.amplifier.faults] == [(0, 0), (1, BLOCK)]
    assert_accounted(got)


@pytest.mark.parametrize("kind", ["bitflip", "truncate"])
def test_damaged_block_is_rejected_counted_and_reported_as_a_gap(rig, kind) -> None:
    bench, amp, got = streaming(rig)
    bench.amplifier.inject(kind)
    (hit,) = applied(bench.amplifier, kind)
    after(got, hit.first_sample)
    if kind == "bitflip":
        assert dict(got.errors) == {"crc": 1}  # CRC-32 catches every single-bit error
    else:
        assert sum(got.errors.values()) == 1
    assert [(g.kind, g.first_missing_sample, g.n_missing_samples, g.n_missing_blocks)
            for g in got.gaps] == [("gap", hit.first_sample, BLOCK, 1)]
    assert_accounted(got)


def test_garbage_between_frames_is_skipped_without_losing_samples(rig) -> None:
    bench, amp, got = streaming(rig)
    bench.amplifier.inject("garbage", n_bytes=300)
    applied(bench.amplifier, "garbage")
    got.pump(lambda c: c.errors, what="the garbage to be rejected")
    after(got, got.last_index)  # decoding goes on after it
    assert not got.gaps
    assert_accounted(got)


def test_stall_is_reported_and_nothing_is_lost(rig) -> None:
    bench, amp, got = streaming(rig)
    bench.amplifier.inject("stall", duration_s=3.0)  # 0.3 s of wall time at speed 10
    got.pump(lambda c: "stall_end" in c.kinds(), what="the stall to end")
    assert got.kinds() == ["stall", "stall_end"]
    stall, end = got.events
    assert end.host_time_s - stall.host_time_s > 1.0  # experiment seconds
    after(got, got.last_index)
    assert not got.gaps and not got.errors
    assert_accounted(got)


def test_overflowing_device_buffer_drops_samples_as_a_clock_gap(rig) -> None:
    bench, amp, got = streaming(rig, buffer_bytes=20_000)  # ~0.4 s of 2-channel data
    bench.amplifier.inject("stall", duration_s=3.0)
    got.pump(lambda c: c.gaps, what="the dropped samples")
    after(got, got.last_index)
    (gap,) = got.gaps
    assert gap.kind == "clock" and gap.n_missing_blocks == 0
    assert gap.n_missing_samples == amp.status().dropped_samples > 0
    assert_accounted(got)


def test_device_reset_is_a_reset_record_and_the_clock_restarts(rig) -> None:
    bench, amp, got = streaming(rig)
    bench.amplifier.inject("reset")
    got.pump(lambda c: c.gaps, what="the reset")
    got.pump(lambda c: c.last_index > RATE_HZ // 10, what="samples after the reset")
    (gap,) = got.gaps
    assert (gap.kind, gap.got_seq) == ("reset", 0) and amp.stats.resets == 1
    idx = got.indices()
    restart = int(np.flatnonzero(np.diff(idx) < 0)[0]) + 1
    assert idx[restart] == 0 and gap.first_missing_sample == idx[restart - 1] + 1
    assert np.array_equal(idx[restart:], np.arange(len(idx) - restart))
    assert np.array_equal(got.samples(), pattern(idx, N_CH))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_disconnect_without_reboot_reconnects_at_the_same_path_with_a_gap(rig, transport) -> None:
    bench, amp, got = streaming(rig, transport=transport)
    bench.amplifier.inject("disconnect", duration_s=2.0, reboot=False)
    got.pump(lambda c: "reconnected" in c.kinds(), what="the reconnection")
    got.pump(lambda c: c.gaps, what="data after the reconnection")
    after(got, got.last_index)
    assert got.kinds() == ["disconnected", "reconnected"]
    assert amp.link.counters["disconnects"] == amp.link.counters["reconnects"] == 1
    (gap,) = got.gaps
    assert gap.kind == "gap" and gap.n_missing_samples >= RATE_HZ  # >= 1 s of device time
    assert_accounted(got)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_disconnect_with_reboot_then_restart_streams_again(rig, transport) -> None:
    bench, amp, got = streaming(rig, transport=transport)
    bench.amplifier.inject("disconnect", duration_s=1.0, reboot=True)
    got.pump(lambda c: "reconnected" in c.kinds(), what="the reconnection")
    before = len(got.indices())
    amp.configure(RATE_HZ, N_CH)  # the power-on configuration may differ: set it again
    amp.start()
    got.pump(lambda c: c.n_samples >= before + RATE_HZ // 2, what="the new stream")
    idx = got.indices()
    assert np.array_equal(idx[before:], np.arange(len(idx) - before))  # the clock restarted
    assert np.array_equal(got.samples(), pattern(idx, N_CH))
    assert not got.gaps and bench.amplifier.epoch == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_device_that_does_not_come_back_is_reported_lost(rig, transport) -> None:
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ, transport=transport)
    amp = rig.amplifier(bench, reconnect_timeout_s=0.3)
    bench.amplifier.inject("disconnect", duration_s=1000.0)
    got = Collector(amp)
    got.pump(lambda c: "lost" in c.kinds(), what="giving up")
    assert got.kinds() == ["disconnected", "lost"] and not amp.link.connected
    with pytest.raises(DeviceError, match="not connected"):
        amp.status()


def test_nack_raises_with_the_reason(rig) -> None:
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ)
    amp = rig.amplifier(bench)
    bench.amplifier.inject("nack", opcode=Opcode.GET_STATUS, reason=Reason.BUSY)
    with pytest.raises(NackError, match="refused GET_STATUS: BUSY") as err:
        amp.status()
    assert err.value.reason == Reason.BUSY and err.value.opcode == Opcode.GET_STATUS
    assert not amp.status().streaming  # the next one is answered


def test_missing_answer_is_retried_with_a_new_request_id(rig) -> None:
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ)
    amp = rig.amplifier(bench, timeout_s=0.1)
    bench.amplifier.inject("no_response", opcode=Opcode.GET_STATUS, execute=False)
    amp.status()
    sent = [c.command for c in bench.amplifier.commands if c.command.opcode == Opcode.GET_STATUS]
    assert len(sent) == 2 and sent[0].request_id != sent[1].request_id
    assert amp.link.counters["retries"] == amp.link.counters["timeouts"] == 1
    bench.amplifier.inject("no_response", n=3, opcode=Opcode.GET_STATUS)
    with pytest.raises(DeviceError, match=r"no answer to GET_STATUS after 3 attempt\(s\)"):
        amp.status()
