"""Raw byte journal: every byte the devices sent, beside the session file, for recovery.

Layout of ``<session>.journal`` (little-endian; ``docs/ACQUISITION.md`` is the reference):

```
file header   magic "HRXJRNL1" (8 bytes) | header_len u32 | header JSON (UTF-8) | CRC-32 u32
record        source u8 | 3 zero bytes | host_time_ns i64 | length u32 | payload | CRC-32 u32
```

The header JSON holds ``format``/``version``, the wire ``sources`` (id -> device role), the
``samples_source`` (the amplifier's id) and the session ``layout``
(:class:`~hreflex.acquisition.layout.SessionLayout`). A record's CRC-32 (``zlib.crc32``) covers
its 16 header bytes and payload; ``host_time_ns`` is the host's UTC clock when the bytes were
handed to the journal. Sources 0-239 are wire bytes as received; the host adds its own
records: :data:`SOURCE_STIMULI` (rows of ``STIMULUS_DTYPE``), :data:`SOURCE_FAULTS` (rows of
``FAULT_DTYPE``) and :data:`SOURCE_CLOCK` (``<BQq``: source, device sample index, file row: from
then on that device index is that row of ``/emg/continuous``).

:class:`Journal` writes from its own thread (the producer never waits for the disk), hands
the bytes to the OS at least every ``write_interval_s`` (they survive ``kill -9``) and
``fsync``s at least every ``fsync_interval_s`` (they survive power loss). While open it holds
an exclusive ``flock`` on the file, so recovery can tell a live recording from a dead one.
A reader stops at the first incomplete or corrupt record (the torn tail of a crash).
"""

from __future__ import annotations

import json
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hreflex.acquisition.diskspace import write_error_text
from hreflex.errors import FileFormatError

try:  # POSIX only; elsewhere a live journal simply cannot be detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MAGIC = b"HRXJRNL1"
FORMAT = "hreflex-journal"
VERSION = 1
SOURCE_STIMULI = 250
SOURCE_FAULTS = 251
SOURCE_CLOCK = 252
MAX_WIRE_SOURCE = 239
_RECORD = struct.Struct("<B3xqI")
_CLOCK = struct.Struct("<BQq")
_U32 = struct.Struct("<I")
_STOP = object()


def journal_path(session_path: str | Path) -> Path:
    """``data/x.h5`` -> ``data/x.journal``."""
    return Path(session_path).with_suffix(".journal")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot store {type(value).__name__} in the journal header")


def encode_record(source: int, host_time_ns: int, payload: bytes) -> bytes:
    """One journal record (header, payload, CRC-32)."""
    head = _RECORD.pack(source, host_time_ns, len(payload))
    return head + payload + _U32.pack(zlib.crc32(payload, zlib.crc32(head)))


