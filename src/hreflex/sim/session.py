"""A whole simulated session (continuous int16 counts, like the amplifier) plus its truth.

``simulate_session(preset, schedule, seed)`` runs ``EmgSynth`` over a schedule and returns
the :class:`~hreflex.io.session.Session` and a :class:`SimulationTruth` with the noise-free
amplitudes of every stimulus and the summary values (``truth.py`` defines them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from hreflex.errors import ConfigError
from hreflex.io.format import BLOCK_DTYPE, STIMULUS_DTYPE, empty_table
from hreflex.io.session import Session, SessionMeta
from hreflex.schedule import Schedule, concat, rdd, recruitment
from hreflex.sim.params import Preset
from hreflex.sim.synth import EmgSynth
from hreflex.sim.truth import (
    ChannelTruth,
    rdd_ratios,
    rdd_test_intensity,
    recruitment_truth,
    reference_channel,
)

PROTOCOLS = ("recruitment", "rdd", "both")
LEAD_IN_S = 2.0  #: recording starts this long before the first stimulus
TAIL_S = 2.0  #: and ends this long after the last one
_CHUNK_S = 10.0


@dataclass(frozen=True, eq=False)
class SimulationTruth:
    """Truth for exactly what was simulated.

    Per stimulus (row order = ``session.stimuli`` = ``schedule``): ``sample_index`` (n,),
    ``depression`` (n,), ``contraction`` (n,) bool, and per channel (n, n_channels)
    peak-to-peak mV: ``M_mV``/``H_mV`` noise-free (H with depression and contraction
    facilitation), ``M_actual_mV``/``H_actual_mV`` as added to the signal (with trial
    variability), ``H_rested_mV`` (no depression, no facilitation). Summary: ``channels``
    (rested recruitment truth at the schedule's median pulse width) and ``rdd_ratios``
    (frequency -> expected ratio, from the noise-free depressed H of this schedule).
    """

    preset: str
    seed: int
    noise: bool
    sample_rate_Hz: float
    channel_names: list[str]
    schedule: Schedule
    sample_index: np.ndarray
    M_mV: np.ndarray
    H_mV: np.ndarray
    M_actual_mV: np.ndarray
    H_actual_mV: np.ndarray
    H_rested_mV: np.ndarray
    depression: np.ndarray
    contraction: np.ndarray
    channels: tuple[ChannelTruth, ...]
    rdd_ratios: dict[float, float]

    def level_means(self, kind: str = "recruitment") -> tuple[np.ndarray, ...]:
        """Noise-free mean M and H per intensity over the blocks of ``kind``, as this schedule
        delivers them (depression included, contraction facilitation excluded).

        Returns ``(intensity_mA (L,), M_mV (L, n_ch), H_mV (L, n_ch))``, L distinct levels;
        e.g. the Hmax a recruitment analysis of this session should find is ``H.max(0)``.
        """
        s = self.schedule
        ids = [b.block_id for b in s.blocks if b.kind == kind]
        sel = np.isin(s.block_id, ids)
        levels, inv = np.unique(s.intensity_mA[sel], return_inverse=True)
        count = np.bincount(inv, minlength=levels.size)[:, None]
        h = self.H_rested_mV[sel] * self.depression[sel, None]

        def mean(v):
            out = np.zeros((levels.size, v.shape[1]))
            np.add.at(out, inv, v)
            return out / count

        return levels, mean(self.M_mV[sel]), mean(h)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists, RDD frequencies as string keys)."""
        out = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()}
        out["schedule"] = {k: getattr(self.schedule, k).tolist() for k in Schedule.FIELD_DTYPES}
        out["schedule"]["blocks"] = [asdict(b) for b in self.schedule.blocks]
        out["channels"] = [asdict(c) for c in self.channels]
        out["rdd_ratios"] = {repr(f): r for f, r in self.rdd_ratios.items()}
        return out


