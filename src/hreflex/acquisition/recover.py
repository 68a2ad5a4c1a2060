"""``hreflex recover``: make a crashed recording whole again.

A writer killed while recording leaves a session file that HDF5 still marks as "open for
writing" (only SWMR readers open it) and that lacks what was not flushed yet. Recovery:

1. clear the "open for writing" flag in the file's superblock (what ``h5clear -s`` does), and
   move the end-of-file address to the real file size so nothing written is ever reused;
2. if the file is readable, *finish* it: replay the raw byte journal beside it through the
   protocol decoder and append what the file lacks (samples past its end, stimulus and fault
   rows it does not hold);
3. if the file is missing or unreadable, *rebuild* it from the journal alone (the damaged
   file is kept as ``<name>.h5.damaged``).

A recovered file (flag cleared, finished while it said ``recording``, or rebuilt) ends with
``end_state = recovered after crash``; a file its writer had closed keeps its end state.

Replay goes through the same :class:`~hreflex.acquisition.recorder.Recorder` as live
recording, so samples land on the same rows and gaps get the same faults.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from hreflex.acquisition.diskspace import ballast_path
from hreflex.acquisition.journal import (
    SOURCE_CLOCK,
    SOURCE_FAULTS,
    SOURCE_STIMULI,
    JournalReader,
    is_live,
    journal_path,
    parse_clock,
)
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import Recorder
from hreflex.errors import FileFormatError
from hreflex.io.endstate import ATTR as END_STATE
from hreflex.io.endstate import RECORDING, RECOVERED, describe_end_state, read_end_state
from hreflex.io.format import FAULT_DTYPE, STIMULUS_DTYPE
from hreflex.io.validate import check_file
from hreflex.protocol.decoder import StreamDecoder

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


# lookup3's mix and final steps on v = [a, b, c]: v[x] = (v[x] - v[y]) ^ rot(v[y], k),
# v[y] += v[z]  (mix);  v[x] = (v[x] ^ v[y]) - rot(v[y], k)  (final)
_MIX = ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4))
_FINAL = ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24))


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``: the checksum of HDF5 metadata (superblock v2+)."""
    n = len(data)
    v = [(0xDEADBEEF + n + initval) & _M32] * 3
    if n == 0:
        return v[2]
    words = [int.from_bytes(data[i : i + 4].ljust(4, b"\0"), "little") for i in range(0, n, 4)]
    words += [0, 0, 0]
    full = (n - 1) // 12  # 12-byte blocks mixed; the last 1..12 bytes go to the final step
    for blk in range(full + 1):
        for j in range(3):
            v[j] = (v[j] + words[3 * blk + j]) & _M32
        if blk == full:
            break
        for x, y, z, k in _MIX:
            v[x] = ((v[x] - v[y]) & _M32) ^ _rot(v[y], k)
            v[y] = (v[y] + v[z]) & _M32
    for x, y, k in _FINAL:
        v[x] = ((v[x] ^ v[y]) - _rot(v[y], k)) & _M32
    return v[2]


def clear_write_flag(path: str | Path) -> bool:
    """Clear HDF5's "file is open for writing" flags of a file whose writer died.

    Works on superblock versions 2 and 3 (every file h5py writes with ``libver="latest"``)
    with 8-byte addresses at offset 0. Also raises the stored end-of-file address to the file
    size when the file is longer, so later appends never overwrite data the dead writer put
    there. Returns True if the file was changed; False if it was not flagged or is not such a
    file (nothing is changed then).
    """
    with open(path, "r+b") as f:
        sb = bytearray(f.read(48))
        if (len(sb) < 48 or sb[:8] != _SIGNATURE or sb[8] not in (2, 3)
                or sb[9] != 8 or sb[10] != 8 or sb[11] == 0
                or int.from_bytes(sb[44:48], "little") != lookup3(bytes(sb[:44]))):
            return False
        size = os.fstat(f.fileno()).st_size
        sb[11] = 0
        if size > int.from_bytes(sb[28:36], "little"):
            sb[28:36] = size.to_bytes(8, "little")
        sb[44:48] = lookup3(bytes(sb[:44])).to_bytes(4, "little")
        f.seek(0)
        f.write(sb)
        f.flush()
        os.fsync(f.fileno())
    return True


