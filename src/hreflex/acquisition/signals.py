"""Signals during a session: stop safely on Ctrl-C and SIGTERM, carry on through SIGHUP.

    with session_signals() as stop:          # the main thread only; elsewhere a plain request
        Engine(cfg, stop=stop).run()
    stop.exit_code                           # 130 (Ctrl-C), 143 (SIGTERM), None (no signal)

The first SIGINT (Ctrl-C) or SIGTERM only sets the :class:`StopRequest`; the engine sees it at
its next loop turn and stops the way it always does (disarm, write what arrived, close the
file with ``end_state = stopped: interrupted (…)``). A second Ctrl-C raises
KeyboardInterrupt, which takes the same way out. SIGHUP (the terminal closed, e.g. an ssh
session dropped) does not stop anything: it is noted (the engine records a ``hangup`` fault)
and the session goes on; its output then goes nowhere (``console.Console``).
Exit statuses follow the shell's 128 + signal number, so a script can tell them apart.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: the reason a signal stops the session with (``stopped: <reason>``)
_STOPPING = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "interrupted (SIGTERM)"}
_HANGUP = getattr(signal, "SIGHUP", None)  # not on Windows


class StopRequest(threading.Event):
    """A :class:`threading.Event` the engine polls, with why it was set (``reason``), the
    signal that set it (``signum``) and notices to record without stopping (``notices``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""
        self.signum: int | None = None
        self.notices: list[str] = []

    def request(self, reason: str, signum: int | None = None) -> None:
        if not self.is_set():
            self.reason, self.signum = reason, signum
        self.set()

    @property
    def exit_code(self) -> int | None:
        """128 + the signal number that stopped the session, or None."""
        return None if self.signum is None else 128 + int(self.signum)


@contextlib.contextmanager
def session_signals() -> Iterator[StopRequest]:
    """Install the handlers (see the module doc) while inside; the old ones come back after.
    Outside the main thread no handler can be installed: the request is returned as is."""
    stop = StopRequest()

    def on_stop(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.request(_STOPPING[signum], signum)

    def on_hangup(signum, frame):
        stop.notices.append("SIGHUP: the terminal closed; the session goes on without output "
                            "(stop it with kill -TERM)")

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    handlers = {s: on_stop for s in _STOPPING}
    if _HANGUP is not None:
        handlers[_HANGUP] = on_hangup
    old = {s: signal.signal(s, h) for s, h in handlers.items()}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
