"""M and H windows of one channel, found from how the response depends on intensity.

Input: the per-intensity mean sweeps of one channel, ``level_mean_V`` (n_levels, n_samples),
ascending intensity, baseline removed. ``docs/METRICS.md`` (step 3) defines every rule; in
short:

1. **Artifact end** at the highest intensity (largest artifact), as before any window.
2. **Components** (:mod:`hreflex.analysis.components`): stretches where some level is active,
   each with one intensity profile; a wave with several phases is one component, an M-wave
   followed without a gap by an H-reflex is two.
3. **Roles**: components that do not depend on intensity (present at every stimulated level
   at similar size, while the M-wave is recruited) are left out, so are artifact tails
   (largest where the blanking ends), late waves that appear only once M is nearly
   maximal (F-waves) and, in a human, late waves that only grow with M. The **M-wave** is
   the early component (onset in the prior's ``m_onset_ms``) largest at the top intensity,
   with what touches it in mid-phase (one wave whose latency shifts with intensity); the
   **H-reflex** the largest remaining one after it with onset in ``h_onset_ms`` (where none
   is found on a ramp with levels of little M, M's component gets a second look for an H
   inside it). Two H candidates of nearly the same size leave H undetermined, with both
   named in the reason.
4. **Bounds** on the component's matched waveform (:mod:`hreflex.analysis.edges`): from
   where it leaves the baseline (the take-off, also from a drifting artifact tail) to where
   it returns (its envelope below 4 x its noise and 1 % of its peak), never across a
   neighbouring component.

Each window carries its evidence (one line) and a confidence in [0, 1]. Manual windows from
the config replace either result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hreflex.analysis.components import (
    Component,
    component,
    components,
    moving_rms,
    split_run,
)
from hreflex.analysis.config import WindowConfig, WindowPrior
from hreflex.analysis.edges import bridged, edge_threshold, envelope, wave_bounds
from hreflex.analysis.latency import DECAY_MIN_SAMPLES

#: a component whose smallest stimulated level is at least this fraction of its largest does
#: not depend on intensity (judged only when some level has little M: below INFORMATIVE)
FLAT_RATIO = 0.5
INFORMATIVE = 0.3
#: an H candidate first reaching 20 % of its size where M is already this fraction of its
#: maximum is a late response to supramaximal stimuli (F-wave), not an H-reflex
F_WAVE_M_FRACTION = 0.9
#: in a human, H falls as M grows (METHODS): an H candidate whose relative profile is never
#: this much above M's at a stimulated level only grows with M (a late part of the M
#: response), not an H-reflex
LEADS_M = 0.2
#: a runner-up H candidate at least this fraction of the best one's size: H is ambiguous
AMBIGUOUS = 0.8
#: a gap between two components that the matched waveform bridges joins them into one wave
#: when their profiles have at least this cosine (see ``_reach``, ``_pieces``)
REACH_COSINE = 0.7
#: touching H candidates are pieces of one wave when their leading profiles have at least
#: REACH_COSINE, or their relative size profiles (p2p per stimulated level, net of noise)
#: at least this cosine: one wave's phases keep one size profile even where a neighbour's
#: tail under one phase turns its leading profile
PIECE_COSINE = 0.9
#: the steep part of the artifact is over once a sample-to-sample step is below this fraction
#: of the largest step of the artifact
ARTIFACT_STEP = 0.1
#: a component that starts where M ends, while the top intensity's mean there is at least
#: this fraction of its largest |x| in M, continues M's wave (cut in mid-phase by a latency
#: that shifts with intensity); a new wave starts near the baseline
MID_PHASE = 0.5
#: noise RMS assumed at least this fraction of the largest |x| after the pulse (60 dB)
DYNAMIC_RANGE = 1e-3


@dataclass(frozen=True)
class Window:
    """A time window ``[start_ms, stop_ms]`` after the stimulus. ``source``: ``auto``,
    ``manual``, ``recorded`` or ``file``; ``confidence`` in [0, 1] (automatic windows) and
    ``evidence``, one line on why the window was chosen; ``onset_ms``: the take-off of the
    wave's matched waveform (automatic windows; it is the channel's onset latency)."""

    start_ms: float
    stop_ms: float
    source: str = "auto"
    confidence: float | None = None
    evidence: str = ""
    onset_ms: float | None = None  #: the wave's take-off (automatic windows)

    def as_list(self) -> list[float]:
        return [round(self.start_ms, 3), round(self.stop_ms, 3)]


@dataclass(frozen=True)
class ChannelWindows:
    """Windows of one channel: artifact blanked until ``blank_ms``; ``m``/``h`` None when not
    found (``notes`` say why); ``prior`` is the name of the prior used, ``smooth_ms`` its
    activity smoothing; ``components`` every evoked component found, as
    ``(start_ms, stop_ms, role)`` with role ``m``, ``h`` or why it was left out."""

    blank_ms: float
    m: Window | None
    h: Window | None
    prior: str
    smooth_ms: float
    notes: tuple[str, ...] = ()
    components: tuple[tuple[float, float, str], ...] = ()

    def onset_search_ms(self, wave: str) -> float:
        """Where an onset search for ``wave`` ("m"/"h") may start: after the artifact, after
        the M window (for H), and after every other component that ends before the window
        starts."""
        win = getattr(self, wave)
        lo = self.blank_ms
        if wave == "h" and self.m is not None:
            lo = max(lo, self.m.stop_ms)
        if win is None:
            return lo
        ends = [stop for start, stop, role in self.components
                if role != wave and stop <= win.start_ms]
        return max([lo, *ends])


def quiet_rms(x_V: np.ndarray, after: int) -> np.ndarray:
    """Noise RMS of signals (..., n_samples) that have no pre-stimulus samples: the 10th
    percentile, from sample ``after`` on, of the moving RMS (over 1/50 of that span) of the
    first difference / sqrt(2). White noise gives its RMS; slow drifts and offsets do not
    count. Shape ``x_V.shape[:-1]``."""
    diff = np.diff(x_V[..., min(after, max(x_V.shape[-1] - 2, 0)):], axis=-1) / np.sqrt(2.0)
    if diff.shape[-1] == 0:  # one sample or none: no noise to see
        return np.zeros(x_V.shape[:-1])
    width = max(1, diff.shape[-1] // 50)
    return np.percentile(moving_rms(diff, width), 10, axis=-1)


def noise_rms(level_mean_V: np.ndarray, baseline: slice | None, after: int) -> np.ndarray:
    """(n_levels,) noise RMS of each mean sweep: its RMS over the ``baseline`` samples, else
    :func:`quiet_rms` from sample ``after`` on."""
    if baseline is not None:
        return np.sqrt(np.mean(level_mean_V[:, baseline] ** 2, axis=1))
    return quiet_rms(level_mean_V, after)


def artifact_end(top_mean_V: np.ndarray, time_ms: np.ndarray, pulse_end_ms: float,
                 prior: WindowPrior) -> float:
    """End (ms) of the steep part of the stimulus artifact in the mean sweep at the top
    intensity: the first sample from pulse end + ``prior.blank_ms[0]`` on whose step to the
    next sample is below ``ARTIFACT_STEP`` of the largest step from the stimulus to pulse end
    + ``prior.blank_ms[1]`` (the latest it may end). A slow tail after it is not blanked: the
    windows start at the waves' take-off from it."""
    lo, hi = pulse_end_ms + prior.blank_ms[0], pulse_end_ms + prior.blank_ms[1]
    a, b, c = np.searchsorted(time_ms, [0.0, lo - 1e-9, hi + 1e-9])
    step = np.abs(np.diff(top_mean_V[a:c + 1]))
    if step.size == 0 or b >= c:
        return float(min(max(time_ms[min(b, time_ms.size - 1)], lo), hi))
    calm = np.flatnonzero(step[b - a:] < ARTIFACT_STEP * step.max())
    t = time_ms[b + calm[0]] if calm.size else hi
    return float(min(max(t, lo), hi))


