"""Sections of the report page, from a session, its analysis result and its results
document (``AnalysisResult.to_dict()``): overview, per-channel key numbers and figures,
RDD table, quality control, session metadata, provenance.

Every number that comes from the analysis sits in a cell with ``data-key =
"<channel>/<group>/<key>"`` (``group`` = ``recruitment``, ``latency_ms`` or ``rdd``; for
``rdd`` the key is the frequency in Hz) and ``data-value`` = the exact value.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from hreflex import __version__
from hreflex.analysis.config import AMPLITUDE_UNITS
from hreflex.io.format import decode_str
from hreflex.report.html import image, not_determinable, number, pairs, table, value_cell

if TYPE_CHECKING:
    from hreflex.analysis import AnalysisResult
    from hreflex.io.session import Session
    from hreflex.report.figures import FigureFile

#: (key in the results document, label, unit; "{a}" = the amplitude unit)
RECRUITMENT_ROWS = (
    ("mmax_mV", "Mmax", "{a}"),
    ("hmax_mV", "Hmax", "{a}"),
    ("hmax_mmax", "Hmax / Mmax", ""),
    ("m_threshold_mA", "M threshold", "mA"),
    ("h_threshold_mA", "H threshold", "mA"),
    ("intensity_at_hmax_mA", "Intensity at Hmax", "mA"),
    ("m_at_hmax_pct_mmax", "M at Hmax", "% Mmax"),
    ("m_slope_mV_per_mA", "M slope (steepest)", "{a}/mA"),
    ("h_slope_mV_per_mA", "H slope (steepest, rising limb)", "{a}/mA"),
    ("mmax_observed_mV", "Largest M of a single sweep", "{a}"),
    ("hmax_observed_mV", "Largest H of a single sweep", "{a}"),
)
#: recruitment value -> where its origin is recorded (``*_source`` key, else the fitted wave)
_ORIGIN = {"mmax_mV": "mmax_source", "hmax_mV": "hmax_source",
           "intensity_at_hmax_mA": "hmax_source", "m_slope_mV_per_mA": "m",
           "h_slope_mV_per_mA": "h", "m_threshold_mA": "m", "h_threshold_mA": "h"}
LATENCY_ROWS = (
    ("m", "M latency (onset)"), ("h", "H latency (onset)"),
    ("m_peak", "M latency (peak)"), ("h_peak", "H latency (peak)"),
)


def title(session: Session) -> str:
    """Page title: subject, session and file name."""
    who = " ".join(x for x in (session.meta.subject_id, session.meta.session_id) if x)
    name = session.path.name if session.path else "session"
    return f"H-reflex report: {who} ({name})" if who else f"H-reflex report: {name}"


def _source(rec: dict, key: str) -> str:
    """Where a recruitment value comes from: the fitted curve (with its R²), the pooled
    per-intensity means, or a single sweep; "" for derived or missing values."""
    if rec.get(key) is None:
        return ""
    if key.endswith("observed_mV"):
        return "largest single sweep"
    origin = _ORIGIN.get(key)
    if origin is None:
        return ""
    how = rec.get(origin) if origin.endswith("_source") else "fit"
    fit = (rec.get("fits") or {}).get(origin[0])
    text = f"{how} (R² {fit['r2']:.3f})" if how == "fit" and fit and fit.get("r2") else how
    return f"{text}, {rec.get('threshold_method')} method" if "threshold" in key else text


def key_numbers(ch: dict, amplitude_unit: str) -> str:
    """Table of a channel's recruitment values and latencies, with reasons for the missing."""
    name, rec = ch["name"], ch["recruitment"]
    rows = []
    for key, label, unit in RECRUITMENT_ROWS:
        unit = unit.format(a=amplitude_unit)
        if rec is None:
            cell = value_cell(f"{name}/recruitment/{key}", None, ch.get("recruitment_reason"))
            src = ""
        else:
            cell = value_cell(f"{name}/recruitment/{key}", rec.get(key), rec.get(f"{key}_reason"))
            src = _source(rec, key)
        ci = (rec or {}).get(f"{key}_ci95")
        ci_cell = f"{number(ci[0])} – {number(ci[1])}" if ci else "–"
        rows.append(f"<td>{escape(label)}</td>{cell}<td class=num>{ci_cell}</td>"
                    f"<td>{escape(unit)}</td><td>{escape(src)}</td>")
    lat = ch["latency_ms"]
    for key, label in LATENCY_ROWS:
        cell = value_cell(f"{name}/latency_ms/{key}", lat.get(key), lat.get(f"{key}_reason"))
        rows.append(f"<td>{escape(label)}</td>{cell}<td>–</td><td>ms</td><td>take-off of the "
                    "wave</td>")
    return table(["quantity", "value", "95 % interval", "unit", "source"], rows, raw=True)


