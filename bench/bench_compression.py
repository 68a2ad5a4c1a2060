"""How finished files store EMG, by measurement (issue 12, item 5).

Realistic EMG: ``hreflex.sim`` (soleus_healthy, a recruitment of 12 intensities x 10 sweeps,
~5.5 min at 10 kHz, int16 counts with background noise, M and H waves) with 4 and 16
channels. For every filter (none; gzip level 1 and 4 with shuffle; lzf with shuffle) and
chunk shape (1024, 4096, 16384 rows x all channels) it writes ``/emg/continuous`` the way
``write_session`` does (one resizable dataset, one append), then times reading it all and
reading the sweep windows the analysis reads (:meth:`hreflex.io.lazy.LazySamples.read_windows`,
-50 .. +60 ms around each of the 120 stimuli), and measures the file size. Times are medians
of ``--repeat`` runs, the options alternated within each run; "cold" reads start with the
file dropped from the page cache (``posix_fadvise`` DONTNEED on that file only), "warm" reads
follow a read of the same windows.

The rule (finished files are written once, read by every analysis, report and export):
among the filters every HDF5 tool reads without a plugin (none, gzip; lzf is h5py's own), the
smallest file of the options whose reads (sweep windows cold and warm, everything cold) take
at most 1.5x the fastest option's, for both channel counts (if none does: the one slowed
least). The same rule, on size and a cold full read, decides ``/emg/trigger`` (uint8).

    .venv/bin/python bench/bench_compression.py [--repeat 3] [--dir DIR] [--channels 4,16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from hreflex.io.lazy import LazySamples, ReadHash
from hreflex.schedule import recruitment
from hreflex.sim import get_preset, simulate_session

FILTERS = {
    "none": {},
    "gzip-1+shuffle": {"compression": "gzip", "compression_opts": 1, "shuffle": True},
    "gzip-4+shuffle": {"compression": "gzip", "compression_opts": 4, "shuffle": True},
    "lzf+shuffle": {"compression": "lzf", "shuffle": True},
}
PORTABLE = ("none", "gzip-1+shuffle", "gzip-4+shuffle")
SLOWER = 1.5  #: the rule's limit on reads slower than the fastest option's
CHUNK_ROWS = (1024, 4096, 16384)
WINDOW_MS = (-50.0, 60.0)


def emg(n_channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Simulated counts (n, n_channels) int16, trigger (n,) uint8, stimulus sample indices,
    rate Hz."""
    sched = recruitment(start_mA=8, stop_mA=52, step_mA=4, sweeps=10, isi_s=2.5, jitter_s=0.4,
                        seed=0, pulse_width_us=1000)
    session, _ = simulate_session(get_preset("soleus_healthy"), sched, seed=0,
                                  sample_rate_Hz=10000, n_channels=n_channels)
    return (session.continuous, session.trigger, session.stimuli["sample_index"],
            session.sample_rate_Hz)


def write(path: Path, data: np.ndarray, rows: int, packing: dict,
          name: str = "emg/continuous") -> float:
    """Write ``data`` as ``write_session`` does (resizable, chunks of ``rows`` x the other
    axes, one append); seconds."""
    t = time.perf_counter()
    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset(name, shape=(0, *data.shape[1:]), maxshape=(None, *data.shape[1:]),
                              chunks=(rows, *data.shape[1:]), dtype=data.dtype, **packing)
        ds.resize(len(data), axis=0)
        ds[:] = data
    return time.perf_counter() - t


