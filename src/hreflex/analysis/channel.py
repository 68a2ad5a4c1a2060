"""The per-channel stage of the analysis: latencies, the recruitment curve with its 95 %
intervals, and RDD, from the measured sweeps (:mod:`hreflex.analysis.stages`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hreflex.analysis.fitting import CurveFit, fit_curves
from hreflex.analysis.intervals import recruitment_intervals
from hreflex.analysis.latency import wave_latency
from hreflex.analysis.matched import LOW_SNR, LOW_SNR_CURVE, matched_amplitudes
from hreflex.analysis.measures import noise_amplitude, wave_span
from hreflex.analysis.noise_shape import net_of_floor, noise_shape
from hreflex.analysis.pooling import level_stats
from hreflex.analysis.rdd import RddResult, rdd
from hreflex.analysis.recruitment import (
    RecruitmentResult,
    Stats,
    below_tested,
    fits_needed,
    recruitment,
)
from hreflex.analysis.results import ChannelResult
from hreflex.analysis.stages import Found, Measured, Plan, Prepared
from hreflex.analysis.windows import ChannelWindows, quiet_rms

#: matched H amplitudes replace the configured measure only where their level means agree
#: with its (net of the floor) within this fraction, on the levels read above
#: ``AGREEMENT_SNR`` x the floor (:func:`shape_agreement`; the simulator's waves, which keep
#: their shape: within 0.02; real clinical ramps whose H changes shape: 0.07-0.62)
AGREEMENT = 0.05
AGREEMENT_SNR = 3.0
#: sweeps whose amplitude is at least this fraction of the largest per-intensity mean make
#: the mean sweep on which the M and H latencies are measured (given windows)
LATENCY_FRACTION = 0.5


@dataclass
class Channel:
    """One channel's view of the measured session: index ``c``, its windows, amplitudes
    (n_sweeps,) of M and H in the configured measure (H: matched amplitudes when
    ``h_matched``, :func:`with_matched_h`), and which sweeps are included."""

    c: int
    windows: ChannelWindows | None
    m_amp: np.ndarray
    h_amp: np.ndarray
    include: np.ndarray
    h_matched: bool = False
    h_note: str | None = None  # what :func:`with_matched_h` decided for an H near the floor


@dataclass(frozen=True)
class Noise:
    """A channel's noise in its M and H windows (NaN / None without the window or without
    pre-stimulus samples): ``floor`` (the measure's median on pre-stimulus stretches as long
    as the window, mV or mV·ms) and the measured ``shape`` of the reading of a response
    (:func:`~hreflex.analysis.noise_shape.noise_shape`; None = quadrature)."""

    floor: tuple[float, float]
    shape: tuple[np.ndarray | None, np.ndarray | None]


def pooled(pl: Plan, amp: np.ndarray, use: np.ndarray) -> Stats:
    """Per-level (mean, sd, n), each (L,), of one channel's amplitudes ``amp`` (n,) over
    the sweeps ``use`` (n,) bool."""
    return tuple(s[:, 0] for s in level_stats(amp[:, None], pl.level, pl.levels.size,
                                              use[:, None]))


def large_sweeps(pl: Plan, ch: Channel, amp: np.ndarray) -> np.ndarray:
    """(n,) bool: the channel's included window-finding sweeps whose ``amp`` is at least
    ``LATENCY_FRACTION`` of the largest per-level mean: the wave's own mean response."""
    sel = ch.include & pl.for_windows
    means = pooled(pl, amp, sel)[0]
    big = np.nanmax(means) if np.isfinite(means).any() else np.nan
    return sel & (amp >= LATENCY_FRACTION * big)


def channel_noise(p: Prepared, ms: Measured, pl: Plan, ch: Channel) -> Noise:
    """The :class:`Noise` of the channel's M and H windows."""
    floors: list[float] = []
    shapes: list[np.ndarray | None] = []
    data, bg = ms.data[:, ch.c], p.cfg.qc.background_ms
    for wave, amp in (("m", ch.m_amp), ("h", ch.h_amp)):
        win = getattr(ch.windows, wave) if ch.windows is not None else None
        span = wave_span(p.time_ms, ch.windows, wave)
        if win is None or span is None:
            floors.append(np.nan)
            shapes.append(None)
            continue
        floor = noise_amplitude(data, p.time_ms, bg, win.stop_ms - win.start_ms, ch.include,
                                p.cfg.amplitude)
        floors.append(floor)
        shapes.append(noise_shape(data, p.time_ms, span, large_sweeps(pl, ch, amp),
                                  ch.include, bg, p.cfg.amplitude, floor))
    return Noise((floors[0], floors[1]), (shapes[0], shapes[1]))


