"""Canonical one-line text form of frames (golden vectors, the C test driver, debugging).

One frame per line, fields separated by single spaces, integers in decimal, text and byte
fields as lowercase hex (``-`` when empty), floats with ``%.9g`` (exact for float32)::

    block    STREAM SEQ FIRST N_CH N_SAMP SAMPLE... DIGITAL...
    event    STREAM COUNTER SAMPLE_INDEX TIME_US INTENSITY_UA WIDTH_US REQUEST_ID
    command  STREAM REQUEST_ID OPCODE ARGS_HEX
    response STREAM REQUEST_ID OPCODE NACK REASON TEXT_HEX
    status   STREAM TIME_US STATE REASON PULSES BLOCKS FRAMES RX_ERRORS WD_TRIPS DROPPED HB_MS
    identity STREAM KIND PROTO FW_MAJ FW_MIN FW_PATCH ADC_BITS N_CH RATE_HZ GAIN HP_HZ LP_HZ
             MAX_UA MAX_US MAX_MHZ MODEL_HEX SERIAL_HEX N_SCALES SCALE...

``SAMPLE_INDEX`` is the raw wire value (``NO_SAMPLE_INDEX`` for "none").
"""

from __future__ import annotations

import numpy as np

from hreflex.protocol.frames import (
    NO_SAMPLE_INDEX,
    STATUS_FLAGS,
    Command,
    Frame,
    Identity,
    Response,
    SampleBlock,
    Status,
    StimEvent,
)

__all__ = ["frame_to_text", "frame_from_text"]

_STATUS_COUNTERS = ("pulses_delivered", "blocks_sent", "frames_received", "rx_errors",
                    "watchdog_trips", "dropped_samples", "heartbeat_timeout_ms")


def _hex(b: bytes) -> str:
    return b.hex() if b else "-"


def _unhex(s: str) -> bytes:
    return b"" if s == "-" else bytes.fromhex(s)


def _f(x: float) -> str:
    return f"{float(np.float32(x)):.9g}"


def frame_to_text(frame: Frame) -> str:
    """The canonical text line of ``frame`` (no newline)."""
    if isinstance(frame, SampleBlock):
        n, c = frame.samples.shape
        values = np.concatenate([np.asarray(frame.samples).ravel(),
                                 np.asarray(frame.digital).astype(np.int64)])
        return " ".join(["block", str(frame.stream), str(frame.seq), str(frame.first_sample),
                         str(c), str(n), *map(str, values.tolist())])
    if isinstance(frame, StimEvent):
        idx = NO_SAMPLE_INDEX if frame.sample_index is None else frame.sample_index
        f = frame
        vals = [f.stream, f.pulse_counter, idx, f.device_time_us, f.intensity_uA,
                f.pulse_width_us, f.request_id]
        return "event " + " ".join(map(str, vals))
    if isinstance(frame, Command):
        return f"command {frame.stream} {frame.request_id} {frame.opcode} {_hex(frame.args)}"
    if isinstance(frame, Response):
        f = frame
        return (f"response {f.stream} {f.request_id} {f.opcode} {int(not f.ack)} {f.reason} "
                f"{_hex(f.text.encode('ascii'))}")
    if isinstance(frame, Status):
        state = sum(1 << i for i, name in enumerate(STATUS_FLAGS) if getattr(frame, name))
        vals = [frame.stream, frame.device_time_us, state, frame.last_disarm_reason,
                *(getattr(frame, k) for k in _STATUS_COUNTERS)]
        return "status " + " ".join(map(str, vals))
    if isinstance(frame, Identity):
        f = frame
        return " ".join(["identity", *map(str, [
            f.stream, f.kind, f.protocol_version, *f.firmware_version, f.adc_bits, f.n_channels,
            f.sample_rate_Hz]), _f(f.gain), _f(f.highpass_Hz), _f(f.lowpass_Hz),
            *map(str, [f.max_intensity_uA, f.max_pulse_width_us, f.max_rate_mHz]),
            _hex(f.model.encode("ascii")), _hex(f.serial.encode("ascii")),
            str(len(f.scale_V_per_count)), *map(_f, f.scale_V_per_count)])
    raise TypeError(f"not a frame: {frame!r}")


def frame_from_text(line: str) -> Frame:
    """Parse a canonical text line (inverse of :func:`frame_to_text`); raise ValueError."""
    kind, *tok = line.split()
    if kind == "block":
        stream, seq, first, c, n = map(int, tok[:5])
        values = np.array(tok[5:], dtype=np.int64)
        if len(values) != n * c + n:
            raise ValueError(f"block line has {len(values)} values, expected {n * c + n}")
        return SampleBlock(seq, first, values[: n * c].astype(np.int16).reshape(n, c),
                           values[n * c :].astype(np.uint8), stream)
    if kind == "event":
        stream, count, idx, t, ua, us, rid = map(int, tok)
        return StimEvent(count, None if idx == NO_SAMPLE_INDEX else idx, t, ua, us, rid, stream)
    if kind == "command":
        return Command(int(tok[1]), int(tok[2]), _unhex(tok[3]), int(tok[0]))
    if kind == "response":
        stream, rid, op, nack, reason = map(int, tok[:5])
        return Response(rid, op, not nack, reason, _unhex(tok[5]).decode("ascii"), stream)
    if kind == "status":
        stream, t, state, why, *counters = map(int, tok)
        flags = {name: bool(state >> i & 1) for i, name in enumerate(STATUS_FLAGS)}
        return Status(t, **flags, last_disarm_reason=why,
                      **dict(zip(_STATUS_COUNTERS, counters, strict=True)), stream=stream)
    if kind == "identity":
        stream, kind_, proto, fw0, fw1, fw2, bits, n_ch, rate = map(int, tok[:9])
        gain, hp, lp = map(float, tok[9:12])
        max_ua, max_us, max_mhz = map(int, tok[12:15])
        model, serial = (_unhex(t).decode("ascii") for t in tok[15:17])
        n_scales = int(tok[17])
        scales = tuple(float(np.float32(x)) for x in tok[18:])
        if len(scales) != n_scales:
            raise ValueError(f"identity line has {len(scales)} scales, expected {n_scales}")
        return Identity(kind_, model, serial, (fw0, fw1, fw2), proto, n_ch, rate, bits,
                        float(np.float32(gain)), float(np.float32(hp)), float(np.float32(lp)),
                        scales, max_ua, max_us, max_mhz, stream)
    raise ValueError(f"unknown frame kind {kind!r}")
