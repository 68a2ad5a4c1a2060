"""Figures of the report, one function per figure, each drawing on the Axes it is given.

Inputs are analysis result objects and plain arrays: amplitudes in mV (mV·ms for the
``area`` measure), times in ms after the stimulus, intensities in mA. Nothing here reads
files or builds pages. Figures are made with :func:`new_figure` (a bare
:class:`~matplotlib.figure.Figure` with constrained layout: no pyplot, no display, no global
state, safe in worker processes) and saved with :func:`png_bytes` (Agg renderer).
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from hreflex.analysis.rdd import RddResult
from hreflex.analysis.recruitment import RecruitmentResult
from hreflex.analysis.windows import ChannelWindows

M_COLOR, H_COLOR = "tab:blue", "tab:orange"
INTENSITY_CMAP, FREQUENCY_CMAP = "viridis", "plasma"
INTENSITY_LABEL = "stimulus intensity (mA)"
_LEGEND = {"fontsize": 8, "framealpha": 0.9}
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}


def new_figure(width_in: float, height_in: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure of ``width_in`` x ``height_in`` inches with ``ncols`` Axes side by side."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, ncols)))


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (``dpi`` pixels per inch)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def not_determinable(ax: Axes, what: str, reason: str) -> None:
    """Replace the panel by the message ``<what>: not determinable`` and its reason."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{what}: not determinable\n" + textwrap.fill(reason, 60),
            ha="center", va="center", transform=ax.transAxes, fontsize=11, color="0.25")


def _missing(ax: Axes, label: str) -> None:
    """A legend-only entry for a value that is not determinable."""
    ax.plot([], [], " ", label=f"{label}: not determinable")


def sweep_overlay(ax: Axes, time_ms: np.ndarray, sweeps_mV: np.ndarray, intensity_mA: np.ndarray,
                  windows: ChannelWindows | None, xlim_ms: tuple[float, float],
                  reason: str = "no usable sweep") -> None:
    """Sweeps of one channel (n_sweeps, n_samples) over ``time_ms`` (n_samples,), coloured by
    ``intensity_mA`` (n_sweeps,), with the artifact, M and H windows shaded.

    The y range covers the signal after the artifact (the artifact itself may be cut off);
    without sweeps the panel says ``reason``.
    """
    if sweeps_mV.shape[0] == 0:
        not_determinable(ax, "Sweeps", reason)
        return
    show = (time_ms >= xlim_ms[0]) & (time_ms <= xlim_ms[1])
    order = np.argsort(intensity_mA, kind="stable")  # strongest drawn last, on top
    t, y = time_ms[show], sweeps_mV[order][:, show]
    lo, hi = float(np.min(intensity_mA)), float(np.max(intensity_mA))
    lines = LineCollection(np.stack(np.broadcast_arrays(t[None, :], y), axis=-1),
                           array=intensity_mA[order], cmap=INTENSITY_CMAP,
                           norm=Normalize(lo, hi if hi > lo else lo + 1.0), linewidths=0.7)
    ax.add_collection(lines)
    ax.figure.colorbar(lines, ax=ax, label=INTENSITY_LABEL)
    blank_ms = windows.blank_ms if windows is not None else 0.0
    after = t > blank_ms
    top = float(np.max(np.abs(y[:, after]))) if after.any() else 0.0
    ax.set_xlim(*xlim_ms)
    ax.set_ylim(-1.1 * top if top > 0 else -1.0, 1.1 * top if top > 0 else 1.0)
    ax.axvline(0.0, color="k", lw=0.8, ls=":", label="stimulus")
    if windows is not None:
        ax.axvspan(0.0, blank_ms, color="0.6", alpha=0.25, lw=0,
                   label=f"artifact (0–{blank_ms:.1f} ms)")
        for win, color, name in ((windows.m, M_COLOR, "M"), (windows.h, H_COLOR, "H")):
            if win is not None:
                ax.axvspan(win.start_ms, win.stop_ms, color=color, alpha=0.15, lw=0,
                           label=f"{name} window {win.start_ms:.1f}–{win.stop_ms:.1f} ms "
                                 f"({win.source})")
            else:
                _missing(ax, f"{name} window")
    ax.set_xlabel("time after stimulus (ms)")
    ax.set_ylabel("EMG (mV, baseline removed)")
    ax.legend(loc="upper right", **_LEGEND)


