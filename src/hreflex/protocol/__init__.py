"""The hreflex wire protocol: frames, COBS/CRC codec, streaming host decoder, stimulator rules.

The normative byte-by-byte description is ``firmware_io/PROTOCOL.md``.
"""

from hreflex.protocol.cobs import CobsError, cobs_decode, cobs_encode
from hreflex.protocol.decoder import Decoded, DecoderStats, Gap, SampleBlocks, StreamDecoder
from hreflex.protocol.frames import (
    COMMAND_ARGS,
    CRC_RESIDUE,
    MAX_FRAME_LEN,
    MAX_TEXT_LEN,
    MAX_WIRE_LEN,
    NO_SAMPLE_INDEX,
    PROTOCOL_VERSION,
    Command,
    DeviceKind,
    Frame,
    FrameError,
    FrameType,
    Identity,
    Opcode,
    Reason,
    Response,
    SampleBlock,
    Status,
    StimEvent,
    decode_frame,
    decode_wire,
    encode_frame,
    encode_wire,
    mA_to_uA,
    whole_us,
)
from hreflex.protocol.safety import (
    HEARTBEAT_DEFAULT_MS,
    StimLimits,
    StimSafety,
    check_fire,
    check_rate,
    check_stimulus,
    host_fire_spacing_s,
)
from hreflex.protocol.text import frame_from_text, frame_to_text

__all__ = [
    "COMMAND_ARGS", "CRC_RESIDUE", "HEARTBEAT_DEFAULT_MS", "MAX_FRAME_LEN", "MAX_TEXT_LEN", "MAX_WIRE_LEN",
    "NO_SAMPLE_INDEX", "PROTOCOL_VERSION",
    "CobsError", "Command", "Decoded", "DecoderStats", "DeviceKind", "Frame", "FrameError",
    "FrameType", "Gap", "Identity", "Opcode", "Reason", "Response", "SampleBlock",
    "SampleBlocks", "Status", "StimEvent", "StimLimits", "StimSafety", "StreamDecoder",
    "check_fire", "check_rate", "check_stimulus", "host_fire_spacing_s", "frame_from_text", "frame_to_text",
    "cobs_decode", "cobs_encode", "decode_frame", "decode_wire", "encode_frame", "encode_wire",
    "mA_to_uA",
    "whole_us",
]
