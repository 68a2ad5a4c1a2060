"""Pulse placement on its own: a fired pulse gets its EMG row from the device-latched index,
a trigger edge, or the host-clock model, and is handed on once its sweep has arrived.
Expectations by hand from the rows given (5 kHz: a 100 ms sweep after the pulse is 501 rows)."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.acquisition.outcome import Fired
from hreflex.acquisition.placement import PulsePlacer, host_window
from hreflex.acquisition.sync import DEVICE, MODEL, TRIGGER, RowClock, Synchronizer
from hreflex.protocol import StimEvent

RATE, POST_N = 5000.0, 501
MARGIN, SEARCH, LAG = 100.0, 200.0, 25_000.0


def placer(offset=0):
    faults = []
    rowclock = RowClock(RATE)
    # the host saw row 50 000 arrive at experiment time 10.0 s: 5 rows per ms after that
    rowclock.observe(10.0, 50_000)
    p = PulsePlacer(Synchronizer(RATE), rowclock, post_n=POST_N, host_margin=MARGIN,
                    host_search=SEARCH, host_lag=LAG, offset=lambda: offset,
                    fault=lambda kind, detail, *a: faults.append(kind))
    return p, faults


def fired(sample_index=None, counter=1, device_us=1_000_000):
    """FIRE sent at 10.00 s, answered at 10.02 s: host rows 50 000 .. 50 100."""
    ev = StimEvent(counter, sample_index, device_us, 20_000, 1000)
    return Fired(0, ev, 10.0, 10.02, 0.0, [], (20.0, 1000.0))


def test_device_index_places_it_and_waits_for_the_sweep():
    p, faults = placer()
    p.add(fired(sample_index=50_040))
    assert p.resolve(next_row=50_040 + POST_N - 1) == []  # the sweep's last row is missing
    (f,) = p.resolve(next_row=50_040 + POST_N)
    assert (f.placement.row, f.placement.method) == (50_040, DEVICE)
    assert not p.pending and faults == []


def test_device_index_is_a_row_of_the_current_amplifier_clock():
    p, _ = placer(offset=30_000)  # the amplifier clock restarted: device sample 0 is row 30 000
    p.add(fired(sample_index=20_050))
    (f,) = p.resolve(next_row=60_000)
    assert (f.placement.row, f.placement.method) == (50_050, DEVICE)


def test_a_device_index_far_from_the_host_window_is_ignored_with_a_fault():
    p, faults = placer()
    p.sync.add_edges(np.array([50_060]))
    p.add(fired(sample_index=90_000))  # 40 000 rows after where the pulse went out
    (f,) = p.resolve(next_row=60_000)
    assert (f.placement.row, f.placement.method) == (50_060, TRIGGER)
    assert faults == ["device_index"] and f.event.sample_index is None


def test_the_trigger_edge_in_the_host_window_places_it_at_once():
    p, _ = placer()
    p.sync.add_edges(np.array([49_000, 50_070]))  # an older edge outside the window
    p.add(fired())
    # window 50 000 - 100 .. 50 100 + 100 + 200: the edge at 50 070 is the first in it
    assert p.resolve(next_row=50_100) == []  # placed, sweep not in yet
    assert p.pending[0].placement.row == 50_070
    (f,) = p.resolve(next_row=50_070 + POST_N)
    assert (f.placement.row, f.placement.method) == (50_070, TRIGGER)


def test_without_edge_or_index_the_model_places_it_once_the_window_has_passed():
    p, _ = placer()
    p.add(Fired(0, None, 10.0, 10.02, 0.0, ["no_event"], (20.0, 1000.0)))
    assert p.resolve(next_row=50_401) == []  # window ends at 50 400: not all in yet
    assert p.pending[0].placement is None
    p.resolve(next_row=50_402)
    assert p.pending[0].placement.row == 50_050  # middle of the host rows
    (f,) = p.resolve(next_row=50_050 + POST_N)
    assert f.placement.method == MODEL


def test_force_places_and_hands_on_everything():
    p, _ = placer()
    p.add(fired(sample_index=50_010, counter=1))
    p.add(fired(sample_index=50_020, counter=2, device_us=1_000_002))
    out = p.resolve(next_row=50_030, force=True)
    assert [f.placement.row for f in out] == [50_010, 50_020]


def test_exclusions_cover_placed_sweeps_and_unplaced_host_windows():
    p, _ = placer()
    p.add(fired(sample_index=50_040))
    p.resolve(next_row=50_040 + POST_N)  # written
    p.add(Fired(1, None, 10.0, 10.02, 0.0, [], (20.0, 1000.0)))  # not placed yet
    assert p.exclusions() == [(50_040, 50_040 + POST_N),
                              (50_000 - 100, 50_100 + 100 + POST_N)]


def test_host_window_in_rows():
    # 50 ms device + speed x (2 reads of 10 ms + 5 ms) at speed 1: 75 ms = 375 rows at 5 kHz;
    # search 2 s + 0.1 s = 10 500 rows; lag 5 s of wall = 25 000 rows (at 20 x: 500 000)
    assert host_window(5000.0, 1.0, 0.01) == pytest.approx((375.0, 10_500.0, 25_000.0))
    assert host_window(5000.0, 20.0, 0.01)[2] == pytest.approx(500_000.0)


def _fit_from_edges(p, n=6):
    """Pulses 1 s apart (device µs 1e6·k, rows 50 040 + 5000·k), each with its edge and its
    host window (FIRE at 10 + k s, answered 20 ms later): placed by trigger, the fit follows."""
    for k in range(n):
        p.sync.add_edges(np.array([50_040 + 5000 * k]))
        ev = StimEvent(k + 1, None, 1_000_000 * (k + 1), 20_000, 1000)
        p.add(Fired(k, ev, 10.0 + k, 10.02 + k, 0.0, [], (20.0, 1000.0)))
        p.resolve(next_row=50_040 + 5000 * k + POST_N)
    assert p.sync.fit is not None and not p.pending


def test_a_busy_host_whose_window_lags_the_fit_does_not_restart_the_sync():
    p, faults = placer()
    _fit_from_edges(p)
    # pulse 7 lies in a gap (no edge) at row 80 040; the host's row clock lags: its window
    # (79 700 .. 79 800) ends 240 rows before the pulse, beyond 2 x margin, within the search
    ev = StimEvent(7, None, 7_000_000, 20_000, 1000)
    p.add(Fired(6, ev, 15.94, 15.96, 0.0, [], (20.0, 1000.0)))
    (f,) = p.resolve(next_row=90_000)
    assert faults == [] and f.placement.method == "timestamp"
    assert abs(f.placement.row - 80_040) <= 1


def test_a_fit_that_predicts_the_pulse_before_the_fire_was_sent_restarts_the_sync():
    p, faults = placer()
    _fit_from_edges(p)
    # pulse 7's device time says 0.5 s after pulse 6 (row ~77 540), but FIRE was sent when
    # the host clock says row 79 700 (1 s after pulse 6): the clocks no longer match
    p.sync.add_edges(np.array([80_040]))
    ev = StimEvent(7, None, 6_500_000, 20_000, 1000)
    p.add(Fired(6, ev, 15.94, 15.96, 0.0, [], (20.0, 1000.0)))
    (f,) = p.resolve(next_row=90_000)
    assert faults == ["clock_restart"]
    assert (f.placement.row, f.placement.method) == (80_040, TRIGGER)  # found by the host window


def _lagging_pulse(p):
    """Pulse 7, 1 s after pulse 6 (the fit says row 80 040), whose FIRE the host's lagging row
    clock puts at rows 75 000 .. 75 100: the fit's row is 4 540 rows after that window, past
    2 x margin + search (400), within the lag (25 000)."""
    ev = StimEvent(7, None, 7_000_000, 20_000, 1000)
    p.add(Fired(6, ev, 15.0, 15.02, 0.0, [], (20.0, 1000.0)))


def test_a_host_lagging_past_the_search_keeps_the_fit_the_trigger_confirms():
    p, faults = placer()
    _fit_from_edges(p)
    _lagging_pulse(p)
    assert p.resolve(next_row=76_000) == []  # the fit's window is not in yet: wait
    assert p.pending[0].placement is None and faults == []
    p.sync.add_edges(np.array([80_040]))  # the rows up to 90 000 arrive, with its edge
    (f,) = p.resolve(next_row=90_000)
    assert faults == [] and (f.placement.row, f.placement.method) == (80_040, TRIGGER)


def test_a_lagging_host_without_the_edge_where_the_fit_says_restarts_the_sync():
    p, faults = placer()
    _fit_from_edges(p)
    _lagging_pulse(p)
    assert p.resolve(next_row=76_000) == [] and faults == []
    p.sync.add_edges(np.array([85_000]))  # the only edge is 1 s after the fit's row
    (f,) = p.resolve(next_row=90_000)  # the fit's window is in, without an edge: a mismatch
    assert faults == ["clock_restart"]
    assert (f.placement.row, f.placement.method) == (75_050, MODEL)  # the host's estimate


def test_a_fit_far_past_any_host_lag_restarts_the_sync_at_once():
    p, faults = placer()
    _fit_from_edges(p)
    ev = StimEvent(7, None, 12_000_000, 20_000, 1000)  # the fit: row 105 040
    p.add(Fired(6, ev, 15.0, 15.02, 0.0, [], (20.0, 1000.0)))  # host: 75 000 .. 75 100
    p.resolve(next_row=76_000)  # 29 540 rows past the search: more than the lag, no waiting
    assert faults == ["clock_restart"]
