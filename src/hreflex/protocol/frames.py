"""Frame types, header and payload layouts of the hreflex wire protocol (version 1).

A frame is ``header (4 bytes) | payload | CRC-32 (4 bytes)``, little-endian, sent on the wire
COBS-encoded and followed by one 0x00 delimiter. ``firmware_io/PROTOCOL.md`` is the normative
description; this module mirrors it. Physical quantities travel as unsigned integers in the
smallest unit a device can deliver (µA, µs, mHz) so no encoding step can round a value up.
"""

from __future__ import annotations

import enum
import math
import struct
import zlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hreflex.protocol.cobs import CobsError, cobs_decode, cobs_encode

PROTOCOL_VERSION = 1
HEADER_LEN = 4
CRC_LEN = 4
#: largest decoded frame (header + payload + CRC) a receiver must accept, bytes
MAX_FRAME_LEN = 8192
#: largest COBS-encoded frame (without its delimiter) that can decode to MAX_FRAME_LEN bytes
MAX_WIRE_LEN = MAX_FRAME_LEN + MAX_FRAME_LEN // 254 + 1
#: zlib.crc32 of any byte string followed by its own CRC-32 (little-endian)
CRC_RESIDUE = 0x2144DF1C
#: StimEvent.sample_index on the wire when the device has no ADC clock
NO_SAMPLE_INDEX = 0xFFFF_FFFF_FFFF_FFFF
MAX_TEXT_LEN = 64

_HEADER = struct.Struct("<BBBB")


class FrameType(enum.IntEnum):
    SAMPLE_BLOCK = 0x01
    STIM_EVENT = 0x02
    COMMAND = 0x03
    RESPONSE = 0x04
    STATUS = 0x05
    IDENTITY = 0x06


class Opcode(enum.IntEnum):
    IDENTIFY = 0x01
    CONFIGURE_AMPLIFIER = 0x02
    CONFIGURE_STIMULATOR = 0x03
    START = 0x04
    STOP = 0x05
    SET_STIMULUS = 0x06
    ARM = 0x07
    FIRE = 0x08
    DISARM = 0x09
    HEARTBEAT = 0x0A
    GET_STATUS = 0x0B


class Reason(enum.IntEnum):
    """Reason codes of responses (and of ``Status.last_disarm_reason``)."""

    OK = 0
    UNKNOWN_OPCODE = 1
    BAD_ARGUMENTS = 2
    NOT_SUPPORTED = 3
    BAD_CONFIG = 4
    BUSY = 5
    INTENSITY_LIMIT = 10
    PULSE_WIDTH_LIMIT = 11
    NOT_ARMED = 12
    RATE_LIMIT = 13
    NO_STIMULUS = 14
    WATCHDOG = 15
    HOST_DISARM = 16


class DeviceKind(enum.IntEnum):
    AMPLIFIER = 1
    STIMULATOR = 2


#: command argument layouts: opcode -> (struct format, field names); other opcodes take none
COMMAND_ARGS: dict[int, tuple[str, tuple[str, ...]]] = {
    Opcode.CONFIGURE_AMPLIFIER: ("<IHBx", ("sample_rate_Hz", "samples_per_block", "n_channels")),
    Opcode.CONFIGURE_STIMULATOR: ("<I", ("heartbeat_timeout_ms",)),
    Opcode.SET_STIMULUS: ("<II", ("intensity_uA", "pulse_width_us")),
}


class FrameError(ValueError):
    """A frame failed a check; ``kind`` names the decoder counter it belongs to."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """One block of samples: ``samples`` (n_samples, n_channels) int16 ADC counts,
    ``digital`` (n_samples,) uint8 (bit 0 = stimulus trigger copy); ``first_sample`` is the
    index of row 0 on the device's sample clock, ``seq`` the block sequence number."""

    seq: int
    first_sample: int
    samples: np.ndarray
    digital: np.ndarray
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.SAMPLE_BLOCK

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SampleBlock)
            and (self.seq, self.first_sample, self.stream)
            == (other.seq, other.first_sample, other.stream)
            and self.samples.shape == other.samples.shape
            and bool(np.array_equal(self.samples, other.samples))
            and bool(np.array_equal(self.digital, other.digital))
        )


@dataclass(frozen=True)
class StimEvent:
    """A delivered pulse. ``sample_index`` is latched on the ADC clock (None: no ADC clock);
    ``device_time_us`` on the device's own µs clock; ``request_id`` of the FIRE (0: other)."""

    pulse_counter: int
    sample_index: int | None
    device_time_us: int
    intensity_uA: int
    pulse_width_us: int
    request_id: int = 0
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.STIM_EVENT


