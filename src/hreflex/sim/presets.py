"""Named simulated subjects (presets), each value with its source.

Sources: "METHODS" = the project's sourced methods notes (METHODS.md) and the papers they
cite; "Mogyoros 1996" = Mogyoros, Kiernan & Burke, Brain 119:439 (strength-duration time
constants: sensory 665 ± 182 µs, motor 459 ± 126 µs). "[assumption]" marks a plausible
default that was not found in a source; "[fit]" marks values fitted so the model reproduces a
METHODS target (the fit is described in docs/SIMULATOR.md).
"""

from __future__ import annotations

from dataclasses import replace

from hreflex.errors import ConfigError
from hreflex.sim.params import ChannelParams, Depression, Preset, Wave

# -- rate-dependent depression ([fit] of 10-pulse trains, ratio = mean H of pulses 2..10
#    over the same at the reference frequency; targets from METHODS "RDD", all [assumption]
#    there: healthy 0.2 Hz 0.9, 1 Hz 0.45, 2 Hz 0.3, 5 Hz 0.15; spastic 1 Hz 0.8, 5 Hz 0.55;
#    rat SCI (0.3 Hz reference, Thompson 1992: depression reduced after SCI) 1 Hz 0.85,
#    2 Hz 0.75, 5 Hz 0.6, 10 Hz 0.5 [assumption]). Slow pool recovers over ~10 s (PAD > 8 s,
#    Crone & Nielsen 1989 via METHODS).
HEALTHY_RDD = Depression(fast_use=0.547, fast_tau_s=0.2, slow_use=0.515, slow_tau_s=3.3)
SPASTIC_RDD = Depression(fast_use=0.253, fast_tau_s=0.2, slow_use=0.125, slow_tau_s=3.07)
RAT_SCI_RDD = Depression(fast_use=0.203, fast_tau_s=0.278, slow_use=0.104, slow_tau_s=4.0)

# -- human surface EMG, shared by the human presets
_HUMAN = dict(
    species="human",
    pulse_width_us=1000.0,  # METHODS: 0.5-1 ms pulses
    motor_chronaxie_us=459.0,  # Mogyoros 1996
    sensory_chronaxie_us=665.0,  # Mogyoros 1996 (longer: 1 ms shifts H-vs-M left, METHODS)
    artifact_tau_ms=0.3,  # METHODS: artifact decays within ~1-2 ms in humans [assumption]
    artifact_length_ms=1.5,  # [assumption]
    mains_Hz=50.0,  # [assumption] European mains
    mains_uV=15.0,  # [assumption]
    emg_band_Hz=(20.0, 450.0),  # METHODS: human amplifiers 10-20 Hz to 1-10 kHz; surface EMG
    adc_range_mV=10.0,  # [assumption] gain 1000 into a +/-10 V ADC
    contraction_gain=5.0,  # [assumption] weak voluntary contraction raises background 5x
    contraction_H_gain=1.4,  # [assumption] H facilitated during voluntary contraction
    contraction_burst_s=(1.5, 3.5),  # [assumption]
    rdd_frequencies_Hz=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),  # METHODS: 0.1-10 Hz sets
    rdd_pulses=10,  # METHODS: 10-pulse trains, H2 = mean of pulses 2-10 (Oza 2017)
    rdd_rest_s=30.0,  # [assumption] > 8 s PAD recovery; residual < 0.1 % with these pools
    rdd_test_fraction_of_Hmax=0.75,  # METHODS: test H on the ascending limb, 20-40 % Mmax
)

_SOL_M = Wave(onset_ms=6.0, duration_ms=14.0, phases=3, skew=0.8)  # METHODS: M 6-20 ms, triphasic
_SOL_H = Wave(onset_ms=31.5, duration_ms=12.0, phases=3, skew=0.8)  # METHODS: H 31.5-43.5 ms
_MG_M = Wave(onset_ms=5.5, duration_ms=13.0, phases=2, skew=0.7)  # [assumption] near soleus
_MG_H = Wave(onset_ms=30.0, duration_ms=12.0, phases=2, skew=0.7)  # [assumption]

_VARIABILITY = dict(
    H_excitability_sd=0.25,  # [fit] H CV ~15 % at half Hmax (METHODS: 13-17 % rising limb)
    H_cv_floor=0.015,  # [fit] H CV ~3 % at the Hmax plateau (METHODS)
    M_threshold_sd=0.08,  # [assumption] small M variability
    M_cv_floor=0.01,  # [assumption]
)

