"""Consistent Overhead Byte Stuffing (COBS), one frame at a time and many frames at once.

The encoder always emits the final code byte (so 254 non-zero bytes encode as
``FF <254 bytes> 01``); decoders accept that form and the shorter one without the final
``01``. Encoded data never contains 0x00, which is the frame delimiter on the wire.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cobs_encode", "cobs_decode", "cobs_max_encoded_len", "CobsError", "cobs_decode_many"]


class CobsError(ValueError):
    """The bytes are not valid COBS (a 0x00 inside, or a code byte pointing past the end)."""


def cobs_max_encoded_len(n: int) -> int:
    """Encoded length of ``n`` bytes of data without any zero (the worst case), no delimiter."""
    return n + n // 254 + 1


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter is added)."""
    out = bytearray()
    for part in bytes(data).split(b"\x00"):
        # a part longer than 254 bytes goes out as full 0xFF blocks that imply no zero
        while len(part) >= 254:
            out += b"\xff" + part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS-encoded frame (without its delimiter); raise :class:`CobsError`."""
    data = bytes(data)
    n = len(data)
    if n == 0:
        raise CobsError("empty COBS frame")
    if 0 in data:
        raise CobsError("0x00 inside a COBS frame")
    out = bytearray()
    p = 0
    while p < n:
        code = data[p]
        q = p + code
        if q > n:
            raise CobsError(f"COBS code at byte {p} points past the end of the frame")
        out += data[p + 1 : q]
        if code != 0xFF and q < n:
            out.append(0)
        p = q
    return bytes(out)


def cobs_decode_many(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode many COBS frames that live in one buffer, in lockstep with numpy.

    ``buf`` is a (n_bytes,) uint8 array whose byte at every ``ends[i]`` is the 0x00 delimiter;
    frame ``i`` is ``buf[starts[i]:ends[i]]`` (non-empty, no 0x00 inside, ascending). The
    code-byte chain is sequential within a frame but independent across frames, so all chains
    are followed at once; the rare long chain left at the end is finished in plain Python.

    Returns ``(out, out_start, out_len, ok)``: frame ``i`` decodes to
    ``out[out_start[i] : out_start[i] + out_len[i]]`` when ``ok[i]``; a False ``ok`` means a
    code byte pointed past the end of its frame (its bytes are then meaningless). ``out`` is a
    new uint8 array; frames of equal length and equal spacing in ``buf`` keep equal spacing in
    ``out`` (callers can view such runs as 2-D arrays).
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    is_code = np.zeros(len(buf), dtype=bool)
    ok = np.ones(len(starts), dtype=bool)
    if len(starts) <= _FEW_FRAMES:  # plain Python beats hundreds of tiny numpy steps
        _python_chains(buf, starts, ends, np.arange(len(starts)), is_code, ok)
    else:
        _lockstep_chains(buf, starts, ends, is_code, ok)
    # Every code byte stands for a 0x00 of the data, except each frame's first code and a code
    # that follows a 0xFF code; those vanish, like the delimiters.
    out = buf & (is_code.view(np.uint8) - np.uint8(1))
    ff = np.flatnonzero(is_code & (buf == 0xFF))
    succ = ff + 255
    succ = succ[succ < ends[np.searchsorted(ends, ff)]]
    if len(succ) == 0:  # nothing to squeeze out: skip each frame's first code byte
        return out, starts + 1, ends - starts - 1, ok
    drop = np.concatenate([starts, ends, succ])
    drop.sort()
    keep = np.ones(len(buf), dtype=bool)
    keep[drop] = False
    lo, hi = np.searchsorted(drop, starts), np.searchsorted(drop, ends)
    return out[keep], starts - lo, ends - starts - (hi - lo), ok


_FEW_FRAMES = 24


def _lockstep_chains(buf: np.ndarray, starts, ends, is_code, ok) -> None:
    """Mark the code bytes of all frames in ``is_code``; clear ``ok`` of overrun frames.

    One code per step for all chains, with as few numpy calls per step as possible: a chain
    that reached its delimiter stays there (code 0), one that overran walks on into later
    bytes (zero padding at the end stops it in bounds); positions are recorded with their
    frame's end and filtered afterwards.
    """
    buf = np.concatenate([buf, np.zeros(256, np.uint8)])
    pos, end, idx = starts, ends, np.arange(len(starts))
    seen_pos, seen_end = [pos], [end]
    it = 0
    while len(pos):
        pos = pos + buf[pos]
        seen_pos.append(pos)
        seen_end.append(end)
        it += 1
        if it % 16:
            continue
        live = pos < end
        n_live = int(np.count_nonzero(live))
        if n_live * 4 <= len(pos) * 3:  # drop finished (or overrun) chains
            ok[idx[pos > end]] = False
            pos, end, idx = pos[live], end[live], idx[live]
        if 0 < n_live <= 2 and it >= 64:  # a long straggler: finish it in Python
            _python_chains(buf, pos, end, idx, is_code, ok)
            pos, end, idx = pos[:0], end[:0], idx[:0]
    ok[idx[pos > end]] = False
    all_pos, all_end = np.concatenate(seen_pos), np.concatenate(seen_end)
    is_code[all_pos[all_pos < all_end]] = True


def _python_chains(buf: np.ndarray, pos, end, idx, is_code, ok) -> None:
    """Follow a few code chains from ``pos`` to ``end`` byte by byte (plain Python)."""
    marks: list[int] = []
    for p, e, i in zip(pos.tolist(), end.tolist(), idx.tolist(), strict=True):
        data, q, n = buf[p:e].tobytes(), 0, e - p
        while q < n:
            marks.append(q + p)
            q += data[q]
        if q > n:
            ok[i] = False
    is_code[marks] = True