def latencies(p: Prepared, pl: Plan, ms: Measured, ch: Channel
              ) -> tuple[dict[str, float | None], dict[str, str]]:
    """Onset and peak latencies of M and H (``docs/METRICS.md``, step 4) and the reasons of
    the missing ones."""
    lat: dict[str, float | None] = {"m": None, "h": None, "m_peak": None, "h_peak": None}
    why: dict[str, str] = {}
    w, t = ch.windows, p.time_ms
    for wave, amp in (("m", ch.m_amp), ("h", ch.h_amp)):
        win = getattr(w, wave) if w else None
        if win is None:
            why[wave] = why[f"{wave}_peak"] = (
                f"no {wave.upper()} window" + (f" ({'; '.join(w.notes)})" if w and w.notes
                                               else ""))
            continue
        sel = large_sweeps(pl, ch, amp)
        if not sel.any():
            why[wave] = why[f"{wave}_peak"] = "no usable sweep with a response"
            continue
        # (a weighted sum of the rows, not a copy of the selected sweeps: same mean)
        mean = (sel.astype(ms.data.dtype) @ ms.data[:, ch.c]) / sel.sum()
        noise = (float(np.sqrt(np.mean(mean[pl.baseline] ** 2))) if pl.baseline is not None
                 else float(quiet_rms(mean, int(np.searchsorted(t, w.blank_ms)))))
        onset, peak = wave_latency(mean, t, (win.start_ms, win.stop_ms),
                                   w.onset_search_ms(wave), noise, w.smooth_ms,
                                   p.cfg.windows.onset_sd, onset=win.onset_ms)
        lat[wave] = onset if np.isfinite(onset) else None
        lat[f"{wave}_peak"] = peak if np.isfinite(peak) else None
        if lat[wave] is None:
            why[wave] = ("no onset: the mean response never departs from its baseline by 3 x "
                         "its noise and 1 % of its peak-to-peak before its peak")
    return lat, why


def channel(p: Prepared, f: Found, ms: Measured, c: int) -> Channel:
    """Channel ``c``'s view of the measured session."""
    amp = p.cfg.amplitude
    return Channel(c, f.windows[c], ms.m.amplitude(amp)[:, c], ms.h.amplitude(amp)[:, c],
                   ms.include[:, c])


def with_matched_h(p: Prepared, pl: Plan, ms: Measured, ch: Channel, noise: Noise) -> Channel:
    """``ch`` with matched H amplitudes (:mod:`hreflex.analysis.matched`) where its H is read
    near the noise floor — the largest per-level mean H of its recruitment sweeps is below
    ``LOW_SNR_CURVE`` x the H window's floor — and keeps one shape: the matched amplitudes
    agree with the configured measure within ``AGREEMENT`` where that is reliable
    (:func:`shape_agreement`). Else ``ch`` as it is."""
    span, floor = wave_span(p.time_ms, ch.windows, "h"), noise.floor[1]
    inc = ch.include & pl.recruitment
    if span is None or not (floor > 0) or not inc.any():
        return ch
    measured = pooled(pl, ch.h_amp, inc)[0]
    if not (np.isfinite(measured).any() and np.nanmax(measured) < LOW_SNR_CURVE * floor):
        return ch
    matched = h_matched_amplitudes(p, pl, ms, ch, span)
    if matched is None:
        return ch
    agree = shape_agreement(measured, pooled(pl, matched, inc)[0], floor, noise.shape[1])
    if not abs(agree - 1) <= AGREEMENT:
        return replace(ch, h_note=(
            f"H read below {LOW_SNR_CURVE:g} x the noise floor, but its shape changes with "
            f"intensity (matched / measured level means {agree:.2f}): the configured measure "
            "is kept"))
    return replace(ch, h_amp=matched, h_matched=True, h_note=(
        f"H recruitment and RDD from matched amplitudes: the largest mean H is read below "
        f"{LOW_SNR_CURVE:g} x the noise floor ({floor:.3g})"))


