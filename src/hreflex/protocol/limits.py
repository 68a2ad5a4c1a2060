"""CONFIGURE_AMPLIFIER ranges of the wire protocol (``firmware_io/PROTOCOL.md`` §4.3): what
every amplifier accepts and what it refuses with NACK BAD_CONFIG. The host checks the same
ranges on its configuration before it sends anything; the emulator refuses exactly these."""

from __future__ import annotations

from hreflex.protocol.frames import BLOCK_HEAD_LEN, CRC_LEN, HEADER_LEN, MAX_FRAME_LEN

MIN_CHANNELS, MAX_CHANNELS = 1, 16
MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ = 1, 20_000


def block_frame_len(n_samples: int, n_channels: int) -> int:
    """Decoded length (bytes) of a SAMPLE_BLOCK frame: header, 16-byte head, samples, CRC."""
    return HEADER_LEN + BLOCK_HEAD_LEN + n_samples * (2 * n_channels + 1) + CRC_LEN


def max_samples_per_block(n_channels: int) -> int:
    """Most samples one block of ``n_channels`` can hold within :data:`MAX_FRAME_LEN`
    (e.g. 247 at 16 channels, 1633 at 2)."""
    return (MAX_FRAME_LEN - block_frame_len(0, n_channels)) // (2 * n_channels + 1)


def amplifier_config_problem(sample_rate_Hz: int, samples_per_block: int,
                             n_channels: int) -> str | None:
    """Why a device answers CONFIGURE_AMPLIFIER with BAD_CONFIG, or None if in range."""
    if not MIN_CHANNELS <= n_channels <= MAX_CHANNELS:
        return f"{n_channels} channels is outside {MIN_CHANNELS} … {MAX_CHANNELS}"
    if not MIN_SAMPLE_RATE_HZ <= sample_rate_Hz <= MAX_SAMPLE_RATE_HZ:
        return (f"sample rate {sample_rate_Hz} Hz is outside {MIN_SAMPLE_RATE_HZ} … "
                f"{MAX_SAMPLE_RATE_HZ} Hz")
    most = max_samples_per_block(n_channels)
    if not 1 <= samples_per_block <= most:
        return (f"{samples_per_block} samples per block is outside 1 … {most} (a block of "
                f"{n_channels} channels must fit a {MAX_FRAME_LEN}-byte frame)")
    return None
