"""Recorder: samples placed by index (gaps, overlaps, jumps), rows, flushing, never blocking."""

from __future__ import annotations

import errno
import threading
import time

import numpy as np
import pytest

from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.recorder import Recorder
from hreflex.errors import FileFormatError
from hreflex.io.format import STIMULUS_DTYPE, decode_str, empty_table
from hreflex.io.session import SessionMeta, read_session
from hreflex.io.writer import SessionWriter
from hreflex.protocol.decoder import StreamDecoder
from hreflex.protocol.frames import SampleBlock, encode_wire


def rows(a: int, b: int, n_ch: int = 2) -> np.ndarray:
    """Test signal for samples a..b-1: value 10 * index + channel + 1 (never 0)."""
    return (10 * np.arange(a, b)[:, None] + np.arange(n_ch) + 1).astype(np.int16)


def writer(path, n_ch=2) -> SessionWriter:
    return SessionWriter(path, meta=SessionMeta(), sample_rate_Hz=1000.0,
                         channel_names=[f"c{i}" for i in range(n_ch)],
                         scale_V_per_count=np.ones(n_ch))


class MemorySink:
    """In-memory sink; optionally blocks every append until ``gate`` is set."""

    def __init__(self, n_channels=2, gate: threading.Event | None = None, fail=False):
        self.n_channels, self.gate, self.fail = n_channels, gate, fail
        self.samples, self.trigger, self.stimuli, self.faults = [], [], [], []
        self.flushes, self.closed, self.end_state = 0, False, None

    @property
    def n_samples(self):
        return sum(len(s) for s in self.samples)

    def append_samples(self, samples, trigger=None):
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.samples.append(samples)
        self.trigger.append(trigger)

    def append_stimuli(self, r):
        self.stimuli.append(r)

    def append_faults(self, r):
        self.faults.append(r)

    def flush(self):
        self.flushes += 1

    def close(self, end_state="completed"):
        self.closed, self.end_state = True, end_state


def test_samples_land_on_their_index_with_gaps_and_overlaps(tmp_path):
    path = tmp_path / "s.h5"
    rec = Recorder(writer(path), flush_interval_s=0.05).start()
    trig = np.zeros(10, np.uint8)
    trig[3] = 1
    rec.put_samples(0, rows(0, 10), trig)
    rec.put_samples(15, rows(15, 20))  # 10..14 never arrive
    rec.put_samples(12, rows(12, 22))  # 12..19 already written: only 20, 21 are new
    rec.put_samples(22, rows(22, 25))
    stim = empty_table(STIMULUS_DTYPE, 1)
    stim["sample_index"], stim["time_s"], stim["intensity_mA"] = 3, 0.003, 7.5
    rec.put_stimuli(stim)
    rec.put_faults(fault_rows("frame_error", -1, 0, "1 frame"))
    stats = rec.close()
    s = read_session(path)
    expected = np.concatenate([rows(0, 10), np.zeros((5, 2), np.int16), rows(15, 25)])
    assert np.array_equal(s.continuous, expected)
    assert np.flatnonzero(s.trigger).tolist() == [3]
    faults = [(decode_str(f["kind"]), int(f["sample_start"]), int(f["n_samples"]))
              for f in s.faults]
    assert sorted(faults) == sorted([("gap", 10, 5), ("overlap", 12, 8), ("frame_error", -1, 0)])
    assert decode_str(s.faults[[decode_str(k) == "gap" for k in s.faults["kind"]]][0]["detail"]) \
        == "samples 10-14 not received"
    assert s.stimuli["sample_index"].tolist() == [3] and s.stimuli["intensity_mA"][0] == 7.5
    assert (stats.n_samples, stats.gap_samples, stats.dropped_samples) == (25, 5, 8)
    assert (stats.n_stimuli, stats.n_faults) == (1, 3)


def test_decoded_blocks_with_a_lost_block(tmp_path):
    wire = b"".join(
        encode_wire(SampleBlock(seq, 50 * seq, rows(50 * seq, 50 * seq + 50),
                                np.zeros(50, np.uint8)))
        for seq in range(10) if seq != 4
    )
    dec = StreamDecoder()
    path = tmp_path / "b.h5"
    rec = Recorder(writer(path)).start()
    for chunk in (wire[:777], wire[777:]):  # split anywhere
        for blocks in dec.feed(chunk).samples:
            rec.put_blocks(blocks)
    rec.close()
    s = read_session(path)
    assert len(s.continuous) == 500
    assert not s.continuous[200:250].any()
    keep = np.r_[0:200, 250:500]
    assert np.array_equal(s.continuous[keep], rows(0, 500)[keep])
    (gap,) = s.faults
    assert (decode_str(gap["kind"]), gap["sample_start"], gap["n_samples"]) == ("gap", 200, 50)


