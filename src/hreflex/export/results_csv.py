"""Analysis results as CSV tables (per sweep, per channel, per intensity, per RDD frequency);
column meanings in ``docs/METRICS.md``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hreflex.analysis.results import AnalysisResult


def csv_cell(value: Any) -> str:
    """One CSV cell: "" for None/NaN, 6 significant digits for floats, 1/0 for booleans."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{float(value):.6g}"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    return str(value)


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows([csv_cell(v) for v in row] for row in rows)


def write_result_csv(result: AnalysisResult, doc: dict, directory: Path) -> list[Path]:
    """Write ``sweeps.csv`` (one row per sweep and channel), ``channels.csv`` (summary per
    channel), ``levels.csv`` (per intensity) and ``rdd.csv`` (per train frequency)."""
    directory.mkdir(parents=True, exist_ok=True)
    cols = result.sweeps.columns()
    paths = [directory / n for n in ("sweeps.csv", "channels.csv", "levels.csv", "rdd.csv")]
    _write_csv(paths[0], list(cols), zip(*cols.values(), strict=True))
    keys = ["mmax_mV", "mmax_source", "mmax_observed_mV", "plateau_reached", "hmax_mV",
            "hmax_source", "hmax_observed_mV", "hmax_mmax", "intensity_at_hmax_mA",
            "m_at_hmax_pct_mmax", "m_threshold_mA", "h_threshold_mA", "m_slope_mV_per_mA",
            "h_slope_mV_per_mA"]
    intervals = ["mmax_mV", "hmax_mV", "hmax_mmax", "m_threshold_mA", "h_threshold_mA"]
    ci_cols = [f"{k}_ci95_{end}" for k in intervals for end in ("lo", "hi")]
    rows, levels, rdd = [], [], []
    for ch in doc["channels"]:
        win, lat, rec = ch["windows_ms"], ch["latency_ms"], ch["recruitment"] or {}
        cis = [v for k in intervals for v in (rec.get(f"{k}_ci95") or [None, None])]
        rows.append([ch["name"], *(win["m"] or [None, None]), *(win["h"] or [None, None]),
                     win.get("m_confidence"), win.get("h_confidence"), lat["m"], lat["h"],
                     *(rec.get(k) for k in keys), *cis, ch["qc"]["n_excluded"]])
        levels += [[ch["name"], *lv.values()] for lv in rec.get("levels", [])]
        rdd += [[ch["name"], r["frequency_Hz"], r["ratio"],
                 *(r.get("ratio_ci95") or [None, None]), r["h_mean_mV"], r["h_sd_mV"], r["n"],
                 r["n_trains"], r["m_mean_mV"]] for r in ch["rdd"]]
    _write_csv(paths[1], ["channel", "m_start_ms", "m_stop_ms", "h_start_ms", "h_stop_ms",
                          "m_confidence", "h_confidence", "m_latency_ms", "h_latency_ms", *keys,
                          *ci_cols, "n_excluded"], rows)
    _write_csv(paths[2], ["channel", "intensity_mA", "n", "m_mean_mV", "m_sd_mV", "h_mean_mV",
                          "h_sd_mV"], levels)
    _write_csv(paths[3], ["channel", "frequency_Hz", "ratio", "ratio_ci95_lo", "ratio_ci95_hi",
                          "h_mean_mV", "h_sd_mV", "n", "n_trains", "m_mean_mV"], rdd)
    return paths
