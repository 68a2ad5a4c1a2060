"""Host driver of the stimulator controller (``firmware_io/PROTOCOL.md`` sections 4.3, 5).

    limits = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=5000)
    with StimulatorClient("/dev/ttyACM1", limits) as stim:   # IDENTIFY, heartbeats start
        stim.set_stimulus(intensity_mA=12.5, pulse_width_us=1000)
        stim.arm()
        event = stim.fire()                 # the STIM_EVENT of the delivered pulse
    # on exit (normal or exception): DISARM, then heartbeats stop, then the port closes

Safety: every stimulus command passes one guard before anything is sent. The driver holds
effective limits (the caller's, lowered to the device's where those are lower) and refuses
with :class:`SafetyError` what :func:`~hreflex.protocol.check_stimulus` (intensity, pulse
width) refuses, and a FIRE sooner than :func:`~hreflex.protocol.host_fire_spacing_s` after
the previous FIRE was answered (experiment clock; from the answer, not the send, so that a
delayed delivery of the previous FIRE cannot bring two closer at the device: PROTOCOL.md
§5.3). FIRE is never retried: a lost answer may mean a delivered pulse.
A heartbeat thread keeps the device's watchdog fed (every timeout / 5: :func:`heartbeat_loop`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from hreflex.devices.link import DeviceLink, LinkEvent, OnBytes
from hreflex.devices.timebase import Timebase
from hreflex.devices.transport import PortTarget
from hreflex.errors import DeviceError, SafetyError
from hreflex.protocol import (
    HEARTBEAT_DEFAULT_MS,
    Decoded,
    DeviceKind,
    Frame,
    Identity,
    Opcode,
    Status,
    StimEvent,
    StimLimits,
    check_stimulus,
    host_fire_spacing_s,
    mA_to_uA,
    whole_us,
)

__all__ = ["HEARTBEAT_DIVISOR", "StimulatorClient", "heartbeat_loop"]

#: heartbeats go every heartbeat timeout / this (the protocol asks for at most timeout / 3)
HEARTBEAT_DIVISOR = 5


def heartbeat_loop(send: Callable[[], object], period_s: float, stop: threading.Event, *,
                   clock: Callable[[], float] = time.monotonic,
                   on_missed: Callable[[], None] = lambda: None) -> None:
    """Call ``send()`` every ``period_s`` (``clock`` seconds) until ``stop`` is set; a
    :class:`DeviceError` from ``send`` calls ``on_missed`` (never retried). Beat n goes at
    t0 + n·period; a beat that could not go on time (the thread was held up) goes at once,
    and the cadence continues from it (no catch-up burst)."""
    due = clock()
    while True:
        try:
            send()
        except DeviceError:
            on_missed()
        due = max(due + period_s, clock())
        if stop.wait(max(0.0, due - clock())):
            return


def _route(host_time_s: float, decoded: Decoded, frames: list[Frame],
           errors: dict[str, int]) -> Iterator[Frame]:
    return (f for f in frames if isinstance(f, StimEvent | Status))


def _describe(limits: StimLimits) -> str:
    return (f"max {limits.max_intensity_mA:g} mA, {limits.max_pulse_width_us} us, "
            f"{limits.max_rate_Hz:g} Hz")


class StimulatorClient:
    """The stimulator on ``target`` (a path, pyserial URL or :class:`UsbMatch`), never driven
    beyond ``limits``. ``heartbeat_timeout_ms`` is configured on the device at :meth:`open`
    (10-60000 ms, experiment time). Other keyword options go to
    :class:`~hreflex.devices.link.DeviceLink`. Thread-safe.
    """

    def __init__(self, target: PortTarget, limits: StimLimits, *, name: str = "stimulator",
                 timebase: Timebase | None = None, on_bytes: OnBytes | None = None,
                 heartbeat_timeout_ms: int = HEARTBEAT_DEFAULT_MS, **link_options: Any) -> None:
        self.link = DeviceLink(target, _route, name=name, timebase=timebase,
                               on_bytes=on_bytes, **link_options)
        self.name, self.timebase = name, self.link.timebase
        #: the limits every command is checked against (lowered to the device's at open)
        self.limits = limits
        self.device_limits: StimLimits | None = None
        self.identity: Identity | None = None
        self.heartbeat_timeout_ms = int(heartbeat_timeout_ms)
        #: heartbeats that got no ACK (each one a warning: the watchdog may trip)
        self.heartbeats_missed = 0
        self._last_fire_s: float | None = None
        self._fire_lock = threading.Lock()
        self._hb_stop = threading.Event()
        self._hb_thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> Identity:
        """Open the port, IDENTIFY (device limits), set the heartbeat timeout, start beating."""
        self.link.open()
        try:
            self.identity = self.link.identify(DeviceKind.STIMULATOR)
            dev = self.device_limits = StimLimits.from_identity(self.identity)
            self.limits = StimLimits(min(self.limits.max_intensity_uA, dev.max_intensity_uA),
                                     min(self.limits.max_pulse_width_us, dev.max_pulse_width_us),
                                     min(self.limits.max_rate_mHz, dev.max_rate_mHz))
            self.link.request(Opcode.CONFIGURE_STIMULATOR,
                              heartbeat_timeout_ms=self.heartbeat_timeout_ms)
        except BaseException:
            self.link.close()
            raise
        self._hb_thread = threading.Thread(target=self._beat, name=f"hreflex-{self.name}-heart",
                                           daemon=True)
        self._hb_thread.start()
        return self.identity

    def close(self) -> None:
        """DISARM while heartbeats still run, then stop them and close the port. Raises
        :class:`DeviceError` (after closing) when the DISARM was not confirmed."""
        failure = None
        if self.link.connected:
            try:
                self.disarm()
            except DeviceError as exc:
                failure = exc
        self._hb_stop.set()
        if self._hb_thread is not None:
            self._hb_thread.join(timeout=5.0)
        self.link.close()
        if failure is not None:
            raise DeviceError(f"{self.name}: DISARM not confirmed before closing ({failure}); "
                              f"the device watchdog disarms it {self.heartbeat_timeout_ms} ms "
                              "after the last heartbeat")

    def __enter__(self) -> StimulatorClient:
        if self.identity is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ---------------------------------------------------------------------------

    def set_stimulus(self, intensity_mA: float, pulse_width_us: float) -> None:
        """SET_STIMULUS (truncated to whole µA and µs, never rounded up). Out of the limits:
        :class:`SafetyError` and nothing is sent; a device refusal: ``NackError``."""
        why = check_stimulus(self.limits, intensity_mA, pulse_width_us)
        if why is not None:
            raise SafetyError(f"{self.name}: stimulus {intensity_mA:g} mA, {pulse_width_us:g} us "
                              f"refused, nothing sent: {why.name} ({_describe(self.limits)})")
        self.link.request(Opcode.SET_STIMULUS, intensity_uA=mA_to_uA(intensity_mA),
                          pulse_width_us=whole_us(pulse_width_us))

    def arm(self) -> None:
        """ARM (needs a stimulus set; also counts as a heartbeat)."""
        self.link.request(Opcode.ARM)

    def disarm(self) -> None:
        """DISARM."""
        self.link.request(Opcode.DISARM)

    @property
    def earliest_fire_s(self) -> float:
        """Experiment time from which :meth:`fire` sends (``-inf`` before the first FIRE): the
        previous FIRE's answer (or failure) + :func:`host_fire_spacing_s`."""
        if self._last_fire_s is None:
            return float("-inf")
        return self._last_fire_s + host_fire_spacing_s(self.limits)

    def fire(self) -> StimEvent:
        """FIRE one pulse; returns its STIM_EVENT (also put on the event queue). Before
        :attr:`earliest_fire_s` (experiment clock): :class:`SafetyError`, nothing sent. Not
        retried; a device refusal (NOT_ARMED, RATE_LIMIT) raises ``NackError``."""
        with self._fire_lock:
            now = self.timebase.now_s()
            if now < self.earliest_fire_s:
                raise SafetyError(
                    f"{self.name}: FIRE {(now - self._last_fire_s) * 1e3:.1f} ms after the "
                    f"previous one was answered refused, nothing sent: RATE_LIMIT "
                    f"({_describe(self.limits)})")
            self._last_fire_s = now
            try:
                response, frames = self.link.request(Opcode.FIRE, retries=0)
            finally:  # answered, refused or given up: the rate counts from now
                self._last_fire_s = max(now, self.timebase.now_s())
        event = next((f for f in frames if isinstance(f, StimEvent)
                      and f.request_id == response.request_id), None)
        if event is None:
            raise DeviceError(f"{self.name}: FIRE acknowledged without a STIM_EVENT")
        return event

    def status(self) -> Status:
        """GET_STATUS: armed, watchdog state, pulses delivered, device time..."""
        return self.link.status()

    def get(self, timeout_s: float | None = None) -> StimEvent | Status | LinkEvent | None:
        """The next STIM_EVENT (every delivered pulse the device reported, including those
        :meth:`fire` returned), unsolicited STATUS (e.g. the watchdog disarmed the device) or
        :class:`LinkEvent`, in arrival order; None after ``timeout_s`` (wall clock)."""
        return self.link.get(timeout_s)

    # -- heartbeat --------------------------------------------------------------------------

    def _beat(self) -> None:
        """The heartbeat thread's body: :func:`heartbeat_loop` every timeout /
        :data:`HEARTBEAT_DIVISOR` (wall seconds at the timebase's speed)."""
        period_s = self.timebase.wall_s(self.heartbeat_timeout_ms / 1000.0 / HEARTBEAT_DIVISOR)

        def send() -> None:
            self.link.request(Opcode.HEARTBEAT, retries=0, timeout_s=period_s)

        def missed() -> None:
            self.heartbeats_missed += 1

        heartbeat_loop(send, period_s, self._hb_stop, on_missed=missed)
