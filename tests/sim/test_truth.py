"""The model's ground truth matches what the synthesiser generates, for every preset.

Expectations come from the preset parameters (Mmax, Hmax/Mmax, wave onsets), from
measurements of noise-free sweeps (peak-to-peak in the wave windows, threshold crossings of
the measured curve) and from the METHODS targets (RDD ratios, Hmax/Mmax ranges).
"""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.sim.presets import PRESETS, get_preset
from hreflex.sim.session import default_schedule, simulate_session
from hreflex.sim.truth import expected_rdd_ratios, rdd_test_intensity, recruitment_truth
from tests.sim.helpers import nonzero_runs, ptp_in_window, rested_sweep

NAMES = sorted(PRESETS)


def measured_curves(preset, intensities, pulse_width_us=None):
    """Measured M and H (mV, (n_intensities, n_channels)) from rested noise-free sweeps."""
    fs = preset.sample_rate_Hz
    sweeps = np.stack([rested_sweep(preset, i, pulse_width_us) for i in intensities])
    M = np.stack(
        [
            ptp_in_window(sweeps[:, :, c], fs, ch.M_wave.onset_ms, ch.M_wave.end_ms, -1)
            for c, ch in enumerate(preset.channels)
        ],
        axis=1,
    )
    H = np.stack(
        [
            ptp_in_window(sweeps[:, :, c], fs, ch.H_wave.onset_ms, ch.H_wave.end_ms, -1)
            for c, ch in enumerate(preset.channels)
        ],
        axis=1,
    )
    return M, H


def crossing(x, y, level):
    """First x where the sampled curve y reaches level (linear interpolation)."""
    k = int(np.argmax(y >= level))
    return x[k - 1] + (level - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1])


