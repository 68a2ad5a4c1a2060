"""The lab's published M-max / H-max of the clinical Cadwell exports (see
``shared/real_data/README.md``): the largest single-trace peak-to-peak inside the M (H)
window, read through the Cadwell importer. Skipped when the data are absent.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hreflex.analysis import analyze_session, config_from_dict
from hreflex.io.importers.cadwell import read_cadwell
from hreflex.real_corpus import (
    automatic_m_max,
    epocs_windows,
    h_max_top3,
    m_max_rows,
    resampled,
)
from tests.analysis.refits import end_shifts, refit_to_convergence

DATA = Path(__file__).resolve().parents[3] / "shared" / "real_data" / "cadwell"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared/real_data not present")


def _windows(**ms: list[float]):
    return config_from_dict({"windows": {"manual": {"*": ms}}})


def test_m_max_of_16_sessions():
    """The README: measuring in the lab's window reproduces 15 of the 16 rows to the µV."""
    rows = m_max_rows(DATA.parent)
    assert [r.path.is_file() for r in rows] == [True] * 16
    lab, auto, auto_3pct = [], [], []
    for row in rows:
        session = read_cadwell(row.path)
        cfg = _windows(m_ms=list(row.window_ms))
        for hits, c in ((lab, cfg), (auto, None)):
            m = analyze_session(session, c).channels[0].recruitment.mmax_observed_mV
            hits.append(round(m * 1000) == row.published_uV)
        auto_3pct.append(abs(m * 1000 / row.published_uV - 1) <= 0.03)
    assert sum(lab) == 15
    # automatic windows: 15 to the µV (the M window starts after the artifact tail the
    # followup/inv/Gastroc M rides on, as the lab's does); post/inv/Gastroc, which the lab's
    # own window does not reproduce either (README), within 1 %
    assert sum(auto) == 15
    assert all(auto_3pct)


def test_forearm_m_max_and_h_max_with_lab_and_automatic_windows():
    with open(DATA / "s2802mytb" / "m_max_h_reflex.csv") as f:
        lab = next(csv.DictReader(f))
    m0, h0 = float(lab["mep_latency_ms"]), float(lab["h_latency_ms"])
    manual = _windows(m_ms=[m0, m0 + float(lab["mep_dur_ms"])],
                      h_ms=[h0, h0 + float(lab["h_dur_ms"])])
    h_lab = [float(lab[f"h_max_{k}_us"]) for k in (1, 2, 3)]  # µV despite the name
    inc = read_cadwell(DATA / "s2802mytb" / "week5" / "right_flexors_inc.csv")
    dec = read_cadwell(DATA / "s2802mytb" / "week5" / "right_flexors_dec.csv")
    for cfg in (manual, None):  # the automatic windows find the same values
        m_max = analyze_session(inc, cfg).channels[0].recruitment.mmax_observed_mV
        assert m_max * 1000 == pytest.approx(float(lab["mep_ampl_uv"]), abs=0.5)
        result = analyze_session(dec, cfg)
        h = np.sort(result.sweeps.h.p2p_mV[:, 0])[::-1][:3] * 1000
        np.testing.assert_allclose(h, h_lab, atol=0.05)
        assert result.channels[0].recruitment.hmax_observed_mV * 1000 == pytest.approx(
            h_lab[0], abs=0.05)
    published, automatic = h_max_top3(DATA.parent)  # (what the bench prints)
    np.testing.assert_array_equal(published, h_lab)
    np.testing.assert_allclose(automatic, h_lab, atol=0.05)


def test_a_clinical_ramps_intervals_come_from_converged_refits(monkeypatch):
    """The forearm ramp (12 levels, most of one sweep): its bootstrap refits move by a
    sweep's spread and converge slowly. Their interval ends must agree with refits of 400
    steps to 1e-10 within 3 % of their width (at the replicated designs' tolerance of 1e-4
    they stopped up to 27 % short: the M threshold's upper end 7.94 instead of 8.89 mA)."""
    dec = read_cadwell(DATA / "s2802mytb" / "week5" / "right_flexors_dec.csv")
    ci = analyze_session(dec).channels[0].recruitment.ci95
    refit_to_convergence(monkeypatch)
    full = analyze_session(dec).channels[0].recruitment.ci95
    assert set(ci) == set(full) == {"mmax_mV", "hmax_mV", "hmax_mmax", "m_threshold_mA",
                                    "h_threshold_mA"}
    for key, shift in end_shifts(ci, full, tuple(full)).items():
        assert shift <= 0.03, key


