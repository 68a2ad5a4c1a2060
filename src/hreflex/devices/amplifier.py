"""Host driver of the EMG amplifier/ADC streamer (``firmware_io/PROTOCOL.md``).

    with AmplifierClient("/dev/ttyACM0", on_bytes=journal_hook) as amp:   # opens, IDENTIFY
        amp.identity                         # model, rate, channels, V/count...
        amp.configure(sample_rate_Hz=20000, n_channels=16)
        amp.start()
        while running:
            item = amp.get(timeout_s=0.1)    # Received | LinkEvent | None
    # on exit: STOP (if streaming), then the port is closed

Samples arrive as :class:`Received` records, one per read of the port (every ~20 ms), in
arrival order; every sample keeps the index the device's sample clock gave it. Gaps (lost
blocks, device resets, device-side drops) are :class:`~hreflex.protocol.Gap` records with
the exact missing sample range; rejected frames are counted in ``Received.errors``;
disconnects, reconnects and stalls are :class:`~hreflex.devices.link.LinkEvent` records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hreflex.devices.link import DeviceLink, LinkEvent, OnBytes
from hreflex.devices.timebase import Timebase
from hreflex.devices.transport import PortTarget
from hreflex.errors import DeviceError
from hreflex.protocol import (
    Decoded,
    DecoderStats,
    DeviceKind,
    Frame,
    Gap,
    Identity,
    Opcode,
    SampleBlocks,
    Status,
)

__all__ = ["AmplifierClient", "Received"]


@dataclass(frozen=True)
class Received:
    """What one read of the amplifier's port brought: sample batches (``SampleBlocks``, rows
    with their device sample indices), gap records, other frames (STATUS...) and the decoder
    error counters that grew (e.g. ``{"crc": 1}``). ``host_time_s``: experiment time of the
    read (the bytes arrived during the preceding ``read_interval_s``)."""

    host_time_s: float
    samples: list[SampleBlocks]
    gaps: list[Gap]
    frames: list[Frame]
    errors: dict[str, int]

    @property
    def n_samples(self) -> int:
        return sum(len(s.digital) for s in self.samples)


class AmplifierClient:
    """The amplifier on ``target`` (a path, pyserial URL or :class:`UsbMatch`).

    ``on_bytes(name, host_time_s, data)`` receives every raw chunk (for the journal; it must
    not block). ``stall_timeout_s`` (wall clock) is the silence reported as a ``stall`` while
    streaming. Other keyword options go to :class:`~hreflex.devices.link.DeviceLink`
    (``timeout_s``, ``retries``, ``reconnect_timeout_s``, ``read_interval_s``...).
    Methods may be called from any thread. As a context manager it is opened (unless
    :meth:`open` was called already) and closed.
    """

    def __init__(self, target: PortTarget, *, name: str = "amplifier",
                 timebase: Timebase | None = None, on_bytes: OnBytes | None = None,
                 stall_timeout_s: float = 0.25, **link_options: Any) -> None:
        self.link = DeviceLink(target, self._route, name=name, timebase=timebase,
                               on_bytes=on_bytes, stall_timeout_s=stall_timeout_s,
                               **link_options)
        self.name = name
        self.identity: Identity | None = None
        self.streaming = False
        self._first_block = False  # the next block is the first after START

    def _route(self, host_time_s: float, decoded: Decoded, frames: list[Frame],
               errors: dict[str, int]) -> Iterator[Received]:
        gaps = decoded.gaps
        if self._first_block and decoded.samples:
            # after START the device counts from seq 0 and sample 0: a later first block
            # means the first blocks were lost (the decoder cannot know what to expect)
            self._first_block = False
            b = decoded.samples[0]
            seq, first = int(b.seq[0]), int(b.first_sample[0])
            if seq or first:
                gaps = [Gap(b.stream, "gap", 0, seq, 0, first or None, seq), *gaps]
        if decoded.samples or gaps or frames or errors:
            yield Received(host_time_s, decoded.samples, gaps, frames, errors)

    def open(self) -> Identity:
        """Open the port, start reading and identify the device."""
        self.link.open()
        try:
            return self.identify()
        except BaseException:
            self.link.close()
            raise

    def identify(self) -> Identity:
        """IDENTIFY: model, serial, firmware, protocol version, channels, rate, ADC bits,
        gain, filter corners and volts per count (also kept in :attr:`identity`)."""
        self.identity = self.link.identify(DeviceKind.AMPLIFIER)
        return self.identity

    def configure(self, sample_rate_Hz: int, n_channels: int,
                  samples_per_block: int | None = None) -> Identity:
        """Set rate (Hz), channel count and block length (default: 1 ms of samples); returns
        the new identity. The device refuses (NACK) while streaming or out of range."""
        if samples_per_block is None:
            samples_per_block = max(1, int(sample_rate_Hz) // 1000)
        self.link.request(Opcode.CONFIGURE_AMPLIFIER, sample_rate_Hz=int(sample_rate_Hz),
                          samples_per_block=int(samples_per_block), n_channels=int(n_channels))
        return self.identify()

    def start(self) -> None:
        """START streaming: the device restarts its block sequence and sample clock at 0 (the
        host forgets the old sequence first, so this is not reported as a reset). Not
        retried: a lost answer raises :class:`DeviceError`."""
        self.link.reset_sequence()
        self._first_block = True
        self.link.request(Opcode.START, retries=0)
        self.streaming = True
        self.link.watch_stall(True)

    def stop(self) -> None:
        """STOP streaming (blocks already sent still arrive before the answer)."""
        self.link.watch_stall(False)
        self.streaming = False
        self.link.request(Opcode.STOP)

    def status(self) -> Status:
        """GET_STATUS: device time, blocks sent, receive errors, dropped samples..."""
        return self.link.status()

    def get(self, timeout_s: float | None = None) -> Received | LinkEvent | None:
        """The next :class:`Received` or :class:`LinkEvent`, or None after ``timeout_s``."""
        return self.link.get(timeout_s)

    @property
    def stats(self) -> DecoderStats:
        """Decoder counters so far (frames, crc, cobs, gaps, resets...)."""
        return self.link.stats

    def close(self) -> None:
        """STOP if streaming (best effort), then close the port."""
        try:
            if self.streaming and self.link.connected:
                self.stop()
        except DeviceError:
            pass
        finally:
            self.link.close()

    def __enter__(self) -> AmplifierClient:
        if self.identity is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
