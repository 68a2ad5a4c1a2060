"""Ground truth of the model: what an ideal analysis should find.

Definitions (all on the noise-free, rested mean curves of ``model.response_curves``, at one
pulse width, over intensities 0..``preset.max_intensity_mA``, searched on a grid of
``model.GRID_POINTS`` points and refined with a scalar solver):

- ``Mmax_mV`` / ``Hmax_mV``: maximum of the M / H curve (peak-to-peak mV).
- ``intensity_at_Hmax_mA``: where H is maximal; ``M_at_Hmax_mV``: M there.
- ``M_threshold_mA`` / ``H_threshold_mA``: lowest intensity at which the curve reaches 5 % of
  its own maximum (NaN when the maximum is 0).
- ``M_onset_ms`` / ``H_onset_ms``: latency from the stimulus to the first non-zero sample
  of the wave (``Wave.onset_ms``); the wave is back to 0 at ``*_end_ms``. A noise-free sweep
  measured in [onset, end] gives the amplitude exactly.
- RDD ratio at frequency f: mean noise-free H (depressed, without contraction facilitation)
  of pulses 2..N of the trains at f divided by the same at the reference (lowest) frequency,
  with the depression state carried through the schedule in time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from hreflex.schedule import Schedule
from hreflex.schedule import rdd as rdd_schedule
from hreflex.sim.model import (
    GRID_POINTS,
    curve_params,
    depression_factors,
    depression_gate,
    response_curves,
)
from hreflex.sim.params import ChannelParams, Preset

THRESHOLD_FRACTION = 0.05


@dataclass(frozen=True)
class ChannelTruth:
    """Recruitment truth of one channel (see the module docstring for definitions)."""

    channel: str
    muscle: str
    pulse_width_us: float
    Mmax_mV: float
    Hmax_mV: float
    Hmax_over_Mmax: float
    M_threshold_mA: float
    H_threshold_mA: float
    intensity_at_Hmax_mA: float
    M_at_Hmax_mV: float
    M_onset_ms: float
    M_end_ms: float
    H_onset_ms: float
    H_end_ms: float


def reference_channel(channels: tuple[ChannelParams, ...]) -> int:
    """Index of the first channel with an H-reflex (it gates depression); 0 if none."""
    return next((i for i, c in enumerate(channels) if c.Hmax_over_Mmax > 0), 0)


def _first_crossing(f, grid: np.ndarray, values: np.ndarray, level: float) -> float:
    k = int(np.argmax(values >= level))
    if k == 0:
        return float(grid[0])
    return float(brentq(lambda x: f(x) - level, grid[k - 1], grid[k], xtol=1e-9))


def recruitment_truth(
    preset: Preset,
    pulse_width_us: float | None = None,
    channels: tuple[ChannelParams, ...] | None = None,
) -> tuple[ChannelTruth, ...]:
    """Truth of every channel (default: the preset's) at ``pulse_width_us`` (default: preset's)."""
    chans = preset.channels if channels is None else channels
    pw = preset.pulse_width_us if pulse_width_us is None else float(pulse_width_us)
    p = curve_params(preset, chans)
    grid = np.linspace(0.0, preset.max_intensity_mA, GRID_POINTS)
    M, H, _ = response_curves(p, grid, pw)
    out = []
    for c, ch in enumerate(chans):

        def m_at(x, c=c):
            return float(response_curves(p, x, pw)[0][c])

        def h_at(x, c=c):
            return float(response_curves(p, x, pw)[1][c])

        mmax = float(M[:, c].max())
        k = int(np.argmax(H[:, c]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        opt = minimize_scalar(
            lambda x, h=h_at: -h(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-9}
        )
        i_hmax, hmax = (opt.x, -opt.fun) if -opt.fun >= H[k, c] else (grid[k], H[k, c])
        out.append(
            ChannelTruth(
                channel=ch.name,
                muscle=ch.muscle,
                pulse_width_us=pw,
                Mmax_mV=mmax,
                Hmax_mV=float(hmax),
                Hmax_over_Mmax=float(hmax) / mmax,
                M_threshold_mA=_first_crossing(m_at, grid, M[:, c], THRESHOLD_FRACTION * mmax),
                H_threshold_mA=_first_crossing(h_at, grid, H[:, c], THRESHOLD_FRACTION * hmax)
                if hmax > 0
                else float("nan"),
                intensity_at_Hmax_mA=float(i_hmax) if hmax > 0 else float("nan"),
                M_at_Hmax_mV=m_at(i_hmax) if hmax > 0 else float("nan"),
                M_onset_ms=ch.M_wave.onset_ms,
                M_end_ms=ch.M_wave.end_ms,
                H_onset_ms=ch.H_wave.onset_ms,
                H_end_ms=ch.H_wave.end_ms,
            )
        )
    return tuple(out)


def intensity_for_H_fraction(
    preset: Preset,
    fraction: float,
    channel: int | None = None,
    pulse_width_us: float | None = None,
) -> float:
    """Ascending-limb intensity (mA) at which the rested H curve is ``fraction`` × Hmax."""
    c = reference_channel(preset.channels) if channel is None else channel
    pw = preset.pulse_width_us if pulse_width_us is None else pulse_width_us
    t = recruitment_truth(preset, pw)[c]
    p = curve_params(preset)
    return float(
        brentq(
            lambda x: response_curves(p, x, pw)[1][c] - fraction * t.Hmax_mV,
            0.0,
            t.intensity_at_Hmax_mA,
            xtol=1e-9,
        )
    )


def rdd_test_intensity(preset: Preset) -> float:
    """Default RDD test intensity: H = ``preset.rdd_test_fraction_of_Hmax`` × Hmax, rising limb."""
    return intensity_for_H_fraction(preset, preset.rdd_test_fraction_of_Hmax)


def schedule_responses(
    preset: Preset, schedule: Schedule, channels: tuple[ChannelParams, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free responses to a schedule run in time order, starting rested.

    Returns ``(M_mV, H_rested_mV, depression)`` of shapes (n, n_ch), (n, n_ch), (n,); the
    delivered H is ``H_rested_mV * depression[:, None]`` (times the contraction gain when a
    stimulus falls in a voluntary burst).
    """
    chans = preset.channels if channels is None else channels
    M, H, drive = response_curves(
        curve_params(preset, chans), schedule.intensity_mA, schedule.pulse_width_us
    )
    gate = depression_gate(drive[:, reference_channel(chans)])
    return M, H, depression_factors(preset.depression, schedule.time_s, gate)


