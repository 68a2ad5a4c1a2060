"""Manifests of ``hreflex compare``: header quirks, every bad-manifest case of the issue
(one clear line each, the rest goes on), and design recognition from the entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.compare.design import recognise
from hreflex.compare.manifest import Entry, entries_from_metadata, read_manifest
from hreflex.errors import HreflexError


def _files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")  # reading a manifest only checks that files exist


def test_header_quirks_bom_semicolons_case_spaces_comments_and_windows_paths(tmp_path):
    _files(tmp_path, "a.h5", "sub/b.h5")
    text = ("\ufeff# study X, exported from Excel\n Subject ; File;CONDITION;MAS\n"
            "S1; a.h5 ;pre;1+\n\nS1;sub\\b.h5;post;2\n")
    (tmp_path / "m.csv").write_text(text, encoding="utf-8")
    m = read_manifest(tmp_path / "m.csv")
    assert m.problems == []
    assert [(e.subject, e.level, e.file, e.row) for e in m.entries] == [
        ("S1", "pre", tmp_path / "a.h5", 3), ("S1", "post", tmp_path / "sub" / "b.h5", 5)]
    assert m.entries[0].columns["mas"] == "1+"
    (tmp_path / "w.csv").write_bytes("file\tsubject\tcondition\ta.h5\tS\u00e9\tpost\n"
                                     .replace("\ta.h5", "\na.h5").encode("cp1252"))
    assert read_manifest(tmp_path / "w.csv").entries[0].subject == "S\u00e9"


def test_missing_columns_are_one_line_naming_them(tmp_path):
    (tmp_path / "m.csv").write_text("path,subj,condition\nx.h5,S1,pre\n")
    with pytest.raises(HreflexError) as err:
        read_manifest(tmp_path / "m.csv")
    assert str(err.value) == (f"{tmp_path / 'm.csv'}: missing column(s) 'file', 'subject' "
                              "(the header has: path, subj, condition)")
    with pytest.raises(HreflexError, match="missing column.s. 'file', 'subject', 'group' "):
        read_manifest(tmp_path / "m.csv", by="group")
    (tmp_path / "e.csv").write_text("\n# nothing\n")
    with pytest.raises(HreflexError, match="the manifest is empty"):
        read_manifest(tmp_path / "e.csv")
    (tmp_path / "d.csv").write_text("file,subject,condition,Subject\n")
    with pytest.raises(HreflexError, match="'subject' appear more than once"):
        read_manifest(tmp_path / "d.csv")


def test_bad_rows_are_left_out_one_line_each_and_the_rest_kept(tmp_path):
    _files(tmp_path, "s1pre.h5", "s1post.h5", "s2pre.h5", "s2pre_again.h5", "s3.h5", "s4.h5")
    rows = ["file,subject,condition",
            "s1pre.h5,S1,pre",            # 2 kept
            "s1post.h5,S1,post",          # 3 kept
            "gone.h5,S2,post",            # 4 missing file
            "s2pre.h5,S2,pre",            # 5 S2 twice in pre ...
            "s2pre_again.h5,S2,pre",      # 6 ... both left out
            "s3.h5,,pre",                 # 7 empty subject
            "s1pre.h5,S9,post",           # 8 file listed again
            "s4.h5,S4,post,extra",        # 9 too many cells
            "s4.h5,S4,post"]              # 10 kept
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    m = read_manifest(tmp_path / "m.csv")
    where = f"{tmp_path / 'm.csv'}: row"
    assert m.problems == [
        f"{where} 4: {tmp_path / 'gone.h5'}: no such file; row left out",
        f"{where} 7: empty 'subject'; row left out",
        f"{where} 9: 4 cells, the header has 3; row left out",
        f"{tmp_path / 'm.csv'}: row 8 (s1pre.h5): {tmp_path / 's1pre.h5'} is already listed "
        "(row 2 (s1pre.h5)); left out",
        f"{tmp_path / 'm.csv'}: subject 'S2' appears 2 times in condition 'pre' "
        "(row 5 (s2pre.h5), row 6 (s2pre_again.h5)); all of them left out"]
    assert [e.row for e in m.entries] == [2, 3, 10]


def test_a_subject_may_repeat_across_timepoints_but_not_within_one(tmp_path):
    _files(tmp_path, "1.h5", "2.h5", "3.h5")
    (tmp_path / "m.csv").write_text("file,subject,group,timepoint\n1.h5,S1,A,pre\n"
                                    "2.h5,S1,A,week 3\n3.h5,S1,A,week 3\n")
    m = read_manifest(tmp_path / "m.csv", by="group")
    assert [e.row for e in m.entries] == [2]
    assert m.problems[0].endswith("subject 'S1' appears 2 times in group 'A' at timepoint "
                                  "'week 3' (row 3 (2.h5), row 4 (3.h5)); all of them left out")


def _entries(spec: str) -> list[Entry]:
    """"S1 pre, S1 post@t1" -> entries (subject, level, optional timepoint)."""
    out = []
    for item in spec.split(","):
        subject, level = item.split()
        level, _, tp = level.partition("@")
        out.append(Entry(Path(f"{subject}{level}{tp}.h5"), subject, level, tp or None))
    return out


def test_design_recognition():
    plan = recognise(_entries("S1 pre,S1 post,S2 pre,S2 post,S3 pre"), "condition", None, "m")
    assert (plan.design, plan.reference, plan.mixed) == ("paired", "pre", False)
    assert [(p.condition, p.kind) for p in plan.pairs] == [("post", "paired")]
    assert plan.reference_note == "reference 'pre': the first condition in m"
    plan = recognise(_entries("A1 sham,A2 sham,B1 sci,B2 sci"), "condition", "SCI", "m")
    assert (plan.design, plan.reference, plan.levels) == ("independent", "sci", ["sci", "sham"])
    plan = recognise(_entries("S1 pre,S1 wk3,S1 wk6,S2 pre,S2 wk6"), "timepoint", "pre", "m")
    assert (plan.design, plan.mixed) == ("mixed", True)
    assert [(p.condition, p.kind) for p in plan.pairs] == [("wk3", "paired"), ("wk6", "paired")]
    plan = recognise(_entries("A1 a,A2 b,A3 c"), "group", None, "m")  # no repeated subject
    assert (plan.design, plan.mixed) == ("independent", False)
    plan = recognise(_entries("S1 tol@pre,S1 tol@wk6,S2 bac@pre,S2 bac@wk6"), "group", "tol",
                     "m")
    assert (plan.design, plan.mixed, plan.timepoints) == ("mixed", True, ["pre", "wk6"])
    assert [(p.condition, p.timepoint, p.kind) for p in plan.pairs] == [
        ("bac", "pre", "independent"), ("bac", "wk6", "independent")]


def test_reference_not_present_and_nothing_to_compare():
    with pytest.raises(HreflexError) as err:
        recognise(_entries("S1 pre,S1 post"), "condition", "baseline", "m.csv")
    assert str(err.value) == ("m.csv: --reference 'baseline' is not a level of 'condition' "
                              "(levels: pre, post)")
    with pytest.raises(HreflexError, match="only condition 'pre': nothing to compare"):
        recognise(_entries("S1 pre,S2 pre"), "condition", None, "m.csv")


def test_entries_from_session_metadata():
    meta = {Path("a.h5"): {"subject_id": "S1", "condition": "pre", "session_id": "v1"},
            Path("b.h5"): {"subject_id": "", "condition": "post"},
            Path("c.h5"): None}  # failed: reported elsewhere
    entries, problems = entries_from_metadata(meta, "condition")
    assert [(e.file, e.subject, e.level) for e in entries] == [(Path("a.h5"), "S1", "pre")]
    assert problems == ["b.h5: no subject_id in its metadata; left out"]
    with pytest.raises(HreflexError, match="--by group: session files only carry condition"):
        entries_from_metadata(meta, "group")


def test_species_levels_are_the_species_named():
    meta = {Path("a.h5"): {"subject_id": "S1", "species": "Rattus norvegicus"},
            Path("b.h5"): {"subject_id": "S2", "species": "rat"},
            Path("c.h5"): {"subject_id": "S3", "species": "C57BL/6 mouse"},
            Path("d.h5"): {"subject_id": "S4", "species": "Rodent"}}
    entries, problems = entries_from_metadata(meta, "species")
    assert problems == []
    assert [e.level for e in entries] == ["rat", "rat", "mouse", "rodent"]
    assert entries[0].columns["species"] == "Rattus norvegicus"  # the file's own text is kept


def test_cli_bad_manifest_one_line_exit_1(tmp_path):
    _files(tmp_path, "a.h5", "b.h5")
    (tmp_path / "m.csv").write_text("file,subject,condition\na.h5,S1,pre\nb.h5,S1,post\n")
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "m.csv"), "--reference", "base"])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'm.csv'}: --reference 'base' is not a level "
                             "of 'condition' (levels: pre, post)\n")
    (tmp_path / "n.csv").write_text("file,condition\na.h5,pre\n")
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "n.csv")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "missing column(s) 'subject'" in result.stderr


def test_cli_nothing_left_lists_the_problems_then_one_error(tmp_path):
    (tmp_path / "m.csv").write_text("file,subject,condition\na.h5,S1,pre\nb.h5,S1,post\n")
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "m.csv")])
    assert result.exit_code == 1
    m = tmp_path / "m.csv"
    assert result.stderr.splitlines() == [
        f"{m}: row 2: {tmp_path / 'a.h5'}: no such file; row left out",
        f"{m}: row 3: {tmp_path / 'b.h5'}: no such file; row left out",
        f"Error: {m}: no usable session: nothing to compare (need two levels of 'condition')"]
