"""A results document (``AnalysisResult.to_dict()``) as a human-readable table."""

from __future__ import annotations


def _fmt(value, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def summary_text(doc: dict) -> str:
    """Human summary table of a results document (``AnalysisResult.to_dict()``)."""
    head = (f"{'channel':<10} {'M win ms':>11} {'H win ms':>11} {'M lat':>6} {'H lat':>6} "
            f"{'Mmax mV':>9} {'Hmax mV':>9} {'Hmax/Mmax':>9} {'H thr':>6} {'M thr':>6} "
            f"{'I@Hmax':>6} {'excl':>7}")
    lines = [head]
    ci_lines, rdd_lines = [], []
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
        ci = rec.get("hmax_mmax_ci95")
        if ci:
            ci_lines.append(f"{ch['name']}: Hmax/Mmax {_fmt(rec['hmax_mmax'])} "
                            f"[{_fmt(ci[0])}, {_fmt(ci[1])}] (95 % interval)")
        if ch["rdd"]:
            rdd_lines.append(f"RDD {ch['name']} (ratio to {ch['rdd_info']['reference_Hz']:g} Hz "
                             "[95 % interval], n): " + "  ".join(
                                 f"{r['frequency_Hz']:g} Hz {_fmt(r['ratio'], '.2f')}"
                                 + (f" [{r['ratio_ci95'][0]:.2f}, {r['ratio_ci95'][1]:.2f}]"
                                    if r.get("ratio_ci95") else "") + f" ({r['n']})"
                                 for r in ch["rdd"]))
    lines.append("(f = from the fitted curve, p = from the pooled per-intensity means; "
                 "latencies are onsets in ms, thresholds and I@Hmax in mA)")
    return "\n".join(lines + ci_lines + rdd_lines)