def rdd_ratios(schedule: Schedule, h_mV: np.ndarray) -> dict[float, float]:
    """RDD ratio per nominal frequency from per-stimulus H values (n,) of ``schedule``.

    Mean over pulses with ``pulse_index >= 1`` at each frequency, divided by the same at the
    lowest frequency. Empty dict when the schedule has no trains.
    """
    sel = (schedule.pulse_index >= 1) & np.isfinite(schedule.nominal_frequency_Hz)
    if not sel.any():
        return {}
    freqs, inverse = np.unique(schedule.nominal_frequency_Hz[sel], return_inverse=True)
    means = np.bincount(inverse, weights=h_mV[sel]) / np.bincount(inverse)
    return {float(f): float(m / means[0]) for f, m in zip(freqs, means, strict=True)}


def expected_rdd_ratios(
    preset: Preset,
    frequencies_Hz: tuple[float, ...] | None = None,
    pulses_per_train: int | None = None,
    intensity_mA: float | None = None,
    rest_s: float | None = None,
    pulse_width_us: float | None = None,
) -> dict[float, float]:
    """Expected RDD ratios for a train design (defaults: the preset's RDD protocol).

    The trains are run in the given order with ``rest_s`` between them (so incomplete recovery
    after a short rest is included); the reference is the lowest frequency.
    """
    sched = rdd_schedule(
        preset.rdd_frequencies_Hz if frequencies_Hz is None else frequencies_Hz,
        intensity_mA=rdd_test_intensity(preset) if intensity_mA is None else intensity_mA,
        pulses_per_train=preset.rdd_pulses if pulses_per_train is None else pulses_per_train,
        rest_s=preset.rdd_rest_s if rest_s is None else rest_s,
        pulse_width_us=preset.pulse_width_us if pulse_width_us is None else pulse_width_us,
    )
    _, H, D = schedule_responses(preset, sched)
    return rdd_ratios(sched, H[:, reference_channel(preset.channels)] * D)
