"""``hreflex analyze FILE``: analyse a session file, print a summary, write JSON/CSV and store
the results (plus auto-QC annotations) in the file's ``/analysis`` group."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import click
import numpy as np


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fmt(value, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def summary_text(doc: dict) -> str:
    """Human summary table of a results document (``AnalysisResult.to_dict()``)."""
    head = (f"{'channel':<10} {'M win ms':>11} {'H win ms':>11} {'M lat':>6} {'H lat':>6} "
            f"{'Mmax mV':>9} {'Hmax mV':>9} {'Hmax/Mmax':>9} {'H thr':>6} {'M thr':>6} "
            f"{'I@Hmax':>6} {'excl':>7}")
    lines = [head]
    rdd_lines = []
    for ch in doc["channels"]:
        win = ch["windows_ms"]
        w = {k: f"{win[k][0]:.1f}-{win[k][1]:.1f}" if win[k] else "-" for k in ("m", "h")}
        rec = ch["recruitment"] or {}
        src = {k: (" f" if rec.get(f"{k}_source") == "fit" else " p") if rec.get(f"{k}_mV")
               is not None else "" for k in ("mmax", "hmax")}
        lat = ch["latency_ms"]
        qc = ch["qc"]
        lines.append(
            f"{ch['name'][:10]:<10} {w['m']:>11} {w['h']:>11} {_fmt(lat['m'], '.2f'):>6} "
            f"{_fmt(lat['h'], '.2f'):>6} {_fmt(rec.get('mmax_mV')) + src['mmax']:>9} "
            f"{_fmt(rec.get('hmax_mV')) + src['hmax']:>9} {_fmt(rec.get('hmax_mmax')):>9} "
            f"{_fmt(rec.get('h_threshold_mA')):>6} {_fmt(rec.get('m_threshold_mA')):>6} "
            f"{_fmt(rec.get('intensity_at_hmax_mA')):>6} "
            f"{qc['n_excluded']:>3}/{qc['n_sweeps']:<3}")
        if ch["rdd"]:
            rdd_lines.append(f"RDD {ch['name']} (ratio to {ch['rdd_info']['reference_Hz']:g} Hz, "
                             "n): " + "  ".join(f"{r['frequency_Hz']:g} Hz {_fmt(r['ratio'], '.2f')}"
                                                f" ({r['n']})" for r in ch["rdd"]))
    lines.append("(f = from the fitted curve, p = from the pooled per-intensity means; "
                 "latencies are onsets in ms, thresholds and I@Hmax in mA)")
    return "\n".join(lines + rdd_lines)


def _cell(value) -> str:
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
        out.writerows([_cell(v) for v in row] for row in rows)


def write_csv(result, doc: dict, directory: Path) -> list[Path]:
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
    rows, levels, rdd = [], [], []
    for ch in doc["channels"]:
        win, lat, rec = ch["windows_ms"], ch["latency_ms"], ch["recruitment"] or {}
        rows.append([ch["name"], *(win["m"] or [None, None]), *(win["h"] or [None, None]),
                     lat["m"], lat["h"], *(rec.get(k) for k in keys), ch["qc"]["n_excluded"]])
        levels += [[ch["name"], *lv.values()] for lv in rec.get("levels", [])]
        rdd += [[ch["name"], r["frequency_Hz"], r["ratio"], r["h_mean_mV"], r["h_sd_mV"], r["n"],
                 r["n_trains"], r["m_mean_mV"]] for r in ch["rdd"]]
    _write_csv(paths[1], ["channel", "m_start_ms", "m_stop_ms", "h_start_ms", "h_stop_ms",
                          "m_latency_ms", "h_latency_ms", *keys, "n_excluded"], rows)
    _write_csv(paths[2], ["channel", "intensity_mA", "n", "m_mean_mV", "m_sd_mV", "h_mean_mV",
                          "h_sd_mV"], levels)
    _write_csv(paths[3], ["channel", "frequency_Hz", "ratio", "h_mean_mV", "h_sd_mV", "n",
                          "n_trains", "m_mean_mV"], rdd)
    return paths


@click.command("analyze")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Analysis config (TOML); default: built-in defaults.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the results JSON here.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write sweeps/channels/levels/rdd CSV files into this folder.")
@click.option("--no-store", is_flag=True,
              help="Do not store results and QC annotations in FILE.")
def command(file: Path, config_path: Path | None, json_path: Path | None,
            csv_dir: Path | None, no_store: bool) -> None:
    """Analyse FILE: windows, M/H per sweep, QC, recruitment curve, Hmax/Mmax, RDD."""
    from hreflex.analysis import analyze_session, load_config
    from hreflex.io.session import read_session
    from hreflex.io.writer import store_analysis

    cfg = load_config(config_path)
    sha = file_sha256(file)
    session = read_session(file)
    result = analyze_session(session, cfg, input_info={"path": str(file), "sha256": sha})
    doc = result.to_dict()
    click.echo(summary_text(doc))
    for message in doc["messages"]:
        click.echo(f"warning: {message}", err=True)
    for ch in doc["channels"]:
        for message in ch["messages"]:
            click.echo(f"warning: {ch['name']}: {message}", err=True)
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_path}")
    if csv_dir is not None:
        write_csv(result, doc, csv_dir)
        click.echo(f"wrote CSV files to {csv_dir}")
    if not no_store:
        store_analysis(file, doc, result.annotations)
        click.echo(f"stored results and {len(result.annotations)} QC annotations in {file}")
