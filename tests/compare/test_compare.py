"""``hreflex compare`` end to end on simulated cohorts with known per-subject truth
(``cohorts.py``): a paired pre/post(/week 6) cohort and two independent groups. The
estimates lie within the sampling error their 95 % CIs state, the statistics are scipy's on
the reported values, bad files are reported and left out, and the outputs agree.

The cohorts are fixed (seeded). A 95 % interval misses its truth once in 20 cohorts: the
headline intervals of the issue (Hmax/Mmax and RDD change, paired and between groups) must
cover it; the 12 further intervals of the three-visit study must lie within 1.5 half-widths.
How often the intervals cover over many cohorts is measured by bench/bench_compare.py."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as st

from hreflex.cli import cli
from hreflex.commands.batch import SINGLE_THREAD_ENV
from hreflex.compare import run_compare
from hreflex.compare.stats import holm
from tests.compare import cohorts

N = 6
DELTA, RDD_SCALE = 0.15, 0.6  # post: Hmax/Mmax - 0.15, depression use x 0.6
WEEK6 = (-0.10, 0.5)
MEASURED = ("hmax_mmax", "rdd_1Hz", "rdd_5Hz")


def _compare(*args):
    with pytest.MonkeyPatch.context() as mp:
        for name in SINGLE_THREAD_ENV:
            mp.setenv(name, "1")
        return CliRunner().invoke(cli, ["compare", *map(str, args)])


def _manifest(path: Path, rows: list[tuple], header: str = "file,subject,condition") -> Path:
    path.write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Sessions on disk: paired/ (pre, post), week6/, groups/ (sham, injured); manifests."""
    root = tmp_path_factory.mktemp("compare")
    paired = cohorts.paired_cohort(N, seed=3, delta=-DELTA, rdd_scale=RDD_SCALE)
    week6 = cohorts.follow_up(paired, "week6", *WEEK6, seed=4)
    groups = cohorts.independent_cohort(N, seed=5, delta=DELTA, rdd_scale=RDD_SCALE)
    m_paired = cohorts.write_cohort(paired, root / "paired")
    cohorts.write_cohort(week6, root / "week6")
    m_groups = cohorts.write_cohort(groups, root / "groups")
    three = _manifest(root / "three.csv", [(f"{'week6' if s.condition == 'week6' else 'paired'}/"
                                           f"{s.subject}_{s.condition}.h5", s.subject,
                                           s.condition) for s in paired + week6])
    return {"root": root, "paired": paired, "week6": week6, "groups": groups,
            "m_paired": m_paired, "m_groups": m_groups, "three": three,
            "cache": root / "cache"}


@pytest.fixture(scope="module")
def paired_run(study):
    out = study["root"] / "out_paired"
    result = _compare(study["m_paired"], "--json", out / "c.json", "--csv", out / "csv",
                      "-o", out / "report", "--cache", study["cache"], "--jobs", 2)
    assert result.exit_code == 0, result.output
    return json.loads((out / "c.json").read_text()), out, result


@pytest.fixture(scope="module")
def groups_doc(study):
    return run_compare([study["m_groups"]], reference="sham", cache=study["cache"], jobs=2)


def _row(doc, measure, channel="SOL", design=None, condition=None, timepoint=None):
    return next(r for r in doc["measures"] if r["measure"] == measure and r["channel"] == channel
                and (design is None or r["design"] == design)
                and (condition is None or r["condition"] == condition)
                and r["timepoint"] == timepoint)


