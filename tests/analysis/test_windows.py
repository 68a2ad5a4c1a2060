"""Automatic windows from the latency structure across intensities, priors, overrides."""

from __future__ import annotations

import re

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


LV = np.linspace(0, 1, 12)  # 12 intensity levels, 0..1 (relative)
MA = np.linspace(2, 40, 12)  # their intensities, mA


def _levels(*parts, sigma=3e-6):
    """Level means (12, T): sum of (profile (12,), wave (T,)) parts plus noise."""
    x = sum(p[:, None] * w[None, :] for p, w in parts)
    return x + np.random.default_rng(7).normal(0, sigma, x.shape)


M_PROFILE = 1 / (1 + np.exp(-(LV - 0.55) / 0.07))
H_PROFILE = np.exp(-0.5 * ((LV - 0.3) / 0.12) ** 2)


def test_a_wave_that_does_not_depend_on_intensity_is_left_out():
    """Like the RecruitmentCurveFitting example (its published windows: M 8.1-15.9 ms,
    H 34.6-42.4 ms) with a wave at 17-27 ms already there below threshold: the M window must
    not take in the late wave."""
    late = _wave(17, 10, 0.6e-3)
    x = _levels((M_PROFILE, _wave(8, 8, 8e-3)), (np.ones(12), late), (H_PROFILE, _wave(34.6, 7.8, 3e-3)))
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert w.m.stop_ms == pytest.approx(16.0, abs=1.0)
    assert (w.h.start_ms, w.h.stop_ms) == pytest.approx((34.6, 42.4), abs=1.0)
    roles = {round(a): r for a, b, r in w.components}
    assert roles.get(17) == "does not depend on intensity"


def _triphasic(onset, duration, amp):
    u = (T - onset) / duration
    return np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u) * np.sin(3 * np.pi * u), 0.0)


@pytest.mark.parametrize("sigma", [3e-6, 10e-6])
def test_h_keeps_its_first_phase_under_a_wave_of_the_top_stimuli(sigma):
    """Like the RecruitmentCurveFitting example's real sweeps: a triphasic H from 31.6 ms
    (small first phase) and, at the top intensities only, where H is depressed, a slow
    negative wave from 28 ms under that first phase. The segmentation cuts the first phase
    off (its profile is H's plus the slow wave's); the window must still span all of H."""
    top = np.clip((LV - 0.6) / 0.3, 0, 1)
    u = (T - 28.0) / 13.0
    slow = np.where((u > 0) & (u < 1), -0.5e-3 * np.sin(np.pi * u), 0.0)
    x = _levels((M_PROFILE, _wave(6, 10, 8e-3)), (H_PROFILE, _triphasic(31.6, 12, -3e-3)),
                (top, slow), sigma=sigma)
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert (w.h.start_ms, w.h.stop_ms) == pytest.approx((31.6, 43.6), abs=1.0)
    assert w.h.onset_ms == pytest.approx(31.6, abs=0.5)


def test_a_late_wave_of_supramaximal_stimuli_is_not_taken_for_h():
    """No H-reflex; an F-wave-like wave at 45-50 ms appears only once M is near its maximum."""
    f_profile = np.clip((LV - 0.8) / 0.2, 0, 1)
    x = _levels((M_PROFILE, _wave(6, 12, 8e-3)), (f_profile, _wave(45, 5, 0.4e-3)))
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert w.h is None and any("no H-reflex" in n for n in w.notes)
    assert any("F-wave" in r for _, _, r in w.components)


def test_two_h_candidates_of_one_size_are_reported_as_ambiguous():
    x = _levels((M_PROFILE, _wave(6, 10, 8e-3)), (H_PROFILE, _wave(24, 6, 2e-3)),
                (H_PROFILE, _wave(36, 6, 2e-3)))
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert w.h is None
    note = next(n for n in w.notes if "ambiguous" in n)
    starts = [float(v) for v in re.findall(r"(\d+\.\d)-\d+\.\d ms", note)]
    assert starts == pytest.approx([24.0, 36.0], abs=0.5)


def test_windows_carry_evidence_and_confidence():
    x = _levels((M_PROFILE, _wave(6, 12, 8e-3)), (H_PROFILE, _wave(30, 12, 3e-3)))
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert 0.9 <= w.m.confidence <= 1 and 0.9 <= w.h.confidence <= 1
    assert "growing with intensity" in w.m.evidence and "largest at" in w.h.evidence
    # one level only: no intensity dependence to check, so lower confidence, and a note
    one = find_windows(x[7:8], T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA[7:8])
    assert one.m.confidence <= 0.6 and "not checked" in one.m.evidence
    assert any("1 stimulated intensity level" in n for n in one.notes)


@pytest.mark.parametrize("bump_mV", [0.06, 0.1])
def test_a_bump_then_a_quiet_gap_is_not_the_take_off(bump_mV):
    """Like the 4x-noise soleus case: a short bump 6 ms before H (in H's matched waveform,
    under the single levels' activity) departs from the baseline, then the signal is quiet
    again for 5 ms: H's window starts at H's own take-off (31 ms), not at the bump."""
    u = (T - 25) / 0.5
    bump = np.where((u > 0) & (u < 1), bump_mV * 1e-3 * np.sin(np.pi * u), 0.0)
    x = _levels((M_PROFILE, _wave(8, 8, 8e-3)), (H_PROFILE, _wave(31, 9, 3e-3) + bump))
    w = find_windows(x, T, DEFAULT_PRIORS[0], WindowConfig(), 1.0, BASELINE, MA)
    assert w.h.start_ms == pytest.approx(31.0, abs=0.5)
    assert w.h.onset_ms == pytest.approx(31.0, abs=0.5)