@dataclass(frozen=True)
class Command:
    """A host request. ``args`` are the raw argument bytes (layout per opcode in
    :data:`COMMAND_ARGS`); build with :meth:`make`, read with :meth:`fields`."""

    request_id: int
    opcode: int
    args: bytes = b""
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.COMMAND

    @classmethod
    def make(cls, request_id: int, opcode: int, stream: int = 0, **fields: int) -> Command:
        """Build a command from named arguments, e.g.
        ``Command.make(7, Opcode.SET_STIMULUS, intensity_uA=12500, pulse_width_us=1000)``."""
        fmt, names = COMMAND_ARGS.get(opcode, ("<", ()))
        if set(fields) != set(names):
            raise ValueError(f"opcode {opcode} takes arguments {names}, got {tuple(fields)}")
        return cls(request_id, opcode, struct.pack(fmt, *(fields[n] for n in names)), stream)

    def fields(self) -> dict[str, int]:
        """Named arguments; raise :class:`FrameError` (``unknown_opcode``/``bad_arguments``),
        the checks a device answers with a NACK."""
        if self.opcode not in Opcode.__members__.values():
            raise FrameError("unknown_opcode", f"unknown opcode 0x{self.opcode:02x}")
        fmt, names = COMMAND_ARGS.get(self.opcode, ("<", ()))
        if len(self.args) != struct.calcsize(fmt):
            raise FrameError(
                "bad_arguments",
                f"opcode {Opcode(self.opcode).name} takes {struct.calcsize(fmt)} argument "
                f"bytes, got {len(self.args)}",
            )
        return dict(zip(names, struct.unpack(fmt, self.args), strict=True))


@dataclass(frozen=True)
class Response:
    """Answer to the command with ``request_id``/``opcode``: ACK (``ack``) or NACK with a
    ``reason`` code and a short ASCII ``text`` (≤ 64 characters)."""

    request_id: int
    opcode: int
    ack: bool
    reason: int = Reason.OK
    text: str = ""
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.RESPONSE


@dataclass(frozen=True)
class Status:
    """Device state and counters (sent on GET_STATUS, periodically, and on state changes)."""

    device_time_us: int
    armed: bool = False
    streaming: bool = False
    watchdog_tripped: bool = False
    stimulus_set: bool = False
    last_disarm_reason: int = Reason.OK
    pulses_delivered: int = 0
    blocks_sent: int = 0
    frames_received: int = 0
    rx_errors: int = 0
    watchdog_trips: int = 0
    dropped_samples: int = 0
    heartbeat_timeout_ms: int = 0
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.STATUS


@dataclass(frozen=True)
class Identity:
    """Who a device is. Amplifier: ``sample_rate_Hz``, ``adc_bits``, ``gain`` (V/V),
    filter corners (Hz) and ``scale_V_per_count`` (input-referred volts per ADC count: one
    common value or one per channel). Stimulator: the device limits (µA, µs, mHz)."""

    kind: int
    model: str
    serial: str
    firmware_version: tuple[int, int, int] = (0, 0, 0)
    protocol_version: int = PROTOCOL_VERSION
    n_channels: int = 0
    sample_rate_Hz: int = 0
    adc_bits: int = 0
    gain: float = 0.0
    highpass_Hz: float = 0.0
    lowpass_Hz: float = 0.0
    scale_V_per_count: tuple[float, ...] = ()
    max_intensity_uA: int = 0
    max_pulse_width_us: int = 0
    max_rate_mHz: int = 0
    stream: int = 0
    TYPE: ClassVar[FrameType] = FrameType.IDENTITY


Frame = SampleBlock | StimEvent | Command | Response | Status | Identity

_BLOCK_HEAD = struct.Struct("<IQHBx")
_EVENT = struct.Struct("<IQQIIHxx")
_COMMAND_HEAD = struct.Struct("<HBx")
_RESPONSE_HEAD = struct.Struct("<HBBHBx")
_STATUS = struct.Struct("<QBxHIIIIIII")
_IDENTITY_HEAD = struct.Struct("<BBBBBBBBIfffIII16s16s")
BLOCK_HEAD_LEN = _BLOCK_HEAD.size  # 16
STATUS_FLAGS = ("armed", "streaming", "watchdog_tripped", "stimulus_set")


def mA_to_uA(intensity_mA: float) -> int:
    """Intensity in mA -> the wire's integer µA, truncated (never rounded up); values within
    1e-6 µA below an integer count as that integer (binary floating-point noise)."""
    if not math.isfinite(intensity_mA) or intensity_mA < 0:
        raise ValueError(f"intensity must be a finite value >= 0 mA, got {intensity_mA!r}")
    return math.floor(intensity_mA * 1000.0 + 1e-6)


def whole_us(value_us: float) -> int:
    """A time in µs (pulse width) -> the wire's integer µs, truncated like :func:`mA_to_uA`."""
    return math.floor(value_us + 1e-6)