def test_paired_cohort_covers_the_known_change(paired_run):
    doc, _, result = paired_run
    assert (doc["design"], doc["reference"], doc["levels"]) == ("paired", "pre", ["pre", "post"])
    assert doc["problems"] == [] and doc["n_subjects"] == N
    truth = cohorts.population_difference(-DELTA, RDD_SCALE)
    for m in MEASURED:
        r = _row(doc, m)
        assert (r["design"], r["n"], r["n_reference"], r["excluded"]) == ("paired", N, N, [])
        lo, hi = r["ci95"]
        assert lo <= truth[m] <= hi, (m, truth[m], r["ci95"])
        assert (r["test"], r["test_nonparametric"], r["effect_size_name"]) == (
            "paired t", "Wilcoxon signed-rank", "dz")
        assert r["effect_size_ci95"][0] <= r["effect_size"] <= r["effect_size_ci95"][1]
    assert _row(doc, "hmax_mmax")["p"] < 0.01 and _row(doc, "rdd_5Hz")["p"] < 0.01
    assert "SOL hmax_mmax: post − pre (paired, n 6/6)" in result.stdout


def test_independent_groups_cover_the_known_difference(groups_doc):
    doc = groups_doc
    assert (doc["design"], doc["reference"]) == ("independent", "sham")
    truth = cohorts.population_difference(DELTA, RDD_SCALE)
    for m in MEASURED:
        r = _row(doc, m)
        assert (r["design"], r["n_reference"], r["n_condition"]) == ("independent", N, N)
        assert r["ci95"][0] <= truth[m] <= r["ci95"][1], (m, truth[m], r["ci95"])
        assert (r["test"], r["test_nonparametric"], r["effect_size_name"]) == (
            "Welch t", "Mann-Whitney U", "hedges_g")


def _values(doc, row):
    vals = [v for v in doc["values"] if v["measure"] == row["measure"]
            and v["channel"] == row["channel"] and v["timepoint"] == row["timepoint"]
            and v["value"] is not None]
    get = lambda level: {v["subject"]: v["value"] for v in vals if v["condition"] == level}  # noqa: E731
    return get(row["reference"]), get(row["condition"])


def test_the_statistics_are_scipys_on_the_reported_values(paired_run, groups_doc):
    for doc in (paired_run[0], groups_doc):
        for r in doc["measures"]:
            ref, cond = _values(doc, r)
            if r["design"] == "paired":
                both = [s for s in ref if s in cond]
                a, b = np.array([ref[s] for s in both]), np.array([cond[s] for s in both])
                t = st.ttest_rel(b, a)
                w = st.wilcoxon(b, a, method="exact")
                assert r["p_nonparametric"] == pytest.approx(w.pvalue, rel=1e-9)
            else:
                a, b = np.array(list(ref.values())), np.array(list(cond.values()))
                t = st.ttest_ind(b, a, equal_var=False)
                u = st.mannwhitneyu(b, a, method="exact")
                assert r["p_nonparametric"] == pytest.approx(u.pvalue, rel=1e-9)
            assert (r["statistic"], r["p"]) == pytest.approx((t.statistic, t.pvalue), rel=1e-9)
            assert r["ci95"] == pytest.approx(list(t.confidence_interval()), rel=1e-9)
            assert r["mean_condition"] == pytest.approx(b.mean(), rel=1e-12)
        # Holm over every measure and channel of the one comparison
        assert [r["p_holm"] for r in doc["measures"]] == pytest.approx(
            holm([r["p"] for r in doc["measures"]]), rel=1e-12)


