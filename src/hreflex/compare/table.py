"""From per-session measure records to the comparison rows of ``hreflex compare``.

:func:`observations` lines up every session of the study with its value of every measure
and channel (or the reason it has none); :func:`comparison_rows` turns them into one row per
measure, channel and comparison (keys in ``docs/COMPARE.md``), with Holm-adjusted p values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hreflex.analysis.rdd import FREQUENCY_TOLERANCE, frequency_groups
from hreflex.compare import mixed, stats
from hreflex.compare.design import Pair, Plan
from hreflex.compare.manifest import Entry
from hreflex.compare.measures import MEASURES, amplitude_unit

TESTS = {"paired": ("paired t", "Wilcoxon signed-rank", "dz"),
         "independent": ("Welch t", "Mann-Whitney U", "hedges_g"),
         "mixed": ("mixed model Wald z", None, None)}


@dataclass
class Obs:
    """One session's value of one measure on one channel (None: ``reason`` says why)."""

    entry: Entry
    value: float | None
    reason: str | None


@dataclass
class Measure:
    """A measure of the study: ``key`` (e.g. ``hmax_mmax``, ``rdd_5Hz``), label, unit, and
    for RDD ratios the train frequency (Hz)."""

    key: str
    label: str
    unit: str
    frequency_Hz: float | None = None


def _fmt_Hz(f: float) -> str:
    return f"{float(f'{f:.4g}'):g}"


def study_channels(records: dict[Path, list[dict] | None]) -> list[tuple[str, str]]:
    """``(name, muscle)`` of every channel found, matched by name case-insensitively, in
    order of appearance."""
    out: dict[str, tuple[str, str]] = {}
    for recs in records.values():
        for r in recs or []:
            out.setdefault(r["channel"].strip().casefold(), (r["channel"], r["channel_muscle"] or ""))
    return list(out.values())


def study_measures(records: dict[Path, list[dict] | None]) -> tuple[list[Measure], float | None]:
    """The measures of :data:`MEASURES` plus ``rdd_<f>Hz`` for every train frequency found
    (grouped across sessions within the analysis' 2 % tolerance), except the reference
    frequency, which is the most common RDD reference of the sessions (also returned)."""
    recs = [r for rs in records.values() for r in rs or []]
    unit = amplitude_unit(recs[0]["amplitude"] if recs else None)
    out = [Measure(k, label, u.format(a=unit)) for k, label, u in MEASURES]
    refs = Counter(r["rdd_reference_Hz"] for r in recs if r["rdd"])
    if not refs:
        return out, None
    ref = float(f"{refs.most_common(1)[0][0]:.4g}")
    freqs = np.array([x["frequency_Hz"] for r in recs for x in r["rdd"]], dtype=float)
    centres, _ = frequency_groups(np.r_[freqs, ref], FREQUENCY_TOLERANCE)
    for c in centres:
        if abs(c / ref - 1) > FREQUENCY_TOLERANCE:
            out.append(Measure(f"rdd_{_fmt_Hz(c)}Hz", f"RDD ratio at {_fmt_Hz(c)} Hz",
                               f"H / H at {_fmt_Hz(ref)} Hz", float(c)))
    return out, ref


def _lookup(rec: dict, m: Measure, rdd_ref: float | None) -> tuple[float | None, str | None]:
    if m.frequency_Hz is None:
        return rec["values"][m.key], rec["reasons"][m.key]
    if not rec["rdd"]:
        return None, rec["rdd_reason"] or "no stimulus trains"
    if abs(rec["rdd_reference_Hz"] / rdd_ref - 1) > FREQUENCY_TOLERANCE:
        return None, (f"its RDD ratios are relative to {_fmt_Hz(rec['rdd_reference_Hz'])} Hz, "
                      f"the other sessions' to {_fmt_Hz(rdd_ref)} Hz")
    for x in rec["rdd"]:
        if abs(x["frequency_Hz"] / m.frequency_Hz - 1) <= FREQUENCY_TOLERANCE:
            return x["ratio"], x["reason"]
    return None, f"no stimulus train at {_fmt_Hz(m.frequency_Hz)} Hz"


