"""Generate the golden vectors shared by the Python and C codecs (deterministic).

    python firmware_io/golden/make_golden.py [--out DIR]      (default: this directory)

Files:
  frames.txt / frames.bin    every frame type and opcode plus COBS edge cases (runs of 253,
                             254, 255 and > 508 non-zero bytes, all-zero payloads), as
                             canonical text lines and as wire bytes.
  damaged.bin                a stream with garbage, corrupted, truncated, foreign and
                             malformed frames between valid ones, ending in a partial frame.
  damaged.txt                the frames that must survive, in order.
  damaged.json               the counters both decoders must report, and the gap record the
                             host decoder must produce (its block seq 2 is destroyed).
The expectations follow from how each defect is built, not from running a decoder.
"""

from __future__ import annotations

import argparse
import json
import struct
import zlib
from pathlib import Path

import numpy as np

from hreflex.protocol import (
    PROTOCOL_VERSION,
    Command,
    DeviceKind,
    Identity,
    Opcode,
    Reason,
    Response,
    SampleBlock,
    Status,
    StimEvent,
    cobs_encode,
    encode_frame,
    encode_wire,
    frame_to_text,
)

HERE = Path(__file__).resolve().parent


def _block(seq: int, first: int, samples, digital, stream: int = 0) -> SampleBlock:
    s = np.asarray(samples, dtype=np.int16)
    return SampleBlock(seq, first, s.reshape(len(s), -1), np.asarray(digital, np.uint8), stream)


def _run_block(run_bytes: int) -> SampleBlock:
    """1-channel block whose sample bytes start with a run of exactly ``run_bytes`` non-zero
    bytes (0x0101 samples, then one sample whose bytes end the run with a 0x00)."""
    k, odd = divmod(run_bytes, 2)
    tail = 1 if odd else 256  # 0x0001 -> 01 00 (run + 1) ; 0x0100 -> 00 01 (run ends before)
    samples = [257] * k + [tail] + [257] * 3
    return _block(0x01010101, 0x0101010101010101, samples, [1] * len(samples))


def valid_frames() -> list:
    rng = np.random.default_rng(2024)
    noisy = rng.normal(0, 90, (5, 4)).round().astype(np.int16)
    noisy[0, :] = [-32768, 32767, 0, 255]
    noisy[1, :] = [256, -1, -256, 1]
    frames = [
        _block(0, 0, noisy, [0, 1, 1, 0, 3]),
        _block(1, 5, [[7]], [0]),
        _block(4294967295, 2**64 - 2, np.zeros((2, 16)), [0, 0]),
        _block(9, 1000, -np.ones((3, 2)), [255, 254, 128], stream=3),
        _run_block(253), _run_block(254), _run_block(255), _run_block(600),
        StimEvent(1, 123_456, 6_172_800, 12_500, 1000, 17),
        StimEvent(2, None, 4_000_000_000_123, 50_000, 50, 0),
        Command.make(1, Opcode.IDENTIFY),
        Command.make(2, Opcode.CONFIGURE_AMPLIFIER, sample_rate_Hz=20_000, samples_per_block=20,
                     n_channels=16),
        Command.make(3, Opcode.CONFIGURE_STIMULATOR, heartbeat_timeout_ms=1000),
        Command.make(4, Opcode.START), Command.make(5, Opcode.STOP),
        Command.make(6, Opcode.SET_STIMULUS, intensity_uA=12_500, pulse_width_us=1000),
        Command.make(7, Opcode.ARM), Command.make(8, Opcode.FIRE),
        Command.make(9, Opcode.DISARM), Command.make(10, Opcode.HEARTBEAT),
        Command.make(65535, Opcode.GET_STATUS),
        Command(11, 0x7F, b"\x00\x01\x02"),
        Response(6, Opcode.SET_STIMULUS, True, Reason.OK, "ok"),
        Response(8, Opcode.FIRE, False, Reason.NOT_ARMED, "not armed"),
        Response(12, 0x7F, False, Reason.UNKNOWN_OPCODE, ""),
        Response(13, Opcode.ARM, False, Reason.NO_STIMULUS, "x" * 64),
        Status(987_654_321, armed=True, streaming=False, watchdog_tripped=True,
               stimulus_set=True, last_disarm_reason=Reason.WATCHDOG, pulses_delivered=42,
               blocks_sent=0, frames_received=99, rx_errors=3, watchdog_trips=1,
               dropped_samples=0, heartbeat_timeout_ms=1000),
        Status(5, streaming=True, blocks_sent=123_456, dropped_samples=2, stream=1),
        Identity(DeviceKind.AMPLIFIER, "hrx-amp16", "A0001", (1, 2, 3), n_channels=16,
                 sample_rate_Hz=20_000, adc_bits=16, gain=1000.0, highpass_Hz=10.0,
                 lowpass_Hz=5000.0,
                 scale_V_per_count=tuple(float(np.float32(2.5 / 32768 / 1000 * (1 + i / 64)))
                                         for i in range(16))),
        Identity(DeviceKind.STIMULATOR, "DS7A-ctl", "S0001", (0, 9, 1),
                 max_intensity_uA=100_000, max_pulse_width_us=2000, max_rate_mHz=20_000),
    ]
    return frames


