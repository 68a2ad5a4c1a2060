"""Emulated stimulator controller: ``firmware_io/stim_device.c`` in Python.

The safety rules are :class:`~hreflex.protocol.StimSafety` (the mirror of ``stim_safety.c``) on
the device's own drifting µs clock: limits (INTENSITY_LIMIT, PULSE_WIDTH_LIMIT), arming
(NO_STIMULUS, NOT_ARMED), rate (RATE_LIMIT) and the heartbeat watchdog, evaluated every loop
turn and before every command; when it disarms the device a STATUS frame is sent. Every
delivered pulse is handed to ``on_pulse(true_time_s, event)`` (the bench), which returns the
amplifier sample it lands on, and reported as a STIM_EVENT with the device time and, only
with ``latch_sample_index`` (a stimulator that counts the amplifier's sample clock), that
sample; by default none (this device has no ADC clock).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hreflex.protocol import (
    Command,
    DeviceKind,
    Identity,
    Opcode,
    Reason,
    Status,
    StimEvent,
    StimLimits,
    StimSafety,
)
from hreflex.sim.emulators.device import EmulatedDevice

__all__ = ["DEFAULT_LIMITS", "EmulatedStimulator"]

#: a constant-current stimulator such as a Digitimer DS7A: 100 mA, 2 ms pulses, here ≤ 20 Hz
DEFAULT_LIMITS = StimLimits(max_intensity_uA=100_000, max_pulse_width_us=2000,
                            max_rate_mHz=20_000)


class EmulatedStimulator(EmulatedDevice):
    """The stimulator at ``path`` with firmware ``limits``. Other options: see
    :class:`EmulatedDevice`."""

    KIND = DeviceKind.STIMULATOR
    SUPPORTED = frozenset({Opcode.IDENTIFY, Opcode.CONFIGURE_STIMULATOR, Opcode.SET_STIMULUS,
                           Opcode.ARM, Opcode.FIRE, Opcode.DISARM, Opcode.HEARTBEAT,
                           Opcode.GET_STATUS})

    def __init__(self, path: str | Path, *, limits: StimLimits = DEFAULT_LIMITS,
                 on_pulse: Callable[[float, StimEvent], int | None] | None = None,
                 latch_sample_index: bool = False, **device_options: Any) -> None:
        super().__init__(path, **device_options)
        self.limits, self.on_pulse = limits, on_pulse
        self.latch_sample_index = latch_sample_index
        self._boot(self.clock.boot_s)

    def _boot(self, now: float) -> None:
        super()._boot(now)
        self.safety = StimSafety(self.limits, 0)  # disarmed, no stimulus, pulse counter 0

    def _us(self, now: float) -> int:
        return self.clock.time_us(now)

    def _step(self, now: float) -> None:
        if self.safety.tick(self._us(now)):
            self._emit(self.status(now), now)

    def identity(self) -> Identity:
        lim = self.limits
        return Identity(DeviceKind.STIMULATOR, "hrx-emu-stim", f"ES{self.seed % 10**6:06d}",
                        (1, 0, 0), max_intensity_uA=lim.max_intensity_uA,
                        max_pulse_width_us=lim.max_pulse_width_us, max_rate_mHz=lim.max_rate_mHz)

    def status(self, now: float) -> Status:
        s = self.safety
        return Status(self._us(now), armed=s.armed, watchdog_tripped=s.watchdog_tripped,
                      stimulus_set=s.stimulus_set, last_disarm_reason=s.last_disarm_reason,
                      pulses_delivered=s.pulses, frames_received=self.frames_received,
                      rx_errors=self._decoder.stats.errors, watchdog_trips=s.watchdog_trips,
                      heartbeat_timeout_ms=s.heartbeat_timeout_ms)

    def _on_configure_stimulator(self, now: float, cmd: Command,
                                 heartbeat_timeout_ms: int) -> Reason:
        return self.safety.configure(heartbeat_timeout_ms)

    def _on_set_stimulus(self, now: float, cmd: Command, intensity_uA: int,
                         pulse_width_us: int) -> Reason:
        return self.safety.set_stimulus(intensity_uA, pulse_width_us)

    def _on_arm(self, now: float, cmd: Command) -> Reason:
        return self.safety.arm(self._us(now))

    def _on_disarm(self, now: float, cmd: Command) -> Reason:
        self.safety.disarm()
        return Reason.OK

    def _on_heartbeat(self, now: float, cmd: Command) -> Reason:
        self.safety.heartbeat(self._us(now))
        return Reason.OK

    def _on_fire(self, now: float, cmd: Command) -> Reason:
        t_us = self._us(now)
        why = self.safety.fire(t_us)
        if why != Reason.OK:
            return why
        s = self.safety
        event = StimEvent(s.pulses, None, t_us, s.intensity_uA, s.pulse_width_us, cmd.request_id)
        index = self.on_pulse(now, event) if self.on_pulse is not None else None
        if self.latch_sample_index and index is not None:
            event = dataclasses.replace(event, sample_index=index)
        self._emit(event, now)
        return Reason.OK
