"""Variants of the presets that real recordings show and the presets alone do not.

A scenario is a pure function ``Preset -> Preset`` (``dataclasses.replace`` of a few fields),
so any preset can be simulated with any scenario: ``apply_scenario(get_preset("fcr_healthy"),
"h_after_m")``. They exist to validate the analysis on more than one waveform model
(``bench/bench_accuracy.py``, ``tests/analysis/test_corpus.py``); the truth of a variant is
derived exactly as for the preset (``sim/truth.py``).

| name | what changes |
|---|---|
| ``preset`` | nothing |
| ``biphasic`` / ``triphasic`` / ``polyphasic`` | both waves get 2 / 3 / 5 (M) and 4 (H) phases |
| ``variable`` | latencies shorten with recruitment (M 0.5 ms, H 1 ms; rat 0.15/0.3) + trial jitter |
| ``h_after_m`` | the M-wave lasts until the H onset: no quiet gap between them (forearm-like) |
| ``late_wave`` | a stimulus-locked wave whose size does not depend on intensity (present below
  threshold), between M and H when there is room, else after H |
| ``weak_channel`` | a second channel at 1/10 of the first one's amplitudes under twice the
  first one's artifact |
| ``long_artifact`` | the artifact tail lasts into the M-wave (τ 2.5 ms over 15 ms; rat 0.4/4 ms) |
| ``drift`` | slow baseline wander (0.2–3 Hz, 150 µV RMS; rat 100 µV) |
| ``noisy`` | background EMG and mains × 4 |
| ``low_rate`` | sampled at 2 kHz (rat 10 kHz) |
| ``single_sweeps`` | the recruitment a clinical ramp: one sweep per intensity, at half the step |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from hreflex.errors import ConfigError
from hreflex.sim.params import ChannelParams, Preset, Wave


def _rat(p: Preset) -> bool:
    return p.species == "rat"


def _waves(p: Preset, m_phases: int, h_phases: int, skew: float) -> Preset:
    return replace(p, channels=tuple(
        replace(c, M_wave=replace(c.M_wave, phases=m_phases, skew=skew),
                H_wave=replace(c.H_wave, phases=h_phases, skew=skew)) for c in p.channels))


def _variable(p: Preset) -> Preset:
    m, h, j = (0.15, 0.3, 0.05) if _rat(p) else (0.5, 1.0, 0.15)
    return replace(p, channels=tuple(
        replace(c, M_latency_shift_ms=m, H_latency_shift_ms=h, latency_jitter_ms=j)
        for c in p.channels))


def _h_after_m(p: Preset) -> Preset:
    return replace(p, channels=tuple(
        replace(c, M_wave=replace(c.M_wave, duration_ms=c.H_wave.onset_ms - c.M_wave.onset_ms))
        for c in p.channels))


def _late_wave(p: Preset) -> Preset:
    def one(c: ChannelParams) -> ChannelParams:
        gap = (c.M_wave.end_ms + 1.0, c.H_wave.onset_ms - 2.5)
        if gap[1] - gap[0] >= 5.0:  # room between M and H (soleus: like F-wave-free 21-29 ms)
            wave = Wave(gap[0], gap[1] - gap[0], phases=2, skew=1.0, polarity=1.0)
        else:  # after H, as long as H
            start = c.H_wave.end_ms + (1.5 if _rat(p) else 4.0)
            wave = Wave(start, c.H_wave.duration_ms, phases=2, skew=1.0, polarity=1.0)
        return replace(c, late_wave=wave, late_mV=0.08 * c.Mmax_mV)
    return replace(p, channels=tuple(one(c) for c in p.channels))


def _weak_channel(p: Preset) -> Preset:
    strong = replace(p.channels[0], artifact_mV_per_mA=2 * p.channels[0].artifact_mV_per_mA)
    weak = replace(strong, name=f"{strong.name}w", Mmax_mV=strong.Mmax_mV / 10,
                   dc_offset_mV=-strong.dc_offset_mV)
    return replace(p, channels=(strong, weak))


def _long_artifact(p: Preset) -> Preset:
    tau, length = (0.4, 4.0) if _rat(p) else (2.5, 15.0)
    return replace(p, artifact_tau_ms=tau, artifact_length_ms=length)


def _drift(p: Preset) -> Preset:
    return replace(p, drift_uV=100.0 if _rat(p) else 150.0, drift_band_Hz=(0.2, 3.0))


def _noisy(p: Preset) -> Preset:
    return replace(p, mains_uV=4 * p.mains_uV, channels=tuple(
        replace(c, background_uV=4 * c.background_uV) for c in p.channels))


def _low_rate(p: Preset) -> Preset:
    return replace(p, sample_rate_Hz=10000.0 if _rat(p) else 2000.0)


def _single_sweeps(p: Preset) -> Preset:
    start, stop, step = p.recruitment_mA
    return replace(p, recruitment_mA=(start, stop, step / 2), recruitment_sweeps=1)


SCENARIOS: dict[str, Callable[[Preset], Preset]] = {
    "preset": lambda p: p,
    "biphasic": lambda p: _waves(p, 2, 2, 0.8),
    "triphasic": lambda p: _waves(p, 3, 3, 0.8),
    "polyphasic": lambda p: _waves(p, 5, 4, 0.7),
    "variable": _variable,
    "h_after_m": _h_after_m,
    "late_wave": _late_wave,
    "weak_channel": _weak_channel,
    "long_artifact": _long_artifact,
    "drift": _drift,
    "noisy": _noisy,
    "low_rate": _low_rate,
    "single_sweeps": _single_sweeps,
}


def apply_scenario(preset: Preset, name: str) -> Preset:
    """``preset`` changed as scenario ``name`` says (its name gains ``+name``); unknown names
    raise ``ConfigError`` listing the valid ones."""
    try:
        change = SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; valid scenarios: "
                          f"{', '.join(SCENARIOS)}") from None
    out = change(preset)
    return out if name == "preset" else replace(out, name=f"{preset.name}+{name}")