def windows_line(ch: dict, recorded: list[tuple[str, float, float, str]] = ()) -> str:
    """The M and H windows (or why they are missing) with their evidence and confidence, the
    windows the recording system stored (``recorded``: (wave, start, stop, source)), the
    components left out and the artifact end."""
    w = ch["windows_ms"]
    parts = []
    for k in ("m", "h"):
        if w.get(k):
            conf = w.get(f"{k}_confidence")
            parts.append(f"{k.upper()} window {w[k][0]:.1f}–{w[k][1]:.1f} ms "
                         f"({escape(str(w.get(f'{k}_source')))}"
                         + (f", confidence {conf:.2f}" if conf is not None else "") + "): "
                         + escape(w.get(f"{k}_evidence") or ""))
        else:
            parts.append(f"{k.upper()} window {not_determinable(w.get(f'{k}_reason'))}")
    for wave, start, stop, source in recorded:
        parts.append(f"recorded {wave.upper()} window {start:.2f}–{stop:.2f} ms "
                     f"({escape(source)})")
    left = [c for c in w.get("components", []) if c["role"] not in ("m", "h", "unassigned")]
    if left:
        parts.append("left out: " + ", ".join(
            f"{c['start_ms']:.1f}–{c['stop_ms']:.1f} ms ({escape(c['role'])})" for c in left))
    if w.get("blank_until") is not None:
        parts.append(f"artifact until {w['blank_until']:.1f} ms")
    if w.get("prior"):
        parts.append(f"search prior: {escape(w['prior'])}")
    return "<p>" + "; ".join(parts) + ".</p>"


def _recorded(session: Session, channel: int) -> list[tuple[str, float, float, str]]:
    """The M/H windows the recording system stored for ``channel``."""
    rows = session.recorded_windows
    rows = rows[(rows["channel"] == channel) | (rows["channel"] == -1)]
    return [(r["wave"].decode(), float(r["start_ms"]), float(r["stop_ms"]),
             r["source"].decode()) for r in rows if r["wave"] in (b"m", b"h")]


def rdd_table(ch: dict, amplitude_unit: str) -> str:
    """Per-frequency RDD rows of a channel, or why there are none."""
    if not ch["rdd"]:
        return f"<p>RDD {not_determinable(ch.get('rdd_reason'))}</p>"
    info = ch["rdd_info"]
    rows = []
    for r in ch["rdd"]:
        f = r["frequency_Hz"]
        rows.append(
            f"<td class=num>{number(f)}</td>"
            + value_cell(f"{ch['name']}/rdd/{f:g}", r["ratio"], "reference H is 0")
            + (f"<td class=num>{number(r['ratio_ci95'][0])} – {number(r['ratio_ci95'][1])}</td>"
               if r.get("ratio_ci95") else "<td class=num>–</td>")
            + "".join(f"<td class=num>{number(r[k])}</td>"
                      for k in ("h_mean_mV", "h_sd_mV", "n", "n_trains", "m_mean_mV")))
    note = (f"<p class=note>Ratio = mean H of pulses ≥ {info['skip_first'] + 1} of the trains "
            f"at a frequency / the same at {number(info['reference_Hz'])} Hz (trains from the "
            f"{escape(str(info['trains']))} stimulus table), "
            + ("both from matched amplitudes (H read near the noise floor"
               if info.get("amplitude") == "matched" else "both net of the noise floor")
            + (f" ({number(info['floor_mV'])} {amplitude_unit})"
               if info.get("floor_mV") is not None else "")
            + (")" if info.get("amplitude") == "matched" else "") + ".")
    if info.get("m_change_pct") is not None:
        note += (f" M varied by {info['m_change_pct']:.0f} % across frequencies"
                 + (" (more than the configured limit)." if info.get("m_changed") else "."))
    a = amplitude_unit
    return table(["frequency (Hz)", "H ratio", "95 % interval", f"H mean ({a})", f"H SD ({a})",
                  "n responses", "n trains", f"M mean ({a})"], rows, raw=True) + note + "</p>"


