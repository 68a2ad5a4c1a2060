"""Conditioning: baseline removal, artifact blanking, zero-phase band-pass and notch."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.conditioning import (
    AUTO_SWEEPS,
    MainsByBlock,
    bandpass,
    blank,
    notch,
    remove_baseline,
    remove_mains,
)
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


@pytest.mark.parametrize(("mains_Hz", "setting"), [(50.0, "auto"), (60.0, "auto"),
                                                   (60.0, "60")])
def test_mains_locked_to_the_stimulus_is_taken_out_under_the_response(mains_Hz, setting):
    """Mains (fundamental + 30 % third harmonic, a phase per sweep) on a drifting baseline:
    fitted on the pre-stimulus window, it is gone after the stimulus too, down to the white
    noise; the response and the drift are left alone."""
    t = np.arange(-55.0, 80.0, 0.1)
    rng = np.random.default_rng(3)
    phase = rng.uniform(0, 2 * np.pi, (6, 1))
    w = 2 * np.pi * mains_Hz * t / 1000
    mains = 15e-6 * np.sin(w + phase) + 4.5e-6 * np.sin(3 * w + 2 * phase)
    drift = 150e-6 * np.sin(2 * np.pi * 2.3 * t / 1000 + rng.uniform(0, 6, (6, 1)))
    wave = np.where((t > 30) & (t < 40), 1e-3 * np.sin(np.pi * (t - 30) / 10), 0.0)
    noise = rng.normal(0, 5e-6, (6, t.size))
    x = (mains + drift + wave + noise).astype(np.float32)
    out, freq = remove_mains(x.copy(), t, (-55.0, -5.0), setting)
    assert freq == mains_Hz
    left = out - drift - wave
    left -= left[:, t < -5].mean(axis=1, keepdims=True)
    assert left[:, t > 0].std() < 6e-6 < (x - drift - wave)[:, t > 0].std() / 2
    assert remove_mains(x.copy(), t, (-55.0, -5.0), "off")[1] is None
    assert remove_mains(x.copy(), t, (-15.0, -5.0), "50")[1] is None  # half a period only


@pytest.mark.parametrize("block", [1, 7, 64, AUTO_SWEEPS + 50])
@pytest.mark.parametrize("setting", ["auto", "50", "off"])
def test_mains_by_block_is_remove_mains_bit_for_bit(block, setting):
    """Sweeps that arrive a block at a time (the reading's blocks): the same frequency and
    the same samples as remove_mains on all of them at once, whatever the block size (also
    blocks smaller than the AUTO_SWEEPS "auto" is judged on)."""
    t = np.arange(-55.0, 80.0, 0.1)
    rng = np.random.default_rng(7)
    n = AUTO_SWEEPS + 100
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    x = (20e-6 * np.sin(2 * np.pi * 60.0 * t / 1000 + phase)
         + rng.normal(0, 5e-6, (n, 2, t.size))).astype(np.float32)
    whole, freq = remove_mains(x.copy(), t, (-55.0, -5.0), setting)
    assert freq == {"auto": 60.0, "50": 50.0, "off": None}[setting]
    streamed, by_block = x.copy(), MainsByBlock((-55.0, -5.0), setting)
    for lo in range(0, n, block):
        by_block(streamed, lo, min(lo + block, n), t)
    assert by_block.freq_Hz == freq
    np.testing.assert_array_equal(streamed, whole)
