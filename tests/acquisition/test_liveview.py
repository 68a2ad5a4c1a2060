"""Live view: per-stimulus line, progress bar, ETA (formatting) and the terminal view (writing)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hreflex.acquisition.liveview import TerminalView, eta_s, progress_bar, stimulus_line


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


# -- the terminal view (what is written where) -------------------------------------------------

class Tty(io.StringIO):
    def isatty(self):
        return True


def test_view_on_a_file_prints_the_bar_at_every_tenth():
    out = io.StringIO()
    view = TerminalView(out)
    planned = np.arange(20.0)  # 20 stimuli, 1 s apart
    for n in range(1, 21):
        view.progress(planned, n, n, float(n - 1))
    lines = out.getvalue().splitlines()
    # 5 %, then 10 %, 20 %, ..., 100 %: 11 bars, each a whole line
    assert len(lines) == 11 and all(line.startswith("[") for line in lines)
    assert [line.split()[1] for line in lines] == ["1/20", "2/20", *[f"{n}/20" for n in
                                                                      range(4, 21, 2)]]
    view.say("fault: stall: no data")
    assert out.getvalue().endswith("\n".join(lines[-1:]) + "\nfault: stall: no data\n")


def test_view_on_a_terminal_redraws_the_bar_in_place_and_clears_it_for_a_line():
    out = Tty()
    view = TerminalView(out)
    planned = np.arange(4.0)
    view.progress(planned, 1, 1, 0.0)
    bar1 = progress_bar(1, 4, 0.0, eta_s(planned, 1, 0.0))
    assert out.getvalue() == "\r\033[K" + bar1  # no newline: the next draw replaces it
    view.say("  2/4  ...")
    assert out.getvalue() == "\r\033[K" + bar1 + "\r\033[K" + "  2/4  ...\n"
    view.progress(planned, 2, 2, 1.0)
    view.close()
    assert out.getvalue().endswith(progress_bar(2, 4, 1.0, eta_s(planned, 2, 1.0)) + "\n")


def test_view_shows_wall_time_at_the_speed_factor():
    out = io.StringIO()
    TerminalView(out).progress(np.array([0.0, 100.0]), 1, 1, 60.0, speed=10.0)
    assert "elapsed 0:06" in out.getvalue()  # 60 s of device time at 10x


def test_silent_view_and_a_vanished_reader_never_raise():
    TerminalView(None).say("x")
    TerminalView(None).progress(np.arange(3.0), 1, 1, 0.0)

    class Gone(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "EPIPE")

    view = TerminalView(Gone())
    view.say("line")  # swallowed; later writes are dropped
    view.progress(np.arange(3.0), 1, 1, 0.0)
    assert view.log.lost