_SOLEUS_HEALTHY = ChannelParams(
    name="SOL",
    muscle="soleus",
    Mmax_mV=8.0,  # [assumption] typical surface soleus Mmax
    M_I50_mA=30.0,  # [assumption] M threshold (5 %) ~18 mA at 1 ms
    M_slope_mA=4.0,  # [assumption] Boltzmann M (METHODS model)
    Hmax_over_Mmax=0.5,  # METHODS: healthy soleus 0.3-0.65
    H_I50_mA=17.0,  # [assumption] H threshold (5 %) ~9 mA, below M's
    H_slope_mA=2.5,  # [assumption] H recruited below M threshold (METHODS)
    collision_fraction=1.0,  # [assumption] full antidromic collision (METHODS: H falls as M grows)
    collision_exponent=1.5,  # [assumption] H abolished at Mmax
    M_wave=_SOL_M,
    H_wave=_SOL_H,
    **_VARIABILITY,
    background_uV=8.0,  # [assumption] resting surface EMG + amplifier noise
    dc_offset_mV=0.3,  # [assumption]
    artifact_mV_per_mA=0.08,  # [assumption] clips the ADC above ~125 mA only
)
_MG_HEALTHY = ChannelParams(
    name="MG",
    muscle="medial gastrocnemius",
    Mmax_mV=10.0,  # [assumption]
    M_I50_mA=28.0,  # [assumption] same tibial nerve, similar threshold
    M_slope_mA=4.0,  # [assumption]
    Hmax_over_Mmax=0.15,  # [assumption] gastrocnemius H smaller than soleus
    H_I50_mA=18.0,  # [assumption]
    H_slope_mA=2.5,  # [assumption]
    collision_fraction=1.0,  # [assumption] as soleus
    collision_exponent=1.5,  # [assumption]
    M_wave=_MG_M,
    H_wave=_MG_H,
    **_VARIABILITY,
    background_uV=8.0,  # [assumption]
    dc_offset_mV=-0.2,  # [assumption]
    artifact_mV_per_mA=0.05,  # [assumption]
)

SOLEUS_HEALTHY = Preset(
    name="soleus_healthy",
    nerve="tibial",
    condition="healthy",
    description="Healthy adult, tibial nerve at the popliteal fossa; soleus + medial "
    "gastrocnemius surface EMG.",
    sample_rate_Hz=5000.0,  # METHODS: human 2-5 kHz
    channels=(_SOLEUS_HEALTHY, _MG_HEALTHY),
    max_intensity_mA=100.0,  # [assumption] constant-current stimulator range
    depression=HEALTHY_RDD,
    recruitment_mA=(8.0, 52.0, 2.0),  # METHODS: ~0.5-1 mA steps; coarser here, 23 levels
    recruitment_sweeps=4,  # METHODS: public example ~4 sweeps per intensity
    recruitment_isi_s=8.0,
    recruitment_jitter_s=2.0,  # METHODS: >= 8-10 s between stimuli
    **_HUMAN,
)

_SOLEUS_SPASTIC = replace(
    _SOLEUS_HEALTHY,
    Mmax_mV=5.0,  # [assumption] smaller Mmax (disuse)
    Hmax_over_Mmax=0.75,  # METHODS: spastic 0.6-0.9 [assumption there]
    H_I50_mA=15.0,  # [assumption] lower H threshold
    collision_exponent=1.0,  # [assumption] H persists further into M recruitment
    H_wave=Wave(onset_ms=29.5, duration_ms=12.0, phases=3, skew=0.8),  # METHODS: shorter
)
_MG_SPASTIC = replace(
    _MG_HEALTHY,
    Mmax_mV=7.0,  # [assumption] smaller Mmax (disuse)
    Hmax_over_Mmax=0.3,  # [assumption]
    H_wave=Wave(onset_ms=28.5, duration_ms=12.0, phases=2, skew=0.7),  # METHODS: shorter
)
SOLEUS_SPASTIC = Preset(
    name="soleus_spastic",
    nerve="tibial",
    condition="spastic",
    description="Chronic SCI/stroke with spasticity: large H, weak rate-dependent depression; "
    "soleus + medial gastrocnemius.",
    sample_rate_Hz=2000.0,  # METHODS: example data at 2 kHz
    channels=(_SOLEUS_SPASTIC, _MG_SPASTIC),
    max_intensity_mA=100.0,  # [assumption] constant-current stimulator range
    depression=SPASTIC_RDD,  # [fit] weak RDD (METHODS)
    recruitment_mA=(6.0, 50.0, 2.0),  # [assumption] as healthy, shifted with the lower H threshold
    recruitment_sweeps=4,  # METHODS: ~4 sweeps per intensity
    recruitment_isi_s=8.0,
    recruitment_jitter_s=2.0,  # METHODS: >= 8-10 s between stimuli
    **_HUMAN,
)

