"""The bad-input corpus: every input surface (session files through every command that reads
them, each importer's formats, session and analysis configs, manifests) fed truncated files,
wrong types, wrong shapes, NaN/inf, out-of-range values and headers that lie. For each: a
non-zero exit, exactly one ``Error:`` line naming the file or field (``validate``: every
line names the file, one names the field), no traceback or internal error, and the input's
bytes unchanged (nothing else written beside it)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from tests.badinput import configs, sessions, sources

#: commands that read a session file, with the outputs they are given (into ``out/``)
READERS = {
    "validate": lambda f, out: ["validate", f],
    "info": lambda f, out: ["info", f],
    "analyze": lambda f, out: ["analyze", f],  # default output: beside the file
    "export": lambda f, out: ["export", f, "--format", "csv", "-o", out / "x.csv"],
    "report": lambda f, out: ["report", f, "-o", out / "report"],
}


def _fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(args: list) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def assert_refused(args: list, inputs: Path, needles: list[str], *, validate: bool = False,
                   in_error_line: bool = True) -> str:
    """Run ``args``; check the refusal and that nothing in ``inputs`` changed."""
    before = _fingerprint(inputs)
    code, output = _run(args)
    assert code != 0, output
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    if validate:
        lines = output.strip().splitlines()
        assert not errors and all(needles[0] in line for line in lines), output
        assert any("invalid:" in line and needles[-1] in line for line in lines), output
    else:
        assert len(errors) == 1, output
        shown = errors[0] if in_error_line else output
        for needle in needles:
            assert needle in shown, (needle, output)
    assert _fingerprint(inputs) == before, "an input changed or an output was left beside it"
    return output


# -- session files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    return {False: sessions.base(d / "c.h5", False), True: sessions.base(d / "e.h5", True)}


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    return inp, out


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize("case", sessions.H5_CASES, ids=[c[0] for c in sessions.H5_CASES])
def test_bad_session_file(case, command, good, tmp_path):
    name, epoched, change, field = case
    inp, out = _folders(tmp_path)
    path = inp / f"{name}.h5"
    shutil.copy(good[epoched], path)
    with h5py.File(path, "a") as f:
        change(f)
    assert_refused(READERS[command](path, out), inp, [path.name, field],
                   validate=command == "validate")


def _truncations(good_bytes: bytes):
    return sessions.truncations(good_bytes) + [("foreign-hdf5", None, "not an hreflex session")]


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize("index", range(len(_truncations(b""))),
                         ids=[c[0] for c in _truncations(b"")])
def test_truncated_or_foreign_session_file(index, command, good, tmp_path):
    name, data, words = _truncations(good[False].read_bytes())[index]
    inp, out = _folders(tmp_path)
    path = inp / f"{name}.h5"
    if data is None:
        sessions.foreign_hdf5(path)
    else:
        path.write_bytes(data)
    needles = [path.name, words] if words else [path.name]
    assert_refused(READERS[command](path, out), inp, needles, validate=command == "validate")


# -- import sources --------------------------------------------------------------------------

SOURCE_CASES = [(fmt, name, build) for fmt, table in (
    ("cadwell", sources.CADWELL), ("csv", sources.GENERIC_CSV), ("mat", sources.MATLAB),
    ("bci2000", sources.BCI2000), ("neo", sources.NEO), ("sidecar", sources.SIDECAR))
    for name, build in table.items()]


@pytest.mark.parametrize("fmt, name, build", SOURCE_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in SOURCE_CASES])
def test_bad_import_source(fmt, name, build, tmp_path):
    if fmt == "neo" and importlib.util.find_spec("neo") is None:
        pytest.skip("neo is not installed (extra 'neo')")
    inp, out = _folders(tmp_path)
    src, options, needle = build(inp)
    args = ["import", src, "-o", out / "s.h5", *options]
    assert_refused(args, inp, [needle])
    assert list(out.iterdir()) == []  # no session file, no partial file


# -- configs and manifests -------------------------------------------------------------------

@pytest.mark.parametrize("name, text, needle", configs.SESSION_CASES,
                         ids=[c[0] for c in configs.SESSION_CASES])
def test_bad_session_config(name, text, needle, tmp_path):
    inp, _ = _folders(tmp_path)
    path = inp / "session.toml"
    path.write_text(text, encoding="utf-8")
    assert_refused(["acquire", path, "--dry-run"], inp, ["session.toml", needle])


@pytest.mark.parametrize("name, text, needle", configs.ANALYSIS_CASES,
                         ids=[c[0] for c in configs.ANALYSIS_CASES])
def test_bad_analysis_config(name, text, needle, good, tmp_path):
    inp, _ = _folders(tmp_path)
    path = inp / "analysis.toml"
    path.write_text(text, encoding="utf-8")
    session = shutil.copy(good[False], inp / "s.h5")
    assert_refused(["analyze", session, "--config", path], inp, ["analysis.toml", needle])


@pytest.mark.parametrize("name, text, needle", configs.MANIFEST_CASES,
                         ids=[c[0] for c in configs.MANIFEST_CASES])
def test_bad_manifest(name, text, needle, tmp_path):
    inp, out = _folders(tmp_path)
    for f in ("s1.h5", "s2.h5", "notes.txt"):
        (inp / f).write_bytes(b"")
    path = inp / "m.csv"
    path.write_text(text, encoding="utf-8")
    assert_refused(["compare", path, "--json", out / "c.json", "--cache", out / "cache"], inp,
                   [needle], in_error_line=False)


# -- valid edge files: analysed, or refused on one line, never an internal error -------------

EDGE_CASES = [
    ("no-stimuli", False, lambda f: sessions._replace(
        f, "stimuli/events", f["stimuli/events"][:0])),
    ("sample-index-past-the-end", False, sessions._events("sample_index", 10**9)),
    ("rate-100Hz", False, sessions._attr("emg", "sample_rate_Hz", 100.0)),
    ("rate-1MHz", False, sessions._attr("emg", "sample_rate_Hz", 1e6)),
    ("pre-trigger-negative", True, sessions._attr("emg/sweeps", "pre_trigger_ms", -15.0)),
    ("all-nan-sweeps", True, lambda f: f["emg/sweeps"].__setitem__(..., float("nan"))),
    ("sweeps-end-2ms-after-the-stimulus", True, lambda f: (
        sessions._replace(f, "emg/sweeps", f["emg/sweeps"][:, :, :10]),
        f["emg/sweeps"].attrs.__setitem__("pre_trigger_ms", 0.0))),
]


@pytest.mark.parametrize("name, epoched, change", EDGE_CASES)
def test_valid_edge_files_never_give_an_internal_error(name, epoched, change, good, tmp_path):
    inp, out = _folders(tmp_path)
    path = inp / f"{name}.h5"
    shutil.copy(good[epoched], path)
    with h5py.File(path, "a") as f:
        change(f)
    assert _run(["validate", path])[0] == 0
    code, output = _run(["analyze", path, "-o", out / "r.json"])
    assert "internal error" not in output and (code == 0 or output.count("Error:") == 1), output