def observations(entries: list[Entry], records: dict[Path, list[dict] | None],
                 measures: list[Measure], channels: list[tuple[str, str]],
                 rdd_ref: float | None) -> dict[tuple[str, str], list[Obs]]:
    """``(measure key, channel name) -> [Obs]``, one per entry, in entry order."""
    out: dict[tuple[str, str], list[Obs]] = {}
    for e in entries:
        recs = records.get(e.file)
        by_name = {r["channel"].strip().casefold(): r for r in recs or []}
        for name, _ in channels:
            rec = by_name.get(name.casefold())
            for m in measures:
                if recs is None:
                    value, why = None, "the file could not be analysed"
                elif rec is None:
                    value, why = None, f"no channel {name!r} in this file"
                else:
                    value, why = _lookup(rec, m, rdd_ref)
                out.setdefault((m.key, name), []).append(Obs(e, value, why))
    return out


def _left_out(o: Obs, reason: str | None = None) -> dict:
    return {"file": str(o.entry.file), "subject": o.entry.subject, "condition": o.entry.level,
            "timepoint": o.entry.timepoint, "reason": reason or o.reason}


def _paired(ref: list[Obs], cond: list[Obs], pair: Pair, reference: str):
    r_by = {o.entry.subject: o for o in ref}
    c_by = {o.entry.subject: o for o in cond}
    both = [s for s in r_by if s in c_by and r_by[s].value is not None
            and c_by[s].value is not None]
    left = []
    for obs, other, name in ((ref, c_by, pair.condition), (cond, r_by, reference)):
        for o in obs:
            partner = other.get(o.entry.subject)
            if o.value is None:
                left.append(_left_out(o))
            elif partner is None:
                left.append(_left_out(o, f"no session in {name!r} to pair with"))
            elif partner.value is None:
                left.append(_left_out(o, f"its {name!r} value is left out"))
    comp = stats.paired(np.array([r_by[s].value for s in both]),
                        np.array([c_by[s].value for s in both]))
    return comp, len(both), left


def _independent(ref: list[Obs], cond: list[Obs]):
    left = [_left_out(o) for o in (*ref, *cond) if o.value is None]
    comp = stats.independent(np.array([o.value for o in ref if o.value is not None]),
                             np.array([o.value for o in cond if o.value is not None]))
    return comp, comp.n_reference + comp.n_condition, left


def _row(m: Measure, channel: tuple[str, str], pair: Pair, design: str, plan: Plan,
         comp: stats.Comparison, n: int, left: list[dict]) -> dict:
    test, test_np, es_name = TESTS[design]
    return {"measure": m.key, "label": m.label, "unit": m.unit, "channel": channel[0],
            "muscle": channel[1], "timepoint": pair.timepoint, "design": design,
            "reference": plan.reference, "condition": pair.condition, "n": n,
            "n_reference": comp.n_reference, "n_condition": comp.n_condition,
            "mean_reference": comp.mean_reference, "mean_condition": comp.mean_condition,
            "sd_reference": comp.sd_reference, "sd_condition": comp.sd_condition,
            "difference": comp.difference, "ci95": comp.ci95,
            "effect_size": comp.effect_size,
            "effect_size_name": es_name if comp.effect_size is not None else None,
            "effect_size_ci95": comp.effect_size_ci95,
            "test": test if comp.p is not None else None, "statistic": comp.statistic,
            "df": comp.df, "p": comp.p, "p_holm": None,
            "test_nonparametric": test_np if comp.p_nonparametric is not None else None,
            "statistic_nonparametric": comp.statistic_nonparametric,
            "p_nonparametric": comp.p_nonparametric, "reason": comp.reason, "excluded": left}


