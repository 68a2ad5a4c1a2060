"""The whole analysis of one session: epochs -> conditioning -> windows -> measures -> QC ->
recruitment and RDD per channel. Pure: takes a :class:`~hreflex.io.session.Session` in
memory, returns an :class:`~hreflex.analysis.results.AnalysisResult`; reading and writing
files is the caller's job (``hreflex analyze``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hreflex import __version__
from hreflex.analysis import conditioning as cond
from hreflex.analysis.config import AnalysisConfig, prior_for
from hreflex.analysis.epochs import make_epochs
from hreflex.analysis.intervals import recruitment_intervals
from hreflex.analysis.latency import wave_latency
from hreflex.analysis.measures import background_rms, measure_wave, noise_amplitude
from hreflex.analysis.pooling import intensity_levels, level_means, level_stats
from hreflex.analysis.qc import annotations, background_limit, excluded, sweep_reasons
from hreflex.analysis.rdd import RddResult, rdd, trains_of
from hreflex.analysis.recruitment import RecruitmentResult, recruitment
from hreflex.analysis.results import AnalysisResult, ChannelResult, SweepTable
from hreflex.analysis.window_sources import given_windows
from hreflex.analysis.windows import ChannelWindows, apply_manual, find_windows, quiet_rms
from hreflex.io.format import ANNOTATION_DTYPE, decode_str, empty_table
from hreflex.io.session import Session

#: sweeps whose amplitude is at least this fraction of the largest per-intensity mean make
#: the mean sweep on which the M and H latencies are measured
LATENCY_FRACTION = 0.5


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


def _provenance(session: Session, input_info: dict[str, Any] | None) -> dict[str, Any]:
    info = {
        "path": str(session.path) if session.path else None,
        "sha256": None,
        "layout": session.layout,
        "sample_rate_Hz": session.sample_rate_Hz,
        "n_stimuli": len(session.stimuli),
        "channels": list(session.channel_names),
        "subject_id": session.meta.subject_id,
        "session_id": session.meta.session_id,
        "species": session.meta.species,
    }
    info.update(input_info or {})
    return {
        "software": {"name": "hreflex", "version": __version__},
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": info,
    }


def _empty(session: Session, cfg: AnalysisConfig, message: str,
           input_info: dict[str, Any] | None) -> AnalysisResult:
    """Result for a session that cannot be analysed at all (e.g. no stimuli)."""
    n_ch = session.n_channels
    nothing = np.zeros((0, n_ch))
    m = measure_wave(np.zeros((0, n_ch, 2)), np.arange(2.0), [None] * n_ch, "m", nothing, 1.0)
    table = SweepTable(list(session.channel_names), *(np.zeros(0) for _ in range(6)),
                       np.zeros(0, bool), m, m, nothing, nothing.astype(bool),
                       nothing.astype(object))
    channels = [ChannelResult(c, name, session.channel_muscles[c], None,
                              {"m": None, "h": None, "m_peak": None, "h_peak": None}, None,
                              RddResult(reason=message), 0, 0, None, None,
                              reasons={k: message for k in ("m", "h", "m_peak", "h_peak",
                                                            "recruitment")},
                              messages=[message])
                for c, name in enumerate(session.channel_names)]
    return AnalysisResult(channels, table, empty_table(ANNOTATION_DTYPE), cfg.to_dict(),
                          _provenance(session, input_info), [message])


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


def _as_recorded(session: Session) -> Session:
    """The session as its recording system measured it: with the online high-pass its source
    describes (``/devices/source`` ``online_highpass_Hz`` / ``_order``, e.g. EPOCS) applied
    to continuous data, so amplitudes in its recorded windows are the system's own."""
    src = session.devices.get("source", {})
    corner, order = src.get("online_highpass_Hz"), src.get("online_highpass_order")
    if session.continuous is None or not corner or not order or corner <= 0:
        return session
    volts = session.continuous * session.scale_V_per_count[None, :]
    return replace(session, continuous=cond.online_highpass(volts, session.sample_rate_Hz,
                                                            float(corner), int(order)),
                   scale_V_per_count=np.ones(session.n_channels))


