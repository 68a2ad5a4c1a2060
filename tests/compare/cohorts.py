"""Simulated study cohorts whose per-subject truth is known (tests/compare and
bench/bench_compare.py).

Every subject is the ``soleus_healthy`` preset with its own soleus Mmax and Hmax/Mmax; a
condition shifts the soleus Hmax/Mmax by a known amount and scales the rate-dependent
depression (both pools' ``use``). The medial gastrocnemius channel is the same in every
subject and condition. All sessions run the same short schedule (recruitment at ``LEVELS``
intensities × 2, then one 6-pulse train at 0.1, 1 and 5 Hz); only the noise and trial
variability differ (their own seed).

Truth of a session: its Hmax/Mmax is what the analysis finds on the same session without
noise and trial variability (the fitted H peak lies between the 12 levels, so the
simulator's level means, a coarse grid, are 4 % lower; over 12 noisy seeds the analysis
averaged within 1 SE of the noise-free value); its RDD ratios are the simulator's
noise-free ``truth.rdd_ratios``. With the same schedule, the H of every stimulus scales with
Hmax/Mmax and the depression does not depend on it, so that truth is
``K × Hmax_over_Mmax`` with one constant ``K`` per depression (:func:`ratio_scale`; the
recruitment sweeps, 4-5 s apart, are a little depressed too), and the RDD ratios depend
only on the depression. The population truth of a mean difference
(:func:`population_difference`) is therefore known exactly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from hreflex.analysis import analyze_session
from hreflex.io.writer import write_session
from hreflex.schedule import concat, rdd, recruitment
from hreflex.sim import get_preset, simulate_session
from hreflex.sim.truth import rdd_test_intensity

PRESET = "soleus_healthy"
LEVELS = 12
RDD_HZ = (0.1, 1.0, 5.0)
RATIO_MEAN, RATIO_SD = 0.45, 0.08  # population of soleus Hmax/Mmax (healthy 0.3-0.65)


@dataclass(frozen=True)
class Session:
    """One simulated session of the cohort: manifest values and the truth of this session
    (``hmax_mmax`` of SOL; ``rdd``: frequency -> noise-free ratio)."""

    subject: str
    condition: str
    seed: int
    hmax_over_mmax: float
    mmax_mV: float
    rdd_use_scale: float
    hmax_mmax: float
    rdd: dict


@cache
def schedule():
    """The schedule every session runs (fixed order and jitter)."""
    p = get_preset(PRESET)
    lo, hi, _ = p.recruitment_mA
    return concat(
        recruitment(start_mA=lo, stop_mA=hi, step_mA=(hi - lo) / (LEVELS - 1), sweeps=2,
                    isi_s=p.recruitment_isi_s / 2, jitter_s=1.0, randomize=True, seed=7,
                    pulse_width_us=p.pulse_width_us),
        rdd(RDD_HZ, intensity_mA=round(rdd_test_intensity(p), 2), pulses_per_train=6,
            rest_s=10.0, pulse_width_us=p.pulse_width_us),
        gap_s=10.0)


def preset_for(hmax_over_mmax: float, mmax_mV: float, rdd_use_scale: float):
    p = get_preset(PRESET)
    sol = replace(p.channels[0], Hmax_over_Mmax=hmax_over_mmax, Mmax_mV=mmax_mV)
    d = p.depression
    dep = replace(d, fast_use=d.fast_use * rdd_use_scale, slow_use=d.slow_use * rdd_use_scale)
    return replace(p, channels=(sol, *p.channels[1:]), depression=dep)


def simulate(s: Session, noise: bool = True):
    """``(session, truth)`` of a cohort session, with subject and condition in its metadata."""
    session, truth = simulate_session(preset_for(s.hmax_over_mmax, s.mmax_mV, s.rdd_use_scale),
                                      schedule(), seed=s.seed, noise=noise)
    meta = replace(session.meta, subject_id=s.subject, condition=s.condition,
                   session_id=f"{s.subject}-{s.condition}")
    return replace(session, meta=meta), truth


def _truth(hmax_over_mmax: float, mmax_mV: float, rdd_use_scale: float) -> tuple[float, dict]:
    return ratio_scale(rdd_use_scale) * hmax_over_mmax, rdd_truth(rdd_use_scale)


@cache
def ratio_scale(rdd_use_scale: float = 1.0) -> float:
    """K: Hmax/Mmax of SOL found without noise, per unit of the parameter Hmax_over_Mmax."""
    session, _ = simulate_session(preset_for(0.5, 8.0, rdd_use_scale), schedule(), seed=0,
                                  noise=False)
    return analyze_session(session).channels[0].recruitment.hmax_mmax / 0.5


def population_difference(delta: float, rdd_scale: float = 1.0) -> dict[str, float]:
    """Population truth of the mean difference (second condition − first) of SOL's
    ``hmax_mmax`` and of every ``rdd_<f>Hz`` ratio, for both kinds of cohort."""
    out = {"hmax_mmax": ratio_scale(rdd_scale) * (RATIO_MEAN + delta)
           - ratio_scale(1.0) * RATIO_MEAN}
    post, pre = rdd_truth(rdd_scale), rdd_truth(1.0)
    out.update({f"rdd_{f:g}Hz": post[f] - pre[f] for f in RDD_HZ[1:]})
    return out


@cache
def rdd_truth(rdd_use_scale: float) -> dict:
    """Noise-free RDD ratios (frequency -> ratio) of the schedule at this depression."""
    _, truth = simulate_session(preset_for(0.5, 8.0, rdd_use_scale), schedule(), seed=0,
                                noise=False)
    return dict(truth.rdd_ratios)


def _session(subject, condition, seed, ratio, mmax, scale) -> Session:
    hm, rd = _truth(ratio, mmax, scale)
    return Session(subject, condition, seed, ratio, mmax, scale, hm, rd)


def paired_cohort(n: int, seed: int, delta: float, rdd_scale: float = 1.0,
                  levels: tuple[str, str] = ("pre", "post")) -> list[Session]:
    """n subjects measured in both conditions: the second has Hmax/Mmax + ``delta`` and the
    depression's use × ``rdd_scale``."""
    rng = np.random.default_rng(seed)
    ratio = np.clip(rng.normal(RATIO_MEAN, RATIO_SD, n), 0.2, 0.8)
    mmax = rng.uniform(5.0, 11.0, n)
    out = []
    for i in range(n):
        for k, (cond, d, sc) in enumerate(((levels[0], 0.0, 1.0), (levels[1], delta, rdd_scale))):
            out.append(_session(f"S{i + 1:02d}", cond, seed * 1000 + 2 * i + k,
                                float(ratio[i] + d), float(mmax[i]), sc))
    return out


