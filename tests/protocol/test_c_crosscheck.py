"""C codec <-> Python codec on random frames and randomly damaged streams (both directions)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.protocol import (
    Command,
    Response,
    SampleBlock,
    StreamDecoder,
    cobs_encode,
    decode_wire,
    encode_frame,
    encode_wire,
    frame_to_text,
)

from .test_frames import frames as any_frame

COUNTER_KEYS = ["frames", "oversize", "cobs", "too_short", "crc", "version", "type", "malformed",
                "truncated"]
# the C driver passes response texts as C strings
c_frame = any_frame.filter(lambda f: not (isinstance(f, Response) and "\0" in f.text))


def python_view(wire: bytes, chunk: int = 0) -> tuple[list[str], list[str], dict]:
    """Sorted block lines, other lines in order, counters, as the host decoder sees ``wire``."""
    dec = StreamDecoder()
    chunk = chunk or max(len(wire), 1)
    results = [dec.feed(wire[i : i + chunk]) for i in range(0, len(wire), chunk)]
    dec.close()
    blocks = sorted(frame_to_text(sb.block(k)) for r in results for sb in r.samples
                    for k in range(sb.n_blocks))
    others = [frame_to_text(f) for r in results for f in r.frames]
    stats = dec.stats.as_dict()
    return blocks, others, {k: stats[k] for k in COUNTER_KEYS}


def c_view(c_driver, wire: bytes, cap: int = 0) -> tuple[list[str], list[str], dict]:
    *lines, counters = c_driver.decode(wire, cap)
    assert counters.startswith("counters ")
    parsed = {k: int(v) for k, v in (kv.split("=") for kv in counters.split()[1:])}
    return (sorted(x for x in lines if x.startswith("block")),
            [x for x in lines if not x.startswith("block")], parsed)


@settings(max_examples=25, deadline=None)
@given(st.lists(c_frame, min_size=1, max_size=12))
def test_c_and_python_encode_identical_bytes_and_decode_each_other(c_driver, frames) -> None:
    lines = [frame_to_text(f) for f in frames]
    py_wire = b"".join(encode_wire(f) for f in frames)
    assert c_driver.encode("\n".join(lines) + "\n") == py_wire  # C encodes -> same bytes
    *c_lines, _ = c_driver.decode(py_wire)  # Python encodes -> C decodes
    assert c_lines == lines


@st.composite
def damaged_streams(draw) -> bytes:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = []
    for seq in range(draw(st.integers(1, 30))):
        n, c = int(rng.integers(1, 30)), int(rng.integers(1, 5))
        block = SampleBlock(seq, seq * 100, rng.normal(0, 200, (n, c)).astype(np.int16),
                            (rng.random(n) < 0.1).astype(np.uint8))
        parts.append(encode_wire(draw(st.sampled_from([block, *([block] * 3)]))))
    wire = bytearray(b"".join(parts))
    for _ in range(draw(st.integers(0, 8))):  # damage at the wire level
        what, at = draw(st.integers(0, 4)), draw(st.integers(0, len(wire)))
        if what == 0 and at < len(wire):
            wire[at] ^= 1 << draw(st.integers(0, 7))  # bit flip
        elif what == 1:
            wire[at:at] = draw(st.binary(min_size=1, max_size=20))  # garbage
        elif what == 2:
            del wire[at : at + draw(st.integers(1, 40))]  # lost bytes
        elif what == 3:
            bad = bytearray(encode_frame(SampleBlock(9, 9, np.ones((2, 1), np.int16),
                                                     np.zeros(2, np.uint8))))
            bad[draw(st.integers(0, len(bad) - 1))] ^= 0x80  # decoded-level corruption
            wire[at:at] = cobs_encode(bytes(bad)) + b"\x00"
        else:
            wire = wire[:at]  # cut off (maybe mid-frame)
    return bytes(wire)


@settings(max_examples=40, deadline=None)
@given(damaged_streams(), st.integers(1, 500))
def test_damaged_streams_c_and_python_agree(c_driver, wire: bytes, chunk: int) -> None:
    assert c_view(c_driver, wire) == python_view(wire, chunk)


def test_c_decoder_with_a_small_buffer_counts_big_frames_as_oversize(c_driver) -> None:
    small = SampleBlock(0, 0, np.ones((4, 2), np.int16), np.zeros(4, np.uint8))  # 40 bytes
    big = SampleBlock(1, 4, np.ones((40, 2), np.int16), np.zeros(40, np.uint8))  # 224 bytes
    wire = encode_wire(small) + encode_wire(big) + encode_wire(small)
    blocks, others, counters = c_view(c_driver, wire, cap=64)
    assert blocks == [frame_to_text(small)] * 2 and others == []
    assert counters["oversize"] == 1 and counters["frames"] == 2


def test_short_cobs_form_without_final_code_is_accepted(c_driver) -> None:
    # a command whose frame ends with exactly 254 non-zero bytes (250 args + CRC): the encoder
    # emits "FF <254 bytes> 01"; the form without the final 01 must decode the same
    frames = (Command(rid, 0x7F, bytes(range(1, 251))) for rid in range(257, 2000))
    frame = next(f for f in frames if 0 not in encode_frame(f)[4:6] + encode_frame(f)[-4:])
    wire = encode_wire(frame)
    assert wire.endswith(b"\x01\x00")
    short = wire[:-2] + b"\x00"
    assert decode_wire(short) == frame
    assert c_driver.decode(short)[0] == frame_to_text(frame)
    assert python_view(short)[1] == [frame_to_text(frame)]
