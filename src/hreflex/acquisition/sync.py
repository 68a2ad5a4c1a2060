"""Stimulus → EMG clock alignment: where each delivered pulse lies on the amplifier's sample
clock (a row of ``/emg/continuous``), although amplifier and stimulator run on independent
clocks (±100 ppm) and their bytes reach the host with up to tens of ms of jitter.

Three sources, in this order:

- **device**: a stimulator that shares the amplifier's sample clock reports, in its
  STIM_EVENT, the sample the pulse went out at (``sample_index``, latched by the device):
  that is the pulse's row, exact whatever the trigger line does. Its trigger edge, if any,
  is consumed with it, and the pair feeds the fit below.
- **trigger**: the amplifier samples a copy of the stimulus trigger on bit 0 of its
  digital input; a rising edge (0 → 1) marks the pulse to the sample. :func:`rising_edges`
  finds them in the received stream.
- **timestamp** (fallback): every STIM_EVENT carries the stimulator's device time (µs).
  Matched (device time, edge row) pairs feed a robust linear fit of row vs device time
  (:func:`fit_clock`); when an edge is missing (inside a gap, a dead trigger line) the fit
  places the pulse. The fit also predicts where to look for each edge, so a pulse is matched
  to its own edge even when pulses come fast.

:class:`Synchronizer` keeps the edges and the pairs and places one pulse at a time;
:class:`RowClock` estimates the row being sampled at a host time (the bootstrap before the
first pair, when there is no fit yet). Everything here is pure computation; the engine does
the I/O. Rows are file rows (EMG sample indices), device times integer µs, rates Hz.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

#: sync_method values written to ``/stimuli/events`` (``model``: host-clock estimate only)
DEVICE, TRIGGER, TIMESTAMP, MODEL = "device", "trigger", "timestamp", "model"
#: a device-latched sample and its trigger edge may differ by this many samples
LATCH_TOLERANCE = 2


def rising_edges(digital: np.ndarray, prev_high: bool | None) -> np.ndarray:
    """Positions (into ``digital``, (n,) uint8) where trigger bit 0 goes from 0 to 1.

    ``prev_high`` is bit 0 of the sample just before ``digital[0]``: ``None`` when unknown
    (after a gap: a high first sample may or may not be a pulse start, so it is not counted).
    """
    bit = (np.asarray(digital) & 1).astype(np.int8)
    if bit.size == 0:
        return np.zeros(0, np.int64)
    edges = np.flatnonzero(np.diff(bit) == 1) + 1
    if prev_high is False and bit[0] == 1:
        edges = np.concatenate([[0], edges])
    return edges.astype(np.int64)


@dataclass(frozen=True)
class ClockFit:
    """``row ≈ row_mean + slope · (device_time_us − t_mean_us)`` from ``n`` inlier pairs.

    ``slope`` in rows per µs; ``slope_sd`` its standard error; ``rms_samples`` the RMS
    residual of the inliers (samples); ``t_first_us``/``t_last_us`` the span of the pairs.
    """

    t_mean_us: float
    row_mean: float
    slope: float
    slope_sd: float
    rms_samples: float
    n: int
    t_first_us: float
    t_last_us: float

    def predict(self, device_time_us: float) -> float:
        """The (fractional) row at ``device_time_us``."""
        return self.row_mean + self.slope * (float(device_time_us) - self.t_mean_us)

    def prediction_sd(self, device_time_us: float) -> float:
        """Standard error (samples) of :meth:`predict` at ``device_time_us``: the residual
        scatter (at least that of whole-sample edges, 1/√12) over √n, and the slope's
        uncertainty times the distance from the pairs' mean time."""
        scatter = max(self.rms_samples, 12 ** -0.5)
        dt = float(device_time_us) - self.t_mean_us
        return math.sqrt(scatter**2 / self.n + (self.slope_sd * dt) ** 2)

    def tolerance(self, device_time_us: float, base_samples: float = 2.0) -> float:
        """Half-width (samples) of the window around :meth:`predict` that holds the edge:
        ``base_samples`` plus 4 standard errors of the slope times the distance to the pairs."""
        t = float(device_time_us)
        far = max(0.0, self.t_first_us - t, t - self.t_last_us)
        return base_samples + 4.0 * self.slope_sd * far + 2.0 * self.rms_samples