def independent_cohort(n: int, seed: int, delta: float, rdd_scale: float = 1.0,
                       levels: tuple[str, str] = ("sham", "injured")) -> list[Session]:
    """Two groups of n different subjects; the second's population mean Hmax/Mmax is
    higher by ``delta`` and its depression's use is × ``rdd_scale``."""
    rng = np.random.default_rng(seed)
    out = []
    for g, (cond, d, sc) in enumerate(((levels[0], 0.0, 1.0), (levels[1], delta, rdd_scale))):
        ratio = np.clip(rng.normal(RATIO_MEAN + d, RATIO_SD, n), 0.2, 0.8)
        mmax = rng.uniform(5.0, 11.0, n)
        out += [_session(f"{cond[:1].upper()}{i + 1:02d}", cond, seed * 1000 + 100 * g + i,
                         float(ratio[i]), float(mmax[i]), sc) for i in range(n)]
    return out


def write_cohort(cohort: list[Session], folder: Path, extra: dict | None = None) -> Path:
    """Write every session as ``<subject>_<condition>.h5`` and ``manifest.csv`` (columns
    file, subject, condition and those of ``extra``: name -> list of values)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in cohort:
        name = f"{s.subject}_{s.condition}.h5"
        write_session(folder / name, simulate(s)[0])
        rows.append({"file": name, "subject": s.subject, "condition": s.condition})
    for k, values in (extra or {}).items():
        for r, v in zip(rows, values, strict=True):
            r[k] = v
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    return path


def follow_up(cohort: list[Session], condition: str, delta: float, rdd_scale: float,
              seed: int) -> list[Session]:
    """Another visit of every subject of a paired cohort: its first-condition Hmax/Mmax +
    ``delta``, depression use × ``rdd_scale``, new noise."""
    first = [s for s in cohort if s.condition == cohort[0].condition]
    return [_session(s.subject, condition, seed * 1000 + i, s.hmax_over_mmax + delta, s.mmax_mV,
                     rdd_scale) for i, s in enumerate(first)]
