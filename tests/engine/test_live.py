"""Live per-sweep data: the ring of recent rows, sweep measures on known signals, the run-time
RDD test intensity against the simulator's truth, and the --plot renderer process."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.optimize import brentq

from hreflex.acquisition.live import (
    LivePlot,
    SweepBuffer,
    derive_test_intensity,
    intensity_for_fraction,
    measure_sweep,
)
from hreflex.analysis.recruitment import CurveFit
from hreflex.schedule import recruitment
from hreflex.sim import get_preset, simulate_session
from hreflex.sim.truth import intensity_for_H_fraction


def test_sweep_buffer_keeps_rows_in_place_marks_gaps_and_forgets_old_rows():
    buf = SweepBuffer(capacity=100, n_channels=2)
    rows = np.arange(0, 60)
    buf.put(0, np.stack([rows, -rows], axis=1).astype(np.int16))
    buf.put(70, np.full((20, 2), 7, np.int16))  # rows 60..69 never arrived
    buf.put(85, np.full((10, 2), 9, np.int16))  # overlap: rows 85..89 kept as they were
    data, got = buf.get(50, 95)
    assert data[:10, 0].tolist() == list(range(50, 60)) and got[:10].all()
    assert not got[10:20].any() and (data[10:20] == 0).all()
    assert (data[20:40] == 7).all() and (data[40:45] == 9).all() and buf.end == 95
    data, got = buf.get(94, 110)  # beyond the end: not received (yet)
    assert got.tolist() == [True] + [False] * 15
    buf.put(95, np.ones((100, 2), np.int16))  # wraps: rows < 95 are gone
    assert buf.start == 95 and buf.get(90, 100) is None
    assert buf.get(95, 195)[1].all()


def test_measure_sweep_on_known_waves():
    rate, pre_n = 5000.0, 250  # 50 ms before the stimulus
    n = pre_n + 501
    scale = np.array([1e-6, 2e-6])  # V per count
    counts = np.zeros((n, 2), np.int16)
    counts[:pre_n, 0] = np.tile([10, -10], pre_n // 2)  # background: RMS 10 counts
    counts[pre_n + 40, 0], counts[pre_n + 60, 0] = 300, -200  # M at 8 and 12 ms: 500 counts
    counts[pre_n + 175, 1] = 1000  # H at 35 ms on channel 1
    counts[pre_n + 5, 1] = 32767  # artifact clipping, outside the windows
    m = measure_sweep(counts, scale, pre_n, rate, (6, 20), (30, 45))
    assert m.M_mV == pytest.approx([0.5, 0.0]) and m.H_mV == pytest.approx([0.0, 2.0])
    assert m.background_uV == pytest.approx([10.0, 0.0])
    assert not m.clipped.any()
    counts[pre_n + 50, 1] = -32768
    assert measure_sweep(counts, scale, pre_n, rate, (6, 20), None).clipped.tolist() == [False,
                                                                                        True]
    m = measure_sweep(counts, scale, pre_n, rate, None, None)
    assert np.isnan(m.M_mV).all() and np.isnan(m.H_mV).all()


class _Rec:
    """The fields of a RecruitmentResult that intensity_for_fraction reads."""

    def __init__(self, **kw):
        self.reasons = {}
        self.__dict__.update(kw)


def test_intensity_for_fraction_on_a_fitted_bell_and_on_pooled_means():
    params = {"floor_mV": 0.05, "amp_mV": 4.0, "i_rise_mA": 15.0, "k_rise_mA": 2.0,
              "i_fall_mA": 30.0, "k_fall_mA": 3.0}
    fit = CurveFit("bell", params, 0.99, 0.0, True)
    x = np.linspace(0, 50, 200001)
    y = fit(x)
    k = int(np.argmax(y))
    hmax, at = float(y[k]), float(x[k])
    expected = brentq(lambda i: float(fit(i)) - 0.5 * hmax, 0, at)
    rec = _Rec(hmax_mV=hmax, intensity_at_hmax_mA=at, h_fit=fit, hmax_source="fit")
    got, how = intensity_for_fraction(rec, 0.5)
    assert got == pytest.approx(expected, abs=0.02) and "fitted" in how
    levels = np.array([10.0, 14.0, 18.0, 22.0, 26.0])
    means = np.array([0.2, 1.0, 3.0, 4.0, 2.0])
    rec = _Rec(hmax_mV=4.0, intensity_at_hmax_mA=22.0, h_fit=None, hmax_source="pooled",
               n=np.full(5, 3), levels_mA=levels, h_mean_mV=means)
    got, _ = intensity_for_fraction(rec, 0.5)
    assert got == pytest.approx(14 + (2.0 - 1.0) / (3.0 - 1.0) * 4)  # between 14 and 18 mA
    assert intensity_for_fraction(_Rec(hmax_mV=None, intensity_at_hmax_mA=None, reasons={
        "hmax_mV": "no H window"}), 0.5) == (None, "no H window")


def test_derived_test_intensity_matches_the_simulator_truth():
    preset = get_preset("soleus_healthy")
    sched = recruitment(start_mA=8, stop_mA=40, step_mA=2, sweeps=3, isi_s=5, randomize=True,
                        seed=3)
    session, _ = simulate_session(preset, sched, seed=3)
    rate = session.sample_rate_Hz
    pre_n, n = int(0.05 * rate), int(0.15 * rate) + 1
    idx = session.stimuli["sample_index"]
    sweeps = np.stack([session.continuous[i - pre_n:i - pre_n + n].T for i in idx])
    mA, how = derive_test_intensity(session.meta, rate, session.channel_names,
                                    session.channel_muscles, session.scale_V_per_count, sweeps,
                                    50.0, session.stimuli, session.blocks, 0, 0.5)
    truth = intensity_for_H_fraction(preset, 0.5, channel=0)
    assert mA == pytest.approx(truth, abs=1.0), how  # 2 mA steps, 3 sweeps per level


def test_live_plot_renders_a_png_from_another_process(tmp_path):
    png = tmp_path / "live.png"
    plot = LivePlot(png, ["SOL", "MG"], 50.0, 5000.0, interval_s=0.1)
    t0 = time.monotonic()
    try:
        for i in range(5):
            plot.add(np.random.default_rng(i).normal(size=(751, 2)), 10.0 + i, 0.1 * i, 1.0, True)
        assert time.monotonic() - t0 < 0.5  # queuing never waits for the renderer
    finally:
        plot.close(timeout_s=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
