"""``hreflex import``: format detection, a valid session file out, one-line errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.io.importers.detect import detect_format
from hreflex.io.validate import check_file
from tests.importexport.helpers import write_bci2000, write_cadwell, write_mat73
from tests.importexport.test_cadwell import LABELS, traces


def run(*args):
    result = CliRunner().invoke(cli, ["import", *map(str, args)])
    return result.exit_code, result.output


def one_line_error(code: int, out: str, *fragments: str) -> None:
    assert code == 1, out
    assert out.startswith("Error: ") and out.count("\n") == 1 and "Traceback" not in out, out
    for fragment in fragments:
        assert fragment in out, out


def test_detection_by_content_and_extension(tmp_path):
    cad = write_cadwell(tmp_path / "export.txt", traces(), LABELS)  # Cadwell by content
    (tmp_path / "g.csv").write_text("intensity_mA,1\n0,1\n")
    scipy.io.savemat(tmp_path / "v5.bin", {"x": [1.0]})  # MAT by its header
    write_mat73(tmp_path / "v73.mat", x=np.ones(3))
    bci = write_bci2000(
        tmp_path / "rec.bin", np.zeros((4, 1), np.int16), {"Running": (1, np.ones(4))}
    )
    assert [
        detect_format(p)
        for p in (cad, tmp_path / "g.csv", tmp_path / "v5.bin", tmp_path / "v73.mat", bci)
    ] == ["cadwell", "csv", "mat", "mat", "bci2000"]
    (tmp_path / "x.xyz").write_text("?")
    code, out = run(tmp_path / "x.xyz", "-o", tmp_path / "o.h5")
    one_line_error(code, out, "x.xyz", "give --format")


def test_import_writes_a_valid_session_file(tmp_path):
    src = write_cadwell(tmp_path / "c.csv", traces(), LABELS)
    code, out = run(
        src, "-o", tmp_path / "c.h5", "--subject-id", "P12", "--muscle", "gastrocnemius"
    )
    assert code == 0, out
    assert "3 sweeps × 640 samples" in out and "detected from the stimulus artifact" in out
    assert check_file(tmp_path / "c.h5") == []
    from hreflex.io.session import read_session

    s = read_session(tmp_path / "c.h5")
    assert (s.meta.subject_id, s.meta.muscle) == ("P12", "gastrocnemius")
    assert s.devices["source"]["format"] == "cadwell"
    code, out = run(src, "-o", tmp_path / "c.h5")
    one_line_error(code, out, "already exists")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--format", "cadwell"], ["bad.csv", "Trace Label of column 2", "expected 'Tr <n>"]),
        (["--format", "excel"], ["unknown import format 'excel'"]),
        (["--format", "cadwell", "--sample-rate", "1000"], ["--sample-rate does not apply to cadwell"]),
    ],
)
def test_cadwell_errors_are_one_line(tmp_path, args, fragments):
    bad = write_cadwell(
        tmp_path / "bad.csv", traces(), [LABELS[0], "Tr 2 : x mA : 1 µs", LABELS[2]]
    )
    one_line_error(*run(bad, "-o", tmp_path / "o.h5", *args), *fragments)
    assert not (tmp_path / "o.h5").exists()


def test_mat_errors_are_one_line(tmp_path):
    path = tmp_path / "m.mat"
    scipy.io.savemat(path, {"emg": np.zeros((10, 3)), "amps": [1.0, 2.0, 3.0]})
    common = ["-o", tmp_path / "o.h5", "--intensity", "amps", "--sample-rate", "1000", "--pre-ms", "2"]
    one_line_error(*run(path, "--sweeps", "nope", *common), "m.mat", "variable 'nope'", "not found")
    one_line_error(*run(path, "--sweeps", "emg", "--units", "volt", *common), "--units 'volt'")
    one_line_error(*run(path, "--sweeps", "emg", "--sweep-axis", "2", *common), "--sweep-axis 2")
    code, out = run(path, "--sweeps", "emg", "--units", "mV", *common)
    assert code == 0, out
    assert check_file(tmp_path / "o.h5") == []


def test_missing_extras_are_clean_errors(tmp_path, monkeypatch):
    for name in ("neo", "neo.io", "pynwb"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    (tmp_path / "rec.smr").write_bytes(b"\0" * 64)
    one_line_error(
        *run(tmp_path / "rec.smr", "-o", tmp_path / "o.h5", "--intensity", "1"),
        "rec.smr",
        "needs the optional neo extra",
    )
    src = write_cadwell(tmp_path / "c.csv", traces(), LABELS)
    assert run(src, "-o", tmp_path / "c.h5")[0] == 0
    result = CliRunner().invoke(
        cli, ["export", str(tmp_path / "c.h5"), "-o", str(tmp_path / "c.nwb")]
    )
    one_line_error(result.exit_code, result.output, "needs the optional nwb extra")
