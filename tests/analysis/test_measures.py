"""Per-sweep measures on hand-made waves with known amplitudes, areas and onsets."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.measures import background_rms, measure_wave, response_latency
from hreflex.analysis.windows import ChannelWindows, Window

FS = 10000.0
T = np.round(np.arange(-20, 40, 1000 / FS), 6)  # ms


def _windows(m=(4.0, 16.0), h=(20.0, 30.0), blank=1.0) -> ChannelWindows:
    return ChannelWindows(blank, Window(*m), Window(*h), "test", smooth_ms=1.0)


def _one(x_mV: np.ndarray) -> np.ndarray:
    return (x_mV * 1e-3)[None, None, :]


def test_amplitudes_of_a_sine_period():
    a = 2.0  # mV
    x = np.where((T >= 5) & (T <= 15), a * np.sin(2 * np.pi * (T - 5) / 10), 0.0)
    # window = one period, 100 samples (the sample at 15.0 ms is outside)
    m = measure_wave(_one(x), T, [_windows(m=(5.0, 14.95))], "m", np.array([[1e-5]]), 3.0)
    assert m.p2p_mV[0, 0] == pytest.approx(2 * a, rel=1e-3)
    assert m.area_mVms[0, 0] == pytest.approx(20 * a / np.pi, rel=2e-3)  # integral of |a sin|
    assert m.rms_mV[0, 0] == pytest.approx(a / np.sqrt(2), rel=2e-3)
    assert m.mean_rect_mV[0, 0] == pytest.approx(2 * a / np.pi, rel=2e-3)
    assert m.peak_ms[0, 0] == pytest.approx(7.5, abs=0.1)


def test_onset_of_a_ramp_is_the_threshold_crossing():
    x = np.clip(2.0 * (T - 6.0), 0, None) * (T < 9)  # 2 mV/ms from 6 ms, up to 6 mV at 9 ms
    noise_V = np.array([[0.1e-3 / 3]])  # threshold 3 x noise = 0.1 mV -> reached at 6.05 ms
    m = measure_wave(_one(x), T, [_windows()], "m", noise_V, 3.0)
    assert m.onset_ms[0, 0] == pytest.approx(6.05, abs=1e-9)


def test_onset_of_a_wave_whose_second_phase_is_larger():
    # -1 mV phase 22-25 ms, then +3 mV phase 25-28 ms: onset is the first phase's
    x = np.where((T > 22) & (T < 25), -np.sin(np.pi * (T - 22) / 3), 0.0)
    x += np.where((T > 25) & (T < 28), 3 * np.sin(np.pi * (T - 25) / 3), 0.0)
    h = measure_wave(_one(x), T, [_windows()], "h", np.array([[1e-6]]), 3.0)
    assert h.peak_ms[0, 0] == pytest.approx(26.5, abs=0.1)
    assert h.onset_ms[0, 0] == pytest.approx(22.0, abs=0.05)


def test_onset_search_reaches_before_the_window():
    x = np.where((T > 18) & (T < 26), np.sin(np.pi * (T - 18) / 8), 0.0)  # starts 2 ms early
    h = measure_wave(_one(x), T, [_windows()], "h", np.array([[1e-6]]), 3.0)
    assert h.onset_ms[0, 0] == pytest.approx(18.0, abs=0.05)


def test_no_response_has_no_onset_and_a_noise_amplitude():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.01, T.size)  # 10 uV noise, no wave
    h = measure_wave(_one(x), T, [_windows()], "h", np.array([[10e-6]]), 5.0)
    assert np.isnan(h.onset_ms[0, 0])
    assert 0 < h.p2p_mV[0, 0] < 0.1


def test_clipping_and_channels_without_windows():
    x = np.stack([np.sin(T), np.cos(T)])[None] * 1e-3  # (1, 2, n)
    sat = np.zeros(x.shape, bool)
    sat[0, 0, np.searchsorted(T, 10.0)] = True  # inside M window of channel 0
    sat[0, 1, np.searchsorted(T, -10.0)] = True  # before the stimulus: irrelevant
    m = measure_wave(x, T, [_windows(), None], "m", np.full((1, 2), 1e-5), 3.0, sat)
    assert m.clipped.tolist() == [[True, False]]
    assert np.isnan(m.p2p_mV[0, 1]) and np.isfinite(m.p2p_mV[0, 0])


def test_background_rms_is_about_the_window_mean():
    x = np.where(T < 0, 0.5 + np.where(np.arange(T.size) % 2, 1.0, -1.0), 0.0)[None, None] * 1e-6
    np.testing.assert_allclose(background_rms(x, T, (-15, -5)), [[1e-6]])
    assert np.isnan(background_rms(x, T, (-100, -90))).all()


def test_response_latency_of_a_mean_sweep():
    x = np.where((T > 7.5) & (T < 12.5), np.sin(np.pi * (T - 7.5) / 5), 0.0) * 1e-3
    onset, peak = response_latency(x, T, _windows(), "m", 1e-6, 3.0)
    assert onset == pytest.approx(7.5, abs=0.05) and peak == pytest.approx(10.0, abs=0.1)
