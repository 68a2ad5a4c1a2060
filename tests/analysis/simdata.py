"""Simulated sessions shared by the analysis tests (each one is simulated once per run)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hreflex.analysis import analyze_session
from hreflex.schedule import recruitment
from hreflex.sim import default_schedule, get_preset, simulate_session

PRESETS = ("soleus_healthy", "soleus_spastic", "fcr_healthy", "rat_sci")


@cache
def simulated(preset: str, seed: int, contraction: float = 0.1, noise: bool = True):
    """Default protocol (recruitment + RDD) of a preset: ``(session, truth, result)``."""
    p = get_preset(preset)
    session, truth = simulate_session(p, default_schedule(p, "both", seed=seed), seed=seed,
                                      noise=noise, contraction_probability=contraction)
    return session, truth, analyze_session(session)


@cache
def short_recruitment(preset: str = "soleus_healthy", seed: int = 0, **channel_changes):
    """A quick recruitment-only session (12 intensities x 2), optionally with changed channel
    parameters (e.g. ``Hmax_over_Mmax=0.0``): ``(session, truth)``."""
    p = get_preset(preset)
    if channel_changes:
        p = replace(p, channels=tuple(replace(c, **channel_changes) for c in p.channels))
    lo, hi, _ = p.recruitment_mA
    sched = recruitment(start_mA=lo, stop_mA=hi, step_mA=(hi - lo) / 11, sweeps=2,
                        isi_s=p.recruitment_isi_s / 2, jitter_s=1.0, randomize=True, seed=seed,
                        pulse_width_us=p.pulse_width_us)
    return simulate_session(p, sched, seed=seed)
