"""Live per-sweep data while recording: the recent EMG, per-stimulus measures, the run-time
RDD test intensity, and the optional ``--plot`` PNG.

- :class:`SweepBuffer`: a ring of the latest rows of the EMG clock (raw counts and which rows
  were received), from which sweeps and the gating channel are read;
- :func:`measure_sweep`: M and H peak-to-peak in the current windows, background RMS and
  clipping of one sweep (pure);
- :func:`derive_test_intensity`: analyse a recruitment block's sweeps with
  :func:`hreflex.analysis.analyze_session` and return the intensity giving ``f`` × Hmax on the
  ascending limb of the H recruitment curve;
- :class:`LivePlot`: a separate process that renders the latest sweeps and the growing
  recruitment curve to a PNG (matplotlib, Agg) at a low rate; the engine only queues data.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hreflex.io.format import BLOCK_DTYPE, STIMULUS_DTYPE
from hreflex.io.session import Session, SessionMeta


class SweepBuffer:
    """The latest ``capacity`` rows of the EMG clock: (capacity, n_channels) counts and a
    received flag per row. Rows arrive in increasing order; rows skipped over (a gap) are
    marked not received, rows already passed (an overlap) are ignored."""

    def __init__(self, capacity: int, n_channels: int, dtype: np.dtype = np.int16) -> None:
        self.capacity = int(capacity)
        self._data = np.zeros((self.capacity, n_channels), dtype)
        self._got = np.zeros(self.capacity, bool)
        self.end = 0  # one past the highest row stored

    def put(self, first_row: int, counts: np.ndarray) -> None:
        """Store (n, n_channels) ``counts`` whose row 0 is ``first_row``."""
        n = len(counts)
        if first_row < self.end:  # overlap: keep what was there
            skip = min(n, self.end - first_row)
            counts, first_row, n = counts[skip:], first_row + skip, n - skip
        if n == 0:
            return
        if first_row > self.end:  # a gap: those rows were not received
            self._mark(self.end, min(first_row, self.end + self.capacity), False)
        if n > self.capacity:
            counts, first_row, n = counts[-self.capacity:], first_row + n - self.capacity, \
                self.capacity
        idx = np.arange(first_row, first_row + n) % self.capacity
        self._data[idx] = counts
        self._got[idx] = True
        self.end = first_row + n

    def _mark(self, a: int, b: int, value: bool) -> None:
        if b > a:
            self._got[np.arange(a, b) % self.capacity] = value

    @property
    def start(self) -> int:
        """The oldest row still held."""
        return max(0, self.end - self.capacity)

    def get(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows ``[a, b)``: ((b-a, n_channels) counts, (b-a,) received), zeros where not
        received or beyond :attr:`end`; None when ``a`` is older than :attr:`start`."""
        if a < self.start or b < a:
            return None
        idx = np.arange(a, b)
        inside = idx < self.end
        data = np.zeros((b - a, self._data.shape[1]), self._data.dtype)
        got = np.zeros(b - a, bool)
        data[inside] = self._data[idx[inside] % self.capacity]
        got[inside] = self._got[idx[inside] % self.capacity]
        data[~got] = 0
        return data, got


@dataclass(frozen=True)
class SweepMeasures:
    """Measures of one sweep, per channel (n_channels,): ``M_mV``, ``H_mV`` peak-to-peak in
    the windows (NaN without a window), ``background_uV`` RMS about the mean before the
    stimulus (NaN without pre-stimulus samples), ``clipped`` a sample of the M or H window at
    the ADC limit."""

    M_mV: np.ndarray
    H_mV: np.ndarray
    background_uV: np.ndarray
    clipped: np.ndarray


def _span(window_ms, pre_n: int, rate: float, n: int) -> slice | None:
    if window_ms is None:
        return None
    a = pre_n + int(np.ceil(window_ms[0] * rate / 1000 - 1e-9))
    b = pre_n + int(np.floor(window_ms[1] * rate / 1000 + 1e-9)) + 1
    a, b = max(0, a), min(n, b)
    return slice(a, b) if b - a >= 2 else None


