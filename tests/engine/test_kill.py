"""kill -9 of the acquiring process at random moments: the file is readable (SWMR, and after
``recover`` as a plain file), at most 0.5 s of samples are lost, none is misplaced (the
amplifier's test pattern), and the stimuli it holds sit on their true samples. The devices
live on in this process (real time), so what they had sent when the host died is known.
More kills: ``bench/bench_acquire.py --kills N``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hreflex.acquisition.recover import recover
from hreflex.io.session import read_session
from hreflex.sim.emulators import EmulatedBench
from tests.engine.helpers import gap_mask, pattern, port_config, wait_for

RATE = 5000


@pytest.fixture
def realtime_bench():
    b = EmulatedBench(preset="soleus_healthy", n_channels=2, sample_rate_Hz=RATE, speed=1.0,
                      drift_ppm=(100.0, -100.0), jitter_ms=20.0, seed=11, signal="test")
    yield b
    b.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_a_random_moment(tmp_path, realtime_bench, spawn, seed):
    bench = realtime_bench
    cfg = port_config(tmp_path, bench, protocols=[
        {"kind": "fixed", "intensity_mA": 20, "n_stimuli": 20, "isi_s": 0.25}])
    child = spawn("acquire", str(cfg))
    wait_for(lambda: len(bench.delivered) >= 1, 30, "the first pulse")
    time.sleep(np.random.default_rng(seed).uniform(0.0, 1.5))
    with bench.lock:  # what the amplifier had sent (also what was still in transit)
        sent = bench.amplifier.status(bench.true_time_s()).blocks_sent * (RATE // 1000)
        delivered = bench.delivered
    child.kill()
    child.wait(timeout=10)
    path = next(tmp_path.glob("*.h5"))
    live = read_session(path)  # readable as it was left (SWMR)
    report = recover(path)
    assert report.problems == [] and report.cleared_flag
    s = read_session(path)
    n = len(s.continuous)
    assert len(live.continuous) <= n
    assert sent - n <= 0.5 * RATE, (sent, n)  # at most 0.5 s lost
    rows = np.arange(n)
    ok = ~gap_mask(s)
    assert np.array_equal(s.continuous[ok], pattern(rows[ok], 2))
    # stimuli written before the kill, each on its true sample (the last may be missing:
    # it is written once its sweep is in)
    got = s.stimuli["sample_index"]
    truth = [p.amplifier_sample_index for p in delivered]
    assert len(delivered) - 2 <= len(got) <= len(bench.delivered)
    assert (np.abs(got - truth[:len(got)]) <= 1).all()  # also when none was written yet
