"""``hreflex batch`` over 20 session files, one of them corrupt: 19 results, one clear error
line, exit status 1; a rerun skips the 19 up-to-date files; changes are picked up."""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import replace

import pytest
from click.testing import CliRunner

import hreflex.batch
from hreflex.analysis import analyze_session
from hreflex.batch import cache_dir_for, find_sessions, run_batch
from hreflex.cli import cli
from hreflex.commands.batch import SINGLE_THREAD_ENV, Progress
from hreflex.errors import HreflexError
from hreflex.io.writer import write_session
from tests.report.simdata import PRESETS, short_session

N_GOOD = 19


def _session(i: int):
    """File i: preset i % 4 with its own subject, session and condition."""
    session, truth = short_session(PRESETS[i % len(PRESETS)], levels=8)
    meta = replace(session.meta, subject_id=f"S{i:02d}", session_id=f"visit{i % 3}",
                   condition=("pre", "post")[i % 2])
    return replace(session, meta=meta), truth


def _batch(args):
    with pytest.MonkeyPatch.context() as mp:
        for name in SINGLE_THREAD_ENV:  # what the command sets, undone afterwards
            mp.setenv(name, "1")
        return CliRunner().invoke(cli, ["batch", *map(str, args)])


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """20 files (19 good in nested folders, 1 corrupt) and the first batch run (2 jobs)."""
    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    for i in range(N_GOOD):
        folder = data / f"subject{i:02d}" if i % 2 else data
        folder.mkdir(parents=True, exist_ok=True)
        write_session(folder / f"s{i:02d}.h5", _session(i)[0])
    (data / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00garbage" * 64)
    out = root / "out" / "results.csv"
    result = _batch([data, "--out", out, "--jobs", 2])  # --out: the old spelling of -o
    return data, out, result


def _copy_outputs(out, tmp_path):
    """A private copy of the CSV and its cache, for a test that changes them."""
    new = tmp_path / "results.csv"
    shutil.copy2(out, new)
    shutil.copytree(cache_dir_for(out), cache_dir_for(new))
    return new


def test_19_results_one_error_line_exit_status_1(first_run):
    data, out, result = first_run
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2, result.stderr
    assert errors[0].startswith(f"failed: {data / 'broken.h5'}: ")
    assert errors[1] == (f"Error: 1 of 20 files could not be analysed (listed above); the "
                         f"results of the other 19 are in {out}")
    assert "19 analysed, 0 up to date (skipped), 1 failed" in result.stdout
    rows = _rows(out)
    assert len({r["file"] for r in rows}) == N_GOOD
    assert "broken.h5" not in {os.path.basename(r["file"]) for r in rows}
    assert len(list(cache_dir_for(out).glob("*.json"))) == N_GOOD


def test_rows_carry_metadata_and_the_key_numbers_of_each_file(first_run):
    data, out, _ = first_run
    rows = _rows(out)
    header = list(rows[0])
    # RDD columns: the union of every file's frequencies (human 0.1 Hz, rat 0.3 Hz), ascending
    assert [h for h in header if h.startswith("rdd_ratio_")] == [
        "rdd_ratio_0.1Hz", "rdd_ratio_0.3Hz", "rdd_ratio_1Hz", "rdd_ratio_5Hz"]
    for i in (0, 3, 6):  # soleus_healthy, rat_sci, soleus_spastic
        session, truth = _session(i)
        doc = analyze_session(session).to_dict()
        mine = [r for r in rows if r["file"].endswith(f"s{i:02d}.h5")]
        assert [r["channel"] for r in mine] == session.channel_names
        _, m_lv, h_lv = truth.level_means()
        for c, (row, ch) in enumerate(zip(mine, doc["channels"], strict=True)):
            assert (row["subject_id"], row["session_id"], row["condition"], row["species"]) == (
                f"S{i:02d}", f"visit{i % 3}", ("pre", "post")[i % 2], session.meta.species)
            assert row["muscle"] == session.channel_muscles[c]
            rec = ch["recruitment"]
            for key in ("mmax_mV", "hmax_mV", "hmax_mmax", "m_threshold_mA", "h_threshold_mA"):
                assert float(row[key]) == pytest.approx(rec[key], rel=1e-5), key
            assert float(row["h_latency_ms"]) == pytest.approx(ch["latency_ms"]["h"], rel=1e-5)
            assert float(row["hmax_mmax"]) == pytest.approx(
                h_lv[:, c].max() / m_lv[:, c].max(), rel=0.15)  # and near the truth
            for f, ratio in truth.rdd_ratios.items():
                assert float(row[f"rdd_ratio_{f:g}Hz"]) == pytest.approx(ratio, abs=0.12)
            missing = "rdd_ratio_0.1Hz" if session.meta.species == "rat" else "rdd_ratio_0.3Hz"
            assert row[missing] == ""


def test_second_run_without_force_skips_the_19(first_run, tmp_path, monkeypatch):
    data, out, _ = first_run
    out = _copy_outputs(out, tmp_path)
    before = out.read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in cache_dir_for(out).glob("*.json")}
    analysed = []
    real = hreflex.batch.analyze_file
    monkeypatch.setattr(hreflex.batch, "analyze_file",
                        lambda path, cfg: analysed.append(path.name) or real(path, cfg))
    refused = _batch([data, "-o", out, "--jobs", 1])  # the CSV exists: --overwrite needed
    assert refused.exit_code == 1 and analysed == []
    assert refused.stderr == f"Error: {out} already exists; pass --overwrite to replace it\n"
    result = _batch([data, "-o", out, "--jobs", 1, "--overwrite"])  # in this process
    assert analysed == ["broken.h5"]  # failures are not cached: tried again
    assert result.exit_code == 1
    assert "0 analysed, 19 up to date (skipped), 1 failed" in result.stdout
    assert out.read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in cache_dir_for(out).glob("*.json")} == stamps


