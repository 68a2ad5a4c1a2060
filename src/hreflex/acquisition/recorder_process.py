"""The recorder in its own process: no file-system stall can hold the acquiring process's GIL.

:class:`RecorderProcess` has the interface of :class:`~hreflex.acquisition.recorder.Recorder`
(``put_*`` only queue, ``low_space``, ``derived``, ``backlog``, ``close(end)`` -> stats). Its
child process creates the session file from the :class:`SessionLayout` (h5py objects do not
cross processes) and runs the same :class:`~hreflex.acquisition.recorder.RowWriter` as the
writer thread, so rows, gaps and faults come out the same. ``docs/ACQUISITION.md``
("The recorder process") says what crosses the boundary and what happens when either side
dies.

In the acquiring process two threads do the talking: the *shipper* packs what was queued in
the last ``ship_interval_s`` into one batch (:mod:`~hreflex.acquisition.batch`) and sends it
down a pipe; the *listener* takes the child's messages (derived faults, low disk space,
batches taken, the final stats) and notices when the child ends. Neither a producer nor the
engine ever waits for the child: when it falls ``max_backlog_bytes`` behind, ``low_space``
says so (the engine stops the session while the file can still be closed), and past twice
that ``put_*`` raise. When the child dies, ``low_space`` says so in one line and ``put_*``
drop what they are given (the journal holds it); after a failed write they raise, as the
writer thread's do.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from hreflex.acquisition.batch import item_nbytes, pack, unpack
from hreflex.acquisition.diskspace import DiskGuard, write_error_text
from hreflex.acquisition.journal import Journal
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import (
    Producer,
    Recorder,
    RecorderStats,
    RowWriter,
    check_flush_interval,
)
from hreflex.errors import FileFormatError
from hreflex.io.endstate import COMPLETED, stopped

START_TIMEOUT_S = 60.0  # for the child to create the file (a cold start on a loaded machine)

_context: mp.context.BaseContext | None = None


def context() -> mp.context.BaseContext:
    """'forkserver' where there is one (a fork of a clean server with this module loaded: no
    threads or locks of the acquiring process are copied), else 'spawn'."""
    global _context
    if _context is None:
        if "forkserver" in mp.get_all_start_methods():
            _context = mp.get_context("forkserver")
            _context.set_forkserver_preload([__name__])
        else:  # pragma: no cover (Windows)
            _context = mp.get_context("spawn")
    return _context


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class RecorderProcess(Producer):
    """Recorder whose writer runs in a child process; see the module docstring.

    ``layout``/``path``: the session file the child creates (SWMR, as
    :meth:`SessionLayout.create_writer`). ``flush_interval_s``, ``journal`` (written here, by
    the producers), ``max_gap_samples`` and ``disk`` (looked at by the child at every flush)
    mean what they mean for :class:`Recorder`. ``ship_interval_s``: how often queued items go
    to the child as one batch. ``max_backlog_bytes``: how far (array bytes not yet taken by
    the child) it may fall behind before :attr:`low_space` asks to stop.
    """

    def __init__(
        self,
        layout: SessionLayout,
        path: str | Path,
        *,
        flush_interval_s: float = 0.25,
        journal: Journal | None = None,
        max_gap_samples: int | None = None,
        disk: DiskGuard | None = None,
        ship_interval_s: float = 0.02,
        max_backlog_bytes: int = 64 << 20,
    ) -> None:
        self.layout, self.path, self.journal, self.disk = layout, Path(path), journal, disk
        self._options = {"flush_interval_s": check_flush_interval(flush_interval_s),
                         "max_gap_samples": max_gap_samples, "disk": disk}
        self.ship_interval_s, self.max_backlog_bytes = ship_interval_s, int(max_backlog_bytes)
        self._n_channels, self._dtype = layout.n_channels, np.dtype(layout.sample_dtype)
        #: faults the child derived (gap, overlap, clock_jump), for the live view to print
        self.derived: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        #: why the session must stop to keep the file safe: the disk is nearly full, the
        #: child fell too far behind, or it died; else None
        self.low_space: str | None = None
        self.stats = RecorderStats()
        self.pid: int | None = None  # the child's, once started
        self._failure: str | None = None  # why recording stopped (a failed write, death)
        self._done: RecorderStats | None = None  # the child's stats, once it closed the file
        self._died = False  # the child ended without closing the file
        self._lock = threading.Lock()
        self._pending: list = []
        self._pending_bytes = 0  # array bytes of _pending
        self._backlog = [0, 0]  # items, bytes queued and not yet taken by the child
        self._inflight: dict[int, tuple[int, int]] = {}  # batch -> (items, bytes)
        self._max_backlog = 0
        self._closing: str | None = None  # the end state, once close() was called
        self._wake = threading.Event()
        self._proc = None

    # -- starting ----------------------------------------------------------------------------

    def start(self) -> RecorderProcess:
        """Start the child and wait until it has created the file (raises what creating it
        raised, e.g. :class:`FileFormatError`)."""
        ctx = context()
        inbox, self._to = ctx.Pipe(duplex=False)
        self._from, outbox = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=child_main, name="hreflex-recorder",
                                 args=(self.layout, str(self.path), self._options, inbox, outbox))
        self._proc.start()
        inbox.close()  # the child holds the only other ends: EOF means it (or we) died
        outbox.close()
        msg = self._from.recv() if self._from.poll(START_TIMEOUT_S) else ("late",)
        if msg[0] != "ready":
            if msg[0] == "late":
                self._proc.kill()
            self._proc.join()
            if msg[0] == "failed":
                raise msg[1]
            raise FileFormatError(f"{self.path}: the recorder process did not start "
                                  f"({_how_it_ended(self._proc.exitcode)})")
        self.pid = msg[1]
        self._shipper = threading.Thread(target=self._ship, name="recorder-ship", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="recorder-listen",
                                          daemon=True)
        self._shipper.start()
        self._listener.start()
        atexit.register(self._at_exit)
        return self

    # -- producer side ----------------------------------------------------------------------

    def _put(self, item) -> None:
        if self._failure is not None:
            if self._died:  # low_space says so; the journal has the item
                return
            raise FileFormatError(f"recording stopped: {self._failure}")
        nbytes = item_nbytes(item)
        with self._lock:
            if self._closing is not None:
                raise FileFormatError(f"{self.path}: the recording is closed")
            self._pending.append(item)
            self._pending_bytes += nbytes
            self._backlog[0] += 1
            self._backlog[1] += nbytes
            behind = self._backlog[1]
            self._max_backlog = max(self._max_backlog, self._backlog[0])
        if behind > self.max_backlog_bytes:
            self.low_space = self.low_space or (
                f"the recorder process is {behind / 1e6:.0f} MB behind the stream (a stalled "
                "disk?); stopped while the file can still be closed")
            if behind > 2 * self.max_backlog_bytes:
                raise FileFormatError(f"recording stopped: {self.low_space}")

    @property
    def backlog(self) -> int:
        """Items queued and not yet taken by the child."""
        return self._backlog[0]

    @property
    def error(self) -> BaseException | None:
        """Why recording stopped (a failed write in the child, or its death), if it did."""
        return None if self._failure is None else FileFormatError(self._failure)

    def close(self, end_state: str = COMPLETED) -> RecorderStats:
        """Send everything queued, let the child write, flush and close the file with
        ``end_state``; close the journal; return the child's stats. Raises
        :class:`FileFormatError` if the child failed to write or died."""
        if self._proc is None:
            self.start()
        with self._lock:
            self._closing = self._closing or end_state
        self._wake.set()
        self._shipper.join()
        self._listener.join()  # until the child has ended
        atexit.unregister(self._at_exit)
        self._to.close()
        self._from.close()
        if self.journal is not None:
            self.journal.close()
        if self._done is not None:
            self.stats = self._done
        self.stats.max_backlog = self._max_backlog
        if self._failure is not None:
            raise FileFormatError(f"recording stopped: {self._failure}")
        return self.stats

    def _at_exit(self) -> None:
        """The interpreter is exiting without close(): let the child close the file."""
        try:
            self.close(stopped("the acquiring program exited without closing the recording"))
        except Exception:  # noqa: BLE001 (nothing left to tell at exit)
            pass

    # -- the two threads talking to the child -----------------------------------------------

    def _ship(self) -> None:
        seq = 0
        while True:
            self._wake.wait(self.ship_interval_s)
            self._wake.clear()
            with self._lock:
                items, self._pending, end = self._pending, [], self._closing
                nbytes, self._pending_bytes = self._pending_bytes, 0
                if items:
                    seq += 1
                    self._inflight[seq] = (len(items), nbytes)
            try:
                if items:
                    self._to.send(("batch", seq, pack(items, self._n_channels, self._dtype)))
                if end is not None:
                    self._to.send(("stop", end))
                    return
            except (OSError, ValueError):  # the child is gone: the listener tells
                if end is not None:
                    return

    def _listen(self) -> None:
        while True:
            try:
                msg = self._from.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "fault":
                self.derived.put((msg[1], msg[2]))
            elif kind == "taken":
                with self._lock:
                    n, nbytes = self._inflight.pop(msg[1])
                    self._backlog[0] -= n
                    self._backlog[1] -= nbytes
            elif kind == "low":
                self.low_space = self.low_space or msg[1]
            elif kind == "error":
                self._failure = msg[1]
            elif kind == "done":
                self._done = msg[1]
        self._proc.join()
        if self._done is None:
            rest = ("'hreflex recover' adds the rest from the journal"
                    if self.journal is not None else "the file holds what it had flushed")
            self._died = True
            self._failure = (f"the recorder process died ({_how_it_ended(self._proc.exitcode)});"
                             f" {rest}")
            self.low_space = self.low_space or self._failure


def start_recorder(layout: SessionLayout, path: str | Path, *, in_process: bool = False,
                   **options) -> Recorder | RecorderProcess:
    """A started recorder creating ``path`` from ``layout``: a :class:`RecorderProcess`, or
    with ``in_process`` the writer thread :class:`Recorder` (``options``: theirs)."""
    if in_process:
        return Recorder(layout.create_writer(path), **options).start()
    return RecorderProcess(layout, path, **options).start()


# -- the child --------------------------------------------------------------------------------

class _Outbox:
    """Messages to the acquiring process; once it is gone, they go nowhere."""

    def __init__(self, conn) -> None:
        self.conn, self.open = conn, True

    def __call__(self, *msg) -> None:
        if self.open:
            try:
                self.conn.send(msg)
            except OSError:
                self.open = False


def _die_with_parent() -> None:
    """Linux: the kernel kills this process (SIGKILL) as soon as its parent dies (the
    forkserver, which ends as soon as the acquiring process does; or the acquiring process)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover
            pass


