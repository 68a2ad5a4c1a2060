"""Streaming EMG synthesiser: continuous multi-channel EMG with evoked responses on demand.

``EmgSynth.generate(n)`` returns the next n samples (volts, (n, n_channels)); stimuli
registered with ``stimulate`` add their artifact + M + H from their sample index on.

What is in the signal (``noise=False`` keeps only the first two, so a sweep is exactly the
artifact plus the noise-free M and H):

1. stimulus artifact (``model.artifact_template`` × ``artifact_mV_per_mA`` × intensity);
2. M and H waves (``model.wave_template``) with per-stimulus amplitudes;
3. trial-to-trial variability: the M and H drive curves are shifted by Gaussian amounts
   (SD ``M_threshold_sd``·M_slope, ``H_excitability_sd``·H_slope), then amplitudes get a
   multiplicative Gaussian CV floor (``M_cv_floor``, ``H_cv_floor``);
4. background EMG: white noise through a 1st-order Butterworth band-pass (``emg_band_Hz``)
   scaled to ``background_uV`` RMS; inside voluntary-contraction bursts multiplied by
   ``contraction_gain`` (50 ms raised-cosine ramps);
5. mains at ``mains_Hz`` (+30 % third harmonic), random phase per channel; DC offset;
   slow baseline wander (``drift_uV`` RMS, four sinusoids in ``drift_band_Hz``) when set;
6. clipping at ± ``adc_range_mV``.

Optional per channel: latencies that shorten with recruitment (``M_latency_shift_ms`` ×
(1 − m), ``H_latency_shift_ms`` × (1 − a)) and trial jitter (``latency_jitter_ms``), and a
``late_wave`` of fixed size (``late_mV``) after every stimulus, whatever its intensity.

Contraction bursts are a random process in time (its own random stream): durations uniform
in ``contraction_burst_s``, gaps exponential with a mean that makes the fraction of time in
bursts equal ``contraction_probability``. A stimulus is "in a contraction" (flagged, and its
H multiplied by ``contraction_H_gain``) when the burst is fully on from 100 ms before it to
the stimulus itself, so its pre-stimulus background is raised.

Random streams (background, trial variability, bursts, mains phase, drift) are independent
children of ``seed``, so the output does not depend on how ``generate`` calls are split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from hreflex.errors import ConfigError
from hreflex.sim.model import (
    artifact_template,
    curve_params,
    deplete,
    depression_gate,
    recover,
    response_curves,
    wave_template,
)
from hreflex.sim.params import Preset
from hreflex.sim.truth import reference_channel

BURST_RAMP_S = 0.05
CONTRACTION_PRE_S = 0.1
_WARMUP_S = 0.5
_CHUNK = 4096


@dataclass(frozen=True)
class StimulusTruth:
    """What one stimulus evoked. Arrays have shape (n_channels,), amplitudes peak-to-peak mV.

    ``M_mV``/``H_mV`` are noise-free (no trial variability) but include depression and, for
    stimuli in a contraction, the H facilitation; ``*_actual_mV`` are the amplitudes of the
    waves actually added (with trial variability; equal to the noise-free ones when
    ``noise=False``). ``H_rested_mV`` is H without depression or facilitation.
    """

    sample_index: int
    intensity_mA: float
    pulse_width_us: float
    M_mV: np.ndarray
    H_mV: np.ndarray
    M_actual_mV: np.ndarray
    H_actual_mV: np.ndarray
    H_rested_mV: np.ndarray
    depression: float
    contraction: bool


def derived_channel_names(names: list[str], n_channels: int) -> list[str]:
    """Channel j copies preset channel ``j % n``; copies are named ``NAME_2``, ``NAME_3``..."""
    n = len(names)
    return [names[j % n] + ("" if j < n else f"_{j // n + 1}") for j in range(n_channels)]


class EmgSynth:
    """Continuous EMG of ``preset`` at ``sample_rate_Hz``.

    ``n_channels`` (default: the preset's) may differ from the preset's channel count:
    channel j uses the parameters of preset channel ``j % n_preset`` (same noise-free
    responses), with its own background noise, mains phase and trial variability.
    """

    def __init__(
        self,
        preset: Preset,
        sample_rate_Hz: float,
        n_channels: int | None = None,
        seed: int = 0,
        noise: bool = True,
        contraction_probability: float = 0.0,
    ) -> None:
        n_pc = len(preset.channels)
        n = n_pc if n_channels is None else int(n_channels)
        if not (np.isfinite(sample_rate_Hz) and sample_rate_Hz > 0):
            raise ConfigError(f"sample_rate_Hz must be > 0, got {sample_rate_Hz}")
        if n < 1:
            raise ConfigError(f"n_channels must be >= 1, got {n_channels}")
        if not 0.0 <= contraction_probability < 1.0:
            raise ConfigError(
                f"contraction_probability must be in [0, 1), got {contraction_probability}"
            )
        self.preset, self.sample_rate_Hz, self.n_channels = preset, float(sample_rate_Hz), n
        self.noise, self.contraction_probability = noise, float(contraction_probability)
        self.channels = tuple(preset.channels[j % n_pc] for j in range(n))
        self.channel_names = derived_channel_names(preset.channel_names, n)
        self._curves = curve_params(preset, self.channels)
        self._ref = reference_channel(self.channels)
        fs = self.sample_rate_Hz
        col = {
            f: np.array([getattr(c, f) for c in self.channels])
            for f in (
                "H_excitability_sd",
                "H_slope_mA",
                "M_threshold_sd",
                "M_slope_mA",
                "H_cv_floor",
                "M_cv_floor",
                "background_uV",
                "dc_offset_mV",
                "artifact_mV_per_mA",
            )
        }
        self._H_sd_mA = col["H_excitability_sd"] * col["H_slope_mA"]
        self._M_sd_mA = col["M_threshold_sd"] * col["M_slope_mA"]
        self._H_cv, self._M_cv = col["H_cv_floor"], col["M_cv_floor"]
        self._art_V_per_mA = col["artifact_mV_per_mA"] * 1e-3
        self._dc_V = col["dc_offset_mV"] * 1e-3
        self._limit_V = preset.adc_range_mV * 1e-3

        self._make_templates()
        self._artifacts: dict[float, np.ndarray] = {}

        ss = np.random.SeedSequence(seed)
        self._noise_rng, self._trial_rng, self._burst_rng, phase_rng = (
            np.random.default_rng(s) for s in ss.spawn(4)
        )
        drift_rng = np.random.default_rng(ss.spawn(1)[0])  # 5th child: the others unchanged
        lo_d, hi_d = preset.drift_band_Hz
        # drift(t) = sum_k amp * sin(2 pi f_k t + phi_k), 4 components per channel, RMS drift_uV
        self._drift_f = drift_rng.uniform(lo_d, hi_d, (4, n))
        self._drift_phi = drift_rng.uniform(0, 2 * np.pi, (4, n))
        self._drift_amp = preset.drift_uV * 1e-6 / np.sqrt(2.0)  # 4 x amp^2/2 = drift^2
        lo, hi = preset.emg_band_Hz
        self._sos = signal.butter(1, [lo, min(hi, 0.45 * fs)], "bandpass", fs=fs, output="sos")
        impulse = signal.sosfilt(self._sos, np.r_[1.0, np.zeros(int(fs))])
        self._bg_V = col["background_uV"] * 1e-6 / np.sqrt(np.sum(impulse**2))
        self._zi = np.zeros((self._sos.shape[0], 2, n))
        phase = phase_rng.uniform(0, 2 * np.pi, n)
        amp = preset.mains_uV * 1e-6
        # mains(t) = sin(w t) @ [cos phi, sin phi] per harmonic: (4, n) mixing matrix
        self._mains_mix = amp * np.stack(
            [np.cos(phase), np.sin(phase), 0.3 * np.cos(3 * phase), 0.3 * np.sin(3 * phase)]
        )

        self._clock = 0
        self._events: list[tuple[int, np.ndarray]] = []
        self._pools = np.ones(2)
        self._last_stim: int | None = None
        self._bursts: list[tuple[int, int]] = []
        self._burst_horizon = 0
        self._buf, self._buf_pos, self._buf_start = np.zeros((0, n)), 0, 0
        if noise:
            self._filtered_noise(int(_WARMUP_S * fs))  # settle the filter state

    def _make_templates(self) -> None:
        """Evoked-wave templates (L, n_channels), sampled p2p 1, in volts per mV, long
        enough for the latest wave (latency shifts and jitter included)."""
        fs, chans = self.sample_rate_Hz, self.channels
        ends = [c.H_wave.end_ms + c.H_latency_shift_ms + 5 * c.latency_jitter_ms for c in chans]
        ends += [c.late_wave.end_ms for c in chans if c.late_wave is not None]
        self._length = length = int(np.ceil(max(ends) * fs / 1000)) + 2
        self._M_tpl = 1e-3 * np.stack([wave_template(c.M_wave, fs, length) for c in chans], 1)
        self._H_tpl = 1e-3 * np.stack([wave_template(c.H_wave, fs, length) for c in chans], 1)
        self._late = [(j, c.late_mV, 1e-3 * wave_template(c.late_wave, fs, length))
                      for j, c in enumerate(chans) if c.late_wave is not None]
        self._shifted = any(c.M_latency_shift_ms or c.H_latency_shift_ms or c.latency_jitter_ms
                            for c in chans)

    # -- state --------------------------------------------------------------------------
    @property
    def clock(self) -> int:
        """Absolute index of the next sample ``generate`` will return."""
        return self._clock

    def _artifact(self, pulse_width_us: float) -> np.ndarray:
        if pulse_width_us not in self._artifacts:
            self._artifacts[pulse_width_us] = artifact_template(
                pulse_width_us,
                self.sample_rate_Hz,
                self.preset.artifact_tau_ms,
                self.preset.artifact_length_ms,
                self.preset.artifact_tail,
            )
        return self._artifacts[pulse_width_us]

    def _extend_bursts(self, until: int) -> None:
        p = self.contraction_probability
        if p <= 0:
            return
        fs, (lo, hi) = self.sample_rate_Hz, self.preset.contraction_burst_s
        mean_gap_s = 0.5 * (lo + hi) * (1 - p) / p
        while self._burst_horizon <= until:
            start = self._burst_horizon + int(self._burst_rng.exponential(mean_gap_s) * fs)
            end = start + int(self._burst_rng.uniform(lo, hi) * fs)
            self._bursts.append((start, end))
            self._burst_horizon = end

    def in_contraction(self, sample_index: int) -> bool:
        """True when a burst is fully on from 100 ms before ``sample_index`` to it."""
        if not self.noise or self.contraction_probability <= 0:
            return False
        self._extend_bursts(sample_index)
        ramp, pre = (int(x * self.sample_rate_Hz) for x in (BURST_RAMP_S, CONTRACTION_PRE_S))
        return any(
            s + ramp <= sample_index - pre and sample_index <= e - ramp for s, e in self._bursts
        )

    # -- stimuli ------------------------------------------------------------------------
    def stimulate(
        self, sample_index: int, intensity_mA: float, pulse_width_us: float
    ) -> StimulusTruth:
        """Register a stimulus at absolute ``sample_index`` and return what it evokes.

        Its artifact + M + H are added to the samples ``generate`` returns from then on
        (an index already generated only contributes its not-yet-generated tail). Stimuli
        must be registered in non-decreasing ``sample_index`` order (depression is history
        dependent); otherwise ``ValueError``.
        """
        i = int(sample_index)
        if self._last_stim is not None and i < self._last_stim:
            raise ValueError(f"stimulus at sample {i} registered after one at {self._last_stim}")
        if not (intensity_mA >= 0 and pulse_width_us > 0):
            raise ValueError(f"bad stimulus: {intensity_mA} mA, {pulse_width_us} us")
        if self._last_stim is not None:
            self._pools = recover(
                self._pools, (i - self._last_stim) / self.sample_rate_Hz, self.preset.depression
            )
        depression = float(self._pools.prod())
        contraction = self.in_contraction(i)
        facil = self.preset.contraction_H_gain if contraction else 1.0

        M0, H0, drive = response_curves(self._curves, intensity_mA, pulse_width_us)
        if self.noise:
            z = self._trial_rng.standard_normal((4, self.n_channels))
            Ma, Ha, _ = response_curves(
                self._curves,
                intensity_mA,
                pulse_width_us,
                z[0] * self._M_sd_mA,
                z[1] * self._H_sd_mA,
            )
            Ma = Ma * np.clip(1 + self._M_cv * z[2], 0, None)
            Ha = Ha * np.clip(1 + self._H_cv * z[3], 0, None)
        else:
            Ma, Ha = M0, H0
        H_true, Ha = H0 * depression * facil, Ha * depression * facil
        self._pools = deplete(
            self._pools, float(depression_gate(drive[self._ref])), self.preset.depression
        )
        self._last_stim = i

        M_tpl, H_tpl = self._templates(M0, drive) if self._shifted else (self._M_tpl, self._H_tpl)
        wave = M_tpl * Ma + H_tpl * Ha
        if intensity_mA > 0:
            for j, size_mV, tpl in self._late:  # the same for every intensity
                cv = 0.05 * self._trial_rng.standard_normal() if self.noise else 0.0
                wave[:, j] += tpl * size_mV * (1 + cv)
        art = self._artifact(float(pulse_width_us))
        k = min(art.size, wave.shape[0])
        wave[:k] += art[:k, None] * (self._art_V_per_mA * intensity_mA)
        self._events.append((i, wave))
        return StimulusTruth(
            i,
            float(intensity_mA),
            float(pulse_width_us),
            M0,
            H_true,
            Ma,
            Ha,
            H0,
            depression,
            contraction,
        )

    def _templates(self, M0: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """M and H templates (L, n) of one stimulus whose onsets move with recruitment
        (``*_latency_shift_ms``) and trial jitter (``latency_jitter_ms``)."""
        fs, out = self.sample_rate_Hz, ([], [])
        for j, c in enumerate(self.channels):
            m = M0[j] / c.Mmax_mV if c.Mmax_mV > 0 else 0.0
            z = (self._trial_rng.standard_normal(2) * c.latency_jitter_ms if self.noise
                 and c.latency_jitter_ms else np.zeros(2))
            for k, (w, shift) in enumerate(((c.M_wave, c.M_latency_shift_ms * (1 - m)),
                                            (c.H_wave, c.H_latency_shift_ms * (1 - drive[j])))):
                moved = replace(w, onset_ms=w.onset_ms + shift + z[k])
                out[k].append(wave_template(moved, fs, self._length))
        return 1e-3 * np.stack(out[0], 1), 1e-3 * np.stack(out[1], 1)

    # -- samples ------------------------------------------------------------------------
    def _filtered_noise(self, n: int) -> np.ndarray:
        white = self._noise_rng.standard_normal((n, self.n_channels))
        out, self._zi = signal.sosfilt(self._sos, white, axis=0, zi=self._zi)
        return out

    def _burst_envelope(self, start: int, n: int) -> np.ndarray | None:
        if self.contraction_probability <= 0:
            return None
        self._extend_bursts(start + n)
        env = None
        ramp = BURST_RAMP_S * self.sample_rate_Hz
        for s, e in self._bursts:
            if e <= start or s >= start + n:
                continue
            t = np.arange(start, start + n)
            r = np.clip(np.minimum(t - s, e - t) / ramp, 0.0, 1.0)
            env = (np.ones(n) if env is None else env) + (
                (self.preset.contraction_gain - 1) * 0.5 * (1 - np.cos(np.pi * r))
            )
        return env

    def _make_background(self, start: int, n: int) -> np.ndarray:
        """Background (noise x burst envelope + mains + DC, clipped) of samples start..start+n."""
        out = self._filtered_noise(n)
        env = self._burst_envelope(start, n)
        out *= self._bg_V if env is None else env[:, None] * self._bg_V
        w = 2 * np.pi * self.preset.mains_Hz / self.sample_rate_Hz * np.arange(start, start + n)
        s, c = np.sin(w), np.cos(w)
        basis = np.stack([s, c, s * (3 - 4 * s * s), c * (4 * c * c - 3)], axis=1)  # 3w
        out += basis @ self._mains_mix
        if self._drift_amp > 0:
            t_s = np.arange(start, start + n)[:, None, None] / self.sample_rate_Hz
            out += self._drift_amp * np.sin(2 * np.pi * self._drift_f * t_s
                                            + self._drift_phi).sum(axis=1)
        out += self._dc_V
        np.clip(out, -self._limit_V, self._limit_V, out=out)
        horizon = start - int(10 * self.sample_rate_Hz)  # late stimuli may look back 10 s
        self._bursts = [(s, e) for s, e in self._bursts if e > horizon]
        return out

    def _background(self, n: int) -> np.ndarray:
        """Next n background samples; made in chunks of >= _CHUNK so small reads are cheap."""
        parts = []
        while n > 0:
            if self._buf_pos == len(self._buf):
                self._buf_start += len(self._buf)
                self._buf = self._make_background(self._buf_start, max(n, _CHUNK))
                self._buf_pos = 0
            take = min(n, len(self._buf) - self._buf_pos)
            parts.append(self._buf[self._buf_pos : self._buf_pos + take])
            self._buf_pos += take
            n -= take
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    def generate(self, n_samples: int) -> np.ndarray:
        """Next ``n_samples`` of EMG, float64 volts, shape (n_samples, n_channels)."""
        n, start = int(n_samples), self._clock
        if n < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        out = self._background(n) if self.noise else np.zeros((n, self.n_channels))
        if self._events:
            keep, lo, hi = [], n, 0
            for i, wave in self._events:
                a, b = max(i, start), min(i + wave.shape[0], start + n)
                if a < b:
                    out[a - start : b - start] += wave[a - i : b - i]
                    lo, hi = min(lo, a - start), max(hi, b - start)
                if i + wave.shape[0] > start + n:
                    keep.append((i, wave))
            self._events = keep
            if lo < hi:  # the background is clipped already; clip where waves were added
                np.clip(out[lo:hi], -self._limit_V, self._limit_V, out=out[lo:hi])
        self._clock = start + n
        return out