@pytest.mark.parametrize("name", NAMES)
def test_amplitudes_match_parameters(name):
    p = get_preset(name)
    truth = recruitment_truth(p)
    for c, (ch, t) in enumerate(zip(p.channels, truth, strict=True)):
        assert t.Mmax_mV == pytest.approx(ch.Mmax_mV, rel=1e-3)
        assert t.Hmax_over_Mmax == pytest.approx(ch.Hmax_over_Mmax, rel=1e-3)
        at_hmax = rested_sweep(p, t.intensity_at_Hmax_mA)[:, c]
        supra = rested_sweep(p, p.max_intensity_mA)[:, c]
        fs = p.sample_rate_Hz
        h = ptp_in_window(at_hmax, fs, ch.H_wave.onset_ms, ch.H_wave.end_ms, axis=0)
        m = ptp_in_window(supra, fs, ch.M_wave.onset_ms, ch.M_wave.end_ms, axis=0)
        assert h == pytest.approx(ch.Hmax_over_Mmax * ch.Mmax_mV, rel=0.01)
        assert m == pytest.approx(ch.Mmax_mV, rel=0.01)
        assert h / m == pytest.approx(ch.Hmax_over_Mmax, rel=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_measured_recruitment_curve_reproduces_truth(name):
    p = get_preset(name)
    truth = recruitment_truth(p)
    step = 0.005 if p.species == "rat" else 0.1
    top = 1.6 if p.species == "rat" else max(t.intensity_at_Hmax_mA for t in truth) * 2.2
    grid = np.arange(0.0, top, step)
    M, H = measured_curves(p, grid)
    for c, t in enumerate(truth):
        assert H[:, c].max() == pytest.approx(t.Hmax_mV, rel=0.01)
        assert abs(grid[np.argmax(H[:, c])] - t.intensity_at_Hmax_mA) <= step
        assert crossing(grid, H[:, c], 0.05 * t.Hmax_mV) == pytest.approx(
            t.H_threshold_mA, abs=step / 2
        )
        assert crossing(grid, M[:, c], 0.05 * t.Mmax_mV) == pytest.approx(
            t.M_threshold_mA, abs=step / 2
        )
    sol = truth[0]
    if p.species == "rat":  # METHODS: H threshold above M's, H >= 90 % Hmax at max M
        assert sol.H_threshold_mA > sol.M_threshold_mA
        assert H[-1, 0] >= 0.9 * H[:, 0].max() and M[-1, 0] >= 0.99 * sol.Mmax_mV
    else:  # human: H first, and abolished by collision at supramaximal M
        assert sol.H_threshold_mA < sol.M_threshold_mA
        assert H[-1, 0] < 0.05 * H[:, 0].max()


@pytest.mark.parametrize("name", NAMES)
def test_latencies_artifact_and_wave_shapes(name):
    p = get_preset(name)
    fs = p.sample_rate_Hz
    truth = recruitment_truth(p)
    sweep = rested_sweep(p, truth[0].intensity_at_Hmax_mA)
    for c, (ch, t) in enumerate(zip(p.channels, truth, strict=True)):
        runs = nonzero_runs(sweep[:, c])
        assert len(runs) == 3  # artifact, M, H separated by silence
        (a0, a1), (m0, m1), (h0, h1) = runs
        assert (
            a0 == 0
            and a1 / fs * 1000 <= (1.0 if p.species == "rat" else 2.5) + p.pulse_width_us / 1000
        )
        for (s0, s1), onset, end in (
            (runs[1], t.M_onset_ms, t.M_end_ms),
            (runs[2], t.H_onset_ms, t.H_end_ms),
        ):
            assert 0 < s0 / fs * 1000 - onset <= 1000 / fs + 1e-9  # first sample after onset
            assert -1e-9 <= end - (s1 - 1) / fs * 1000 <= 1000 / fs + 1e-9
        for (s0, s1), wave in ((runs[1], ch.M_wave), (runs[2], ch.H_wave)):
            x = sweep[s0:s1, c]
            assert np.count_nonzero(np.diff(np.sign(x))) == wave.phases - 1
            assert np.sign(x[0]) == wave.polarity
            # smooth onset: no first step bigger than 10 % of the wave's p2p
            assert abs(x[0]) < 0.1 * np.ptp(x)
    sol = truth[0]
    if name.startswith("soleus"):  # METHODS latencies
        assert 5.5 <= sol.M_onset_ms <= 8 and sol.M_end_ms <= 21
        assert 28 <= sol.H_onset_ms <= 33 and sol.H_end_ms <= 44
    elif name == "fcr_healthy":
        assert 3 <= sol.M_onset_ms <= 4 and 14.5 <= sol.H_onset_ms <= 16.5
    else:
        assert sol.M_onset_ms == pytest.approx(2, abs=0.3)
        assert sol.H_onset_ms == pytest.approx(6.4, abs=0.4)


def test_hmax_mmax_in_literature_ranges():
    ratio = {n: recruitment_truth(get_preset(n))[0].Hmax_over_Mmax for n in NAMES}
    assert 0.3 <= ratio["soleus_healthy"] <= 0.65
    assert 0.6 <= ratio["soleus_spastic"] <= 0.9
    assert ratio["fcr_healthy"] < ratio["soleus_healthy"]


def test_longer_pulses_shift_h_more_than_m_and_keep_maxima():
    p = get_preset("soleus_healthy")
    wide, narrow = recruitment_truth(p, 1000.0)[0], recruitment_truth(p, 500.0)[0]
    assert narrow.M_threshold_mA > wide.M_threshold_mA
    assert narrow.H_threshold_mA / wide.H_threshold_mA > narrow.M_threshold_mA / wide.M_threshold_mA
    grid = np.arange(0.0, 100.0, 0.25)
    (M1, H1), (M5, H5) = measured_curves(p, grid, 1000.0), measured_curves(p, grid, 500.0)
    assert H5[:, 0].max() == pytest.approx(H1[:, 0].max(), rel=0.01)
    assert M5[:, 0].max() == pytest.approx(M1[:, 0].max(), rel=0.01)


@pytest.fixture(scope="module")
def rdd_measured():
    """Measured RDD ratios from noise-free simulated default RDD blocks, per preset."""
    out = {}
    for name in NAMES:
        p = get_preset(name)
        session, _ = simulate_session(p, default_schedule(p, "rdd"), noise=False)
        volts = session.to_volts(session.continuous)[:, 0] * 1e3
        fs, ch = session.sample_rate_Hz, p.channels[0]
        idx = session.stimuli["sample_index"]
        offs = np.arange(int(ch.H_wave.end_ms * fs / 1000) + 1)
        sweeps = volts[idx[:, None] + offs]
        h = ptp_in_window(sweeps, fs, ch.H_wave.onset_ms, ch.H_wave.end_ms, axis=1)
        m = ptp_in_window(sweeps, fs, ch.M_wave.onset_ms, ch.M_wave.end_ms, axis=1)
        st = session.stimuli
        later = st["pulse_index"] >= 1
        freqs = np.unique(st["nominal_frequency_Hz"])
        means = np.array([h[later & (st["nominal_frequency_Hz"] == f)].mean() for f in freqs])
        out[name] = (dict(zip(freqs.tolist(), (means / means[0]).tolist(), strict=True)), m)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_rdd_ratios_match_expected(name, rdd_measured):
    measured, m = rdd_measured[name]
    expected = expected_rdd_ratios(
        get_preset(name), intensity_mA=round(rdd_test_intensity(get_preset(name)), 2)
    )
    assert measured.keys() == expected.keys()
    for f in expected:
        assert measured[f] == pytest.approx(expected[f], abs=0.02)
    ratios = [measured[f] for f in sorted(measured)]
    assert all(a > b for a, b in zip(ratios, ratios[1:], strict=False))  # more at higher f
    assert np.ptp(m) <= 0.005 * m.mean()  # M is not depressed


def test_rdd_calibration_targets(rdd_measured):
    healthy, spastic = rdd_measured["soleus_healthy"][0], rdd_measured["soleus_spastic"][0]
    assert 0.85 <= healthy[0.2] <= 0.95 and 0.4 <= healthy[1.0] <= 0.5
    assert 0.25 <= healthy[2.0] <= 0.35 and 0.1 <= healthy[5.0] <= 0.2
    assert 0.75 <= spastic[1.0] <= 0.85 and 0.5 <= spastic[5.0] <= 0.6
    assert all(spastic[f] > healthy[f] + 0.1 for f in (1.0, 2.0, 5.0, 10.0))
    rat = rdd_measured["rat_sci"][0]
    assert min(rat) == 0.3 and rat[5.0] > healthy[5.0]


def test_expected_rdd_ratios_include_incomplete_recovery():
    p = get_preset("soleus_healthy")
    rested = expected_rdd_ratios(p, (0.1, 5.0, 1.0), rest_s=60)
    # 1 Hz train 1 s after a 5 Hz train starts depressed: lower mean than after a full rest
    rushed = expected_rdd_ratios(p, (0.1, 5.0, 1.0), rest_s=1.0)
    assert rushed[1.0] < rested[1.0] - 0.02
