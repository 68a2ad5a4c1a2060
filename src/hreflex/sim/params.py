"""Parameter records of the physiology model (no behaviour; see ``model.py``).

All records are frozen (hashable), so derived quantities can be cached per preset.
Intensities are in mA at the preset's reference pulse width, amplitudes are peak-to-peak mV.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wave:
    """Shape and timing of one evoked wave (M or H) on one channel.

    The wave is ``sin(pi u) * sin(phases * pi * u**skew)`` for ``u = (t - onset) / duration``
    in [0, 1] and exactly 0 outside, multiplied by ``polarity``, sampled, then scaled to a
    sampled peak-to-peak of exactly 1. It leaves the baseline at ``onset_ms`` (C1-smooth).
    """

    onset_ms: float  #: latency from the stimulus (pulse leading edge) to the wave's first sample
    duration_ms: float  #: from onset back to baseline
    phases: int = 3  #: 2 = biphasic, 3 = triphasic
    skew: float = 1.0  #: < 1 compresses the early phases (steeper rise), 1 = symmetric phases
    polarity: float = -1.0  #: sign of the first phase (-1: negative first)

    @property
    def end_ms(self) -> float:
        return self.onset_ms + self.duration_ms


@dataclass(frozen=True)
class ChannelParams:
    """One recorded muscle: recruitment, waveforms, variability, background.

    Response model (noise-free, rested), with ``s(x) = 1 / (1 + exp(-x))``::

        m(I) = s((I_M - M_I50) / M_slope)                       # motor axon recruitment, 0..1
        a(I) = s((I_H - H_I50) / H_slope)                       # Ia afferent drive, 0..1
        M(I) = Mmax * m(I)
        H(I) = G * a(I) * (1 - collision_fraction * m(I)) ** collision_exponent

    ``I_M``/``I_H`` are the pulse-width-corrected intensities (``model.effective_intensity``);
    the gain ``G`` is derived (per pulse width) so that the maximum of H over
    0..``Preset.max_intensity_mA`` equals ``Hmax_over_Mmax * Mmax``.
    """

    name: str  #: channel label, e.g. "SOL"
    muscle: str  #: e.g. "soleus"
    Mmax_mV: float  #: M-wave plateau, peak-to-peak
    M_I50_mA: float  #: intensity of half-maximal M
    M_slope_mA: float  #: Boltzmann slope factor of M recruitment
    Hmax_over_Mmax: float  #: target Hmax / Mmax (0 = no H-reflex on this channel)
    H_I50_mA: float  #: intensity of half-maximal afferent drive
    H_slope_mA: float  #: Boltzmann slope factor of the afferent drive
    collision_fraction: float  #: share of the H volley that antidromic motor volleys can cancel
    collision_exponent: float  #: steepness of the H decline as M grows
    M_wave: Wave
    H_wave: Wave
    H_excitability_sd: float  #: trial SD of a shift of the H drive curve, in units of H_slope
    H_cv_floor: float  #: extra multiplicative trial CV of H (sets the plateau CV)
    M_threshold_sd: float  #: trial SD of a shift of the M curve, in units of M_slope
    M_cv_floor: float  #: extra multiplicative trial CV of M
    background_uV: float  #: RMS of resting background EMG (band-limited)
    dc_offset_mV: float  #: amplifier/electrode DC offset
    artifact_mV_per_mA: float  #: stimulus-artifact peak per mA of stimulus
    # -- optional realism (the defaults switch each one off) ---------------------------------
    M_latency_shift_ms: float = 0.0  #: extra M latency at weak recruitment: + shift * (1 - m(I))
    H_latency_shift_ms: float = 0.0  #: extra H latency at weak drive: + shift * (1 - a(I))
    latency_jitter_ms: float = 0.0  #: trial SD of each wave's onset (M and H independently)
    late_wave: Wave | None = None  #: a stimulus-locked wave whose size does not depend on I
    late_mV: float = 0.0  #: its peak-to-peak, for every stimulus with I > 0 (trial CV 5 %)


@dataclass(frozen=True)
class Depression:
    """Rate-dependent (post-activation) depression of H: two pools, multiplied.

    Each pool ``d`` (1 = rested) recovers as ``1 - d`` decays with ``tau_s``; a stimulus first
    reads ``D = d_fast * d_slow`` (scaling H), then each pool is pushed down:
    ``d <- d * (1 - use * g(I))`` with ``g = min(1, 2 a(I))`` (afferent drive of the first
    channel with an H-reflex, so sub-threshold stimuli do not depress).
    """

    fast_use: float
    fast_tau_s: float
    slow_use: float
    slow_tau_s: float


@dataclass(frozen=True)
class Preset:
    """A complete simulated subject/preparation plus its default protocol."""

    name: str
    species: str  #: "human" or "rat"
    nerve: str
    condition: str  #: e.g. "healthy", "spastic", "SCI"
    description: str
    sample_rate_Hz: float  #: default sampling rate
    channels: tuple[ChannelParams, ...]
    pulse_width_us: float  #: reference (and default) pulse width; curves are given at this width
    max_intensity_mA: float  #: top of the stimulator range (truth is searched in 0..this)
    motor_chronaxie_us: float  #: strength-duration time constant of motor axons
    sensory_chronaxie_us: float  #: same for Ia afferents (longer: wide pulses favour H)
    depression: Depression
    artifact_tau_ms: float  #: decay constant of the artifact tail after the pulse
    artifact_length_ms: float  #: artifact is tapered to exactly 0 this long after pulse end
    mains_Hz: float
    mains_uV: float  #: amplitude of the mains fundamental (3rd harmonic at 30 %)
    emg_band_Hz: tuple[float, float]  #: band of background EMG
    adc_range_mV: float  #: amplifier/ADC input range is +/- this (signals are clipped)
    contraction_gain: float  #: background EMG RMS multiplier inside a voluntary burst
    contraction_H_gain: float  #: H facilitation factor for stimuli inside a burst
    contraction_burst_s: tuple[float, float]  #: burst duration range (uniform)
    # default protocol
    recruitment_mA: tuple[float, float, float]  #: start, stop, step
    recruitment_sweeps: int
    recruitment_isi_s: float
    recruitment_jitter_s: float
    rdd_frequencies_Hz: tuple[float, ...]  #: the first one is the reference
    rdd_pulses: int
    rdd_rest_s: float
    rdd_test_fraction_of_Hmax: float  #: RDD test intensity: ascending-limb H = this * Hmax
    artifact_tail: float = 0.4  #: size of the artifact's after-pulse tail, relative to the pulse
    drift_uV: float = 0.0  #: RMS of slow baseline wander (electrode/movement), 0 = none
    drift_band_Hz: tuple[float, float] = (0.2, 2.0)  #: frequencies of that wander

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]
