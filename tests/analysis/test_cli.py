"""``hreflex analyze``: summary, JSON schema, CSV, results beside the file (its bytes
unchanged) or stored in it safely with ``--store`` (also when killed half-way), errors."""

from __future__ import annotations

import csv
import hashlib
import json
import signal
import subprocess
import sys
from dataclasses import replace

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.io.format import decode_str
from hreflex.io.session import read_session
from hreflex.io.validate import check_file
from hreflex.io.writer import write_session
from tests.analysis.simdata import simulated
from tests.io.test_lazy import recipe_sha256

REQUIRED = ["recruitment.mmax_mV", "recruitment.hmax_mV", "recruitment.hmax_mmax",
            "recruitment.h_threshold_mA", "recruitment.m_threshold_mA",
            "recruitment.intensity_at_hmax_mA", "latency_ms.m", "latency_ms.h", "windows_ms.m",
            "windows_ms.h", "qc.excluded", "rdd"]


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "fcr.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    return path


def _run(*args):
    return CliRunner().invoke(cli, ["analyze", *map(str, args)])


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_analyze_writes_json_and_csv_beside_and_never_into_the_file(session_file, tmp_path):
    sha = _sha(session_file)
    out = _run(session_file, "--csv", tmp_path / "csv")
    assert out.exit_code == 0, out.output
    assert _sha(session_file) == sha  # the recording's bytes are unchanged
    assert "FCR" in out.output and "Hmax/Mmax" in out.output and "RDD FCR" in out.output
    beside = session_file.with_name("fcr.analysis.json")  # the default output
    assert f"wrote {beside}" in out.output
    doc = json.loads(beside.read_text())
    covers = doc["input"]["sha256_covers"]  # what the analysis read, not the whole file
    assert doc["schema"] == "hreflex-analysis/1" and doc["input"]["sha256"] == recipe_sha256(
        session_file, covers["sweep_start_sample"], covers["sweep_n_samples"])
    assert doc["software"]["version"] and doc["parameters"]["amplitude"] == "p2p"
    ch = doc["channels"][0]
    for key in REQUIRED:
        section, _, name = key.partition(".")
        assert (name in ch[section]) if name else (section in ch), key
    truth = read_session(session_file).devices["simulator"]
    assert ch["recruitment"]["hmax_mmax"] == pytest.approx(truth["truth_Hmax_over_Mmax"][0],
                                                         rel=0.15)
    assert {"frequency_Hz", "ratio", "h_mean_mV", "n"} <= set(ch["rdd"][0])
    with open(tmp_path / "csv" / "sweeps.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 162 and {"m_p2p_mV", "h_onset_ms", "background_uV"} <= set(rows[0])
    with h5py.File(session_file) as f:
        assert "results_json" not in f["analysis"]
    again = _run(session_file)  # the results exist: replaced only with --overwrite
    assert again.exit_code == 1 and again.stderr == (
        f"Error: {beside} already exists; pass --overwrite to replace it\n")
    assert _run(session_file, "--overwrite", "-o", tmp_path / "r.json").exit_code == 0
    assert json.loads((tmp_path / "r.json").read_text())["channels"][0]["recruitment"] == \
        ch["recruitment"]
    beside.unlink()


def test_store_keeps_the_raw_data_and_replaces_the_file_whole(tmp_path):
    path = tmp_path / "s.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    before = read_session(path)
    out = _run(path, "--store", "-o", tmp_path / "r.json")
    assert out.exit_code == 0, out.output
    doc = json.loads((tmp_path / "r.json").read_text())
    with h5py.File(path) as f:
        stored = json.loads(decode_str(f["analysis/results_json"][()]))
        ann = f["analysis/annotations"][()]
    assert stored["channels"][0]["recruitment"] == doc["channels"][0]["recruitment"]
    assert len(ann) == doc["channels"][0]["qc"]["n_excluded"] > 0
    assert {decode_str(a["source"]) for a in ann} == {"auto-qc"}
    after = read_session(path)
    np.testing.assert_array_equal(after.continuous, before.continuous)
    assert after.stimuli.tobytes() == before.stimuli.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.h5"]  # no copy left


_KILLED_STORE = """
import sys, time, h5py, numpy as np
from hreflex.io import writer
from hreflex.io.format import ANNOTATION_DTYPE, empty_table
create = h5py.Group.create_dataset
def slow(group, name, *args, **kwargs):  # stop half-way through writing /analysis
    ds = create(group, name, *args, **kwargs)
    if name == "annotations":
        print("writing", flush=True)
        time.sleep(60)
    return ds
h5py.Group.create_dataset = slow
writer.store_analysis(sys.argv[1], {"x": 1}, empty_table(ANNOTATION_DTYPE, 0))
"""


def test_a_store_killed_half_way_leaves_the_recording_as_it_was(tmp_path):
    path = tmp_path / "s.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    sha = _sha(path)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_STORE, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert _sha(path) == sha and check_file(path) == []
    partial = [p.name for p in tmp_path.iterdir() if p != path]
    assert partial == [f"s.partial-{child.pid}.h5"]  # the half-written copy, named as such


def test_no_store_is_a_deprecated_no_op(tmp_path):
    path = tmp_path / "s.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    before = _sha(path)
    out = _run(path, "--no-store")
    assert out.exit_code == 0 and "stored" not in out.output
    assert _sha(path) == before


def test_config_errors_are_one_line(session_file, tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text("[windows]\nactivity = 3\n")
    out = _run(session_file, "--config", cfg)
    assert out.exit_code == 1
    assert out.output.startswith("Error: ") and "'activity'" in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_bad_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    out = _run(bad)
    assert out.exit_code == 1 and out.output.startswith("Error: ") and "x.h5" in out.output


def test_channel_problems_are_warnings_on_stderr(tmp_path):
    session = simulated("soleus_healthy", 1)[0]
    counts = session.continuous.copy()
    counts[:, 1] = 0  # MG disconnected
    path = tmp_path / "zero.h5"
    write_session(path, replace(session, continuous=counts))
    out = CliRunner().invoke(cli, ["analyze", str(path)])
    assert out.exit_code == 0
    assert "warning: MG: channel is flat (all samples equal)" in out.stderr
    assert "SOL" in out.stdout and "warning" not in out.stdout


def test_windows_from_another_run_and_recorded_windows(session_file, tmp_path):
    """An RDD block analysed with the windows of the same subject's recruitment run (a
    results JSON or the session file itself); --windows recorded on a file without any."""
    from hreflex.sim import default_schedule, get_preset, simulate_session

    p = get_preset("fcr_healthy")
    rdd_file = tmp_path / "rdd.h5"
    write_session(rdd_file, simulate_session(p, default_schedule(p, "rdd", seed=4), seed=4)[0])
    rec_json = tmp_path / "rec.json"
    assert _run(session_file, "-o", rec_json).exit_code == 0
    rec = json.loads(rec_json.read_text())["channels"][0]["windows_ms"]
    for source in (rec_json, session_file):
        out = tmp_path / f"rdd-{source.suffix[1:]}.json"
        result = _run(rdd_file, "-o", out, "--windows-from", source)
        assert result.exit_code == 0, result.output
        win = json.loads(out.read_text())["channels"][0]["windows_ms"]
        assert (win["m"], win["h"], win["m_source"], win["h_source"]) == (
            rec["m"], rec["h"], "file", "file")
    (tmp_path / "r.json").write_bytes(rec_json.read_bytes())
    result = _run(rdd_file, "-o", tmp_path / "r.json", "--windows-from", tmp_path / "r.json",
                  "--overwrite")
    assert result.exit_code == 1 and result.output.startswith("Error:")  # output is an input
    assert (tmp_path / "r.json").read_bytes() == rec_json.read_bytes()
    result = _run(rdd_file, "-o", tmp_path / "rec2.json", "--windows", "recorded")
    assert result.exit_code == 0 and "no recorded windows for this channel" in result.output