def _payload(frame: Frame) -> bytes:
    if isinstance(frame, SampleBlock):
        s = np.asarray(frame.samples)
        if s.ndim != 2 or s.shape[0] < 1 or not 1 <= s.shape[1] <= 255:
            raise ValueError(f"samples must be (n_samples>=1, 1..255 channels), got {s.shape}")
        if s.dtype != np.int16 and s.size and (s.min() < -32768 or s.max() > 32767):
            raise ValueError("samples do not fit in int16")
        d = np.asarray(frame.digital)
        if d.shape != (s.shape[0],):
            raise ValueError(f"digital must have shape ({s.shape[0]},), got {d.shape}")
        head = _BLOCK_HEAD.pack(frame.seq, frame.first_sample, s.shape[0], s.shape[1])
        return head + s.astype("<i2", copy=False).tobytes() + d.astype(np.uint8).tobytes()
    if isinstance(frame, StimEvent):
        idx = NO_SAMPLE_INDEX if frame.sample_index is None else frame.sample_index
        return _EVENT.pack(frame.pulse_counter, idx, frame.device_time_us, frame.intensity_uA,
                           frame.pulse_width_us, frame.request_id)
    if isinstance(frame, Command):
        return _COMMAND_HEAD.pack(frame.request_id, frame.opcode) + bytes(frame.args)
    if isinstance(frame, Response):
        text = frame.text.encode("ascii")
        if len(text) > MAX_TEXT_LEN:
            raise ValueError(f"response text longer than {MAX_TEXT_LEN} bytes: {frame.text!r}")
        return _RESPONSE_HEAD.pack(frame.request_id, frame.opcode, 0 if frame.ack else 1,
                                   frame.reason, len(text)) + text
    if isinstance(frame, Status):
        flags = sum(1 << i for i, name in enumerate(STATUS_FLAGS) if getattr(frame, name))
        return _STATUS.pack(frame.device_time_us, flags, frame.last_disarm_reason,
                            frame.pulses_delivered, frame.blocks_sent, frame.frames_received,
                            frame.rx_errors, frame.watchdog_trips, frame.dropped_samples,
                            frame.heartbeat_timeout_ms)
    if isinstance(frame, Identity):
        scales = frame.scale_V_per_count
        if len(frame.model) > 16 or len(frame.serial) > 16:
            raise ValueError(f"model/serial longer than 16 characters: {frame.model!r}, "
                             f"{frame.serial!r}")
        return _IDENTITY_HEAD.pack(
            frame.kind, frame.protocol_version, *frame.firmware_version, frame.adc_bits,
            frame.n_channels, len(scales), frame.sample_rate_Hz, frame.gain, frame.highpass_Hz,
            frame.lowpass_Hz, frame.max_intensity_uA, frame.max_pulse_width_us,
            frame.max_rate_mHz, frame.model.encode("ascii"), frame.serial.encode("ascii"),
        ) + np.asarray(scales, dtype="<f4").tobytes()
    raise TypeError(f"not a frame: {frame!r}")


def encode_frame(frame: Frame) -> bytes:
    """The decoded frame bytes: header, payload and CRC-32 (no COBS, no delimiter)."""
    body = _HEADER.pack(PROTOCOL_VERSION, frame.TYPE, frame.stream, 0) + _payload(frame)
    if len(body) + CRC_LEN > MAX_FRAME_LEN:
        raise ValueError(f"frame of {len(body) + CRC_LEN} bytes exceeds {MAX_FRAME_LEN}")
    return body + struct.pack("<I", zlib.crc32(body))


def encode_wire(frame: Frame) -> bytes:
    """The bytes to send: the COBS-encoded frame followed by the 0x00 delimiter."""
    return cobs_encode(encode_frame(frame)) + b"\x00"


def check_frame(data: bytes) -> tuple[int, int]:
    """Check length, CRC and version of a decoded frame; return ``(type, stream)``.
    Raise :class:`FrameError` (``oversize``, ``too_short``, ``crc``, ``version``)."""
    if len(data) > MAX_FRAME_LEN:
        raise FrameError("oversize", f"frame of {len(data)} bytes exceeds {MAX_FRAME_LEN}")
    if len(data) < HEADER_LEN + CRC_LEN:
        raise FrameError("too_short", f"frame of {len(data)} bytes is shorter than 8")
    if zlib.crc32(data) != CRC_RESIDUE:
        raise FrameError("crc", "CRC-32 mismatch")
    if data[0] != PROTOCOL_VERSION:
        raise FrameError("version", f"protocol version {data[0]}, expected {PROTOCOL_VERSION}")
    return data[1], data[2]


