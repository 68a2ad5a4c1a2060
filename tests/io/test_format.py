"""Session file format v1: write -> read round trip and validation (docs/FORMAT.md)."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.errors import FileFormatError
from hreflex.io.format import (
    ANNOTATION_DTYPE,
    FORMAT_NAME,
    RECORDED_WINDOW_DTYPE,
    empty_table,
    version_string,
)
from hreflex.io.session import Session, read_session
from hreflex.io.writer import SessionWriter, store_analysis, write_session
from tests.conftest import small_session


def test_round_trip_continuous_keeps_every_field(tmp_path, session: Session):
    path = write_session(tmp_path / "s.h5", session)
    back = read_session(path)
    assert back.format_version == version_string() == "1.1"
    for name in ("subject_id", "session_id", "species", "muscle", "nerve", "condition", "notes"):
        assert getattr(back.meta, name) == getattr(session.meta, name)
    assert back.meta.software_version.startswith("hreflex ")
    assert back.meta.created_utc.endswith("+00:00")
    assert back.sample_rate_Hz == 5000.0
    assert back.channel_names == ["ch0", "ch1"]
    assert back.channel_muscles == ["soleus", "tibialis anterior"]
    np.testing.assert_array_equal(back.scale_V_per_count, [1.5e-7, 1.5e-7])
    assert back.continuous.dtype == np.int16
    np.testing.assert_array_equal(back.continuous, session.continuous)
    np.testing.assert_array_equal(back.trigger, session.trigger)
    for table in ("stimuli", "blocks", "faults"):
        got, want = getattr(back, table), getattr(session, table)
        assert got.dtype.names == want.dtype.names
        for field in want.dtype.names:
            np.testing.assert_array_equal(got[field], want[field], err_msg=f"{table}.{field}")
    assert back.config_toml == session.config_toml
    assert back.devices["amplifier"]["gain"] == 1000.0
    assert back.devices["amplifier"]["serial_number"] == "A1"
    assert back.layout == "continuous" and back.duration_s == pytest.approx(1.0)
    # physical values: counts x scale
    np.testing.assert_allclose(back.to_volts(back.continuous)[:, 0], session.continuous[:, 0] * 1.5e-7)


def windows() -> np.ndarray:
    rows = empty_table(RECORDED_WINDOW_DTYPE, 3)
    rows[0] = (0, b"h", 14.0, 30.0, b"p2p", b"EPOCS ResponseDefinition EMG1")
    rows[1] = (1, b"m", 3.5, 13.0, b"mean_rect", b"lab sheet")
    rows[2] = (-1, b"background", -52.0, -2.0, b"", b"")
    return rows


def test_recorded_windows_round_trip(tmp_path, session):
    assert len(session.recorded_windows) == 0 and session.recorded_windows.dtype == RECORDED_WINDOW_DTYPE
    session.recorded_windows = windows()
    back = read_session(write_session(tmp_path / "w.h5", session))
    np.testing.assert_array_equal(back.recorded_windows, windows())
    with h5py.File(tmp_path / "w.h5") as f:
        assert f["emg/recorded_windows"].dtype == RECORDED_WINDOW_DTYPE


def test_format_1_0_file_without_recorded_windows_reads(good):
    with h5py.File(good, "a") as f:
        del f["emg/recorded_windows"]
        f.attrs["format_version"] = "1.0"
    assert _cli("validate", str(good)).exit_code == 0
    back = read_session(good)
    assert back.format_version == "1.0" and len(back.recorded_windows) == 0
    assert back.recorded_windows.dtype == RECORDED_WINDOW_DTYPE


def test_recorded_windows_from_another_writer_read_by_field_name(good):
    other = np.dtype([("source", "S8"), ("stop_ms", "<f4"), ("start_ms", "<f4"),
                      ("wave", "S4"), ("channel", "<i2"), ("measure", "S8"), ("extra", "<i4")])
    rows = np.zeros(1, other)
    rows[0] = (b"sheet", 30.0, 14.0, b"h", 1, b"rms", 7)
    with h5py.File(good, "a") as f:
        del f["emg/recorded_windows"]
        f["emg/recorded_windows"] = rows
    w = read_session(good).recorded_windows
    assert w.dtype == RECORDED_WINDOW_DTYPE
    assert (w["channel"][0], w["wave"][0], w["start_ms"][0], w["stop_ms"][0]) == (1, b"h", 14, 30)
    assert (w["measure"][0], w["source"][0]) == (b"rms", b"sheet")


@pytest.mark.parametrize(("row", "needle"), [
    ((2, b"h", 14.0, 30.0, b"p2p", b""),
     "channel must be -1 or a channel index (0..1) (row 0 (of 1); got 2)"),
    ((-2, b"h", 14.0, 30.0, b"p2p", b""), "channel must be -1 or a channel index (0..1)"),
    ((0, b"h", 30.0, 14.0, b"p2p", b""), "need finite start_ms < stop_ms in row 0 (of 1) (got 30..14 ms)"),
    ((0, b"h", np.nan, 14.0, b"p2p", b""), "need finite start_ms < stop_ms"),
    ((0, b"h", 5.0, 5.0, b"p2p", b""), "need finite start_ms < stop_ms"),
    ((0, b"H", 14.0, 30.0, b"p2p", b""),
     "wave must be one of m, h, background (row 0 (of 1); got H)"),
    ((0, b"f", 14.0, 30.0, b"p2p", b""), "got f)"),
])
def test_bad_recorded_windows_are_invalid(good, row, needle):
    rows = empty_table(RECORDED_WINDOW_DTYPE, 1)
    rows[0] = row
    with h5py.File(good, "a") as f:
        del f["emg/recorded_windows"]
        f["emg/recorded_windows"] = rows
    _assert_clean_error(_cli("validate", str(good)), "emg/recorded_windows", needle)
    with pytest.raises(FileFormatError, match="emg/recorded_windows"):
        read_session(good)


def test_unknown_measure_is_read_as_written(good):
    rows = empty_table(RECORDED_WINDOW_DTYPE, 1)
    rows[0] = (0, b"m", 3.0, 12.0, b"auc", b"a later exporter")
    with h5py.File(good, "a") as f:
        del f["emg/recorded_windows"]
        f["emg/recorded_windows"] = rows
    assert read_session(good).recorded_windows["measure"][0] == b"auc"


def test_units_are_attributes_in_the_file(tmp_path, session):
    path = write_session(tmp_path / "s.h5", session)
    with h5py.File(path) as f:
        assert f.attrs["format"] == FORMAT_NAME
        assert f["emg"].attrs["sample_rate_Hz"] == 5000.0
        assert f["emg/continuous"].attrs["units"] == "counts"
        assert f["emg/scale_V_per_count"].attrs["units"] == "V/count"
        assert f["emg/continuous"].maxshape == (None, 2)  # resizable, chunked
        assert f["emg/continuous"].chunks is not None


def test_round_trip_epoched_float_volts(tmp_path):
    base = small_session()
    sweeps = np.random.default_rng(2).normal(0, 1e-3, size=(3, 2, 250)).astype(np.float32)
    epoched = Session(meta=base.meta, sample_rate_Hz=5000.0, channel_names=base.channel_names,
                      scale_V_per_count=np.ones(2), sweeps=sweeps, pre_trigger_ms=10.0,
                      stimuli=base.stimuli)
    back = read_session(write_session(tmp_path / "e.h5", epoched))
    assert back.layout == "epoched" and back.continuous is None
    np.testing.assert_array_equal(back.sweeps, sweeps)
    assert back.pre_trigger_ms == 10.0
    np.testing.assert_array_equal(back.stimuli["intensity_mA"], [5.0, 10.0, 12.5])
    with h5py.File(tmp_path / "e.h5") as f:
        assert f["emg/sweeps"].attrs["units"] == "V"


def test_store_analysis_keeps_raw_data_and_user_annotations(tmp_path, session):
    path = write_session(tmp_path / "s.h5", session)
    user = empty_table(ANNOTATION_DTYPE, 1)
    user[0] = (1, -1, b"electrode moved", b"user")
    store_analysis(path, {"a": 1}, user)
    auto = empty_table(ANNOTATION_DTYPE, 2)
    auto["sweep"], auto["channel"], auto["reason"], auto["source"] = [0, 2], 0, b"clipping", b"auto-qc"
    store_analysis(path, {"a": 2}, auto)
    store_analysis(path, {"a": 3}, auto)  # re-running analysis replaces its own annotations only
    back = read_session(path)
    assert sorted(back.annotations["sweep"].tolist()) == [0, 1, 2]
    np.testing.assert_array_equal(back.continuous, session.continuous)
    with h5py.File(path) as f:
        assert f["analysis/results_json"][()].decode() == '{"a": 3}'


# -- validation ---------------------------------------------------------------------------

def _cli(*args):
    return CliRunner().invoke(cli, list(args))


def _assert_clean_error(result, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    text = result.output.strip()
    for needle in needles:
        assert needle in text, text


@pytest.fixture
def good(tmp_path, session):
    return write_session(tmp_path / "good.h5", session)


def test_valid_file_validates_and_info_summarises(good):
    assert _cli("validate", str(good)).exit_code == 0
    result = _cli("info", str(good))
    assert result.exit_code == 0, result.output
    for needle in ("2 channels" if False else "channels    2", "5000 Hz", "1 s", "stimuli     3",
                   "recruitment", "rdd", "trains at 5 Hz", "gap ×1", "20 samples lost"):
        assert needle in result.output, result.output


def test_truncated_file(tmp_path, good):
    data = good.read_bytes()
    bad = tmp_path / "trunc.h5"
    bad.write_bytes(data[: len(data) // 2])
    _assert_clean_error(_cli("validate", str(bad)), "trunc.h5", "invalid")
    _assert_clean_error(_cli("info", str(bad)), "Error:", "trunc.h5")


def test_non_hdf5_file(tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")
    _assert_clean_error(_cli("info", str(bad)), "notes.csv", "not a readable HDF5 file")
    with pytest.raises(FileFormatError, match="notes.csv"):
        read_session(bad)


def test_foreign_hdf5_file(tmp_path):
    bad = tmp_path / "other.h5"
    with h5py.File(bad, "w") as f:
        f["x"] = 1
    _assert_clean_error(_cli("info", str(bad)), "not an hreflex session file")


def test_missing_required_dataset(good):
    with h5py.File(good, "a") as f:
        del f["stimuli/events"]
    _assert_clean_error(_cli("info", str(good)), "/stimuli/events")
    _assert_clean_error(_cli("validate", str(good)), "missing")


@pytest.mark.parametrize("version, needle", [("2.0", "newer than this hreflex reads"),
                                             ("one", "not MAJOR.MINOR"),
                                             ("0.3", "predates format 1.0")])
def test_wrong_version(good, version, needle):
    with h5py.File(good, "a") as f:
        f.attrs["format_version"] = version
    _assert_clean_error(_cli("info", str(good)), needle)


def test_newer_minor_version_is_read(good):
    with h5py.File(good, "a") as f:
        f.attrs["format_version"] = "1.7"
    assert read_session(good).format_version == "1.7"


def test_nan_intensity(good):
    with h5py.File(good, "a") as f:
        events = f["stimuli/events"][()]
        events["intensity_mA"][1] = np.nan
        f["stimuli/events"][...] = events
    _assert_clean_error(_cli("validate", str(good)), "intensity_mA", "row 1")
    _assert_clean_error(_cli("info", str(good)), "Error:",
                        "intensity_mA must be finite and >= 0 (row 1 (of 3); got nan)")


def test_wrong_channel_count(good):
    with h5py.File(good, "a") as f:
        del f["emg/scale_V_per_count"]
        f["emg/scale_V_per_count"] = [1.0, 2.0, 3.0]
    _assert_clean_error(_cli("validate", str(good)), "scale_V_per_count")


def test_missing_file_is_a_clean_error(tmp_path):
    _assert_clean_error(_cli("info", str(tmp_path / "nope.h5")), "no such file")


# -- live and crashed files ---------------------------------------------------------------

_WRITER = """
import os, sys, numpy as np
sys.path.insert(0, {root!r})
from tests.conftest import small_session
from hreflex.io.writer import SessionWriter
s = small_session()
w = SessionWriter(sys.argv[1], meta=s.meta, sample_rate_Hz=s.sample_rate_Hz,
                  channel_names=s.channel_names, scale_V_per_count=s.scale_V_per_count,
                  blocks=s.blocks, swmr=True)
