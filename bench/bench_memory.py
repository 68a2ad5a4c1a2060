"""Peak memory of ``hreflex analyze`` against recording length (issue 12, item 2).

Simulates (hreflex.sim, soleus_healthy, 4 channels at 10 kHz, int16 counts) a session of
2,000 stimuli — 1,380 recruitment sweeps (23 intensities x 60), 12 x 5 RDD trains of 10
pulses, 20 fixed stimuli — about 1 h long, and makes a 4-h one with the same stimuli and
sweeps (background EMG added in the gaps between stimuli, :func:`make_longer`); both are
finished files (``write_session`` / ``SessionWriter(finished=True)``). Then it runs
``hreflex analyze FILE --json OUT --no-store`` on each as a child process, alternately,
``--rounds`` times, and prints each child's peak RSS (``os.wait4`` ru_maxrss, started from a
small launcher process) and its ratio
to the raw EMG (samples x channels x 2 bytes). For scale it also prints the peak RSS of
``hreflex --version`` (the interpreter and the CLI's imports).

Targets (issue 12): peak RSS <= 0.5 x raw on the 1-h file, and independent of duration (the
4-h file's peak within 10 % of the 1-h file's). Prints MET or MISSED; exit 0 only if met.

    .venv/bin/python bench/bench_memory.py [--cache DIR] [--rounds 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from hreflex.io.session import read_session
from hreflex.io.writer import FINISHED_CHUNK_ROWS, SessionWriter, write_session
from hreflex.schedule import concat, fixed, rdd, recruitment
from hreflex.sim import get_preset, simulate_session

HREFLEX = Path(sys.executable).with_name("hreflex")
RATIO_TARGET = 0.5
SAME_WITHIN = 0.10


def schedule():
    """2,000 stimuli in about an hour."""
    parts = [recruitment(start_mA=8, stop_mA=52, step_mA=2, sweeps=60, isi_s=1.62,
                         jitter_s=0.4, randomize=True, seed=0, pulse_width_us=1000)]
    parts += [rdd([0.5, 1, 2, 5, 10], intensity_mA=17.9, pulses_per_train=10, rest_s=10,
                  pulse_width_us=1000) for _ in range(12)]
    parts.append(fixed(intensity_mA=45, n_stimuli=20, isi_s=3, pulse_width_us=1000))
    return concat(*parts, gap_s=10)


def make_1h(path: Path) -> None:
    if path.exists():
        return
    t = time.perf_counter()
    session, _ = simulate_session(get_preset("soleus_healthy"), schedule(), seed=0,
                                  sample_rate_Hz=10000, n_channels=4,
                                  contraction_probability=0.05)
    write_session(path, session)
    print(f"  simulated and wrote {path.name} in {time.perf_counter() - t:.0f} s", flush=True)


def make_longer(path: Path, source: Path, hours: float) -> None:
    """``source`` stretched to ``hours``: the same stimuli and sweeps, background EMG (the
    source's lead-in before its first stimulus, repeated) added in every gap between stimuli
    longer than 1.5 s (recruitment ISIs, rests), so RDD trains keep their rates."""
    if path.exists():
        return
    t = time.perf_counter()
    s = read_session(source)
    fs, index = s.sample_rate_Hz, s.stimuli["sample_index"]
    quiet = s.continuous[: int(index.min() - 0.1 * fs)]  # background only
    cut = [0, *((index[:-1] + index[1:]) // 2), len(s.continuous)]  # mid-gap cut points
    long_gap = np.diff(index) > 1.5 * fs
    extra = int(hours * 3600 * fs) - len(s.continuous)
    fill = np.zeros(len(index) - 1, np.int64)
    fill[long_gap] = extra // long_gap.sum()
    stim = s.stimuli.copy()
    stim["sample_index"] = index + np.concatenate([[0], np.cumsum(fill)])
    stim["time_s"] = stim["sample_index"] / fs
    with SessionWriter(path, meta=s.meta, sample_rate_Hz=fs, channel_names=s.channel_names,
                       channel_muscles=s.channel_muscles, scale_V_per_count=s.scale_V_per_count,
                       sample_dtype=s.continuous.dtype, blocks=s.blocks, devices=s.devices,
                       swmr=False, chunk_samples=FINISHED_CHUNK_ROWS, finished=True) as w:
        for k in range(len(index)):
            w.append_samples(s.continuous[cut[k]:cut[k + 1]], s.trigger[cut[k]:cut[k + 1]])
            if k < len(fill) and fill[k]:
                reps = -(-fill[k] // len(quiet))
                w.append_samples(np.tile(quiet, (reps, 1))[: fill[k]])
        w.append_stimuli(stim)
        w.append_faults(s.faults)
    print(f"  wrote {path.name} ({hours:g} h) from {source.name} in "
          f"{time.perf_counter() - t:.0f} s", flush=True)


#: Runs argv[1:] and prints its peak RSS (KiB). A child's ru_maxrss starts from its parent's
#: RSS at fork (Linux keeps the larger), so the child is started from this small interpreter,
#: not from the bench process holding the sessions it simulated.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_MB(args: list) -> float:
    """Run ``args`` as a child process (of a small launcher); its peak resident set, MB."""
    run = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *map(str, args)],
                         capture_output=True, text=True, check=True)
    code, kib = run.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(map(str, args))} failed: {run.stderr}")
    return int(kib) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "hreflex_mem")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    files = {"1 h": args.cache / "mem_1h.h5", "4 h": args.cache / "mem_4h.h5"}
    make_1h(files["1 h"])
    make_longer(files["4 h"], files["1 h"], 4.0)
    raw_MB, duration = {}, {}
    for name, path in files.items():
        with h5py.File(path, "r") as f:
            ds = f["emg/continuous"]
            raw_MB[name] = ds.shape[0] * ds.shape[1] * ds.dtype.itemsize / 1e6
            duration[name] = ds.shape[0] / f["emg"].attrs["sample_rate_Hz"]
            n_stim = len(f["stimuli/events"])
        print(f"{name}: {duration[name] / 3600:.2f} h, {n_stim} stimuli, raw EMG "
              f"{raw_MB[name]:.0f} MB, file {path.stat().st_size / 1e6:.0f} MB")
    floor = peak_rss_MB([HREFLEX, "--version"])
    peaks: dict[str, list[float]] = {name: [] for name in files}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # alternated
            for name, path in files.items():
                out = Path(tmp) / f"{path.stem}.json"
                peaks[name].append(peak_rss_MB([HREFLEX, "analyze", path, "--json", out,
                                                "--no-store", "--overwrite"]))
    print(f"\n`hreflex --version` peak RSS: {floor:.0f} MB")
    print(f"{'file':>5} {'raw MB':>7} {'peak RSS MB (each run)':>24} {'max/raw':>8}")
    worst = {name: max(v) for name, v in peaks.items()}
    for name in files:
        runs = ", ".join(f"{v:.0f}" for v in peaks[name])
        print(f"{name:>5} {raw_MB[name]:7.0f} {runs:>24} {worst[name] / raw_MB[name]:8.2f}")
    ratio = worst["1 h"] / raw_MB["1 h"]
    growth = worst["4 h"] / worst["1 h"] - 1.0
    ok_ratio, ok_growth = ratio <= RATIO_TARGET, growth <= SAME_WITHIN
    print(f"\n1-h file: peak {ratio:.2f} x raw (target <= {RATIO_TARGET}): "
          f"{'MET' if ok_ratio else 'MISSED'}")
    print(f"4-h vs 1-h peak: {growth * 100:+.1f} % (target <= +{SAME_WITHIN * 100:.0f} %): "
          f"{'MET' if ok_growth else 'MISSED'}")
    print("MET" if ok_ratio and ok_growth else "MISSED")
    return 0 if ok_ratio and ok_growth else 1


if __name__ == "__main__":
    sys.exit(main())