def child_main(layout: SessionLayout, path: str, options: dict, inbox, outbox) -> None:
    """The recorder process: create the file, run :class:`RowWriter` on the batches from
    ``inbox`` until told to stop, close the file. When the acquiring process is gone it ends
    at once, leaving the file as a killed writer leaves it (``hreflex recover`` finishes it
    from the journal)."""
    _die_with_parent()
    for name in ("SIGINT", "SIGHUP"):  # Ctrl-C and a closed terminal are the parent's to handle
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    tell = _Outbox(outbox)
    try:
        writer = RowWriter(layout.create_writer(path), **options,
                           on_fault=lambda kind, detail: tell("fault", kind, detail))
    except Exception as exc:  # noqa: BLE001 (sent to the parent, which raises it)
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001
            exc = FileFormatError(f"{path}: {type(exc).__name__}: {exc}")
        tell("failed", exc)
        return
    tell("ready", os.getpid())
    end, told_low = [COMPLETED], [False]

    def receive(timeout_s: float) -> list | None:
        if writer.low_space and not told_low[0]:
            told_low[0] = True
            tell("low", writer.low_space)
        try:
            if not inbox.poll(timeout_s):
                return []
            msg = inbox.recv()
        except (EOFError, OSError):  # the acquiring process is gone (where no PDEATHSIG)
            os._exit(1)  # as the writer thread would have died with it
        if msg[0] == "stop":
            end[0] = msg[1]
            return None
        tell("taken", msg[1])
        return unpack(msg[2])

    writer.run(receive)
    writer.close(end[0])
    if writer.error is not None:
        tell("error", write_error_text(writer.error))
    tell("done", writer.stats)