def _clinical_m(onset: float, size: float) -> np.ndarray:
    """A TA-like M-wave (V): phases of -3.3 mV over 3 ms and +6 mV over 6 ms scaled by
    ``size``, then a slow -1.6 mV phase over 18 ms that every stimulated level shares."""
    out, t0 = np.zeros_like(T), onset
    for amp, dur in ((-3.3e-3 * size, 3.0), (6e-3 * size, 6.0), (-1.6e-3, 18.0)):
        u = (T - t0) / dur
        out += np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u), 0.0)
        t0 += dur
    return out


def test_an_m_whose_latency_shortens_with_intensity_is_one_wave():
    """Like the clinical TA ramp of another subject of the Cadwell lab (5 stimulated traces,
    all with M at 70-100 % of its maximum): an M of three phases, 3-30 ms, that starts 2 ms
    later at the lowest intensity. The segmentation cuts it at its large middle phase, where
    the levels' profiles part; the window must span the whole wave and no H be made of it."""
    rng = np.random.default_rng(3)
    size, onset = [0.72, 1.0, 0.99, 1.0], [5.0, 3.2, 3.1, 3.0]
    x = np.stack([np.zeros_like(T)] + [_clinical_m(o, a) for a, o in zip(size, onset,
                                                                         strict=True)])
    x += rng.normal(0, 3e-6, x.shape)
    w = find_windows(x, T, DEFAULT_PRIORS[2], WindowConfig(), 0.2, BASELINE,
                     np.array([0, 25, 60, 80, 83.0]))
    assert w.m.start_ms == pytest.approx(3.0, abs=0.6)
    assert 29.0 <= w.m.stop_ms <= 33.0  # the top intensity's M ends at 30 ms, the lowest at 32
    assert w.h is None


def test_a_late_wave_that_only_grows_with_m_is_not_a_human_h():
    """Like a clinical M-max ramp of the Cadwell lab (18 traces, 17-100 mA): no H-reflex,
    but a slow -0.4 mV wave at 33-58 ms that grows with M (the M response's own end). A
    human H falls as M grows, so that wave is no H."""
    u = (T - 33.0) / 25.0
    slow = np.where((u > 0) & (u < 1), -0.4e-3 * np.sin(np.pi * u), 0.0)
    x = _levels((M_PROFILE, _wave(4, 24, 8e-3)), (M_PROFILE, slow))
    w = find_windows(x, T, DEFAULT_PRIORS[2], WindowConfig(), 1.0, BASELINE, MA)
    assert w.m is not None and w.h is None
    assert any(r.startswith("grows with M") for _, _, r in w.components)
    # the same wave with an H-like profile (ahead of M at low intensities) is the H
    x = _levels((M_PROFILE, _wave(4, 24, 8e-3)), (H_PROFILE, slow))
    w = find_windows(x, T, DEFAULT_PRIORS[2], WindowConfig(), 1.0, BASELINE, MA)
    assert w.h is not None and w.h.start_ms == pytest.approx(33.0, abs=1.0)


def test_a_biphasic_h_under_the_end_of_m_is_one_wave():
    """Like a clinical forearm decreasing ramp of another subject of the Cadwell lab: a
    biphasic H right behind M (-1.7 mV 21-26 ms, +2 mV 26-40 ms) whose first phase lies
    under M's slowly ending tail. The segmentation cuts the H at its zero crossing into
    pieces whose profiles differ a little (the tail's share); they are one wave, not two
    H candidates of one size (which read "ambiguous H" before)."""
    def phase(t0, dur, amp):
        u = (T - t0) / dur
        return np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u), 0.0)

    x = _levels((M_PROFILE, _wave(4, 16, 16e-3) + phase(16, 10, 1.5e-3)),
                (np.clip(H_PROFILE + 0.5 * LV, 0, 1), phase(21, 5, -1.7e-3) + phase(26, 14, 2e-3)),
                sigma=5e-6)
    w = find_windows(x, T, FLEXORS, WindowConfig(), 0.2, BASELINE, MA)
    assert not any("ambiguous" in n for n in w.notes)
    assert (w.h.start_ms, w.h.stop_ms) == pytest.approx((21.0, 40.0), abs=1.0)


def test_a_wave_riding_on_a_large_artifact_tail_is_no_tail():
    """Like the lab's forearm decreasing ramps: after the blanking the sweep sits at -10 mV
    and decays; M (+2 mV at 15 ms) and H (-1 / +1.5 mV) ride on that decay and the waveform
    ends near 0. Their phases swing after each turn by more than 20 % of the range from -10
    mV, so the stretch is a wave; a decay whose only turn is a small overshoot back to the
    baseline is a tail."""
    from hreflex.analysis.components import Component
    from hreflex.analysis.windows import _artifact_like

    def phase(t0, dur, amp):
        u = (T - t0) / dur
        return np.where((u > 0) & (u < 1), amp * np.sin(np.pi * u), 0.0)

    a, b = np.searchsorted(T, [1.0, 38.0])
    decay = np.where(T >= 1.0, -10e-3 * np.exp(-(T - 1.0) / 3.0), 0.0)
    riding = decay + phase(11, 8, 2e-3) + phase(19, 6, -1e-3) + phase(25, 10, 1.5e-3)
    overshoot = decay + phase(8, 12, 0.6e-3)
    for wave, tail in ((riding, False), (overshoot, True)):
        c = Component(a, b, np.ones(2), np.ones(2) / np.sqrt(2), wave, 5e-6)
        assert _artifact_like(c, a) is tail