def default_schedule(preset: Preset, protocol: str = "both", seed: int = 0) -> Schedule:
    """The preset's default protocol (see docs/SIMULATOR.md).

    recruitment: ``recruitment_mA`` start/stop/step, ``recruitment_sweeps`` rounds in random
    order, ``recruitment_isi_s + U(0, recruitment_jitter_s)`` apart. rdd: one train of
    ``rdd_pulses`` per ``rdd_frequencies_Hz`` (in that order), ``rdd_rest_s`` between trains,
    at the ascending-limb intensity giving H = ``rdd_test_fraction_of_Hmax`` × Hmax (rounded
    to 0.01 mA). both: recruitment, then ``rdd_rest_s`` later the RDD block.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    start, stop, step = preset.recruitment_mA
    parts = []
    if protocol in ("recruitment", "both"):
        parts.append(
            recruitment(
                start_mA=start,
                stop_mA=stop,
                step_mA=step,
                sweeps=preset.recruitment_sweeps,
                isi_s=preset.recruitment_isi_s,
                jitter_s=preset.recruitment_jitter_s,
                randomize=True,
                pulse_width_us=preset.pulse_width_us,
                seed=seed,
                label=f"{preset.channels[0].muscle} recruitment",
            )
        )
    if protocol in ("rdd", "both"):
        parts.append(
            rdd(
                preset.rdd_frequencies_Hz,
                intensity_mA=round(rdd_test_intensity(preset), 2),
                pulses_per_train=preset.rdd_pulses,
                rest_s=preset.rdd_rest_s,
                pulse_width_us=preset.pulse_width_us,
                label=f"{preset.channels[0].muscle} RDD",
            )
        )
    return concat(*parts, gap_s=preset.rdd_rest_s)


def _config_toml(
    preset: Preset, schedule: Schedule, seed: int, noise: bool, p: float, fs: float
) -> str:
    blocks = "".join(
        f'\n[[simulation.blocks]]\nblock_id = {b.block_id}\nkind = "{b.kind}"\n'
        f"label = {json.dumps(b.label)}\nn_stimuli = {int(np.sum(schedule.block_id == b.block_id))}\n"
        for b in schedule.blocks
    )
    return (
        "# simulated session (hreflex simulate)\n[simulation]\n"
        f'preset = "{preset.name}"\nseed = {int(seed)}\nnoise = {str(bool(noise)).lower()}\n'
        f"contraction_probability = {float(p)!r}\nsample_rate_Hz = {float(fs)!r}\n"
        f"lead_in_s = {LEAD_IN_S!r}\ntail_s = {TAIL_S!r}\n" + blocks
    )


def _counts(synth: EmgSynth, n_samples: int, scale: float) -> np.ndarray:
    """The synthesiser's output as int16 counts (n_samples, n_channels), in 10-s chunks."""
    fs = synth.sample_rate_Hz
    counts = np.empty((n_samples, synth.n_channels), np.int16)
    chunk = int(_CHUNK_S * fs)
    for a in range(0, n_samples, chunk):
        v = synth.generate(min(chunk, n_samples - a))
        counts[a : a + len(v)] = np.clip(np.round(v / scale), -32767, 32767)
    return counts


def _trigger(idx: np.ndarray, pulse_width_us: np.ndarray, fs: float, n_samples: int
             ) -> np.ndarray:
    """Trigger bit 0 high for each pulse's duration (at least one sample)."""
    trigger = np.zeros(n_samples, np.uint8)
    width = np.maximum(1, np.ceil(pulse_width_us * 1e-6 * fs)).astype(np.int64)
    for k in range(int(width.max())):  # a few samples per pulse at most
        on = idx[width > k] + k
        trigger[on[on < n_samples]] = 1
    return trigger


