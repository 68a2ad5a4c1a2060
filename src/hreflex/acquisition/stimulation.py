"""Stimulation: set, arm, fire and disarm, every command through the one
:class:`~hreflex.acquisition.safety.StimulusGuard` (never beyond the effective limits: the
guard refuses before anything is sent), and the stimulator's own reports (STIM_EVENT, STATUS).

:meth:`Stimulation.fire` delivers one planned stimulus: CONFIGURE_STIMULATOR / SET_STIMULUS /
ARM only when needed (first time, changed stimulus, after the device disarmed or restarted),
then FIRE, which is never retried blind: after a FIRE without answer the device is asked
whether the pulse went out (a late STIM_EVENT, else its pulse counter). Retryable refusals
(NOT_ARMED, NO_STIMULUS, RATE_LIMIT, BUSY) are recorded as a ``nack`` fault and retried up to
:data:`FIRE_ATTEMPTS` times, never sooner than the guard allows (its rate then counts from the
refusal, and every FIRE sent counts against ``max_stimuli``).
Each delivered pulse becomes a :class:`~.outcome.Fired` handed to ``on_pulse`` (placement);
so does every pulse the stimulator reports that this session did not fire (``unplanned``).
The exit path's DISARM is :meth:`~.supervisor.DeviceSupervisor.close` (through the guard).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hreflex.acquisition.outcome import Fired, SessionStopped
from hreflex.acquisition.safety import StimulusGuard
from hreflex.devices import LinkEvent, NackError, StimulatorClient
from hreflex.errors import DeviceError
from hreflex.protocol import Opcode, Reason, Status, StimEvent

#: NACK reasons after which the stimulus is set, armed and tried again
RETRY_REASONS = {Reason.NOT_ARMED, Reason.NO_STIMULUS, Reason.RATE_LIMIT, Reason.BUSY}
FIRE_ATTEMPTS = 3

FaultSink = Callable[..., None]  # fault(kind, detail)


class Stimulation:
    """See the module doc. ``clock``: experiment seconds; ``wait(s)``: sleep ``s`` experiment
    seconds while the amplifier data keeps flowing; ``margin_s``: experiment seconds added
    to the guard's rate limit before a retry; ``on_link_event(ev)``: the stimulator link's
    events (device supervision)."""

    def __init__(self, guard: StimulusGuard, stim: StimulatorClient, *,
                 heartbeat_timeout_ms: int, clock: Callable[[], float],
                 wait: Callable[[float], None], margin_s: float, fault: FaultSink,
                 on_pulse: Callable[[Fired], None],
                 on_link_event: Callable[[LinkEvent], None]) -> None:
        self.guard, self.stim = guard, stim
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self.clock, self.wait, self.margin_s = clock, wait, margin_s
        self._fault, self.on_pulse, self.on_link_event = fault, on_pulse, on_link_event
        self.armed = False
        self.need_setup = True  # CONFIGURE + SET + ARM before the next FIRE
        self._taken: set[tuple[int, int]] = set()  # STIM_EVENTs a FIRE answer brought
        self._orphans: list[StimEvent] = []
        self._pulses_known = 0  # the stimulator's pulse counter at its latest pulse

    def device_restarted(self) -> None:
        """The stimulator may have lost its state: set everything up before the next FIRE."""
        self.armed, self.need_setup = False, True

    def _setup(self, mA: float, pw: float) -> None:
        if self.need_setup:  # first time, or the device may have restarted
            self.guard.send(Opcode.CONFIGURE_STIMULATOR,
                            heartbeat_timeout_ms=self.heartbeat_timeout_ms)
        if self.need_setup or self.guard.stimulus != (mA, pw):
            self.guard.set_stimulus(mA, pw)
        if not self.armed or self.need_setup:
            self.guard.arm()
            self.armed, self.need_setup = True, False

    def fire(self, k: int, mA: float, pw: float, wait_s: float,
             flags: tuple[str, ...] = ()) -> Fired | None:
        """Deliver planned stimulus ``k`` (``mA``, ``pw`` µs); None when the stimulator link is
        down (try again when it is back). Raises :class:`SessionStopped` after
        :data:`FIRE_ATTEMPTS` failures, ``NackError`` for a refusal that cannot be retried,
        ``SafetyError`` for anything beyond the limits (nothing sent)."""
        flags = list(flags)
        for attempt in range(FIRE_ATTEMPTS):
            if attempt:
                self.wait(max(0.0, self.guard.earliest_fire_s - self.clock()) + self.margin_s)
            try:
                self._setup(mA, pw)
            except NackError as exc:
                self._fault("nack", str(exc))
                if exc.reason not in RETRY_REASONS:
                    raise
                self.need_setup = True
                continue
            except DeviceError as exc:
                if not self.stim.link.connected:
                    return None
                self._fault("command_failed", str(exc))
                continue
            h_send = self.clock()
            try:
                response, frames = self.guard.fire()
            except NackError as exc:
                self._fault("nack", str(exc))
                if exc.reason not in RETRY_REASONS:
                    raise
                if exc.reason in (Reason.NOT_ARMED, Reason.NO_STIMULUS):
                    self.device_restarted()
                continue
            except DeviceError as exc:
                delivered, event = self._was_delivered()
                if delivered:
                    self._fault("no_response", f"{exc}; the pulse was delivered"
                               + ("" if event else " (no STIM_EVENT: placed by the trigger)"))
                    return self._fired(k, event, h_send, wait_s,
                                       flags if event else [*flags, "no_event"], (mA, pw))
                self._fault("fire_failed", f"{exc}; no pulse was delivered")
                if not self.stim.link.connected:
                    return None
                continue
            event = next((f for f in frames if isinstance(f, StimEvent)), None)
            if event is None:
                self._fault("no_event", f"FIRE acknowledged (request {response.request_id}) "
                                       "without a STIM_EVENT; placed by the trigger")
                flags = [*flags, "no_event"]
            return self._fired(k, event, h_send, wait_s, flags, (mA, pw))
        raise SessionStopped(f"stimulator did not deliver stimulus {k + 1} after "
                             f"{FIRE_ATTEMPTS} attempts (see the faults table)")

    def _fired(self, k, event, h_send, wait_s, flags, requested) -> Fired:
        if event is not None:
            self._taken.add((event.pulse_counter, event.device_time_us))
            self._pulses_known = event.pulse_counter
        f = Fired(k, event, h_send, self.clock(), wait_s, list(flags), requested)
        self.on_pulse(f)
        return f

    def _was_delivered(self) -> tuple[bool, StimEvent | None]:
        """After a FIRE without answer: did the pulse go out? A STIM_EVENT that arrives anyway
        says so (it comes before the answer); else the device's pulse counter (GET_STATUS).
        Either answer shows the device has handled the FIRE by now: the guard counts the rate
        from then (:meth:`StimulusGuard.answered`)."""
        event = self._late_event(0.05)
        if event is not None or not self.stim.link.connected:
            if event is not None:
                self.guard.answered()
            return event is not None, event
        try:
            count = self.stim.status().pulses_delivered
        except DeviceError:
            return False, None
        self.guard.answered()  # commands are handled in order: the FIRE came before this
        if count == self._pulses_known:
            return False, None
        self._pulses_known = count
        return True, self._late_event(1.0)

    def _late_event(self, wait_s: float) -> StimEvent | None:
        """A STIM_EVENT no FIRE answer brought, waiting up to ``wait_s`` wall for it."""
        deadline = time.monotonic() + wait_s
        while True:
            self.drain(keep_orphans=True)
            if self._orphans:
                return self._orphans.pop(0)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def drain(self, keep_orphans: bool = False) -> None:
        """Take what the stimulator reported: STIM_EVENTs no FIRE answer brought become
        unplanned pulses (unless ``keep_orphans``), a watchdog STATUS means re-arming, link
        events go to ``on_link_event``."""
        while (item := self.stim.get(0)) is not None:
            if isinstance(item, StimEvent):
                key = (item.pulse_counter, item.device_time_us)
                if key in self._taken:
                    self._taken.discard(key)
                    continue
                self._orphans.append(item)
            elif isinstance(item, Status):
                if item.watchdog_tripped and not item.armed:
                    self.device_restarted()
                    self._fault("watchdog", "the stimulator's watchdog disarmed it (no heartbeat "
                               f"for {item.heartbeat_timeout_ms} ms); re-arming")
            elif isinstance(item, LinkEvent):
                self.on_link_event(item)
        if not keep_orphans:
            while self._orphans:
                ev = self._orphans.pop(0)
                self._pulses_known = ev.pulse_counter
                self._fault("unplanned_pulse", f"pulse {ev.pulse_counter} reported without a "
                                              "FIRE from this session")
                now = self.clock()
                self.on_pulse(Fired(None, ev, now, now, 0.0, ["unplanned"],
                                    (float("nan"), float("nan"))))
