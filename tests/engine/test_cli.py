"""``hreflex demo`` and the live ``hreflex acquire`` from the command line (in-process)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.commands.demo import DEMO_CONFIG
from hreflex.io.session import read_session
from hreflex.io.validate import check_file
from tests.engine.helpers import config_dict, write_config


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_demo_runs_analyses_and_reports(tmp_path):
    out = tmp_path / "demo-out"
    cfg = write_config(tmp_path, config_dict(), name="small_demo.toml")
    result = _run("demo", "--out", str(out), "--config", str(cfg))
    assert result.exit_code == 0, result.output
    session = next(out.glob("*.h5"))
    assert check_file(session) == []
    assert len(read_session(session).stimuli) == 16
    doc = json.loads(session.with_suffix(".analysis.json").read_text())
    assert [c["name"] for c in doc["channels"]] == ["SOL", "MG"]
    assert (out / "report" / "report.html").stat().st_size > 10_000
    for line in (f"session   {session}", "stimuli   16 delivered of 16 planned",
                 "report    ", "analysis  "):
        assert line in result.output


def test_demo_config_is_shipped_and_refuses_real_devices(tmp_path):
    assert DEMO_CONFIG.is_file()
    d = config_dict()
    d["devices"]["amplifier"] = {"port": "loop://", "sample_rate_Hz": 5000}
    result = _run("demo", "--out", str(tmp_path), "--config",
                  str(write_config(tmp_path, d)))
    assert result.exit_code == 1
    assert result.output == ("Error: session.toml: the demo needs emulated = true for both "
                             "devices\n")
    result = _run("demo", "--config", str(tmp_path / "none.toml"))
    assert result.exit_code == 1 and "not found" in result.output


def test_acquire_live_with_plot(tmp_path):
    cfg = write_config(tmp_path, config_dict())
    result = _run("acquire", str(cfg), "--plot")  # the config's output_dir is tmp_path
    assert result.exit_code == 0, result.output
    assert "16 delivered of 16 planned" in result.output
    assert (tmp_path / "s.live.png").read_bytes()[:4] == b"\x89PNG"
    assert "16/16" in result.output  # the live view (stderr is mixed in by CliRunner)