def _cells(obs: list[Obs], level: str, tp: str | None) -> list[Obs]:
    return [o for o in obs if o.entry.level == level and o.entry.timepoint == tp]


def _mixed_rows(m: Measure, channel, obs: list[Obs], plan: Plan, why_not: str | None
                ) -> list[dict]:
    """Mixed-model rows of one measure and channel, one per pair of the plan."""
    used = [o for o in obs if o.value is not None]
    rows, todo = [], []
    for pair in plan.pairs:
        ref, cond = _cells(obs, plan.reference, pair.timepoint), _cells(obs, pair.condition,
                                                                        pair.timepoint)
        comp = _mixed_comparison(ref, cond)
        rows.append(_row(m, channel, pair, "mixed", plan, comp, len(used),
                         [_left_out(o) for o in obs if o.value is None]))
        if comp.reason is None:
            todo.append(len(rows) - 1)
    if not todo:
        return rows
    reason = why_not
    if reason is None:
        try:
            fitted = mixed.fit(np.array([o.value for o in used]), [o.entry.subject for o in used],
                               [(o.entry.level, o.entry.timepoint) for o in used],
                               [((rows[i]["condition"], rows[i]["timepoint"]),
                                 (plan.reference, rows[i]["timepoint"])) for i in todo])
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            reason = f"the mixed model could not be fitted ({exc})"
    for k, i in enumerate(todo):
        if reason is not None:
            rows[i]["reason"] = reason
            continue
        c = fitted.contrasts[k]
        if c is None:
            rows[i]["reason"] = "the mixed model gives no standard error for this contrast"
            continue
        rows[i].update(difference=c.estimate, ci95=c.ci95, test=TESTS["mixed"][0],
                       statistic=c.z, p=c.p, model=fitted.info())
        if not fitted.converged:
            rows[i]["reason"] = "the mixed model did not converge: treat it with caution"
    return rows


def _describe(obs: list[Obs]) -> tuple:
    n, mean, sd = stats.describe(np.array([o.value for o in obs if o.value is not None]))
    return n, mean, sd


def _mixed_comparison(ref: list[Obs], cond: list[Obs]) -> stats.Comparison:
    (n_r, m_r, s_r), (n_c, m_c, s_c) = _describe(ref), _describe(cond)
    comp = stats.Comparison(n_r, n_c, m_r, m_c, s_r, s_c,
                            difference=m_c - m_r if n_r and n_c else None)
    if min(n_r, n_c) < stats.MIN_N:
        comp.reason = (f"fewer than {stats.MIN_N} sessions in a cell ({n_r} reference, "
                       f"{n_c} condition): descriptive only")
    return comp


def comparison_rows(obs: dict[tuple[str, str], list[Obs]], measures: list[Measure],
                    channels: list[tuple[str, str]], plan: Plan) -> list[dict]:
    """Every row: per measure and channel, the pairwise comparisons of the plan, then (mixed
    design) the mixed-model rows; ``p_holm`` adjusts ``p`` over the rows of one comparison
    (same condition, timepoint and test)."""
    why_not = mixed.unavailable() if plan.mixed else None
    rows = []
    for m in measures:
        for ch in channels:
            these = obs[(m.key, ch[0])]
            for pair in plan.pairs:
                ref = _cells(these, plan.reference, pair.timepoint)
                cond = _cells(these, pair.condition, pair.timepoint)
                comp, n, left = (_paired(ref, cond, pair, plan.reference)
                                 if pair.kind == "paired" else _independent(ref, cond))
                rows.append(_row(m, ch, pair, pair.kind, plan, comp, n, left))
            if plan.mixed:
                rows += _mixed_rows(m, ch, these, plan, why_not)
    families: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault((r["condition"], r["timepoint"], r["design"]), []).append(i)
    for idx in families.values():
        for i, p in zip(idx, stats.holm([rows[i]["p"] for i in idx]), strict=True):
            rows[i]["p_holm"] = p
    return rows
