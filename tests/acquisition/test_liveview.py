"""Live view formatting: per-stimulus line, progress bar, ETA."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.acquisition.liveview import eta_s, progress_bar, stimulus_line


def test_stimulus_line_shows_every_value_with_units():
    line = stimulus_line(n=7, n_total=120, time_s=63.25, intensity_mA=12.5, M_mV=0.4321,
                         H_mV=2.1, background_uV=8.26, wait_s=1.5, flags=("bg_high", "edge"),
                         block="recruitment")
    assert line == ("  7/120  t    63.2 s  I  12.50 mA  M  0.432 mV  H  2.100 mV  "
                    "bg    8.3 µV  wait  1.5 s  recruitment  [bg_high,edge]")


def test_stimulus_line_unknown_values_and_alignment():
    a = stimulus_line(n=1, n_total=20, time_s=0.0, intensity_mA=5, M_mV=None, H_mV=float("nan"),
                      background_uV=None)
    b = stimulus_line(n=20, n_total=20, time_s=1234.5, intensity_mA=45.25, M_mV=10.5, H_mV=3,
                      background_uV=120.0)
    assert " 1/20" in a and "M      - mV  H      - mV  bg      - µV" in a and "[" not in a
    assert len(a) == len(b)  # columns line up
    assert [a.index(k) for k in ("I ", "M ", "H ", "bg", "wait")] == [
        b.index(k) for k in ("I ", "M ", "H ", "bg", "wait")]


def test_progress_bar():
    assert progress_bar(45, 90, 395, 430, width=20) == (
        "[##########..........]  45/90   50%  elapsed 6:35  ETA 7:10")
    assert progress_bar(0, 10, 0, None, width=4) == "[....]  0/10    0%  elapsed 0:00  ETA -"
    assert progress_bar(10, 10, 3725, 0, width=4).startswith("[####]  10/10  100%  elapsed 1:02:05")


@pytest.mark.parametrize(("n_done", "elapsed", "expected"), [
    (0, 0.0, 40.0),  # nothing done: the planned duration
    (3, 20.0, 20.0),  # on time: planned 20 s done, 20 s to go
    (3, 30.0, 30.0),  # 1.5x slower so far: the 20 s ahead become 30 s
    (3, 10.0, 20.0),  # ahead of plan (cannot be faster than the schedule): not shrunk
    (5, 99.0, 0.0),  # all delivered
])
def test_eta_scales_the_remaining_plan_by_the_slowdown(n_done, elapsed, expected):
    planned = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    assert eta_s(planned, n_done, elapsed) == pytest.approx(expected)


def test_eta_before_any_planned_time_has_passed():
    assert eta_s(np.array([0.0, 5.0]), 1, 3.0) == pytest.approx(5.0)
