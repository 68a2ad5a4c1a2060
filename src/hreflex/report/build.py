"""Build the report of one session: analyse, draw every figure, write the PNGs and the page.

:func:`write_report` is the whole job from a session file; :func:`render_report` starts from
a session and its analysis result already in memory (``hreflex demo`` and tests use it).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import hreflex.report.figures as fg
import hreflex.report.sections as sections
from hreflex.analysis import (
    AnalysisConfig,
    AnalysisResult,
    ChannelResult,
    SweepTable,
    analyze_session,
)
from hreflex.analysis.conditioning import remove_baseline
from hreflex.analysis.config import AMPLITUDE_UNITS, load_config
from hreflex.analysis.epochs import make_epochs
from hreflex.io.files import atomic_folder
from hreflex.io.session import Session, read_session
from hreflex.report.figures import FigureFile
from hreflex.report.html import page

REPORT_NAME = "report.html"
#: figure kinds, in page order
KINDS = ("sweeps", "recruitment", "h_vs_m", "rdd")
_TITLES = {"sweeps": ("sweeps by intensity",), "recruitment": ("recruitment curve",),
           "h_vs_m": ("H against M",),
           "rdd": ("H ratio per frequency", "depression along the trains")}
_CAPTIONS = {
    "sweeps": "Sweeps of {label} ({n} of {total}: excluded sweeps, and RDD sweeps when there "
              "are recruitment sweeps, are not drawn), coloured by stimulus intensity, baseline "
              "removed, unfiltered. Shaded: stimulus artifact, M and H windows.",
    "recruitment": "Recruitment curve of {label}: M and H ({measure}) of every included "
                   "recruitment sweep, means ± SD per intensity, fitted curves (noise-free "
                   "part); Mmax, Hmax and the thresholds are marked.",
    "h_vs_m": "H-reflex against M-wave of {label}: every included recruitment sweep and the "
              "mean per intensity (in intensity order).",
    "rdd": "Rate-dependent depression of {label}: mean H (± SD) of the train pulses kept, "
           "relative to the reference frequency, and the mean H of every pulse position.",
}
_SIZES_IN = {"sweeps": (9.0, 4.2), "recruitment": (10.0, 4.8), "h_vs_m": (7.0, 4.8),
             "rdd": (11.0, 4.2)}


def write_report(session_path: str | Path, out_dir: str | Path,
                 config: AnalysisConfig | str | Path | None = None, *,
                 overwrite: bool = False) -> Path:
    """Analyse ``session_path`` and write ``out_dir/report.html`` (self-contained: figures
    embedded) plus every figure as a PNG. ``config``: an :class:`AnalysisConfig`, a TOML
    path, or None for the defaults. Files already in ``out_dir`` are replaced only with
    ``overwrite``; the inputs never. Returns the path of the page."""
    from hreflex.io.files import file_sha256

    session_path = Path(session_path)
    inputs = [session_path, *([config] if isinstance(config, (str, Path)) else [])]
    with atomic_folder(out_dir, [REPORT_NAME], overwrite, inputs) as tmp:  # checked before any work
        cfg = config if isinstance(config, AnalysisConfig) else load_config(config)
        sha = file_sha256(session_path)
        session = read_session(session_path)
        result = analyze_session(session, cfg,
                                 input_info={"path": str(session_path), "sha256": sha})
        _render(session, result, tmp)
    return Path(out_dir) / REPORT_NAME


def render_report(session: Session, result: AnalysisResult, out_dir: str | Path, *,
                  overwrite: bool = False) -> Path:
    """Write the report of an analysed ``session`` into ``out_dir`` (every file written
    whole, then renamed into place; existing ones replaced only with ``overwrite``);
    returns the page path."""
    inputs = [session.path] if session.path else []
    with atomic_folder(out_dir, [REPORT_NAME], overwrite, inputs) as tmp:
        _render(session, result, tmp)
    return Path(out_dir) / REPORT_NAME


def _render(session: Session, result: AnalysisResult, out_dir: Path) -> None:
    figs = channel_figures(session, result)
    for f in figs:
        (out_dir / f.name).write_bytes(f.png)
    doc = result.to_dict()
    html = page(sections.title(session), sections.body(session, result, doc, figs))
    (out_dir / REPORT_NAME).write_text(html, encoding="utf-8")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_") or "channel"


def _display_range_ms(ch: ChannelResult, priors: list[dict]) -> tuple[float, float]:
    """Time range of the sweep overlay: up to 1.3 x the end of the last window (never past
    the prior's search limit), and a tenth of that before the stimulus."""
    prior = next((p for p in priors if ch.windows and p["name"] == ch.windows.prior), None)
    end = float(prior["max_end_ms"]) if prior else max(float(p["max_end_ms"]) for p in priors)
    stops = [w.stop_ms for w in (ch.windows.m, ch.windows.h) if w] if ch.windows else []
    if stops:
        end = min(end, 1.3 * max(stops))
    return -0.1 * end, end


def overlay_sweeps(session: Session, result: AnalysisResult, end_ms: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sweeps for display: ``(time_ms (n_samples,), mV (n_sweeps, n_channels, n_samples))``
    up to ``end_ms`` after each stimulus, each sweep's baseline (the analysis' baseline
    window) removed, no filtering."""
    baseline = tuple(result.parameters["conditioning"]["baseline_ms"])
    ep = make_epochs(session, min(baseline[0], -0.1 * end_ms), end_ms)
    data, _ = remove_baseline(ep.data_V, ep.time_ms, baseline)
    return ep.time_ms, data * 1e3


def _reasons(ch: ChannelResult, sw: SweepTable) -> dict[str, str]:
    """Why a figure of this channel may have nothing to show, per figure kind."""
    if ch.recruitment is None:
        rec = ch.reasons.get("recruitment") or "; ".join(ch.messages) or "no M/H windows"
    elif not sw.recruitment.any():
        rec = "no recruitment sweeps (every stimulus belongs to a stimulus train)"
    else:
        rec = "no usable recruitment sweep"
    h_missing = ch.windows is not None and ch.windows.h is None
    return {"sweeps": "; ".join(ch.messages) if not sw.n_sweeps and ch.messages else
            "every sweep of this channel was excluded", "recruitment": rec,
            "h_vs_m": ch.reasons.get("h", "no H window") if h_missing else rec}


def channel_figures(session: Session, result: AnalysisResult) -> list[FigureFile]:
    """Every figure of every channel (see :data:`KINDS`), rendered to PNG."""
    sw = result.sweeps
    measure = result.parameters["amplitude"]
    unit = AMPLITUDE_UNITS.get(measure, "mV")
    priors = result.parameters["windows"]["priors"]
    ranges = [_display_range_ms(ch, priors) for ch in result.channels]
    time_ms, data_mV = (overlay_sweeps(session, result, max(r[1] for r in ranges))
                        if sw.n_sweeps else (np.zeros(0), np.zeros((0, session.n_channels, 0))))
    m_amp, h_amp = sw.m.amplitude(measure), sw.h.amplitude(measure)
    out = []
    for ch, xlim in zip(result.channels, ranges, strict=True):
        c, label = ch.index, ch.name + (f" ({ch.muscle})" if ch.muscle else "")
        why = _reasons(ch, sw)
        ok = ~sw.excluded[:, c]
        sel = ok & sw.recruitment  # included recruitment sweeps
        shown = sel if sel.any() else ok
        figs = {kind: fg.new_figure(*_SIZES_IN[kind]) for kind in KINDS[:3]}
        fg.sweep_overlay(figs["sweeps"][1][0], time_ms, data_mV[shown, c],
                         sw.intensity_mA[shown], ch.windows, xlim, why["sweeps"])
        args = (ch.recruitment, sw.intensity_mA[sel], m_amp[sel, c], h_amp[sel, c])
        fg.recruitment_curve(figs["recruitment"][1][0], *args, measure, unit,
                             why["recruitment"])
        fg.h_vs_m(figs["h_vs_m"][1][0], *args, unit, why["h_vs_m"])
        figs["rdd"] = fg.new_figure(*_SIZES_IN["rdd"], ncols=2 if ch.rdd.rows else 1)
        fg.rdd_ratios(figs["rdd"][1][0], ch.rdd)
        if ch.rdd.rows:
            fg.rdd_per_pulse(figs["rdd"][1][1], ch.rdd)
        for kind in KINDS:
            fig, axes = figs[kind]
            for ax, head in zip(axes, _TITLES[kind], strict=False):
                ax.set_title(f"{label}: {head}")
            caption = _CAPTIONS[kind].format(label=label, measure=measure, n=int(shown.sum()),
                                             total=sw.n_sweeps)
            name = f"ch{c}_{_safe(ch.name)}_{kind}.png"
            out.append(FigureFile(c, kind, name, fg.png_bytes(fig), caption))
    return out