def overview(doc: dict, amplitude_unit: str) -> str:
    """One row per channel with the headline numbers."""
    rows = []
    for ch in doc["channels"]:
        rec, lat = ch["recruitment"] or {}, ch["latency_ms"]
        rdd = ", ".join(f"{r['frequency_Hz']:g} Hz {number(r['ratio'], 2)}" for r in ch["rdd"])
        rows.append([ch["name"], ch["muscle"] or "–", number(rec.get("mmax_mV")),
                     number(rec.get("hmax_mV")), number(rec.get("hmax_mmax")),
                     number(rec.get("m_threshold_mA")), number(rec.get("h_threshold_mA")),
                     number(lat.get("m")), number(lat.get("h")),
                     f"{ch['qc']['n_excluded']}/{ch['qc']['n_sweeps']}", rdd or "–"])
    a = amplitude_unit
    return table(["channel", "muscle", f"Mmax ({a})", f"Hmax ({a})", "Hmax/Mmax",
                  "M thr (mA)", "H thr (mA)", "M lat (ms)", "H lat (ms)", "excluded",
                  "RDD ratio"], rows) + "<p class=note>– = not determinable (reasons in the "\
        "channel sections).</p>"


def messages(items: list[str]) -> str:
    return ("<ul>" + "".join(f"<li>{escape(m)}</li>" for m in items) + "</ul>") if items else ""


def quality(session: Session, result: AnalysisResult, doc: dict) -> str:
    """QC: per-channel counts, every excluded sweep with its reason, faults and gaps."""
    sw = result.sweeps
    counts = [[ch["name"], ch["qc"]["n_sweeps"], ch["qc"]["n_excluded"],
               number(ch["qc"]["background_median_uV"]),
               number(ch["qc"]["background_limit_uV"])] for ch in doc["channels"]]
    out = table(["channel", "sweeps", "excluded", "median background (µV RMS)",
                 "background limit (µV RMS)"], counts)
    excluded = [[ch["name"], e["sweep"], number(sw.time_s[e["sweep"]]),
                 number(sw.intensity_mA[e["sweep"]]), e["reason"]]
                for ch in doc["channels"] for e in ch["qc"]["excluded"]]
    out += "<h3>Excluded sweeps</h3>" + (
        table(["channel", "sweep", "time (s)", "intensity (mA)", "reason"], excluded)
        if excluded else "<p>No sweep was excluded.</p>")
    fs = session.sample_rate_Hz
    faults = [[decode_str(f["kind"]), f["sample_start"],
               number(f["sample_start"] / fs) if f["sample_start"] >= 0 else "–",
               f["n_samples"], number(1e3 * f["n_samples"] / fs), decode_str(f["detail"])]
              for f in session.faults]
    out += "<h3>Faults and gaps recorded in the file</h3>" + (
        table(["kind", "first sample", "time (s)", "samples", "duration (ms)", "detail"], faults)
        if faults else "<p>No fault or gap was recorded.</p>")
    notes = list(doc["messages"]) + [f"{ch['name']}: {m}" for ch in doc["channels"]
                                     for m in ch["messages"]]
    if notes:
        out += "<h3>Analysis messages</h3>" + messages(notes)
    return out


