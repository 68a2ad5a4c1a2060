"""The amplifier stream on the EMG clock: decoded sample blocks → the recorder, and the rows
the other parts read (trigger edges for sync, recent rows for sweeps, the gating channel).

Row r of the session file is device sample d + offset (the offset changes only when the
amplifier's sample clock restarts, by itself or after a reconnect: :meth:`EmgStream.new_clock`;
:class:`~.wiretap.WireTap` keeps it and notes it in the journal). :meth:`EmgStream.take`
places each contiguous run of samples exactly as the recorder places them: rows already taken
are skipped, a jump of more than ``max_gap`` rows is dropped (the recorder records a
``clock_jump``), a smaller jump is a gap. Faults (bad blocks, frame errors, gaps the decoder
saw) go to ``fault(kind, detail, start, n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from hreflex.acquisition.faults import GAP_CAUSES
from hreflex.acquisition.gating import BackgroundGate
from hreflex.acquisition.live import SweepBuffer
from hreflex.acquisition.sync import RowClock, Synchronizer, rising_edges
from hreflex.acquisition.wiretap import WireTap
from hreflex.devices.amplifier import Received


class BlockSink(Protocol):
    """What the stream needs of the recorder (``Recorder`` or its process version)."""

    def put_blocks(self, blocks, offset: int = 0) -> None: ...


class EmgStream:
    """See the module doc. ``scale``: V per count per channel (n_ch,); ``gate``/``gate_ch``:
    the background gate and its channel index (None: no gating)."""

    def __init__(self, recorder: BlockSink, tap: WireTap, sync: Synchronizer,
                 rowclock: RowClock, buffer: SweepBuffer, *, n_ch: int, max_gap: int,
                 scale: np.ndarray, gate: BackgroundGate | None, gate_ch: int,
                 fault: Callable[..., None]) -> None:
        self.recorder, self.tap, self.sync = recorder, tap, sync
        self.rowclock, self.buffer = rowclock, buffer
        self.n_ch, self.max_gap, self.scale = n_ch, max_gap, scale
        self.gate, self.gate_ch, self._fault = gate, gate_ch, fault
        #: the row after the last one taken
        self.next_row = 0
        #: called with ``next_row`` before the clock changes (pulses fired before are placed)
        self.before_new_clock: Callable[[int], None] = lambda next_row: None
        self._last_high: bool | None = None

    @classmethod
    def for_session(cls, recorder: BlockSink, tap: WireTap, *, n_ch: int, rate: float,
                    sweep_ms: float, max_gap: int, scale: np.ndarray, gating, gate_ch: int,
                    fault: Callable[..., None]) -> EmgStream:
        """A stream with a new synchronizer, row clock, background gate (``gating``: its
        config, None for none) and a sweep buffer of 4 sweeps (``sweep_ms``), at least 10 s."""
        return cls(recorder, tap, Synchronizer(rate), RowClock(rate),
                   SweepBuffer(int(max(10.0, 4 * sweep_ms / 1e3) * rate), n_ch), n_ch=n_ch,
                   max_gap=max_gap, scale=scale,
                   gate=BackgroundGate(gating, rate) if gating is not None else None,
                   gate_ch=gate_ch, fault=fault)

    def take(self, item: Received) -> None:
        """One decoded read of the amplifier link."""
        before, offset = self.next_row, self.tap.offset_of(item.host_time_s)
        for sb in item.samples:
            if sb.n_channels != self.n_ch:
                self._fault("bad_block", f"{sb.n_blocks} blocks with {sb.n_channels} channels "
                                        f"instead of {self.n_ch}; dropped")
                continue
            self.recorder.put_blocks(sb, offset)
            idx = sb.sample_index().astype(np.int64) + offset
            breaks = np.flatnonzero(np.diff(idx) != 1) + 1
            for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(idx)], strict=True):
                self._take_run(int(idx[a]), sb.samples[a:b], sb.digital[a:b])
        if item.errors:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(item.errors.items()))
            self._fault("frame_error", f"amplifier frames rejected: {detail}")
        for g in item.gaps:
            if g.kind in GAP_CAUSES:
                kind, why = GAP_CAUSES[g.kind]
                first, n = g.first_missing_sample + offset, g.n_missing_samples or 0
                what = f"samples {first}-{first + n - 1}" if n else "samples"
                self._fault(kind, f"{what} {why} (block {g.got_seq})", first, n)
        if any(g.kind == "reset" for g in item.gaps):
            self._reset(item)
        elif self.next_row > before:
            self.rowclock.observe(item.host_time_s, self.next_row)

    def _take_run(self, first: int, counts: np.ndarray, digital: np.ndarray) -> None:
        """Contiguous samples from row ``first``, placed as the recorder places them."""
        if first < self.next_row:
            skip = min(len(counts), self.next_row - first)
            counts, digital, first = counts[skip:], digital[skip:], first + skip
            if not len(counts):
                return
        prev = self._last_high
        if first > self.next_row:
            if first - self.next_row > self.max_gap:
                return  # the recorder drops it too (clock_jump)
            prev = None
        self.sync.add_edges(rising_edges(digital, prev) + first)
        self.buffer.put(first, counts)
        if self.gate is not None:
            self.gate.feed(first, counts[:, self.gate_ch] * self.scale[self.gate_ch])
        self._last_high = bool(digital[-1] & 1)
        self.next_row = first + len(counts)

    def _reset(self, item: Received) -> None:
        """The amplifier restarted its sample clock by itself: the new clock continues at the
        row estimated from the host clock (never before the rows already taken)."""
        last = item.samples[-1] if item.samples else None
        n_new = int(last.first_sample[-1]) + int(np.diff(last.row_start)[-1]) if last else 0
        offset = self.new_clock(item.host_time_s, n_new)
        self._fault("device_reset", f"amplifier sample clock restarted; it continues at row "
                                   f"{offset} (samples before that row from the new clock are "
                                   "dropped)")

    def new_clock(self, host_time_s: float, n_samples: int = 0) -> int:
        """A new amplifier sample clock that has sent ``n_samples`` by ``host_time_s`` (host
        clock): from the next chunk on its samples are rows from the returned offset."""
        guess = self.rowclock.row_at(host_time_s)
        offset = max(self.next_row, int(guess) - n_samples if guess is not None else 0)
        self.before_new_clock(self.next_row)
        self.tap.note_offset(offset)
        self.sync.new_epoch()
        return offset
