"""Streaming synthesiser: determinism, streaming semantics, noise content, variability."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.errors import ConfigError
from hreflex.schedule import concat, fixed
from hreflex.sim.presets import get_preset
from hreflex.sim.session import simulate_session
from hreflex.sim.synth import EmgSynth
from hreflex.sim.truth import intensity_for_H_fraction, recruitment_truth
from tests.sim.helpers import ptp_in_window

SOL = get_preset("soleus_healthy")
STIMS = [(1000, 20.0), (6000, 25.0), (6100, 30.0), (9990, 22.0)]


def run(chunks, register_early=True, seed=5, p_contraction=0.3):
    s = EmgSynth(SOL, 5000, seed=seed, contraction_probability=p_contraction)
    pending = list(STIMS)
    if register_early:
        for i, a in pending:
            s.stimulate(i, a, 1000)
        pending = []
    out = []
    for n in chunks:
        while pending and pending[0][0] < s.clock + n:  # just in time for its block
            s.stimulate(pending[0][0], pending[0][1], 1000)
            pending.pop(0)
        out.append(s.generate(n))
    return np.concatenate(out)


def test_output_independent_of_block_split_and_registration_time():
    whole = run([12000])
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, 12000), 30, replace=False))
    chunks = np.diff(np.r_[0, cuts, 12000])
    assert np.array_equal(run(chunks), whole)
    assert np.array_equal(run(chunks, register_early=False), whole)
    assert np.array_equal(run([12000], seed=5), whole)
    assert not np.allclose(run([12000], seed=6), whole)


def test_stimulus_registered_inside_the_generated_block_adds_its_tail():
    ref = EmgSynth(SOL, 5000, noise=False)
    ref.stimulate(1000, 25.0, 1000)
    full = ref.generate(2000)
    late = EmgSynth(SOL, 5000, noise=False)
    head = late.generate(1020)  # the stimulus sample 1000 is already out
    late.stimulate(1000, 25.0, 1000)
    tail = late.generate(980)
    assert not head.any()
    assert np.array_equal(tail, full[1020:])


def test_future_stimulus_and_order_check():
    s = EmgSynth(SOL, 5000, noise=False)
    s.stimulate(50_000, 25.0, 1000)
    assert not s.generate(50_000).any()
    assert s.generate(10)[0].any()  # artifact at the stimulus sample
    with pytest.raises(ValueError, match="registered after"):
        s.stimulate(49_000, 25.0, 1000)


def test_noise_free_sweep_is_exactly_artifact_m_and_h():
    s = EmgSynth(SOL, 5000, noise=False)
    t = s.stimulate(100, 25.0, 1000)
    x = s.generate(600) * 1e3
    assert not x[:100].any()
    for c, ch in enumerate(SOL.channels):
        sweep = x[100:, c]
        assert ptp_in_window(sweep, 5000, ch.M_wave.onset_ms, ch.M_wave.end_ms, 0) == pytest.approx(
            t.M_mV[c], rel=1e-9
        )
        assert ptp_in_window(sweep, 5000, ch.H_wave.onset_ms, ch.H_wave.end_ms, 0) == pytest.approx(
            t.H_mV[c], rel=1e-9
        )
    assert np.array_equal(t.M_actual_mV, t.M_mV) and t.depression == 1.0 and not t.contraction


def test_extra_channels_copy_preset_channels():
    s = EmgSynth(SOL, 5000, n_channels=5, noise=False)
    assert s.channel_names == ["SOL", "MG", "SOL_2", "MG_2", "SOL_3"]
    s.stimulate(0, 22.0, 1000)
    x = s.generate(400)
    assert np.array_equal(x[:, 0], x[:, 2]) and np.array_equal(x[:, 1], x[:, 3])
    assert not np.array_equal(x[:, 0], x[:, 1])
    noisy = EmgSynth(SOL, 5000, n_channels=3).generate(5000)
    d = np.diff(noisy, axis=0)  # suppresses mains, keeps the band-limited background
    assert abs(np.corrcoef(d[:, 0], d[:, 2])[0, 1]) < 0.1  # own background
    assert EmgSynth(SOL, 5000, n_channels=1).generate(10).shape == (10, 1)


@pytest.mark.parametrize("name", ["soleus_healthy", "rat_sci"])
def test_background_dc_mains_and_band(name):
    p = get_preset(name)
    fs, n = p.sample_rate_Hz, int(20 * p.sample_rate_Hz)
    x = EmgSynth(p, fs, seed=2).generate(n) * 1e6  # µV
    t = np.arange(n) / fs
    w = 2 * np.pi * p.mains_Hz * t
    basis = np.column_stack([np.ones(n), np.sin(w), np.cos(w), np.sin(3 * w), np.cos(3 * w)])
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    for c, ch in enumerate(p.channels):
        assert coef[0, c] == pytest.approx(ch.dc_offset_mV * 1e3, abs=1.0)
        assert np.hypot(*coef[1:3, c]) == pytest.approx(p.mains_uV, rel=0.1)
        assert np.hypot(*coef[3:5, c]) == pytest.approx(0.3 * p.mains_uV, rel=0.25)
        resid = x[:, c] - basis @ coef[:, c]
        assert resid.std() == pytest.approx(ch.background_uV, rel=0.1)
    f = np.fft.rfftfreq(n, 1 / fs)
    psd = np.abs(np.fft.rfft(resid)) ** 2
    lo, hi = p.emg_band_Hz
    in_band = psd[(f > 2 * lo) & (f < hi / 2)].mean()
    assert psd[(f > 0.1) & (f < lo / 8)].mean() < 0.1 * in_band
    assert psd[f > min(4 * hi, 0.45 * fs)].mean() < 0.25 * in_band


def test_clipping_at_adc_range():
    p = get_preset("rat_sci")  # 2 mV/mA artifact: 6 mA -> 12 mV > 10 mV range
    s = EmgSynth(p, p.sample_rate_Hz, seed=1)
    s.stimulate(100, 6.0, 200)
    x = s.generate(2000)
    assert x.max() == pytest.approx(p.adc_range_mV * 1e-3, rel=1e-12)
    assert (x >= -p.adc_range_mV * 1e-3).all()


def test_depression_within_a_train_and_m_unaffected():
    s = EmgSynth(SOL, 5000, noise=False)
    truths = [s.stimulate(k * 1000, 18.0, 1000) for k in range(10)]  # 5 Hz train
    d = np.array([t.depression for t in truths])
    assert d[0] == 1.0 and np.all(np.diff(d) < 0) and d[-1] < 0.3
    assert all(np.array_equal(t.M_mV, truths[0].M_mV) for t in truths)
    h = np.array([t.H_mV[0] for t in truths])
    assert h == pytest.approx(truths[0].H_rested_mV[0] * d, rel=1e-12)


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="contraction_probability"):
        EmgSynth(SOL, 5000, contraction_probability=1.0)
    with pytest.raises(ConfigError, match="n_channels"):
        EmgSynth(SOL, 5000, n_channels=0)
    with pytest.raises(ConfigError, match="sample_rate_Hz"):
        EmgSynth(SOL, 0)


def measured(session, truth_channel=0):
    """Per-stimulus H and M p2p (mV) and pre-stimulus RMS (µV) from a session's signal."""
    fs = session.sample_rate_Hz
    ch = SOL.channels[truth_channel]
    volts = session.to_volts(session.continuous)[:, truth_channel]
    idx = session.stimuli["sample_index"]
    post = volts[idx[:, None] + np.arange(int(ch.H_wave.end_ms * fs / 1000) + 1)] * 1e3
    pre = volts[idx[:, None] + np.arange(-int(0.1 * fs), -int(0.005 * fs))] * 1e6
    return (
        ptp_in_window(post, fs, ch.H_wave.onset_ms, ch.H_wave.end_ms, 1),
        ptp_in_window(post, fs, ch.M_wave.onset_ms, ch.M_wave.end_ms, 1),
        pre.std(axis=1),
    )


