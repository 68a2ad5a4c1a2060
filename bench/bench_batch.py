"""Speed-up of ``hreflex batch`` with worker processes: analyses the same session files with
jobs=1 (in this process) and jobs=2 (process pool), each time with an empty cache, and prints
the wall times (best of ``REPEATS``: other processes share the machine) and their ratio
(ideal on this 2-core machine: 2.0). For scale it also times a pure-Python CPU task the same
way: its ratio is what the machine offers at that moment.

The files are the default protocols (recruitment + RDD) of the four presets, each copied
``N_FILES / 4`` times (the cache is per path, so every copy is analysed). One BLAS thread
per process, as ``hreflex batch`` sets it.

    .venv/bin/python bench/bench_batch.py [N_FILES]    # default 32
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy is imported, as the CLI does

import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from hreflex.batch import run_batch  # noqa: E402
from hreflex.io.writer import write_session  # noqa: E402
from hreflex.sim import default_schedule, get_preset, simulate_session  # noqa: E402

N_FILES = int(sys.argv[1]) if len(sys.argv) > 1 else 32
PRESETS = ("soleus_healthy", "soleus_spastic", "fcr_healthy", "rat_sci")
REPEATS = 3


def busy(n: int = 2_000_000) -> int:
    """Reference CPU work (pure Python, no I/O)."""
    return sum(i * i for i in range(n))


def reference(jobs: int) -> None:
    if jobs == 1:
        [busy() for _ in range(8)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(busy, [2_000_000] * 8))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "data")
        data.mkdir()
        for k, name in enumerate(PRESETS):
            preset = get_preset(name)
            session, _ = simulate_session(preset, default_schedule(preset, "both", seed=k),
                                          seed=k)
            write_session(data / f"{name}.h5", session)
        originals = sorted(data.glob("*.h5"))
        for i in range(len(originals), N_FILES):
            shutil.copy(originals[i % len(originals)], data / f"copy{i:03d}.h5")
        mb = sum(f.stat().st_size for f in data.glob("*.h5")) / 1e6
        print(f"{N_FILES} session files ({mb:.0f} MB): default protocols of "
              f"{', '.join(PRESETS)}")
        best: dict[tuple[str, int], float] = {}
        for repeat in range(REPEATS):
            for jobs in (1, 2):
                t0 = time.perf_counter()
                result = run_batch([data], Path(tmp, f"r{repeat}j{jobs}", "results.csv"),
                                   jobs=jobs)
                elapsed = time.perf_counter() - t0
                assert result.count("analysed") == N_FILES, result.failed
                best["batch", jobs] = min(best.get(("batch", jobs), elapsed), elapsed)
                t0 = time.perf_counter()
                reference(jobs)
                elapsed = time.perf_counter() - t0
                best["reference", jobs] = min(best.get(("reference", jobs), elapsed), elapsed)
        for what in ("batch", "reference"):
            one, two = best[what, 1], best[what, 2]
            per = f" ({one / N_FILES * 1e3:.0f} ms per file)" if what == "batch" else ""
            print(f"{what:9s}: jobs=1 {one:6.2f} s{per}, jobs=2 {two:6.2f} s, "
                  f"speed-up {one / two:.2f}x (best of {REPEATS})")