def test_producer_never_waits_for_a_stuck_disk():
    gate = threading.Event()
    sink = MemorySink(gate=gate)
    rec = Recorder(sink, flush_interval_s=0.01).start()
    rec.put_samples(0, rows(0, 5))
    time.sleep(0.05)  # the writer thread is now stuck in append_samples
    for k in range(1, 200):  # would deadlock here if a put waited for the disk
        rec.put_samples(5 * k, rows(5 * k, 5 * k + 5))
    assert rec.backlog > 0
    gate.set()
    stats = rec.close()
    assert np.array_equal(np.concatenate(sink.samples), rows(0, 1000)) and sink.closed
    assert stats.max_backlog > 0


def test_flushes_at_least_every_half_second_while_fed():
    sink = MemorySink()
    rec = Recorder(sink, flush_interval_s=0.25).start()
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < 1.2:
        rec.put_samples(10 * k, rows(10 * k, 10 * k + 10))
        k += 1
        time.sleep(0.002)
    stats = rec.close()
    assert stats.n_flushes >= 4 and stats.max_flush_gap_s <= 0.5
    assert stats.n_samples == 10 * k


def test_writer_failure_reaches_the_producer():
    rec = Recorder(MemorySink(fail=True), flush_interval_s=0.01).start()
    rec.put_samples(0, rows(0, 5))
    deadline = time.monotonic() + 5
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.005)
    with pytest.raises(FileFormatError,
                       match=r"recording stopped: disk full \(No space left on device\)"):
        rec.put_samples(5, rows(5, 10))
    with pytest.raises(FileFormatError, match="No space left"):
        rec.close()
    assert rec.sink.end_state == ("stopped: the file could not be written: disk full (No space "
                                  "left on device)")


def test_a_wild_jump_is_not_zero_filled():
    sink = MemorySink()
    rec = Recorder(sink, max_gap_samples=100).start()
    rec.put_samples(0, rows(0, 10))
    rec.put_samples(10**12, rows(0, 10))  # corrupt index: would be a terabyte of zeros
    rec.put_samples(60, rows(60, 70))  # a genuine short gap is still filled
    stats = rec.close()
    assert sink.n_samples == 70 and stats.gap_samples == 50 and stats.dropped_samples == 10
    kinds = [decode_str(f["kind"]) for f in np.concatenate(sink.faults)]
    assert kinds == ["clock_jump", "gap"]


@pytest.mark.parametrize("fault_was_flushed", [True, False])
def test_resume_writes_only_new_rows_and_rederives_faults(fault_was_flushed):
    """A killed file holds rows 0..19 (5..7 zero: a gap) and maybe the gap's fault row."""
    gap = fault_rows("gap", 5, 3, "samples 5-7 not received")
    sink = MemorySink()
    sink.samples.append(np.concatenate([rows(0, 5), np.zeros((3, 2), np.int16), rows(8, 20)]))
    present = gap if fault_was_flushed else None
    rec = Recorder(sink, resume_rows=20, present_faults=present)
    rec.put_samples(0, rows(0, 5))  # the replayed stream, from the start
    rec.put_samples(8, rows(8, 30))
    rec.put_faults(fault_rows("reconnect", -1, 0, "amplifier"))
    stats = rec.close()  # never started: runs in this thread
    assert np.array_equal(np.concatenate(sink.samples)[20:], rows(20, 30))
    assert sink.n_samples == 30 and stats.n_samples == 10
    written = np.concatenate(sink.faults)
    expected = [b"reconnect"] if fault_was_flushed else [b"gap", b"reconnect"]
    assert written["kind"].tolist() == expected
    assert stats.skipped["n_faults"] == int(fault_was_flushed)
    with pytest.raises(ValueError, match="sink holds 30 rows"):
        Recorder(sink, resume_rows=0)


def test_flush_interval_is_bounded():
    with pytest.raises(ValueError, match=r"\(0, 0.5\]"):
        Recorder(MemorySink(), flush_interval_s=0.6)
