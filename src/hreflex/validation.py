"""The accuracy corpus: simulated cases with known truth, analysed and graded.

A case is (preset, scenario, seed, protocol). :func:`run_case` simulates it (contraction
bursts at P = 0.1, as a real session has some), analyses it with the default configuration
and returns one :class:`Grade` per channel: the error of every reported value against the
truth of exactly what was simulated, and whether each 95 % interval covers it.

Truth (``docs/METRICS.md``, "Accuracy"): recruitment values are graded against the
**realised** values — the analysis' own pooling and fits applied to the noise-free amplitudes
actually in the signal of the sweeps it included (:func:`realised_recruitment`) — and their
intervals against the population values: Mmax of the channel's M curve, Hmax of its rested H
curve times the mean depression the recruitment run delivered (its sweeps in a contraction
left out, as QC leaves them out), thresholds of the rested curves. Latencies and window
bounds from the waveforms; RDD ratios against the amplitudes actually in the signal
(accuracy) and against the noise-free ratios (interval coverage). Used by ``bench/bench_accuracy.py`` (every case) and
``tests/analysis/test_corpus.py`` (a fixed subset).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hreflex.analysis import AnalysisConfig, analyze_session
from hreflex.analysis.config import RecruitmentConfig
from hreflex.analysis.pooling import level_stats
from hreflex.analysis.recruitment import RecruitmentResult, recruitment
from hreflex.analysis.results import AnalysisResult
from hreflex.io.session import Session
from hreflex.sim import default_schedule, get_preset, simulate_session
from hreflex.sim.scenarios import apply_scenario
from hreflex.sim.session import SimulationTruth
from hreflex.species import canonical_species

#: acceptance of the windows issue: relative (ratio, Mmax), fraction of the intensity range
#: (thresholds), ms (latencies; rat 0.2), absolute (RDD ratios), ms (window bounds)
TOLERANCE = {"hmax_mmax": 0.05, "mmax": 0.03, "threshold": 0.05, "latency": 0.5,
             "latency_rat": 0.2, "rdd": 0.05, "bound": 1.0}


@dataclass
class Grade:
    """Errors of one channel of one case; NaN where the value was not reported (``missing``
    lists those) or has no truth. ``covered`` maps a value to whether its 95 % interval
    held the truth (absent when no interval was reported)."""

    case: str
    channel: str
    species: str
    hmax_mmax_rel: float = np.nan
    mmax_rel: float = np.nan
    m_threshold_range: float = np.nan
    h_threshold_range: float = np.nan
    m_latency_ms: float = np.nan
    h_latency_ms: float = np.nan
    rdd_abs: float = np.nan
    bounds_ms: list[float] = field(default_factory=list)
    covered: dict[str, bool] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """Names of the values outside their tolerance (missing values included)."""
        lat = TOLERANCE["latency_rat" if self.species == "rat" else "latency"]
        checks = {"hmax_mmax": (self.hmax_mmax_rel, TOLERANCE["hmax_mmax"]),
                  "mmax": (self.mmax_rel, TOLERANCE["mmax"]),
                  "m_threshold": (self.m_threshold_range, TOLERANCE["threshold"]),
                  "h_threshold": (self.h_threshold_range, TOLERANCE["threshold"]),
                  "m_latency": (self.m_latency_ms, lat), "h_latency": (self.h_latency_ms, lat),
                  "rdd": (self.rdd_abs, TOLERANCE["rdd"])}
        out = [k for k, (err, tol) in checks.items() if abs(err) > tol]
        return out + list(self.missing)


def simulate_case(preset: str, scenario: str, seed: int, protocol: str = "both"
                  ) -> tuple[Session, SimulationTruth]:
    """Simulate one case of the corpus."""
    p = apply_scenario(get_preset(preset), scenario)
    return simulate_session(p, default_schedule(p, protocol, seed=seed), seed=seed,
                            contraction_probability=0.1)


def _covers(interval, value: float) -> bool | None:
    if interval is None or not np.isfinite(value):
        return None
    return bool(interval[0] <= value <= interval[1])


def _rdd_errors(session: Session, truth: SimulationTruth, result: AnalysisResult, c: int
                ) -> tuple[float, dict[str, bool]]:
    """Largest |ratio - ratio of the actual amplitudes of the included sweeps| over the
    frequencies, and the interval coverage of the noise-free ratios."""
    st = session.stimuli
    rows = result.channels[c].rdd.rows
    use = (st["pulse_index"] >= result.channels[c].rdd.skip_first) & ~result.sweeps.excluded[:, c]
    freq = st["nominal_frequency_Hz"]
    if not rows or not use.any():
        return np.nan, {}
    ref_f = result.channels[c].rdd.reference_Hz
    ref = truth.H_actual_mV[use & np.isclose(freq, ref_f, rtol=0.02), c].mean()
    worst, covered = 0.0, {}
    for row in rows:
        sel = use & np.isclose(freq, row.frequency_Hz, rtol=0.02)
        if row.ratio is None or not sel.any():
            return np.nan, covered
        worst = max(worst, abs(row.ratio - truth.H_actual_mV[sel, c].mean() / ref))
        true = truth.rdd_ratios.get(float(row.frequency_Hz), np.nan)
        if row.frequency_Hz != ref_f and (hit := _covers(row.ratio_ci95, true)) is not None:
            covered[f"rdd_{row.frequency_Hz:g}Hz"] = hit
    return worst, covered


def grade(case: str, session: Session, truth: SimulationTruth, result: AnalysisResult,
          config: AnalysisConfig | None = None) -> list[Grade]:
    """Grade every channel of an analysed case (see the module docstring); ``config``: the
    analysis' configuration (its recruitment settings make the realised values)."""
    config = config or AnalysisConfig()
    out = []
    rec_ids = [b.block_id for b in truth.schedule.blocks if b.kind == "recruitment"]
    in_rec = np.isin(truth.schedule.block_id, rec_ids)
    has_rec = bool(in_rec.any())
    span = float(np.ptp(truth.schedule.intensity_mA[in_rec])) if has_rec else np.nan
    # H as delivered: the rested curve x the mean depression of the run (no facilitation:
    # sweeps in a contraction are excluded by QC)
    depression = float(truth.depression[in_rec & ~truth.contraction].mean()) if has_rec else 1.0
    for c, ch in enumerate(result.channels):
        t = truth.channels[c]
        g = Grade(case, ch.name, canonical_species(session.meta.species))
        w = ch.windows
        for wave, (on, end) in (("m", (t.M_onset_ms, t.M_end_ms)),
                                ("h", (t.H_onset_ms, t.H_end_ms))):
            win = getattr(w, wave) if w is not None else None
            if win is None:
                g.missing.append(f"{wave}_window")
            else:
                g.bounds_ms += [win.start_ms - on, win.stop_ms - end]
            lat = ch.latency_ms.get(wave)
            if lat is None:
                g.missing.append(f"{wave}_latency")
            else:
                setattr(g, f"{wave}_latency_ms", lat - on)
        if has_rec:
            rec = ch.recruitment
            real = None if rec is None else realised_recruitment(
                rec, truth, in_rec & ~result.sweeps.excluded[:, c], c,
                config.recruitment.for_species(session.meta.species))
            _grade_recruitment(g, rec, span, depression, t, real)
        if truth.rdd_ratios:
            g.rdd_abs, cov = _rdd_errors(session, truth, result, c)
            g.covered.update(cov)
            if not np.isfinite(g.rdd_abs):
                g.missing.append("rdd")
        out.append(g)
    return out