def h_matched_amplitudes(p: Prepared, pl: Plan, ms: Measured, ch: Channel,
                         span: tuple[int, int]) -> np.ndarray | None:
    """(n,) matched amplitudes of the channel's H window ``span``, the template its large H
    sweeps (:func:`large_sweeps`); None without a usable template."""
    return matched_amplitudes(ms.data[:, ch.c], p.time_ms, span,
                              large_sweeps(pl, ch, ch.h_amp), p.cfg.amplitude)


def shape_agreement(measured: np.ndarray, matched: np.ndarray, floor: float,
                    shape: np.ndarray | None) -> float:
    """How well a channel's H keeps one shape, from its per-level (L,) mean H in the
    configured measure (``measured``) and in matched amplitudes (``matched``), mV or mV·ms:
    the sum of the matched means over the sum of the measured ones net of the ``floor``
    (noise ``shape``, :func:`~hreflex.analysis.noise_shape.net_of_floor`), on the levels
    read above ``AGREEMENT_SNR`` x the floor (where the measure is reliable). 1 for a wave
    that only changes size; below 1 where its shape changes with intensity (a template
    projects less of it); NaN without such levels."""
    net = net_of_floor(measured, floor, shape)[0]
    use = np.isfinite(measured) & np.isfinite(matched) & (measured > AGREEMENT_SNR * floor)
    return float(np.sum(matched[use]) / np.sum(net[use])) if use.any() else float("nan")


def recruitment_stats(pl: Plan, ch: Channel) -> dict[str, Stats | None]:
    """Per-level (mean, sd, n) of M and H over the channel's included recruitment sweeps
    (None without the window)."""
    w, inc = ch.windows, ch.include & pl.recruitment
    amps = {"m": ch.m_amp if w and w.m else None, "h": ch.h_amp if w and w.h else None}
    return {k: pooled(pl, a, inc) if a is not None else None for k, a in amps.items()}


def session_fits(p: Prepared, pl: Plan, chans: list[Channel], noise: list[Noise]
                 ) -> list[tuple[CurveFit | str | None, CurveFit | str | None]]:
    """The M and H recruitment fits of every channel (``noise``: each one's
    :class:`Noise`), each model fitted to all channels at once
    (:func:`~hreflex.analysis.fitting.fit_curves`); None where no fit is made. Matched H
    amplitudes read no noise: their fit has no measured noise shape (its floor fits 0)."""
    stats = [recruitment_stats(pl, ch) for ch in chans]
    shapes = [(nz.shape[0], None if ch.h_matched else nz.shape[1])
              for ch, nz in zip(chans, noise, strict=True)]
    out: list[list[CurveFit | str | None]] = [[None, None] for _ in stats]
    models = ("boltzmann", p.cfg.recruitment.h_model)  # (prepare made "auto" the species')
    for j, (wave, model) in enumerate(zip(("m", "h"), models, strict=True)):
        rows = [c for c, st in enumerate(stats) if fits_needed(st[wave])]
        if rows:
            fits = fit_curves(model, pl.levels, np.array([stats[c][wave][0] for c in rows]),
                              np.array([stats[c][wave][2] for c in rows]),
                              p.cfg.recruitment.min_r2, [shapes[c][j] for c in rows])
            for c, fit in zip(rows, fits, strict=True):
                out[c][j] = fit
    return [(m, h) for m, h in out]


def channel_recruitment(p: Prepared, pl: Plan, ch: Channel, floor: tuple[float, float],
                        why: dict[str, str],
                        fits: tuple[CurveFit | str | None, CurveFit | str | None] = (None, None)
                        ) -> RecruitmentResult:
    """The recruitment curve of the channel's recruitment sweeps, with its intervals;
    ``fits`` as :func:`session_fits` made them (else they are made here)."""
    cfg, inc = p.cfg, ch.include & pl.recruitment
    stats = recruitment_stats(pl, ch)
    amps = {"m": ch.m_amp if stats["m"] is not None else None,
            "h": ch.h_amp if stats["h"] is not None else None}
    observed = [float(np.max(a[inc])) if a is not None and inc.any() else None
                for a in amps.values()]
    r = recruitment(pl.levels, stats["m"], stats["h"], (observed[0], observed[1]),
                    cfg.recruitment, floor,
                    (why.get("m", "no M window"), why.get("h", "no H window")), fits)
    r.h_amplitude = "matched" if ch.h_matched else "measure"
    r.ci95, why_not = recruitment_intervals(r, np.where(inc, pl.level, -1), amps["m"],
                                            amps["h"], cfg.recruitment, floor)
    r.reasons.update(why_not)
    return r


