"""``hreflex acquire --dry-run`` and ``hreflex recover`` from the command line."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from hreflex.cli import cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_dry_run_prints_the_plan_summary():
    result = run("acquire", str(CONFIGS / "soleus_rdd.toml"), "--dry-run", "--seed", "4")
    assert result.exit_code == 0, result.output
    out = result.output
    # 15 levels (6..48 step 3) x 3 sweeps; 7 frequencies x 10 pulses
    assert "#1 recruitment 'soleus recruitment': 45 stimuli" in out
    assert "#2 rdd         'soleus RDD': 70 stimuli" in out
    assert "stimuli   115 (limit 200)" in out
    assert "intensity max 48 mA (limit 60 mA; run-time intensities counted at their bound)" in out
    assert "rate      max 10 Hz (limit 10 Hz)" in out
    assert "duration  " in out and "seed      4 (random" not in out


def test_dry_run_refuses_a_config_over_its_limits(tmp_path):
    text = (CONFIGS / "soleus_recruitment.toml").read_text()
    bad = tmp_path / "hot.toml"
    bad.write_text(text.replace("max_intensity_mA = 60", "max_intensity_mA = 40"))
    result = run("acquire", str(bad), "--dry-run")
    assert result.exit_code == 1
    assert result.output.startswith("Error: hot.toml [[protocols]] #1 (recruitment 'soleus "
                                    "recruitment'): stop_mA: ")
    # levels 6..50 step 2, randomised: the first one above 40 mA is named
    assert re.search(r"stimulus \d+ needs intensity (42|44|46|48|50) mA, above \[limits\] "
                     r"max_intensity_mA = 40$", result.output.strip())
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_negative_isi_is_a_one_line_error(tmp_path):
    bad = tmp_path / "k.toml"
    bad.write_text((CONFIGS / "demo.toml").read_text().replace("isi_s = 4", "isi_s = -4"))
    result = run("acquire", str(bad), "--dry-run")
    assert result.exit_code == 1
    assert result.output == ("Error: k.toml [[protocols]] #1 (recruitment): isi_s must be > 0, "
                             "got -4\n")


def test_live_run_with_a_missing_device_is_a_one_line_error(tmp_path, monkeypatch):
    """soleus_recruitment.toml matches its amplifier by USB VID/PID; none is plugged in here."""
    monkeypatch.chdir(tmp_path)  # a failed start may not write anywhere else
    result = run("acquire", str(CONFIGS / "soleus_recruitment.toml"), "--seed", "1")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: amplifier: no serial port matches USB vid=0x16C0 pid=0x0483")
    assert not list(tmp_path.rglob("*.h5"))


def test_recover_command_on_a_missing_file(tmp_path):
    result = run("recover", str(tmp_path / "gone.h5"))
    assert result.exit_code == 1
    assert "unreadable or missing, and no journal" in result.output