def measure_sweep(counts: np.ndarray, scale_V_per_count: np.ndarray, pre_n: int, rate: float,
                  M_window_ms: tuple[float, float] | None,
                  H_window_ms: tuple[float, float] | None,
                  full_scale: int = 32767) -> SweepMeasures:
    """Measure one sweep: ``counts`` (n_samples, n_channels) raw, sample ``pre_n`` is the
    stimulus; windows in ms after it (``rate`` in Hz); ``full_scale`` the ADC limit in counts."""
    n, n_ch = counts.shape
    volts = counts * np.asarray(scale_V_per_count, np.float64)[None, :]
    nan = np.full(n_ch, np.nan)
    out = {}
    clipped = np.zeros(n_ch, bool)
    for key, win in (("M_mV", M_window_ms), ("H_mV", H_window_ms)):
        s = _span(win, pre_n, rate, n)
        if s is None:
            out[key] = nan.copy()
            continue
        seg = volts[s]
        out[key] = (seg.max(axis=0) - seg.min(axis=0)) * 1e3
        clipped |= (np.abs(counts[s].astype(np.int64)) >= full_scale).any(axis=0)
    bg = volts[:pre_n].std(axis=0) * 1e6 if pre_n >= 2 else nan.copy()
    return SweepMeasures(out["M_mV"], out["H_mV"], bg, clipped)


# -- run-time RDD test intensity --------------------------------------------------------------


def intensity_for_fraction(rec, fraction: float) -> tuple[float | None, str]:
    """The intensity (mA) where the H recruitment curve of ``rec``
    (:class:`~hreflex.analysis.recruitment.RecruitmentResult`) first reaches ``fraction`` ×
    Hmax on its ascending limb: on the fitted curve when there is one, else linearly between
    the pooled means. Returns ``(mA, how)`` or ``(None, why not)``."""
    if rec is None or rec.hmax_mV is None or rec.intensity_at_hmax_mA is None:
        why = rec.reasons.get("hmax_mV", "no H recruitment curve") if rec else "no windows"
        return None, why
    target = fraction * rec.hmax_mV
    if rec.h_fit is not None and rec.hmax_source == "fit":
        x = np.linspace(0.0, rec.intensity_at_hmax_mA, 4001)
        y = rec.h_fit(x)
        how = f"fitted H curve, Hmax {rec.hmax_mV:.3g} mV at {rec.intensity_at_hmax_mA:.3g} mA"
    else:
        used = (rec.n > 0) & (rec.levels_mA <= rec.intensity_at_hmax_mA)
        x, y = rec.levels_mA[used], rec.h_mean_mV[used]
        x, y = np.concatenate([[0.0], x]), np.concatenate([[0.0], y])
        how = f"pooled H means, Hmax {rec.hmax_mV:.3g} mV at {rec.intensity_at_hmax_mA:.3g} mA"
    above = np.flatnonzero(y >= target)
    if above.size == 0:
        return None, f"the H curve never reaches {fraction:g} × Hmax"
    k = int(above[0])
    if k == 0:
        return float(x[0]), how
    frac = (target - y[k - 1]) / (y[k] - y[k - 1])
    return float(x[k - 1] + frac * (x[k] - x[k - 1])), how


def derive_test_intensity(meta: SessionMeta, sample_rate_Hz: float, channel_names, muscles,
                          scale_V_per_count, sweeps: np.ndarray, pre_ms: float,
                          stimuli: np.ndarray, blocks: np.ndarray, channel: int,
                          fraction: float) -> tuple[float | None, str]:
    """Analyse the sweeps of one recruitment block and derive the RDD test intensity.

    ``sweeps`` (n_sweeps, n_channels, n_samples) raw counts starting ``pre_ms`` before each
    stimulus; ``stimuli`` their ``STIMULUS_DTYPE`` rows; ``blocks`` the ``BLOCK_DTYPE`` table.
    Returns ``(intensity_mA, how)`` for ``channel`` or ``(None, why not)``.
    """
    from hreflex.analysis import analyze_session

    session = Session(meta=meta, sample_rate_Hz=sample_rate_Hz,
                      channel_names=list(channel_names), channel_muscles=list(muscles),
                      scale_V_per_count=np.asarray(scale_V_per_count, np.float64),
                      sweeps=sweeps, pre_trigger_ms=pre_ms,
                      stimuli=np.asarray(stimuli, STIMULUS_DTYPE),
                      blocks=np.asarray(blocks, BLOCK_DTYPE))
    result = analyze_session(session)
    ch = result.channels[channel]
    mA, how = intensity_for_fraction(ch.recruitment, fraction)
    if mA is None:
        return None, f"channel {ch.name}: {how}"
    return mA, f"channel {ch.name}: {how}"


