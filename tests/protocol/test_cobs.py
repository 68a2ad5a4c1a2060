"""COBS: published examples, round trips, and the bulk decoder against the one-frame decoder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.protocol.cobs import (
    CobsError,
    cobs_decode,
    cobs_decode_many,
    cobs_encode,
    cobs_max_encoded_len,
)

RUN = bytes(range(1, 255))  # 254 non-zero bytes

# Examples from the COBS literature (Cheshire & Baker 1999 and its Wikipedia summary)
EXAMPLES = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (RUN + b"\xff", b"\xff" + RUN + b"\x02\xff"),
    (RUN[1:] + b"\xff\x00", b"\xff" + RUN[1:] + b"\xff\x01\x01"),
    (RUN[2:] + b"\xff\x00\x01", b"\xfe" + RUN[2:] + b"\xff\x02\x01"),
]


@pytest.mark.parametrize(("data", "encoded"), EXAMPLES)
def test_published_examples(data: bytes, encoded: bytes) -> None:
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


def test_full_run_at_the_end_gets_a_final_code_and_both_forms_decode() -> None:
    # The paper's encoder ends 254 non-zero bytes with an empty block (01); the shorter form
    # without it (as on Wikipedia) must decode to the same data.
    assert cobs_encode(RUN) == b"\xff" + RUN + b"\x01"
    assert cobs_decode(b"\xff" + RUN) == RUN == cobs_decode(b"\xff" + RUN + b"\x01")
    assert cobs_decode(b"\x01\xff" + RUN) == b"\x00" + RUN


@given(st.binary(max_size=2000))
def test_round_trip_and_overhead(data: bytes) -> None:
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= cobs_max_encoded_len(len(data))
    assert cobs_decode(enc) == data


@pytest.mark.parametrize("bad", [b"", b"\x03\x11", b"\x02\x11\x00", b"\x05\x01\x02\x03"])
def test_invalid_cobs_is_rejected(bad: bytes) -> None:
    with pytest.raises(CobsError):
        cobs_decode(bad)


def _scalar(encoded: list[bytes]) -> list[bytes | None]:
    out = []
    for e in encoded:
        try:
            out.append(cobs_decode(e))
        except CobsError:
            out.append(None)
    return out


def _many(encoded: list[bytes]) -> list[bytes | None]:
    buf = np.frombuffer(b"".join(e + b"\x00" for e in encoded), np.uint8)
    ends = np.flatnonzero(buf == 0)
    starts = np.concatenate([[0], ends[:-1] + 1])
    out, o_start, o_len, ok = cobs_decode_many(buf, starts, ends)
    return [out[a : a + n].tobytes() if good else None
            for a, n, good in zip(o_start, o_len, ok, strict=True)]


frame_data = st.one_of(
    st.binary(min_size=0, max_size=700),
    st.integers(0, 1200).map(bytes),  # all zeros: one code per byte
    st.integers(1, 1200).map(lambda n: bytes((i % 255) + 1 for i in range(n))),  # no zero
)


@settings(max_examples=60, deadline=None)
@given(st.lists(frame_data, min_size=1, max_size=80))
def test_bulk_decoder_equals_one_frame_decoder(frames: list[bytes]) -> None:
    encoded = [cobs_encode(f) for f in frames]
    assert _many(encoded) == frames  # both the Python path (few) and numpy lockstep (many)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\x00", b"\x01")),
                min_size=1, max_size=60), st.booleans())
def test_bulk_decoder_flags_exactly_the_invalid_frames(raw: list[bytes], many: bool) -> None:
    # arbitrary non-zero bytes: some are valid COBS, many have a code pointing past the end
    if many:  # enough frames for the numpy lockstep path
        raw = raw * (30 // len(raw) + 1)
    assert _many(raw) == _scalar(raw)


def test_overrun_of_the_last_frames_stays_in_bounds() -> None:
    frames = [b"\x03\x01\x01"] * 40 + [b"\xff\x01"] * 3
    assert _many(frames) == [b"\x01\x01"] * 40 + [None] * 3


def test_long_chain_straggler_among_many_frames() -> None:
    # one all-zero frame (8000 codes) among 100 short ones: finished in plain Python
    frames = [bytes([1, 2, 0, 3]) * 5] * 50 + [bytes(8000)] + [b"\x07" * 300] * 50
    assert _many([cobs_encode(f) for f in frames]) == frames
