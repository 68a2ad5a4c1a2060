"""Export: CSV round trip (simulate -> export CSV -> import CSV) and NWB (optional extra)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.io.format import decode_str
from hreflex.io.importers.cadwell import read_cadwell
from hreflex.io.session import read_session
from hreflex.io.writer import write_session
from hreflex.schedule import concat, rdd, recruitment
from hreflex.sim import get_preset, simulate_session
from tests.importexport.helpers import write_cadwell
from tests.importexport.test_cadwell import LABELS, traces

FIELDS = (
    "intensity_mA",
    "pulse_width_us",
    "block_id",
    "train_id",
    "pulse_index",
    "nominal_frequency_Hz",
    "time_s",
)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A short noisy soleus session (recruitment + two RDD trains) written to disk."""
    schedule = concat(
        recruitment(start_mA=10, stop_mA=40, step_mA=5, sweeps=2, isi_s=3, jitter_s=1, seed=2),
        rdd([1, 5], intensity_mA=18, pulses_per_train=3, rest_s=3),
    )
    session, _ = simulate_session(get_preset("soleus_healthy"), schedule, seed=3)
    path = tmp_path_factory.mktemp("sim") / "sim.h5"
    write_session(path, session)
    return path


def run(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_csv_round_trip_is_sample_exact(simulated, tmp_path):
    code, out = run("export", simulated, "-o", tmp_path / "s.csv")
    assert code == 0, out
    code, out = run("import", tmp_path / "s.csv", "-o", tmp_path / "back.h5")
    assert code == 0, out
    original, back = read_session(simulated), read_session(tmp_path / "back.h5")
    fs = original.sample_rate_Hz
    # expected: -100 ms .. +100 ms around every stimulus, cut straight from the volts
    volts = (original.continuous * original.scale_V_per_count).astype(np.float32)
    index = original.stimuli["sample_index"]
    n_pre, n_post = round(0.1 * fs), round(0.1 * fs)
    expected = np.stack([volts[i - n_pre : i + n_post + 1].T for i in index])
    np.testing.assert_array_equal(back.sweeps, expected)
    assert back.pre_trigger_ms == 100.0 and back.sample_rate_Hz == fs
    for name in FIELDS:
        np.testing.assert_array_equal(back.stimuli[name], original.stimuli[name], err_msg=name)
    assert [decode_str(k) for k in back.blocks["kind"]] == ["recruitment", "rdd"]
    np.testing.assert_array_equal(back.blocks["label"], original.blocks["label"])
    assert back.channel_names == original.channel_names
    assert back.channel_muscles == original.channel_muscles
    assert (back.meta.subject_id, back.meta.muscle) == (original.meta.subject_id, "soleus")


def test_csv_export_of_epoched_session_keeps_sweeps(tmp_path):
    src = read_cadwell(write_cadwell(tmp_path / "c.csv", traces(), LABELS))
    write_session(tmp_path / "c.h5", src)
    assert run("export", tmp_path / "c.h5", "--format", "csv", "-o", tmp_path / "out.txt")[0] == 0
    assert run("import", tmp_path / "out.txt", "-o", tmp_path / "back.h5")[0] == 0
    back = read_session(tmp_path / "back.h5")
    np.testing.assert_array_equal(back.sweeps, src.sweeps)
    assert back.pre_trigger_ms == src.pre_trigger_ms and back.sample_rate_Hz == 6400.0
    np.testing.assert_array_equal(back.stimuli["pulse_width_us"], [200, 200, 450])


def test_export_errors(simulated, tmp_path):
    code, out = run("export", simulated, "-o", tmp_path / "x.xls")
    assert code == 1 and out.startswith("Error: ") and "give --format (nwb or csv)" in out
    (tmp_path / "taken.csv").write_text("x")
    code, out = run("export", simulated, "-o", tmp_path / "taken.csv")
    assert code == 1 and "already exists" in out
    code, out = run("export", tmp_path / "none.h5", "-o", tmp_path / "y.csv")
    assert code == 1 and out.count("\n") == 1 and "none.h5" in out


# -- NWB (optional extra) ------------------------------------------------------------------------


def critical(path) -> list[str]:
    from nwbinspector import Importance, inspect_nwbfile

    bad = (Importance.CRITICAL, Importance.ERROR, Importance.PYNWB_VALIDATION)
    return [
        f"{m.check_function_name}: {m.message}"
        for m in inspect_nwbfile(nwbfile_path=str(path))
        if m.importance in bad
    ]


def test_nwb_continuous(session, tmp_path):
    pytest.importorskip("pynwb")
    pytest.importorskip("nwbinspector")
    from pynwb import NWBHDF5IO

    path = tmp_path / "s.nwb"
    write_session(tmp_path / "s.h5", session)
    code, out = run("export", tmp_path / "s.h5", "-o", path, "--subject-age", "P30Y")
    assert code == 0, out
    assert critical(path) == []
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        emg = nwb.acquisition["EMG"]
        assert emg.unit == "volts" and emg.rate == 5000.0
        expected = (session.continuous * 1.5e-7).astype(np.float32)
        expected[4000:4020] = np.nan  # the recorded gap
        np.testing.assert_array_equal(emg.data[:], expected)
        events = nwb.get_events_table("stimuli").to_dataframe()
        np.testing.assert_allclose(events["timestamp"], [0.2, 0.4, 0.6])
        np.testing.assert_array_equal(events["intensity_mA"], [5.0, 10.0, 12.5])
        np.testing.assert_array_equal(events["block_kind"], ["recruitment", "rdd", "rdd"])
        trials = nwb.trials.to_dataframe()
        np.testing.assert_allclose(trials["start_time"], [0.1, 0.3, 0.5])
        np.testing.assert_allclose(trials["stop_time"], [0.3, 0.5, 0.7])
        gaps = nwb.invalid_times.to_dataframe()
        np.testing.assert_allclose(gaps[["start_time", "stop_time"]].to_numpy(), [[0.8, 0.804]])
        assert nwb.subject.species == "Homo sapiens" and nwb.subject.age == "P30Y"


def test_nwb_epoched_sweeps_end_to_end(tmp_path):
    pytest.importorskip("pynwb")
    pytest.importorskip("nwbinspector")
    from pynwb import NWBHDF5IO

    from hreflex.export.nwb import write_nwb

    session = read_cadwell(write_cadwell(tmp_path / "c.csv", traces(), LABELS))
    path = write_nwb(session, tmp_path / "c.nwb")
    assert critical(path) == []
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        np.testing.assert_array_equal(
            nwb.acquisition["EMG"].data[:, 0], session.sweeps[:, 0].ravel()
        )
        trials = nwb.trials.to_dataframe()
        sweep_s = 640 / 6400.0
        np.testing.assert_allclose(trials["start_time"], np.arange(3) * sweep_s)
        np.testing.assert_allclose(trials["stimulus_time"], np.arange(3) * sweep_s + 0.005)
        np.testing.assert_array_equal(trials["pulse_width_us"], [200, 200, 450])
        assert nwb.subject.age == "P0D/"  # unknown: open range
