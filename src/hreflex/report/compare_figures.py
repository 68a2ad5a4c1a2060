"""Figures of the comparison report (``hreflex compare -o DIR``), each drawing on the Axes it
is given, from the comparison document (``docs/COMPARE.md``): a forest plot of effect sizes,
the per-subject values of one measure, and the RDD curve per condition. Figures are made
and saved with :func:`hreflex.report.figures.new_figure` / ``png_bytes``."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator

from hreflex.compare.stats import describe, t_interval
from hreflex.report.figures import H_COLOR, not_determinable

_LEGEND = {"fontsize": 8, "framealpha": 0.9}
_COLORS = colormaps["tab10"]


def axis_label(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else f"{label} (ratio, no unit)"


def mean_ci(values: list[float]) -> tuple[float, float, float] | None:
    """Mean and its 95 % t interval; None with fewer than 2 values."""
    n, mean, sd = describe(np.asarray(values, dtype=float))
    if n < 2:
        return None
    lo, hi = t_interval(mean, sd / math.sqrt(n), n - 1)
    return mean, lo, hi


def forest(ax: Axes, rows: list[dict], title: str) -> None:
    """Effect size and its 95 % CI of every row (one comparison), top to bottom; rows
    without an effect size are listed with the reason."""
    ax.set_title(title)
    if not rows:
        not_determinable(ax, "Effect sizes", "no measure")
        return
    y = np.arange(len(rows))[::-1]
    names = sorted({r["effect_size_name"] for r in rows if r["effect_size_name"]})
    for yi, r in zip(y, rows, strict=True):
        if r["effect_size"] is None:
            ax.text(0.0, yi, "  not determinable: " + (r["reason"] or "no effect size"),
                    va="center", fontsize=7, color="0.4")
            continue
        lo, hi = r["effect_size_ci95"] or (r["effect_size"], r["effect_size"])
        ax.plot([lo, hi], [yi, yi], color="k", lw=1.2)
        ax.plot(r["effect_size"], yi, "s", color=H_COLOR, mec="k", ms=6)
    ax.axvline(0.0, color="0.5", ls=":", lw=1)
    ax.yaxis.set_major_locator(FixedLocator(y))
    ax.set_yticklabels([f"{r['channel']} {r['label']}" for r in rows], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    kind = " / ".join({"dz": "Cohen's dz", "hedges_g": "Hedges' g"}[n] for n in names) or \
        "effect size"
    ax.set_xlabel(f"{kind} with 95 % CI (condition − reference, in SD units)")


def subject_values(ax: Axes, values: list[dict], levels: list[str], label: str, unit: str,
                   title: str, by: str) -> None:
    """Per-subject values of one measure and channel at one timepoint: a line per subject
    through the levels it was measured in (paired), every value as a point, and the mean
    ± 95 % CI per level."""
    ax.set_title(title, fontsize=10)
    ok = [v for v in values if v["value"] is not None]
    if not ok:
        reasons = sorted({v["reason"] for v in values if v["reason"]})
        not_determinable(ax, label, "; ".join(reasons[:3]) or "no value")
        return
    x_of = {lv: i for i, lv in enumerate(levels)}
    by_subject: dict[str, list] = {}
    for v in ok:
        by_subject.setdefault(v["subject"], []).append(v)
    rng = np.random.default_rng(0)
    for items in by_subject.values():
        items.sort(key=lambda v: x_of[v["condition"]])
        x = [x_of[v["condition"]] for v in items]
        yv = [v["value"] for v in items]
        if len(items) > 1:
            ax.plot(x, yv, "-o", color="0.55", lw=0.8, ms=3.5, alpha=0.8)
        else:
            ax.plot(np.add(x, rng.uniform(-0.08, 0.08)), yv, "o", color="0.45", ms=3.5,
                    alpha=0.8)
    for lv, i in x_of.items():
        m = mean_ci([v["value"] for v in ok if v["condition"] == lv])
        if m is not None:
            ax.errorbar(i + 0.18, m[0], yerr=[[m[0] - m[1]], [m[2] - m[0]]], fmt="D",
                        color=H_COLOR, mec="k", capsize=4, lw=1.5,
                        label="mean ± 95 % CI" if i == 0 else None)
    ax.xaxis.set_major_locator(FixedLocator(range(len(levels))))
    ax.set_xticklabels(levels)
    ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.set_xlabel(by)
    ax.set_ylabel(axis_label(label, unit))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", **_LEGEND)


def rdd_curves(ax: Axes, values: list[dict], groups: list[tuple[str, str | None]],
               reference_Hz: float, title: str) -> None:
    """RDD ratio against train frequency (log axis) per condition (and timepoint): mean ±
    95 % CI over the sessions; the reference frequency is 1 by definition."""
    ax.set_title(title)
    freqs = sorted({float(v["measure"][4:-2]) for v in values})
    if not freqs:
        not_determinable(ax, "RDD", "no stimulus trains")
        return
    drawn = False
    for k, (level, tp) in enumerate(groups):
        pts = []
        for f in freqs:
            m = mean_ci([v["value"] for v in values if v["value"] is not None
                         and v["condition"] == level and v["timepoint"] == tp
                         and float(v["measure"][4:-2]) == f])
            if m is not None:
                pts.append((f, *m))
        if not pts:
            continue
        f, mean, lo, hi = map(np.array, zip(*[(reference_Hz, 1.0, 1.0, 1.0), *pts],
                                             strict=True))
        ax.errorbar(f * (1 + 0.03 * k), mean, yerr=[mean - lo, hi - mean], fmt="-o",
                    color=_COLORS(k % 10), capsize=3, ms=4,
                    label=level + (f" ({tp})" if tp else ""))
        drawn = True
    if not drawn:
        not_determinable(ax, "RDD", "fewer than 2 sessions per condition with a ratio")
        return
    ticks = sorted({reference_Hz, *freqs})
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel("train frequency (Hz)")
    ax.set_ylabel(f"H ratio (H / H at {reference_Hz:g} Hz, no unit)")
    ax.set_ylim(bottom=0)
    ax.legend(title="mean ± 95 % CI", loc="lower left", **_LEGEND)
