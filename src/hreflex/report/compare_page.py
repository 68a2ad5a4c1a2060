"""The comparison report (``hreflex compare -o DIR``): ``DIR/compare.html``, self-contained
like ``hreflex report`` (figures embedded), plus every figure as a PNG next to it. Built
from the comparison document alone (``docs/COMPARE.md``).

Every number of the results table sits in a cell with ``data-key = "<channel>/<measure>/
<condition>[@<timepoint>]/<design>/<key>"`` and ``data-value`` = the exact value.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import hreflex.report.compare_figures as cf
from hreflex.report.figures import new_figure, png_bytes
from hreflex.report.html import image, number, page, pairs, table, value_cell

REPORT_NAME = "compare.html"
_NUMBERS = ("mean_reference", "sd_reference", "mean_condition", "sd_condition", "difference",
            "effect_size", "p", "p_holm", "p_nonparametric")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "x"


def _comparison_name(r: dict) -> str:
    at = f" at {r['timepoint']}" if r["timepoint"] else ""
    return f"{r['condition']} − {r['reference']}{at} ({r['design']})"


def _figure(fig, name: str, alt: str, caption: str, out_dir: Path) -> str:
    png = png_bytes(fig)
    (out_dir / name).write_bytes(png)
    return image(png, alt, caption, name)


def _cell(r: dict, key: str) -> str:
    at = f"@{r['timepoint']}" if r["timepoint"] else ""
    return value_cell(f"{r['channel']}/{r['measure']}/{r['condition']}{at}/{r['design']}/{key}",
                      r[key], r["reason"] or "not computed")


def _interval(ci) -> str:
    return f"<td class=num>[{number(ci[0])}, {number(ci[1])}]</td>" if ci else "<td>–</td>"


def results_table(rows: list[dict]) -> str:
    """Every measure entry: n, means and SDs, difference with CI, effect size with CI, the
    tests and their p values (which test each p is from), the reason when missing."""
    body = []
    for r in rows:
        cells = [f"<td>{escape(r['channel'])}</td><td>{escape(r['label'])}</td>"
                 f"<td>{escape(r['unit'] or '–')}</td><td>{escape(_comparison_name(r))}</td>"
                 f"<td class=num>{r['n_reference']}/{r['n_condition']}</td>"]
        cells += [_cell(r, k) for k in _NUMBERS[:5]]
        cells.append(_interval(r["ci95"]))
        cells.append(_cell(r, "effect_size")
                     + f"<td>{escape(r['effect_size_name'] or '–')}</td>")
        cells.append(_interval(r["effect_size_ci95"]))
        cells += [_cell(r, "p"), _cell(r, "p_holm"), f"<td>{escape(r['test'] or '–')}</td>",
                  _cell(r, "p_nonparametric"), f"<td>{escape(r['test_nonparametric'] or '–')}"
                  "</td>", f"<td>{len(r['excluded'])}</td>"]
        body.append("".join(cells))
    return table(["channel", "measure", "unit", "comparison", "n ref/cond", "mean ref",
                  "SD ref", "mean cond", "SD cond", "difference", "95 % CI", "effect size",
                  "kind", "95 % CI", "p", "p Holm", "test", "p rank test", "rank test",
                  "left out"], body, raw=True)


def _excluded(rows: list[dict]) -> str:
    items = [[r["channel"], r["label"], _comparison_name(r), x["subject"], x["condition"],
              x["timepoint"] or "–", x["reason"]] for r in rows for x in r["excluded"]]
    if not items:
        return "<p>No session was left out of any measure.</p>"
    return table(["channel", "measure", "comparison", "subject", "condition", "timepoint",
                  "reason"], items)


def _per_measure(doc: dict, out_dir: Path) -> list[str]:
    out = []
    tps = doc["timepoints"] or [None]
    seen = []
    for r in doc["measures"]:
        key = (r["channel"], r["measure"])
        if key not in seen:
            seen.append(key)
    labels = {(r["channel"], r["measure"]): (r["label"], r["unit"]) for r in doc["measures"]}
    for ch, m in seen:
        label, unit = labels[(ch, m)]
        vals = [v for v in doc["values"] if v["channel"] == ch and v["measure"] == m]
        fig, axes = new_figure(4.2 * len(tps) + 0.6, 3.6, ncols=len(tps))
        for ax, tp in zip(axes, tps, strict=True):
            cf.subject_values(ax, [v for v in vals if v["timepoint"] == tp], doc["levels"],
                              label, unit, f"{ch}: {label}" + (f" at {tp}" if tp else ""),
                              doc["by"])
        out.append(f"<h3>{escape(ch)}: {escape(label)}</h3>" + _figure(
            fig, f"{_safe(ch)}_{_safe(m)}.png", f"{label} of {ch} per subject",
            f"{label} of {ch} per subject and {doc['by']}: one line per subject through its "
            "sessions (paired), points for the others; mean ± 95 % CI per level.", out_dir))
    return out


def body(doc: dict, out_dir: Path) -> str:
    """The page body: overview, forest plots, RDD curves, per-measure figures, table,
    sessions left out, problems."""
    inp = doc["input"]
    overview = pairs([("design", doc["design"]), ("compared", f"levels of {doc['by']}: "
                                                  f"{', '.join(doc['levels'])}"),
                      ("reference", doc["reference"]),
                      ("timepoints", ", ".join(doc["timepoints"] or []) or "–"),
                      ("subjects", doc["n_subjects"]), ("sessions", len(doc["files"])),
                      ("input", inp["manifest"] or f"{len(inp['sessions'])} session files"),
                      ("analysis config", inp["config"] or "built-in defaults"),
                      ("hreflex", doc["software"]["version"]),
                      ("written (UTC)", doc["created_utc"])])
    out = ["<nav><a href='#overview'>Overview</a><a href='#forest'>Effect sizes</a>"
           "<a href='#rdd'>RDD</a><a href='#measures'>Per measure</a>"
           "<a href='#table'>Table</a><a href='#excluded'>Left out</a></nav>",
           "<h2 id='overview'>Overview</h2>", overview,
           "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in doc["notes"] + doc["problems"])
           + "</ul>", "<h2 id='forest'>Effect sizes</h2>"]
    groups: dict[str, list[dict]] = {}
    for r in doc["measures"]:
        if r["design"] != "mixed":
            groups.setdefault(_comparison_name(r), []).append(r)
    for k, (name, rows) in enumerate(groups.items()):
        fig, (ax,) = new_figure(9.0, 1.2 + 0.28 * len(rows))
        cf.forest(ax, rows, name)
        out.append(_figure(fig, f"forest_{k}_{_safe(name)}.png", f"forest plot {name}",
                           f"Effect sizes with 95 % CIs, {name}.", out_dir))
    out.append("<h2 id='rdd'>Rate-dependent depression</h2>")
    cells = [(lv, tp) for tp in (doc["timepoints"] or [None]) for lv in doc["levels"]]
    for ch in dict.fromkeys(r["channel"] for r in doc["measures"]):
        vals = [v for v in doc["values"] if v["channel"] == ch and v["measure"].startswith("rdd_")]
        if not vals or doc["rdd_reference_Hz"] is None:
            out.append(f"<p>{escape(ch)}: no stimulus trains.</p>")
            continue
        fig, (ax,) = new_figure(7.0, 4.2)
        cf.rdd_curves(ax, vals, cells, doc["rdd_reference_Hz"], f"{ch}: RDD per condition")
        out.append(_figure(fig, f"{_safe(ch)}_rdd.png", f"RDD curves of {ch}",
                           f"H ratio per train frequency of {ch}, mean ± 95 % CI per "
                           "condition over its sessions.", out_dir))
    out += ["<h2 id='measures'>Per measure</h2>", *_per_measure(doc, out_dir),
            "<h2 id='table'>Results</h2>", results_table(doc["measures"]),
            "<p class=note>Differences are condition − reference. p: the test named in the "
            "'test' column; p Holm: adjusted over the measures and channels of the same "
            "comparison; p rank test: the rank-based test named next to it.</p>",
            "<h2 id='excluded'>Sessions left out of a measure</h2>", _excluded(doc["measures"])]
    return "\n".join(out)


def write_compare_report(doc: dict, out_dir: str | Path) -> Path:
    """Write ``out_dir/compare.html`` and its PNG figures; returns the page path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"H-reflex comparison: {' vs '.join(doc['levels'])} ({doc['design']})"
    path = out_dir / REPORT_NAME
    path.write_text(page(title, body(doc, out_dir)), encoding="utf-8")
    return path