def _relative(c: Component, noise_p2p_V: np.ndarray) -> np.ndarray:
    """Profile with the noise peak-to-peak taken off, as a fraction of its maximum."""
    net = np.maximum(c.profile_V - noise_p2p_V, 0.0)
    return net / net.max() if net.max() > 0 else net


def _artifact_like(c: Component, first: int) -> bool:
    """A component that starts where the blanking ends and only decays from there: no turn
    that is at least 20 % of its range from its start and that the waveform then leaves by
    at least 20 % of its range again (a tail's small overshoot back to baseline is no turn;
    a wave riding on the tail, whose phases swing after the turn, is). An artifact tail,
    not a wave."""
    w = c.waveform_V[c.start:c.stop]
    if c.start > first + 1:
        return False
    if w.size < 3:  # a couple of samples right at the blanking: what is left of the artifact
        return True
    span = float(w.max() - w.min())
    d = np.sign(np.diff(w))
    turns = np.flatnonzero(d[1:] * d[:-1] < 0) + 1
    return not any(abs(w[k] - w[0]) >= 0.2 * span
                   and float(np.abs(w[k:] - w[k]).max()) >= 0.2 * span for k in turns)


@dataclass
class _Scene:
    """What :func:`find_windows` knows about one channel while it assigns roles."""

    comps: list[Component]
    rel: list[np.ndarray]
    stimulated: np.ndarray
    time_ms: np.ndarray
    roles: list[str]
    x: np.ndarray  #: the level means (L, T)
    sigma: np.ndarray  #: their noise RMS (L,)
    noise_p2p: np.ndarray

    def merge(self, first: int, last: int) -> None:
        """Make components ``first..last`` (touching pieces of one wave) one component."""
        c = component(self.x, self.sigma, self.comps[first].start, self.comps[last].stop)
        self.comps[first:last + 1] = [c]
        self.rel[first:last + 1] = [_relative(c, self.noise_p2p)]
        self.roles[first:last + 1] = [""]

    def t(self, k: int) -> tuple[float, float]:
        c = self.comps[k]
        return float(self.time_ms[c.start]), float(self.time_ms[min(c.stop, c.stop - 1)])

    def level_of(self, rel: np.ndarray, fraction: float) -> int:
        """First stimulated level where a relative profile reaches ``fraction``."""
        idx = np.flatnonzero(self.stimulated & (rel >= fraction))
        return int(idx[0]) if idx.size else -1


