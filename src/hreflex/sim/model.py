"""Pure physiology model: recruitment curves, depression, waveform templates.

Everything here is a deterministic function of parameters (``params.py``); the random and
stateful parts live in ``synth.py``. Conventions: intensities in mA, pulse widths in µs,
amplitudes peak-to-peak in mV, times in s unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hreflex.sim.params import ChannelParams, Depression, Preset, Wave

#: intensity grid size used to derive H gains and to search truth values
GRID_POINTS = 20001


def boltzmann(x: np.ndarray | float, x50: np.ndarray | float, slope: np.ndarray | float):
    """Logistic ``1 / (1 + exp(-(x - x50) / slope))`` (overflow-free), same shape as broadcast."""
    return 0.5 * (1.0 + np.tanh((np.asarray(x) - x50) / (2.0 * np.asarray(slope))))


def effective_intensity(
    intensity_mA: np.ndarray | float,
    pulse_width_us: np.ndarray | float,
    chronaxie_us: np.ndarray | float,
    reference_us: float,
):
    """Intensity that the reference pulse width would need for the same axon recruitment.

    Weiss strength-duration law: threshold current ∝ ``1 + chronaxie / pulse_width``, so
    ``I_eff = I * (1 + chronaxie / reference) / (1 + chronaxie / pulse_width)``.
    """
    return (
        np.asarray(intensity_mA)
        * (1 + chronaxie_us / reference_us)
        / (1 + chronaxie_us / np.asarray(pulse_width_us))
    )


@dataclass(frozen=True, eq=False)
class CurveParams:
    """Recruitment parameters of n channels as arrays of shape (n_channels,)."""

    Mmax_mV: np.ndarray
    M_I50_mA: np.ndarray
    M_slope_mA: np.ndarray
    H_I50_mA: np.ndarray
    H_slope_mA: np.ndarray
    collision_fraction: np.ndarray
    collision_exponent: np.ndarray
    Hmax_mV: np.ndarray  #: target Hmax = Hmax_over_Mmax * Mmax
    motor_chronaxie_us: float
    sensory_chronaxie_us: float
    reference_pulse_width_us: float
    max_intensity_mA: float
    _gains: dict = field(default_factory=dict, repr=False)  # pulse width -> H gain (n_ch,)

    def H_gain_mV(self, pulse_width_us: float) -> np.ndarray:
        """Gain G at one pulse width, so that max over 0..max_intensity of H is Hmax_mV."""
        pw = float(pulse_width_us)
        if pw not in self._gains:
            grid = np.linspace(0.0, self.max_intensity_mA, GRID_POINTS)
            peak = _raw_curves(self, grid, pw)[2].max(axis=0)
            self._gains[pw] = np.divide(self.Hmax_mV, peak, out=np.zeros_like(peak), where=peak > 0)
        return self._gains[pw]


def _raw_curves(p: CurveParams, intensity_mA, pulse_width_us, M_shift_mA=0.0, H_shift_mA=0.0):
    I = np.asarray(intensity_mA, dtype=float)[..., None]  # noqa: E741
    pw = np.asarray(pulse_width_us, dtype=float)[..., None]
    i_m = effective_intensity(I, pw, p.motor_chronaxie_us, p.reference_pulse_width_us)
    i_h = effective_intensity(I, pw, p.sensory_chronaxie_us, p.reference_pulse_width_us)
    m = boltzmann(i_m + M_shift_mA, p.M_I50_mA, p.M_slope_mA)
    drive = boltzmann(i_h + H_shift_mA, p.H_I50_mA, p.H_slope_mA)
    h_shape = drive * np.clip(1 - p.collision_fraction * m, 0, None) ** p.collision_exponent
    return m, drive, h_shape


@lru_cache(maxsize=64)
def curve_params(preset: Preset, channels: tuple[ChannelParams, ...] | None = None) -> CurveParams:
    """Stack the recruitment parameters of ``channels`` (default: the preset's channels)."""
    chans = preset.channels if channels is None else channels
    col = {
        f: np.array([getattr(c, f) for c in chans], dtype=float)
        for f in (
            "Mmax_mV",
            "M_I50_mA",
            "M_slope_mA",
            "H_I50_mA",
            "H_slope_mA",
            "collision_fraction",
            "collision_exponent",
            "Hmax_over_Mmax",
        )
    }
    col["Hmax_mV"] = col.pop("Hmax_over_Mmax") * col["Mmax_mV"]
    return CurveParams(
        **col,
        motor_chronaxie_us=preset.motor_chronaxie_us,
        sensory_chronaxie_us=preset.sensory_chronaxie_us,
        reference_pulse_width_us=preset.pulse_width_us,
        max_intensity_mA=preset.max_intensity_mA,
    )


def response_curves(
    p: CurveParams,
    intensity_mA: np.ndarray | float,
    pulse_width_us: np.ndarray | float,
    M_shift_mA: np.ndarray | float = 0.0,
    H_shift_mA: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rested (undepressed) M and H amplitudes and the afferent drive.

    ``intensity_mA`` and ``pulse_width_us`` broadcast to a shape S; the shifts (mA, added to
    the effective intensity; positive = more excitable) broadcast to S + (n_channels,).
    Returns ``(M_mV, H_mV, drive)``, each of shape S + (n_channels,); drive is in 0..1.
    The H gain is derived per pulse width, so Hmax and Mmax do not depend on pulse width
    while the curves shift (Lagerquist & Collins 2008).
    """
    amps, pw = np.broadcast_arrays(
        np.asarray(intensity_mA, float), np.asarray(pulse_width_us, float)
    )
    m, drive, h_shape = _raw_curves(p, amps, pw, M_shift_mA, H_shift_mA)
    widths, inverse = np.unique(pw, return_inverse=True)
    gains = np.stack([p.H_gain_mV(w) for w in widths])[inverse.reshape(pw.shape)]
    return p.Mmax_mV * m, gains * h_shape, drive


def depression_gate(drive: np.ndarray) -> np.ndarray:
    """How strongly a stimulus depresses (0..1) from its afferent drive: ``min(1, 2 drive)``."""
    return np.minimum(1.0, 2.0 * np.asarray(drive))


def _pools(dep: Depression) -> tuple[np.ndarray, np.ndarray]:
    return np.array([dep.fast_use, dep.slow_use]), np.array([dep.fast_tau_s, dep.slow_tau_s])


def recover(pools: np.ndarray, dt_s: float, dep: Depression) -> np.ndarray:
    """Pool states after ``dt_s`` seconds of recovery (1 = rested)."""
    return 1.0 - (1.0 - pools) * np.exp(-dt_s / _pools(dep)[1])


def deplete(pools: np.ndarray, gate: float, dep: Depression) -> np.ndarray:
    """Pool states right after a stimulus with depression gate ``gate`` (0..1)."""
    return pools * (1.0 - _pools(dep)[0] * gate)


def depression_factors(dep: Depression, time_s: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Depression factor D (0..1] seen by each stimulus of a sequence starting rested.

    ``time_s`` (n,) non-decreasing stimulus times, ``gate`` (n,) from :func:`depression_gate`.
    The recursion is sequential by nature (one scalar step per stimulus, no array work).
    """
    time_s = np.asarray(time_s, dtype=float)
    gate = np.broadcast_to(np.asarray(gate, dtype=float), time_s.shape)
    out = np.empty(time_s.shape)
    pools, last = np.ones(2), None
    for n, (t, g) in enumerate(zip(time_s, gate, strict=True)):
        if last is not None:
            pools = recover(pools, t - last, dep)
        out[n] = pools.prod()
        pools, last = deplete(pools, g, dep), t
    return out


def wave_template(wave: Wave, sample_rate_Hz: float, n_samples: int) -> np.ndarray:
    """Sampled wave, sample k at ``k / sample_rate_Hz`` after the stimulus, shape (n_samples,).

    Scaled so that the *sampled* peak-to-peak is exactly 1 (so a noise-free sweep measured in
    the wave's window gives back the amplitude exactly, at any sampling rate).
    """
    t_ms = np.arange(n_samples) * (1000.0 / sample_rate_Hz)
    u = (t_ms - wave.onset_ms) / wave.duration_ms
    inside = (u > 0) & (u < 1)
    u = np.where(inside, u, 0.0)
    w = np.where(inside, np.sin(np.pi * u) * np.sin(wave.phases * np.pi * u**wave.skew), 0.0)
    ptp = np.ptp(w)
    if ptp <= 0:
        raise ValueError(f"wave of {wave.duration_ms} ms is too short for {sample_rate_Hz} Hz")
    return wave.polarity * w / ptp


def artifact_template(
    pulse_width_us: float, sample_rate_Hz: float, tau_ms: float, length_ms: float,
    tail: float = 0.4,
) -> np.ndarray:
    """Stimulus artifact with peak 1: +1 during the pulse, then a tail of ``-tail`` decaying
    with ``tau_ms`` and tapered (raised cosine) to exactly 0 at ``length_ms`` after the pulse
    end. Sample 0 is the pulse's leading edge. Shape (n,) with n covering pulse + tail."""
    pw_ms = pulse_width_us / 1000.0
    n = int(np.ceil((pw_ms + length_ms) * sample_rate_Hz / 1000.0)) + 1
    t_ms = np.arange(n) * (1000.0 / sample_rate_Hz)
    after = np.clip(t_ms - pw_ms, 0.0, length_ms)
    decay = -tail * np.exp(-after / tau_ms) * 0.5 * (1 + np.cos(np.pi * after / length_ms))
    return np.where(t_ms < pw_ms, 1.0, decay)
