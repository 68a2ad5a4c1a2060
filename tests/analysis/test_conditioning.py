"""Conditioning: baseline removal, artifact blanking, zero-phase band-pass and notch."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.conditioning import bandpass, blank, notch, remove_baseline
from hreflex.errors import ConfigError

FS = 5000.0
T_MS = np.arange(-100, 100, 1000 / FS)


def test_baseline_is_the_pre_stimulus_mean():
    x = np.zeros((2, 1, T_MS.size))
    x[0, 0] = 0.3 + (T_MS > 10) * 1.0
    x[1, 0] = -0.2
    out, offset = remove_baseline(x, T_MS, (-55, -5))
    np.testing.assert_allclose(offset[:, 0], [0.3, -0.2])
    np.testing.assert_allclose(out[0, 0, T_MS < 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[0, 0, T_MS > 10], 1.0)


def test_baseline_fallback_is_the_median_after_the_artifact():
    t = np.arange(0, 50, 0.2)
    x = 0.5 + np.where((t > 10) & (t < 14), np.sin((t - 10) / 4 * 2 * np.pi), 0.0)
    x[:5] = 9.0  # artifact
    out, offset = remove_baseline(x[None, None], t, (-55, -5), fallback_from_ms=3.0)
    assert offset[0, 0] == pytest.approx(0.5)


def test_blank_is_a_straight_line():
    x = np.arange(10.0) ** 2
    y = blank(x[None], 3, 6)[0]
    np.testing.assert_allclose(y[[0, 1, 2, 6, 7]], x[[0, 1, 2, 6, 7]])
    np.testing.assert_allclose(y[2:7], np.linspace(4, 36, 5))


def test_notch_removes_mains_and_keeps_emg_band():
    t = np.arange(20000) / FS
    mains, emg = np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 300 * t)
    out = notch((mains + emg)[None, None], FS, 50.0)[0, 0, 5000:-5000]
    np.testing.assert_allclose(out, emg[5000:-5000], atol=0.02)


def test_bandpass_removes_drift_and_keeps_band():
    t = np.arange(20000) / FS
    inband = np.sin(2 * np.pi * 200 * t)
    out = bandpass((inband + 1.0 + 0.5 * t)[None], FS, (10.0, 1000.0))[0, 5000:-5000]
    np.testing.assert_allclose(out, inband[5000:-5000], atol=0.02)


def test_filter_settings_outside_the_sampling_rate_are_config_errors():
    with pytest.raises(ConfigError, match="notch_Hz"):
        notch(np.zeros((1, 100)), 80.0, 50.0)
    with pytest.raises(ConfigError, match="bandpass_Hz"):
        bandpass(np.zeros((1, 100)), 100.0, (60.0, 1000.0))