class _ExistingFile:
    """A recorder sink appending to an existing (closed, unflagged) session file. Trims
    ``continuous`` and ``trigger`` to their common length first (a killed writer may have
    flushed one a little further than the other; the journal supplies the rest)."""

    def __init__(self, path: Path) -> None:
        self._f = h5py.File(path, "r+")
        self._samples = self._f["emg/continuous"]
        self._trigger = self._f["emg/trigger"] if "emg/trigger" in self._f else None
        n = min(d.shape[0] for d in (self._samples, self._trigger) if d is not None)
        for d in (self._samples, self._trigger):
            if d is not None and d.shape[0] != n:
                d.resize(n, axis=0)
        self._events, self._faults = self._f["stimuli/events"], self._f["faults"]
        self.n_channels = self._samples.shape[1]

    @property
    def n_samples(self) -> int:
        return self._samples.shape[0]

    @staticmethod
    def _append(ds: h5py.Dataset, rows: np.ndarray) -> None:
        n = ds.shape[0]
        ds.resize(n + len(rows), axis=0)
        ds[n:] = rows

    def append_samples(self, samples: np.ndarray, trigger: np.ndarray | None = None) -> None:
        self._append(self._samples, samples)
        if self._trigger is not None:
            self._append(self._trigger, np.zeros(len(samples), np.uint8) if trigger is None
                         else trigger)

    def append_stimuli(self, rows: np.ndarray) -> None:
        self._append(self._events, rows)

    def append_faults(self, rows: np.ndarray) -> None:
        self._append(self._faults, rows)

    def flush(self) -> None:
        self._f.flush()

    def close(self, end_state: str | None = None) -> None:
        """Close; ``end_state`` (None: keep the file's) is recorded first."""
        if self._f.id.valid:
            if end_state is not None:
                self._f.attrs.modify(END_STATE, end_state)
            self._f.close()


@dataclass
class Replayed:
    records: int = 0
    wire_bytes: int = 0
    tail_bytes: int = 0
    decoder: dict = field(default_factory=dict)


def replay(reader: JournalReader, recorder: Recorder, max_backlog: int = 64) -> Replayed:
    """Feed a journal into ``recorder``: the samples source through a fresh
    :class:`StreamDecoder` (device index + the latest clock note's offset = row), stimulus and
    fault rows as they were queued. Blocks with a channel count other than the file's are
    skipped (the live engine refuses them too)."""
    source = int(reader.header["samples_source"])
    decoder, offset, out = StreamDecoder(), 0, Replayed()
    for rec in reader:
        out.records += 1
        if rec.source == source:
            out.wire_bytes += len(rec.data)
            for blocks in decoder.feed(rec.data).samples:
                if blocks.n_channels == recorder.sink.n_channels:
                    recorder.put_blocks(blocks, offset)
            while recorder.backlog > max_backlog and recorder.error is None:
                time.sleep(0.001)  # the journal may hold hours: keep memory bounded
        elif rec.source == SOURCE_CLOCK:
            src, device_index, file_index = parse_clock(rec.data)
            if src == source:
                offset = file_index - device_index
        elif rec.source == SOURCE_STIMULI:
            recorder.put_stimuli(np.frombuffer(rec.data, STIMULUS_DTYPE))
        elif rec.source == SOURCE_FAULTS:
            recorder.put_faults(np.frombuffer(rec.data, FAULT_DTYPE))
    decoder.close()
    out.tail_bytes = reader.tail_bytes
    out.decoder = decoder.stats.as_dict()
    return out


@dataclass
class RecoveryReport:
    """What :func:`recover` found and did."""

    path: Path
    action: str = "none"  # none | finished | rebuilt
    cleared_flag: bool = False
    journal: Path | None = None
    replayed: Replayed | None = None
    damaged_copy: Path | None = None
    before: tuple[int, int, int] = (0, 0, 0)  # samples, stimuli, faults
    after: tuple[int, int, int] = (0, 0, 0)
    sample_rate_Hz: float = float("nan")
    end_state: str | None = None  # the file's, after recovery
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        rate = self.sample_rate_Hz

        def counts(c: tuple[int, int, int]) -> str:
            return f"{c[0]} samples ({c[0] / rate:.2f} s), {c[1]} stimuli, {c[2]} faults"

        lines = [f"recover     {self.path}"]
        lines.append("write flag  " + ("cleared (the writer had been killed while recording)"
                                       if self.cleared_flag else "not set"))
        if self.damaged_copy:
            lines.append(f"damaged     unreadable file kept as {self.damaged_copy}")
        elif self.action == "rebuilt":
            lines.append("file        missing")
        else:
            lines.append(f"file had    {counts(self.before)}")
        if self.journal is None:
            lines.append("journal     none found")
        else:
            r = self.replayed
            tail = (f"; torn tail of {r.tail_bytes} bytes ignored" if r.tail_bytes
                    else "; complete")
            lines.append(f"journal     {self.journal}: {r.records} records, {r.wire_bytes} wire "
                         f"bytes{tail}")
        added = tuple(a - b for a, b in zip(self.after, self.before, strict=True))
        verb = {"rebuilt": "rebuilt", "finished": "appended"}.get(self.action)
        if verb:
            lines.append(f"{verb:<11} {counts(added if self.action == 'finished' else self.after)}"
                         " from the journal")
        lines.append(f"end state   {describe_end_state(self.end_state)}")
        lines.append("result      " + ("valid" if not self.problems
                                       else "PROBLEMS: " + "; ".join(self.problems)))
        return "\n".join(lines)


