"""Physiology model of H-reflex experiments: presets, streaming EMG synthesiser, ground truth.

See docs/SIMULATOR.md. Main entry points::

    from hreflex.sim import EmgSynth, get_preset, simulate_session, recruitment_truth
"""

from hreflex.sim.presets import PRESETS, get_preset
from hreflex.sim.session import SimulationTruth, default_schedule, simulate_session
from hreflex.sim.synth import EmgSynth, StimulusTruth
from hreflex.sim.truth import ChannelTruth, expected_rdd_ratios, recruitment_truth

__all__ = [
    "PRESETS",
    "ChannelTruth",
    "EmgSynth",
    "SimulationTruth",
    "StimulusTruth",
    "default_schedule",
    "expected_rdd_ratios",
    "get_preset",
    "recruitment_truth",
    "simulate_session",
]
