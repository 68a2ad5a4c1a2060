"""Pulse placement: each fired pulse gets its row on the EMG clock (``sync``: device index,
trigger edge, or the drift model), once the rows that can tell have arrived.

A :class:`~.outcome.Fired` waits in :attr:`PulsePlacer.pending` (in firing order) until

1. it can be placed: its STIM_EVENT's latched ``sample_index`` (device index) is a row of the
   current amplifier clock near where the host clock says the pulse went out, or a trigger
   edge lies in the window the drift model (or the host clock, for the first pulse of a
   clock epoch) predicts, or the rows after that window have all arrived (model);
2. its sweep (``post_n`` rows after it) has arrived.

Then :meth:`PulsePlacer.resolve` hands it on (to be measured and written). ``force`` places
and hands on everything now (shutdown, amplifier clock restart). A stimulator whose clock
went back (restart) or no longer matches the EMG clock starts a new fit epoch; a fit that
puts the pulse after the host clock's window is kept when the trigger confirms it (a busy
host's reads come late, so its clock lags).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable

from hreflex.acquisition.outcome import Fired
from hreflex.acquisition.sync import LATCH_TOLERANCE, MODEL, Placement, RowClock, Synchronizer
from hreflex.protocol import StimEvent

#: how long (wall s) a busy host may fall behind reading the EMG while a pulse's place is
#: still taken from the clock fit once the trigger confirms it (``host_window``)
HOST_LAG_WALL_S = 5.0


class PulsePlacer:
    """See the module doc. ``rate``: EMG samples/s; ``post_n``: rows of a sweep after the
    pulse; ``host_margin``/``host_search``: rows a just-fired pulse may lie from the host
    clock's window / after it, ``host_lag``: rows a busy host's clock may lag beyond that
    (see :func:`host_window`); ``offset()``: the current amplifier
    clock's row offset; ``fault(kind, detail)``: the session's fault sink."""

    def __init__(self, sync: Synchronizer, rowclock: RowClock, *, post_n: int,
                 host_margin: float, host_search: float, host_lag: float,
                 offset: Callable[[], int], fault: Callable[..., None]) -> None:
        self.sync, self.rowclock = sync, rowclock
        self.post_n, self.host_margin, self.host_search = post_n, host_margin, host_search
        self.host_lag = host_lag
        self.offset, self._fault = offset, fault
        self.pending: deque[Fired] = deque()
        self._written: deque[tuple[int, int]] = deque(maxlen=16)  # recent sweeps' rows
        self._last_event: StimEvent | None = None

    def add(self, f: Fired) -> None:
        """A pulse just fired (or reported)."""
        self.pending.append(f)

    def resolve(self, next_row: int, force: bool = False) -> list[Fired]:
        """Pending pulses placed and with their sweep in (rows below ``next_row`` have
        arrived), in order; ``force``: all of them, placed with what is known."""
        out = []
        while self.pending:
            f = self.pending[0]
            if f.placement is None:
                f.placement = self._place(f, next_row, force)
                if f.placement is None:
                    break
            if not force and next_row < f.placement.row + self.post_n:
                break
            self.pending.popleft()
            self._written.append((f.placement.row, f.placement.row + self.post_n))
            out.append(f)
        return out

    def place_pending(self, next_row: int) -> None:
        """Place every pending pulse now with what is known (before a clock restart)."""
        for f in self.pending:
            if f.placement is None:
                f.placement = self._place(f, next_row, force=True)

    def exclusions(self) -> list[tuple[int, int]]:
        """Rows holding responses to recent stimuli (gating leaves them out): ``[row, row +
        post]`` of placed pulses, the whole host-clock window of those not placed yet."""
        out = list(self._written)
        for f in self.pending:
            if f.placement is not None:
                out.append((f.placement.row, f.placement.row + self.post_n))
            elif (host := self._host_rows(f)) is not None:
                out.append((int(host[0] - self.host_margin),
                            int(host[1] + self.host_margin) + self.post_n))
        return out

    def _host_rows(self, f: Fired) -> tuple[float, float] | None:
        lo, hi = self.rowclock.row_at(f.h_send), self.rowclock.row_at(f.h_ack)
        return None if lo is None else (lo, hi)

    def _place(self, f: Fired, next_row: int, force: bool) -> Placement | None:
        t_us = f.event.device_time_us if f.event is not None else None
        host = self._host_rows(f)
        last, fit = self._last_event, self.sync.fit
        if f.event is not None and last is not None and (
                f.event.device_time_us < last.device_time_us
                or f.event.pulse_counter <= last.pulse_counter):
            self.sync.new_epoch()  # the stimulator restarted: its clock too
        elif fit is not None and t_us is not None and host is not None:
            mismatch = self._fit_mismatch(fit.predict(t_us), t_us, host, next_row, force)
            if mismatch is None:
                return None  # (wait for the rows that tell)
            if mismatch:
                self.sync.new_epoch()
                self._fault("clock_restart", "stimulator clock no longer matches the EMG clock; "
                                            "synchronisation starts again")
        latched = self._latched_row(f, host)
        win = ((latched - LATCH_TOLERANCE, latched + LATCH_TOLERANCE) if latched is not None
               else self.sync.window(t_us, host, self.host_margin, self.host_search))
        if not force and (win is None or (next_row <= win[1] + 1
                                          and not self.sync.has_edge(win))):
            return None
        if f.event is not None:
            self._last_event = f.event
        placed = self.sync.place(t_us, host, self.host_margin, self.host_search, latched)
        if placed is None:
            placed = Placement(max(0, next_row - 1), MODEL, float("nan"))
        if placed.row < 0:
            placed = dataclasses.replace(placed, row=0)
        self.sync.prune(placed.row)
        return placed

    def _fit_mismatch(self, p: float, t_us: int, host: tuple[float, float], next_row: int,
                      force: bool) -> bool | None:
        """Whether the fit's prediction ``p`` (row) of a pulse at device time ``t_us`` no
        longer matches the EMG clock, given the host rows of its FIRE (lower bounds,
        :class:`RowClock`); None: not known until more rows arrive.

        Before the FIRE was sent (less 2 x ``host_margin``) it cannot be. After its answer
        (plus 2 x ``host_margin`` and ``host_search``) it may be a busy host whose reads came
        late (its row clock lags), up to ``host_lag`` rows more: there a trigger edge in the
        fit's own window confirms the fit, and the placer waits for those rows (unless
        ``force``); no edge there, or later still, is a mismatch."""
        if p < host[0] - 2 * self.host_margin:
            return True
        late = p - (host[1] + 2 * self.host_margin + self.host_search)
        if late <= 0:
            return False
        if late > self.host_lag:
            return True
        win = self.sync.window(t_us, None, 0.0)  # the fit's own window
        if self.sync.has_edge(win):
            return False
        return None if not force and next_row <= win[1] + 1 else True

    def _latched_row(self, f: Fired, host: tuple[float, float] | None) -> int | None:
        """The STIM_EVENT's device-latched sample as a row of the current amplifier clock, or
        None (none, or too far from the host's window to be this amplifier's clock: then it
        is ignored for good, with a ``device_index`` fault)."""
        index = f.event.sample_index if f.event is not None else None
        if index is None:
            return None
        row = int(index) + self.offset()
        lo, hi = ((host[0] - 2 * self.host_margin, host[1] + 2 * self.host_margin
                   + self.host_search) if host is not None else (0, math.inf))
        if lo <= row <= hi and row >= 0:
            return row
        f.event = dataclasses.replace(f.event, sample_index=None)
        self._fault("device_index", f"pulse {f.event.pulse_counter}: STIM_EVENT sample_index "
                                   f"{index} (row {row}) is not where the pulse went out; "
                                   "placed without it")
        return None


def host_window(rate_Hz: float, speed: float, read_interval_s: float
                ) -> tuple[float, float, float]:
    """``(host_margin, host_search, host_lag)`` in rows: how far from the host clock's
    estimate a just-fired pulse may lie (delivery latency of two amplifier reads and 5 ms,
    plus 50 ms of device time), how far after it the first pulse of a clock epoch is still
    looked for (2 s of device time plus 0.1 s of wall), and how much further a busy host's
    clock may lag behind a fit that the trigger confirms (5 s of wall)."""
    return ((0.05 + speed * (2 * read_interval_s + 0.005)) * rate_Hz,
            (2.0 + speed * 0.1) * rate_Hz, speed * HOST_LAG_WALL_S * rate_Hz)
