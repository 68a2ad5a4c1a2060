"""A full disk stops the session safely: the stimulator is disarmed (nothing able to stimulate
after the final DISARM), every sample and pulse recorded until then stays in a valid file,
and the file's end state says the disk was full.

Two ways: a real small tmpfs (mounted in a private user + mount namespace with ``unshare``;
skipped where that is not allowed), where the free-space guard stops the session before
HDF5 ever meets a failing write, and a session file whose writes raise ENOSPC (a quota the
guard cannot see), where the recorder frees its ballast and still closes the file."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from hreflex.acquisition.config import load_config
from hreflex.acquisition.engine import Engine
from hreflex.io.session import read_session
from hreflex.io.validate import check_file
from hreflex.io.writer import SessionWriter
from hreflex.sim.emulators import EmulatedBench
from tests.engine.helpers import (
    assert_disarmed_last,
    config_dict,
    gap_mask,
    pattern,
    port_config,
    write_config,
)


def _can_mount_tmpfs(tmp_path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c",
                            f"mount -t tmpfs -o size=1m tmpfs {tmp_path}"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_a_full_tmpfs_stops_the_session_and_keeps_everything(tmp_path, bench):
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    if not _can_mount_tmpfs(mnt):
        pytest.skip("cannot mount a tmpfs in a user namespace here")
    cfg = port_config(tmp_path, bench, limits={
        "max_intensity_mA": 50, "max_pulse_width_us": 1000, "max_rate_Hz": 10,
        "max_stimuli": 200}, protocols=[
        {"kind": "fixed", "intensity_mA": 20, "n_stimuli": 200, "isi_s": 0.5}])
    text = cfg.read_text().replace(f'output_dir = "{tmp_path}"', f'output_dir = "{mnt}"')
    cfg.write_text(text)
    # 6 MB: the 2 MB reserve (2 s of data at 10 x) and the 1 MB ballast leave ~3 MB to fill
    script = ('mount -t tmpfs -o size=6m tmpfs "$1" || exit 99; cd "$2"; '
              '"$3" -m hreflex acquire "$4" > log.txt 2>&1; echo $? > rc; '
              '"$3" -m hreflex info "$1"/*.h5 > info.txt 2>&1; ls -a "$1" > listing.txt; '
              'cp "$1"/*.h5 "$1"/*.journal "$5"/')
    subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(mnt), str(tmp_path),
                    sys.executable, str(cfg), str(out)], check=True, timeout=120)
    log = (tmp_path / "log.txt").read_text()
    assert (tmp_path / "rc").read_text().strip() == "1", log
    assert "session stopped early: disk full:" in log and "Traceback" not in log
    assert_disarmed_last(bench)
    delivered = bench.delivered
    assert 10 < len(delivered) < 200
    assert ".reserve" not in (tmp_path / "listing.txt").read_text()  # ballast freed
    path = next(out.glob("*.h5"))
    assert check_file(path) == []
    with h5py.File(path, "r") as f:  # closed properly
        end_state = f.attrs["end_state"]
    assert end_state.startswith("stopped: disk full: ") and "MB free" in end_state
    assert "end state   stopped: disk full: " in (tmp_path / "info.txt").read_text()
    s = read_session(path)
    assert len(s.stimuli) == len(delivered)  # every delivered pulse is in the file
    rows = np.arange(len(s.continuous))
    ok = ~gap_mask(s)
    assert np.array_equal(s.continuous[ok], pattern(rows[ok], 2))  # every sample in place
    stop = s.faults[s.faults["kind"] == b"stop"]
    assert len(stop) == 1 and len(s.continuous) >= stop["sample_start"][0]
    assert delivered[-1].amplifier_sample_index < len(s.continuous)


def test_writes_that_fail_with_enospc_stop_safely_and_close_the_file(tmp_path, monkeypatch):
    """Every write of samples past row 100000 (20 s) fails as on a full disk the guard did not
    see coming (a quota). The writer thread of this process: the patched writer does not
    reach a recorder process."""
    real = SessionWriter.append_samples

    def append(self, samples, trigger=None):
        if self.n_samples + len(samples) > 100_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, samples, trigger)

    monkeypatch.setattr(SessionWriter, "append_samples", append)
    d = config_dict()
    d["protocols"] = [{"kind": "fixed", "intensity_mA": 20, "n_stimuli": 40, "isi_s": 0.5}]
    d["recording"]["recorder"] = "thread"
    cfg = load_config(write_config(tmp_path, d))
    with EmulatedBench(n_channels=2, sample_rate_Hz=5000, speed=20, signal="test") as b:
        result = Engine(cfg, bench=b, log=None).run()
        assert_disarmed_last(b)
        delivered = b.delivered
    assert result.stopped == "recording stopped: disk full (No space left on device)"
    assert not (tmp_path / "s.reserve").exists()
    path = tmp_path / "s.h5"
    assert check_file(path) == []
    with h5py.File(path, "r") as f:
        assert f.attrs["end_state"] == ("stopped: the file could not be written: disk full "
                                        "(No space left on device)")
    s = read_session(path)
    assert 0 < len(s.continuous) <= 100_000 and len(s.stimuli) >= 10
    rows = np.arange(len(s.continuous))
    ok = ~gap_mask(s)
    assert np.array_equal(s.continuous[ok], pattern(rows[ok], 2))
    # the pulses written before the failure are on their true samples
    truth = [p.amplifier_sample_index for p in delivered[:len(s.stimuli)]]
    assert np.abs(s.stimuli["sample_index"] - truth).max() <= 1