EPOCS = DATA.parent / "epocs" / "fcr2l-2016-09-22-14-21-R41-ST.dat"


@pytest.mark.skipif(not EPOCS.is_file(), reason="shared EPOCS recording not present")
def test_epocs_responses_in_its_recorded_windows():
    """windows = "recorded": EPOCS's own peak-to-peak values (ResponseFeedbackValue and what
    its RangeIntegrator computes on its 0.5 Hz high-passed signal) within 1 %."""
    from hreflex.io.importers import import_file
    from tests.importexport.test_epocs import epocs_p2p_V

    session = import_file(EPOCS)
    epocs = epocs_p2p_V(session, (0.5, 2))
    result = analyze_session(session, config_from_dict({"windows": "recorded"}))
    for i, w in enumerate(session.recorded_windows):
        wave, c = w["wave"].decode(), int(w["channel"])
        win = getattr(result.channels[c].windows, wave)
        assert (win.source, win.start_ms, win.stop_ms) == ("recorded", w["start_ms"],
                                                          w["stop_ms"])
        measured = getattr(result.sweeps, wave).p2p_mV[:, c] * 1e-3
        np.testing.assert_allclose(measured, epocs[i], rtol=0.01)
    listed = epocs_windows(DATA.parent)  # EPOCS's beside the automatic ones (the bench)
    assert [(n, w, t) for n, w, t, _ in listed] == [
        (session.channel_names[int(w["channel"])], w["wave"].decode(),
         (float(w["start_ms"]), float(w["stop_ms"]))) for w in session.recorded_windows]


def test_real_h_waves_that_change_shape_keep_the_peak_to_peak(monkeypatch):
    """Seven of the 16 clinical ramps read their largest H below 15 x the floor, where the
    simulator's weak channels switch to matched amplitudes. Their H changes shape with
    intensity: the matched level means are 7-62 % below the peak-to-peak (net of the
    floor) where it is reliable, so every channel keeps the configured measure and its Hmax
    is the peak-to-peak one (as computed with the switch off)."""
    import hreflex.analysis.channel as channel_module

    near_floor = 0
    for path in sorted((DATA / "s2718tdvg").glob("*/*.csv")):
        session = read_cadwell(path)
        monkeypatch.setattr(channel_module, "AGREEMENT", np.inf)  # the shape check off
        loose = analyze_session(session).channels[0].recruitment
        monkeypatch.undo()
        result = analyze_session(session).channels[0]
        rec = result.recruitment
        near_floor += loose.h_amplitude == "matched"
        assert rec.h_amplitude == "measure", path
        said = [m for m in result.messages if "its shape changes with intensity" in m]
        assert len(said) == (loose.h_amplitude == "matched"), path
        monkeypatch.setattr(channel_module, "LOW_SNR_CURVE", 0.0)  # never matched
        p2p = analyze_session(session).channels[0].recruitment
        monkeypatch.undo()
        assert rec.hmax_mV == p2p.hmax_mV, path
    assert near_floor == 7


def _rescaled(session, factor: float, offset_V: float):
    """The session as a recording of ``factor`` x its signal + ``offset_V`` (volts, float32),
    its sweeps in another order: another amplifier's polarity, gain and DC offset, and
    another export order."""
    volts = np.asarray(session.sweeps, np.float64) * session.scale_V_per_count[None, :, None]
    order = np.random.default_rng(1).permutation(volts.shape[0])
    return replace(session, sweeps=(factor * volts[order] + offset_V).astype(np.float32),
                   scale_V_per_count=np.ones(session.n_channels), stimuli=session.stimuli[order])


def test_real_ramps_read_alike_through_any_polarity_gain_offset_and_order():
    """Every clinical ramp recorded inverted, at 1/20 of the gain, on a 5 mV offset and
    exported in another sweep order: the windows are the same, every amplitude is 1/20 and
    every latency the same. The windows follow the shape of the responses, not the
    amplifier's sign, units or offset, nor the order of the traces."""
    paths = [*(r.path for r in m_max_rows(DATA.parent)),
             *sorted((DATA / "s2802mytb").glob("*/right_*.csv"))]
    assert len(paths) == 18
    for path in paths:
        session = read_cadwell(path)
        base = analyze_session(session).channels[0]
        other = analyze_session(_rescaled(session, -0.05, 5e-3)).channels[0]
        for wave in ("m", "h"):
            a, b = getattr(base.windows, wave), getattr(other.windows, wave)
            assert (a is None) == (b is None), (path, wave)
            if a is not None:
                assert (a.start_ms, a.stop_ms) == pytest.approx((b.start_ms, b.stop_ms),
                                                                abs=1e-6), (path, wave)
        for key in ("mmax_mV", "hmax_mV", "mmax_observed_mV", "hmax_observed_mV"):
            value = getattr(base.recruitment, key)
            assert (value is None) == (getattr(other.recruitment, key) is None), (path, key)
            if value is not None:
                assert getattr(other.recruitment, key) == pytest.approx(0.05 * value,
                                                                        rel=1e-4), (path, key)
        assert base.latency_ms.keys() == other.latency_ms.keys()
        for key, value in base.latency_ms.items():
            assert (value is None) == (other.latency_ms[key] is None), (path, key)
            if value is not None:
                assert other.latency_ms[key] == pytest.approx(value, abs=0.01), (path, key)