def _pick_m(s: _Scene, prior: WindowPrior, informative: bool) -> int | None:
    early = [k for k, r in enumerate(s.roles) if r == "" and s.t(k)[0] <= prior.m_onset_ms[1]]
    if not early:
        return None
    top = int(np.flatnonzero(s.stimulated)[-1]) if s.stimulated.any() else -1
    return max(early, key=lambda k: s.comps[k].profile_V[top])


def _flat_roles(s: _Scene, m: int) -> None:
    """Leave out the unassigned components other than M that do not depend on intensity
    (relative profile at least ``FLAT_RATIO`` at every stimulated level)."""
    for k, r in enumerate(s.rel):
        if k != m and s.roles[k] == "" and r[s.stimulated].min() >= FLAT_RATIO:
            s.roles[k] = "does not depend on intensity"


def _continue_wave(s: _Scene, k: int) -> None:
    """Join to component ``k`` the unassigned components that start where it ends while the
    top intensity's mean is still at ``MID_PHASE`` of its largest |x| in ``k`` there: one
    wave whose latency shifts with intensity, which the segmentation cut in mid-phase (at
    the top intensity a human H is smallest, so an H right behind M starts near baseline)."""
    top = s.x[int(np.flatnonzero(s.stimulated)[-1]) if s.stimulated.any() else -1]
    while k + 1 < len(s.comps) and s.roles[k + 1] == "":
        c, nxt = s.comps[k], s.comps[k + 1]
        size = np.abs(top[c.start:c.stop]).max()
        if nxt.start > c.stop or abs(top[c.stop - 1]) < MID_PHASE * size:
            return
        s.merge(k, k + 1)


def _split_m(s: _Scene, m: int, smooth: int) -> bool:
    """A second look at the M component of a ramp with levels of little M where no H was
    found: an H right behind a large M can lie inside M's component when the best cut is
    within M (its latency shift carries more energy than the H). Cut again where the parts'
    profiles clearly point apart (:func:`split_run` with ``apart``); True when it was."""
    c = s.comps[m]
    use = s.stimulated
    spans = split_run(s.x[use], c.start, c.stop, smooth, s.sigma[use], apart=True)
    if len(spans) < 2:
        return False
    pieces = [component(s.x, s.sigma, a, b) for a, b in spans]
    s.comps[m:m + 1] = pieces
    s.rel[m:m + 1] = [_relative(p, s.noise_p2p) for p in pieces]
    s.roles[m:m + 1] = [""] * len(pieces)
    return True


