"""MATLAB .mat import (v5 written with scipy.io.savemat, v7.3 written as MATLAB lays it out)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers import import_file
from hreflex.io.importers.matlab import read_mat
from tests.importexport.helpers import write_mat73

N_SAMPLES, CURRENT = 50, np.array([2.0, 4.0, 6.0, 8.0])
# MATLAB-shaped samples x sweeps, sweep k sample j = 100 (j + 1) + k (mV)
SWEEPS_mV = 100.0 * (np.arange(N_SAMPLES)[:, None] + 1) + np.arange(4)[None, :]


def check_epoched(s, scale=1e-3, n_channels=1):
    assert s.sweeps.shape == (4, n_channels, N_SAMPLES)
    np.testing.assert_allclose(s.sweeps[:, 0, :], SWEEPS_mV.T * scale, rtol=1e-7)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], CURRENT)
    assert (s.sample_rate_Hz, s.pre_trigger_ms) == (2000.0, 5.0)


@pytest.mark.parametrize("transpose", [False, True])
def test_v5_epoched_either_orientation(tmp_path, transpose):
    path = tmp_path / "e.mat"
    scipy.io.savemat(
        path, {"emg": SWEEPS_mV.T if transpose else SWEEPS_mV, "amps": CURRENT[None, :]}
    )
    s = import_file(path, sweeps="emg", intensity="amps", sample_rate=2000, pre_ms=5, units="mV")
    check_epoched(s)
    assert s.devices["source"]["version"] == "5"


def test_v73_epoched_3d_with_channels(tmp_path):
    cube = np.stack([SWEEPS_mV, -SWEEPS_mV], axis=1)  # MATLAB samples x channels x sweeps
    path = write_mat73(tmp_path / "e73.mat", emg=cube, amps=CURRENT[:, None])
    s = read_mat(path, sweeps="emg", intensity="amps", sample_rate=2000, pre_ms=5, units="uV")
    check_epoched(s, scale=1e-6, n_channels=2)
    np.testing.assert_allclose(s.sweeps[:, 1, :], -SWEEPS_mV.T * 1e-6, rtol=1e-7)
    assert s.devices["source"]["version"] == "7.3"


def test_ambiguous_sweep_axis_and_struct_field(tmp_path):
    square = SWEEPS_mV[:4]  # 4 samples x 4 sweeps
    path = tmp_path / "sq.mat"
    scipy.io.savemat(path, {"data": {"emg": square, "amps": CURRENT}})
    with pytest.raises(
        ConfigError, match=r"which axis of 'data.emg' \(shape \(4, 4\)\).*--sweep-axis"
    ):
        read_mat(path, sweeps="data.emg", intensity="data.amps", sample_rate=2000, pre_ms=0)
    s = read_mat(path, sweeps="data.emg", intensity="data.amps", sample_rate=2000, pre_ms=0, sweep_axis=1)
    np.testing.assert_allclose(s.sweeps[:, 0], square.T, rtol=1e-7)
    s = read_mat(path, sweeps="data.emg", intensity="3", sample_rate=2000, pre_ms=0, sweep_axis=0)
    np.testing.assert_allclose(s.sweeps[:, 0], square, rtol=1e-7)
    assert s.stimuli["intensity_mA"].tolist() == [3.0] * 4


ONSETS = np.array([100, 400, 700])


def continuous_arrays(n=1000):
    t = np.arange(n)
    signal = np.column_stack([np.sin(t / 7.0), np.cos(t / 11.0)]) * 250.0  # µV
    trigger = np.zeros(n)
    for k in ONSETS:
        trigger[k : k + 10] = 5.0  # a 5 V pulse of 10 samples
    return signal, trigger


def test_v5_continuous_trigger_edges(tmp_path):
    signal, trigger = continuous_arrays()
    path = tmp_path / "c.mat"
    scipy.io.savemat(path, {"x": signal, "trig": trigger[:, None], "amps": [[10.0, 20.0, 30.0]]})
    s = read_mat(path, signal="x", trigger="trig", intensity="amps", sample_rate=5000, units="uV")
    np.testing.assert_array_equal(s.stimuli["sample_index"], ONSETS)
    np.testing.assert_allclose(s.stimuli["time_s"], ONSETS / 5000)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [10, 20, 30])
    np.testing.assert_allclose(s.continuous, signal * 1e-6, rtol=1e-6)
    assert s.trigger.sum() == 30 and s.trigger[ONSETS].all() and not s.trigger[ONSETS - 1].any()
    assert (s.stimuli["sync_method"] == b"trigger").all()


def test_v73_continuous_channels_by_rows_and_constant_intensity(tmp_path):
    signal, trigger = continuous_arrays()
    path = write_mat73(tmp_path / "c73.mat", x=signal.T, trig=trigger[None, :])  # 2 x N, 1 x N
    s = read_mat(path, signal="x", trigger="trig", intensity="15", sample_rate=5000, trigger_threshold=1)
    np.testing.assert_array_equal(s.stimuli["sample_index"], ONSETS)
    np.testing.assert_allclose(s.continuous, signal, rtol=1e-6)
    assert s.stimuli["intensity_mA"].tolist() == [15.0] * 3


def test_errors(tmp_path):
    signal, trigger = continuous_arrays()
    path = tmp_path / "c.mat"
    scipy.io.savemat(
        path, {"x": signal, "trig": trigger, "cube": np.zeros((3, 4, 5)), "amps": [1.0, 2.0]}
    )
    with pytest.raises(
        FileFormatError,
        match=r"c\.mat: variable 'emg' \(signal\) not found; the file holds x, trig",
    ):
        read_mat(path, signal="emg", trigger="trig", intensity="1", sample_rate=1000)
    with pytest.raises(
        FileFormatError,
        match=r"variable 'cube' has shape \(3, 4, 5\); expected a vector or a samples",
    ):
        read_mat(path, signal="cube", trigger="trig", intensity="1", sample_rate=1000)
    with pytest.raises(
        FileFormatError, match=r"variable 'x' has shape \(1000, 2\); expected a vector"
    ):
        read_mat(path, signal="x", trigger="x", intensity="1", sample_rate=1000)
    with pytest.raises(FileFormatError, match="--intensity amps has 2 values, expected 3"):
        read_mat(path, signal="x", trigger="trig", intensity="amps", sample_rate=1000)
    with pytest.raises(FileFormatError, match="never rises through 9"):
        read_mat(path, signal="x", trigger="trig", intensity="1", sample_rate=1000, trigger_threshold=9)
    with pytest.raises(ConfigError, match=r"c\.mat: --units 'furlongs' is not a unit"):
        read_mat(path, signal="x", trigger="trig", intensity="1", sample_rate=1000, units="furlongs")
    with pytest.raises(ConfigError, match="--sample-rate is required"):
        read_mat(path, signal="x", trigger="trig", intensity="1")
    with pytest.raises(ConfigError, match="--pre-ms is for epoched imports"):
        read_mat(path, signal="x", trigger="trig", intensity="1", sample_rate=1000, pre_ms=3)
    with pytest.raises(ConfigError, match="either --sweeps .* or --signal"):
        read_mat(path, intensity="1", sample_rate=1000)
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(FileFormatError, match=r"junk\.mat: not a readable MATLAB file"):
        read_mat(tmp_path / "junk.mat", signal="x", trigger="t", intensity="1", sample_rate=1)
