"""Writing the comparison document (``docs/COMPARE.md``): JSON, the CSV tables
``compare.csv`` (one row per measure entry) and ``values.csv`` (one row per session, channel
and measure), and the text summary the command prints."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from hreflex.analysis.results import jsonable
from hreflex.export.results_csv import csv_cell

#: compare.csv columns: the JSON keys of a measure entry, intervals split into _low/_high,
#: ``excluded`` as "subject (condition[, timepoint]): reason" joined by "; "
CSV_COLUMNS = (
    "measure", "label", "unit", "channel", "muscle", "timepoint", "design", "reference",
    "condition", "n", "n_reference", "n_condition", "mean_reference", "mean_condition",
    "sd_reference", "sd_condition", "difference", "ci95_low", "ci95_high", "effect_size",
    "effect_size_name", "effect_size_ci95_low", "effect_size_ci95_high", "test", "statistic",
    "df", "p", "p_holm", "test_nonparametric", "statistic_nonparametric", "p_nonparametric",
    "reason", "n_excluded", "excluded",
)
VALUE_COLUMNS = ("file", "subject", "condition", "timepoint", "channel", "measure", "value",
                 "reason")
FILES = ("compare.csv", "values.csv")


def _replace(path: Path, write) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(doc: dict, path: str | Path) -> Path:
    """The document as JSON (atomically, its folder created if needed; NaN: null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, lambda f: f.write(json.dumps(jsonable(doc), indent=1, ensure_ascii=False)))
    return path


def _excluded(items: list[dict]) -> str:
    return "; ".join(
        f"{x['subject']} ({x['condition']}{', ' + x['timepoint'] if x['timepoint'] else ''}): "
        f"{x['reason']}" for x in items)


def csv_row(row: dict) -> dict:
    """A measure entry flattened to :data:`CSV_COLUMNS`."""
    out = {k: row.get(k) for k in CSV_COLUMNS}
    for key in ("ci95", "effect_size_ci95"):
        lo, hi = row.get(key) or (None, None)
        out[f"{key}_low"], out[f"{key}_high"] = lo, hi
    out["n_excluded"] = len(row["excluded"])
    out["excluded"] = _excluded(row["excluded"])
    return out


def write_csv(doc: dict, directory: str | Path) -> list[Path]:
    """``compare.csv`` and ``values.csv`` in ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in FILES]
    for path, columns, rows in ((paths[0], CSV_COLUMNS, map(csv_row, doc["measures"])),
                                (paths[1], VALUE_COLUMNS, doc["values"])):
        def write(f, columns=columns, rows=rows):
            out = csv.writer(f)
            out.writerow(columns)
            out.writerows([csv_cell(r.get(k)) for k in columns] for r in rows)
        _replace(path, write)
    return paths


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def summary_text(doc: dict) -> str:
    """Design, reference and one line per measure entry: difference [95 % CI], effect size,
    p (test) and p_holm; or why there is no test."""
    tp = f", timepoints {', '.join(doc['timepoints'])}" if doc["timepoints"] else ""
    lines = [f"design {doc['design']}: {doc['by']} levels {', '.join(doc['levels'])}{tp}; "
             f"{doc['n_subjects']} subjects; {'; '.join(doc['notes'])}"]
    for r in doc["measures"]:
        at = f" at {r['timepoint']}" if r["timepoint"] else ""
        head = (f"  {r['channel']} {r['measure']}: {r['condition']} − {r['reference']}{at} "
                f"({r['design']}, n {r['n_reference']}/{r['n_condition']})")
        if r["p"] is None:
            unit = f" {r['unit']}" if r["unit"] else ""
            lines.append(f"{head}: difference {_num(r['difference'])}{unit}; "
                         f"{r['reason'] or 'no test'}")
            continue
        ci, unit = r["ci95"], f" {r['unit']}" if r["unit"] else ""
        es = (f", {r['effect_size_name']} {_num(r['effect_size'], 2)}"
              if r["effect_size"] is not None else "")
        lines.append(f"{head}: {_num(r['difference'])} [{_num(ci[0])}, {_num(ci[1])}]{unit}"
                     f"{es}, p {_num(r['p'], 2)} ({r['test']}), Holm {_num(r['p_holm'], 2)}")
    return "\n".join(lines)