def _counts(path: Path) -> tuple[tuple[int, int, int], float, int, str | None]:
    """``((samples, stimuli, faults), sample_rate_Hz, n_channels, end_state)`` of a readable
    file."""
    with h5py.File(path, "r") as f:
        n = min(f[k].shape[0] for k in ("emg/continuous", "emg/trigger") if k in f)
        counts = (n, f["stimuli/events"].shape[0], f["faults"].shape[0])
        return (counts, float(f["emg"].attrs["sample_rate_Hz"]), f["emg/continuous"].shape[1],
                read_end_state(f))


def _readable(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return all(k in f for k in ("emg/continuous", "stimuli/events", "faults"))
    except (OSError, KeyError):
        return False


def recover(path: str | Path, journal: str | Path | None = None) -> RecoveryReport:
    """Recover the session file ``path`` (a ``.journal`` path means its ``.h5`` sibling).

    ``journal`` defaults to the ``.journal`` beside the file. Raises
    :class:`FileFormatError` when the recording is still running, or when the file is
    unreadable and there is no journal to rebuild it from.
    """
    path = Path(path)
    if path.suffix == ".journal":
        path = path.with_suffix(".h5")
    jpath = Path(journal) if journal is not None else journal_path(path)
    has_journal = jpath.exists()
    if has_journal and is_live(jpath):
        raise FileFormatError(f"{path}: still being recorded ({jpath} is held open); "
                              "stop the recording first")
    report = RecoveryReport(path, journal=jpath if has_journal else None)
    ballast_path(path).unlink(missing_ok=True)  # the dead writer's disk reserve
    if path.exists() and not path.is_dir():
        report.cleared_flag = clear_write_flag(path)
    reader = JournalReader(jpath) if has_journal else None
    layout = SessionLayout.from_dict(reader.header["layout"]) if reader else None

    if _readable(path):
        report.before, report.sample_rate_Hz, n_channels, state = _counts(path)
        end = RECOVERED if report.cleared_flag or state == RECORDING else None
        if reader is not None:
            if (layout.n_channels, layout.sample_rate_Hz) != (n_channels, report.sample_rate_Hz):
                raise FileFormatError(f"{jpath}: journal does not belong to {path} (channels or "
                                      "sample rate differ)")
            with h5py.File(path, "r") as f:
                present = f["stimuli/events"][()], f["faults"][()]
            sink = _ExistingFile(path)
            rec = Recorder(sink, flush_interval_s=0.5, resume_rows=sink.n_samples,
                           present_stimuli=present[0], present_faults=present[1]).start()
            report.replayed = replay(reader, rec)
            rec.close(end)
            report.action = "finished"
        elif end is not None:
            with h5py.File(path, "r+") as f:  # nothing else changes without a journal
                f.attrs.modify(END_STATE, end)
    else:
        if reader is None:
            raise FileFormatError(f"{path}: unreadable or missing, and no journal ({jpath}) to "
                                  "rebuild it from")
        if path.exists():
            report.damaged_copy = path.with_name(path.name + ".damaged")
            path.replace(report.damaged_copy)
        rec = Recorder(layout.create_writer(path, swmr=False), flush_interval_s=0.5).start()
        report.replayed = replay(reader, rec)
        rec.close(RECOVERED)
        report.action = "rebuilt"
    report.after, report.sample_rate_Hz, _, report.end_state = _counts(path)
    report.problems = check_file(path)
    return report

