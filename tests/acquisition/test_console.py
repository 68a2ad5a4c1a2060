"""Output that may go away (a closed pipe, a closed stream) never raises, and the signals of a
session: SIGINT/SIGTERM request a stop with a reason and exit status, SIGHUP only a notice."""

from __future__ import annotations

import io
import os
import signal
import sys

from hreflex.acquisition.console import Console, echo, guard
from hreflex.acquisition.signals import StopRequest, session_signals


def test_a_closed_pipe_is_dropped_and_its_descriptor_goes_to_dev_null():
    r, w = os.pipe()
    os.close(r)  # the reader went away (``| head`` exited)
    stream = os.fdopen(w, "w", buffering=1)
    console = Console(stream)
    console.write("line 1\n")  # EPIPE (SIGPIPE is ignored by Python)
    console.flush()
    assert console.lost
    console.write("line 2\n")  # silently dropped
    assert os.write(stream.fileno(), b"x") == 1  # the descriptor now writes to /dev/null
    if sys.platform == "linux":
        assert os.path.samefile(f"/proc/self/fd/{stream.fileno()}", os.devnull)
    stream.close()  # the interpreter's final flush cannot fail either


def test_a_closed_stream_and_a_good_stream():
    closed = io.StringIO()
    closed.close()
    console = Console(closed)
    console.write("x")
    assert console.lost and not console.isatty()
    good = io.StringIO()
    console = guard(good)
    console.write("ok\n")
    assert good.getvalue() == "ok\n" and not console.lost
    assert guard(console) is console and guard(None) is None


def test_echo_survives_a_broken_stdout(monkeypatch):
    broken = io.StringIO()
    broken.close()
    monkeypatch.setattr(sys, "stdout", broken)
    echo("session   x.h5")  # no exception


def test_stop_request_reason_and_exit_status():
    stop = StopRequest()
    assert not stop.is_set() and stop.exit_code is None
    stop.request("interrupted (SIGTERM)", signal.SIGTERM)
    stop.request("later", signal.SIGINT)  # the first reason stays
    assert stop.is_set() and stop.reason == "interrupted (SIGTERM)" and stop.exit_code == 143


def test_session_signals_stop_on_sigterm_and_only_note_sighup():
    before = signal.getsignal(signal.SIGTERM)
    with session_signals() as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        assert not stop.is_set() and len(stop.notices) == 1 and "SIGHUP" in stop.notices[0]
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and stop.reason == "interrupted (SIGTERM)"
        assert stop.exit_code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
