"""Whole-pipeline behaviour: filters never turn the artifact into an M-wave, the amplitude
option, and the per-sweep table."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis import analyze_session, config_from_dict
from tests.analysis.simdata import short_recruitment


@pytest.mark.parametrize(("filters", "tol"), [
    ({}, 0.03),
    ({"bandpass": True}, 0.03),
    # a notch also removes the evoked wave's own 50 Hz content (docs/METRICS.md)
    ({"bandpass": True, "notch": True}, 0.06),
])
def test_a_large_artifact_is_not_measured_as_m(filters, tol):
    session, truth = short_recruitment(artifact_mV_per_mA=0.8)  # 10x: up to 42 mV, clips
    result = analyze_session(session, config_from_dict({"conditioning": filters}))
    m = result.sweeps.m.p2p_mV
    small = (truth.M_actual_mV < 0.5) & ~result.sweeps.excluded  # the artifact dominates
    assert small.sum() >= 6
    assert np.abs(m[small] - truth.M_actual_mV[small]).max() < 0.15  # M + noise, no artifact
    for c, ch in enumerate(result.channels):
        assert ch.windows.m.start_ms >= 1.5  # 1 ms pulse + blanking
        assert ch.recruitment.mmax_mV == pytest.approx(truth.channels[c].Mmax_mV, rel=tol)


def test_amplitude_option_drives_the_curves():
    session, _ = short_recruitment()
    p2p = analyze_session(session)
    area = analyze_session(session, config_from_dict({"amplitude": "area"}))
    for a, b in zip(p2p.channels, area.channels, strict=True):
        np.testing.assert_allclose(b.recruitment.m_mean_mV[b.recruitment.n > 0],
                                   _level_means(area, a.index, "m"), rtol=1e-9)
        assert b.windows == a.windows


def _level_means(result, c, wave):
    s = result.sweeps
    x = getattr(s, wave).area_mVms[:, c]
    use = s.recruitment & ~s.excluded[:, c]
    levels = np.unique(s.intensity_mA[use])
    return np.array([x[use & (s.intensity_mA == lv)].mean() for lv in levels])


def test_sweep_table_long_format():
    session, truth = short_recruitment()
    result = analyze_session(session)
    cols = result.sweeps.columns()
    n = len(session.stimuli) * session.n_channels
    assert all(len(v) == n for v in cols.values())
    assert cols["channel_name"][:2].tolist() == session.channel_names
    np.testing.assert_allclose(cols["intensity_mA"][::2], session.stimuli["intensity_mA"])
    np.testing.assert_allclose(cols["h_p2p_mV"][1::2], result.sweeps.h.p2p_mV[:, 1])
    assert cols["recruitment"].all() and not cols["excluded"].any()


def test_m_and_h_measured_in_two_threads_are_the_one_thread_measures():
    """``stages.measure`` measures H in a second thread: each wave equals ``measure_wave``
    called on its own, field for field, bit for bit."""
    import hreflex.analysis.stages as stages
    from hreflex.analysis.measures import MEASURE_NAMES, measure_wave

    session, _ = short_recruitment()
    cfg = config_from_dict({})
    prepared = stages.prepare(session, cfg)
    found = stages.find(prepared, stages.plan(prepared))
    measured = stages.measure(prepared, found)
    for wave, got in (("m", measured.m), ("h", measured.h)):
        alone = measure_wave(measured.data, prepared.time_ms, found.windows, wave,
                             measured.noise_V, cfg.windows.onset_sd,
                             prepared.epochs.saturated)
        for name in MEASURE_NAMES:
            np.testing.assert_array_equal(getattr(got, name), getattr(alone, name))
        assert np.isfinite(got.p2p_mV).all()
