"""Stimulus → EMG clock alignment (pure): two drifting clocks, delivery jitter, missing edges.

The expectation is computed independently the way the devices define it: the amplifier's
sample of a pulse at true time t is ceil(amp_clock(t) · rate) (its trigger edge), the
stimulator reports floor(stim_clock(t) · 1e6) µs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.acquisition.sync import (
    DEVICE,
    MODEL,
    TIMESTAMP,
    TRIGGER,
    RowClock,
    Synchronizer,
    fit_clock,
    rising_edges,
)


def test_rising_edges_inside_and_across_chunks():
    d = np.array([0, 1, 1, 0, 0, 1, 0, 3], np.uint8)  # bit 0 only: 3 counts as high
    assert rising_edges(d, prev_high=False).tolist() == [1, 5, 7]
    assert rising_edges(np.array([1, 1, 0, 1], np.uint8), prev_high=False).tolist() == [0, 3]
    assert rising_edges(np.array([1, 1, 0, 1], np.uint8), prev_high=True).tolist() == [3]
    # after a gap the first sample's history is unknown: a high start is not an edge
    assert rising_edges(np.array([1, 0, 1], np.uint8), prev_high=None).tolist() == [2]
    assert rising_edges(np.array([2, 2], np.uint8), prev_high=False).tolist() == []  # bit 1
    assert rising_edges(np.zeros(0, np.uint8), prev_high=False).tolist() == []


def _bench(n: int, rate: float, drift_amp_ppm: float, drift_stim_ppm: float, seed: int,
           min_gap_s: float = 0.1, max_gap_s: float = 3.0):
    """True pulse times, their amplifier samples (edges) and stimulator µs timestamps."""
    rng = np.random.default_rng(seed)
    t = 1.0 + np.cumsum(rng.uniform(min_gap_s, max_gap_s, n))
    amp = (t * (1 + drift_amp_ppm * 1e-6)) * rate
    rows = np.ceil(amp).astype(np.int64)
    stim_us = np.floor((t + 0.37) * (1 + drift_stim_ppm * 1e-6) * 1e6).astype(np.int64)
    return t, rows, stim_us


def test_fit_recovers_the_clock_ratio_and_rejects_a_wrong_pair():
    rate = 20000.0
    t, rows, us = _bench(60, rate, +100, -100, seed=1)
    rows = rows.copy()
    rows[17] += 400  # a mismatched edge
    fit, keep = fit_clock(us, rows, rate * 1e-6, rate * 1e-6 * 2e-4)
    assert not keep[17] and keep.sum() == 59
    true_slope = rate * 1e-6 * (1 + 100e-6) / (1 - 100e-6)  # rows per stimulator µs
    assert fit.slope == pytest.approx(true_slope, rel=2e-6)
    assert fit.rms_samples < 0.5  # quantisation of edges (≤ 1) and µs stamps only
    pred = np.array([fit.predict(x) for x in us])
    assert np.abs(np.round(pred) - rows)[keep].max() <= 1


def test_one_pair_uses_the_nominal_rate_as_prior():
    fit, _ = fit_clock(np.array([5_000_000]), np.array([100_000]), 0.02, 0.02 * 2e-4)
    assert fit.slope == pytest.approx(0.02) and fit.predict(6_000_000) == pytest.approx(120_000)
    # 10 s from the only pair: 4 sd of 200 ppm at 20 kHz = 160 samples of tolerance
    assert fit.tolerance(15_000_000) == pytest.approx(2 + 4 * 0.02 * 2e-4 * 10e6)
    # and the standard error a timestamp placement there reports: edge quantisation + slope
    assert fit.prediction_sd(15_000_000) == pytest.approx(math.hypot(12 ** -0.5, 40.0))


@settings(max_examples=30, deadline=None)
@given(rate=st.sampled_from([2000.0, 5000.0, 20000.0]),
       drifts=st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
       seed=st.integers(0, 10_000), p_missing=st.sampled_from([0.0, 0.2, 0.5]))
def test_every_pulse_within_one_sample_under_drift_and_missing_edges(rate, drifts, seed,
                                                                    p_missing):
    t, rows, us = _bench(80, rate, *drifts, seed=seed)
    rng = np.random.default_rng(seed + 1)
    missing = rng.random(len(t)) < p_missing
    missing[:8] = False  # the fit needs a few pairs before it extrapolates to ≤ 1 sample
    sync = Synchronizer(rate)
    clock = RowClock(rate)
    placed = []
    for k in range(len(t)):
        # the edges of the data received before this pulse is placed (in order)
        if not missing[k]:
            sync.add_edges(np.array([rows[k]]))
        # host times (experiment s) around FIRE with up to 20 ms of delivery delay
        lag = rng.uniform(0, 0.02)
        clock.observe(t[k] + 0.01 + lag, int(math.ceil((t[k] + 0.01) * rate * (1 + drifts[0]
                                                                               * 1e-6))))
        host = (clock.row_at(t[k] - 0.002), clock.row_at(t[k] + 0.003))
        p = sync.place(int(us[k]), host, host_margin=0.05 * rate)
        placed.append(p)
    got = np.array([p.row for p in placed])
    assert np.abs(got - rows).max() <= 1
    methods = np.array([p.method for p in placed])
    assert (methods[~missing] == TRIGGER).all() and (methods[missing] == TIMESTAMP).all()
    assert (got[~missing] == rows[~missing]).all()  # edges are exact


def test_fast_pulses_get_their_own_edges_and_a_clock_restart_is_survivable():
    rate = 5000.0
    # 10 Hz train: edges 500 samples apart, some missing; host windows are ±0.25 s wide
    t, rows, us = _bench(30, rate, 80, -60, seed=4, min_gap_s=0.1, max_gap_s=0.1001)
    sync = Synchronizer(rate)
    sync.add_edges(np.delete(rows, [5, 6, 20]))  # all edges known before placing (late)
    placed = [sync.place(int(x), (r - 100, r + 100), 0.25 * rate) for x, r in zip(us, rows,
                                                                                 strict=True)]
    assert [p.row for p in placed] == rows.tolist()
    assert {p.method for i, p in enumerate(placed) if i in (5, 6, 20)} == {TIMESTAMP}
    # the stimulator restarted (its µs clock from 0): without new_epoch the old fit would
    # look in the wrong place; after it the host window finds the next edge
    sync.new_epoch()
    sync.add_edges(np.array([rows[-1] + 900]))
    p = sync.place(1234, (rows[-1] + 850, rows[-1] + 950), 100)
    assert (p.row, p.method) == (rows[-1] + 900, TRIGGER)


def test_a_device_latched_sample_is_the_pulse_and_takes_its_edge_along():
    rate = 5000.0
    t, rows, us = _bench(20, rate, 90, -90, seed=3, min_gap_s=0.1, max_gap_s=0.2)
    sync = Synchronizer(rate)
    sync.add_edges(rows[:10] + 1)  # a trigger line one sample late (cable, comparator)
    placed = [sync.place(int(x), (r - 100, r + 100), 0.25 * rate, latched_row=int(r))
              for x, r in zip(us[:10], rows[:10], strict=True)]
    assert [p.row for p in placed] == rows[:10].tolist()
    assert {p.method for p in placed} == {DEVICE}
    # each latched pulse consumed its own edge: none is left for a later pulse to take
    assert not sync.has_edge((rows[0] - 5, rows[9] + 5))
    assert all(p.residual_samples <= 2 for p in placed[1:])  # |latched - fit| (NaN first)
    # the pairs fed the fit: the next pulses, without latch or edge, are placed by it
    later = [sync.place(int(x), None, 0) for x in us[10:]]
    assert {p.method for p in later} == {TIMESTAMP}
    assert np.abs(np.array([p.row for p in later]) - rows[10:]).max() <= 1


def test_without_edge_or_fit_the_host_clock_is_the_estimate():
    sync = Synchronizer(5000)
    p = sync.place(None, (1000.0, 1100.0), 50)
    assert (p.row, p.method) == (1050, MODEL) and math.isnan(p.residual_samples)
    assert sync.place(None, None, 50) is None


def test_row_clock_is_a_lower_bound_from_the_least_delayed_read():
    clock = RowClock(1000.0)
    assert clock.row_at(1.0) is None
    rng = np.random.default_rng(0)
    for h in np.arange(0.0, 2.0, 0.02):
        delay = rng.uniform(0.001, 0.03)  # data arrive late by 1..30 ms
        clock.observe(h, int((h - delay) * 1000))
    est = clock.row_at(2.5)
    assert 2500 - 5 <= est <= 2500  # within the smallest delay seen, never ahead
    clock.observe(2.0, 9999)  # one odd observation (rows far ahead of its time)
    assert 2500 - 5 <= clock.row_at(2.5) <= 2500