def _raw_frame(version: int, ftype: int, payload: bytes, stream: int = 0) -> bytes:
    """A decoded frame with a correct CRC but arbitrary header/payload."""
    body = bytes([version, ftype, stream, 0]) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _wire(decoded: bytes) -> bytes:
    return cobs_encode(decoded) + b"\x00"


def damaged_stream() -> tuple[bytes, list, dict, list]:
    """(wire bytes, surviving frames, expected counters, expected gaps)."""
    rng = np.random.default_rng(7)
    blocks = [_block(s, 10 * s, rng.integers(-400, 400, (10, 2)), (np.arange(10) == 3) * 1)
              for s in range(5)]
    event = StimEvent(1, 33, 1650, 20_000, 500, 5)
    reply = Response(5, Opcode.FIRE, True, Reason.OK, "ok")
    counters = dict.fromkeys(["oversize", "cobs", "too_short", "crc", "version", "type",
                              "malformed", "truncated"], 0)
    parts: list[bytes] = []
    survivors: list = []

    def good(frame) -> None:
        parts.append(encode_wire(frame))
        survivors.append(frame)

    def bad(kind: str, wire: bytes) -> None:
        parts.append(wire)
        counters[kind] += 1

    bad("cobs", b"\x13\x37\x00")  # garbage before the first frame: code 0x13 overruns
    good(blocks[0])
    parts.append(b"\x00\x00")  # empty frames: ignored
    good(blocks[1])
    flipped = bytearray(encode_frame(blocks[2]))
    flipped[30] ^= 0x10  # one bit of a sample
    bad("crc", _wire(bytes(flipped)))  # block seq 2 is lost -> gap
    good(event)
    bad("too_short", _wire(b"abc"))
    enc = cobs_encode(encode_frame(reply))
    codes, p = [], 0
    while p < len(enc):
        codes.append(p)
        p += enc[p]
    inside = next(c for c in codes if enc[c] > 2 and c > 8)
    bad("cobs", enc[: inside + 1] + b"\x00")  # cut inside a COBS block: code overruns
    at_code = next(c for c in codes if c >= 9)
    bad("crc", enc[:at_code] + b"\x00")  # cut at a code byte: valid COBS, wrong CRC
    good(blocks[3])
    bad("version", _wire(_raw_frame(PROTOCOL_VERSION + 1, 0x01, encode_frame(blocks[4])[4:-4])))
    bad("type", _wire(_raw_frame(PROTOCOL_VERSION, 0x42, b"\x01\x02\x03")))
    block_payload = bytearray(encode_frame(blocks[4])[4:-4])
    block_payload[12] += 1  # n_samples one too many for the bytes present
    bad("malformed", _wire(_raw_frame(PROTOCOL_VERSION, 0x01, bytes(block_payload))))
    bad("malformed", _wire(_raw_frame(PROTOCOL_VERSION, 0x04,
                                      struct.pack("<HBBHBx", 1, 8, 0, 0, 65) + b"y" * 65)))
    bad("malformed", _wire(_raw_frame(PROTOCOL_VERSION, 0x05, bytes(39))))
    bad("oversize", bytes(rng.integers(1, 256, 9000, dtype=np.uint8)) + b"\x00")
    big = rng.integers(1, 256, 8200, dtype=np.uint8)
    big[::200] = 0  # zeros keep the COBS overhead at one byte: 8201 wire bytes
    bad("oversize", _wire(big.tobytes()))
    good(blocks[4])
    good(reply)
    tail = encode_wire(blocks[0])[:-1]
    bad("truncated", tail[: len(tail) // 2])  # partial frame at end of stream
    gaps = [{"stream": 0, "kind": "gap", "expected_seq": 2, "got_seq": 3,
             "first_missing_sample": 20, "n_missing_samples": 10, "n_missing_blocks": 1}]
    counters["frames"] = len(survivors)
    return b"".join(parts), survivors, counters, gaps


def counters_line(counters: dict) -> str:
    keys = ["frames", "oversize", "cobs", "too_short", "crc", "version", "type", "malformed",
            "truncated"]
    return "counters " + " ".join(f"{k}={counters[k]}" for k in keys)


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    frames = valid_frames()
    (out / "frames.txt").write_text("".join(frame_to_text(f) + "\n" for f in frames))
    (out / "frames.bin").write_bytes(b"".join(encode_wire(f) for f in frames))
    wire, survivors, counters, gaps = damaged_stream()
    (out / "damaged.bin").write_bytes(wire)
    (out / "damaged.txt").write_text("".join(frame_to_text(f) + "\n" for f in survivors))
    (out / "damaged.json").write_text(json.dumps({"counters": counters, "gaps": gaps},
                                                 indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description="Write the protocol golden vectors.")
    ap.add_argument("--out", type=Path, default=HERE)
    write(ap.parse_args().out)


if __name__ == "__main__":
    main()
