"""RecorderProcess: the same rows as the writer thread, across the process boundary; the death
of either process loses nothing after ``recover``."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from hreflex.acquisition.batch import pack, unpack
from hreflex.acquisition.diskspace import DiskGuard
from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recorder_process import RecorderProcess
from hreflex.acquisition.recover import recover
from hreflex.errors import FileFormatError
from hreflex.io.format import FAULT_DTYPE, STIMULUS_DTYPE, empty_table
from hreflex.io.session import SessionMeta, read_session
from hreflex.protocol.decoder import StreamDecoder
from hreflex.protocol.frames import SampleBlock, encode_wire

from . import recording_child as child
from .test_recover import check_content

LAYOUT = SessionLayout(SessionMeta(), 1000.0, ("c0", "c1"), (1.0, 1.0))


def rows(a: int, b: int, n_ch: int = 2) -> np.ndarray:
    """Test signal for samples a..b-1: value 10 * index + channel + 1 (never 0)."""
    return (10 * np.arange(a, b)[:, None] + np.arange(n_ch) + 1).astype(np.int16)


def stim(sample: int) -> np.ndarray:
    r = empty_table(STIMULUS_DTYPE, 1)
    r["sample_index"], r["intensity_mA"] = sample, sample / 10
    return r


def gap_overlap(rec) -> np.ndarray:
    trig = np.zeros(10, np.uint8)
    trig[3] = 1
    rec.put_samples(0, rows(0, 10), trig)
    rec.put_stimuli(stim(3))
    rec.put_samples(15, rows(15, 20))  # 10..14 never arrive
    rec.put_faults(fault_rows("frame_error", -1, 0, "1 frame"))
    rec.put_samples(12, rows(12, 22))  # 12..19 already written: only 20, 21 are new
    rec.put_samples(22, rows(22, 25))
    return np.concatenate([rows(0, 10), np.zeros((5, 2), np.int16), rows(15, 25)])


def clock_jump(rec) -> np.ndarray:
    rec.put_samples(0, rows(0, 10))
    rec.put_samples(10**12, rows(0, 10))  # corrupt index: dropped, not zero-filled
    rec.put_samples(60, rows(60, 70))
    return np.concatenate([rows(0, 10), np.zeros((50, 2), np.int16), rows(60, 70)])


def many_batches(rec) -> np.ndarray:
    """400 blocks of 5 over several batches: block 50 lost, block 120 sent twice."""
    for k in range(400):
        if k != 50:
            rec.put_samples(5 * k, rows(5 * k, 5 * k + 5))
        if k == 120:
            rec.put_samples(5 * k, rows(5 * k, 5 * k + 5))
        if k % 40 == 0:
            rec.put_stimuli(stim(5 * k))
            time.sleep(0.03)  # let the shipper send a batch now and then
    expected = rows(0, 2000)
    expected[250:255] = 0
    return expected


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype, shape and bytes (NaN fields compare equal)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def datasets(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in ("emg/continuous", "emg/trigger", "stimuli/events",
                                      "faults")}


@pytest.mark.parametrize("feed", [gap_overlap, clock_jump, many_batches])
def test_rows_and_faults_are_the_writer_threads(tmp_path, feed):
    thread = Recorder(LAYOUT.create_writer(tmp_path / "t.h5"), max_gap_samples=100).start()
    process = RecorderProcess(LAYOUT, tmp_path / "p.h5", max_gap_samples=100).start()
    expected = feed(thread)
    feed(process)
    st, sp = thread.close(), process.close()
    dt, dp = datasets(tmp_path / "t.h5"), datasets(tmp_path / "p.h5")
    assert np.array_equal(dp["emg/continuous"], expected)
    for key in dt:
        assert same(dt[key], dp[key]), key
    fields = ("n_samples", "gap_samples", "dropped_samples", "n_stimuli", "n_faults")
    assert [getattr(sp, f) for f in fields] == [getattr(st, f) for f in fields]
    kinds = []
    while not process.derived.empty():
        kinds.append(process.derived.get())
    assert [k for k, _ in kinds] == [f["kind"].decode() for f in dp["faults"]
                                     if f["kind"] in (b"gap", b"overlap", b"clock_jump")]


def test_a_batch_gives_back_its_items_in_order():
    items = [("s", 7, rows(7, 9), np.array([1, 0], np.uint8)), ("t", stim(7)),
             ("f", fault_rows("reconnect", -1, 0, "x")), ("s", 9, rows(9, 10), np.zeros(1, np.uint8))]
    back = unpack(pack(items, 2, np.dtype(np.int16)))
    assert [b[0] for b in back] == ["s", "t", "f", "s"] and back[3][1] == 9
    for a, b in zip(items, back, strict=True):
        for x, y in zip(a[2:] if a[0] == "s" else a[1:], b[2:] if b[0] == "s" else b[1:],
                        strict=True):
            assert same(np.ascontiguousarray(x), np.ascontiguousarray(y))
    assert unpack(pack([], 2, np.dtype(np.int16))) == []
    assert pack([], 2, np.dtype(np.int16))[6].dtype == FAULT_DTYPE


def test_the_file_is_made_in_the_child_and_its_errors_come_back(tmp_path):
    path = tmp_path / "missing" / "x.h5"  # no such directory
    with pytest.raises(Exception) as here:  # what creating it here raises...
        LAYOUT.create_writer(path)
    with pytest.raises(type(here.value)) as there:  # ...the child raises in start()
        RecorderProcess(LAYOUT, path).start()
    assert str(there.value) == str(here.value) and "No such file" in str(here.value)


def test_low_space_in_the_child_reaches_the_parent(tmp_path):
    disk = DiskGuard(tmp_path / "x.h5", reserve=1 << 62)  # no disk has that much free
    rec = RecorderProcess(LAYOUT, tmp_path / "x.h5", flush_interval_s=0.05, disk=disk).start()
    rec.put_samples(0, rows(0, 5))
    deadline = time.monotonic() + 30
    while rec.low_space is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rec.low_space.startswith("disk full: ") and "below the" in rec.low_space
    assert rec.close().n_samples == 5


def test_falling_behind_asks_to_stop_and_then_refuses(tmp_path):
    """The shipper sleeps (10 s interval) while 3 × 4000 bytes are queued: over the 5000 byte
    limit low_space asks to stop; over twice the limit put_* refuse; close writes all."""
    rec = RecorderProcess(LAYOUT, tmp_path / "x.h5", ship_interval_s=10,
                          max_backlog_bytes=5000).start()
    rec.put_samples(0, rows(0, 800))  # 3200 + 800 bytes
    assert rec.low_space is None
    rec.put_samples(800, rows(800, 1600))
    assert rec.low_space == ("the recorder process is 0 MB behind the stream (a stalled disk?); "
                             "stopped while the file can still be closed")
    with pytest.raises(FileFormatError, match="recording stopped: the recorder process is"):
        rec.put_samples(1600, rows(1600, 2400))
    rec.close()
    assert np.array_equal(datasets(tmp_path / "x.h5")["emg/continuous"], rows(0, 2400))


def wire(seq: int) -> bytes:
    idx = np.arange(seq * child.BLOCK, (seq + 1) * child.BLOCK)
    return encode_wire(SampleBlock(seq, seq * child.BLOCK, child.signal(idx), child.trigger(idx)))


def test_child_killed_mid_session_is_told_in_one_line_and_recover_gives_back_all(tmp_path):
    path = tmp_path / "k.h5"
    lay = child.layout()
    journal = Journal(journal_path(path), {"sources": {"0": "amplifier"}, "samples_source": 0,
                                           "layout": lay.to_dict()})
    rec = RecorderProcess(lay, path, flush_interval_s=0.05, journal=journal).start()
    decoder = StreamDecoder()
    seq, killed_at = 0, None
    deadline = time.monotonic() + 30
    while (rec.low_space is None or seq < 300) and time.monotonic() < deadline:
        chunk = b"".join(wire(s) for s in range(seq, seq + 5) if not child.lost(s))
        journal.write(0, chunk)  # the reader thread journals; the recorder may be gone
        for blocks in decoder.feed(chunk).samples:
            rec.put_blocks(blocks)  # dropped once the death is known
        if seq % child.STIM_EVERY == 0:
            rec.put_stimuli(child.stimulus_row(seq))  # journaled all the same
        seq += 5
        if seq == 200:
            killed_at = seq
            os.kill(rec.pid, signal.SIGKILL)
        time.sleep(0.005)
    assert killed_at == 200 and seq >= 300  # blocks went on after the kill
    msg = ("the recorder process died (killed by SIGKILL); 'hreflex recover' adds the rest "
           "from the journal")
    assert rec.low_space == msg and "\n" not in msg
    before = rec.backlog
    rec.put_samples(seq * child.BLOCK, np.ones((1, child.N_CHANNELS), np.int16))
    assert rec.backlog == before  # dropped, not queued for a dead child
    with pytest.raises(FileFormatError, match=r"died \(killed by SIGKILL\)"):
        rec.close()  # the journal is closed all the same
    report = recover(path)
    assert report.cleared_flag and report.action == "finished" and not report.problems
    assert check_content(path, seq * child.BLOCK, finished=True) == seq * child.BLOCK


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_parent_killed_the_child_dies_with_it_and_recover_finishes_the_file(tmp_path):
    path = tmp_path / "p.h5"
    proc = subprocess.Popen([sys.executable, child.__file__, str(path), "--process"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    pid = int(proc.stdout.readline().strip().removeprefix("pid="))
    time.sleep(0.8)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    n_produced = max(int(x) for x in proc.stdout.read().split() if x.isdigit())
    deadline = time.monotonic() + 10
    while not _ended(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _ended(pid), "the recorder process outlived the acquiring process"
    with h5py.File(path, "r", swmr=True) as f:  # left as a killed writer leaves it
        assert f.attrs["end_state"] == "recording"
    check_content(path, n_produced, finished=False)  # readable as it was left
    report = recover(path)
    assert report.cleared_flag and report.action == "finished" and not report.problems
    assert report.end_state == "recovered after crash"
    check_content(path, n_produced, finished=True)


def test_the_engine_stops_when_its_recorder_dies_and_recover_gives_back_all(tmp_path):
    from tests.engine.helpers import (
        assert_disarmed_last,
        config_dict,
        gap_mask,
        pattern,
        run_engine,
    )

    d = config_dict()
    d["protocols"] = [{"kind": "fixed", "intensity_mA": 20, "n_stimuli": 30, "isi_s": 0.5}]
    d["emulator"]["speed_factor"] = 5

    def kill_recorder(engine, k):
        if k == 4:
            os.kill(engine.recorder.pid, signal.SIGKILL)

    log = io.StringIO()
    run = run_engine(tmp_path, d, bench_options={"signal": "test"}, on_fire=kill_recorder,
                     log=log)
    why = ("the recorder process died (killed by SIGKILL); 'hreflex recover' adds the rest "
           "from the journal")
    assert run.result.stopped == why
    assert [ln for ln in log.getvalue().splitlines() if "died" in ln] == [
        f"fault: stop: session stopped: {why}"]
    assert_disarmed_last(run.bench)
    assert 5 <= len(run.truth) < 30
    report = recover(run.result.path)
    assert report.cleared_flag and report.action == "finished" and not report.problems
    s = read_session(run.result.path)
    rows = np.arange(len(s.continuous))
    ok = ~gap_mask(s)  # (a loaded machine may lose blocks at 5 x real time: zero-filled gaps)
    assert ok.mean() > 0.9 and np.array_equal(s.continuous[ok], pattern(rows[ok], 2))
    # every stimulus the engine recorded is in the file, after the kill too
    assert s.stimuli["sample_index"].tolist() == [st.row for st in run.result.stimuli]
    stop = [f["detail"].decode() for f in s.faults if f["kind"] == b"stop"]
    assert stop == [f"session stopped: {why}"[:128]]  # journaled by the engine, added back