def channel_rdd(p: Prepared, pl: Plan, ms: Measured, ch: Channel, noise: Noise) -> RddResult:
    """RDD of the channel's H amplitudes net of the noise floor; where a frequency's mean H
    is read below ``LOW_SNR`` x the floor (or the channel's H amplitudes are matched ones
    already), from the matched amplitudes of the H window instead
    (:mod:`hreflex.analysis.matched`; no floor to take out of those)."""
    cfg, floor = p.cfg.rdd, noise.floor[1]
    if ch.h_matched:  # (its floor is positive: with_matched_h needs one)
        out = rdd(ch.h_amp, ch.m_amp, ch.include, pl.trains, cfg)
        out.floor_mV, out.amplitude = floor, "matched"
        return out
    out = rdd(ch.h_amp, ch.m_amp, ch.include, pl.trains, cfg, floor, noise.shape[1])
    low = [row for row in out.rows if row.h_mean_mV < LOW_SNR * floor]
    span = wave_span(p.time_ms, ch.windows, "h")
    if not low or span is None:
        return out
    matched = h_matched_amplitudes(p, pl, ms, ch, span)
    if matched is None:
        return out
    again = rdd(matched, ch.m_amp, ch.include, pl.trains, cfg)
    again.floor_mV, again.amplitude = out.floor_mV, "matched"
    return again


def channel_result(p: Prepared, pl: Plan, f: Found, ms: Measured, ch: Channel,
                   fits: tuple[CurveFit | str | None, CurveFit | str | None], noise: Noise
                   ) -> ChannelResult:
    """Everything the analysis reports about channel ``ch`` (``fits``: its recruitment fits,
    :func:`session_fits`; ``noise``: its :class:`Noise`)."""
    c = ch.c
    cfg, w, messages = p.cfg, f.windows[c], f.messages[c]
    lat, why = latencies(p, pl, ms, ch)
    rec = None
    if w is not None:
        rec = channel_recruitment(p, pl, ch, noise.floor, why, fits)
        messages.extend(below_tested(rec))
    else:
        why["recruitment"] = messages[0] if messages else "no windows"
    rdd_result = (channel_rdd(p, pl, ms, ch, noise) if w is not None and w.h is not None
                  else RddResult(skip_first=cfg.rdd.skip_first, source=pl.trains.source,
                                 reason=why.get("h", "no H window")))
    if ch.h_note:
        messages.append(ch.h_note)
    if rdd_result.amplitude == "matched" and not ch.h_matched:
        messages.append(f"RDD from matched amplitudes: the depressed H is read below "
                        f"{LOW_SNR:g} x the noise floor ({rdd_result.floor_mV:.3g})")
    if rdd_result.m_changed:
        messages.append(f"M-wave changed by {rdd_result.m_change_pct:.0f} % across RDD "
                        f"frequencies (limit {cfg.rdd.m_change_pct:g} %)")
    bad = np.flatnonzero(ms.excluded[:, c])
    limit, median = ms.limit_V[c], ms.median_V[c]
    return ChannelResult(
        index=c, name=p.session.channel_names[c], muscle=p.session.channel_muscles[c],
        windows=w, latency_ms=lat, recruitment=rec, rdd=rdd_result,
        n_sweeps=int(p.usable.shape[0]), n_excluded=int(bad.size),
        background_median_uV=float(median * 1e6) if np.isfinite(median) else None,
        background_limit_uV=float(limit * 1e6) if np.isfinite(limit) else None,
        excluded=[(int(s), str(ms.reasons[s, c])) for s in bad], reasons=why,
        messages=messages)
