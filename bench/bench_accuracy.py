#!/usr/bin/env python3
"""Accuracy of the analysis on the simulated corpus: every preset x scenario x seed.

    .venv/bin/python bench/bench_accuracy.py [--seeds 5] [--jobs 2] [--scenarios a,b] [--quiet]
                                             [--calibration-seeds 40] [--real-data DIR]

Each case (``hreflex.validation``) is simulated with contraction bursts (P = 0.1), analysed
with the default configuration and graded against the truth of exactly what was simulated.
One row per case and channel with its errors (Hmax/Mmax and Mmax relative, thresholds as a
fraction of the intensity range, latencies ms, RDD ratio absolute, window bounds ms: the
largest of the case); a second table for the single-intensity RDD files (protocol ``rdd``).
Then the acceptance of the windows issue, each line MET or MISSED, and the coverage of the
95 % intervals; then the real recordings of the corpus (``--real-data``, the shared folder
beside the checkout; skipped when absent): the lab's M-max of the 16 clinical Cadwell ramps
and the forearm's H-max top 3 within 3 % (targets), the ramps at 3.2 kHz and EPOCS's own
windows beside the automatic ones (information). Exits 0 only when every target is met.

The corpus' scenarios share their seeds' trial-to-trial draws (a seed gives the same simulated
responses under every scenario), so its coverage rests on few independent draws: 5 seeds x 4
presets. ``--calibration-seeds N`` (information, not a target) adds the coverage of the
``preset`` scenario over N further seeds (101..100 + N) of every preset: independent draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hreflex import real_corpus  # noqa: E402
from hreflex.sim.scenarios import SCENARIOS  # noqa: E402
from hreflex.validation import TOLERANCE, Grade, run_case  # noqa: E402

#: the shared real recordings beside the checkout (``--real-data``)
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real_data"

PRESETS = ("soleus_healthy", "soleus_spastic", "fcr_healthy", "rat_sci")


def _case(args: tuple[str, str, int, str]) -> list[Grade]:
    return run_case(*args)


def _f(x: float, spec: str = "+.3f") -> str:
    return format(x, spec) if np.isfinite(x) else "-"


def _row(g: Grade) -> str:
    bound = max(np.abs(g.bounds_ms)) if g.bounds_ms else np.nan
    fails = g.failures() + (["bound"] if bound > TOLERANCE["bound"] else [])
    return (f"{g.case:40s} {g.channel:5s} {_f(g.hmax_mmax_rel):>7} {_f(g.mmax_rel):>7} "
            f"{_f(g.m_threshold_range):>7} {_f(g.h_threshold_range):>7} "
            f"{_f(g.m_latency_ms, '+.2f'):>6} {_f(g.h_latency_ms, '+.2f'):>6} "
            f"{_f(g.rdd_abs):>6} {_f(bound, '.2f'):>5}  {' '.join(fails)}")


HEAD = (f"{'case':40s} {'chan':5s} {'H/M':>7} {'Mmax':>7} {'M thr':>7} {'H thr':>7} "
        f"{'M lat':>6} {'H lat':>6} {'RDD':>6} {'bound':>5}  outside tolerance")


def _coverage(grades: list[Grade]) -> dict[str, list[bool]]:
    cover: dict[str, list[bool]] = defaultdict(list)
    for g in grades:
        for key, hit in g.covered.items():
            cover["rdd ratios" if key.startswith("rdd") else key].append(hit)
    return cover


def _summary(grades: list[Grade], single: list[Grade]) -> bool:
    ok = True

    def target(name: str, met: bool, text: str) -> None:
        nonlocal ok
        ok &= met
        print(f"  {'MET   ' if met else 'MISSED'} {name}: {text}")

    print("\nAcceptance (every case, every seed; recruitment cases):")
    for key, tol, label in (("hmax_mmax_rel", TOLERANCE["hmax_mmax"], "Hmax/Mmax ±5 %"),
                            ("mmax_rel", TOLERANCE["mmax"], "Mmax ±3 %"),
                            ("m_threshold_range", TOLERANCE["threshold"], "M threshold ±5 %"),
                            ("h_threshold_range", TOLERANCE["threshold"], "H threshold ±5 %")):
        err = np.array([getattr(g, key) for g in grades])
        n_in = int(np.sum(np.abs(err) <= tol))
        target(label, n_in == err.size, f"{n_in}/{err.size} within, worst "
               f"{_f(float(np.nanmax(np.abs(err))), '.3f')}")
    for wave in ("m", "h"):
        lat = np.array([getattr(g, f"{wave}_latency_ms") for g in grades])
        tol = np.array([TOLERANCE["latency_rat" if g.species == "rat" else "latency"]
                        for g in grades])
        n_in = int(np.sum(np.abs(lat) <= tol))
        target(f"{wave.upper()} latency ±0.5 ms (rat ±0.2)", n_in == lat.size,
               f"{n_in}/{lat.size} within (found on {int(np.isfinite(lat).sum())}), worst "
               f"{_f(float(np.nanmax(np.abs(lat))), '.2f')} ms")
    rdd = np.array([g.rdd_abs for g in grades + single if np.isfinite(g.rdd_abs)])
    target("RDD ratios ±0.05", bool(np.all(rdd <= TOLERANCE["rdd"])),
           f"{int(np.sum(rdd <= TOLERANCE['rdd']))}/{rdd.size} channels within, worst "
           f"{rdd.max():.3f}")
    bounds = np.abs(np.concatenate([g.bounds_ms for g in grades]))
    frac = float(np.mean(bounds <= TOLERANCE["bound"]))
    target("window bounds ±1 ms on >= 95 % of bounds", frac >= 0.95,
           f"{100 * frac:.1f} % of {bounds.size} bounds")
    print("\n95 % interval coverage (all cases; target 90-98 %):")
    for key, hits in sorted(_coverage(grades + single).items()):
        c = float(np.mean(hits))
        target(f"coverage {key}", 0.90 <= c <= 0.98, f"{100 * c:.1f} % of {len(hits)}")
    return ok


def _real(root: Path) -> bool:
    """The real recordings of the corpus (:mod:`hreflex.real_corpus`): the lab's M-max of the
    16 clinical ramps and H-max top 3 of the forearm within 3 % (targets), the ramps at
    3.2 kHz and EPOCS's own windows beside the automatic ones (information)."""
    print(f"\nReal recordings ({root}):")
    if not all((root / "cadwell" / f).is_dir() for f in ("s2718tdvg", "s2802mytb")):
        print("  skipped: not found")
        return True
    rows = real_corpus.m_max_rows(root)
    published = np.array([r.published_uV for r in rows], float)
    auto = real_corpus.automatic_m_max(rows)
    rel = auto / published - 1
    m_ok = bool(np.all(np.abs(rel) <= 0.03))
    exact = int(np.sum(np.round(auto) == published))
    print(f"  {'MET   ' if m_ok else 'MISSED'} Cadwell M-max within 3 % of the lab's: "
          f"{int(np.sum(np.abs(rel) <= 0.03))}/{rel.size} ({exact} to the µV), worst "
          f"{100 * rel[np.argmax(np.abs(rel))]:+.2f} %")
    lab, auto = real_corpus.h_max_top3(root)
    h_rel = auto / lab - 1
    h_ok = bool(np.all(np.abs(h_rel) <= 0.03))
    print(f"  {'MET   ' if h_ok else 'MISSED'} forearm H-max top 3 within 3 % of the lab's: "
          f"worst {100 * h_rel[np.argmax(np.abs(h_rel))]:+.2f} %")
    half = real_corpus.automatic_m_max(rows, lambda s: real_corpus.resampled(s, False))
    rel = half / published - 1
    k = int(np.argmax(np.abs(rel)))
    print(f"  information: the ramps at half their rate (3.2 kHz, pairs averaged): "
          f"{int(np.sum(np.abs(rel) <= 0.03))}/{rel.size} within 3 %, worst "
          f"{100 * rel[k]:+.1f} % ({rows[k].session}/{rows[k].side}/{rows[k].muscle})")
    if (root / real_corpus.EPOCS_FILE).is_file():
        print("  information: EPOCS's own windows (ResponseDefinition) / automatic, ms:")
        for name, wave, theirs, ours in real_corpus.epocs_windows(root):
            auto = "none" if ours is None else f"{ours[0]:.2f}-{ours[1]:.2f}"
            print(f"    {name} {wave.upper()}: {theirs[0]:.2f}-{theirs[1]:.2f} / {auto}")
    return m_ok and h_ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    ap.add_argument("--calibration-seeds", type=int, default=0,
                    help="coverage of the preset scenario over this many independent seeds")
    ap.add_argument("--real-data", type=Path, default=REAL_DATA,
                    help="the shared real recordings (skipped when absent)")
    args = ap.parse_args()
    seeds = range(1, args.seeds + 1)
    cases = [(p, s, k, "both") for p in PRESETS for s in args.scenarios.split(",")
             for k in seeds]
    single = [(p, "preset", k, "rdd") for p in PRESETS for k in seeds]
    calib = [(p, "preset", 100 + k, "both") for p in PRESETS
             for k in range(1, args.calibration_seeds + 1)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        graded = list(pool.map(_case, cases + single + calib))
    calibrated = [g for gs in graded[len(cases) + len(single):] for g in gs]
    grades = [g for gs in graded[:len(cases)] for g in gs]
    rdd_only = [g for gs in graded[len(cases):len(cases) + len(single)] for g in gs]
    if not args.quiet:
        print(HEAD)
        for g in grades:
            print(_row(g))
        print("\nSingle-intensity RDD files (windows from the mean response and the prior):")
        print(HEAD)
        for g in rdd_only:
            print(_row(g))
    print(f"\n{len(cases)} recruitment + RDD cases and {len(single)} RDD-only files, "
          f"{len(grades) + len(rdd_only)} channels, {time.perf_counter() - t0:.0f} s")
    ok = _summary(grades, rdd_only)
    ok &= _real(args.real_data)
    if calib:
        print(f"\nCalibration (information): coverage of the preset scenario, seeds 101-"
              f"{100 + args.calibration_seeds}, every preset ({len(calibrated)} channels, "
              "independent draws):")
        for key, hits in sorted(_coverage(calibrated).items()):
            print(f"  coverage {key}: {100 * np.mean(hits):.1f} % of {len(hits)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
