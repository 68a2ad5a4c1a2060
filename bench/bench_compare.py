"""Coverage of the 95 % intervals and the false-positive rate of ``hreflex compare``.

Part 1, the statistics alone (``hreflex.compare.stats``) on normal samples with a known
truth, ``REPS`` repetitions each: coverage of the difference, dz and Hedges' g intervals
and the rejection rate (p < 0.05) of every test when there is no difference, including
Welch's t with unequal variances and group sizes.

Part 2, end to end (simulated sessions -> files -> manifest -> ``run_compare``), ``N``
seeded cohorts of each kind (``tests/compare/cohorts.py``: per-subject truth known):
paired pre/post (8 subjects; Hmax/Mmax − 0.15, depression use × 0.6), two independent
groups (8 + 8; + 0.15, × 0.6), and the same two designs without any difference (null).
Printed: how often the 95 % interval of the difference covers the population truth, for
SOL's Hmax/Mmax and its RDD ratios at 1 and 5 Hz, and how often p < 0.05 in the null
cohorts (parametric and rank test).

Exit status 1 when a number is outside its target (below). With N = 40 a single coverage
is binomial with SD 3.4 %, so the per-item targets are wide; the pooled ones are tighter.

    .venv/bin/python bench/bench_compare.py [N]     # default 40: ~15 min on 2 shared cores
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy is imported, as the CLI does

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the cohort builder lives with the tests

from tests.compare import cohorts  # noqa: E402

from hreflex.compare import run_compare, stats  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
REPS = 4000
DELTA, RDD_SCALE, N_SUBJECTS = 0.15, 0.6, 8
MEASURES = ("hmax_mmax", "rdd_1Hz", "rdd_5Hz")
#: targets: part 1 (REPS draws: SE 0.35 %), part 2 per item (N cohorts) and pooled
STAT_COVERAGE = (0.935, 0.965)
STAT_REJECTION = 0.062
ITEM_COVERAGE, POOLED_COVERAGE = 0.825, (0.90, 0.99)
ITEM_REJECTION, POOLED_REJECTION = 0.175, 0.09


def check(label: str, value: float, lo: float, hi: float, failures: list) -> None:
    ok = lo <= value <= hi
    print(f"  {label:<58} {value:6.3f}   target {lo:.3f}–{hi:.3f}  {'ok' if ok else 'OUT'}")
    if not ok:
        failures.append(label)


def part1(failures: list) -> None:
    rng = np.random.default_rng(20240613)
    print(f"part 1: the statistics on normal samples, {REPS} repetitions each")
    cover = {"paired difference": 0, "dz": 0, "Welch difference": 0, "Hedges' g": 0}
    reject = {"paired t": 0, "Wilcoxon signed-rank": 0, "Welch t (equal SD, 8/8)": 0,
              "Mann-Whitney U (8/8)": 0, "Welch t (SD 1 vs 3, 6/12)": 0}
    n, delta, sd_d = 8, 0.6, 1.0  # paired: true dz = 0.6; groups: true δ = 0.6 (SD 1)
    for _ in range(REPS):
        d = rng.normal(delta, sd_d, n)
        base = rng.normal(5.0, 2.0, n)
        c = stats.paired(base, base + d)
        cover["paired difference"] += c.ci95[0] <= delta <= c.ci95[1]
        cover["dz"] += c.effect_size_ci95[0] <= delta / sd_d <= c.effect_size_ci95[1]
        a, b = rng.normal(0.0, 1.0, n), rng.normal(delta, 1.0, n)
        c = stats.independent(a, b)
        cover["Welch difference"] += c.ci95[0] <= delta <= c.ci95[1]
        cover["Hedges' g"] += c.effect_size_ci95[0] <= delta <= c.effect_size_ci95[1]
        base = rng.normal(5.0, 2.0, n)
        c = stats.paired(base, base + rng.normal(0.0, 1.0, n))
        reject["paired t"] += c.p < 0.05
        reject["Wilcoxon signed-rank"] += c.p_nonparametric < 0.05
        c = stats.independent(rng.normal(0.0, 1.0, n), rng.normal(0.0, 1.0, n))
        reject["Welch t (equal SD, 8/8)"] += c.p < 0.05
        reject["Mann-Whitney U (8/8)"] += c.p_nonparametric < 0.05
        c = stats.independent(rng.normal(0.0, 1.0, 6), rng.normal(0.0, 3.0, 12))
        reject["Welch t (SD 1 vs 3, 6/12)"] += c.p < 0.05
    for k, v in cover.items():
        check(f"coverage of the 95 % CI: {k}", v / REPS, *STAT_COVERAGE, failures)
    for k, v in reject.items():
        check(f"null rejection rate (p < 0.05): {k}", v / REPS, 0.0, STAT_REJECTION, failures)


def _write(args) -> None:
    session, path = args
    from hreflex.io.writer import write_session

    write_session(path, cohorts.simulate(session)[0])


def write_cohorts(kinds: dict, root: Path) -> dict:
    """Simulate and write every session of every cohort (in parallel); manifest paths."""
    jobs, manifests = [], {}
    for (kind, k), cohort in kinds.items():
        folder = root / f"{kind}{k:03d}"
        folder.mkdir(parents=True)
        rows = ["file,subject,condition"]
        for s in cohort:
            name = f"{s.subject}_{s.condition}.h5"
            jobs.append((s, folder / name))
            rows.append(f"{name},{s.subject},{s.condition}")
        (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
        manifests[(kind, k)] = folder / "manifest.csv"
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_write, jobs, chunksize=4))
    return manifests


def part2(failures: list) -> None:
    print(f"part 2: {N} simulated cohorts of each kind, end to end through run_compare")
    truth = cohorts.population_difference(DELTA, RDD_SCALE)
    truth["hmax_mmax_paired"] = cohorts.population_difference(-DELTA, RDD_SCALE)["hmax_mmax"]
    print(f"  population truth: paired Hmax/Mmax {truth['hmax_mmax_paired']:+.4f}, groups "
          f"{truth['hmax_mmax']:+.4f}, RDD 1 Hz {truth['rdd_1Hz']:+.4f}, "
          f"5 Hz {truth['rdd_5Hz']:+.4f}")
    kinds = {}
    for k in range(N):
        kinds[("paired", k)] = cohorts.paired_cohort(N_SUBJECTS, 100 + k, -DELTA, RDD_SCALE)
        kinds[("groups", k)] = cohorts.independent_cohort(N_SUBJECTS, 300 + k, DELTA, RDD_SCALE)
        kinds[("paired-null", k)] = cohorts.paired_cohort(N_SUBJECTS, 500 + k, 0.0)
        kinds[("groups-null", k)] = cohorts.independent_cohort(N_SUBJECTS, 700 + k, 0.0)
    covered, rejected = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        manifests = write_cohorts(kinds, Path(tmp))
        t1 = time.monotonic()
        for (kind, _), manifest in manifests.items():
            doc = run_compare([manifest], jobs=2)
            rows = {r["measure"]: r for r in doc["measures"]
                    if r["channel"] == "SOL" and r["measure"] in MEASURES}
            for m, r in rows.items():
                if kind.endswith("null"):
                    rejected.setdefault((kind, m, r["test"]), []).append(r["p"] < 0.05)
                    rejected.setdefault((kind, m, r["test_nonparametric"]), []).append(
                        r["p_nonparametric"] < 0.05)
                else:
                    t = truth["hmax_mmax_paired"] if (kind, m) == ("paired", "hmax_mmax") \
                        else truth[m]
                    covered.setdefault((kind, m), []).append(r["ci95"][0] <= t <= r["ci95"][1])
        print(f"  {len(manifests) * 2 * N_SUBJECTS} sessions simulated in {t1 - t0:.0f} s, "
              f"compared in {time.monotonic() - t1:.0f} s")
    for (kind, m), hits in covered.items():
        check(f"coverage of the 95 % CI: {kind} {m}", float(np.mean(hits)), ITEM_COVERAGE, 1.0,
              failures)
    check("coverage, pooled", float(np.mean([h for v in covered.values() for h in v])),
          *POOLED_COVERAGE, failures)
    for (kind, m, test), hits in rejected.items():
        check(f"null p < 0.05: {kind} {m} ({test})", float(np.mean(hits)), 0.0, ITEM_REJECTION,
              failures)
    for family in ("parametric", "rank"):
        pooled = [h for (_, _, test), v in rejected.items() for h in v
                  if (test in ("paired t", "Welch t")) == (family == "parametric")]
        check(f"null p < 0.05, pooled, {family} tests", float(np.mean(pooled)), 0.0,
              POOLED_REJECTION, failures)


if __name__ == "__main__":
    failures: list[str] = []
    part1(failures)
    part2(failures)
    print("all within targets" if not failures else f"OUTSIDE TARGETS: {', '.join(failures)}")
    sys.exit(1 if failures else 0)
