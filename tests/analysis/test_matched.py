"""Matched amplitudes (``analysis/matched.py``), and the H recruitment and RDD from them where
H is read near the noise floor (METRICS steps 6 and 7)."""

from __future__ import annotations

import numpy as np

import hreflex.analysis.channel as channel_module
from hreflex.analysis import analyze_session
from hreflex.analysis.matched import matched_amplitudes
from hreflex.analysis.measures import amplitude
from hreflex.validation import run_case, simulate_case

FS_HZ = 5000.0
TIME_MS = np.arange(-20.0, 40.0, 1000.0 / FS_HZ)
SPAN = tuple(int(i) for i in np.searchsorted(TIME_MS, [20.0, 32.0]))


def _shape() -> np.ndarray:
    """A triphasic 12-ms wave from 20 ms, peak-to-peak 1 V (unit shape)."""
    u = np.clip((TIME_MS - 20.0) / 12.0, 0.0, 1.0)
    w = np.sin(np.pi * u) ** 2 * np.sin(3 * np.pi * u)
    return w / np.ptp(w)


def _sweeps(sizes_V: np.ndarray, rng: np.random.Generator, noise_V: float) -> np.ndarray:
    """Sweeps ``size x shape`` + white noise + a random offset and slope (slow drift)."""
    n = sizes_V.size
    drift = (rng.normal(0, 3 * noise_V, (n, 1))
             + rng.normal(0, 3 * noise_V, (n, 1)) * (TIME_MS / 40.0)[None, :])
    return sizes_V[:, None] * _shape()[None, :] + drift + rng.normal(0, noise_V,
                                                                     (n, TIME_MS.size))


def test_matched_amplitudes_average_to_the_size_where_a_peak_to_peak_reads_high():
    rng = np.random.default_rng(7)
    noise = 10e-6
    big = np.full(40, 200e-6)  # the template's sweeps: 20 x the noise
    small = np.full(200, 8e-6)  # a depressed H below the noise
    data = _sweeps(np.r_[big, small], rng, noise)
    template = np.r_[np.ones(big.size, bool), np.zeros(small.size, bool)]
    got = matched_amplitudes(data, TIME_MS, SPAN, template, "p2p")
    assert got is not None
    a, b = SPAN
    # the template is the mean of noisy sweeps: its p2p is the size within its own noise
    np.testing.assert_allclose(np.mean(got[template]), 0.2, rtol=0.03)
    np.testing.assert_allclose(np.mean(got[~template]), 0.008, atol=0.0015)  # mV
    p2p = amplitude(data[~template, a:b], 1000.0 / FS_HZ, "p2p")
    assert np.mean(p2p) > 3 * 0.008  # a peak-to-peak of such sweeps reads mostly noise
    # a sweep that is size x the template exactly gets the configured measure
    exact = 123e-6 * _shape()[None, :]
    one = matched_amplitudes(np.r_[data, exact], TIME_MS, SPAN, np.r_[template, False],
                             "area")
    tmpl = data[template, a:b].mean(axis=0)
    area_t = amplitude(tmpl, 1000.0 / FS_HZ, "area")
    k = np.linalg.lstsq(np.c_[np.ones(b - a), np.linspace(-1, 1, b - a), tmpl],
                        exact[0, a:b], rcond=None)[0][2]
    np.testing.assert_allclose(one[-1], k * area_t, rtol=1e-9)


def test_no_template_no_matched_amplitudes():
    data = np.zeros((5, TIME_MS.size))
    assert matched_amplitudes(data, TIME_MS, SPAN, np.zeros(5, bool), "p2p") is None
    assert matched_amplitudes(data, TIME_MS, SPAN, np.ones(5, bool), "p2p") is None  # flat


def test_a_channel_read_near_the_floor_gets_matched_h_amplitudes_and_says_so():
    """The simulated forearm with a second channel at 1/10 amplitude: the weak channel's
    largest H is read below 15 x the floor, so its H recruitment and RDD come from matched
    amplitudes; the strong channel keeps the configured measure for its recruitment, but its
    H depressed by 5-10 Hz trains is read below 3 x the floor, so its RDD alone is matched.
    A soleus H well above the floor at every frequency keeps the configured measure."""
    session, _ = simulate_case("fcr_healthy", "weak_channel", 2, "both")
    strong, weak = analyze_session(session).channels
    assert weak.recruitment.hmax_observed_mV < 15 * weak.rdd.floor_mV
    assert weak.recruitment.h_amplitude == weak.rdd.amplitude == "matched"
    assert any(m.startswith("H recruitment and RDD from matched") for m in weak.messages)
    assert weak.to_dict()["recruitment"]["h_amplitude"] == "matched"
    assert weak.to_dict()["rdd_info"]["amplitude"] == "matched"
    assert strong.recruitment.hmax_observed_mV > 15 * strong.rdd.floor_mV
    assert strong.recruitment.h_amplitude == "measure" and strong.rdd.amplitude == "matched"
    assert any(m.startswith("RDD from matched amplitudes") for m in strong.messages)
    # the depressed H is small against the floor, yet its ratios stay ordered and positive
    ratios = [row.ratio for row in weak.rdd.rows]
    assert all(r > 0 for r in ratios[1:]) and ratios[-1] < ratios[2] < 1.0
    soleus = analyze_session(simulate_case("soleus_spastic", "preset", 2, "both")[0])
    sol = soleus.channels[0]
    assert min(row.h_mean_mV for row in sol.rdd.rows) > 3 * sol.rdd.floor_mV
    assert sol.rdd.amplitude == sol.recruitment.h_amplitude == "measure"
    assert not any("matched" in m for m in sol.messages)


def test_matched_h_of_a_weak_channel_is_closer_to_the_realised_hmax(monkeypatch):
    """On the weak forearm channel (H about 4.5 x its floor) over five seeds, Hmax/Mmax from
    matched amplitudes is nearer the realised value (the noise-free amplitudes in the signal,
    ``hreflex.validation``) than from the peak-to-peak net of the floor: smaller RMS error,
    every seed within 10 %."""
    errors = {}
    for name, switch in (("matched", channel_module.LOW_SNR_CURVE), ("p2p", 0.0)):
        monkeypatch.setattr(channel_module, "LOW_SNR_CURVE", switch)
        errors[name] = np.array([
            next(g.hmax_mmax_rel for g in run_case("fcr_healthy", "weak_channel", seed)
                 if g.channel == "FCRw") for seed in range(1, 6)])
    assert np.all(np.abs(errors["matched"]) < 0.10)
    assert np.sqrt(np.mean(errors["matched"] ** 2)) < np.sqrt(np.mean(errors["p2p"] ** 2))
