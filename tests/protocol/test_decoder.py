"""StreamDecoder: split-anywhere decoding, robustness to garbage, counters and gap records."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.protocol import (
    MAX_WIRE_LEN,
    Command,
    Decoded,
    Gap,
    Opcode,
    Response,
    SampleBlock,
    StimEvent,
    StreamDecoder,
    cobs_encode,
    encode_frame,
    encode_wire,
)
from hreflex.protocol import decoder as decoder_module

N_CH, N = 3, 8  # small blocks: 8 samples x 3 channels


def make_blocks(seqs, firsts=None, stream: int = 0, n: int = N, c: int = N_CH, seed: int = 0):
    rng = np.random.default_rng(seed)
    firsts = [s * n for s in seqs] if firsts is None else firsts
    return [SampleBlock(s, f, rng.integers(-300, 300, (n, c)).astype(np.int16),
                        (rng.random(n) < 0.2).astype(np.uint8), stream)
            for s, f in zip(seqs, firsts, strict=True)]


def feed_all(dec: StreamDecoder, wire: bytes, cuts=()) -> list[Decoded]:
    bounds = [0, *sorted(cuts), len(wire)]
    return [dec.feed(wire[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def blocks_of(results: list[Decoded]) -> list[SampleBlock]:
    return [sb.block(k) for r in results for sb in r.samples for k in range(sb.n_blocks)]


def frames_of(results: list[Decoded]) -> list:
    return [f for r in results for f in r.frames]


def gaps_of(results: list[Decoded]) -> list[Gap]:
    return [g for r in results for g in r.gaps]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_split_gives_the_same_frames(data) -> None:
    n_blocks = data.draw(st.integers(0, 60))
    blocks = make_blocks(range(n_blocks), seed=n_blocks)
    others = [StimEvent(1, 5, 100, 1000, 200, 3), Response(3, Opcode.FIRE, True, 0, "ok"),
              Command.make(4, Opcode.HEARTBEAT)]
    order = list(blocks)
    for f in others:  # other frames anywhere between the blocks, blocks stay in order
        order.insert(data.draw(st.integers(0, len(order))), f)
    wire = b"".join(encode_wire(f) for f in order)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=12))
    dec = StreamDecoder()
    results = feed_all(dec, wire, cuts)
    assert blocks_of(results) == blocks
    assert frames_of(results) == [f for f in order if not isinstance(f, SampleBlock)]
    assert gaps_of(results) == []
    assert dec.stats.frames == len(order) and dec.stats.errors == 0
    assert dec.stats.bytes_in == len(wire)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=8))
def test_arbitrary_bytes_never_raise_and_every_frame_is_accounted(junk: bytes, cuts) -> None:
    dec = StreamDecoder()
    feed_all(dec, junk, [c for c in cuts if c <= len(junk)])
    dec.close()
    s = dec.stats
    delimited = [p for p in junk.split(b"\x00")[:-1] if p]  # non-empty delimited frames
    tail = 1 if junk.split(b"\x00")[-1] else 0
    assert s.frames + s.errors - s.truncated == len(delimited)
    assert s.truncated == tail


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_corruption_loses_only_damaged_frames(data) -> None:
    blocks = make_blocks(range(40), seed=1)
    wire = bytearray(b"".join(encode_wire(b) for b in blocks))
    hits = data.draw(st.lists(st.integers(0, len(wire) - 1), max_size=6))
    for i in hits:
        wire[i] = data.draw(st.integers(0, 255))
    dec = StreamDecoder()
    results = feed_all(dec, bytes(wire), data.draw(st.lists(st.integers(0, len(wire)),
                                                            max_size=5)))
    got = blocks_of(results)
    by_seq = {b.seq: b for b in blocks}
    assert all(by_seq[b.seq] == b for b in got)  # nothing decoded that was not sent
    assert len(got) >= 40 - 2 * len(hits)  # a byte hit damages at most two frames
    lost = sorted(set(range(40)) - {b.seq for b in got})
    gaps = gaps_of(results)
    # every run of lost blocks inside the stream is reported once, with the exact counts
    runs = []
    for s in lost:
        if runs and runs[-1][-1] == s - 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    inner = [r for r in runs if r[0] > min(b.seq for b in got) and r[-1] < 39] if got else []
    expected = [Gap(0, "gap", r[0], r[-1] + 1, r[0] * N, len(r) * N, len(r)) for r in inner]
    assert gaps == expected


def test_gap_record_exact() -> None:
    blocks = make_blocks([0, 1, 2, 5, 6])  # seq 3 and 4 missing
    dec = StreamDecoder()
    out = dec.feed(b"".join(encode_wire(b) for b in blocks))
    assert out.gaps == [Gap(stream=0, kind="gap", expected_seq=3, got_seq=5,
                            first_missing_sample=3 * N, n_missing_samples=2 * N,
                            n_missing_blocks=2)]
    assert dec.stats.gaps == 1
    # samples are never shifted or interpolated: rows keep their device sample index
    sb = out.samples[0]
    assert sb.samples.shape == (5 * N, N_CH)
    expected_index = np.concatenate([np.arange(N) + b.first_sample for b in blocks])
    assert np.array_equal(sb.sample_index(), expected_index)
    assert np.array_equal(sb.samples, np.concatenate([b.samples for b in blocks]))


def test_gap_across_feeds_and_sequence_wrap() -> None:
    top = 2**32 - 1
    blocks = make_blocks([top - 1, top, 0, 1], firsts=[0, N, 2 * N, 3 * N])
    dec = StreamDecoder()
    out = [dec.feed(encode_wire(b)) for b in blocks]  # wrap of seq is not a reset
    assert gaps_of(out) == [] and dec.stats.resets == 0
    more = make_blocks([4], firsts=[6 * N])
    assert dec.feed(encode_wire(more[0])).gaps == [Gap(0, "gap", 2, 4, 4 * N, 2 * N, 2)]


def test_restart_at_zero_is_a_reset_not_a_gap() -> None:
    blocks = make_blocks([10, 11, 12], firsts=[80, 88, 96]) + make_blocks([0, 1], seed=2)
    dec = StreamDecoder()
    out = dec.feed(b"".join(encode_wire(b) for b in blocks))
    assert out.gaps == [Gap(0, "reset", 13, 0, 104, None, None)]
    assert (dec.stats.resets, dec.stats.gaps) == (1, 0)
    dec.reset_sequence(0)  # host restarted streaming itself: no record expected
    assert dec.feed(encode_wire(make_blocks([0])[0])).gaps == []


def test_clock_jump_with_continuous_sequence() -> None:
    # the device lost 5 samples internally but kept numbering its blocks
    blocks = make_blocks([0, 1, 2], firsts=[0, N, 2 * N + 5])
    out = StreamDecoder().feed(b"".join(encode_wire(b) for b in blocks))
    assert out.gaps == [Gap(0, "clock", 2, 2, 2 * N, 5, 0)]


def test_streams_and_channel_counts_are_kept_apart() -> None:
    a = make_blocks([0, 1, 2], stream=0)
    b = make_blocks([7, 9], stream=1, c=5, seed=3)
    c = make_blocks([3], stream=0)
    order = [a[0], b[0], a[1], b[1], a[2], c[0]]
    out = StreamDecoder().feed(b"".join(encode_wire(f) for f in order))
    assert [(s.stream, s.n_channels, s.n_blocks) for s in out.samples] == [(0, 3, 4), (1, 5, 2)]
    assert out.gaps == [Gap(1, "gap", 8, 9, 8 * N, N, 1)]


def test_counters_per_defect() -> None:
    good = encode_wire(make_blocks([0])[0])
    frame = bytearray(encode_frame(make_blocks([1])[0]))
    frame[25] ^= 4
    parts = [good, b"\x05\x01\x00", cobs_encode(b"abcd") + b"\x00", cobs_encode(bytes(frame)) +
             b"\x00", b"\x00\x00", b"\x01" * (MAX_WIRE_LEN + 1) + b"\x00", good[:-10]]
    dec = StreamDecoder()
    for i in range(0, len(b"".join(parts)), 97):
        dec.feed(b"".join(parts)[i : i + 97])
    dec.close()
    s = dec.stats
    assert (s.frames, s.cobs, s.too_short, s.crc, s.oversize, s.truncated) == (1, 1, 1, 1, 1, 1)


def test_large_feed_is_decoded_in_batches_and_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoder_module, "_BATCH_BYTES", 512)
    blocks = make_blocks(range(50), seed=4)
    events = [StimEvent(k, 10 * k, 0, 1, 1) for k in range(5)]
    wire = b"".join(encode_wire(f) for pair in zip(blocks, events * 10, strict=True)
                    for f in pair)
    out = StreamDecoder().feed(wire)
    assert len(out.samples) == 1 and out.samples[0].n_blocks == 50
    assert blocks_of([out]) == blocks and out.frames == events * 10


@pytest.mark.parametrize("n_good", [0, 40])  # plain-Python and numpy lockstep paths
def test_runt_sample_block_at_the_end_is_malformed(n_good: int) -> None:
    body = bytes([1, 1, 0, 0, 9, 9])  # SAMPLE_BLOCK type, 2-byte payload, valid CRC
    runt = body + struct.pack("<I", zlib.crc32(body))
    wire = b"".join(encode_wire(b) for b in make_blocks(range(n_good))) + \
        cobs_encode(runt) + b"\x00"
    dec = StreamDecoder()
    dec.feed(wire)
    assert (dec.stats.frames, dec.stats.malformed) == (n_good, 1)
