"""Measurement helpers for the simulator tests (independent of the model's formulas)."""

from __future__ import annotations

import numpy as np

from hreflex.sim.params import Preset
from hreflex.sim.synth import EmgSynth


def rested_sweep(
    preset: Preset,
    intensity_mA: float,
    pulse_width_us: float | None = None,
    sample_rate_Hz: float | None = None,
    length_ms: float = 60.0,
) -> np.ndarray:
    """Noise-free sweep (mV, (n, n_channels)) of one stimulus at sample 0 on a fresh synth."""
    fs = preset.sample_rate_Hz if sample_rate_Hz is None else sample_rate_Hz
    synth = EmgSynth(preset, fs, noise=False)
    synth.stimulate(
        0, intensity_mA, preset.pulse_width_us if pulse_width_us is None else pulse_width_us
    )
    return synth.generate(int(length_ms * fs / 1000)) * 1e3


def ptp_in_window(x: np.ndarray, fs: float, start_ms: float, end_ms: float, axis: int = -2):
    """Peak-to-peak of ``x`` over samples with start_ms <= t <= end_ms (t = index / fs)."""
    t_ms = np.arange(x.shape[axis]) * 1000.0 / fs
    sel = np.flatnonzero((t_ms >= start_ms) & (t_ms <= end_ms))
    return np.ptp(np.take(x, sel, axis=axis), axis=axis)


def nonzero_runs(x: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) sample ranges where the 1-D signal ``x`` is not exactly 0."""
    nz = np.r_[False, x != 0, False].astype(int)
    edges = np.flatnonzero(np.diff(nz))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
