"""End to end: the whole ``hreflex analyze`` process against a plain lab script doing the
core of the same job (``bench/lab_script.py``), and ``hreflex --version``.

    .venv/bin/python bench/bench_e2e.py [--cache /tmp/hreflex_bench.h5] [--rounds 5]

The file is the one of issue 12 and ``bench/bench_analysis.py`` (1 h, 4 channels, 10 kHz,
2,000 stimuli of the simulator's ``soleus_healthy``; written on first use, reused after).
A first ``hreflex analyze`` gives the M/H windows the lab script measures in. Then, in one
run, alternated round by round, each as its own process with this venv's interpreter:
``hreflex analyze FILE -o OUT --overwrite`` (the ``--json OUT --no-store`` of the issue:
``--json`` is the old spelling of ``-o``, ``--no-store`` does nothing), the lab script, and
``hreflex --version`` (bytecode caching on for both, as in an installed package). Prints medians [min-max], the ratio, the peak RSS of each process
(information: memory is measured against the raw data), and MET/MISSED for: analyze >= 1.5x
faster than the script, analyze <= 0.5 s, ``--version`` <= 0.15 s. Exit 0 only when all hold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: The children's environment: this one, but with bytecode caching on for both contenders, as
#: an installed package has it (pip writes .pyc files; a sandbox with PYTHONDONTWRITEBYTECODE
#: would otherwise time the compiling of every module at every start).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one process; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss / 1024  # Linux: kB


def session_file(path: Path) -> Path:
    """The bench file, written first if missing — in a child process: a child's peak RSS
    (``ru_maxrss``) starts from its parent's at the fork, so a bench that had simulated the
    file itself would print its 500 MB for every contender."""
    if not path.exists():
        t0 = time.perf_counter()
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from bench_analysis import "
                "make_session; from hreflex.io.writer import write_session; "
                "write_session(sys.argv[2], make_session())")
        subprocess.run([sys.executable, "-c", code, str(HERE), str(path)], check=True)
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                    / "hreflex_bench.h5", help="the session file (written on first use)")
    ap.add_argument("--rounds", type=int, default=5, help="alternated rounds (medians)")
    args = ap.parse_args()
    file = session_file(args.cache)
    tmp = Path(tempfile.mkdtemp(prefix="hreflex_e2e_"))
    out, windows, lab_out = tmp / "analysis.json", tmp / "windows.json", tmp / "lab.json"
    hreflex = str(BIN / "hreflex")
    analyze = [hreflex, "analyze", str(file), "-o", str(out), "--overwrite"]
    run(analyze)  # the windows the script measures in (and a warm page cache for both)
    doc = json.loads(out.read_text(encoding="utf-8"))
    windows.write_text(json.dumps({c["name"]: {w: c["windows_ms"][w] for w in ("m", "h")}
                                   for c in doc["channels"]}), encoding="utf-8")
    contenders = {
        "analyze": analyze,
        "script": [sys.executable, str(HERE / "lab_script.py"), str(file), str(windows),
                   str(lab_out)],
        "version": [hreflex, "--version"],
    }
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    rss: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for key, cmd in contenders.items():
            t, m = run(cmd)
            wall[key].append(t)
            rss[key].append(m)
    raw_MB = file.stat().st_size / 1e6
    med = {k: float(np.median(v)) for k, v in wall.items()}
    ratio = med["script"] / med["analyze"]
    print(f"{file}: {doc['input']['n_stimuli']} stimuli, "
          f"{len(doc['channels'])} channels, file {raw_MB:.0f} MB; {args.rounds} rounds, "
          "alternated; medians [min-max]; peak RSS median")
    rows = [("hreflex analyze (process)", "analyze", "<= 0.5 s", med["analyze"] <= 0.5),
            ("lab script (h5py read, per-sweep loop, pooling)", "script", "", None),
            ("hreflex --version", "version", "<= 0.15 s", med["version"] <= 0.15)]
    width = 50
    for name, key, target, ok in rows:
        mark = "" if ok is None else ("  MET" if ok else "  MISSED")
        value = f"{med[key]:.3f} s [{min(wall[key]):.3f}-{max(wall[key]):.3f}]"
        print(f"{name:<{width}}  {value:>22}  {np.median(rss[key]):5.0f} MB  {target:>9}{mark}")
    ok = ratio >= 1.5
    print(f"{'  -> analyze speed-up over the script':<{width}}  {ratio:>21.2f}x  "
          f"{'':8}  {'>= 1.5x':>9}  {'MET' if ok else 'MISSED'}")
    return 0 if ok and med["analyze"] <= 0.5 and med["version"] <= 0.15 else 1


if __name__ == "__main__":
    sys.exit(main())