def recruitment_curve(ax: Axes, rec: RecruitmentResult | None, intensity_mA: np.ndarray,
                      m_mV: np.ndarray, h_mV: np.ndarray, measure: str = "p2p",
                      unit: str = "mV", reason: str = "no recruitment result") -> None:
    """Recruitment curve of one channel: per-sweep M and H (n,) against ``intensity_mA``
    (n,), per-intensity means ± SD, fitted curves, Mmax, Hmax and the thresholds; amplitudes
    are the ``measure`` in ``unit``."""
    if rec is None or not (rec.n > 0).any():
        not_determinable(ax, "Recruitment curve", reason)
        return
    grid = np.linspace(float(rec.levels_mA.min()), float(rec.levels_mA.max()), 400)
    for wave, amp, mean, sd, fit, color in (
            ("M", m_mV, rec.m_mean_mV, rec.m_sd_mV, rec.m_fit, M_COLOR),
            ("H", h_mV, rec.h_mean_mV, rec.h_sd_mV, rec.h_fit, H_COLOR)):
        if not np.isfinite(mean).any():
            _missing(ax, f"{wave} (no {wave} window)")
            continue
        ax.scatter(intensity_mA, amp, s=9, color=color, alpha=0.35, lw=0,
                   label=f"{wave} per sweep")
        ax.errorbar(rec.levels_mA, mean, yerr=np.nan_to_num(sd), fmt="o", ms=4, color=color,
                    capsize=2, lw=1, label=f"{wave} mean ± SD per intensity")
        if fit is not None:
            kind = "" if fit.acceptable else ", not acceptable: not used"
            ax.plot(grid, fit(grid), color=color, lw=1.8, ls="-" if fit.acceptable else "--",
                    label=f"{wave} fit ({fit.model}, R² {fit.r2:.3f}{kind})")
    if rec.mmax_mV is not None:
        ax.axhline(rec.mmax_mV, color=M_COLOR, ls="--", lw=1,
                   label=f"Mmax {rec.mmax_mV:.3g} {unit} ({rec.mmax_source})")
    else:
        _missing(ax, "Mmax")
    if rec.hmax_mV is not None and rec.intensity_at_hmax_mA is not None:
        ax.axhline(rec.hmax_mV, color=H_COLOR, ls="--", lw=1)
        ax.plot(rec.intensity_at_hmax_mA, rec.hmax_mV, "*", ms=13, color=H_COLOR, mec="k",
                label=f"Hmax {rec.hmax_mV:.3g} {unit} at {rec.intensity_at_hmax_mA:.3g} mA "
                      f"({rec.hmax_source})")
    else:
        _missing(ax, "Hmax")
    for value, color, name in ((rec.m_threshold_mA, M_COLOR, "M threshold"),
                               (rec.h_threshold_mA, H_COLOR, "H threshold")):
        if value is not None:
            ax.axvline(value, color=color, ls=":", lw=1.2, label=f"{name} {value:.3g} mA")
        else:
            _missing(ax, name)
    ax.set_xlabel(INTENSITY_LABEL)
    ax.set_ylabel(f"{measure} amplitude ({unit})")
    ax.set_ylim(bottom=0)
    ax.legend(**_OUTSIDE, **_LEGEND)