def _pick_h(s: _Scene, prior: WindowPrior, m: int | None, informative: bool, smooth: int
            ) -> tuple[int | None, str | None]:
    """Index of the H component, or (None, why)."""
    after = [k for k, r in enumerate(s.roles) if r == "" and (m is None or k > m)
             and s.t(k)[0] <= prior.h_onset_ms[1] and s.t(k)[1] >= prior.h_onset_ms[0]]
    if m is not None and informative:
        m_rel = s.rel[m]
        for k in list(after):
            first = s.level_of(s.rel[k], 0.2)
            if first >= 0 and m_rel[first] >= F_WAVE_M_FRACTION:
                s.roles[k] = "appears only with a nearly maximal M (F-wave-like)"
                after.remove(k)
            elif prior.species == "human" and (
                    s.rel[k] - m_rel)[s.stimulated].max() < LEADS_M:
                s.roles[k] = "grows with M and never ahead of it (a human H falls as M grows)"
                after.remove(k)
    if not after:
        return None, None
    # touching candidates with one profile are pieces of one wave (a split by noise or drift)
    groups: list[list[int]] = []
    for k in after:
        prev = groups[-1][-1] if groups else None
        if prev == k - 1 and s.comps[prev].stop >= s.comps[k].start - 1 and _pieces(s, prev, k):
            groups[-1].append(k)
        else:
            groups.append([k])
    groups.sort(key=lambda g: max(s.comps[k].peak_V() for k in g), reverse=True)
    size = [max(s.comps[k].peak_V() for k in g) for g in groups]
    if len(groups) > 1 and size[1] >= AMBIGUOUS * size[0]:
        spans = " and ".join(f"{s.t(g[0])[0]:.1f}-{s.t(g[-1])[1]:.1f} ms" for g in groups[:2])
        return None, (f"ambiguous H: two waves of similar size at {spans}; set a manual H "
                      "window")
    best = groups[0]
    first, last = _reach(s, best[0], best[-1], smooth, -1 if m is None else m)
    if last > first:
        s.merge(first, last)
    return first, None


def _pieces(s: _Scene, a: int, b: int) -> bool:
    """Whether touching components ``a`` and ``b`` are pieces of one wave: their leading
    profiles have a cosine of at least ``REACH_COSINE``, or their relative size profiles
    over the stimulated levels one of at least ``PIECE_COSINE``."""
    if abs(float(s.comps[a].weights @ s.comps[b].weights)) >= REACH_COSINE:
        return True
    x, y = s.rel[a][s.stimulated], s.rel[b][s.stimulated]
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return norm > 0 and float(x @ y) / norm >= PIECE_COSINE


def _reach(s: _Scene, first: int, last: int, smooth: int, m: int) -> tuple[int, int]:
    """Components ``first..last`` widened to the unassigned neighbours (after the M
    component ``m``; not touching, profiles' cosine at least ``REACH_COSINE``) that the matched
    waveform of ``first..last`` reaches without a gap (:func:`bridged`): on a weak channel one
    wave can come out as pieces that single levels show apart."""
    c = component(s.x, s.sigma, s.comps[first].start, s.comps[last].stop)
    thr, env = edge_threshold(c), envelope(c, smooth)

    def joins(inner: int, outer: int) -> bool:
        """Whether the unassigned ``outer`` joins the wave's piece ``inner``: touching, or
        across a gap the matched waveform bridges."""
        a, b = s.comps[min(inner, outer)], s.comps[max(inner, outer)]
        return (s.roles[outer] == "" and float(a.weights @ b.weights) >= REACH_COSINE
                and (a.stop >= b.start or bridged(env, a.stop, b.start, thr, smooth)))

    while last + 1 < len(s.comps) and joins(last, last + 1):
        last += 1
    while first - 1 > m and joins(first, first - 1):
        first -= 1
    return first, last