def evict(path: Path) -> None:
    """Drop ``path`` from the page cache (only this file), so the next read is cold."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_all(path: Path, name: str = "emg/continuous") -> float:
    evict(path)
    t = time.perf_counter()
    with h5py.File(path, "r") as f:
        f[name][()]
    return time.perf_counter() - t


def read_sweeps(path: Path, index: np.ndarray, fs: float, rows: int, data: np.ndarray) -> float:
    start = int(np.floor(WINDOW_MS[0] * fs / 1000))
    n = int(np.ceil(WINDOW_MS[1] * fs / 1000)) - start + 1
    t = time.perf_counter()
    samples = LazySamples(path, data.shape, data.dtype, rows, ReadHash())
    out = samples.read_windows(index, start, n)
    elapsed = time.perf_counter() - t
    assert np.array_equal(out[-1], data[index[-1] + start:index[-1] + start + n].T)
    return elapsed


def measure(data, index, fs, folder: Path, repeat: int) -> dict:
    options = [(name, rows) for name in FILTERS for rows in CHUNK_ROWS]
    times: dict = {o: {"write": [], "read all": [], "sweeps cold": [], "read sweeps": []}
                   for o in options}
    size = {}
    for _ in range(repeat):
        for name, rows in options:  # alternated
            path = folder / f"{name}-{rows}.h5"
            times[(name, rows)]["write"].append(write(path, data, rows, FILTERS[name]))
            size[(name, rows)] = path.stat().st_size
            times[(name, rows)]["read all"].append(read_all(path))
            evict(path)
            times[(name, rows)]["sweeps cold"].append(read_sweeps(path, index, fs, rows, data))
            times[(name, rows)]["read sweeps"].append(read_sweeps(path, index, fs, rows, data))
            path.unlink()
    return {o: {"size": size[o], **{k: statistics.median(v) for k, v in times[o].items()}}
            for o in options}


def choose(results: list[dict], keys: tuple[str, ...]) -> tuple[str, int]:
    """The rule: an option's slowdown is its worst time ``keys`` over ``results`` relative to
    the fastest option's; of the portable filters with slowdown <= :data:`SLOWER` the
    smallest (total size; within 1 %: the least slowdown); if none qualifies, the portable
    option with the least slowdown."""
    def slowdown(o):
        return max(r[o][k] / min(x[k] for x in r.values()) for r in results for k in keys)

    def size(o):
        return sum(r[o]["size"] for r in results)

    portable = [o for o in results[0] if o[0] in PORTABLE]
    good = [o for o in portable if slowdown(o) <= SLOWER]
    if not good:
        return min(portable, key=slowdown)
    smallest = min(size(o) for o in good)
    return min((o for o in good if size(o) <= 1.01 * smallest), key=slowdown)


def trigger_table(trigger: np.ndarray, rows: int, folder: Path, repeat: int) -> dict:
    """Size and cold full read of ``/emg/trigger`` (uint8) per filter, chunks of ``rows``."""
    out = {}
    times: dict = {name: [] for name in FILTERS}
    for _ in range(repeat):
        for name, packing in FILTERS.items():
            path = folder / f"trigger-{name}.h5"
            write(path, trigger, rows, packing, "emg/trigger")
            out[(name, rows)] = {"size": path.stat().st_size}
            times[name].append(read_all(path, "emg/trigger"))
            path.unlink()
    for name in FILTERS:
        out[(name, rows)]["read all"] = statistics.median(times[name])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--channels", default="4,16", help="channel counts, comma-separated")
    args = ap.parse_args()
    per_size, triggers = [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n_ch in map(int, args.channels.split(",")):
            data, trigger, index, fs = emg(n_ch)
            raw_MB = data.nbytes / 1e6
            print(f"\n{n_ch} channels: {len(data) / fs:.0f} s at {fs:.0f} Hz, {len(index)} "
                  f"stimuli, raw {raw_MB:.0f} MB (int16); medians of {args.repeat}")
            results = measure(data, index, fs, Path(tmp), args.repeat)
            print(f"{'filter':>15} {'chunk':>6} {'size MB':>8} {'ratio':>6} {'write s':>8} "
                  f"{'MB/s':>6} {'all cold s':>10} {'sweeps cold ms':>14} {'warm ms':>8}")
            for (name, rows), r in results.items():
                print(f"{name:>15} {rows:6d} {r['size'] / 1e6:8.1f} {data.nbytes / r['size']:6.2f}"
                      f" {r['write']:8.3f} {raw_MB / r['write']:6.0f} {r['read all']:10.3f} "
                      f"{r['sweeps cold'] * 1000:14.1f} {r['read sweeps'] * 1000:8.1f}")
            per_size.append(results)
            if not triggers:  # the trigger does not depend on the channel count
                triggers.append(trigger_table(trigger, 4096, Path(tmp), args.repeat))
    emg_choice = choose(per_size, ("sweeps cold", "read sweeps", "read all"))
    print(f"\nEMG choice (the rule; limit {SLOWER}x the fastest): {emg_choice[0]}, "
          f"chunks of {emg_choice[1]} rows x all channels")
    print(f"\n/emg/trigger (uint8, {len(trigger)} samples, chunks of 4096; medians of "
          f"{args.repeat}):")
    for (name, _), r in triggers[0].items():
        print(f"{name:>15} {r['size'] / 1e6:8.2f} MB  cold read {r['read all'] * 1000:7.1f} ms")
    trig_choice = choose(triggers, ("read all",))
    print(f"trigger choice (same rule): {trig_choice[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
