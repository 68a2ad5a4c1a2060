"""The recorder: a writer thread that owns the session file.

:class:`RowWriter` is the placement and writing (one implementation); :class:`Recorder` runs
it in a thread of this process, :class:`~hreflex.acquisition.recorder_process.RecorderProcess`
in a child process (no file-system stall can then hold the GIL of the acquiring process).

Producers (the serial reader threads, the stimulus loop) call ``put_samples`` /
``put_blocks`` / ``put_stimuli`` / ``put_faults``: these only queue and never wait for the
disk. The thread places samples by their index on the EMG clock (row k of
``/emg/continuous`` is always sample k): missing samples become zero rows plus one ``gap``
fault, samples for rows already written are dropped (``overlap`` fault), so later samples are
never shifted. It writes and flushes at least every ``flush_interval_s`` (≤ 0.5 s), which
bounds what a crash can lose from the file.

With a :class:`~hreflex.acquisition.journal.Journal`, stimulus and fault rows are also
journaled as they are queued (the reader thread journals the raw wire bytes itself), so
``hreflex recover`` can redo exactly what this thread would have written.

With a :class:`~hreflex.acquisition.diskspace.DiskGuard`, every flush also looks at the free
space: below the reserve, :attr:`Recorder.low_space` says so (the engine then stops the
session while the file can still be closed). A write that fails anyway stops the thread; it
closes the file with ``end_state = stopped: <why>`` if it still can.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hreflex.acquisition.diskspace import DiskGuard, write_error_text
from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.journal import SOURCE_FAULTS, SOURCE_STIMULI, Journal
from hreflex.errors import FileFormatError
from hreflex.io.endstate import COMPLETED, stopped
from hreflex.io.format import FAULT_DTYPE, STIMULUS_DTYPE
from hreflex.protocol.decoder import SampleBlocks

_STOP = object()
_ZERO_CHUNK_ROWS = 1 << 16  # zero rows for a gap are written in pieces of at most this


class Sink(Protocol):
    """What the recorder writes to (:class:`~hreflex.io.writer.SessionWriter` is one)."""

    n_samples: int
    n_channels: int

    def append_samples(self, samples: np.ndarray, trigger: np.ndarray | None = None) -> None: ...
    def append_stimuli(self, rows: np.ndarray) -> None: ...
    def append_faults(self, rows: np.ndarray) -> None: ...
    def flush(self) -> None: ...
    def close(self, end_state: str = COMPLETED) -> None: ...


@dataclass
class RecorderStats:
    """Counters of what the recorder did (returned by ``close``)."""

    n_samples: int = 0  # rows this recorder wrote (received + zero-filled)
    gap_samples: int = 0  # zero rows written for samples that never arrived
    dropped_samples: int = 0  # samples for rows already written (overlap) or beyond max_gap
    n_stimuli: int = 0
    n_faults: int = 0
    n_flushes: int = 0
    max_flush_gap_s: float = 0.0  # longest time between two flushes
    max_backlog: int = 0  # most items queued and not yet taken by the writer at once
    skipped: Counter = field(default_factory=Counter)  # rows already present (recovery)


class _Present:
    """Rows already in the file (recovery): each identical new row consumes one instead of
    being written again."""

    def __init__(self, rows: np.ndarray | None) -> None:
        self._left = Counter(r.tobytes() for r in rows) if rows is not None else Counter()

    def new_rows(self, rows: np.ndarray) -> np.ndarray:
        if not self._left:
            return rows
        keep = np.ones(len(rows), bool)
        for i, r in enumerate(rows):
            key = r.tobytes()
            if self._left[key] > 0:
                self._left[key] -= 1
                keep[i] = False
        return rows[keep]


def check_flush_interval(flush_interval_s: float) -> float:
    if not 0 < flush_interval_s <= 0.5:
        raise ValueError(f"flush_interval_s must be in (0, 0.5], got {flush_interval_s}")
    return float(flush_interval_s)


class RowWriter:
    """Places items on their rows and writes them to ``sink``: what the writer thread and the
    recorder process both run (see the module docstring for the placement rules).

    Items: ``("s", first_index, counts, trigger)``, ``("t", stimulus_rows)``,
    ``("f", fault_rows)``. ``on_fault(kind, detail)`` hears of every fault it derives (gap,
    overlap, clock_jump). The other arguments are :class:`Recorder`'s.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        flush_interval_s: float = 0.25,
        resume_rows: int = 0,
        max_gap_samples: int | None = None,
        present_stimuli: np.ndarray | None = None,
        present_faults: np.ndarray | None = None,
        disk: DiskGuard | None = None,
        on_fault: Callable[[str, str], None] | None = None,
    ) -> None:
        self.flush_interval_s = check_flush_interval(flush_interval_s)
        if sink.n_samples != resume_rows:
            raise ValueError(f"sink holds {sink.n_samples} rows, resume_rows is {resume_rows}")
        self.sink, self.disk, self.max_gap_samples = sink, disk, max_gap_samples
        self.on_fault = on_fault
        self.stats = RecorderStats()
        self.low_space: str | None = None  # set at a flush once the disk is below its reserve
        self.error: BaseException | None = None  # what stopped :meth:`run`
        self._next = 0  # the sample the next row stands for
        self._resume = int(resume_rows)
        self._stimuli_present = _Present(present_stimuli)
        self._faults_present = _Present(present_faults)
        self._pending: list = []  # sample arrays (counts, trigger) or int (zero rows)
        self._pending_stimuli: list[np.ndarray] = []
        self._pending_faults: list[np.ndarray] = []

    def run(self, receive: Callable[[float], list | None]) -> None:
        """Take items from ``receive(timeout_s)`` (a list, maybe empty; None: stop), write
        and flush at least every ``flush_interval_s``, until told to stop or a write fails
        (then :attr:`error` says why and the disk's ballast is released)."""
        try:
            last = time.monotonic()
            deadline = last + self.flush_interval_s
            stop = False
            while not stop:
                items = receive(max(0.0, deadline - time.monotonic()))
                stop = items is None
                for item in items or ():
                    self.take(item)
                if stop or time.monotonic() >= deadline:
                    self._write()
                    self.sink.flush()
                    if self.disk is not None and self.low_space is None:
                        self.low_space = self.disk.low()
                    done = time.monotonic()
                    self.stats.n_flushes += 1
                    self.stats.max_flush_gap_s = max(self.stats.max_flush_gap_s, done - last)
                    last, deadline = done, done + self.flush_interval_s
        except BaseException as exc:  # disk full, I/O error...: tell the producers
            self.error = exc
            if self.disk is not None:
                self.disk.release()  # room to flush and close the file

    def close(self, end_state: str) -> None:
        """Close the sink with ``end_state`` (or, after a failed write, with why)."""
        end = (end_state if self.error is None else
               stopped(f"the file could not be written: {write_error_text(self.error)}"))
        try:
            self.sink.close(end)
        except BaseException as exc:
            self.error = self.error or exc

    def _fault(self, kind: str, start: int, n: int, detail: str) -> None:
        self._pending_faults.append(fault_rows(kind, start, n, detail))
        if self.on_fault is not None:
            self.on_fault(kind, detail)

    def take(self, item) -> None:
        """Place one item (written at the next flush)."""
        tag = item[0]
        if tag == "t":
            self._pending_stimuli.append(item[1])
            return
        if tag == "f":
            self._pending_faults.append(item[1])
            return
        _, first, counts, trig = item
        n = len(counts)
        if first > self._next:
            gap = first - self._next
            if self.max_gap_samples is not None and gap > self.max_gap_samples:
                self.stats.dropped_samples += n
                self._fault("clock_jump", first, n, f"block at sample {first} is {gap} samples "
                            f"ahead of sample {self._next}; dropped")
                return
            self._fault("gap", self._next, gap, f"samples {self._next}-{first - 1} not received")
            self.stats.gap_samples += gap
            zeros = first - max(self._next, self._resume)
            if zeros > 0:
                self._pending.append(zeros)
            self._next = first
        elif first < self._next:
            skip = min(n, self._next - first)
            self.stats.dropped_samples += skip
            self._fault("overlap", first, skip,
                        f"samples {first}-{first + skip - 1} arrived again; dropped")
            counts, trig, first = counts[skip:], trig[skip:], first + skip
        if len(counts):
            done = max(0, self._resume - first)  # rows already in the sink
            if done < len(counts):
                self._pending.append((counts[done:], trig[done:]))
            self._next = first + len(counts)

    def _write(self) -> None:
        runs: list[tuple[np.ndarray, np.ndarray]] = []

        def write_runs() -> None:
            if runs:
                self.sink.append_samples(np.concatenate([r[0] for r in runs]),
                                         np.concatenate([r[1] for r in runs]))
                self.stats.n_samples += sum(len(r[1]) for r in runs)
                runs.clear()

        for part in self._pending:
            if isinstance(part, int):
                for start in range(0, part, _ZERO_CHUNK_ROWS):
                    rows = min(_ZERO_CHUNK_ROWS, part - start)
                    write_runs()
                    self.sink.append_samples(
                        np.zeros((rows, self.sink.n_channels), np.int16), np.zeros(rows, np.uint8)
                    )
                    self.stats.n_samples += rows
            else:
                runs.append(part)
        write_runs()
        self._pending.clear()
        self._write_rows(self._pending_stimuli, self._stimuli_present, self.sink.append_stimuli,
                         "n_stimuli")
        self._write_rows(self._pending_faults, self._faults_present, self.sink.append_faults,
                         "n_faults")

    def _write_rows(self, pending: list, present: _Present, append, counter: str) -> None:
        if not pending:
            return
        rows = np.concatenate(pending)
        pending.clear()
        new = present.new_rows(rows)
        self.stats.skipped[counter] += len(rows) - len(new)
        if len(new):
            append(new)
            setattr(self.stats, counter, getattr(self.stats, counter) + len(new))


