"""Take-off of a wave from its baseline, also from an artifact tail."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.latency import takeoff, wave_latency

FS = 5000.0
T = np.arange(0, 40, 1000 / FS)


def _wave(onset, duration=12.0, amp=5e-3):
    """Grows like (t - onset)^2 from exactly ``onset`` (a sin^2 first phase)."""
    u = (T - onset) / duration
    return np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u) ** 2 * np.cos(np.pi * u), 0.0)


@pytest.mark.parametrize("tail_V", [0.0, 1e-3, 3e-3])
@pytest.mark.parametrize("onset", [4.0, 6.0])
def test_takeoff_from_quiet_baseline_and_from_a_decaying_tail(onset, tail_V):
    rng = np.random.default_rng(3)
    tail = -tail_V * np.exp(-(T - 1.0) / 2.5) * (T > 1.0)
    y = _wave(onset) + tail + rng.normal(0, 3e-6, T.size)
    lo = int(np.searchsorted(T, 2.0))
    clean = _wave(onset)
    peak = int(np.argmax(np.abs(clean)))
    departure = 0.01 * np.ptp(clean)
    k = takeoff(y, lo, peak, 3e-6, 5, min_departure_V=departure)
    # detected once the wave departs by the departure threshold (3 standard errors, whose
    # floor is departure / 3), timed where it rose above one standard error: departure / 3
    # here (the tail is the baseline: it does not count)
    crossing = T[np.argmax(np.abs(clean) >= departure / 3)]
    assert k is not None and k / FS * 1000 == pytest.approx(crossing, abs=0.2)
    assert k / FS * 1000 >= onset


def test_no_takeoff_without_a_wave():
    y = np.random.default_rng(1).normal(0, 3e-6, T.size)
    assert takeoff(y, 10, 150, 3e-6, 5) is None


def test_wave_latency_reports_onset_and_peak():
    y = _wave(6.0) + np.random.default_rng(2).normal(0, 3e-6, T.size)
    onset, peak = wave_latency(y, T, (5.0, 12.0), 2.0, 3e-6, 1.0)  # first phase only
    clean = _wave(6.0)
    assert onset == pytest.approx(T[np.argmax(np.abs(clean) >= 0.01 / 3 * np.ptp(clean))],
                                  abs=0.2)
    inside = (T >= 5.0) & (T <= 12.0)
    assert peak == pytest.approx(T[inside][np.argmax(np.abs(clean[inside]))], abs=0.21)