def find_windows(level_mean_V: np.ndarray, time_ms: np.ndarray, prior: WindowPrior,
                 cfg: WindowConfig, pulse_end_ms: float, baseline: slice | None,
                 level_mA: np.ndarray | None = None) -> ChannelWindows:
    """Automatic M/H windows of one channel (see the module docstring).

    ``level_mean_V`` (n_levels, n_samples): mean conditioned sweep per intensity level,
    ascending; ``time_ms`` (n_samples,); ``baseline``: the pre-stimulus samples;
    ``level_mA`` (n_levels,): the levels' intensities (0 mA levels are unstimulated).
    """
    notes: list[str] = []
    n_lv = level_mean_V.shape[0]
    dt_ms = float(time_ms[1] - time_ms[0])
    smooth = max(1, int(round(prior.smooth_ms / dt_ms)))
    act = moving_rms(level_mean_V, smooth)
    first = int(np.searchsorted(time_ms, max(0.0, pulse_end_ms)))
    sigma = noise_rms(level_mean_V, baseline, first)
    # no signal is cleaner than 60 dB below its peak (a noise-free simulation would be)
    sigma = np.maximum(sigma, DYNAMIC_RANGE * float(np.abs(level_mean_V[:, first:]).max()))
    blank_ms = artifact_end(level_mean_V[-1], time_ms, pulse_end_ms, prior)
    end = int(np.searchsorted(time_ms, prior.max_end_ms))
    i0 = int(np.searchsorted(time_ms, blank_ms - 1e-9))
    if end - i0 < 2:
        return ChannelWindows(blank_ms, None, None, prior.name, prior.smooth_ms,
                              (f"sweeps end before {blank_ms:.1f} ms: no room for windows",))
    peak = act[:, i0:end].max(axis=1)
    thr = np.maximum(cfg.activity_sd * sigma, cfg.activity_fraction * peak)
    active = (act > thr[:, None]).any(axis=0)
    stimulated = np.ones(n_lv, bool) if level_mA is None else np.asarray(level_mA) > 0
    comps = components(level_mean_V, sigma, active, i0, end, smooth, smooth, stimulated)
    noise_p2p = 6.0 * sigma  # about the peak-to-peak of noise over a wave's span
    s = _Scene(comps, [_relative(c, noise_p2p) for c in comps], stimulated, time_ms,
               ["artifact tail" if _artifact_like(c, i0) else "" for c in comps],
               level_mean_V, sigma, noise_p2p)
    if n_lv < 3 or stimulated.sum() < 3:
        notes.append(f"{int(stimulated.sum())} stimulated intensity level(s): windows from "
                     f"the mean response and the {prior.name!r} prior only")
    m = _pick_m(s, prior, False)
    if m is not None:
        _continue_wave(s, m)
    informative = (m is not None and stimulated.sum() >= 3
                   and s.rel[m][stimulated].min() <= INFORMATIVE)
    if informative:
        _flat_roles(s, m)
    h, ambiguous = _pick_h(s, prior, m, informative, smooth)
    if h is None and ambiguous is None and informative:
        kept = (list(s.comps), list(s.rel), list(s.roles), m)
        if _split_m(s, m, smooth):
            m = _pick_m(s, prior, False)
            _continue_wave(s, m)
            _flat_roles(s, m)
            h, ambiguous = _pick_h(s, prior, m, informative, smooth)
            if h is None:  # no H in M's pieces either: M stays one component
                s.comps, s.rel, s.roles, m = kept
                ambiguous = None
    if m is None:
        notes.append(f"no M-wave found with onset {blank_ms:.1f}-{prior.m_onset_ms[1]:g} ms")
    if h is None:
        notes.append(ambiguous or f"no H-reflex found with onset {prior.h_onset_ms[0]:g}-"
                     f"{prior.h_onset_ms[1]:g} ms")
    wins = _windows(s, m, h, i0, end, smooth, informative, level_mA)
    for k, role in ((m, "m"), (h, "h")):
        if k is not None:
            s.roles[k] = role
    spans = tuple((*s.t(k), r or "unassigned") for k, r in enumerate(s.roles))
    return ChannelWindows(blank_ms, wins.get("m"), wins.get("h"), prior.name, prior.smooth_ms,
                          tuple(notes), spans)


