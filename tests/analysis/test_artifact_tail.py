"""The artifact tail under M: fitted on its own stretch, removed from the sweeps
(``analysis/artifact_tail.py``, METRICS step 3)."""

from __future__ import annotations

import numpy as np

from hreflex.analysis import analyze_session, config_from_dict
from hreflex.analysis.artifact_tail import fit_tail, remove_tail, tail_V
from hreflex.validation import simulate_case

FS_HZ = 4000.0
TIME_MS = np.arange(-20.0, 40.0, 1000.0 / FS_HZ)
LEVELS_MA = np.array([5.0, 10.0, 20.0, 30.0, 40.0])


def _wave(onset_ms: float, size_mV: float) -> np.ndarray:
    """A biphasic wave of 8 ms (one sine period, smooth start) from ``onset_ms``, mV."""
    x = np.clip((TIME_MS - onset_ms) / 8.0, 0.0, 1.0)
    return size_mV * np.sin(2 * np.pi * x) * np.sin(np.pi * x) ** 2


def _means(tail_shape: np.ndarray, rng: np.random.Generator, noise_mV: float = 0.005):
    """Level means (L, n) in V: a tail scaled by intensity, an M wave from 3.5 ms growing
    with intensity, white noise."""
    tail = -0.06 * LEVELS_MA[:, None] * tail_shape[None, :]  # mV
    m = np.stack([_wave(3.5, 6.0 * min(1.0, i / 30.0)) for i in LEVELS_MA])
    noise = rng.normal(0.0, noise_mV, (LEVELS_MA.size, TIME_MS.size))
    return 1e-3 * (tail + m + noise), noise_mV * 1e-3 * np.ones(LEVELS_MA.size)


def _exp_tail(tau_ms: float, t0_ms: float = 1.5) -> np.ndarray:
    return np.where(TIME_MS >= t0_ms, np.exp(-(TIME_MS - t0_ms) / tau_ms), 0.0)


def test_an_exponential_tail_is_found_and_its_removal_restores_the_wave():
    rng = np.random.default_rng(3)
    means, sd = _means(_exp_tail(2.5), rng)
    # the stretch reaches 0.5 ms into the wave, as a segmentation may cut it
    fit = fit_tail(means, TIME_MS, (1.5, 4.0), LEVELS_MA, sd)
    assert fit is not None
    assert abs(np.log(fit.tau_ms / 2.5)) < 0.06  # the grid steps by 12 %
    np.testing.assert_allclose(fit.amplitude_V, -0.06e-3 * LEVELS_MA, rtol=0.03)
    assert fit.span_ms[1] <= 4.0
    clean = means.copy()
    remove_tail(clean, TIME_MS, LEVELS_MA, fit)
    truth = np.stack([_wave(3.5, 6.0 * min(1.0, i / 30.0)) for i in LEVELS_MA]) * 1e-3
    win = (TIME_MS >= 3.5) & (TIME_MS <= 11.5)
    p2p_clean = np.ptp(clean[:, win], axis=1)
    p2p_raw = np.ptp(means[:, win], axis=1)
    p2p_true = np.ptp(truth[:, win], axis=1)
    assert np.all(np.abs(p2p_clean[2:] / p2p_true[2:] - 1) < 0.01)
    assert np.all(np.abs(p2p_raw[2:] / p2p_true[2:] - 1) > 0.02)  # the tail was there


def test_a_tail_between_the_coarse_time_constants_is_fitted_to_its_own():
    """tau 1.5 ms lies between two values of the 12 %-step grid: at this signal-to-noise
    the nearest grid value leaves residuals of several noise SDs; the refined one does not."""
    rng = np.random.default_rng(3)
    means, sd = _means(_exp_tail(1.5), rng)
    fit = fit_tail(means, TIME_MS, (1.5, 3.5), LEVELS_MA, sd)
    assert fit is not None
    assert abs(fit.tau_ms / 1.5 - 1) < 0.02
    assert fit.residual <= 3.0
    clean = means.copy()
    remove_tail(clean, TIME_MS, LEVELS_MA, fit)
    truth = np.stack([_wave(3.5, 6.0 * min(1.0, i / 30.0)) for i in LEVELS_MA]) * 1e-3
    win = (TIME_MS >= 3.5) & (TIME_MS <= 11.5)
    p2p_clean, p2p_true = np.ptp(clean[:, win], axis=1), np.ptp(truth[:, win], axis=1)
    assert np.all(np.abs(p2p_clean[2:] / p2p_true[2:] - 1) < 0.01)


def test_tail_amplitude_is_interpolated_in_intensity_and_zero_before_its_start():
    rng = np.random.default_rng(4)
    means, sd = _means(_exp_tail(3.0), rng)
    fit = fit_tail(means, TIME_MS, (1.5, 3.5), LEVELS_MA, sd)
    tails = tail_V(fit, TIME_MS, np.array([15.0, 100.0]))
    at = np.searchsorted(TIME_MS, fit.t0_ms)
    assert np.all(tails[:, :at] == 0)
    np.testing.assert_allclose(tails[0, at], -0.06e-3 * 15.0, rtol=0.05)
    np.testing.assert_allclose(tails[1, at], fit.amplitude_V[-1], rtol=1e-12)  # held


def test_no_tail_or_a_tail_the_decay_does_not_explain_is_left_alone():
    rng = np.random.default_rng(5)
    quiet, sd = _means(np.zeros_like(TIME_MS), rng)
    assert fit_tail(quiet, TIME_MS, (1.5, 3.5), LEVELS_MA, sd) is None
    # a shelf that bends the other way (as on a real Cadwell gastrocnemius export): no
    # single exponential follows it, nothing is extrapolated under the wave
    shelf = np.where(TIME_MS >= 1.5, 1.0 - 0.08 * np.clip(TIME_MS - 1.5, 0, None) ** 1.5, 0.0)
    bent, sd = _means(np.clip(shelf, 0.0, None), rng)
    assert fit_tail(bent, TIME_MS, (1.5, 3.5), LEVELS_MA, sd) is None


def test_forearm_m_wave_on_a_long_artifact_tail():
    """The simulated forearm with a tail of τ 2.5 ms into its 3.5 ms M-wave: the tail is
    removed (and said so), so Mmax and the M onset are the wave's own; with the M window
    given by hand the signal is measured as it is."""
    session, truth = simulate_case("fcr_healthy", "long_artifact", 2, "both")
    ch = analyze_session(session).channels[0]
    t = truth.channels[0]
    assert any(m.startswith("artifact tail removed before M") for m in ch.messages)
    assert abs(ch.recruitment.mmax_mV / t.Mmax_mV - 1) < 0.01
    assert abs(ch.latency_ms["m"] - t.M_onset_ms) < 0.2
    manual = config_from_dict({"windows": {"manual": {"*": {"m_ms": [3.5, 12.25]}}}})
    given = analyze_session(session, manual).channels[0]
    assert not any("artifact tail" in m for m in given.messages)
    assert given.recruitment.mmax_mV / t.Mmax_mV - 1 > 0.02  # the tail is measured too