for i in range(10):
    w.append_samples(np.full((500, 2), i, np.int16))
    w.append_stimuli(s.stimuli[:1])
    w.flush()
w.append_samples(np.full((500, 2), 99, np.int16))  # appended but never flushed
print("ready", flush=True)
os.kill(os.getpid(), 9)
"""


def test_killed_swmr_writer_leaves_a_readable_file(tmp_path):
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    path = tmp_path / "live.h5"
    proc = subprocess.run([sys.executable, "-c", _WRITER.format(root=root), str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and "ready" in proc.stdout
    back = read_session(path)
    assert len(back.continuous) >= 5000  # every flushed block survived
    np.testing.assert_array_equal(back.continuous[:5000:500, 0], np.arange(10))
    assert len(back.stimuli) == 10


def test_writer_rejects_wrong_sample_shape(tmp_path, session):
    with SessionWriter(tmp_path / "w.h5", meta=session.meta, sample_rate_Hz=1000.0,
                       channel_names=["a", "b"], scale_V_per_count=[1.0, 1.0]) as w:
        with pytest.raises(FileFormatError, match=r"\(n, 2\)"):
            w.append_samples(np.zeros((10, 3), np.int16))


def test_format_doc_example_writes_a_valid_file(tmp_path, monkeypatch):
    """docs/FORMAT.md's plain-h5py example must produce a file the validator accepts."""
    from pathlib import Path

    from hreflex.io.validate import check_file

    doc = (Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md").read_text()
    section = doc.split("## Minimal example with plain h5py\n")[1]
    blocks = [b.split("```")[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2  # the file, then its recorded windows
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[0], "FORMAT.md", "exec"), namespace)
    assert check_file(tmp_path / "mine.h5") == []
    s = read_session(tmp_path / "mine.h5")
    assert s.stimuli["intensity_mA"][0] == 12.0 and s.continuous.shape == (50000, 1)
    assert len(s.recorded_windows) == 0
    exec(compile(blocks[1], "FORMAT.md", "exec"), namespace)
    assert check_file(tmp_path / "mine.h5") == []
    w = read_session(tmp_path / "mine.h5").recorded_windows
    assert w["wave"].tolist() == [b"m", b"h"] and w["stop_ms"].tolist() == [15.0, 45.0]


def test_shipped_sample_file_is_valid_and_complete():
    """sample_data/make_sample_data.py: 10 intensities 6..42 mA × 3 sweeps + RDD 3 × 5 pulses."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "sample_data" / "soleus_recruitment.h5"
    assert path.stat().st_size <= 2_000_000
    s = read_session(path)
    rec = s.stimuli[s.stimuli["block_id"] == 0]
    assert len(rec) == 30
    np.testing.assert_array_equal(np.unique(rec["intensity_mA"]), np.arange(6, 43, 4))
    rdd = s.stimuli[s.stimuli["block_id"] == 1]
    assert sorted(set(rdd["nominal_frequency_Hz"].tolist())) == [0.2, 1.0, 5.0]
    assert np.all(np.diff(s.stimuli["sample_index"]) > 0)
