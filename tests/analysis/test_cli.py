"""``hreflex analyze``: summary, JSON schema, CSV, results stored in the file, errors."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import replace

import h5py
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.io.format import decode_str
from hreflex.io.session import read_session, write_session
from tests.analysis.simdata import simulated

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


def test_analyze_writes_json_csv_and_stores(session_file, tmp_path):
    sha = hashlib.sha256(session_file.read_bytes()).hexdigest()
    out = _run(session_file, "--json", tmp_path / "r.json", "--csv", tmp_path / "csv")
    assert out.exit_code == 0, out.output
    assert "FCR" in out.output and "Hmax/Mmax" in out.output and "RDD FCR" in out.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema"] == "hreflex-analysis/1" and doc["input"]["sha256"] == sha
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
        stored = json.loads(decode_str(f["analysis/results_json"][()]))
        ann = f["analysis/annotations"][()]
    assert stored["channels"][0]["recruitment"] == ch["recruitment"]
    assert len(ann) == ch["qc"]["n_excluded"] > 0  # one channel: one row per excluded sweep
    assert {decode_str(a["source"]) for a in ann} == {"auto-qc"}


def test_no_store_leaves_the_file_alone(tmp_path):
    path = tmp_path / "s.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out = _run(path, "--no-store")
    assert out.exit_code == 0 and "stored" not in out.output
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_config_errors_are_one_line(session_file, tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text("[windows]\nactivity = 3\n")
    out = _run(session_file, "--config", cfg, "--no-store")
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
    out = CliRunner().invoke(cli, ["analyze", str(path), "--no-store"])
    assert out.exit_code == 0
    assert "warning: MG: channel is flat (all samples equal)" in out.stderr
    assert "SOL" in out.stdout and "warning" not in out.stdout
