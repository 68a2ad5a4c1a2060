"""Where a wave starts and ends on its component's matched waveform (window bounds).

The start is the wave's take-off (:func:`hreflex.analysis.latency.takeoff`, re-searched after
a quiet gap the wave does not follow); the end is where the waveform returns to baseline
after its last significant phase, past the component's span while the pooled waveform's
envelope goes on. ``docs/METRICS.md`` (step 3, *Bounds*) has the rules.
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.components import Component, moving_rms
from hreflex.analysis.latency import ONSET_FRACTION, takeoff

#: window bounds: envelope above this x the waveform's noise and ...
BOUND_SD = 4.0
#: ... this fraction of its peak-to-peak
BOUND_FRACTION = 0.01
#: a wave ends after its last phase whose peak |x| is at least this fraction of its largest
LAST_PHASE = 0.1


def edge_threshold(c: Component) -> float:
    """Baseline threshold of a component's waveform: ``BOUND_SD`` x its noise or
    ``BOUND_FRACTION`` x its core's peak-to-peak, the larger (V)."""
    return max(BOUND_SD * c.noise_V, BOUND_FRACTION * float(np.ptp(c.waveform_V[c.start:c.stop])))


def envelope(c: Component, smooth: int) -> np.ndarray:
    """Envelope of a component's waveform: its moving RMS over half ``smooth`` samples (V)."""
    return moving_rms(c.waveform_V, max(1, smooth // 2))


def wave_end(w: np.ndarray, first: int, last_core: int, hi: int, thr: float) -> int:
    """End (exclusive) of the wave of ``w`` whose phases lie in ``first..last_core-1``: the
    first sample after its last phase of at least ``LAST_PHASE`` of its peak |w| where |w|
    is back below ``thr`` or crosses the baseline (0), at most ``hi``."""
    seg = np.abs(w[first:max(last_core, first + 1)])
    if seg.size == 0:
        return first
    big = np.flatnonzero(seg >= LAST_PHASE * seg.max())
    last = first + int(big[-1])  # inside the last significant phase
    after = w[last:hi]
    sign = np.sign(w[last])
    back = np.flatnonzero((np.abs(after) < thr) | (np.sign(after) != sign))
    return last + int(back[0]) if back.size else hi


def wave_bounds(c: Component, lo: int, hi: int, search: int, smooth: int, decay: bool = True,
                settle: int = 0) -> tuple[int, int, float | None]:
    """Onset and end (exclusive) samples of a component's wave within ``lo..hi-1``, and its
    fractional take-off sample (None if not found). The take-off is searched from
    ``search`` (<= lo: a demixed waveform is a valid baseline under a touching neighbour;
    detected no earlier than ``settle`` samples after it, :func:`takeoff`), and again from
    the last quiet stretch (envelope at or below the threshold for more than
    ``smooth`` samples) between that take-off and the later of the component's start and its
    peak, if there is one;
    the end is where the waveform returns to baseline after its last phase of at least
    ``LAST_PHASE`` of its peak (:func:`wave_end`; threshold ``BOUND_SD`` x noise and
    ``BOUND_FRACTION`` x the peak-to-peak)."""
    w = c.waveform_V
    core = w[c.start:c.stop]
    thr = edge_threshold(c)
    peak = c.start + int(np.argmax(np.abs(core - w[search])))
    env = envelope(c, smooth)
    departure = ONSET_FRACTION * float(np.ptp(core))
    onset = takeoff(w, search, peak, c.noise_V, smooth, min_departure_V=departure, decay=decay,
                    settle=settle)
    if onset is not None:  # a take-off the wave does not follow: a bump, then a quiet gap
        gaps = quiet_runs(env, int(onset), max(c.start, peak), thr)
        quiet = np.flatnonzero(gaps[:, 0] > smooth)
        if quiet.size:
            again = int(onset) + int(gaps[quiet[-1], 1] - gaps[quiet[-1], 0])
            later = takeoff(w, again, peak, c.noise_V, smooth, min_departure_V=departure,
                            decay=decay)
            onset = onset if later is None else later
    if onset is not None and onset < lo:  # departed under the neighbour: its residue, or the
        onset = float(lo)  # wave begins right where the neighbour ends
    if onset is not None:
        start = int(np.floor(onset))
    else:  # no take-off (e.g. it starts at the blanking): the envelope's first crossing
        above = np.flatnonzero(env[lo:peak + 1] > thr)
        start = lo + int(above[0]) if above.size else c.start
    start = min(max(start, lo), peak)
    stop = wave_end(w, c.start, extent(env, c.stop, hi, thr, smooth), hi, thr)
    return start, max(stop, peak + 1), onset


def quiet_runs(env: np.ndarray, a: int, b: int, thr: float) -> np.ndarray:
    """The runs of ``env`` at or below ``thr`` in ``a..b-1``, the one before its first sample
    above and the one after its last included (either may be empty): (k, 2) integer rows of
    (length, end) in samples, ``end`` (exclusive) counted from ``a``."""
    pos = np.r_[-1, np.flatnonzero(env[a:b] > thr), max(b - a, 0)]
    return np.c_[np.diff(pos) - 1, pos[1:]]


def bridged(env: np.ndarray, a: int, b: int, thr: float, bridge: int) -> bool:
    """Whether ``env`` stays above ``thr`` from sample ``a`` to ``b`` but for gaps of at most
    ``bridge`` samples."""
    return bool(np.all(quiet_runs(env, a, b, thr)[:, 0] <= bridge))


def extent(env: np.ndarray, stop: int, hi: int, thr: float, bridge: int) -> int:
    """Where the matched waveform's envelope ``env`` stays above ``thr`` after a component's
    ``stop`` (gaps of at most ``bridge`` samples bridged), at most ``hi``; at least ``stop +
    bridge``. The component's span comes from single levels' activity; the matched waveform
    pools every level, so on a weak channel it shows phases no single level shows."""
    gaps = quiet_runs(env, stop, hi, thr)
    wide = np.flatnonzero(gaps[:, 0] > bridge)
    length, end = gaps[wide[0] if wide.size else -1]  # the first wide gap, else the last run
    return min(max(stop + bridge, stop + int(end - length)), hi)
