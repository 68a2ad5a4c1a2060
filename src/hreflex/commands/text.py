"""Numbers as the commands print them: each unit with the resolution it needs (mA to the
µA the stimulator works in, mV to the µV, ms to 10 µs...), so 16.002 mA never prints as
"16"; and the analysis summary table of ``hreflex analyze`` and ``hreflex demo``."""

from __future__ import annotations

import math

#: decimals printed per unit (trailing zeros dropped)
DECIMALS = {"mA": 3, "mV": 3, "ms": 2, "Hz": 3, "s": 2, "µV": 1, "µs": 1, "ratio": 3}


def number(value: float | None, unit: str) -> str:
    """``value`` with the decimals of ``unit`` (:data:`DECIMALS`), trailing zeros dropped;
    ``-`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{float(value):.{DECIMALS[unit]}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def number_range(low: float, high: float, unit: str) -> str:
    """``low–high unit`` (or ``low unit`` when they are equal)."""
    a, b = number(low, unit), number(high, unit)
    return f"{a} {unit}" if a == b else f"{a}–{b} {unit}"


def summary_text(doc: dict) -> str:
    """Human summary table of a results document (``AnalysisResult.to_dict()``)."""
    name_w = max([7, *(len(ch["name"]) for ch in doc["channels"])])
    head = (f"{'channel':<{name_w}} {'M win ms':>13} {'H win ms':>13} {'M lat':>6} "
            f"{'H lat':>6} {'Mmax mV':>10} {'Hmax mV':>10} {'Hmax/Mmax':>9} {'H thr':>7} "
            f"{'M thr':>7} {'I@Hmax':>7} {'excl':>7}")
    lines, ci_lines, rdd_lines = [head], [], []
    for ch in doc["channels"]:
        win, rec, lat, qc = ch["windows_ms"], ch["recruitment"] or {}, ch["latency_ms"], ch["qc"]
        w = {k: f"{number(win[k][0], 'ms')}-{number(win[k][1], 'ms')}" if win[k] else "-"
             for k in ("m", "h")}
        amp = {k: _amplitude_cell(rec, k) for k in ("mmax", "hmax")}
        ma = {k: number(rec.get(k), "mA")
              for k in ("h_threshold_mA", "m_threshold_mA", "intensity_at_hmax_mA")}
        lines.append(
            f"{ch['name']:<{name_w}} {w['m']:>13} {w['h']:>13} {number(lat['m'], 'ms'):>6} "
            f"{number(lat['h'], 'ms'):>6} {amp['mmax']:>10} {amp['hmax']:>10} "
            f"{number(rec.get('hmax_mmax'), 'ratio'):>9} {ma['h_threshold_mA']:>7} "
            f"{ma['m_threshold_mA']:>7} {ma['intensity_at_hmax_mA']:>7} "
            f"{qc['n_excluded']:>3}/{qc['n_sweeps']:<3}")
        ci = rec.get("hmax_mmax_ci95")
        if ci:
            ci_lines.append(f"{ch['name']}: Hmax/Mmax {number(rec['hmax_mmax'], 'ratio')} "
                            f"[{number(ci[0], 'ratio')}, {number(ci[1], 'ratio')}] "
                            "(95 % interval)")
        if ch["rdd"]:
            ref = number(ch["rdd_info"]["reference_Hz"], "Hz")
            rdd_lines.append(f"RDD {ch['name']} (ratio to {ref} Hz [95 % interval], n): "
                             + "  ".join(_rdd_cell(r) for r in ch["rdd"]))
    lines.append("(f = from the fitted curve, p = from the pooled per-intensity means, "
                 "o = the largest single sweep where neither is defined; "
                 "latencies are onsets in ms, thresholds and I@Hmax in mA)")
    return "\n".join(lines + ci_lines + rdd_lines)


def _amplitude_cell(rec: dict, key: str) -> str:
    """Mmax or Hmax (``key``) with its source: the fit (f) or pooled means (p); else the
    largest single sweep (o, ``<key>_observed_mV``: e.g. a ramp with no plateau in its
    means); ``-`` when there is none."""
    value, observed = rec.get(f"{key}_mV"), rec.get(f"{key}_observed_mV")
    if value is not None:
        return number(value, "mV") + (" f" if rec.get(f"{key}_source") == "fit" else " p")
    return "-" if observed is None else number(observed, "mV") + " o"


def _rdd_cell(row: dict) -> str:
    ci = row.get("ratio_ci95")
    interval = (f" [{number(ci[0], 'ratio')}, {number(ci[1], 'ratio')}]" if ci else "")
    return (f"{number(row['frequency_Hz'], 'Hz')} Hz {number(row['ratio'], 'ratio')}{interval} "
            f"({row['n']})")
