"""Streaming host decoder: byte chunks in, frames, sample arrays and gap records out.

Feed chunks split anywhere; every complete frame (up to a 0x00) is decoded. Bad input never
raises: it is skipped up to the next delimiter and counted in :class:`DecoderStats`. Sample
blocks are decoded in bulk with numpy and returned as one :class:`SampleBlocks` per stream and
channel count; sequence jumps become :class:`Gap` records (nothing is interpolated or shifted:
every block keeps the first-sample index the device sent).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, fields

import numpy as np

from hreflex.protocol.cobs import cobs_decode_many
from hreflex.protocol.frames import (
    BLOCK_HEAD_LEN,
    CRC_LEN,
    CRC_RESIDUE,
    HEADER_LEN,
    MAX_FRAME_LEN,
    MAX_WIRE_LEN,
    PROTOCOL_VERSION,
    Frame,
    FrameError,
    FrameType,
    SampleBlock,
    decode_frame,
)

__all__ = ["DecoderStats", "Gap", "SampleBlocks", "Decoded", "StreamDecoder"]

_BLOCK_FIELDS = np.dtype([("seq", "<u4"), ("first", "<u8"), ("n", "<u2"), ("c", "u1"),
                          ("pad", "u1")])
_DATA_OFFSET = HEADER_LEN + BLOCK_HEAD_LEN  # first sample byte within a decoded frame
_BATCH_BYTES = 1 << 21


@dataclass
class DecoderStats:
    """Running counters. Error counters (one per rejected frame, checked in this order):
    ``oversize`` (> MAX_WIRE_LEN encoded or > MAX_FRAME_LEN decoded bytes), ``cobs`` (a code
    byte points past the frame end), ``too_short`` (< 8 decoded bytes), ``crc``, ``version``
    (unknown protocol version), ``type`` (unknown frame type), ``malformed`` (payload size or
    fields inconsistent with the type); ``truncated`` counts a partial frame left at
    :meth:`StreamDecoder.close`. ``gaps``/``resets`` count :class:`Gap` records."""

    bytes_in: int = 0
    frames: int = 0
    oversize: int = 0
    cobs: int = 0
    too_short: int = 0
    crc: int = 0
    version: int = 0
    type: int = 0
    malformed: int = 0
    truncated: int = 0
    gaps: int = 0
    resets: int = 0

    ERRORS = ("oversize", "cobs", "too_short", "crc", "version", "type", "malformed",
              "truncated")

    @property
    def errors(self) -> int:
        """Total rejected frames."""
        return sum(getattr(self, k) for k in self.ERRORS)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Gap:
    """A break in a stream's sample blocks, found when block ``got_seq`` arrived.

    ``kind``: ``"gap"`` (sequence jumped: ``n_missing_blocks`` blocks lost), ``"reset"`` (the
    sequence restarted at 0: the device rebooted or restarted streaming; its sample clock may
    have restarted too) or ``"clock"`` (sequence continuous but the first-sample index is not
    the one expected). ``first_missing_sample`` is the sample index that should have come
    next; ``n_missing_samples`` is ``got block's first index - first_missing_sample`` when that
    is derivable and positive (a gap or clock jump forward), else None."""

    stream: int
    kind: str
    expected_seq: int
    got_seq: int
    first_missing_sample: int
    n_missing_samples: int | None
    n_missing_blocks: int | None


@dataclass(frozen=True, eq=False)
class SampleBlocks:
    """Consecutive sample blocks of one stream with one channel count, decoded in bulk.

    ``samples`` (n_rows, n_channels) int16 counts and ``digital`` (n_rows,) uint8 are the
    blocks' rows back to back; block ``k`` is rows ``row_start[k]:row_start[k+1]``, has
    sequence number ``seq[k]`` and its row 0 is sample ``first_sample[k]`` of the device clock.
    Rows are not contiguous in time across a :class:`Gap`; use :meth:`sample_index`."""

    stream: int
    seq: np.ndarray  # (n_blocks,) uint32
    first_sample: np.ndarray  # (n_blocks,) uint64
    row_start: np.ndarray  # (n_blocks + 1,) int64
    samples: np.ndarray  # (n_rows, n_channels) int16
    digital: np.ndarray  # (n_rows,) uint8

    @property
    def n_blocks(self) -> int:
        return len(self.seq)

    @property
    def n_channels(self) -> int:
        return self.samples.shape[1]

    def sample_index(self) -> np.ndarray:
        """(n_rows,) uint64 device-clock index of every row."""
        counts = np.diff(self.row_start)
        offset = self.first_sample - self.row_start[:-1].astype(np.uint64)
        return np.repeat(offset, counts) + np.arange(len(self.digital), dtype=np.uint64)

    def block(self, k: int) -> SampleBlock:
        """Block ``k`` as a :class:`SampleBlock` (array views, no copy)."""
        a, b = self.row_start[k], self.row_start[k + 1]
        return SampleBlock(int(self.seq[k]), int(self.first_sample[k]), self.samples[a:b],
                           self.digital[a:b], self.stream)


@dataclass
class Decoded:
    """What one :meth:`StreamDecoder.feed` produced: sample batches (one per stream and
    channel count, in order of first appearance), the other frames in arrival order, and the
    gap records (in arrival order within each stream)."""

    samples: list[SampleBlocks] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class StreamDecoder:
    """Incremental decoder of one byte stream (one serial connection).

    ``feed(chunk)`` returns a :class:`Decoded`; ``stats`` holds the counters. The first bytes
    are taken as the start of a frame: a host that opens a port mid-frame sees one rejected
    frame (usually ``crc`` or ``cobs``). Empty frames (0x00 0x00) are ignored silently.
    """

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._pending = b""
        self._skipping = False  # inside an oversize frame (already counted) until the next 0x00
        self._next: dict[int, tuple[int, int]] = {}  # stream -> (expected seq, expected first)

    def feed(self, data: bytes | bytearray | memoryview) -> Decoded:
        """Decode every frame completed by ``data``; keep the incomplete tail for later."""
        data = bytes(data)
        self.stats.bytes_in += len(data)
        raw = self._pending + data if self._pending else data
        buf = np.frombuffer(raw, dtype=np.uint8)
        ends = np.flatnonzero(buf == 0)
        if len(ends) == 0:
            self._keep_tail(raw)
            return Decoded()
        skip_first, self._skipping = self._skipping, False  # the rest of an oversize frame
        self._keep_tail(raw[ends[-1] + 1 :])
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        if skip_first:
            starts, ends = starts[1:], ends[1:]
        lengths = ends - starts
        big = lengths > MAX_WIRE_LEN
        self.stats.oversize += int(np.count_nonzero(big))
        sel = (lengths > 0) & ~big
        if not sel.all():
            starts, ends = starts[sel], ends[sel]
        if len(starts) == 0:
            return Decoded()
        # decode in batches of about _BATCH_BYTES: big enough to amortise numpy calls,
        # small enough to stay in cache
        cuts = np.flatnonzero(np.diff(starts // _BATCH_BYTES)) + 1
        parts = []
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(starts)], strict=True):
            lo, hi = int(starts[a]), int(ends[b - 1]) + 1
            part = cobs_decode_many(buf[lo:hi], starts[a:b] - lo, ends[a:b] - lo)
            parts.append(self._decode(*part))
        return parts[0] if len(parts) == 1 else _merge(parts)

    def close(self) -> Decoded:
        """End of stream: count a partial frame left over as ``truncated``."""
        if self._pending and not self._skipping:
            self.stats.truncated += 1
        self._pending, self._skipping = b"", False
        return Decoded()

    def reset_sequence(self, stream: int | None = None) -> None:
        """Forget the expected sequence number (e.g. after the host restarted streaming)."""
        if stream is None:
            self._next.clear()
        else:
            self._next.pop(stream, None)

    # -- internals -------------------------------------------------------------------------

    def _keep_tail(self, tail: bytes) -> None:
        if self._skipping:
            self._pending = b""
        elif len(tail) > MAX_WIRE_LEN:  # cannot become a valid frame: drop it now
            self.stats.oversize += 1
            self._pending, self._skipping = b"", True
        else:
            self._pending = tail

    def _decode(self, out: np.ndarray, ostart: np.ndarray, olen: np.ndarray,
                ok: np.ndarray) -> Decoded:
        st = self.stats
        st.cobs += int(np.count_nonzero(~ok))
        big = ok & (olen > MAX_FRAME_LEN)
        short = ok & (olen < HEADER_LEN + CRC_LEN)
        st.oversize += int(np.count_nonzero(big))
        st.too_short += int(np.count_nonzero(short))
        cand = np.flatnonzero(ok & ~big & ~short)
        mv = memoryview(out)
        crc_ok = np.fromiter(
            (zlib.crc32(mv[a : a + n]) == CRC_RESIDUE
             for a, n in zip(ostart[cand].tolist(), olen[cand].tolist(), strict=True)),
            dtype=bool, count=len(cand),
        )
        st.crc += len(cand) - int(np.count_nonzero(crc_ok))
        cand = cand[crc_ok]
        s, n = ostart[cand], olen[cand]
        good_version = out[s] == PROTOCOL_VERSION
        st.version += len(cand) - int(np.count_nonzero(good_version))
        cand, s, n = cand[good_version], s[good_version], n[good_version]
        is_block = out[s + 1] == FrameType.SAMPLE_BLOCK
        result = Decoded()
        for a, m in zip(s[~is_block].tolist(), n[~is_block].tolist(), strict=True):
            try:
                result.frames.append(decode_frame(mv[a : a + m]))
            except FrameError as exc:
                setattr(st, exc.kind, getattr(st, exc.kind) + 1)
        st.frames += len(result.frames)
        if is_block.any():
            self._blocks(out, s[is_block], n[is_block], result)
        return result

    def _blocks(self, out: np.ndarray, s: np.ndarray, n: np.ndarray, result: Decoded) -> None:
        """Vectorised parse of sample-block frames starting at ``out[s]``, ``n`` bytes long."""
        runt = n < _DATA_OFFSET + CRC_LEN  # no room for the block header
        if runt.any():
            self.stats.malformed += int(np.count_nonzero(runt))
            s, n = s[~runt], n[~runt]
        head = out[(s + HEADER_LEN)[:, None] + np.arange(BLOCK_HEAD_LEN)]
        h = head.view(_BLOCK_FIELDS)[:, 0]
        n_samp, n_ch = h["n"].astype(np.int64), h["c"].astype(np.int64)
        good = (n_samp >= 1) & (n_ch >= 1) & (n == _DATA_OFFSET + n_samp * (2 * n_ch + 1)
                                              + CRC_LEN)
        self.stats.malformed += len(good) - int(np.count_nonzero(good))
        self.stats.frames += int(np.count_nonzero(good))
        if not good.all():
            s, n, h, n_samp, n_ch = s[good], n[good], h[good], n_samp[good], n_ch[good]
        if len(s) == 0:
            return
        stream = out[s + 2]
        seq, first = h["seq"], h["first"]
        if (stream == stream[0]).all() and (n_ch == n_ch[0]).all():  # the usual case
            result.gaps += self._track(int(stream[0]), seq, first, n_samp)
            result.samples.append(_gather(out, s, n, n_samp, int(n_ch[0]), int(stream[0]),
                                          seq, first))
            return
        for sid in np.unique(stream).tolist():
            ms = stream == sid
            result.gaps += self._track(sid, seq[ms], first[ms], n_samp[ms])
        key = stream.astype(np.int64) * 256 + n_ch
        uniq, first_pos = np.unique(key, return_index=True)
        for k in uniq[np.argsort(first_pos)].tolist():
            mk = np.flatnonzero(key == k)
            result.samples.append(_gather(out, s[mk], n[mk], n_samp[mk], k % 256, k // 256,
                                          seq[mk], first[mk]))

    def _track(self, sid: int, seq: np.ndarray, first: np.ndarray, n: np.ndarray) -> list[Gap]:
        """Compare every block with what its predecessor announced; return the anomalies."""
        nxt = first + n.astype(np.uint64)
        exp_seq = np.empty(len(seq), np.int64)
        exp_first = np.empty(len(seq), np.uint64)
        exp_seq[1:] = (seq[:-1].astype(np.int64) + 1) & 0xFFFF_FFFF
        exp_first[1:] = nxt[:-1]
        prev = self._next.get(sid)
        exp_seq[0], exp_first[0] = prev if prev is not None else (seq[0], first[0])
        self._next[sid] = ((int(seq[-1]) + 1) & 0xFFFF_FFFF, int(nxt[-1]))
        odd = np.flatnonzero((seq != exp_seq) | (first != exp_first))
        gaps = []
        for i in odd.tolist():
            es, gs, ef, gf = int(exp_seq[i]), int(seq[i]), int(exp_first[i]), int(first[i])
            ahead = gf - ef if gf > ef else None
            if gs == es:
                gap = Gap(sid, "clock", es, gs, ef, ahead, 0)
            elif gs == 0:
                gap = Gap(sid, "reset", es, gs, ef, None, None)
            else:
                gap = Gap(sid, "gap", es, gs, ef, ahead, (gs - es) & 0xFFFF_FFFF)
            if gap.kind == "reset":
                self.stats.resets += 1
            else:
                self.stats.gaps += 1
            gaps.append(gap)
        return gaps


def _gather(out: np.ndarray, s: np.ndarray, n: np.ndarray, n_samp: np.ndarray, n_ch: int,
            stream: int, seq: np.ndarray, first: np.ndarray) -> SampleBlocks:
    """Copy the sample and digital bytes of same-shape runs of frames with 2-D strided views."""
    # a run: consecutive frames of the same length, equally spaced in ``out``
    d = np.diff(s)
    cont = n[1:] == n[:-1]
    cont[1:] &= d[1:] == d[:-1]
    bounds = np.concatenate([[0], np.flatnonzero(~cont) + 1, [len(s)]])
    samples, digital = [], []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        m, length, ns = b - a, int(n[a]), int(n_samp[a])
        stride = int(d[a]) if m > 1 else length
        rows = np.lib.stride_tricks.as_strided(out[s[a] :], (m, length), (stride, 1),
                                               writeable=False)
        data_end = _DATA_OFFSET + 2 * ns * n_ch
        samples.append(np.ascontiguousarray(rows[:, _DATA_OFFSET:data_end]).view("<i2")
                       .reshape(m * ns, n_ch))
        digital.append(rows[:, data_end : data_end + ns].reshape(m * ns))
    row_start = np.zeros(len(s) + 1, np.int64)
    np.cumsum(n_samp, out=row_start[1:])
    return SampleBlocks(
        stream, seq.astype(np.uint32), first.astype(np.uint64), row_start,
        (samples[0] if len(samples) == 1 else np.concatenate(samples)).astype(np.int16,
                                                                               copy=False),
        np.concatenate(digital) if len(digital) > 1 else np.ascontiguousarray(digital[0]),
    )


def _merge(parts: list[Decoded]) -> Decoded:
    """One :class:`Decoded` from consecutive ones (sample batches joined per stream/shape)."""
    merged = Decoded()
    groups: dict[tuple[int, int], list[SampleBlocks]] = {}
    for p in parts:
        merged.frames += p.frames
        merged.gaps += p.gaps
        for sb in p.samples:
            groups.setdefault((sb.stream, sb.n_channels), []).append(sb)
    for (stream, _), g in groups.items():
        offsets = np.cumsum([0] + [len(x.digital) for x in g[:-1]])
        row_start = np.concatenate([x.row_start[:-1] + o for x, o in zip(g, offsets, strict=True)]
                                   + [[offsets[-1] + len(g[-1].digital)]])
        merged.samples.append(SampleBlocks(
            stream, np.concatenate([x.seq for x in g]),
            np.concatenate([x.first_sample for x in g]), row_start.astype(np.int64),
            np.concatenate([x.samples for x in g]), np.concatenate([x.digital for x in g])))
    return merged
