"""The session plan: the stimulus schedule built from a config, its limit check, the dry run.

:func:`build_plan` turns the ``[[protocols]]`` into one :class:`~hreflex.schedule.Schedule`
(block ``i`` = protocol ``i``, blocks ``[schedule] block_gap_s`` apart). An RDD test intensity
derived from a recruitment block is *resolved at run time*: its stimuli hold NaN until
:func:`resolve_intensity` fills them in, and until then they are bounded by the recruitment
block's highest intensity (the ascending limb lies below the intensity at Hmax, which lies
within the block's range). :func:`check_plan` applies the host limit rule
(:func:`hreflex.protocol.safety.check_stimulus`) to every planned stimulus, at that bound.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hreflex.acquisition.config import MAX_SEED, SessionConfig
from hreflex.acquisition.protocols import DerivedIntensity, Fixed, Protocol, Rdd
from hreflex.errors import ConfigError, SafetyError
from hreflex.protocol.frames import Reason
from hreflex.protocol.safety import StimLimits, check_stimulus
from hreflex.schedule import Schedule, concat, fixed, rdd, recruitment


@dataclass(frozen=True)
class Deferred:
    """Block ``block_id``'s intensity is resolved at run time from recruitment block
    ``source_block`` (``h_fraction`` × Hmax, ascending limb); at most ``bound_mA``."""

    block_id: int
    source_block: int
    h_fraction: float
    bound_mA: float


@dataclass(frozen=True, eq=False)
class Plan:
    """What a session will deliver. ``schedule.intensity_mA`` is NaN where ``deferred``;
    ``seed`` made the random parts (jitter, order) and ``seed_given`` says whether the config
    fixed it."""

    config: SessionConfig
    schedule: Schedule
    seed: int
    seed_given: bool
    deferred: tuple[Deferred, ...] = ()

    @property
    def intensity_bound_mA(self) -> np.ndarray:
        """(n,) planned intensity, mA; the upper bound where still unresolved."""
        out = np.array(self.schedule.intensity_mA)
        for d in self.deferred:
            out[self.schedule.block_id == d.block_id] = d.bound_mA
        return out

    @property
    def gated(self) -> np.ndarray:
        """(n,) bool: stimuli that wait for background-EMG gating (all but pulses 2.. of a
        train, which must keep the train's rhythm); all False without ``[gating]``."""
        s = self.schedule
        if self.config.gating is None:
            return np.zeros(len(s), bool)
        return (s.train_id < 0) | (s.pulse_index == 0)

    @property
    def max_rate_Hz(self) -> float:
        """Highest instantaneous rate, 1 / shortest planned interval (0 for one stimulus)."""
        gaps = np.diff(self.schedule.time_s)
        if gaps.size == 0:
            return 0.0
        return float(1.0 / gaps.min()) if gaps.min() > 0 else float("inf")


def _block(p: Protocol, bound_mA: float, rng: np.random.Generator) -> Schedule:
    if isinstance(p, Fixed):
        return fixed(p.intensity_mA, p.n_stimuli, isi_s=p.isi_s, jitter_s=p.jitter_s,
                     pulse_width_us=p.pulse_width_us, seed=rng, label=p.label)
    if isinstance(p, Rdd):
        intensity = bound_mA if isinstance(p.test_intensity_mA, DerivedIntensity) else (
            p.test_intensity_mA
        )
        return rdd(p.frequencies_Hz, intensity_mA=intensity, pulses_per_train=p.pulses_per_train,
                   rest_s=p.rest_s, pulse_width_us=p.pulse_width_us, randomize=p.randomize,
                   seed=rng, label=p.label)
    return recruitment(p.intensities_mA, sweeps=p.sweeps, isi_s=p.isi_s, jitter_s=p.jitter_s,
                       randomize=p.randomize, pulse_width_us=p.pulse_width_us, seed=rng,
                       label=p.label)


def planned_count(p: Protocol) -> int:
    """Stimuli protocol ``p`` plans (known before its schedule is built)."""
    if isinstance(p, Fixed):
        return p.n_stimuli
    if isinstance(p, Rdd):
        return len(p.frequencies_Hz) * p.pulses_per_train
    return len(p.intensities_mA) * p.sweeps


def _too_many(config: SessionConfig, n: int) -> ConfigError:
    return ConfigError(f"{config.source} [limits] max_stimuli = {config.limits.max_stimuli} "
                       f"but the protocols plan {n} stimuli")


def build_plan(config: SessionConfig, seed: int | None = None) -> Plan:
    """The session schedule. ``seed`` (0 … 2⁶⁴ − 1) overrides ``[schedule] seed``; without
    either a random seed is drawn (and reported, so the plan can be repeated). A plan of more
    stimuli than ``[limits] max_stimuli`` is refused before it is built."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be an integer in 0 … {MAX_SEED} (2**64 - 1), got {seed}")
    n = sum(planned_count(p) for p in config.protocols)
    if n > config.limits.max_stimuli:
        raise _too_many(config, n)
    given = seed if seed is not None else config.seed
    seed = given if given is not None else secrets.randbelow(2**32)
    rng = np.random.default_rng(seed)
    parts, deferred = [], []
    for i, p in enumerate(config.protocols):
        bound = float("nan")
        if isinstance(p, Rdd) and isinstance(p.test_intensity_mA, DerivedIntensity):
            src = p.test_intensity_mA
            bound = max(config.protocols[src.source_block].intensities_mA)
            deferred.append(Deferred(i, src.source_block, src.h_fraction, bound))
        try:
            parts.append(_block(p, bound, rng))
        except ConfigError as exc:
            raise ConfigError(f"{config.source} [[protocols]] #{i + 1} ({p.kind}): {exc}") from None
    schedule = concat(*parts, gap_s=config.block_gap_s)
    intensity = np.array(schedule.intensity_mA)
    for d in deferred:
        intensity[schedule.block_id == d.block_id] = np.nan
    schedule = dataclasses.replace(schedule, intensity_mA=intensity)
    return Plan(config, schedule, seed, given is not None, tuple(deferred))


def _offending_key(plan: Plan, k: int, why: Reason) -> str:
    """The config key responsible for stimulus ``k`` being refused with ``why``."""
    s = plan.schedule
    p = plan.config.protocols[int(s.block_id[k])]
    if why == Reason.PULSE_WIDTH_LIMIT:
        return "pulse_width_us"
    if why == Reason.INTENSITY_LIMIT:
        if isinstance(p, Rdd):
            derived = isinstance(p.test_intensity_mA, DerivedIntensity)
            return "test_intensity (bounded by the source recruitment's highest intensity)" if (
                derived) else "test_intensity_mA"
        return p.intensity_key if p.kind == "recruitment" else "intensity_mA"
    if k > 0 and s.block_id[k - 1] != s.block_id[k]:
        return "[schedule] block_gap_s"
    if isinstance(p, Rdd):
        return "frequencies_Hz" if s.pulse_index[k] > 0 else "rest_s"
    return "isi_s"


def check_plan(plan: Plan, limits: StimLimits | None = None) -> None:
    """Refuse a plan that breaks the limits, naming the protocol and the key.

    ``limits`` default to the config's ``[limits]``. Every stimulus goes through
    :func:`check_stimulus` (unresolved intensities at their bound) with the planned interval
    since the previous stimulus; the count is checked against ``[limits] max_stimuli``.
    Raises :class:`ConfigError`.
    """
    cfg = plan.config
    limits = cfg.limits.stim_limits if limits is None else limits
    s = plan.schedule
    if len(s) > cfg.limits.max_stimuli:
        raise _too_many(cfg, len(s))
    intensity = plan.intensity_bound_mA
    since = np.concatenate([[np.nan], np.diff(s.time_s)])
    for k in range(len(s)):
        last = None if k == 0 else float(since[k])
        why = check_stimulus(limits, float(intensity[k]), float(s.pulse_width_us[k]), last)
        if why is None:
            continue
        block = int(s.block_id[k])
        p = cfg.protocols[block]
        value, limit = {
            Reason.INTENSITY_LIMIT: (f"intensity {intensity[k]:g} mA",
                                     f"max_intensity_mA = {limits.max_intensity_uA / 1000:g}"),
            Reason.PULSE_WIDTH_LIMIT: (f"pulse width {s.pulse_width_us[k]:g} µs",
                                       f"max_pulse_width_us = {limits.max_pulse_width_us}"),
        }.get(why, (f"rate {1 / last:g} Hz" if last else "two stimuli at the same time",
                    f"max_rate_Hz = {limits.max_rate_mHz / 1000:g}"))
        raise ConfigError(
            f"{cfg.source} [[protocols]] #{block + 1} ({p.kind} {p.label!r}): "
            f"{_offending_key(plan, k, why)}: stimulus {k + 1} needs {value}, above "
            f"[limits] {limit}"
        )


def resolve_intensity(plan: Plan, block_id: int, intensity_mA: float) -> Plan:
    """The plan with block ``block_id``'s run-time intensity set to ``intensity_mA``.

    Raises :class:`SafetyError` when the value is outside ``0 .. bound`` (the source
    recruitment block's range) or breaks the limits; nothing is changed then.
    """
    d = next((d for d in plan.deferred if d.block_id == block_id), None)
    if d is None:
        raise ValueError(f"block {block_id} has no run-time intensity")
    if not 0 <= intensity_mA <= d.bound_mA:
        raise SafetyError(
            f"run-time test intensity {intensity_mA:g} mA of block #{block_id + 1} is outside "
            f"0..{d.bound_mA:g} mA (the range of recruitment block #{d.source_block + 1})"
        )
    intensity = np.array(plan.schedule.intensity_mA)
    intensity[plan.schedule.block_id == block_id] = intensity_mA
    new = dataclasses.replace(
        plan,
        schedule=dataclasses.replace(plan.schedule, intensity_mA=intensity),
        deferred=tuple(x for x in plan.deferred if x is not d),
    )
    try:
        check_plan(new)
    except ConfigError as exc:
        raise SafetyError(str(exc)) from None
    return new


# -- dry-run summary --------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"`` (rounded to whole seconds)."""
    total = int(round(max(0.0, seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _block_line(plan: Plan, block_id: int) -> str:
    s = plan.schedule
    p = plan.config.protocols[block_id]
    rows = s.block_id == block_id
    t = s.time_s[rows]
    n = int(rows.sum())
    pw = f"{p.pulse_width_us:g} µs"
    if isinstance(p, Rdd):
        d = next((d for d in plan.deferred if d.block_id == block_id), None)
        what = (
            f"test intensity resolved at run time: {d.h_fraction:g} × Hmax on the ascending "
            f"limb of block #{d.source_block + 1}, ≤ {d.bound_mA:g} mA"
            if d else f"test intensity {p.test_intensity_mA:g} mA"
        )
        freqs = ", ".join(f"{f:g}" for f in p.frequencies_Hz)
        detail = (f"{what}; trains at {freqs} Hz × {p.pulses_per_train} pulses, "
                  f"rest {p.rest_s:g} s{', random order' if p.randomize else ''}")
    elif isinstance(p, Fixed):
        detail = f"{p.intensity_mA:g} mA; ISI {p.isi_s:g}–{p.isi_s + p.jitter_s:g} s"
    else:
        levels = p.intensities_mA
        detail = (f"{min(levels):g}–{max(levels):g} mA, {len(levels)} levels × {p.sweeps}; "
                  f"ISI {p.isi_s:g}–{p.isi_s + p.jitter_s:g} s"
                  f"{', randomised order' if p.randomize else ''}")
    return (f"  #{block_id + 1} {p.kind:<11} {p.label!r}: {n} stimuli, {pw}, "
            f"{format_duration(t[-1] - t[0])}; {detail}")


def summary(plan: Plan, now: datetime | None = None) -> str:
    """The dry-run text: blocks, totals against the limits, duration, seed, output file."""
    cfg, s = plan.config, plan.schedule
    lim = cfg.limits
    m = cfg.meta
    bound = plan.intensity_bound_mA
    gated = int(plan.gated.sum())
    amp, stim = cfg.amplifier, cfg.stimulator
    out = cfg.output_path(now)
    lines = [
        f"config    {cfg.source}: subject {m.subject_id or '-'}, session {m.session_id or '-'}, "
        f"{m.species}, {m.muscle or '-'} ({m.nerve or '-'}), condition {m.condition or '-'}",
        f"devices   amplifier {amp.connection.describe()} at {amp.sample_rate_Hz} Hz, "
        f"{len(cfg.channels)} channel{'s' if len(cfg.channels) > 1 else ''} "
        f"({', '.join(c.name for c in cfg.channels)}); "
        f"stimulator {stim.connection.describe()}",
        f"blocks    {len(s.blocks)}",
        *(_block_line(plan, b.block_id) for b in s.blocks),
        f"stimuli   {len(s)} (limit {lim.max_stimuli})",
        f"intensity max {np.nanmax(bound):g} mA (limit {lim.max_intensity_mA:g} mA"
        + ("; run-time intensities counted at their bound)" if plan.deferred else ")"),
        f"width     max {s.pulse_width_us.max():g} µs (limit {lim.max_pulse_width_us:g} µs)",
        f"rate      max {plan.max_rate_Hz:.3g} Hz (limit {lim.max_rate_Hz:g} Hz)",
        f"duration  {format_duration(s.duration_s)} expected"
        + (f" (+ up to {format_duration(gated * cfg.gating.max_wait_s)} if gating waits its "
           f"maximum before all {gated} gated stimuli)" if gated else ""),
        f"seed      {plan.seed}" + ("" if plan.seed_given else
                                    f" (random; set [schedule] seed = {plan.seed} to repeat)"),
        f"output    {out}" + (" + journal" if cfg.recording.journal else "")
        + (" (exists: will be refused, overwrite = false)"
           if out.exists() and not cfg.recording.overwrite else ""),
        "limits    OK (device limits are checked at connect time)",
    ]
    return "\n".join(lines)
