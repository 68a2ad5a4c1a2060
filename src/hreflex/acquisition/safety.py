"""Host-side stimulus safety: effective limits and the guard every stimulator command passes.

The limit rule itself is one function, :func:`hreflex.protocol.safety.check_stimulus` (the
mirror of the firmware's checks, in wire units: µA, µs, mHz). This module adds what only the
host knows:

- :func:`wire_limits`: configured limits (decimal mA, µs, Hz as written in the config) to
  :class:`~hreflex.protocol.safety.StimLimits`, rounded *down* to the wire's integers, so a
  limit is never loosened by rounding;
- :func:`effective_limits`: configured limits checked against the ones the stimulator reports
  at connect time; a configured limit above the device's is refused (:class:`SafetyError`)
  before any stimulus;
- :class:`StimulusGuard`: the only object that sends stimulator commands. ``set_stimulus``
  and ``fire`` are checked (intensity, pulse width, rate, stimulus count) *before* anything
  is sent; a refused command raises :class:`SafetyError` and nothing goes out.

The rate holds at the device by construction, whatever the transport delays: a FIRE goes no
sooner than :func:`~hreflex.protocol.safety.host_fire_spacing_s` after the previous FIRE was
*answered* (its ACK or NACK arrived, or the host gave up on it), not after it was sent. The
device processed the previous FIRE before it answered and sees the next one only after it
was sent, so a late delivery of the previous FIRE cannot bring two FIREs closer at the device
than at the host (``firmware_io/PROTOCOL.md`` §5.3).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hreflex.errors import SafetyError
from hreflex.protocol.frames import Opcode, Reason, mA_to_uA, whole_us
from hreflex.protocol.safety import StimLimits, check_stimulus, host_fire_spacing_s

#: what a refusal reason means, for messages
_REASON_TEXT = {
    Reason.INTENSITY_LIMIT: "intensity",
    Reason.PULSE_WIDTH_LIMIT: "pulse width",
    Reason.RATE_LIMIT: "rate",
}


def _floor_units(value: float, per_unit: int) -> int:
    """``value`` (as written, i.e. its shortest decimal repr) × ``per_unit``, rounded down."""
    if not math.isfinite(value) or value < 0:
        raise SafetyError(f"limit must be a finite value >= 0, got {value!r}")
    scaled = Decimal(repr(float(value))) * per_unit
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR))


def wire_limits(max_intensity_mA: float, max_pulse_width_us: float, max_rate_Hz: float) -> StimLimits:
    """Limits in physical units -> :class:`StimLimits` in µA, µs, mHz, each rounded down."""
    return StimLimits(
        _floor_units(max_intensity_mA, 1000),
        _floor_units(max_pulse_width_us, 1),
        _floor_units(max_rate_Hz, 1000),
    )


def effective_limits(configured: StimLimits, device: StimLimits) -> StimLimits:
    """The limits to enforce: ``configured``, provided none is above the ``device``'s.

    Raises :class:`SafetyError` naming the ``[limits]`` key when a configured limit exceeds
    what the stimulator reports (the config must be lowered; nothing is sent). The result is
    the field-wise minimum, i.e. ``configured``.
    """
    checks = (
        ("max_intensity_mA", configured.max_intensity_uA, device.max_intensity_uA, 1000, "mA"),
        ("max_pulse_width_us", configured.max_pulse_width_us, device.max_pulse_width_us, 1, "µs"),
        ("max_rate_Hz", configured.max_rate_mHz, device.max_rate_mHz, 1000, "Hz"),
    )
    for key, mine, theirs, per_unit, unit in checks:
        if mine > theirs:
            raise SafetyError(
                f"[limits] {key} = {mine / per_unit:g} {unit} is above the stimulator's own "
                f"limit of {theirs / per_unit:g} {unit}; lower it in the config (nothing was sent)"
            )
    return StimLimits(
        min(configured.max_intensity_uA, device.max_intensity_uA),
        min(configured.max_pulse_width_us, device.max_pulse_width_us),
        min(configured.max_rate_mHz, device.max_rate_mHz),
    )


def refusal(
    limits: StimLimits, intensity_mA: float, pulse_width_us: float, since_last_s: float | None
) -> str | None:
    """One-line reason why ``check_stimulus`` refuses this stimulus, or None if it is allowed."""
    why = check_stimulus(limits, intensity_mA, pulse_width_us, since_last_s)
    if why is None:
        return None
    if why == Reason.RATE_LIMIT:
        return (
            f"{since_last_s:.6g} s after the previous stimulus exceeds the rate limit of "
            f"{limits.max_rate_mHz / 1000:g} Hz"
        )
    if why == Reason.PULSE_WIDTH_LIMIT:
        return (
            f"pulse width {pulse_width_us:g} µs is outside 0 < width <= "
            f"{limits.max_pulse_width_us} µs"
        )
    return f"intensity {intensity_mA:g} mA is outside 0..{limits.max_intensity_uA / 1000:g} mA"


class StimulusGuard:
    """Sends stimulator commands through ``send`` only when they are within ``limits``.

    ``send(opcode, **fields)`` is the driver's raw command function (it builds the frame,
    e.g. ``Command.make(request_id, opcode, **fields)``, writes it and returns whatever the
    driver returns, e.g. the device's response); it must be thread-safe, since ``disarm``
    may be sent from another thread while a command is in flight. The guard keeps the stimulus last sent and the
    time the last FIRE was answered (``clock``: seconds, monotonic). Every ``set_stimulus``
    and ``fire`` is checked with :func:`check_stimulus`; ``fire`` also needs a stimulus set,
    fewer than ``max_stimuli`` pulses so far and ``clock() >= earliest_fire_s``. A refusal
    raises :class:`SafetyError` and sends nothing. A FIRE counts as delivered from the moment
    it is sent (also if ``send`` raises or the device refuses it), and the rate is counted
    from the moment ``send`` returned or raised (the answer, or the host gave up). A caller
    that later gets any answer from the device (e.g. GET_STATUS after a FIRE without answer)
    calls :meth:`answered` so that the rate counts from then. ``disarm`` is always sent and
    never waits for another command to finish.
    """

    _GUARDED = (Opcode.SET_STIMULUS, Opcode.FIRE)

    def __init__(
        self,
        send: Callable[..., Any],
        limits: StimLimits,
        *,
        max_stimuli: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.limits = limits
        self.max_stimuli = max_stimuli
        self._clock = clock
        self._lock = threading.Lock()
        self._stimulus: tuple[float, float] | None = None  # (intensity_mA, pulse_width_us)
        self._last_fire_s: float | None = None
        self.n_fired = 0

    @property
    def stimulus(self) -> tuple[float, float] | None:
        """``(intensity_mA, pulse_width_us)`` last sent, None before the first (or after a
        failed send, when the device state is unknown)."""
        return self._stimulus

    @property
    def earliest_fire_s(self) -> float:
        """Clock time from which a FIRE respects the rate limit at the device (``-inf`` before
        the first): the previous FIRE's answer + :func:`host_fire_spacing_s`."""
        if self._last_fire_s is None:
            return -math.inf
        return self._last_fire_s + host_fire_spacing_s(self.limits)

    def answered(self) -> None:
        """The device answered a command sent after the last FIRE: that FIRE was processed
        (or lost) before now, so the rate counts from now (never earlier than before)."""
        with self._lock:
            if self._last_fire_s is not None:
                self._last_fire_s = max(self._last_fire_s, self._clock())

    def set_stimulus(self, intensity_mA: float, pulse_width_us: float) -> Any:
        """Check, then send SET_STIMULUS (intensity truncated to µA, width to µs)."""
        with self._lock:
            why = refusal(self.limits, intensity_mA, pulse_width_us, None)
            if why is not None:
                raise SafetyError(f"stimulus refused: {why} (nothing was sent)")
            self._stimulus = None  # unknown until the send returns
            result = self._send(
                Opcode.SET_STIMULUS,
                intensity_uA=mA_to_uA(intensity_mA),
                pulse_width_us=whole_us(pulse_width_us),
            )
            self._stimulus = (float(intensity_mA), float(pulse_width_us))
            return result

    def fire(self) -> Any:
        """Check (stimulus set and within limits, rate, count), then send FIRE."""
        with self._lock:
            if self._stimulus is None:
                raise SafetyError("fire refused: no stimulus set (nothing was sent)")
            if self.max_stimuli is not None and self.n_fired >= self.max_stimuli:
                raise SafetyError(
                    f"fire refused: [limits] max_stimuli = {self.max_stimuli} already delivered "
                    "(nothing was sent)"
                )
            why = refusal(self.limits, *self._stimulus, None)
            if why is not None:
                raise SafetyError(f"fire refused: {why} (nothing was sent)")
            now = self._clock()
            if now < self.earliest_fire_s:
                raise SafetyError(
                    f"fire refused: {now - self._last_fire_s:.6g} s after the previous FIRE was "
                    f"answered exceeds the rate limit of {self.limits.max_rate_mHz / 1000:g} Hz "
                    f"(the next may go {self.earliest_fire_s - now:.6g} s from now; nothing "
                    "was sent)")
            self._last_fire_s = now
            self.n_fired += 1
            try:
                return self._send(Opcode.FIRE)
            finally:  # answered, refused or given up: the device is done with it by now
                self._last_fire_s = max(now, self._clock())

    def arm(self) -> Any:
        """Send ARM (the device refuses it without a stimulus set)."""
        with self._lock:
            return self._send(Opcode.ARM)

    def disarm(self) -> Any:
        """Send DISARM at once (no lock: it must get through on every exit path)."""
        return self._send(Opcode.DISARM)

    def send(self, opcode: int, **fields: int) -> Any:
        """Any other command (identify, configure, heartbeat, status, start/stop streaming).
        SET_STIMULUS and FIRE must go through :meth:`set_stimulus` and :meth:`fire`."""
        if opcode in self._GUARDED:
            raise SafetyError(
                f"{Opcode(opcode).name} must go through StimulusGuard.set_stimulus/fire"
            )
        with self._lock:
            return self._send(opcode, **fields)