def test_csv_tables_hold_the_json(paired_run):
    doc, out, _ = paired_run
    with open(out / "csv" / "compare.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(doc["measures"])
    for row, r in zip(rows, doc["measures"], strict=True):
        assert (row["measure"], row["channel"], row["design"], row["test"]) == (
            r["measure"], r["channel"], r["design"], r["test"])
        for key, value in (("difference", r["difference"]), ("ci95_low", r["ci95"][0]),
                           ("effect_size_ci95_high", r["effect_size_ci95"][1]),
                           ("p_holm", r["p_holm"])):
            assert float(row[key]) == pytest.approx(value, rel=1e-5)
    with open(out / "csv" / "values.csv", newline="", encoding="utf-8") as f:
        values = list(csv.DictReader(f))
    assert len(values) == len(doc["values"]) == 2 * N * 2 * 9  # sessions x channels x measures


def test_report_is_self_contained_with_units_and_exact_values(paired_run):
    doc, out, _ = paired_run
    html = (out / "report" / "compare.html").read_text(encoding="utf-8")
    assert "http" not in html.replace("http-equiv", "")
    figures = re.findall(r'data-figure="([^"]+)"', html)
    assert len(figures) == 1 + 2 + 2 * 9  # forest, RDD per channel, each measure per channel
    assert all((out / "report" / f).is_file() for f in figures)
    r = _row(doc, "hmax_mmax")
    cell = re.search(r'data-key="SOL/hmax_mmax/post/paired/difference" data-value="([^"]+)"',
                     html)
    assert float(cell.group(1)) == r["difference"]


def test_bad_files_are_reported_and_left_out_the_rest_goes_on(study, tmp_path):
    root = study["root"]
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00junk" * 50)
    rows = [(f"{root}/paired/{s.subject}_{s.condition}.h5", s.subject, s.condition)
            for s in study["paired"] if s.subject != "S06"]
    rows += [("broken.h5", "S06", "post"), (f"{root}/paired/S06_pre.h5", "S06", "pre"),
             ("absent.h5", "S07", "pre")]
    manifest = _manifest(tmp_path / "m.csv", rows)
    result = _compare(manifest, "--json", tmp_path / "c.json", "--cache", study["cache"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{manifest}: row 14: {tmp_path / 'absent.h5'}: no such file; row left out"
    assert lines[1].startswith(f"{tmp_path / 'broken.h5'}: ") and lines[1].endswith("; left out")
    assert lines[2] == ("Error: 2 problem(s) listed above: those sessions were left out; the "
                        "comparison is of the others")
    doc = json.loads((tmp_path / "c.json").read_text())
    r = _row(doc, "hmax_mmax")
    assert (r["n"], r["design"]) == (N - 1, "paired")
    assert {(x["subject"], x["condition"], x["reason"]) for x in r["excluded"]} == {
        ("S06", "post", "the file could not be analysed"),
        ("S06", "pre", "its 'post' value is left out")}
    assert {f["status"] for f in doc["files"] if f["subject"] != "S06"} == {"cached"}


def test_session_files_with_metadata_need_no_manifest(study, paired_run):
    doc = run_compare([study["root"] / "paired"], cache=study["cache"], jobs=1)
    assert doc["reference"] == "post"  # default: the first condition met (S01_post.h5)
    doc = run_compare([study["root"] / "paired"], reference="pre", cache=study["cache"])
    assert doc["input"]["manifest"] is None and doc["design"] == "paired"
    for m in MEASURED:
        assert _row(doc, m)["difference"] == pytest.approx(_row(paired_run[0], m)["difference"])


def test_fewer_than_three_subjects_is_descriptive_only(study, tmp_path):
    root = study["root"]
    rows = [(f"{root}/paired/{s.subject}_{s.condition}.h5", s.subject, s.condition)
            for s in study["paired"] if s.subject in ("S01", "S02")]
    doc = run_compare([_manifest(tmp_path / "m.csv", rows)], cache=study["cache"])
    r = _row(doc, "hmax_mmax")
    assert r["p"] is None and r["ci95"] is None and r["test"] is None
    assert r["reason"] == "fewer than 3 pairs (2 reference, 2 condition): descriptive only"
    assert r["difference"] is not None and r["mean_reference"] is not None


def test_three_visits_give_each_level_vs_reference_and_a_mixed_model(study):
    pytest.importorskip("statsmodels")
    doc = run_compare([study["three"]], cache=study["cache"], jobs=2)
    assert (doc["design"], doc["levels"]) == ("mixed", ["pre", "post", "week6"])
    truth = {"post": cohorts.population_difference(-DELTA, RDD_SCALE),
             "week6": cohorts.population_difference(*WEEK6)}
    for level in ("post", "week6"):
        for m in MEASURED:
            pw = _row(doc, m, design="paired", condition=level)
            mx = _row(doc, m, design="mixed", condition=level)
            for r in (pw, mx):  # 12 more intervals: within 1.5 half-widths (t5: 99 %)
                half = (r["ci95"][1] - r["ci95"][0]) / 2
                assert abs(r["difference"] - truth[level][m]) <= 1.5 * half, (level, m, r)
            # complete and balanced: the contrast of cell means is the mean paired difference
            assert mx["difference"] == pytest.approx(pw["difference"], rel=1e-6, abs=1e-9)
            assert mx["test"] == "mixed model Wald z" and mx["model"]["n_subjects"] == N
    # SE: with a positive subject variance, REML on balanced data is the two-way ANOVA: the
    # contrast's SE is sqrt(2 MSE / n), MSE from the subject x level residuals
    r = _row(doc, "hmax_mmax", design="mixed", condition="week6")
    y = np.array([[v["value"] for v in doc["values"] if v["measure"] == "hmax_mmax"
                   and v["channel"] == "SOL" and v["condition"] == lv] for lv in doc["levels"]]).T
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    mse = (resid**2).sum() / ((N - 1) * (len(doc["levels"]) - 1))
    se = (r["ci95"][1] - r["ci95"][0]) / (2 * st.norm.ppf(0.975))
    assert r["model"]["subject_sd"] > 0
    assert se == pytest.approx(np.sqrt(2 * mse / N), rel=1e-3)
    assert r["p"] == pytest.approx(2 * st.norm.sf(abs(r["difference"] / se)), rel=1e-6)
    holm_family = [x for x in doc["measures"] if x["design"] == "mixed"
                   and x["condition"] == "week6"]
    assert [x["p_holm"] for x in holm_family] == pytest.approx(
        holm([x["p"] for x in holm_family]), rel=1e-12)


def test_groups_over_timepoints_compare_per_timepoint(study):
    pytest.importorskip("statsmodels")
    root = study["root"]
    rows = [(f"{root}/{'week6' if s.condition == 'week6' else 'paired'}/{s.subject}_"
             f"{s.condition}.h5", s.subject, "A" if s.subject <= "S03" else "B", s.condition)
            for s in study["paired"] + study["week6"]]
    manifest = _manifest(root / "groups_time.csv", rows, "file,subject,group,timepoint")
    doc = run_compare([manifest], by="group", cache=study["cache"])
    assert (doc["design"], doc["timepoints"]) == ("mixed", ["pre", "post", "week6"])
    for tp in doc["timepoints"]:
        pw = _row(doc, "hmax_mmax", design="independent", condition="B", timepoint=tp)
        mx = _row(doc, "hmax_mmax", design="mixed", condition="B", timepoint=tp)
        assert (pw["n_reference"], pw["n_condition"]) == (3, 3)
        assert mx["difference"] == pytest.approx(pw["difference"], rel=1e-6)  # balanced


def test_without_statsmodels_the_mixed_rows_say_how_to_get_it(study, monkeypatch):
    from hreflex.compare import mixed

    monkeypatch.setattr(mixed, "unavailable", lambda: mixed.EXTRA_HINT)
    doc = run_compare([study["three"]], cache=study["cache"])
    assert mixed.EXTRA_HINT in doc["notes"]
    rows = [r for r in doc["measures"] if r["design"] == "mixed"]
    assert rows and all(r["reason"] == mixed.EXTRA_HINT and r["p"] is None for r in rows)
    assert all(r["p"] is not None for r in doc["measures"] if r["design"] == "paired"
               and r["measure"] == "hmax_mmax")


def test_outputs_never_overwrite_an_input(study):
    result = _compare(study["m_paired"], "--json", study["m_paired"], "--cache", study["cache"])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {study['m_paired']}: is an input of this command; "
                             "choose another output\n")
    assert study["m_paired"].read_text().startswith("file,subject,condition\n")
