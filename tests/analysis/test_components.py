"""Components: whole waves across levels, split where the intensity profile changes, demixed."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.components import active_runs, components, moving_rms, split_run

FS = 5000.0
T = np.arange(-20, 60, 1000 / FS)
LEVELS = np.linspace(0, 1, 10)


def _lobe(start, stop, sign):
    """A raised-cosine lobe exactly 0 outside [start, stop] ms."""
    u = (T - start) / (stop - start)
    return np.where((u > 0) & (u < 1), sign * np.sin(np.pi * u) ** 2, 0.0)


def _find(x, sigma=2e-6, smooth=5):
    noise = np.random.default_rng(0).normal(0, sigma, x.shape)
    x = x + noise
    act = moving_rms(x, smooth)
    active = (act > 5 * sigma).any(axis=0)
    return components(x, np.full(x.shape[0], sigma), active, int(np.searchsorted(T, 2.0)),
                      T.size, smooth, smooth)


def test_a_biphasic_wave_with_a_quiet_stretch_between_its_phases_is_one_component():
    """The phases 28.5-32.5 and 33.5-37.5 ms (1 ms at 0 between them) share one profile."""
    wave = _lobe(28.5, 32.5, -1) + 0.6 * _lobe(33.5, 37.5, +1)
    x = (LEVELS[:, None] * 2e-3) * wave[None, :]
    comps = _find(x)
    assert len(comps) == 1
    c = comps[0]
    assert T[c.start] == pytest.approx(28.5, abs=0.5) and T[c.stop - 1] == pytest.approx(
        37.5, abs=0.5)


def test_an_h_reflex_right_after_the_m_wave_is_its_own_component():
    m_profile = 1 / (1 + np.exp(-(LEVELS - 0.5) / 0.08))  # grows and saturates
    h_profile = np.exp(-0.5 * ((LEVELS - 0.35) / 0.15) ** 2)  # rises then falls
    m, h = _lobe(4, 12, -1) - _lobe(12, 21, -1) * 0.5, _lobe(21, 28, 1) - _lobe(28, 35, 1)
    x = 3e-3 * m_profile[:, None] * m + 1e-3 * h_profile[:, None] * h
    comps = _find(x)
    assert len(comps) == 2
    assert T[comps[0].stop] == pytest.approx(21.0, abs=0.6)
    # demixed: the H waveform holds no M before 21 ms, the M waveform no H after it
    early, late = T < 20, T > 22
    assert np.abs(comps[1].waveform_V[early]).max() < 0.02 * np.abs(comps[1].waveform_V).max()
    assert np.abs(comps[0].waveform_V[late]).max() < 0.02 * np.abs(comps[0].waveform_V).max()


def test_one_wave_whose_size_grows_is_never_split():
    wave = _lobe(6, 10, -1) + _lobe(10, 14, 1) - 0.3 * _lobe(14, 20, 1)
    x = (LEVELS**2)[:, None] * 5e-3 * wave[None, :]
    assert len(_find(x)) == 1


def test_runs_bridge_short_gaps_only():
    mask = np.zeros(100, bool)
    mask[10:20] = mask[22:30] = mask[40:50] = True
    assert active_runs(mask, 0, 100, min_len=3, bridge=2) == [(10, 30), (40, 50)]
    assert active_runs(mask, 0, 100, min_len=12, bridge=2) == [(10, 30)]


@pytest.mark.parametrize("width", [1, 2, 3, 4, 11, 40])
def test_moving_mean_is_scipys_uniform_filter(width):
    """The numpy moving mean (no scipy import at analysis time) equals
    ``scipy.ndimage.uniform_filter1d(mode="nearest")``, edges and even widths included."""
    from scipy.ndimage import uniform_filter1d

    from hreflex.analysis.components import moving_mean

    x = np.random.default_rng(width).normal(size=(3, 2, 25)).astype(np.float32) ** 2
    got = moving_mean(x, width)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, uniform_filter1d(x, width, axis=-1, mode="nearest"),
                               rtol=1e-6, atol=1e-7)


def test_a_second_look_cuts_a_small_wave_off_a_large_one_whose_latency_shifts():
    """A large triphasic wave whose latency shifts by 16 samples from the top level to the
    lowest (its runs' best cut lies inside it, between stretches of one profile, and is not
    kept) followed without a gap by a 30x smaller wave of another profile (like an H right
    behind a large M). One run without a second look; with ``apart`` the small wave is cut
    off where it starts (sample 270), the large one keeps its start."""
    t = np.arange(400)

    def wave(a, b):
        u = (t - a) / (b - a)
        return np.where((u > 0) & (u < 1), np.sin(np.pi * u) * np.sin(3 * np.pi * u), 0.0)

    size, shift = [0.05, 0.1, 0.4, 0.7, 0.9, 1.0], [16, 12, 8, 4, 2, 0]
    small = np.array([0.0, 0.6, 1.0, 0.6, 0.3, 0.2])
    x = 10 * np.stack([a * wave(s, 250 + s) for a, s in zip(size, shift, strict=True)])
    x += 0.3 * np.outer(small, wave(270, 400))
    x += np.random.default_rng(0).normal(0, 1e-3, x.shape)
    sigma = np.full(6, 1e-3)
    assert split_run(x, 0, 400, 10, sigma) == [(0, 400)]
    spans = split_run(x, 0, 400, 10, sigma, apart=True)
    assert spans[0][0] == 0 and spans[-1][1] == 400
    assert 255 <= spans[-1][0] <= 272  # the small wave's own component starts near 270