class Journal:
    """Append-only journal at ``path`` with ``header`` (a JSON-compatible dict) written first.

    ``write(source, data)`` only queues; a thread writes. ``close()`` writes what is queued,
    fsyncs and closes. Errors of the thread are raised by the next ``write``/``close``.
    """

    def __init__(
        self,
        path: str | Path,
        header: dict[str, Any],
        *,
        fsync_interval_s: float = 0.5,
        write_interval_s: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self.fsync_interval_s, self.write_interval_s = fsync_interval_s, write_interval_s
        body = json.dumps({"format": FORMAT, "version": VERSION, **header},
                          default=_jsonable).encode()
        try:
            self._f = open(self.path, "xb")  # never overwrite an existing journal  # noqa: SIM115
        except FileExistsError:
            raise FileFormatError(f"{self.path}: journal already exists; not overwritten") from None
        if fcntl is not None:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._f.write(MAGIC + _U32.pack(len(body)) + body + _U32.pack(zlib.crc32(body)))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self.bytes_written = len(MAGIC) + 8 + len(body)
        self.n_fsyncs = 0
        self.max_fsync_gap_s = 0.0
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    def write(self, source: int, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` from ``source`` (stamped with the host time now). Never blocks."""
        if self._error is not None:
            raise FileFormatError(
                f"{self.path}: journal stopped: {write_error_text(self._error)}")
        self._q.put((source, time.time_ns(), bytes(data)))

    def write_rows(self, source: int, rows: np.ndarray) -> None:
        """Queue table rows (``SOURCE_STIMULI`` / ``SOURCE_FAULTS``) as their raw bytes."""
        if len(rows):
            self.write(source, np.ascontiguousarray(rows).tobytes())

    def note_clock(self, source: int, device_index: int, file_index: int) -> None:
        """From now on, sample ``device_index`` of ``source`` is row ``file_index``."""
        self.write(SOURCE_CLOCK, _CLOCK.pack(source, device_index, file_index))

    def close(self) -> None:
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join()
        if self._error is not None:
            raise FileFormatError(
                f"{self.path}: journal stopped: {write_error_text(self._error)}")

    def _run(self) -> None:
        f = self._f
        last_sync = time.monotonic()
        try:
            stop = False
            while not stop:
                try:
                    items = [self._q.get(timeout=self.write_interval_s)]
                except queue.Empty:
                    items = []
                while True:  # take what is queued now (bounded: the producer may keep going)
                    try:
                        items.append(self._q.get_nowait())
                    except queue.Empty:
                        break
                    if len(items) >= 4096:
                        break
                stop = any(item is _STOP for item in items)
                chunk = b"".join(encode_record(*item) for item in items if item is not _STOP)
                if chunk:
                    f.write(chunk)
                    f.flush()  # in the OS now: survives kill -9
                    self.bytes_written += len(chunk)
                now = time.monotonic()
                if stop or now - last_sync >= self.fsync_interval_s:
                    os.fsync(f.fileno())
                    self.n_fsyncs += 1
                    self.max_fsync_gap_s = max(self.max_fsync_gap_s, now - last_sync)
                    last_sync = now
        except BaseException as exc:  # disk full, I/O error: report to the producer
            self._error = exc
        finally:
            f.close()


@dataclass(frozen=True)
class Record:
    source: int
    host_time_ns: int
    data: bytes


class JournalReader:
    """Read a journal: ``header`` (dict) at once, records by iterating.

    Iteration stops at the end or at the first incomplete/corrupt record; then ``tail_bytes``
    holds how many bytes were left unread (0 for a cleanly closed journal).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            start = f.read(len(MAGIC) + 4)
            if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
                raise FileFormatError(f"{self.path}: not an hreflex journal")
            (n,) = _U32.unpack(start[len(MAGIC):])
            body, crc = f.read(n), f.read(4)
        if len(crc) < 4 or zlib.crc32(body) != _U32.unpack(crc)[0]:
            raise FileFormatError(f"{self.path}: journal header is truncated or corrupt")
        self.header: dict[str, Any] = json.loads(body)
        if self.header.get("format") != FORMAT or self.header.get("version") != VERSION:
            raise FileFormatError(
                f"{self.path}: unsupported journal {self.header.get('format')!r} "
                f"version {self.header.get('version')!r}"
            )
        self._start = len(MAGIC) + 8 + n
        self.tail_bytes = 0

    def __iter__(self) -> Iterator[Record]:
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            f.seek(self._start)
            pos = self._start
            while True:
                head = f.read(_RECORD.size)
                if len(head) < _RECORD.size:
                    break
                source, t_ns, n = _RECORD.unpack(head)
                body = f.read(n + 4)
                if len(body) < n + 4:
                    break
                payload, (crc,) = body[:n], _U32.unpack(body[n:])
                if zlib.crc32(payload, zlib.crc32(head)) != crc:
                    break
                pos += _RECORD.size + n + 4
                yield Record(source, t_ns, payload)
        self.tail_bytes = size - pos


def parse_clock(data: bytes) -> tuple[int, int, int]:
    """A :data:`SOURCE_CLOCK` payload -> ``(source, device_index, file_index)``."""
    return _CLOCK.unpack(data)


def is_live(path: str | Path) -> bool:
    """True when a running process holds the journal open for writing."""
    if fcntl is None:
        return False
    with open(path, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False