def realised_recruitment(rec: RecruitmentResult, truth: SimulationTruth, use: np.ndarray,
                         c: int, cfg: RecruitmentConfig) -> RecruitmentResult:
    """The recruitment values the session's own responses hold: the analysis' pooling and fits
    applied to the noise-free amplitudes actually in the signal (``M_actual_mV``,
    ``H_actual_mV``) of the sweeps ``use`` (n,) at the levels of ``rec``. What a perfect
    measurement of these sweeps would report; the trial-to-trial variability of the simulated
    subject is in it, the recording's noise, artifact and windows are not."""
    intensity = truth.schedule.intensity_mA
    level = np.argmin(np.abs(intensity[:, None] - rec.levels_mA[None, :]), axis=1)
    n_lv = rec.levels_mA.size
    amp = np.stack([truth.M_actual_mV[:, c], truth.H_actual_mV[:, c]], axis=1)
    mean, sd, n = level_stats(amp, level, n_lv, np.repeat(use[:, None], 2, axis=1))
    stats = [(mean[:, k], sd[:, k], n[:, k]) for k in range(2)]
    return recruitment(rec.levels_mA, stats[0], stats[1], (None, None), cfg)


def _grade_recruitment(g: Grade, rec, span: float, depression: float, t,
                       realised: RecruitmentResult | None) -> None:
    """Errors against the realised values (:func:`realised_recruitment`; the population values
    where a realised one is not determinable), interval coverage of the population values
    (the rested curves, H x the run's mean depression): an interval covers what the subject's
    responses vary around, not one draw of them."""
    hmax = t.Hmax_mV * depression
    true = {"hmax_mmax": hmax / t.Mmax_mV, "mmax_mV": t.Mmax_mV, "hmax_mV": hmax,
            "m_threshold_mA": t.M_threshold_mA, "h_threshold_mA": t.H_threshold_mA}
    for key, value in true.items():
        est = getattr(rec, key, None) if rec is not None else None
        if est is None:
            g.missing.append(key)
            continue
        real = getattr(realised, key, None) if realised is not None else None
        ref = value if real is None else real
        err = {"hmax_mmax": ("hmax_mmax_rel", est / ref - 1),
               "mmax_mV": ("mmax_rel", est / ref - 1),
               "m_threshold_mA": ("m_threshold_range", (est - ref) / span),
               "h_threshold_mA": ("h_threshold_range", (est - ref) / span)}.get(key)
        if err:
            setattr(g, *err)
        hit = _covers(rec.ci95.get(key), value)
        if hit is not None:
            g.covered[key] = hit


def run_case(preset: str, scenario: str, seed: int, protocol: str = "both",
             config: AnalysisConfig | None = None) -> list[Grade]:
    """Simulate, analyse and grade one case."""
    session, truth = simulate_case(preset, scenario, seed, protocol)
    result = analyze_session(session, config)
    return grade(f"{preset}/{scenario}/{protocol}/{seed}", session, truth, result, config)
