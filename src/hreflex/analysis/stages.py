"""The analysis as named stages, each a function with dataclasses in and out:

    prepare (epochs, conditioning) -> plan (which sweeps make levels, trains) ->
    find (windows) -> measure (filters, per-sweep measures, QC) -> per channel: latencies,
    recruitment with intervals, RDD (:mod:`hreflex.analysis.channel`).

:func:`hreflex.analysis.pipeline.analyze_session` runs them in that order; a stage can be
run, tested or replaced on its own (live analysis during acquisition, ``compare``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from hreflex.analysis import conditioning as cond
from hreflex.analysis.artifact_tail import TailFit, fit_tail, remove_tail
from hreflex.analysis.config import AnalysisConfig, WindowPrior, prior_for
from hreflex.analysis.epochs import Epochs, make_epochs
from hreflex.analysis.measures import WaveMeasures, background_rms, measure_wave
from hreflex.analysis.pooling import intensity_levels, level_means, level_stats
from hreflex.analysis.qc import background_limit, excluded, sweep_reasons
from hreflex.analysis.rdd import Trains, trains_of
from hreflex.analysis.window_sources import Spans, given_windows
from hreflex.analysis.windows import (
    ChannelWindows,
    apply_manual,
    find_windows,
    noise_rms,
    quiet_rms,
)
from hreflex.io.format import decode_str
from hreflex.io.lazy import LazySamples
from hreflex.io.session import Session
from hreflex.species import canonical_species


@dataclass
class Prepared:
    """Sweeps ready to measure: ``data`` (n_sweeps, n_channels, n_samples) V, baseline (DC)
    removed; ``usable`` (n_sweeps, n_channels); the epochs (time axis, saturation, reasons a
    sweep cannot be used); the prior of each channel; session-level ``messages``."""

    session: Session
    cfg: AnalysisConfig
    epochs: Epochs
    data: np.ndarray
    usable: np.ndarray
    priors: list[WindowPrior]
    pulse_end_ms: float
    messages: list[str]

    @property
    def time_ms(self) -> np.ndarray:
        return self.epochs.time_ms


@dataclass
class Plan:
    """Which sweeps do what (arrays (n_sweeps,)): ``trains``; ``recruitment`` (the sweeps of
    the curve); ``for_windows`` (the sweeps the windows are found on: the recruitment ones,
    else all); intensity ``levels`` (L,) mA and each sweep's ``level``; the ``baseline``
    samples."""

    trains: Trains
    recruitment: np.ndarray
    for_windows: np.ndarray
    intensity_mA: np.ndarray
    levels: np.ndarray
    level: np.ndarray
    baseline: slice | None


@dataclass
class Found:
    """The windows of every channel (None: no usable sweep), per-channel messages and the
    artifact tail to remove before measuring (None: none)."""

    windows: list[ChannelWindows | None]
    messages: list[list[str]]
    tails: list[TailFit | None] = field(default_factory=list)


@dataclass
class Measured:
    """Per-sweep measures (n_sweeps, n_channels) of M and H, background RMS and onset noise
    (V), QC (reasons, exclusions, background limit and median per channel) and the
    (possibly filtered) ``data`` they were measured on."""

    data: np.ndarray
    m: WaveMeasures
    h: WaveMeasures
    background_V: np.ndarray
    noise_V: np.ndarray
    reasons: np.ndarray
    excluded: np.ndarray
    limit_V: np.ndarray
    median_V: np.ndarray

    @property
    def include(self) -> np.ndarray:
        return ~self.excluded


def _clip_level_V(session: Session, cfg: AnalysisConfig) -> np.ndarray | None:
    """Per-channel amplifier limit in volts: the config's, else full scale of integer data
    (``adc_bits`` of the amplifier, else the dtype's range); None for float data."""
    if cfg.qc.clip_level_V > 0:
        return np.full(session.n_channels, cfg.qc.clip_level_V)
    raw = session.continuous if session.continuous is not None else session.sweeps
    if raw is None or raw.dtype.kind not in "iu":
        return None
    bits = session.devices.get("amplifier", {}).get("adc_bits")
    full = 2 ** (int(bits) - 1) - 1 if bits else np.iinfo(raw.dtype).max
    return full * np.abs(session.scale_V_per_count)


def _recruitment_sweeps(session: Session, in_train: np.ndarray) -> np.ndarray:
    """(n_sweeps,) the sweeps of ``recruitment`` blocks; without such blocks, every sweep
    outside stimulus trains."""
    ids = [int(b["block_id"]) for b in session.blocks if decode_str(b["kind"]) == "recruitment"]
    rec = np.isin(session.stimuli["block_id"], ids)
    return rec if rec.any() else ~in_train


def _as_recorded(session: Session) -> Session:
    """The session as its recording system measured it: with the online high-pass its source
    describes (``/devices/source`` ``online_highpass_Hz`` / ``_order``, e.g. EPOCS) applied
    to continuous data, so amplitudes in its recorded windows are the system's own."""
    src = session.devices.get("source", {})
    corner, order = src.get("online_highpass_Hz"), src.get("online_highpass_order")
    if session.continuous is None or not corner or not order or corner <= 0:
        return session
    raw = session.continuous  # filtered from the first sample: read it all
    raw = raw.read_all() if isinstance(raw, LazySamples) else raw
    volts = raw * session.scale_V_per_count[None, :]
    return replace(session, continuous=cond.online_highpass(volts, session.sample_rate_Hz,
                                                            float(corner), int(order)),
                   scale_V_per_count=np.ones(session.n_channels))


def _filtered(data: np.ndarray, time_ms: np.ndarray, fs: float,
              blank_until_ms: list[float], cfg: AnalysisConfig) -> np.ndarray:
    """Blank each channel's artifact (stimulus .. its artifact end), then band-pass/notch."""
    c_cfg = cfg.conditioning
    zero = int(np.searchsorted(time_ms, 0.0))
    for c, until in enumerate(blank_until_ms):
        data[:, c] = cond.blank(data[:, c], zero, int(np.searchsorted(time_ms, until)))
    if c_cfg.bandpass:
        data = cond.bandpass(data, fs, c_cfg.bandpass_Hz, c_cfg.filter_order)
    if c_cfg.notch:
        data = cond.notch(data, fs, c_cfg.notch_Hz, c_cfg.notch_q)
    return data


def prepare(session: Session, cfg: AnalysisConfig) -> Prepared:
    """Epochs of every stimulus, scaled to volts, DC and mains removed; the priors of the
    channels."""
    if cfg.windows.source == "recorded":
        session = _as_recorded(session)
    stim = session.stimuli
    species = canonical_species(session.meta.species) or "human"  # ("Rattus norvegicus": rat)
    cfg = replace(cfg, recruitment=cfg.recruitment.for_species(species))
    muscles = [m or session.meta.muscle for m in session.channel_muscles]
    priors = [prior_for(cfg.windows.priors, species, m) for m in muscles]
    messages = sorted({f"no window prior for species {species!r}; using {p.name!r}"
                       for p in priors if canonical_species(p.species) != species})
    c_cfg, q_cfg = cfg.conditioning, cfg.qc
    width = stim["pulse_width_us"][np.isfinite(stim["pulse_width_us"])]
    pulse_end_ms = float(np.median(width)) / 1000.0 if width.size else 0.0
    fallback_ms = pulse_end_ms + max(p.blank_ms[1] for p in priors)
    mains = cond.MainsByBlock(c_cfg.baseline_ms, c_cfg.mains)
    measured_as_recorded = cfg.windows.source == "recorded"  # (no mains removal then)

    def condition(sweeps_V: np.ndarray, lo: int, hi: int, time_ms: np.ndarray) -> None:
        cond.remove_baseline(sweeps_V[lo:hi], time_ms, c_cfg.baseline_ms, fallback_ms,
                             overwrite=True)
        if not measured_as_recorded:
            mains(sweeps_V, lo, hi, time_ms)

    ep = make_epochs(session, min(c_cfg.baseline_ms[0], q_cfg.background_ms[0]),
                     max(p.max_end_ms for p in priors), _clip_level_V(session, cfg),
                     condition=condition)  # DC and mains removed as the sweeps are read
    data = ep.data_V
    usable = ep.unusable == ""
    if (usable.sum(axis=0) < usable.shape[0]).any():
        messages.append(f"{int((~usable.all(axis=1)).sum())} of {usable.shape[0]} sweeps "
                        "cannot be used (see qc.excluded)")
    return Prepared(session, cfg, ep, data, usable, priors, pulse_end_ms, messages)


def plan(p: Prepared) -> Plan:
    """Trains, recruitment sweeps and intensity levels."""
    stim, cfg = p.session.stimuli, p.cfg
    trains = trains_of(stim, cfg.rdd)
    rec = _recruitment_sweeps(p.session, trains.train_id >= 0)
    for_windows = rec if rec.any() else np.ones_like(rec)
    intensity = np.asarray(stim["intensity_mA"], dtype=np.float64)
    levels, level = intensity_levels(np.where(for_windows, intensity, np.nan),
                                     cfg.recruitment.intensity_tolerance)
    return Plan(trains, rec, for_windows, intensity, levels, level,
                cond.window_slice(p.time_ms, cfg.conditioning.baseline_ms))


def find(p: Prepared, pl: Plan, windows_from: dict[str, Spans] | None = None) -> Found:
    """Windows of every channel: found on the per-level mean sweeps (detrended), then the
    given ones (recorded, ``windows_from``, manual) by precedence."""
    cfg, t, session = p.cfg, p.time_ms, p.session
    use = p.usable & pl.for_windows[:, None]
    n_level = level_stats(np.zeros(p.usable.shape), pl.level, pl.levels.size, use)[2]
    means = level_means(p.data, pl.level, pl.levels.size, use)
    if pl.baseline is not None:  # slow drift out of the picture the windows are found in
        means = cond.remove_baseline(means, t, cfg.conditioning.baseline_ms, overwrite=True,
                                     detrend_min_ms=cfg.windows.detrend_min_ms)[0]
    # flat (all samples equal): every mean sweep is exactly 0 once its DC is removed
    flat = ~(np.abs(means).max(axis=(0, 2), initial=0.0) > 0) | ~p.usable.any(axis=0)
    recorded = session.recorded_windows if cfg.windows.source == "recorded" else None
    out = Found([], [[] for _ in session.channel_names])
    for c, name in enumerate(session.channel_names):
        have = n_level[:, c] > 0
        if flat[c] or not have.any():
            out.messages[c].append("channel is flat (all samples equal)" if flat[c]
                                   and p.usable[:, c].any() else "no usable sweep on this "
                                   "channel")
            out.windows.append(None)
            out.tails.append(None)
            continue
        found, tail = _find_channel(means[have, c], t, p.priors[c], cfg, p.pulse_end_ms,
                                    pl.baseline, pl.levels[have])
        layers, notes = given_windows(name, c, cfg.windows.manual, windows_from, recorded,
                                      cfg.amplitude)
        n_auto = len(found.notes)
        for spans, source in layers:
            found = apply_manual(found, spans, t, source)
        given_both = all(w is not None and w.source != "auto" for w in (found.m, found.h))
        out.windows.append(found)  # both windows given: the search's own notes do not apply
        out.tails.append(tail if found.m is not None and found.m.source == "auto" else None)
        if out.tails[-1] is not None:
            out.messages[c].append(tail.describe())
        out.messages[c].extend([*found.notes[n_auto if given_both else 0:], *notes])
    return out


def _find_channel(means_V: np.ndarray, t: np.ndarray, prior: WindowPrior, cfg: AnalysisConfig,
                  pulse_end_ms: float, baseline: slice | None, levels_mA: np.ndarray
                  ) -> tuple[ChannelWindows, TailFit | None]:
    """Windows of one channel from its level means (L, n); where an artifact tail runs into
    M, the tail fitted on its own stretch, removed, and the windows found again."""
    found = find_windows(means_V, t, prior, cfg.windows, pulse_end_ms, baseline, levels_mA)
    if found.m is None:
        return found, None
    spans = [(a, b) for a, b, role in found.components
             if role == "artifact tail" and b <= found.m.start_ms + 1e-9]
    if not spans:
        return found, None
    first = int(np.searchsorted(t, max(0.0, pulse_end_ms)))
    tail = fit_tail(means_V, t, spans[-1], levels_mA, noise_rms(means_V, baseline, first))
    if tail is None:
        return found, None
    clean = means_V.copy()
    remove_tail(clean, t, levels_mA, tail)
    again = find_windows(clean, t, prior, cfg.windows, pulse_end_ms, baseline, levels_mA)
    return (again, tail) if again.m is not None else (found, None)


def measure(p: Prepared, f: Found) -> Measured:
    """Artifact tails removed (``f.tails``, on a copy of the sweeps), optional filters,
    background EMG, M and H of every sweep, and QC. M and H are
    measured at the same time, H in a second thread (independent: read-only inputs, outputs
    of their own; numpy lets both threads run: 0.105 -> 0.074 s for the 2,000-sweep bench
    file, in-process on 2 cores)."""
    cfg, t, data = p.cfg, p.time_ms, p.data
    c_cfg, q_cfg = cfg.conditioning, cfg.qc
    if any(tail is not None for tail in f.tails):  # before any filter smears it
        data = data.copy()
        for c, tail in enumerate(f.tails):
            if tail is not None:
                remove_tail(data[:, c], t, p.session.stimuli["intensity_mA"], tail)
    if c_cfg.bandpass or c_cfg.notch:
        blank_until = [w.blank_ms if w else p.pulse_end_ms + pr.blank_ms[1]
                       for w, pr in zip(f.windows, p.priors, strict=True)]
        data = _filtered(data, t, p.session.sample_rate_Hz, blank_until, cfg)
    bg = background_rms(data, t, q_cfg.background_ms)
    noise = bg.copy()
    for c in np.flatnonzero(~np.isfinite(noise).all(axis=0)):  # no pre-stimulus samples:
        w = f.windows[c]  # the quietest stretch instead
        after = w.blank_ms if w else p.pulse_end_ms + p.priors[c].blank_ms[1]
        noise[:, c] = quiet_rms(data[:, c], int(np.searchsorted(t, after)))
        f.messages[c].append("no pre-stimulus samples: DC from the median after the "
                             "artifact, no background EMG")
    onset_sd = cfg.windows.onset_sd
    with ThreadPoolExecutor(1) as pool:  # H in a second thread while M is measured here
        h_job = pool.submit(measure_wave, data, t, f.windows, "h", noise, onset_sd,
                            p.epochs.saturated)
        m = measure_wave(data, t, f.windows, "m", noise, onset_sd, p.epochs.saturated)
        h = h_job.result()
    limit, median = background_limit(bg, p.usable, q_cfg)
    reasons, flags = sweep_reasons(p.epochs.unusable, bg, limit, m.clipped | h.clipped)
    return Measured(data, m, h, bg, noise, reasons, excluded(flags, q_cfg), limit, median)