class Producer:
    """The producer side every recorder shares: ``put_*`` check and copy what they are given,
    journal stimulus and fault rows, and hand items to :meth:`_put` (which never waits for
    the disk)."""

    journal: Journal | None
    _n_channels: int

    def _put(self, item) -> None:
        raise NotImplementedError

    def put_samples(
        self, first_index: int, counts: np.ndarray, trigger: np.ndarray | None = None
    ) -> None:
        """Queue (n, n_channels) ``counts`` whose row 0 is sample ``first_index`` of the EMG
        clock, with their (n,) ``trigger`` bitmask (zeros if None). Both are copied, so the
        caller may reuse its buffers."""
        counts = np.array(counts)
        if counts.ndim != 2 or counts.shape[1] != self._n_channels:
            raise ValueError(f"samples must be (n, {self._n_channels}), got {counts.shape}")
        trig = np.zeros(len(counts), np.uint8) if trigger is None else np.array(trigger, np.uint8)
        if trig.shape != (len(counts),):
            raise ValueError(f"trigger must be ({len(counts)},), got {trig.shape}")
        self._put(("s", int(first_index), counts, trig))

    def put_blocks(self, blocks: SampleBlocks, offset: int = 0) -> None:
        """Queue decoded sample blocks; device index ``d`` goes to row ``d + offset``."""
        idx = blocks.sample_index().astype(np.int64) + offset
        if len(idx) == 0:
            return
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(idx)], strict=True):
            self.put_samples(int(idx[a]), blocks.samples[a:b], blocks.digital[a:b])

    def put_stimuli(self, rows: np.ndarray) -> None:
        """Queue ``STIMULUS_DTYPE`` rows (also journaled)."""
        rows = np.asarray(rows, dtype=STIMULUS_DTYPE).reshape(-1)
        if self.journal is not None:
            self.journal.write_rows(SOURCE_STIMULI, rows)
        self._put(("t", rows))

    def put_faults(self, rows: np.ndarray) -> None:
        """Queue ``FAULT_DTYPE`` rows (also journaled). Gaps in the samples are found and
        recorded by the recorder itself; do not put ``gap`` faults for them."""
        rows = np.asarray(rows, dtype=FAULT_DTYPE).reshape(-1)
        if self.journal is not None:
            self.journal.write_rows(SOURCE_FAULTS, rows)
        self._put(("f", rows))