def decode_frame(data: bytes) -> Frame:
    """Parse one decoded frame (header + payload + CRC); raise :class:`FrameError` whose
    ``kind`` is a :class:`~hreflex.protocol.decoder.DecoderStats` counter name."""
    ftype, stream = check_frame(data)
    p = bytes(data[HEADER_LEN:-CRC_LEN])
    if ftype not in FrameType.__members__.values():
        raise FrameError("type", f"unknown frame type 0x{ftype:02x}")
    try:
        return _parse_payload(FrameType(ftype), p, stream)
    except struct.error as exc:
        raise FrameError("malformed", f"{FrameType(ftype).name} payload: {exc}") from None


def _parse_payload(ftype: FrameType, p: bytes, stream: int) -> Frame:
    def malformed(msg: str) -> FrameError:
        return FrameError("malformed", f"{ftype.name} payload: {msg}")

    if ftype is FrameType.SAMPLE_BLOCK:
        seq, first, n, c = _BLOCK_HEAD.unpack_from(p)
        if n < 1 or c < 1 or len(p) != BLOCK_HEAD_LEN + n * (2 * c + 1):
            raise malformed(f"{len(p)} bytes do not hold {n} samples x {c} channels")
        body = np.frombuffer(p, np.uint8, offset=BLOCK_HEAD_LEN)
        samples = body[: 2 * n * c].view("<i2").reshape(n, c).astype(np.int16)
        return SampleBlock(seq, first, samples, body[2 * n * c :].copy(), stream)
    if ftype is FrameType.STIM_EVENT:
        if len(p) != _EVENT.size:
            raise malformed(f"{len(p)} bytes, expected {_EVENT.size}")
        count, idx, t, ua, us, rid = _EVENT.unpack(p)
        return StimEvent(count, None if idx == NO_SAMPLE_INDEX else idx, t, ua, us, rid, stream)
    if ftype is FrameType.COMMAND:
        rid, opcode = _COMMAND_HEAD.unpack_from(p)
        return Command(rid, opcode, p[_COMMAND_HEAD.size :], stream)
    if ftype is FrameType.RESPONSE:
        rid, opcode, status, reason, n = _RESPONSE_HEAD.unpack_from(p)
        if status > 1 or n > MAX_TEXT_LEN or len(p) != _RESPONSE_HEAD.size + n:
            raise malformed(f"status {status}, text length {n}, {len(p)} bytes")
        text = p[_RESPONSE_HEAD.size :]
        if not text.isascii():
            raise malformed("text is not ASCII")
        return Response(rid, opcode, status == 0, reason, text.decode("ascii"), stream)
    if ftype is FrameType.STATUS:
        if len(p) != _STATUS.size:
            raise malformed(f"{len(p)} bytes, expected {_STATUS.size}")
        t, flags, why, *counters = _STATUS.unpack(p)
        bits = {name: bool(flags >> i & 1) for i, name in enumerate(STATUS_FLAGS)}
        return Status(t, **bits, last_disarm_reason=why, pulses_delivered=counters[0],
                      blocks_sent=counters[1], frames_received=counters[2],
                      rx_errors=counters[3], watchdog_trips=counters[4],
                      dropped_samples=counters[5], heartbeat_timeout_ms=counters[6],
                      stream=stream)
    # IDENTITY
    h = _IDENTITY_HEAD.unpack_from(p)
    kind, proto, fw0, fw1, fw2, bits_, n_ch, n_scales, rate, gain, hp, lp = h[:12]
    max_ua, max_us, max_mhz, model, serial = h[12:]
    if len(p) != _IDENTITY_HEAD.size + 4 * n_scales:
        raise malformed(f"{len(p)} bytes do not hold {n_scales} scales")
    names = [model.rstrip(b"\0"), serial.rstrip(b"\0")]
    if not all(x.isascii() and b"\0" not in x for x in names):
        raise malformed("model/serial are not NUL-padded ASCII")
    scales = np.frombuffer(p, "<f4", offset=_IDENTITY_HEAD.size).tolist()
    return Identity(kind, names[0].decode(), names[1].decode(), (fw0, fw1, fw2), proto, n_ch,
                    rate, bits_, gain, hp, lp, tuple(scales), max_ua, max_us, max_mhz, stream)


def decode_wire(data: bytes) -> Frame:
    """Decode one wire frame (COBS bytes, with or without the trailing 0x00)."""
    data = bytes(data)
    if data.endswith(b"\x00"):
        data = data[:-1]
    if len(data) > MAX_WIRE_LEN:
        raise FrameError("oversize", f"encoded frame of {len(data)} bytes exceeds {MAX_WIRE_LEN}")
    try:
        return decode_frame(cobs_decode(data))
    except CobsError as exc:
        raise FrameError("cobs", str(exc)) from None

