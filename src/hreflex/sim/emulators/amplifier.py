"""Emulated EMG amplifier/ADC streamer: the firmware of ``amplifier_streamer.ino`` in Python.

Commands: IDENTIFY, CONFIGURE_AMPLIFIER, START, STOP, HEARTBEAT, GET_STATUS (others: NACK
NOT_SUPPORTED). While streaming, sample ``k`` is taken at device time ``k / rate`` after START
on the device's own (drifting) clock; a block is sent once its last sample is taken.

Signals (``signal=``):

- ``"emg"``: :class:`~hreflex.sim.EmgSynth` of the preset (seed ``seed``), in ADC counts of
  ``scale_V_per_count`` = preset ADC range / 32768 (input-referred volts per count);
- ``"test"``: a known pattern, a function of the sample index ``k`` and channel ``c`` only:
  ``int16(uint16((k * (c + 1) + 1000 * c) mod 65536))``.

Digital input bit 0 is the stimulus trigger copy: high from the sample index of a pulse (see
:meth:`EmulatedAmplifier.trigger`) for the pulse duration, at least one sample; with
``trigger_line = False`` (a dead or unplugged trigger cable) it stays 0.
When more than ``buffer_bytes`` wait for the host, new blocks are dropped by the device as the
firmware does (``first_sample`` jumps, ``seq`` stays continuous, STATUS ``dropped_samples``).
A real device buffers ~0.1 s; the default (8 MiB, ~12 s at 16 channels × 20 kHz) is larger
because faster than real time a host hiccup of 0.1 s wall is ``speed`` × longer in device time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hreflex.errors import ConfigError
from hreflex.protocol import (
    Command,
    DeviceKind,
    FrameType,
    Identity,
    Opcode,
    Reason,
    SampleBlock,
    Status,
)
from hreflex.protocol.limits import amplifier_config_problem
from hreflex.sim.emulators.device import EmulatedDevice
from hreflex.sim.params import Preset
from hreflex.sim.presets import get_preset
from hreflex.sim.synth import EmgSynth

__all__ = ["AmplifierConfig", "EmulatedAmplifier", "known_pattern"]

#: most device time generated in one loop turn (keeps the bench lock short after a hiccup)
MAX_CATCH_UP_S = 0.1


@dataclass(frozen=True)
class AmplifierConfig:
    sample_rate_Hz: int
    samples_per_block: int
    n_channels: int

    def valid(self) -> bool:
        """The protocol's CONFIGURE_AMPLIFIER ranges (``hreflex.protocol.limits``)."""
        return amplifier_config_problem(self.sample_rate_Hz, self.samples_per_block,
                                        self.n_channels) is None


def known_pattern(first_sample: int, n_samples: int, n_channels: int) -> np.ndarray:
    """The ``"test"`` signal: (n_samples, n_channels) int16 counts from ``first_sample`` on."""
    k = np.arange(first_sample, first_sample + n_samples, dtype=np.int64)[:, None]
    c = np.arange(n_channels, dtype=np.int64)
    return ((k * (c + 1) + 1000 * c) & 0xFFFF).astype(np.uint16).view(np.int16)


