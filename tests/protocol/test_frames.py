"""Frame layouts against hand-written bytes from PROTOCOL.md, and encode/decode round trips."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.protocol import (
    MAX_FRAME_LEN,
    NO_SAMPLE_INDEX,
    Command,
    DeviceKind,
    FrameError,
    Identity,
    Opcode,
    Reason,
    Response,
    SampleBlock,
    Status,
    StimEvent,
    cobs_decode,
    cobs_encode,
    decode_frame,
    decode_wire,
    encode_frame,
    encode_wire,
    frame_from_text,
    frame_to_text,
    mA_to_uA,
)


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_sample_block_bytes() -> None:
    block = SampleBlock(seq=0x0A0B0C0D, first_sample=0x0102030405060708,
                        samples=np.array([[1, -2], [256, -32768]], np.int16),
                        digital=np.array([1, 0], np.uint8), stream=3)
    expected = _with_crc(bytes.fromhex(
        "01 01 03 00"                  # version 1, type SAMPLE_BLOCK, stream 3, flags
        "0d 0c 0b 0a"                  # seq
        "08 07 06 05 04 03 02 01"      # first sample index
        "02 00 02 00"                  # n_samples 2, n_channels 2, reserved
        "01 00 fe ff 00 01 00 80"      # samples, sample-major: s0c0 s0c1 s1c0 s1c1
        "01 00"))                      # digital
    assert encode_frame(block) == expected
    assert encode_wire(block) == cobs_encode(expected) + b"\x00"
    assert decode_frame(expected) == block


def test_stim_event_bytes_and_sentinel() -> None:
    ev = StimEvent(pulse_counter=7, sample_index=None, device_time_us=1_000_000,
                   intensity_uA=12_500, pulse_width_us=500, request_id=0x0102)
    body = bytes([1, 2, 0, 0]) + struct.pack("<I", 7) + b"\xff" * 8 + \
        (1_000_000).to_bytes(8, "little") + (12_500).to_bytes(4, "little") + \
        (500).to_bytes(4, "little") + b"\x02\x01\x00\x00"
    assert encode_frame(ev) == _with_crc(body)
    assert decode_frame(_with_crc(body)).sample_index is None
    assert NO_SAMPLE_INDEX == 2**64 - 1


def test_command_response_status_identity_offsets() -> None:
    cmd = Command.make(0x1234, Opcode.SET_STIMULUS, intensity_uA=50_000, pulse_width_us=1000)
    assert encode_frame(cmd)[:-4] == bytes.fromhex("01 03 00 00 34 12 06 00"
                                                   "50 c3 00 00 e8 03 00 00")
    assert cmd.fields() == {"intensity_uA": 50_000, "pulse_width_us": 1000}
    amp = Command.make(1, Opcode.CONFIGURE_AMPLIFIER, sample_rate_Hz=20_000,
                       samples_per_block=20, n_channels=16)
    assert encode_frame(amp)[8:-4] == bytes.fromhex("20 4e 00 00 14 00 10 00")
    rsp = Response(9, Opcode.FIRE, ack=False, reason=Reason.RATE_LIMIT, text="too fast")
    assert encode_frame(rsp)[:-4] == bytes.fromhex("01 04 00 00 09 00 08 01 0d 00 08 00") + \
        b"too fast"
    status = Status(device_time_us=5, armed=True, watchdog_tripped=True,
                    last_disarm_reason=Reason.WATCHDOG, pulses_delivered=3,
                    heartbeat_timeout_ms=250)
    p = encode_frame(status)[4:-4]
    assert len(p) == 40 and p[8] == 0b101 and p[10:12] == b"\x0f\x00"
    assert p[12:16] == b"\x03\x00\x00\x00" and p[36:40] == (250).to_bytes(4, "little")
    ident = Identity(DeviceKind.STIMULATOR, "DS5-ctl", "SN9", (1, 2, 3),
                     max_intensity_uA=50_000, max_pulse_width_us=2000, max_rate_mHz=10_000)
    p = encode_frame(ident)[4:-4]
    assert p[:8] == bytes([2, 1, 1, 2, 3, 0, 0, 0]) and len(p) == 68
    assert struct.unpack_from("<III", p, 24) == (50_000, 2000, 10_000)
    assert p[36:52] == b"DS5-ctl" + bytes(9) and p[52:68] == b"SN9" + bytes(13)


def test_truncating_unit_conversion_never_rounds_up() -> None:
    assert mA_to_uA(12.5) == 12_500
    assert mA_to_uA(1.005) == 1005  # 1.005 * 1000 = 1004.9999999999999 in binary floating point
    assert mA_to_uA(50.0004) == 50_000  # truncated, not rounded to 50.000 -> 50.001
    assert mA_to_uA(0.0009) == 0
    for bad in (-0.001, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            mA_to_uA(bad)


def test_command_fields_errors_are_the_nack_reasons() -> None:
    with pytest.raises(FrameError) as e:
        Command(1, 0x7F).fields()
    assert e.value.kind == "unknown_opcode"
    with pytest.raises(FrameError) as e:
        Command(1, Opcode.SET_STIMULUS, b"\x01\x02").fields()
    assert e.value.kind == "bad_arguments"
    with pytest.raises(ValueError):
        Command.make(1, Opcode.SET_STIMULUS, intensity_uA=1)


@pytest.mark.parametrize(("data", "kind"), [
    (b"\x01\x01\x00", "too_short"),
    (_flip(_with_crc(b"\x01\x05\x00\x00" + bytes(40)), 100), "crc"),
    (_with_crc(b"\x02\x05\x00\x00" + bytes(40)), "version"),
    (_with_crc(b"\x01\x09\x00\x00"), "type"),
    (_with_crc(b"\x01\x05\x00\x00" + bytes(41)), "malformed"),
    (_with_crc(b"\x01\x01\x00\x00" + bytes(10)), "malformed"),
    (_with_crc(b"\x01\x06\x00\x00" + bytes(36) + b"A\x00B" + bytes(29)), "malformed"),
    (bytes(MAX_FRAME_LEN + 1), "oversize"),
])
def test_rejected_frames_name_their_counter(data: bytes, kind: str) -> None:
    with pytest.raises(FrameError) as e:
        decode_frame(data)
    assert e.value.kind == kind


# ---- round trips over arbitrary field values ------------------------------------------------

u8, u16, u32, u64 = (st.integers(0, 2**b - 1) for b in (8, 16, 32, 64))
f32 = st.floats(width=32, allow_nan=False)
name = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=16)


@st.composite
def blocks(draw) -> SampleBlock:
    n, c = draw(st.integers(1, 40)), draw(st.integers(1, 16))
    samples = draw(st.lists(st.integers(-32768, 32767), min_size=n * c, max_size=n * c))
    digital = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    return SampleBlock(draw(u32), draw(u64), np.array(samples, np.int16).reshape(n, c),
                       np.array(digital, np.uint8), draw(u8))


frames = st.one_of(
    blocks(),
    st.builds(StimEvent, u32, st.one_of(st.none(), st.integers(0, 2**64 - 2)), u64, u32, u32,
              u16, u8),
    st.builds(Command, u16, u8, st.binary(max_size=40), u8),
    st.builds(Response, u16, u8, st.booleans(), u16,
              st.text(st.characters(max_codepoint=127), max_size=64), u8),
    st.builds(Status, u64, st.booleans(), st.booleans(), st.booleans(), st.booleans(), u16,
              u32, u32, u32, u32, u32, u32, u32, u8),
    st.builds(Identity, u8, name, name, st.tuples(u8, u8, u8), u8, u8, u32, u8, f32, f32, f32,
              st.lists(f32, max_size=16).map(tuple), u32, u32, u32, u8),
)


@settings(max_examples=300, deadline=None)
@given(frames)
def test_round_trip_frame_wire_and_text(frame) -> None:
    wire = encode_wire(frame)
    assert wire.count(0) == 1 and wire.endswith(b"\x00")
    assert decode_wire(wire) == frame
    assert decode_frame(cobs_decode(wire[:-1])) == frame
    assert frame_from_text(frame_to_text(frame)) == frame


def test_encoder_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_frame(SampleBlock(0, 0, np.array([[40_000]]), np.zeros(1, np.uint8)))
    with pytest.raises(ValueError):
        encode_frame(SampleBlock(0, 0, np.zeros((0, 2), np.int16), np.zeros(0, np.uint8)))
    with pytest.raises(ValueError):
        encode_frame(Response(1, 1, True, text="é"))
    with pytest.raises(ValueError):
        encode_frame(Identity(DeviceKind.AMPLIFIER, "m" * 17, "s"))
    with pytest.raises(ValueError):  # 4 + 16 + 2731 * 3 + 4 bytes > 8192
        encode_frame(SampleBlock(0, 0, np.zeros((2731, 1), np.int16), np.zeros(2731, np.uint8)))
