"""Automatic windows from the latency structure across intensities, priors, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis import analyze_session
from hreflex.analysis.config import DEFAULT_PRIORS, WindowConfig
from hreflex.analysis.windows import apply_manual, find_windows
from tests.analysis.simdata import short_recruitment

FS = 10000.0
T = np.round(np.arange(-50, 80, 1000 / FS), 6)
FLEXORS = DEFAULT_PRIORS[1]
BASELINE = slice(0, int(45 * FS / 1000))


def _wave(onset, duration, amp):
    u = (T - onset) / duration
    return np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u) * np.sin(2 * np.pi * u), 0.0)


def test_h_right_after_m_is_split_by_its_intensity_profile():
    """Like the forearm data: M 4-21 ms, H from 21 ms with no quiet gap in between; H is
    largest at a low intensity where M is small, absent at the top intensity."""
    rng = np.random.default_rng(1)
    levels = np.stack([
        _wave(4, 17, 0.3) + _wave(21, 15, 6.0),  # low: small M, big H
        _wave(4, 17, 3.0) + _wave(21, 15, 3.0),
        _wave(4, 17, 12.0) + _wave(21, 15, 0.2),  # top: M only
    ]) * 1e-3 + rng.normal(0, 5e-6, (3, T.size))
    w = find_windows(levels, T, FLEXORS, WindowConfig(), 0.5, BASELINE)
    assert w.m.start_ms == pytest.approx(4.0, abs=0.6)
    assert w.m.stop_ms == pytest.approx(21.0, abs=1.0)
    assert w.m.stop_ms <= w.h.start_ms == pytest.approx(21.0, abs=0.6)
    assert w.h.stop_ms == pytest.approx(36.0, abs=0.6)


def test_artifact_is_blanked_and_never_part_of_m():
    levels = _wave(6, 10, 5.0)[None] * 1e-3
    levels[:, (T >= 0) & (T < 1.5)] = 20e-3  # 1 ms pulse + 0.5 ms ringing
    w = find_windows(levels, T, DEFAULT_PRIORS[2], WindowConfig(), 1.0, BASELINE)
    assert 1.5 <= w.blank_ms <= 4.0
    assert w.m.start_ms >= w.blank_ms
    assert w.m.start_ms == pytest.approx(6.0, abs=0.6)


def test_single_intensity_with_h_only():
    levels = _wave(31.5, 12, 2.0)[None] * 1e-3
    w = find_windows(levels, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE)
    assert w.m is None and any("no M-wave" in note for note in w.notes)
    assert w.h.start_ms == pytest.approx(31.5, abs=0.6)


def test_manual_windows_replace_and_are_checked():
    levels = _wave(6, 10, 5.0)[None] * 1e-3
    w = find_windows(levels, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE)
    out = apply_manual(w, {"m": (5.0, 20.0), "h": (30.0, 400.0)}, T)
    assert (out.m.start_ms, out.m.stop_ms, out.m.source) == (5.0, 20.0, "manual")
    assert out.h is None and "outside the sweep" in out.notes[-1]
    out = apply_manual(w, {"m": (0.5, 20.0)}, T)
    assert "inside the artifact" in out.notes[-1]


def test_no_h_reflex_gives_no_h_window():
    session, _ = short_recruitment(Hmax_over_Mmax=0.0)
    ch = analyze_session(session).channels
    for c in ch:
        assert c.windows.m is not None and c.windows.h is None
        assert c.recruitment.hmax_mV is None and c.latency_ms["h"] is None
        assert "no H-reflex" in c.recruitment.reasons["hmax_mV"]
        assert c.recruitment.mmax_mV == pytest.approx(
            session.devices["simulator"]["truth_Mmax_mV"][c.index], rel=0.03)
