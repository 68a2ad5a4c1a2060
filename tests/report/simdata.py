"""Short simulated sessions for the report and batch tests (each simulated once per run)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hreflex.io.session import Session
from hreflex.schedule import concat, rdd, recruitment
from hreflex.sim import SimulationTruth, get_preset, simulate_session
from hreflex.sim.truth import rdd_test_intensity

PRESETS = ("soleus_healthy", "soleus_spastic", "fcr_healthy", "rat_sci")


@cache
def short_session(preset: str, seed: int = 1, *, protocol: str = "both", levels: int = 12,
                  hmax_over_mmax: float | None = None) -> tuple[Session, SimulationTruth]:
    """A quick session: recruitment (``levels`` intensities x 2 sweeps over the preset's
    range) and/or RDD (the preset's lowest frequency, 1 and 5 Hz, 6-pulse trains).
    ``hmax_over_mmax`` replaces every channel's H size (0 = no H-reflex)."""
    p = get_preset(preset)
    if hmax_over_mmax is not None:
        p = replace(p, channels=tuple(replace(c, Hmax_over_Mmax=hmax_over_mmax)
                                      for c in p.channels))
    lo, hi, _ = p.recruitment_mA
    parts = []
    if protocol in ("recruitment", "both"):
        parts.append(recruitment(start_mA=lo, stop_mA=hi, step_mA=(hi - lo) / (levels - 1),
                                 sweeps=2, isi_s=p.recruitment_isi_s / 2, jitter_s=1.0,
                                 randomize=True, seed=seed, pulse_width_us=p.pulse_width_us))
    if protocol in ("rdd", "both"):
        parts.append(rdd([p.rdd_frequencies_Hz[0], 1.0, 5.0],
                         intensity_mA=round(rdd_test_intensity(p), 2), pulses_per_train=6,
                         rest_s=10.0, pulse_width_us=p.pulse_width_us))
    return simulate_session(p, concat(*parts, gap_s=10.0), seed=seed)