def h_vs_m(ax: Axes, rec: RecruitmentResult | None, intensity_mA: np.ndarray,
           m_mV: np.ndarray, h_mV: np.ndarray, amplitude_unit: str = "mV",
           reason: str = "no recruitment result") -> None:
    """H against M of one channel: every sweep (n,) coloured by intensity and the
    per-intensity means in intensity order; both in % of Mmax when Mmax is known."""
    ok = np.isfinite(m_mV) & np.isfinite(h_mV)
    if rec is None or not ok.any():
        not_determinable(ax, "H vs M", reason)
        return
    scale, unit = (100.0 / rec.mmax_mV, "% Mmax") if rec.mmax_mV else (1.0, amplitude_unit)
    dots = ax.scatter(m_mV[ok] * scale, h_mV[ok] * scale, c=intensity_mA[ok], s=14,
                      cmap=INTENSITY_CMAP, lw=0, alpha=0.8, label="sweeps")
    ax.figure.colorbar(dots, ax=ax, label=INTENSITY_LABEL)
    used = rec.n > 0
    ax.plot(rec.m_mean_mV[used] * scale, rec.h_mean_mV[used] * scale, "-o", color="k", ms=3,
            lw=1, label="mean per intensity")
    if rec.m_at_hmax_pct_mmax is not None and rec.hmax_mV is not None and rec.mmax_mV:
        ax.plot(rec.m_at_hmax_pct_mmax, 100.0 * rec.hmax_mV / rec.mmax_mV, "*", ms=13,
                color=H_COLOR, mec="k",
                label=f"Hmax (M there {rec.m_at_hmax_pct_mmax:.3g} % Mmax)")
    if not rec.mmax_mV:
        _missing(ax, "Mmax (axes in mV)")
    ax.set_xlabel(f"M-wave ({unit})")
    ax.set_ylabel(f"H-reflex ({unit})")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", **_LEGEND)


def rdd_ratios(ax: Axes, rdd: RddResult) -> None:
    """H ratio to the reference frequency per train frequency (log axis), ± SD."""
    if not rdd.rows:
        not_determinable(ax, "RDD", rdd.reason or "no stimulus trains")
        return
    freq = np.array([r.frequency_Hz for r in rdd.rows])
    ratio = np.array([np.nan if r.ratio is None else r.ratio for r in rdd.rows])
    ref = next(r.h_mean_mV for r in rdd.rows if np.isclose(r.frequency_Hz, rdd.reference_Hz,
                                                           rtol=0.02))
    err = np.array([np.nan if r.h_sd_mV is None else r.h_sd_mV / ref for r in rdd.rows])
    ax.errorbar(freq, ratio, yerr=np.nan_to_num(err), fmt="-o", color=H_COLOR, capsize=3,
                label=f"mean ± SD (pulses ≥ {rdd.skip_first + 1} of each train)")
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(freq))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{f:g}" for f in freq])
    ax.set_xlabel("train frequency (Hz)")
    ax.set_ylabel(f"H / H at {rdd.reference_Hz:.3g} Hz")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", **_LEGEND)


def rdd_per_pulse(ax: Axes, rdd: RddResult) -> None:
    """Mean H of every pulse of the trains, per frequency, relative to the reference mean."""
    if not rdd.rows:
        not_determinable(ax, "Per-pulse depression", rdd.reason or "no stimulus trains")
        return
    freq = [r.frequency_Hz for r in rdd.rows]
    norm = LogNorm(min(freq), max(freq)) if max(freq) > min(freq) else Normalize(0, 2 * freq[0])
    colors = colormaps[FREQUENCY_CMAP]
    for r in rdd.rows:
        y = np.array([np.nan if v is None else v for v in r.per_pulse_ratio])
        ax.plot(np.arange(1, y.size + 1), y, "-o", ms=3, lw=1.2,
                color=colors(0.85 * norm(r.frequency_Hz)), label=f"{r.frequency_Hz:g} Hz")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if rdd.skip_first > 0:
        ax.axvspan(0.5, rdd.skip_first + 0.5, color="0.6", alpha=0.25, lw=0,
                   label="left out of the ratio")
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel("pulse in train")
    ax.set_ylabel(f"H / mean H at {rdd.reference_Hz:.3g} Hz")
    ax.set_ylim(bottom=0)
    ax.legend(**_OUTSIDE, **_LEGEND)


@dataclass(frozen=True)
class FigureFile:
    """One rendered figure: ``channel`` index, ``kind`` (``sweeps``, ``recruitment``, ``h_vs_m``, ``rdd``), file
    ``name``, ``png`` bytes, ``caption``."""

    channel: int
    kind: str
    name: str
    png: bytes
    caption: str