def _tables(schedule: Schedule, idx: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The STIMULUS and BLOCK tables of a simulated schedule."""
    table = empty_table(STIMULUS_DTYPE, len(schedule))
    for name, values in (
        ("sample_index", idx),
        ("time_s", idx / fs),
        ("intensity_mA", schedule.intensity_mA),
        ("intensity_requested_mA", schedule.intensity_mA),
        ("pulse_width_us", schedule.pulse_width_us),
        ("pulse_width_requested_us", schedule.pulse_width_us),
        ("block_id", schedule.block_id),
        ("train_id", schedule.train_id),
        ("pulse_index", schedule.pulse_index),
        ("nominal_frequency_Hz", schedule.nominal_frequency_Hz),
    ):
        table[name] = values
    table["sync_method"] = b"trigger"
    table["sync_residual_samples"] = 0.0
    blocks = empty_table(BLOCK_DTYPE, len(schedule.blocks))
    blocks["block_id"] = [b.block_id for b in schedule.blocks]
    blocks["kind"] = [b.kind.encode() for b in schedule.blocks]
    blocks["label"] = [b.label.encode()[:64] for b in schedule.blocks]
    return table, blocks


def _truth_attrs(truth: SimulationTruth) -> dict:
    """The summary truth as ``/devices/simulator`` attributes (one list element per channel
    or frequency)."""
    ch = truth.channels
    return {
        "truth_Mmax_mV": [c.Mmax_mV for c in ch],
        "truth_Hmax_mV": [c.Hmax_mV for c in ch],
        "truth_Hmax_over_Mmax": [c.Hmax_over_Mmax for c in ch],
        "truth_M_threshold_mA": [c.M_threshold_mA for c in ch],
        "truth_H_threshold_mA": [c.H_threshold_mA for c in ch],
        "truth_intensity_at_Hmax_mA": [c.intensity_at_Hmax_mA for c in ch],
        "truth_M_window_ms": [[c.M_onset_ms, c.M_end_ms] for c in ch],
        "truth_H_window_ms": [[c.H_onset_ms, c.H_end_ms] for c in ch],
        "truth_rdd_frequencies_Hz": list(truth.rdd_ratios) or None,
        "truth_rdd_ratios": list(truth.rdd_ratios.values()) or None,
    }


def simulate_session(
    preset: Preset,
    schedule: Schedule,
    seed: int = 0,
    *,
    noise: bool = True,
    contraction_probability: float = 0.0,
    sample_rate_Hz: float | None = None,
    n_channels: int | None = None,
) -> tuple[Session, SimulationTruth]:
    """Simulate ``schedule`` on ``preset`` into a continuous session.

    The recording starts ``LEAD_IN_S`` before the first planned stimulus (schedule time 0)
    and ends ``TAIL_S`` after the last; stimulus n is at sample
    ``round((LEAD_IN_S + time_s[n]) * rate)``. Samples are int16 counts with
    ``scale_V_per_count = adc_range / 32767``; ``trigger`` bit 0 is high for the pulse
    duration (at least one sample). Returns ``(Session, SimulationTruth)``.
    """
    if len(schedule) == 0:
        raise ConfigError("simulate: the schedule has no stimuli")
    fs = float(preset.sample_rate_Hz if sample_rate_Hz is None else sample_rate_Hz)
    synth = EmgSynth(
        preset,
        fs,
        n_channels=n_channels,
        seed=seed,
        noise=noise,
        contraction_probability=contraction_probability,
    )
    idx = np.round((LEAD_IN_S + schedule.time_s) * fs).astype(np.int64)
    stims = [
        synth.stimulate(i, a, w)
        for i, a, w in zip(
            idx.tolist(),
            schedule.intensity_mA.tolist(),
            schedule.pulse_width_us.tolist(),
            strict=True,
        )
    ]
    n_samples = int(idx[-1] + round(TAIL_S * fs))
    scale = preset.adc_range_mV * 1e-3 / 32767
    counts = _counts(synth, n_samples, scale)
    trigger = _trigger(idx, schedule.pulse_width_us, fs, n_samples)
    table, blocks = _tables(schedule, idx, fs)

    stack = {k: np.array([getattr(s, k) for s in stims]) for k in (
        "M_mV", "H_mV", "M_actual_mV", "H_actual_mV", "H_rested_mV", "depression", "contraction")}
    ref = reference_channel(synth.channels)
    truth = SimulationTruth(
        preset=preset.name,
        seed=int(seed),
        noise=bool(noise),
        sample_rate_Hz=fs,
        channel_names=list(synth.channel_names),
        schedule=schedule,
        sample_index=idx,
        **stack,
        channels=recruitment_truth(
            preset, float(np.median(schedule.pulse_width_us)), synth.channels
        ),
        rdd_ratios=rdd_ratios(schedule, stack["H_rested_mV"][:, ref] * stack["depression"]),
    )
    simulator = {"kind": "hreflex model", "preset": preset.name, "seed": int(seed),
                 "noise": bool(noise), "contraction_probability": float(contraction_probability),
                 **_truth_attrs(truth)}
    session = Session(
        meta=SessionMeta(
            subject_id=f"sim-{preset.name}",
            session_id=f"seed-{int(seed)}",
            species=preset.species,
            muscle=preset.channels[0].muscle,
            nerve=preset.nerve,
            condition=preset.condition,
            notes=f"simulated: {preset.description}",
        ),
        sample_rate_Hz=fs,
        channel_names=list(synth.channel_names),
        channel_muscles=[c.muscle for c in synth.channels],
        scale_V_per_count=np.full(synth.n_channels, scale),
        continuous=counts,
        trigger=trigger,
        stimuli=table,
        blocks=blocks,
        config_toml=_config_toml(preset, schedule, seed, noise, contraction_probability, fs),
        devices={"simulator": simulator},
    )
    return session, truth