class EmulatedAmplifier(EmulatedDevice):
    """The amplifier at ``path``. ``preset`` (name or :class:`Preset`) sets the physiology,
    the ADC range and the defaults for ``sample_rate_Hz`` and ``n_channels`` (the power-on
    configuration; blocks of 1 ms). Other options: see :class:`EmulatedDevice`."""

    KIND = DeviceKind.AMPLIFIER
    SUPPORTED = frozenset({Opcode.IDENTIFY, Opcode.CONFIGURE_AMPLIFIER, Opcode.START,
                           Opcode.STOP, Opcode.HEARTBEAT, Opcode.GET_STATUS})
    DATA_FRAME = FrameType.SAMPLE_BLOCK

    def __init__(self, path: str | Path, *, preset: str | Preset = "soleus_healthy",
                 n_channels: int | None = None, sample_rate_Hz: int | None = None,
                 signal: str = "emg", noise: bool = True, contraction_probability: float = 0.0,
                 buffer_bytes: int = 1 << 23, trigger_line: bool = True,
                 **device_options: Any) -> None:
        super().__init__(path, **device_options)
        #: False: the trigger input is dead (bit 0 stays 0; the EMG still responds)
        self.trigger_line = trigger_line
        self.preset = get_preset(preset) if isinstance(preset, str) else preset
        rate = int(sample_rate_Hz or self.preset.sample_rate_Hz)
        n_ch = int(n_channels or len(self.preset.channels))
        self.power_on_config = AmplifierConfig(rate, max(1, rate // 1000), n_ch)
        why = amplifier_config_problem(rate, max(1, rate // 1000), n_ch)
        if why is not None:
            raise ConfigError(f"emulated amplifier: {n_ch} channels at {rate} Hz is not "
                              f"possible: {why}")
        if signal not in ("emg", "test"):
            raise ConfigError(f"emulated amplifier: signal must be 'emg' or 'test', got {signal!r}")
        self.signal, self.noise = signal, noise
        self.contraction_probability = contraction_probability
        self.buffer_bytes = buffer_bytes
        self.scale_V_per_count = self.preset.adc_range_mV * 1e-3 / 32768
        #: number of sample-clock runs so far (+1 at every START and reset)
        self.epoch = 0
        self._synth: EmgSynth | None = None
        self._synth_shape = (0, 0)
        self._boot(self.clock.boot_s)

    # -- state ------------------------------------------------------------------------------

    def _boot(self, now: float) -> None:
        super()._boot(now)
        self.config = self.power_on_config
        self.streaming = False
        self.blocks_sent = self.dropped_samples = 0
        self._seq = self._produced = 0
        self._start_dev_s = 0.0
        self._synth_offset = 0
        self._pulses: list[tuple[int, int]] = []  # trigger-high sample ranges [a, b)

    def _reset(self, now: float) -> None:
        streaming, config = self.streaming, self.config
        self._boot(now)
        self.config = config
        if streaming:
            self._start_stream(now)

    def _start_stream(self, now: float) -> None:
        cfg = self.config
        shape = (cfg.sample_rate_Hz, cfg.n_channels)
        if self.signal == "emg" and (self._synth is None or self._synth_shape != shape):
            self._synth, self._synth_shape = EmgSynth(
                self.preset, *shape, seed=self.seed, noise=self.noise,
                contraction_probability=self.contraction_probability), shape
        self.epoch += 1
        self.streaming = True
        self._seq = self._produced = 0
        self._start_dev_s = self.clock.time_s(now)
        self._synth_offset = self._synth.clock if self._synth is not None else 0
        self._pulses = []

    @property
    def synth(self) -> EmgSynth | None:
        """The synthesiser behind the ``"emg"`` signal (its sample ``k + offset`` is device
        sample ``k`` of the current epoch)."""
        return self._synth

    def trigger(self, true_s: float, intensity_uA: int, pulse_width_us: int) -> int | None:
        """A pulse reaches the subject at true time ``true_s``: return its sample index on
        this amplifier's clock (None when not streaming) and make it happen in the signal.

        The index is the first sample taken at or after the pulse on the device clock,
        ``ceil((device_time(true_s) - device_time(START)) * rate)``; the trigger bit is high
        for the samples taken during the pulse (at least one). Call with the lock held.
        """
        if not self.streaming:
            return None
        rate = self.config.sample_rate_Hz
        t = self.clock.time_s(true_s) - self._start_dev_s
        first = max(self._produced, math.ceil(t * rate))  # never in the past (lock order)
        end = max(first + 1, math.ceil((t + pulse_width_us * 1e-6) * rate))
        if self.trigger_line:
            self._pulses.append((first, end))
        if self._synth is not None:
            self._synth.stimulate(first + self._synth_offset, intensity_uA / 1000.0,
                                  pulse_width_us)
        return first

    # -- streaming --------------------------------------------------------------------------

    def _step(self, now: float) -> None:
        if not self.streaming:
            return
        rate, spb = self.config.sample_rate_Hz, self.config.samples_per_block
        due = math.floor((self.clock.time_s(now) - self._start_dev_s) * rate)
        due = min(due, self._produced + int(MAX_CATCH_UP_S * rate))
        n_blocks = (due - self._produced) // spb
        if n_blocks <= 0:
            return
        start, n = self._produced, n_blocks * spb
        samples, digital = self._samples(start, n), self._digital(start, n)
        wires, room = [], self.buffer_bytes - self.link.backlog_bytes
        for a in range(0, n, spb):
            if room < 0:  # output buffer full: the firmware drops these samples
                self.dropped_samples += spb
                continue
            wires.append(self._wire(SampleBlock(self._seq, start + a, samples[a : a + spb],
                                                digital[a : a + spb]), now))
            room -= len(wires[-1])
            self._seq = (self._seq + 1) & 0xFFFF_FFFF
            self.blocks_sent += 1
        self.link.send(b"".join(wires), now)  # one USB transfer's worth
        self._produced += n

    def _samples(self, start: int, n: int) -> np.ndarray:
        if self._synth is None:
            return known_pattern(start, n, self.config.n_channels)
        volts = self._synth.generate(n)
        return np.clip(np.round(volts / self.scale_V_per_count), -32768, 32767).astype(np.int16)

    def _digital(self, start: int, n: int) -> np.ndarray:
        d = np.zeros(n, np.uint8)
        for a, b in self._pulses:
            lo, hi = max(a, start), min(b, start + n)
            if lo < hi:
                d[lo - start : hi - start] = 1
        self._pulses = [(a, b) for a, b in self._pulses if b > start + n]
        return d

    # -- protocol ---------------------------------------------------------------------------

    def identity(self) -> Identity:
        lo, hi = self.preset.emg_band_Hz
        return Identity(DeviceKind.AMPLIFIER, "hrx-emu-amp16", f"EA{self.seed % 10**6:06d}",
                        (1, 0, 0), n_channels=self.config.n_channels,
                        sample_rate_Hz=self.config.sample_rate_Hz, adc_bits=16, gain=1000.0,
                        highpass_Hz=lo, lowpass_Hz=hi, scale_V_per_count=(self.scale_V_per_count,))

    def status(self, now: float) -> Status:
        return Status(self.clock.time_us(now), streaming=self.streaming,
                      blocks_sent=self.blocks_sent, frames_received=self.frames_received,
                      rx_errors=self._decoder.stats.errors, dropped_samples=self.dropped_samples)

    def _on_configure_amplifier(self, now: float, cmd: Command, sample_rate_Hz: int,
                                samples_per_block: int, n_channels: int) -> Reason:
        if self.streaming:
            return Reason.BUSY
        config = AmplifierConfig(sample_rate_Hz, samples_per_block, n_channels)
        if not config.valid():
            return Reason.BAD_CONFIG
        self.config = config
        return Reason.OK

    def _on_start(self, now: float, cmd: Command) -> Reason:
        if self.streaming:
            return Reason.BUSY
        self._start_stream(now)
        return Reason.OK

    def _on_stop(self, now: float, cmd: Command) -> Reason:
        self.streaming = False
        return Reason.OK