def test_changed_file_new_config_or_force_are_analysed_again(first_run, tmp_path, monkeypatch):
    data, out, _ = first_run
    out = _copy_outputs(out, tmp_path)
    analysed = []
    real = hreflex.batch.analyze_file
    monkeypatch.setattr(hreflex.batch, "analyze_file",
                        lambda path, cfg: analysed.append(path.name) or real(path, cfg))
    changed = data / "subject01" / "s01.h5"
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    try:
        run = run_batch([data], out, jobs=1, overwrite=True)
    finally:
        os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sorted(analysed) == ["broken.h5", "s01.h5"] and run.count("cached") == 18
    some = [data / "s00.h5", data / "subject03" / "s03.h5"]  # up to date until now
    analysed.clear()
    config = tmp_path / "rms.toml"
    config.write_text('amplitude = "rms"\n')
    _batch([*some, "-o", out, "--jobs", 1, "--config", config, "--overwrite"])
    assert analysed == ["s00.h5", "s03.h5"]
    analysed.clear()
    _batch([*some, "-o", out, "--jobs", 1, "--config", config, "--overwrite"])
    assert analysed == []  # up to date for the new parameters
    _batch([*some, "-o", out, "--jobs", 1, "--config", config, "--overwrite", "--force"])
    assert analysed == ["s00.h5", "s03.h5"]


def test_all_files_fine_exit_status_0(first_run, tmp_path):
    data, out, _ = first_run
    out = _copy_outputs(out, tmp_path)
    good = sorted(p for p in data.rglob("s*.h5"))
    assert len(good) == N_GOOD
    result = _batch([*good, "--output", out, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"19 files: 0 analysed, 19 up to date (skipped), 0 failed; wrote {out}" in \
        result.stdout


def test_an_unexpected_error_in_one_file_is_reported_and_the_rest_go_on(tmp_path, monkeypatch):
    for i in range(3):
        write_session(tmp_path / f"s{i}.h5", _session(i)[0])
    real = hreflex.batch.analyze_file

    def flaky(path, cfg):
        if path.name == "s1.h5":
            raise ValueError("boom\nsecond line")
        return real(path, cfg)

    monkeypatch.setattr(hreflex.batch, "analyze_file", flaky)
    run = run_batch([tmp_path], tmp_path / "r.csv", jobs=1)
    assert [f.status for f in run.files] == ["analysed", "failed", "analysed"]
    assert run.failed[0].error == f"{tmp_path / 's1.h5'}: internal error (ValueError: boom " \
        "second line)"
    assert {r["file"] for r in _rows(tmp_path / "r.csv")} == {
        str(tmp_path / "s0.h5"), str(tmp_path / "s2.h5")}


def test_find_sessions_searches_folders_recursively_once_per_file(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.h5", "a/b/y.h5", "a/notes.txt", "z.h5", "a/x.partial-77.h5"):
        (tmp_path / name).write_bytes(b"")
    found = find_sessions([tmp_path / "a", tmp_path / "a" / "x.h5", tmp_path / "z.h5"])
    assert found == [tmp_path / "a" / "b" / "y.h5", tmp_path / "a" / "x.h5", tmp_path / "z.h5"]
    with pytest.raises(HreflexError, match="nope: no such file"):
        find_sessions([tmp_path / "nope"])
    result = _batch([tmp_path / "a" / "b" / "..", "--out", tmp_path / "r.csv", "--jobs", 1])
    assert result.exit_code == 1 and "failed:" in result.stderr  # empty files are not sessions
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _batch([empty, "--out", tmp_path / "r.csv"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: no session files (*.h5) in {empty}\n"


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise():
    tty = io.StringIO()
    bar = Progress(3, tty, live=True, width=6)
    for status, message in (("cached", None), ("failed", "failed: x.h5: bad"),
                            ("analysed", None)):
        bar.update(status, message)
    text = tty.getvalue()
    assert text.startswith("[......] 0/3 files, 0 up to date, 0 failed")
    assert "\rfailed: x.h5: bad\n" in text.replace("\033[K", "")
    assert "[##....] 1/3 files, 1 up to date, 0 failed" in text
    assert text.replace("\033[K", "").rstrip("\n").rsplit("\r", 1)[1].startswith(
        "[######] 3/3 files, 1 up to date, 1 failed")
    plain = io.StringIO()
    bar = Progress(3, plain, live=False)
    for status, message in (("cached", None), ("failed", "failed: x.h5: bad"),
                            ("analysed", None)):
        bar.update(status, message)
    assert plain.getvalue() == "failed: x.h5: bad\n"