def test_trial_to_trial_variability():
    rising = intensity_for_H_fraction(SOL, 0.5)
    plateau = recruitment_truth(SOL)[0].intensity_at_Hmax_mA
    sched = concat(
        fixed(rising, 150, isi_s=5),
        fixed(plateau, 150, isi_s=5),
        fixed(SOL.max_intensity_mA, 60, isi_s=5),
        gap_s=5,
    )
    session, _ = simulate_session(SOL, sched, seed=11, sample_rate_Hz=2000)
    h, m, _ = measured(session)
    cv = lambda v: v.std() / v.mean()  # noqa: E731
    assert 0.10 <= cv(h[5:150]) <= 0.20  # METHODS: 13-17 % on the rising limb
    assert 0.02 <= cv(h[155:300]) <= 0.05  # METHODS: ~3 % at the plateau
    assert cv(m[300:]) < 0.02  # small M variability


def test_contraction_raises_background_and_facilitates_h():
    sched = fixed(intensity_for_H_fraction(SOL, 0.5), 200, isi_s=4)
    session, truth = simulate_session(
        SOL, sched, seed=3, sample_rate_Hz=2000, contraction_probability=0.3
    )
    h, _, pre_rms = measured(session)
    flagged = truth.contraction
    assert 0.1 < flagged.mean() < 0.5
    assert pre_rms[flagged].min() > 2 * np.median(pre_rms[~flagged])
    assert h[flagged].mean() / h[~flagged][5:].mean() == pytest.approx(
        SOL.contraction_H_gain, rel=0.12
    )
    quiet = simulate_session(SOL, sched, seed=3, sample_rate_Hz=2000)[1]
    assert not quiet.contraction.any()