def _windows(s: _Scene, m: int | None, h: int | None, i0: int, end: int, smooth: int,
             informative: bool, level_mA) -> dict[str, Window]:
    """Bounds, evidence and confidence of the chosen components."""
    out: dict[str, Window] = {}
    t = s.time_ms
    ms = None
    for key, k in (("m", m), ("h", h)):
        if k is None:
            continue
        c = s.comps[k]
        prev = s.comps[k - 1] if k > 0 else None
        touching = prev is not None and prev.stop >= c.start
        # search the take-off from the middle of a touching neighbour (the waveforms are
        # demixed), else from its end; the window never takes in a wave (M, an artifact
        # tail, one left out) but may reach into a touching unassigned stretch before H
        # (drift or noise that the segmentation cut together with H's first phase). M
        # ignores earlier components except an artifact tail: a p2p must not measure it
        if prev is None or (key == "m" and s.roles[k - 1] != "artifact tail"):
            lo = search = i0
        else:
            lo = max(i0, prev.stop)
            search = max(i0, (prev.start + prev.stop) // 2) if touching else lo
            if touching and key == "h" and k - 1 != m and s.roles[k - 1] == "":
                lo = search

        if key == "h" and ms is not None:
            lo = max(lo, ms[1])
        hi = s.comps[k + 1].start if k + 1 < len(s.comps) else end
        # after a wave that has ended (not touching) the baseline is quiet: no decay model;
        # from the artifact end it is the artifact's tail: wait until its decay is fitted,
        # at most 2 smoothing widths (a rat's M may start a few samples after it at 2.5 kHz)
        a, b, onset = wave_bounds(c, lo, hi, min(search, lo), smooth,
                                  decay=lo == i0 or touching,
                                  settle=min(DECAY_MIN_SAMPLES, 2 * smooth) if lo == i0 else 0)
        if key == "m":
            ms = (a, b)
        on_ms = float(np.interp(onset, np.arange(t.size), t)) if onset is not None else None
        out[key] = Window(float(t[a]), float(t[min(b, t.size - 1)]), onset_ms=on_ms,
                          confidence=_confidence(c, s.rel[k], informative),
                          evidence=_evidence(key, s.rel[k], s.stimulated, level_mA, informative))
    return out


def _confidence(c: Component, rel: np.ndarray, informative: bool) -> float:
    """Signal-to-noise of the matched waveform (0 at 5, 1 at 50) x 1 when the intensity
    profile was checked, 0.6 when it could not be."""
    snr = float(np.abs(c.waveform_V[c.start:c.stop]).max() / max(c.noise_V, 1e-12))
    return round(float(np.clip(np.log10(snr / 5.0), 0.0, 1.0)) * (1.0 if informative else 0.6),
                 3)


def _evidence(key: str, rel: np.ndarray, stimulated: np.ndarray, level_mA, informative: bool
              ) -> str:
    if not informative:
        return ("earliest wave after the artifact" if key == "m" else
                "largest later wave in the prior's H range") + " (intensity dependence not "\
            "checked)"
    idx = np.flatnonzero(stimulated)
    top = int(idx[-1])
    big = int(idx[np.argmax(rel[idx])])
    def at(i: int) -> str:
        return f"{level_mA[i]:g} mA" if level_mA is not None else f"level {i + 1}"

    if key == "m":
        return (f"early wave growing with intensity: {100 * rel[idx[0]]:.0f} % at "
                f"{at(int(idx[0]))}, {100 * rel[top]:.0f} % at {at(top)}")
    return (f"later wave largest at {at(big)}, {100 * rel[top]:.0f} % of that at {at(top)}"
            f", {100 * rel[idx[0]]:.0f} % at {at(int(idx[0]))}")


def apply_manual(found: ChannelWindows, manual: dict[str, tuple[float, float]],
                 time_ms: np.ndarray, source: str = "manual") -> ChannelWindows:
    """Replace found windows by given ones (``{"m": (start, stop), "h": ...}``, ms;
    ``source`` names where they came from); a window not inside the sweep is dropped with a
    note."""
    out = {"m": found.m, "h": found.h}
    notes = list(found.notes)
    for key, (start, stop) in manual.items():
        if start < time_ms[0] or stop > time_ms[-1]:
            out[key] = None
            notes.append(f"{source} {key.upper()} window {start:g}-{stop:g} ms is outside the "
                         f"sweep ({time_ms[0]:g}..{time_ms[-1]:g} ms)")
            continue
        out[key] = Window(float(start), float(stop), source, evidence=f"{source} window")
        if start < found.blank_ms:
            notes.append(f"{source} {key.upper()} window starts at {start:g} ms, inside the "
                         f"artifact (until {found.blank_ms:.1f} ms)")
    return replace(found, m=out["m"], h=out["h"], notes=tuple(notes))
