"""Stimulator safety rules as data and pure functions; mirror of ``firmware_io/stim_safety.c``.

Device emulators and host drivers use these so that a simulated stimulator refuses exactly
what a real one refuses: set-stimulus outside the device limits, fire when not armed or
faster than the maximum rate, and a heartbeat watchdog that disarms after a silence of
``heartbeat_timeout_ms`` (default 1 s). Everything is integer arithmetic in wire units (µA,
µs, mHz, µs clock), like the C code; :func:`check_stimulus` accepts physical units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hreflex.protocol.frames import Identity, Reason, mA_to_uA, whole_us

__all__ = ["StimLimits", "StimSafety", "check_stimulus", "check_rate", "check_fire",
           "host_fire_spacing_s", "CLOCK_TOLERANCE_PPM",
           "HEARTBEAT_DEFAULT_MS", "HEARTBEAT_MIN_MS", "HEARTBEAT_MAX_MS"]

HEARTBEAT_DEFAULT_MS = 1000
HEARTBEAT_MIN_MS = 10
HEARTBEAT_MAX_MS = 60_000


@dataclass(frozen=True)
class StimLimits:
    """Device limits in wire units: intensity in µA, pulse width in µs, rate in mHz."""

    max_intensity_uA: int
    max_pulse_width_us: int
    max_rate_mHz: int

    @property
    def max_intensity_mA(self) -> float:
        return self.max_intensity_uA / 1000.0

    @property
    def max_rate_Hz(self) -> float:
        return self.max_rate_mHz / 1000.0

    @classmethod
    def from_identity(cls, identity: Identity) -> StimLimits:
        return cls(identity.max_intensity_uA, identity.max_pulse_width_us, identity.max_rate_mHz)


def _check_wire(limits: StimLimits, intensity_uA: int, pulse_width_us: int) -> Reason | None:
    if intensity_uA > limits.max_intensity_uA:
        return Reason.INTENSITY_LIMIT
    if not 0 < pulse_width_us <= limits.max_pulse_width_us:
        return Reason.PULSE_WIDTH_LIMIT
    return None


def check_rate(limits: StimLimits, since_last_us: int) -> Reason | None:
    """RATE_LIMIT when a pulse ``since_last_us`` after the previous one is too soon."""
    if limits.max_rate_mHz == 0:
        return Reason.RATE_LIMIT
    return None if since_last_us * limits.max_rate_mHz >= 1_000_000_000 else Reason.RATE_LIMIT


#: how far a device's clock may run slow against the host's (ppm) and still never see two
#: FIREs closer than 1 / max rate when the host spaces them by :func:`host_fire_spacing_s`
CLOCK_TOLERANCE_PPM = 1000


def host_fire_spacing_s(limits: StimLimits) -> float:
    """Host seconds from the *answer* (ACK or NACK, or giving up) to one FIRE until the next
    FIRE may be sent (``inf`` when ``max_rate_mHz`` is 0); ``firmware_io/PROTOCOL.md`` §5.3.

    The device processed the previous FIRE before it answered, and the next one reaches it
    after it was sent, so whatever the transport delays, the device sees at least this much
    host time between the two. ``1 / max rate`` is divided by ``1 - CLOCK_TOLERANCE_PPM``
    (a device clock up to 0.1 % slow still measures ≥ 1 / max rate) and 2 µs are added (both
    ends of the device's interval are whole µs, floored).
    """
    if limits.max_rate_mHz == 0:
        return math.inf
    return 1000.0 / limits.max_rate_mHz / (1.0 - CLOCK_TOLERANCE_PPM * 1e-6) + 2e-6


def check_stimulus(limits: StimLimits, intensity_mA: float, pulse_width_us: float,
                   since_last_s: float | None = None) -> Reason | None:
    """Why a stimulus would be refused, or None if the device would accept it.

    ``intensity_mA`` and ``pulse_width_us`` are converted to the wire's integers by truncation
    (as the host encoder does, so never rounded up); negative or non-finite values are refused.
    ``since_last_s`` (time since the previous pulse, None for the first) adds the rate check.
    """
    if not math.isfinite(intensity_mA) or intensity_mA < 0:
        return Reason.INTENSITY_LIMIT
    if not math.isfinite(pulse_width_us) or pulse_width_us < 0:
        return Reason.PULSE_WIDTH_LIMIT
    why = _check_wire(limits, mA_to_uA(intensity_mA), whole_us(pulse_width_us))
    if why is None and since_last_s is not None:
        why = check_rate(limits, whole_us(since_last_s * 1e6))
    return why


def check_fire(limits: StimLimits, armed: bool, since_last_s: float | None) -> Reason | None:
    """Why a FIRE would be refused (NOT_ARMED, RATE_LIMIT), or None."""
    if not armed:
        return Reason.NOT_ARMED
    if since_last_s is None:
        return None
    return check_rate(limits, whole_us(since_last_s * 1e6))


class StimSafety:
    """The stimulator's safety state machine (same transitions as ``stim_safety.c``).

    Methods take the device clock ``now_us`` (int µs) and return :class:`Reason` (``OK`` on
    success). Call :meth:`tick` before handling each command and periodically.
    """

    def __init__(self, limits: StimLimits, now_us: int = 0):
        self.limits = limits
        self.heartbeat_timeout_ms = HEARTBEAT_DEFAULT_MS
        self.intensity_uA = 0
        self.pulse_width_us = 0
        self.stimulus_set = False
        self.armed = False
        self.watchdog_tripped = False
        self.last_disarm_reason = Reason.OK
        self.last_pulse_us: int | None = None
        self.last_heartbeat_us = now_us
        self.pulses = 0
        self.watchdog_trips = 0

    def configure(self, heartbeat_timeout_ms: int) -> Reason:
        if not HEARTBEAT_MIN_MS <= heartbeat_timeout_ms <= HEARTBEAT_MAX_MS:
            return Reason.BAD_CONFIG
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        return Reason.OK

    def set_stimulus(self, intensity_uA: int, pulse_width_us: int) -> Reason:
        why = _check_wire(self.limits, intensity_uA, pulse_width_us)
        if why is not None:
            return why
        self.intensity_uA, self.pulse_width_us, self.stimulus_set = (intensity_uA,
                                                                     pulse_width_us, True)
        return Reason.OK

    def arm(self, now_us: int) -> Reason:
        """Arm (needs a stimulus set); counts as a heartbeat and clears ``watchdog_tripped``."""
        if not self.stimulus_set:
            return Reason.NO_STIMULUS
        self.armed, self.watchdog_tripped, self.last_heartbeat_us = True, False, now_us
        return Reason.OK

    def fire(self, now_us: int) -> Reason:
        """On OK the pulse is recorded and must be delivered now."""
        if not self.armed:
            return Reason.NOT_ARMED
        if self.last_pulse_us is not None and check_rate(self.limits,
                                                         now_us - self.last_pulse_us):
            return Reason.RATE_LIMIT
        self.last_pulse_us = now_us
        self.pulses += 1
        return Reason.OK

    def disarm(self, reason: Reason = Reason.HOST_DISARM) -> None:
        if self.armed:
            self.last_disarm_reason = reason
        self.armed = False

    def heartbeat(self, now_us: int) -> None:
        self.last_heartbeat_us = now_us

    def tick(self, now_us: int) -> bool:
        """Run the watchdog; True when it disarmed the device now."""
        if not self.armed or now_us - self.last_heartbeat_us < self.heartbeat_timeout_ms * 1000:
            return False
        self.disarm(Reason.WATCHDOG)
        self.watchdog_tripped = True
        self.watchdog_trips += 1
        return True