class Recorder(Producer):
    """Writer thread around ``sink``; see the module docstring.

    ``resume_rows``: rows ``0 .. resume_rows-1`` are already in the sink (recovery finishing
    a file): the stream is placed from sample 0 as usual, so its gap and overlap faults are
    derived again, but only rows from ``resume_rows`` on are written. ``present_stimuli`` /
    ``present_faults``: rows already in the file; identical new rows are not written again.
    ``max_gap_samples``: a jump forward larger than this is not zero-filled; that block is
    dropped with a ``clock_jump`` fault (protects the disk from a corrupt sample index).
    ``disk``: its free space is looked at every flush (:attr:`low_space`).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        flush_interval_s: float = 0.25,
        journal: Journal | None = None,
        resume_rows: int = 0,
        max_gap_samples: int | None = None,
        present_stimuli: np.ndarray | None = None,
        present_faults: np.ndarray | None = None,
        disk: DiskGuard | None = None,
    ) -> None:
        #: faults the writer derived (gap, overlap, clock_jump), for the live view to print
        self.derived: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._rw = RowWriter(sink, flush_interval_s=flush_interval_s, resume_rows=resume_rows,
                             max_gap_samples=max_gap_samples, present_stimuli=present_stimuli,
                             present_faults=present_faults, disk=disk,
                             on_fault=lambda kind, detail: self.derived.put((kind, detail)))
        self.sink, self.journal, self.disk = sink, journal, disk
        self.flush_interval_s = self._rw.flush_interval_s
        self.max_gap_samples = max_gap_samples
        self.stats = self._rw.stats
        self._n_channels = sink.n_channels
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._end_state = COMPLETED
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)

    @property
    def low_space(self) -> str | None:
        """Why the disk is too full to go on (set by the writer thread), else None."""
        return self._rw.low_space

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def _put(self, item) -> None:
        if self._rw.error is not None:
            raise FileFormatError(f"recording stopped: {write_error_text(self._rw.error)}")
        self._q.put(item)

    @property
    def backlog(self) -> int:
        """Items queued and not yet taken by the writer thread."""
        return self._q.qsize()

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the writer thread, if any."""
        return self._rw.error

    def close(self, end_state: str = COMPLETED) -> RecorderStats:
        """Write everything queued, flush, close the sink with ``end_state`` (and the
        journal); return stats. Raises :class:`FileFormatError` if the writer thread failed
        (the sink was then closed with the failure as its end state, if it still could be)."""
        self._end_state = end_state
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join()
        elif self._thread.ident is None:  # never started: write synchronously
            self._q.put(_STOP)
            self._run()
        if self.journal is not None:
            self.journal.close()
        if self._rw.error is not None:
            raise FileFormatError(f"recording stopped: {write_error_text(self._rw.error)}")
        return self.stats

    def _receive(self, timeout_s: float) -> list | None:
        try:
            item = self._q.get(timeout=timeout_s)
        except queue.Empty:
            return []
        if item is _STOP:
            return None
        self.stats.max_backlog = max(self.stats.max_backlog, self._q.qsize())
        return [item]

    def _run(self) -> None:
        self._rw.run(self._receive)
        self._rw.close(self._end_state)