def analyze_session(session: Session, config: AnalysisConfig | None = None, *,
                    input_info: dict[str, Any] | None = None,
                    windows_from: dict[str, dict[str, tuple[float, float]]] | None = None
                    ) -> AnalysisResult:
    """Analyse every channel of ``session`` (see ``docs/METRICS.md`` for each step).

    ``input_info`` is merged into ``provenance["input"]`` (e.g. ``{"sha256": ...}``);
    ``windows_from``: channel name (or "*") -> windows to use instead of the automatic ones
    (e.g. from the same subject's recruitment run, :func:`window_sources.spans_from_results`).
    Problems with the data never raise: they end up as per-channel messages and null
    values with reasons.
    """
    cfg = config or AnalysisConfig()
    if cfg.windows.source == "recorded":
        session = _as_recorded(session)
    stim = session.stimuli
    n_ch = session.n_channels
    if len(stim) == 0:
        return _empty(session, cfg, "no stimuli in the file", input_info)
    species = session.meta.species or "human"
    muscles = [m or session.meta.muscle for m in session.channel_muscles]
    priors = [prior_for(cfg.windows.priors, species, m) for m in muscles]
    messages = sorted({f"no window prior for species {species!r}; using {p.name!r}"
                       for p in priors if p.species.lower() != species.lower()})

    c_cfg, q_cfg = cfg.conditioning, cfg.qc
    ep = make_epochs(session, min(c_cfg.baseline_ms[0], q_cfg.background_ms[0]),
                     max(p.max_end_ms for p in priors), _clip_level_V(session, cfg))
    t = ep.time_ms
    fs = session.sample_rate_Hz
    width = stim["pulse_width_us"][np.isfinite(stim["pulse_width_us"])]
    pulse_end_ms = float(np.median(width)) / 1000.0 if width.size else 0.0
    data, _ = cond.remove_baseline(ep.data_V, t, c_cfg.baseline_ms,
                                   pulse_end_ms + max(p.blank_ms[1] for p in priors),
                                   overwrite=True)
    usable = ep.unusable == ""
    if (usable.sum(axis=0) < usable.shape[0]).any():
        messages.append(f"{int((~usable.all(axis=1)).sum())} of {usable.shape[0]} sweeps "
                        "cannot be used (see qc.excluded)")

    trains = trains_of(stim, cfg.rdd)
    rec = _recruitment_sweeps(session, trains.train_id >= 0)
    win_sel = rec if rec.any() else np.ones_like(rec)
    intensity = np.asarray(stim["intensity_mA"], dtype=np.float64)
    levels, level = intensity_levels(np.where(win_sel, intensity, np.nan),
                                     cfg.recruitment.intensity_tolerance)
    baseline = cond.window_slice(t, c_cfg.baseline_ms)

    n_level = level_stats(np.zeros(usable.shape), level, levels.size, usable & win_sel[:, None])[2]
    has_level = (n_level > 0).any(axis=0)
    means = level_means(data, level, levels.size, usable & win_sel[:, None])
    if baseline is not None:  # slow drift out of the picture the windows are found in
        means = cond.remove_baseline(means, t, c_cfg.baseline_ms, overwrite=True,
                                     detrend_min_ms=cfg.windows.detrend_min_ms)[0]
    # flat (all samples equal): every mean sweep is exactly 0 once its DC is removed
    flat = ~(np.abs(means).max(axis=(0, 2), initial=0.0) > 0) | ~usable.any(axis=0)
    windows: list[ChannelWindows | None] = []
    ch_msgs: list[list[str]] = [[] for _ in range(n_ch)]
    for c, name in enumerate(session.channel_names):
        if flat[c] or not has_level[c]:
            ch_msgs[c].append("channel is flat (all samples equal)" if flat[c] and usable[:, c]
                              .any() else "no usable sweep on this channel")
            windows.append(None)
            continue
        have = n_level[:, c] > 0
        found = find_windows(means[have, c], t, priors[c], cfg.windows, pulse_end_ms, baseline,
                             levels[have])
        layers, notes = given_windows(
            name, c, cfg.windows.manual, windows_from,
            session.recorded_windows if cfg.windows.source == "recorded" else None,
            cfg.amplitude)
        n_auto = len(found.notes)
        for spans, source in layers:
            found = apply_manual(found, spans, t, source)
        given_both = all(w is not None and w.source != "auto" for w in (found.m, found.h))
        windows.append(found)  # with both windows given, the search's own notes do not apply
        ch_msgs[c].extend([*found.notes[n_auto if given_both else 0:], *notes])

    if c_cfg.bandpass or c_cfg.notch:
        blank_until = [w.blank_ms if w else pulse_end_ms + p.blank_ms[1]
                       for w, p in zip(windows, priors, strict=True)]
        data = _filtered(data, t, fs, blank_until, cfg)

    bg = background_rms(data, t, q_cfg.background_ms)
    noise = bg.copy()
    no_bg = ~np.isfinite(noise).all(axis=0)
    for c in np.flatnonzero(no_bg):  # no pre-stimulus samples: quietest stretch instead
        after = windows[c].blank_ms if windows[c] else pulse_end_ms + priors[c].blank_ms[1]
        noise[:, c] = quiet_rms(data[:, c], int(np.searchsorted(t, after)))
        ch_msgs[c].append("no pre-stimulus samples: DC from the median after the artifact, "
                          "no background EMG")
    onset_sd = cfg.windows.onset_sd
    m_meas = measure_wave(data, t, windows, "m", noise, onset_sd, ep.saturated)
    h_meas = measure_wave(data, t, windows, "h", noise, onset_sd, ep.saturated)

    limit, median = background_limit(bg, usable, q_cfg)
    reasons, flags = sweep_reasons(ep.unusable, bg, limit, m_meas.clipped | h_meas.clipped)
    excl = excluded(flags, q_cfg)
    include = ~excl
    m_amp, h_amp = m_meas.amplitude(cfg.amplitude), h_meas.amplitude(cfg.amplitude)
    use_rec = include & rec[:, None]
    m_stats = level_stats(m_amp, level, levels.size, use_rec)
    h_stats = level_stats(h_amp, level, levels.size, use_rec)

    channels = []
    for c, name in enumerate(session.channel_names):
        w = windows[c]
        lat: dict[str, float | None] = {"m": None, "h": None, "m_peak": None, "h_peak": None}
        why: dict[str, str] = {}
        for wave, amp in (("m", m_amp), ("h", h_amp)):
            win = getattr(w, wave) if w else None
            if win is None:
                why[wave] = why[f"{wave}_peak"] = (
                    f"no {wave.upper()} window" + (f" ({'; '.join(w.notes)})" if w and w.notes
                                                   else ""))
                continue
            pooled = level_stats(amp[:, c:c + 1], level, levels.size,
                                 (include[:, c] & win_sel)[:, None])[0][:, 0]
            big = np.nanmax(pooled) if np.isfinite(pooled).any() else np.nan
            sel = include[:, c] & win_sel & (amp[:, c] >= LATENCY_FRACTION * big)
            if not sel.any():
                why[wave] = why[f"{wave}_peak"] = "no usable sweep with a response"
                continue
            mean = data[sel, c].mean(axis=0)
            mean_noise = (float(np.sqrt(np.mean(mean[baseline] ** 2))) if baseline is not None
                          else float(quiet_rms(mean, int(np.searchsorted(t, w.blank_ms)))))
            onset, peak = wave_latency(mean, t, (win.start_ms, win.stop_ms),
                                       w.onset_search_ms(wave), mean_noise, w.smooth_ms,
                                       onset_sd, onset=win.onset_ms)
            lat[wave] = onset if np.isfinite(onset) else None
            lat[f"{wave}_peak"] = peak if np.isfinite(peak) else None
            if lat[wave] is None:
                why[wave] = ("no onset: the mean response never departs from its baseline "
                             "by 3 x its noise and 1 % of its peak-to-peak before its peak")

        floor = [noise_amplitude(data[:, c], t, q_cfg.background_ms, win.stop_ms - win.start_ms,
                                 include[:, c], cfg.amplitude) if win else np.nan
                 for win in ((w.m, w.h) if w is not None else (None, None))]
        rec_result: RecruitmentResult | None = None
        if w is not None:
            inc = use_rec[:, c]
            stats = [(st[0][:, c], st[1][:, c], st[2][:, c]) if getattr(w, k) else None
                     for k, st in (("m", m_stats), ("h", h_stats))]
            obs = [float(np.max(a[inc, c])) if s is not None and inc.any() else None
                   for a, s in ((m_amp, stats[0]), (h_amp, stats[1]))]
            rec_result = recruitment(levels, stats[0], stats[1], (obs[0], obs[1]),
                                     cfg.recruitment, (floor[0], floor[1]),
                                     (why.get("m", "no M window"), why.get("h", "no H window")))
            rec_result.ci95 = recruitment_intervals(
                rec_result, np.where(inc, level, -1), m_amp[:, c] if w.m else None,
                h_amp[:, c] if w.h else None, cfg.recruitment, (floor[0], floor[1]))
        else:
            why["recruitment"] = ch_msgs[c][0] if ch_msgs[c] else "no windows"

        rdd_result = (rdd(h_amp[:, c], m_amp[:, c], include[:, c], trains, cfg.rdd, floor[1])
                      if w is not None and w.h is not None
                      else RddResult(skip_first=cfg.rdd.skip_first, source=trains.source,
                                     reason=why.get("h", "no H window")))
        if rdd_result.m_changed:
            ch_msgs[c].append(f"M-wave changed by {rdd_result.m_change_pct:.0f} % across RDD "
                              f"frequencies (limit {cfg.rdd.m_change_pct:g} %)")
        bad = np.flatnonzero(excl[:, c])
        channels.append(ChannelResult(
            index=c, name=name, muscle=session.channel_muscles[c], windows=w, latency_ms=lat,
            recruitment=rec_result, rdd=rdd_result, n_sweeps=int(usable.shape[0]),
            n_excluded=int(bad.size),
            background_median_uV=float(median[c] * 1e6) if np.isfinite(median[c]) else None,
            background_limit_uV=float(limit[c] * 1e6) if np.isfinite(limit[c]) else None,
            excluded=[(int(s), str(reasons[s, c])) for s in bad], reasons=why,
            messages=ch_msgs[c]))

    table = SweepTable(
        list(session.channel_names), intensity, np.asarray(stim["time_s"], float),
        np.asarray(stim["block_id"]), trains.train_id, trains.pulse_index,
        trains.frequency_Hz, rec, m_meas, h_meas, bg * 1e6, excl, reasons)
    return AnalysisResult(channels, table, annotations(reasons), cfg.to_dict(),
                          _provenance(session, input_info), messages)
