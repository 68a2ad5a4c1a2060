"""No output may overwrite an input: for every command that writes, an output that is one of
its inputs (the same path, a symlink to it, a hard link to it, a folder output whose file
would be one) is refused with one line, even with ``--overwrite``, and the input's bytes stay
as they were. Also: two outputs that are one file, and the overwrite rule itself."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from tests.badinput import sessions

REPO = Path(__file__).resolve().parents[2]


def _alias(kind: str, target: Path, where: Path) -> Path:
    """``target`` itself, a symlink to it or a hard link to it, named in ``where``."""
    if kind == "same path":
        return target
    link = where / f"{kind.replace(' ', '-')}{target.suffix}"
    (os.symlink if kind == "symlink" else os.link)(target, link)
    return link


@pytest.fixture
def files(tmp_path):
    session = sessions.base(tmp_path / "s.h5", False)
    src = tmp_path / "src.csv"
    src.write_text("intensity_mA,5,10\n-1,0.1,0.2\n0,0.3,0.4\n1,0.5,0.6\n2,0.7,0.8\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"file,subject,condition\n{session},S1,pre\n{session},S1,post\n")
    config = tmp_path / "session.toml"
    shutil.copy(REPO / "configs" / "soleus_recruitment.toml", config)
    return {"session": session, "src": src, "manifest": manifest, "config": config}


#: command -> (the input it reads, its arguments with OUT for the output)
COMMANDS = {
    "batch": ("session", ["batch", "{session}", "-o", "OUT"]),
    "analyze": ("session", ["analyze", "{session}", "-o", "OUT"]),
    "export": ("session", ["export", "{session}", "--format", "csv", "-o", "OUT"]),
    "import": ("src", ["import", "{src}", "-o", "OUT"]),
    "compare": ("manifest", ["compare", "{manifest}", "--json", "OUT"]),
    "acquire": ("config", ["acquire", "{config}", "-o", "OUT"]),
}


@pytest.mark.parametrize("kind", ["same path", "symlink", "hard link"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_an_input_is_refused(command, kind, files, tmp_path):
    which, template = COMMANDS[command]
    target = files[which]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = _alias(kind, target, out_dir)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    args = [a.format(**files) if a != "OUT" else str(out) for a in template]
    result = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert result.exit_code == 1, result.output
    assert result.output.count("Error:") == 1 and " of this command; choose another " \
        "output" in result.output, result.output
    assert str(out) in result.output
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ([] if kind == "same path" else [out.name])


def test_folder_outputs_refuse_a_file_that_is_an_input(files, tmp_path):
    session = files["session"]
    report = tmp_path / "r"
    report.mkdir()
    os.link(session, report / "report.html")
    result = CliRunner().invoke(cli, ["report", str(session), "-o", str(report), "--overwrite"])
    assert result.exit_code == 1 and "is the input" in result.output, result.output
    result = CliRunner().invoke(cli, ["analyze", str(session), "-o", str(tmp_path / "r.json"),
                                      "--csv", str(session), "--overwrite"])
    assert result.exit_code == 2 and "is a file" in result.output  # click's own check
    assert not (tmp_path / "r.json").exists()  # checked before any work: nothing written


def test_two_outputs_that_are_one_file_are_refused(tmp_path):
    out = tmp_path / "s.h5"
    result = CliRunner().invoke(cli, ["simulate", "--preset", "rat_sci", "-o", str(out),
                                      "--truth", str(out)])
    assert result.exit_code == 1 and "named for two outputs" in result.output
    assert not out.exists()


def test_existing_outputs_need_overwrite_everywhere(files, tmp_path):
    session = files["session"]
    taken = {"json": tmp_path / "a.json", "csv": tmp_path / "a.csv", "h5": tmp_path / "a.h5"}
    for path in taken.values():
        path.write_text("mine")
    runs = [["analyze", session, "-o", taken["json"]],
            ["export", session, "--format", "csv", "-o", taken["csv"]],
            ["import", files["src"], "-o", taken["h5"]],
            ["batch", session, "-o", taken["csv"]],
            ["compare", files["manifest"], "--json", taken["json"]],
            ["simulate", "--preset", "rat_sci", "-o", taken["h5"]]]
    for args in runs:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 1, (args, result.output)
        assert "already exists; pass --overwrite to replace it" in result.output, args
    assert all(p.read_text() == "mine" for p in taken.values())
    report = tmp_path / "report"
    assert CliRunner().invoke(cli, ["report", str(session), "-o", str(report)]).exit_code == 0
    again = CliRunner().invoke(cli, ["report", str(session), "-o", str(report)])
    assert again.exit_code == 1 and "report.html already exists" in again.output
    replaced = CliRunner().invoke(cli, ["report", str(session), "-o", str(report), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert not [p for p in tmp_path.rglob("*partial*")]
