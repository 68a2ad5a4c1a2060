"""Background-EMG gating on known signals: sine bursts of known RMS, gaps, excluded responses."""

from __future__ import annotations

import numpy as np

from hreflex.acquisition.config import GatingConfig
from hreflex.acquisition.gating import BackgroundGate

RATE = 2000.0


def _gate(hold_s=0.5, lo=5.0, hi=20.0, window_ms=50.0) -> BackgroundGate:
    return BackgroundGate(GatingConfig("SOL", window_ms, lo, hi, hold_s, 10.0), RATE)


def _sine(n: int, rms_uV: float, dc_V: float = 0.0) -> np.ndarray:
    """A 100 Hz sine of ``rms_uV`` RMS (exact over whole periods: 20 samples at 2 kHz)."""
    t = np.arange(n) / RATE
    return dc_V + rms_uV * 1e-6 * np.sqrt(2) * np.sin(2 * np.pi * 100 * t)


def test_rms_per_window_ignores_dc_and_ready_after_the_hold():
    g = _gate(hold_s=0.5)
    assert not g.ready()
    g.feed(0, _sine(800, 10.0, dc_V=0.003))  # 0.4 s in range, with a 3 mV offset
    assert abs(g.latest_rms_uV - 10.0) < 1e-6
    assert not g.ready()  # 8 windows of 50 ms: less than the 0.5 s hold
    g.feed(800, _sine(200, 10.0))
    assert g.ready()  # 10 windows = 0.5 s


def test_a_burst_restarts_the_hold_and_chunking_does_not_matter():
    x = np.concatenate([_sine(2000, 10.0), _sine(100, 60.0), _sine(900, 10.0)])
    ready_at = []
    for chunk in (7, 100, 3000):
        g = _gate(hold_s=0.5)
        states = []
        for a in range(0, len(x), chunk):
            g.feed(a, x[a:a + chunk])
            states.append((a + len(x[a:a + chunk]), g.ready()))
        ready_at.append(states[-1][1])
        # ready before the burst (1 s in range), not during the 0.45 s after it
        assert all(ok for end, ok in states if 1000 <= end <= 2000)
        assert not any(ok for end, ok in states if 2100 <= end <= 2000 + 100 + 850)
    assert ready_at == [False, False, False]  # 900 samples after the burst < 1000 needed
    g = _gate(hold_s=0.5)
    g.feed(0, np.concatenate([x, _sine(200, 10.0)]))
    assert g.ready()


def test_too_quiet_and_gaps_restart_the_hold():
    g = _gate(hold_s=0.2, lo=5.0)
    g.feed(0, _sine(1000, 2.0))  # below min_rms_uV
    assert not g.ready()
    g = _gate(hold_s=0.2)
    g.feed(0, _sine(1000, 10.0))
    assert g.ready()
    g.feed(1500, _sine(300, 10.0))  # 500 samples never arrived
    assert not g.ready()  # 300 samples (200 after the next window boundary) < 400
    g.feed(1800, _sine(300, 10.0))
    assert g.ready()


def test_windows_of_an_earlier_response_are_left_out():
    x = _sine(3000, 10.0)
    x[2000:2100] += 2e-3 * np.hanning(100)  # an M/H response of 2 mV
    g = _gate(hold_s=0.5)
    g.feed(0, x)
    assert not g.ready()
    assert g.ready(exclude=[(1990, 2150)])  # the engine excludes [stimulus, +post]