def fit_clock(device_time_us: np.ndarray, rows: np.ndarray, prior_slope: float,
              prior_sd: float, noise_samples: float = 0.5, reject_samples: float = 3.0,
              ) -> tuple[ClockFit, np.ndarray]:
    """Robust linear fit of ``rows`` (n,) against ``device_time_us`` (n,), n ≥ 1.

    The slope has a Gaussian prior ``prior_slope ± prior_sd`` (rows/µs: the nominal rate and
    the clock tolerance), so one pair or pairs close in time still give a usable fit, and many
    pairs far apart determine it from the data. Pairs whose residual exceeds
    ``max(reject_samples, 4 × 1.4826 × MAD)`` are dropped and the fit repeated (mismatched
    edges). Returns the fit and the (n,) inlier mask.
    """
    x = np.asarray(device_time_us, np.float64)
    y = np.asarray(rows, np.float64)
    keep = np.ones(len(x), bool)
    for _ in range(5):
        xs, ys = x[keep], y[keep]
        xm, ym = xs.mean(), ys.mean()
        dx = xs - xm
        info = float(dx @ dx) / noise_samples**2 + 1.0 / prior_sd**2
        slope = (float(dx @ (ys - ym)) / noise_samples**2 + prior_slope / prior_sd**2) / info
        resid = y - (ym + slope * (x - xm))
        mad = float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
        new = np.abs(resid) <= max(reject_samples, 4.0 * 1.4826 * mad)
        if not new.any() or np.array_equal(new, keep):
            break
        keep = new
    r = resid[keep]
    fit = ClockFit(float(xm), float(ym), float(slope), float(1.0 / math.sqrt(info)),
                   float(np.sqrt(np.mean(r**2))) if r.size else 0.0, int(keep.sum()),
                   float(x[keep].min()), float(x[keep].max()))
    return fit, keep


@dataclass(frozen=True)
class Placement:
    """Where a pulse lies: ``row`` on the EMG clock, found by ``method`` (``device``,
    ``trigger``, ``timestamp`` or ``model``) with ``residual_samples``: for ``device`` and
    ``trigger`` |row − the fit's prediction| (NaN before the first fit), for ``timestamp`` the standard error of the fit's
    prediction there, for ``model`` NaN (a host-clock estimate, accurate to the USB delivery
    jitter only)."""

    row: int
    method: str
    residual_samples: float


class RowClock:
    """Which row the amplifier is sampling at a host time (experiment s), from arrivals.

    :meth:`observe` is told, per read, the host time and the row after the last one received.
    Data arrive late by a varying delay, so each observation bounds the row from below; the
    estimate is the third largest bound of the recent ones (one of the least delayed reads;
    not the largest, so that one odd observation cannot move it).
    """

    def __init__(self, sample_rate_Hz: float, keep: int = 256) -> None:
        self.rate = float(sample_rate_Hz)
        self._obs: deque[tuple[float, int]] = deque(maxlen=keep)

    def observe(self, host_time_s: float, next_row: int) -> None:
        self._obs.append((float(host_time_s), int(next_row)))

    def reset(self) -> None:
        self._obs.clear()

    def row_at(self, host_time_s: float) -> float | None:
        """Estimated row sampled at ``host_time_s`` (a lower bound; None before any data)."""
        if not self._obs:
            return None
        h, r = np.array(self._obs, dtype=np.float64).T
        bounds = r + (host_time_s - h) * self.rate
        return float(np.partition(bounds, -3)[-3] if len(bounds) >= 8 else bounds.max())