FCR_HEALTHY = Preset(
    name="fcr_healthy",
    nerve="median",
    condition="healthy",
    description="Healthy adult, median nerve at the cubital fossa; flexor carpi radialis.",
    sample_rate_Hz=4000.0,  # METHODS: human 2-5 kHz
    channels=(
        ChannelParams(
            name="FCR",
            muscle="flexor carpi radialis",
            Mmax_mV=6.0,  # [assumption]
            M_I50_mA=14.0,  # [assumption] median nerve, lower thresholds than tibial
            M_slope_mA=1.8,  # [assumption]
            Hmax_over_Mmax=0.15,  # METHODS: FCR lower than soleus [assumption]
            H_I50_mA=8.0,  # [assumption] H first, as in soleus
            H_slope_mA=1.2,  # [assumption]
            collision_fraction=1.0,  # [assumption] full collision
            collision_exponent=1.5,  # [assumption]
            M_wave=Wave(onset_ms=3.5, duration_ms=9.0, phases=2, skew=0.7),  # METHODS: M 3-4 ms
            H_wave=Wave(onset_ms=15.9, duration_ms=10.0, phases=3, skew=0.8),  # METHODS: 15.9 ms
            **_VARIABILITY,
            background_uV=6.0,  # [assumption]
            dc_offset_mV=0.1,  # [assumption]
            artifact_mV_per_mA=0.15,  # [assumption]
        ),
    ),
    max_intensity_mA=50.0,  # [assumption] constant-current stimulator range
    depression=HEALTHY_RDD,  # [assumption] as healthy soleus
    recruitment_mA=(3.0, 25.0, 1.0),  # [assumption]
    recruitment_sweeps=4,  # METHODS: ~4 sweeps per intensity
    recruitment_isi_s=5.0,
    recruitment_jitter_s=1.0,  # METHODS: FCR at 0.2 Hz
    **_HUMAN,
)

RAT_SCI = Preset(
    name="rat_sci",
    species="rat",
    nerve="tibial",
    condition="SCI",
    description="Rat after spinal contusion, tibial nerve at the ankle; plantar (interosseous) "
    "intramuscular EMG.",
    sample_rate_Hz=20000.0,  # METHODS: rat >= 10 kHz (12.5-30 kHz seen)
    channels=(
        ChannelParams(
            name="PL",
            muscle="plantar interosseous",
            Mmax_mV=6.0,  # [assumption]
            M_I50_mA=0.7,  # [assumption] M threshold (5 %) ~0.35 mA
            M_slope_mA=0.12,  # [assumption]
            Hmax_over_Mmax=0.3,  # [assumption]; unchanged after contusion at 0.3 Hz (METHODS)
            H_I50_mA=0.62,  # [assumption] H threshold (5 %) ~0.5 mA, above M's (METHODS)
            H_slope_mA=0.04,  # [assumption] H threshold above M's (METHODS)
            collision_fraction=0.1,  # METHODS: H stays >= 90 % of Hmax at supramaximal M
            collision_exponent=1.0,  # METHODS: H >= 90 % Hmax at max M
            M_wave=Wave(onset_ms=2.0, duration_ms=3.0, phases=2, skew=0.8),  # METHODS: M ~2 ms
            H_wave=Wave(onset_ms=6.4, duration_ms=3.0, phases=2, skew=0.8),  # METHODS: 6.4 ms
            **_VARIABILITY,
            background_uV=10.0,  # [assumption] intramuscular EMG
            dc_offset_mV=0.2,  # [assumption]
            artifact_mV_per_mA=2.0,  # [assumption]
        ),
    ),
    pulse_width_us=200.0,  # [assumption] 0.1-0.2 ms typical in rodents
    max_intensity_mA=3.0,  # [assumption]
    motor_chronaxie_us=459.0,  # Mogyoros 1996 (human) [assumption]
    sensory_chronaxie_us=665.0,  # Mogyoros 1996 (human) [assumption]
    depression=RAT_SCI_RDD,
    artifact_tau_ms=0.05,  # [assumption] rat artifact shorter than human (METHODS)
    artifact_length_ms=0.4,  # [assumption] shorter than in humans
    mains_Hz=60.0,  # [assumption] North-American mains, to exercise 60 Hz
    mains_uV=15.0,  # [assumption]
    emg_band_Hz=(100.0, 3000.0),  # METHODS: rodent band-pass 100-3500 Hz
    adc_range_mV=10.0,  # [assumption]
    contraction_gain=5.0,  # [assumption]
    contraction_H_gain=1.4,  # [assumption]
    contraction_burst_s=(1.0, 3.0),  # [assumption]
    recruitment_mA=(0.3, 1.6, 0.05),  # [assumption]
    recruitment_sweeps=3,  # [assumption]
    recruitment_isi_s=3.0,  # [assumption] ~0.3 Hz, the rat RDD reference (METHODS)
    recruitment_jitter_s=0.5,  # [assumption]
    rdd_frequencies_Hz=(0.3, 1.0, 2.0, 5.0, 10.0),  # METHODS: 0.3 Hz baseline vs 5, 10 Hz
    rdd_pulses=10,  # METHODS: 10-pulse trains
    rdd_rest_s=30.0,  # [assumption] full recovery between trains
    rdd_test_fraction_of_Hmax=0.75,  # METHODS: test H on the ascending limb
)

PRESETS: dict[str, Preset] = {
    p.name: p for p in (SOLEUS_HEALTHY, SOLEUS_SPASTIC, FCR_HEALTHY, RAT_SCI)
}


def get_preset(name: str) -> Preset:
    """Preset by name; unknown names raise ``ConfigError`` listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}"
        ) from None
