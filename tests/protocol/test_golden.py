"""Golden vectors: the Python codec and the C codec (built with gcc) agree with the committed
vectors in both directions, including the damaged stream."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict

from hreflex.protocol import StreamDecoder, encode_wire, frame_from_text, frame_to_text

from .conftest import GOLDEN

FRAMES_TXT = (GOLDEN / "frames.txt").read_text().splitlines()
FRAMES_BIN = (GOLDEN / "frames.bin").read_bytes()
DAMAGED_TXT = (GOLDEN / "damaged.txt").read_text().splitlines()
DAMAGED_BIN = (GOLDEN / "damaged.bin").read_bytes()
DAMAGED = json.loads((GOLDEN / "damaged.json").read_text())
COUNTER_KEYS = ["frames", "oversize", "cobs", "too_short", "crc", "version", "type", "malformed",
                "truncated"]


def counters_line(counters: dict) -> str:
    return "counters " + " ".join(f"{k}={counters[k]}" for k in COUNTER_KEYS)


def python_decode(wire: bytes, chunk: int) -> tuple[list[str], list[str], StreamDecoder]:
    """(sorted block lines, other frame lines, decoder) from feeding ``wire`` in ``chunk``-byte pieces."""
    dec = StreamDecoder()
    results = [dec.feed(wire[i : i + chunk]) for i in range(0, len(wire), chunk)]
    dec.close()
    blocks = sorted(frame_to_text(sb.block(k)) for r in results for sb in r.samples
                    for k in range(sb.n_blocks))
    others = [frame_to_text(f) for r in results for f in r.frames]
    return blocks, others, dec


def split(lines: list[str]) -> tuple[list[str], list[str]]:
    """(sorted block lines, other lines in order): the decoder groups blocks by stream and
    channel count, keeping their order within a group only."""
    return sorted(x for x in lines if x.startswith("block")), [x for x in lines
                                                                if not x.startswith("block")]


def test_generator_reproduces_the_committed_vectors(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path)
    for name in ("frames.txt", "frames.bin", "damaged.txt", "damaged.bin", "damaged.json"):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name


def test_python_encodes_the_golden_bytes() -> None:
    assert b"".join(encode_wire(frame_from_text(x)) for x in FRAMES_TXT) == FRAMES_BIN


def test_python_decodes_the_golden_frames() -> None:
    for chunk in (1, 5, len(FRAMES_BIN)):
        blocks, others, dec = python_decode(FRAMES_BIN, chunk)
        assert (blocks, others) == split(FRAMES_TXT)
        assert dec.stats.errors == 0


def test_python_decodes_the_damaged_stream() -> None:
    for chunk in (1, 13, 4096, len(DAMAGED_BIN)):
        blocks, others, dec = python_decode(DAMAGED_BIN, chunk)
        assert (blocks, others) == split(DAMAGED_TXT)
        stats = dec.stats.as_dict()
        assert {k: stats[k] for k in COUNTER_KEYS} == DAMAGED["counters"]
        dec2 = StreamDecoder()
        gaps = [asdict(g) for g in dec2.feed(DAMAGED_BIN).gaps]
        assert gaps == DAMAGED["gaps"]


def test_c_encodes_the_golden_bytes(c_driver) -> None:
    assert c_driver.encode("\n".join(FRAMES_TXT) + "\n") == FRAMES_BIN


def test_c_decodes_the_golden_frames(c_driver) -> None:
    zero = dict.fromkeys(COUNTER_KEYS, 0) | {"frames": len(FRAMES_TXT)}
    assert c_driver.decode(FRAMES_BIN) == FRAMES_TXT + [counters_line(zero)]


def test_c_decodes_the_damaged_stream(c_driver) -> None:
    assert c_driver.decode(DAMAGED_BIN) == DAMAGED_TXT + [counters_line(DAMAGED["counters"])]