def test_m_max_of_16_sessions_at_other_sample_rates():
    """The 16 M-max ramps recorded at 12.8 kHz (interpolated) read the same M-max to the
    µV; at 3.2 kHz (the rate of EPOCS and of RecruitmentCurveFitting's example), 15 stay
    within 3 % of the lab's value. post/inv/Gastroc does not: its M starts with a negative
    phase of ~0.2 mV on the artifact tail that spans 2 samples at 3.2 kHz, and the M window
    starts after it (18 % below the lab's value). Before the take-off waited for the
    tail's decay fit, three M windows started at the artifact end at 3.2 kHz, two of them
    with M-max +11 and +13 % (pre/inv/Gastroc, mid/inv/Gastroc)."""
    rows = m_max_rows(DATA.parent)
    base = automatic_m_max(rows)
    np.testing.assert_allclose(automatic_m_max(rows, lambda s: resampled(s, True)), base,
                               rtol=1e-6)
    half = automatic_m_max(rows, lambda s: resampled(s, False))
    within = np.abs(half / [r.published_uV for r in rows] - 1) <= 0.03
    missed = [(r.session, r.side, r.muscle) for r, ok in zip(rows, within, strict=True)
              if not ok]
    assert missed == [("post", "inv", "Gastroc")]


def test_forearm_latencies_hold_at_a_quarter_of_the_rate():
    """The forearm ramps (12.8 kHz; FCR's H right behind its M) averaged down to 3.2 kHz:
    the M and H onset latencies stay within 0.5 ms of the full-rate ones. (A take-off that
    waited for a decay fit under the touching M timed the H of the right increasing ramp
    2.5 ms late, at its peak.)"""
    for path in sorted((DATA / "s2802mytb" / "week5").glob("*.csv")):
        session = read_cadwell(path)
        full = analyze_session(session).channels[0].latency_ms
        low = analyze_session(resampled(resampled(session, False), False)).channels[0]
        for wave in ("m", "h"):
            assert low.latency_ms[wave] == pytest.approx(full[wave], abs=0.5), (path, wave)


def test_curve_maxima_stay_within_what_the_sweeps_show():
    """On all 20 clinical ramps, an Hmax or Mmax from a fit or the pooled means is a level's
    size, so it never exceeds the largest single sweep by more than its scatter: here 10 %
    (the forearm increasing ramp's fitted Hmax once read 132 mV, 7 x Mmax, from a bell
    peaking between its 0 mA trace and its lowest stimulated level)."""
    for path in sorted(DATA.glob("*/*/*.csv")):
        r = analyze_session(read_cadwell(path)).channels[0].recruitment
        for value, largest in ((r.mmax_mV, r.mmax_observed_mV), (r.hmax_mV, r.hmax_observed_mV)):
            if value is not None:
                assert 0 < value <= 1.1 * largest, path
        assert r.hmax_mmax is None or r.hmax_mmax < 1.0, path


def test_forearm_h_windows_start_where_the_h_leaves_the_m():
    """The four forearm ramps: H follows M without a gap, and its window starts where M's
    ends (20.9-22.9 ms; the lab's H window of the right side starts at 21.7 ms). On the left
    increasing ramp the H was cut in two pieces whose leading profiles differ (M's tail lies
    under the first) but whose size profiles agree; its window started at 23.4 ms, 2.5 ms
    into the H of its 10 mA trace."""
    for name in ("left_flexors_inc", "left_flexors_dec", "right_flexors_inc", "right_flexors_dec"):
        w = analyze_session(read_cadwell(DATA / "s2802mytb" / "week5" / f"{name}.csv")
                            ).channels[0].windows
        assert w.h.start_ms == pytest.approx(w.m.stop_ms, abs=0.1), name
        assert 20.5 <= w.h.start_ms <= 23.0, name
