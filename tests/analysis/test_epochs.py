"""Epoching: one gather from continuous data, gaps, recording edges, NaN samples."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hreflex.analysis.epochs import Saturation, gap_overlap, gather, make_epochs, to_volts
from hreflex.io.format import FAULT_DTYPE, empty_table
from hreflex.io.session import read_session
from hreflex.io.writer import write_session
from tests.conftest import small_session


def test_gather_cuts_the_right_samples():
    cont = np.arange(100 * 3).reshape(100, 3)  # value = 3 * sample + channel
    sweeps, inside = gather(cont, np.array([10, 50, 2, 98]), -5, 8)  # [s - 5, s + 3)
    assert inside.tolist() == [True, True, False, False]
    assert sweeps.shape == (4, 3, 8)
    np.testing.assert_array_equal(sweeps[0], cont[5:13].T)
    np.testing.assert_array_equal(sweeps[1, 2], 3 * np.arange(45, 53) + 2)
    assert not sweeps[2:].any()  # outside the recording: zeros, marked


def test_gather_from_the_file_reads_the_same_samples(tmp_path):
    """Samples left in the file (read_session(lazy=True)): the same sweeps, edges marked."""
    cont = (np.arange(10000 * 3) % 30000).astype(np.int16).reshape(10000, 3)  # 3 * row + ch
    session = replace(small_session(n_samples=10000, n_channels=3), continuous=cont,
                      trigger=None, channel_muscles=["a", "b", "c"])
    path = write_session(tmp_path / "ramp.h5", session)
    lazy = read_session(path, lazy=True).continuous
    index = np.array([9998, 10, 5000, 4990, 2])  # out at the end, in, in (sharing), out
    sweeps, inside = gather(lazy, index, -5, 8)
    assert inside.tolist() == [False, True, True, True, False]
    np.testing.assert_array_equal(sweeps[1], cont[5:13].T)
    np.testing.assert_array_equal(sweeps[2, 1], 3 * np.arange(4995, 5003) + 1)
    np.testing.assert_array_equal(sweeps[3], cont[4985:4993].T)
    assert not sweeps[[0, 4]].any()


def test_gap_overlap_finds_the_gap_row():
    faults = empty_table(FAULT_DTYPE, 3)
    faults[0] = (b"crc_error", 10, 0, b"")
    faults[1] = (b"gap", 100, 10, b"")  # samples 100..109
    faults[2] = (b"gap", 300, 1, b"")
    first = np.array([81, 90, 110, 295, 301])  # epochs [first, first + 20)
    assert gap_overlap(first, 20, faults).tolist() == [1, 1, -1, 2, -1]
    assert gap_overlap(first, 20, empty_table(FAULT_DTYPE)).tolist() == [-1] * 5


def test_to_volts_and_saturation():
    raw = np.array([[[0, 32767, -32767, 1000]]], dtype=np.int16)
    volts, sat = to_volts(raw, np.array([1e-6]), np.array([32767e-6]))
    np.testing.assert_allclose(volts[0, 0], [0, 32767e-6, -32767e-6, 1000e-6])
    assert sat[0, 0].tolist() == [False, True, True, False]
    assert to_volts(raw, np.array([1e-6]))[1] is None


def test_saturation_of_sweeps_stored_in_volts():
    """Imported sweeps are float volts (scale 1 V per "count"): a 10 mV limit marks the
    samples at +-10 mV (the Cadwell exports of another subject saturate there), not every
    sample (half a count, 0.5 V, was taken off the limit)."""
    raw = np.array([[[0.0, 0.004, -0.00999977, 0.01, -0.012]]], dtype=np.float32)
    volts, sat = to_volts(raw, np.array([1.0]), np.array([0.01]))
    np.testing.assert_array_equal(volts, raw)
    assert sat[0, 0].tolist() == [False, False, False, True, True]


def test_saturation_bits_give_the_mask_of_any_block():
    """The packed mask equals the raw comparison for blocks that start and end inside a
    byte, a strided slice, single samples and whole sweeps; marked a block at a time."""
    rng = np.random.default_rng(0)
    raw = rng.integers(-32768, 32767, (5, 2, 37), endpoint=True).astype(np.int16)
    level = np.array([30000, 20000], dtype=np.int16)
    sat = Saturation(raw.shape, level)
    sat.mark(0, raw[:3])
    sat.mark(3, raw[3:])
    truth = (raw >= level[None, :, None]) | (raw <= -level[None, :, None])
    assert truth.any() and not truth.all()
    for c in (0, 1):
        for key in [slice(None), slice(3, 21), slice(9, 10), slice(13, 11), slice(1, 36, 5),
                    slice(-6, None), 17, [2, 30]]:
            got = sat[:, c, key]
            assert got.dtype == bool
            assert np.array_equal(got, truth[:, c, key]), (c, key)
        assert np.array_equal(sat[1:4, c], truth[1:4, c])


def test_make_epochs_reasons():
    s = small_session(n_samples=5000)  # stimuli at 1000, 2000, 3000; gap at 4000..4019
    s.stimuli["sample_index"] = [1000, 3990, 4900]
    ep = make_epochs(s, -10.0, 20.0)  # 5 kHz: -50..+100 samples
    assert ep.data_V.shape == (3, 2, 151)
    assert ep.time_ms[0] == -10.0 and ep.time_ms[-1] == 20.0
    assert ep.unusable[0].tolist() == ["", ""]
    assert "gap at samples 4000..4019" in ep.unusable[1, 0]
    assert "outside the recording" in ep.unusable[2, 1]
    np.testing.assert_allclose(ep.data_V[0, 1], s.continuous[950:1101, 1] * 1.5e-7)
    assert not ep.data_V[1:].any()


def test_nan_samples_make_a_sweep_unusable():
    s = small_session()
    cont = s.continuous.astype(np.float32)
    cont[2010, 1] = np.nan
    s = replace(s, continuous=cont)
    ep = make_epochs(s, -5.0, 5.0)
    assert ep.unusable[1, 1] == "NaN samples (not recorded)" and ep.unusable[1, 0] == ""
    assert np.isfinite(ep.data_V).all()


def test_epoched_file_is_used_as_is():
    sweeps = np.arange(2 * 1 * 10, dtype=np.float32).reshape(2, 1, 10)
    s = replace(small_session(n_channels=1), continuous=None, trigger=None, sweeps=sweeps,
                pre_trigger_ms=0.4)
    s.stimuli = s.stimuli[:2]
    ep = make_epochs(s, -50.0, 50.0)
    assert ep.t0_ms == -0.4 and ep.data_V.shape == (2, 1, 10)
    np.testing.assert_allclose(ep.data_V[1, 0], sweeps[1, 0] * 1.5e-7)
