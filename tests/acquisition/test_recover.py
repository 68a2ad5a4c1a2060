"""Crash recovery: kill -9 at random moments, write-flag clearing, finishing and rebuilding
from the journal."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from hreflex.acquisition.journal import Journal
from hreflex.acquisition.recover import clear_write_flag, lookup3, recover
from hreflex.errors import FileFormatError
from hreflex.io.format import decode_str
from hreflex.io.session import read_session

from . import recording_child as child

CHILD = Path(child.__file__)
N_KILLS = 10
MAX_LOSS_S = 0.5


def start_children(paths, seconds=None):
    extra = [] if seconds is None else ["--seconds", str(seconds)]
    procs = [subprocess.Popen([sys.executable, str(CHILD), str(p), *extra],
                              stdout=subprocess.PIPE, text=True) for p in paths]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs


def produced(proc) -> int:
    """Samples the child had put into its recorder when it died (its last printed count)."""
    out = proc.stdout.read().split()
    return max([int(x) for x in out if x.isdigit()], default=0)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """N_KILLS recordings, each killed with SIGKILL at a random moment after it started:
    ``([(path, samples produced)], kill delays, directory of untouched copies)``."""
    d = tmp_path_factory.mktemp("killed")
    paths = [d / f"k{i}.h5" for i in range(N_KILLS)]
    rng = np.random.default_rng()
    delays = rng.uniform(0.1, 1.5, N_KILLS)
    procs = start_children(paths)
    t0 = time.monotonic()
    for i in np.argsort(delays):
        time.sleep(max(0.0, t0 + delays[i] - time.monotonic()))
        procs[i].send_signal(signal.SIGKILL)
    counts = []
    for p in procs:
        p.wait(10)
        assert p.returncode == -signal.SIGKILL
        counts.append(produced(p))
    pristine = d / "pristine"
    pristine.mkdir()
    for path in paths:
        for f in (path, path.with_suffix(".journal")):
            shutil.copy(f, pristine / f.name)
    return list(zip(paths, counts, strict=True)), delays, pristine


def check_content(path: Path, n_produced: int, *, finished: bool, context: str = "") -> int:
    """Every row is the test signal, or zero inside a ``gap`` fault for a lost block; the
    stimuli are the ones produced; at most MAX_LOSS_S lost at the end. A killed file read
    directly (``finished=False``) may hold a gap's rows without its fault or the reverse in
    its last flush. Returns the number of rows."""
    s = read_session(path)
    n = len(s.continuous)
    assert n_produced - n <= MAX_LOSS_S * child.RATE_HZ, f"{path.name}: lost {n_produced - n} " \
        f"samples {context}"
    idx = np.arange(n)
    lost = child.lost(idx // child.BLOCK)
    assert np.array_equal(s.continuous[~lost], child.signal(idx[~lost]))
    assert not s.continuous[lost].any()
    assert np.array_equal(s.trigger[~lost], child.trigger(idx[~lost]))
    assert {decode_str(k) for k in s.faults["kind"]} <= {"gap"}  # nothing else went wrong
    in_gap = np.zeros(n + child.BLOCK, bool)
    for g in s.faults:
        assert g["n_samples"] == child.BLOCK and child.lost(g["sample_start"] // child.BLOCK)
        in_gap[g["sample_start"] : g["sample_start"] + g["n_samples"]] = True
    edge = n if finished else n - MAX_LOSS_S * child.RATE_HZ
    assert np.array_equal(in_gap[:n][idx < edge], lost[idx < edge])
    seqs = s.stimuli["sample_index"] // child.BLOCK
    expect = np.arange(0, n_produced // child.BLOCK, child.STIM_EVERY)
    assert np.array_equal(seqs, expect[: len(seqs)]) and len(expect) - len(seqs) <= 2
    assert np.allclose(s.stimuli["intensity_mA"], seqs / 100)
    return n


def test_killed_recordings_are_readable_directly_and_complete_after_recover(killed):
    files, delays, _ = killed
    losses = []
    for (path, n_produced), delay in zip(files, delays, strict=True):
        context = f"(killed {delay:.3f} s after start)"
        assert n_produced > 0
        with pytest.raises(OSError, match="already open for write"):
            h5py.File(path, "r")  # a killed SWMR writer leaves the flag set...
        n_direct = check_content(path, n_produced, finished=False, context=context)  # reads
        with h5py.File(path, "r", swmr=True) as f:  # the dead writer never closed it
            assert f.attrs["end_state"] == "recording"
        report = recover(path)
        assert report.cleared_flag and report.action == "finished" and not report.problems
        assert "end state   recovered after crash" in report.text()
        with h5py.File(path, "r") as f:  # now a plain open works
            assert f["emg/continuous"].shape[0] >= n_direct
            assert f.attrs["end_state"] == "recovered after crash"
        n_after = check_content(path, n_produced, finished=True, context=context)
        losses.append((n_produced - n_direct, n_produced - n_after))
    direct, after = np.array(losses).T / child.RATE_HZ
    print(f"\nkill at {np.round(np.sort(delays), 2)} s; loss direct max {direct.max():.3f} s, "
          f"after recover max {after.max():.3f} s")
    # the journal reaches the OS every 50 ms, the file every 250 ms: recovery adds the rest
    assert (after <= direct).all() and after.sum() <= 0.5 * direct.sum()


def test_rebuild_from_the_journal_equals_the_live_file(tmp_path):
    path = tmp_path / "r.h5"
    (proc,) = start_children([path], seconds=0.6)
    assert proc.wait(20) == 0
    original = read_session(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["end_state"] == "completed"
    path.write_bytes(path.read_bytes()[:1500])  # e.g. the disk lost the file's tail
    report = recover(path)
    assert report.action == "rebuilt" and not report.problems
    assert report.damaged_copy == tmp_path / "r.h5.damaged" and report.damaged_copy.exists()
    assert "damaged     unreadable file kept as" in report.text()
    rebuilt = read_session(path)
    assert np.array_equal(rebuilt.continuous, original.continuous)
    assert np.array_equal(rebuilt.trigger, original.trigger)
    for table in ("stimuli", "faults"):  # bytewise: NaN cells compare equal
        assert getattr(rebuilt, table).tobytes() == getattr(original, table).tobytes()
    assert rebuilt.channel_names == original.channel_names
    assert rebuilt.meta.subject_id == "crash" and rebuilt.sample_rate_Hz == child.RATE_HZ
    with h5py.File(path, "r") as f:
        assert f.attrs["end_state"] == "recovered after crash"
    again = recover(path)  # a finished file: nothing to add, its end state stays
    assert again.action == "finished" and again.after == again.before
    assert again.end_state == "recovered after crash"


def test_clear_write_flag_only_touches_flagged_hdf5(killed, tmp_path):
    copy = tmp_path / "c.h5"
    shutil.copy(killed[2] / "k0.h5", copy)
    size = copy.stat().st_size
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(copy, "r")
    assert clear_write_flag(copy)
    with h5py.File(copy, "r") as f:  # HDF5 verifies the superblock checksum we wrote
        assert f.attrs["format"] == "hreflex-session"
    assert not clear_write_flag(copy) and copy.stat().st_size == size  # nothing left to do
    other = tmp_path / "x.bin"
    other.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # superblock v0: not ours to edit
    assert not clear_write_flag(other) and other.read_bytes()[8:] == bytes(100)


def test_lookup3_published_vectors():
    # from Bob Jenkins' lookup3.c driver: hashlittle("", 0, 0) and the "Four score" string
    assert lookup3(b"") == 0xDEADBEEF
    assert lookup3(b"Four score and seven years ago") == 0x17770551
    assert lookup3(b"Four score and seven years ago", 1) == 0xCD628161


def test_recover_refuses_a_live_recording_and_a_foreign_journal(tmp_path, killed):
    path = tmp_path / "live.h5"
    j = Journal(path.with_suffix(".journal"), {"samples_source": 0, "layout": {}})
    with pytest.raises(FileFormatError, match="still being recorded"):
        recover(path)
    j.close()
    other = tmp_path / "other.h5"
    shutil.copy(killed[2] / "k1.h5", other)
    shutil.copy(killed[2] / "k1.journal", other.with_suffix(".journal"))
    clear_write_flag(other)
    with h5py.File(other, "r+") as f:  # the journal says 5 kHz
        f["emg"].attrs["sample_rate_Hz"] = 1000.0
    with pytest.raises(FileFormatError, match="does not belong to"):
        recover(other)


def test_recover_without_journal_clears_the_flag_only(tmp_path):
    path = tmp_path / "n.h5"
    (proc,) = start_children([path])
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    os.remove(path.with_suffix(".journal"))
    report = recover(path)
    assert report.cleared_flag and report.journal is None and report.action == "none"
    assert "journal     none found" in report.text() and not report.problems
    assert report.end_state == "recovered after crash"
    check_content(path, produced(proc), finished=False)