# -- the --plot renderer ----------------------------------------------------------------------


class LivePlot:
    """Renders ``path`` (PNG) in a separate process at most every ``interval_s`` (wall): the
    latest ``n_sweeps`` sweeps of up to 4 channels overlaid and the recruitment points (M and
    H of the first channel vs intensity). :meth:`add` only queues (never waits for the
    renderer); :meth:`close` renders the last state and stops the process."""

    def __init__(self, path: str | Path, channel_names, pre_ms: float, sample_rate_Hz: float,
                 interval_s: float = 1.0, n_sweeps: int = 8) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self.path = Path(path)
        self._q = ctx.Queue()
        self._proc = ctx.Process(
            target=_plot_worker, name="hreflex-live-plot", daemon=True,
            args=(self._q, str(self.path), list(channel_names), float(pre_ms),
                  float(sample_rate_Hz), float(interval_s), int(n_sweeps)))
        self._proc.start()

    def add(self, sweep_mV: np.ndarray, intensity_mA: float, M_mV: float, H_mV: float,
            recruitment: bool) -> None:
        """One sweep, (n_samples, n_channels) mV, and its first-channel measures."""
        with contextlib.suppress(Exception):  # a dead renderer must not stop acquisition
            self._q.put_nowait((np.asarray(sweep_mV[:, :4], np.float32), float(intensity_mA),
                                float(M_mV), float(H_mV), bool(recruitment)))

    def close(self, timeout_s: float = 10.0) -> None:
        with contextlib.suppress(Exception):
            self._q.put_nowait(None)
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1.0)
        self._q.close()
        self._q.cancel_join_thread()


def _plot_worker(q, path: str, names: list[str], pre_ms: float, rate: float,
                 interval_s: float, n_sweeps: int) -> None:  # pragma: no cover (subprocess)
    import signal

    # Ctrl-C and a closed terminal reach the whole process group: the session decides (it
    # closes the renderer when it ends), not this process
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps: list[np.ndarray] = []
    points: list[tuple[float, float, float]] = []
    dirty, last, done = False, 0.0, False
    while not done:
        try:
            item = q.get(timeout=max(0.05, interval_s - (time.monotonic() - last)))
        except queue.Empty:
            item = ()
        while item != ():
            if item is None:
                done = True
                break
            sweep, intensity, m, h, rec = item
            sweeps = (sweeps + [sweep])[-n_sweeps:]
            if rec:
                points.append((intensity, m, h))
            dirty = True
            try:
                item = q.get_nowait()
            except queue.Empty:
                item = ()
        if dirty and (done or time.monotonic() - last >= interval_s):
            _render(plt, path, names, pre_ms, rate, sweeps, points)
            dirty, last = False, time.monotonic()


def _render(plt, path: str, names, pre_ms: float, rate: float, sweeps, points) -> None:
    n_ch = sweeps[-1].shape[1]
    fig, axes = plt.subplots(1, n_ch + 1, figsize=(4 * (n_ch + 1), 3.2))
    t = np.arange(len(sweeps[-1])) * 1000.0 / rate - pre_ms
    for c in range(n_ch):
        ax = axes[c]
        for k, s in enumerate(sweeps):
            ax.plot(t, s[:, c], lw=0.8, alpha=0.3 + 0.7 * (k + 1) / len(sweeps),
                    color="k" if k == len(sweeps) - 1 else "tab:blue")
        ax.set(title=f"{names[c]}: latest {len(sweeps)} sweeps", xlabel="ms", ylabel="mV")
    ax = axes[-1]
    if points:
        p = np.array(points)
        ax.plot(p[:, 0], p[:, 1], "o", ms=3, label="M")
        ax.plot(p[:, 0], p[:, 2], "s", ms=3, label="H")
        ax.legend()
    ax.set(title=f"{names[0]}: recruitment", xlabel="intensity (mA)", ylabel="p2p (mV)")
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