class Synchronizer:
    """Places pulses on the EMG clock (see the module doc).

    ``sample_rate_Hz`` is the amplifier's nominal rate; ``drift_ppm`` the largest expected
    rate difference of the two clocks (the slope prior); ``max_pairs`` how many recent pairs
    the fit uses. Call :meth:`add_edges` with the rising edges of received data,
    :meth:`window` for where a pulse's edge must lie (to know when the data are there), then
    :meth:`place`. :meth:`new_epoch` forgets the pairs when either device clock restarted.
    """

    def __init__(self, sample_rate_Hz: float, *, drift_ppm: float = 200.0,
                 max_pairs: int = 200) -> None:
        self.rate = float(sample_rate_Hz)
        self.prior_slope = self.rate * 1e-6
        self.prior_sd = self.prior_slope * drift_ppm * 1e-6
        self.max_pairs = max_pairs
        self._edges: list[int] = []  # unmatched rising edges, ascending
        self._pairs: deque[tuple[int, int]] = deque(maxlen=max_pairs)  # (device µs, row)
        self.fit: ClockFit | None = None

    def add_edges(self, rows: np.ndarray) -> None:
        """Rising edges (rows, ascending, after those added before)."""
        if len(rows):
            self._edges.extend(int(r) for r in rows)

    def new_epoch(self, slope: float | None = None) -> None:
        """A device clock restarted: drop the pairs. The fitted slope stays the prior (same
        crystals) unless ``slope`` is given."""
        if self.fit is not None and self.fit.n >= 2:
            self.prior_slope = self.fit.slope if slope is None else slope
        self._pairs.clear()
        self.fit = None

    def prune(self, before_row: int) -> None:
        """Forget unmatched edges before ``before_row`` (pulses long placed or never reported)."""
        k = np.searchsorted(self._edges, before_row)
        del self._edges[:k]

    def window(self, device_time_us: int | None, host_rows: tuple[float, float] | None,
               host_margin: float, search_after: float = 0.0) -> tuple[float, float] | None:
        """Rows ``(lo, hi)`` the pulse's edge lies in: around the fit's prediction when there
        is a fit and a device time, else ``host_rows`` (rows sampled when FIRE was sent and
        when its answer came: lower bounds, late by the least delivery delay seen) widened by
        ``host_margin`` rows, and by ``search_after`` more rows after it (the host clock may
        lag when the host was busy); None when neither is known."""
        if self.fit is not None and device_time_us is not None:
            p = self.fit.predict(device_time_us)
            tol = self.fit.tolerance(device_time_us)
            return p - tol, p + tol
        if host_rows is None:
            return None
        return host_rows[0] - host_margin, host_rows[1] + host_margin + search_after

    def _first_edge(self, win: tuple[float, float]) -> int | None:
        k = int(np.searchsorted(self._edges, math.ceil(win[0])))
        return k if k < len(self._edges) and self._edges[k] <= win[1] else None

    def has_edge(self, win: tuple[float, float]) -> bool:
        """An unmatched edge lies in ``win`` already: since rows arrive in order, it is the
        first one there will ever be, so the pulse can be placed without waiting for the
        rest of the window."""
        return self._first_edge(win) is not None

    def _pair(self, device_time_us: int | None, row: int) -> None:
        if device_time_us is not None:
            self._pairs.append((int(device_time_us), row))
            t, r = np.array(self._pairs, dtype=np.float64).T
            self.fit, _ = fit_clock(t, r, self.prior_slope, self.prior_sd)

    def place(self, device_time_us: int | None, host_rows: tuple[float, float] | None,
              host_margin: float, search_after: float = 0.0,
              latched_row: int | None = None) -> Placement | None:
        """Place one pulse (call in delivery order, once its :meth:`window` was received, or
        ``latched_row`` + :data:`LATCH_TOLERANCE`).

        ``latched_row`` (the device-latched sample as a row) is the pulse (``device``); an
        edge within :data:`LATCH_TOLERANCE` of it is consumed. Otherwise the first unmatched
        edge in the window is the pulse (``trigger``). Either becomes, with a device time, a
        pair of the fit. Without both the fit's prediction is used (``timestamp``), else the
        host window's estimate (``model``); None if nothing is known at all.
        """
        predicted = (self.fit.predict(device_time_us)
                     if self.fit is not None and device_time_us is not None else None)
        if latched_row is not None:
            k = self._first_edge((latched_row - LATCH_TOLERANCE, latched_row + LATCH_TOLERANCE))
            if k is not None:
                del self._edges[k]
            self._pair(device_time_us, int(latched_row))
            resid = abs(latched_row - predicted) if predicted is not None else float("nan")
            return Placement(int(latched_row), DEVICE, float(resid))
        win = self.window(device_time_us, host_rows, host_margin, search_after)
        if win is None:
            return None
        k = self._first_edge(win)
        if k is not None:
            row = self._edges.pop(k)
            self._pair(device_time_us, row)
            resid = abs(row - predicted) if predicted is not None else float("nan")
            return Placement(row, TRIGGER, float(resid))
        if predicted is not None:
            return Placement(int(round(predicted)), TIMESTAMP,
                             self.fit.prediction_sd(device_time_us))
        return Placement(int(round((host_rows[0] + host_rows[1]) / 2)), MODEL, float("nan"))