def metadata(session: Session) -> str:
    """Who/what was recorded, the recording and the devices."""
    m = session.meta
    blocks = ", ".join(f"{decode_str(b['label']) or decode_str(b['kind'])} "
                       f"({decode_str(b['kind'])}, "
                       f"{int(np.sum(session.stimuli['block_id'] == b['block_id']))} stimuli)"
                       for b in session.blocks)
    size = session.path.stat().st_size if session.path and session.path.exists() else None
    items = [("subject", m.subject_id), ("session", m.session_id), ("condition", m.condition),
             ("species", m.species), ("muscle", m.muscle), ("nerve", m.nerve),
             ("notes", m.notes), ("recorded (UTC)", m.created_utc),
             ("recorded with", m.software_version),
             ("file", str(session.path) if session.path else "–"),
             ("file size", f"{size / 1e6:.1f} MB" if size is not None else "–"),
             ("format version", session.format_version or "–"), ("layout", session.layout),
             ("sample rate", f"{session.sample_rate_Hz:g} Hz"),
             ("duration", f"{session.duration_s:.1f} s"), ("stimuli", len(session.stimuli)),
             ("channels", ", ".join(f"{n} ({mu})" if mu else n for n, mu in
                                    zip(session.channel_names, session.channel_muscles,
                                        strict=True))),
             ("blocks", blocks or "–")]
    out = pairs((k, v if v not in ("", None) else "–") for k, v in items)
    devices = [(f"{role}: {k}", v) for role, attrs in session.devices.items()
               for k, v in attrs.items()]
    return out + ("<h3>Devices</h3>" + pairs(devices) if devices else "")


def provenance(doc: dict) -> str:
    """Software, input file and hash, when, and every analysis parameter."""
    inp = doc.get("input", {})
    sw = doc.get("software", {})
    items = [("analysis software", f"{sw.get('name', 'hreflex')} {sw.get('version', '?')}"),
             ("report software", f"hreflex {__version__}"),
             ("analysed (UTC)", doc.get("created_utc", "–")),
             ("report written (UTC)",
              datetime.now(timezone.utc).isoformat(timespec="seconds")),
             ("input file", inp.get("path") or "–"),
             ("input SHA-256", inp.get("sha256") or "not computed"),
             ("results schema", doc.get("schema", "–")),
             ("amplitude measure", doc["parameters"].get("amplitude"))]
    params = json.dumps(doc["parameters"], indent=1, ensure_ascii=False)
    return (pairs(items) + "<details><summary>All analysis parameters (JSON)</summary>"
            f"<pre>{escape(params)}</pre></details>")


def body(session: Session, result: AnalysisResult, doc: dict[str, Any],
         figures: list[FigureFile]) -> str:
    """The page body: navigation, overview, one section per channel, QC, session,
    provenance."""
    unit = AMPLITUDE_UNITS.get(doc["parameters"].get("amplitude"), "mV")
    inp = doc.get("input", {})
    nav = ["<a href='#overview'>Overview</a>"] + [
        f"<a href='#ch{ch['index']}'>{escape(ch['name'])}</a>" for ch in doc["channels"]] + [
        "<a href='#qc'>Quality control</a>", "<a href='#session'>Session</a>",
        "<a href='#provenance'>Provenance</a>"]
    out = [f"<p class=note>{escape(inp.get('path') or '')} · SHA-256 "
           f"{escape(inp.get('sha256') or 'not computed')} · hreflex {escape(__version__)}</p>",
           "<nav>" + "".join(nav) + "</nav>",
           "<h2 id='overview'>Overview</h2>", overview(doc, unit), messages(doc["messages"])]
    by_channel: dict[int, dict[str, FigureFile]] = {}
    for f in figures:
        by_channel.setdefault(f.channel, {})[f.kind] = f
    for ch in doc["channels"]:
        figs = by_channel.get(ch["index"], {})
        label = ch["name"] + (f" ({ch['muscle']})" if ch["muscle"] else "")
        out += [f"<h2 id='ch{ch['index']}'>Channel {escape(label)}</h2>",
                "<h3>Key numbers</h3>", key_numbers(ch, unit),
                windows_line(ch, _recorded(session, ch["index"])),
                messages(ch["messages"])]
        for kind, head in (("sweeps", "Sweeps"), ("recruitment", "Recruitment curve"),
                           ("h_vs_m", "H vs M"), ("rdd", "Rate-dependent depression")):
            out.append(f"<h3>{head}</h3>")
            if kind == "rdd":
                out.append(rdd_table(ch, unit))
            if kind in figs:
                f = figs[kind]
                out.append(image(f.png, f"{head} of {ch['name']}", f.caption, f.name))
    out += ["<h2 id='qc'>Quality control</h2>", quality(session, result, doc),
            "<h2 id='session'>Session</h2>", metadata(session),
            "<h2 id='provenance'>Provenance</h2>", provenance(doc)]
    return "\n".join(out)
