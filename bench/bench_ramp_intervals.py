"""Coverage of the 95 % recruitment intervals on ramps of ONE sweep per intensity.

    .venv/bin/python bench/bench_ramp_intervals.py [--trials 200] [--seed 1]

A clinical ramp often records one sweep per intensity, where a bootstrap within levels has
nothing to resample (``hreflex.analysis.intervals``: the modelled spread of one sweep). The
curves and their noise are made here, not by the simulator: M a Boltzmann (amp 6 mV, i50
14 mA, slope 1.5 mA), H a bell (amp 1.5 mV, rise 8 / 1 mA, fall 16 / 1.5 mA), from 2 to 30
mA, three noise models — ``mix``: 5 % (M) / 15 % (H) trial variability + 0.02 mV additive;
``add``: additive only (M 0.1, H 0.08 mV); ``t``: as ``mix`` with Student-t (4 df) errors —
at 29 and 15 intensities. Each case fits ``--trials`` independent ramps with
:func:`~hreflex.analysis.recruitment.recruitment` and reports how often each interval
covers the population value (target 90-98 %), the median width, and width / (2 x 1.96 x
the estimate's SD over the trials) (1 = as wide as the estimate's own scatter says).
Prints MET/MISSED per value; exits 0 when every case is within 90-98 %.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.intervals import recruitment_intervals
from hreflex.analysis.models import bell, boltzmann
from hreflex.analysis.recruitment import recruitment

M = {"amp_mV": 6.0, "i50_mA": 14.0, "slope_mA": 1.5}
H = {"amp_mV": 1.5, "i_rise_mA": 8.0, "k_rise_mA": 1.0, "i_fall_mA": 16.0, "k_fall_mA": 1.5}
FLOOR_mV = 0.02


def truth() -> dict[str, float]:
    fine = np.linspace(2, 30, 200001)
    h = bell(fine, **H)
    return {"mmax_mV": M["amp_mV"], "hmax_mV": float(h.max()),
            "hmax_mmax": float(h.max()) / M["amp_mV"],
            "m_threshold_mA": M["i50_mA"] + M["slope_mA"] * np.log(0.05 / 0.95),
            "h_threshold_mA": float(fine[np.argmax(h >= 0.05 * h.max())])}


def ramp(rng: np.random.Generator, x: np.ndarray, noise: str) -> tuple[np.ndarray, np.ndarray]:
    def e() -> np.ndarray:
        if noise == "t":
            return rng.standard_t(4, x.size) / np.sqrt(2.0)  # unit variance
        return rng.standard_normal(x.size)

    m, h = boltzmann(x, **M), bell(x, **H)
    if noise == "add":
        return m + 0.1 * e(), h + 0.08 * e()
    return m * (1 + 0.05 * e()) + FLOOR_mV * e(), h * (1 + 0.15 * e()) + FLOOR_mV * e()


def case(noise: str, n_levels: int, trials: int, seed: int) -> dict[str, tuple[float, ...]]:
    rng, cfg, x = np.random.default_rng(seed), RecruitmentConfig(), np.linspace(2, 30, n_levels)
    true = truth()
    hits, widths, errors = ({k: [] for k in true} for _ in range(3))
    one, nan = np.ones(x.size), np.full(x.size, np.nan)
    for _ in range(trials):
        m, h = ramp(rng, x, noise)
        r = recruitment(x, (m, nan, one), (h, nan, one), (None, None), cfg, (FLOOR_mV,) * 2)
        ci, _ = recruitment_intervals(r, np.arange(x.size), m, h, cfg, (FLOOR_mV,) * 2)
        for key, value in true.items():
            est, c = getattr(r, key), ci.get(key)
            if est is not None and c is not None:
                hits[key].append(c[0] <= value <= c[1])
                widths[key].append(c[1] - c[0])
                errors[key].append(est - value)
    return {k: (100 * np.mean(hits[k]), len(hits[k]), float(np.median(widths[k])),
                float(np.median(widths[k]) / (2 * 1.96 * np.std(errors[k]))))
            for k in true}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ok, t0 = True, time.perf_counter()
    print(f"{'case':12s} {'value':16s} {'coverage':>9s} {'of':>4s} {'width':>8s} "
          f"{'width/scatter':>13s}")
    for noise, n_levels in (("mix", 29), ("add", 29), ("t", 29), ("mix", 15)):
        for key, (cov, n, width, ratio) in case(noise, n_levels, args.trials, args.seed).items():
            met = 90.0 <= cov <= 98.0
            ok &= met
            print(f"{noise + '/' + str(n_levels):12s} {key:16s} {cov:8.1f} % {n:4d} {width:8.4f} "
                  f"{ratio:13.2f}  {'MET' if met else 'MISSED'}")
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
