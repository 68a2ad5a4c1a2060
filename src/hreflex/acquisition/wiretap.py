"""The bytes the device links read, on their way to the journal, and the amplifier's clock notes.

The link reader threads call :meth:`WireTap.on_bytes` with every chunk they read (before
decoding): it goes to the journal (held in memory until the journal exists) and, for the
amplifier, is counted, so that :meth:`WireTap.offset_of` can tell which row offset (device
sample d is row d + offset) applies to the samples decoded from a chunk. :meth:`note_offset`
changes the offset from the next chunk on and writes the same note into the journal at the
same place in the byte stream (``hreflex recover`` replays it). Thread-safe; never waits for
the disk (the journal has its own writer thread).
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from hreflex.acquisition.journal import Journal

#: wire source ids in the journal
AMP_SOURCE, STIM_SOURCE = 0, 1


class WireTap:
    """See the module doc. Before the first :meth:`note_offset` the offset is 0."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._early: list[tuple[int, bytes]] = []  # bytes before the journal exists
        self.journal: Journal | None = None
        self._amp_chunks = 0
        self._chunk_times: deque[tuple[float, int]] = deque()
        self._offsets: list[tuple[int, int]] = [(-1, 0)]  # (after amp chunk n, row offset)

    def on_bytes(self, name: str, host_time_s: float, data: bytes) -> None:
        """The links' ``on_bytes`` hook (reader threads): ``name`` is the link's role."""
        source = AMP_SOURCE if name == "amplifier" else STIM_SOURCE
        with self._lock:
            if self.journal is not None:
                self.journal.write(source, data)
            else:
                self._early.append((source, data))
            if source == AMP_SOURCE:
                self._amp_chunks += 1
                self._chunk_times.append((host_time_s, self._amp_chunks))

    def open_journal(self, path: Path, layout: dict, fsync_interval_s: float) -> Journal:
        """Create the journal at ``path`` (header: the sources, the samples source and the
        session ``layout``) and :meth:`attach` it."""
        journal = Journal(path, {"sources": {str(AMP_SOURCE): "amplifier",
                                             str(STIM_SOURCE): "stimulator"},
                                 "samples_source": AMP_SOURCE, "layout": layout},
                          fsync_interval_s=fsync_interval_s)
        self.attach(journal)
        return journal

    def attach(self, journal: Journal) -> None:
        """From now on bytes go to ``journal`` (those read before it existed first)."""
        with self._lock:
            for source, data in self._early:
                journal.write(source, data)
            self._early.clear()
            self.journal = journal

    def note_offset(self, offset: int) -> None:
        """From the next amplifier chunk on, device sample d is row d + ``offset``."""
        with self._lock:
            if self.journal is not None:
                self.journal.note_clock(AMP_SOURCE, 0, int(offset))
            self._offsets.append((self._amp_chunks, int(offset)))

    @property
    def offset(self) -> int:
        """The latest row offset."""
        return self._offsets[-1][1]

    def offset_of(self, host_time_s: float) -> int:
        """The row offset of the samples of the amplifier chunk read at ``host_time_s`` (call
        once per decoded item, in order: chunks before it are forgotten)."""
        with self._lock:
            while self._chunk_times and self._chunk_times[0][0] < host_time_s:
                self._chunk_times.popleft()
            chunk = (self._chunk_times.popleft()[1] if self._chunk_times
                     and self._chunk_times[0][0] == host_time_s else self._amp_chunks)
        return next(off for after, off in reversed(self._offsets) if chunk > after)
