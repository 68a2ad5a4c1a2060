"""Device supervision: the two links (open, identify, configure), their events (disconnect,
reconnect, stall, lost), bringing a reconnected device back, the links' counters, and the
stimulator's watchdog feeding.

Heartbeats (``firmware_io/PROTOCOL.md`` §4.4: at least every timeout/3) come from their own
thread, which does nothing else: :func:`~hreflex.devices.stimulator.heartbeat_loop` (the
stimulator client's) sends one HEARTBEAT every ``heartbeat_timeout_ms`` /
:data:`~hreflex.devices.stimulator.HEARTBEAT_DIVISOR` (wall seconds at the experiment's speed
factor) on a fixed cadence, waits for nothing but the device's ACK (at most one period; a
missing ACK is counted, never retried) and after a pause (the whole process stalled) sends at
once and resumes the cadence, without a burst. It shares no lock with the recorder, the disk,
the journal's writer or the terminal; the stimulator link's reader thread only journals bytes
(a queue put) and decodes before it hands the ACK over.

The engine asks :attr:`DeviceSupervisor.ready` before firing; link events raise
:class:`SessionStopped` when a device is lost for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hreflex.acquisition.config import SessionConfig
from hreflex.acquisition.faults import FAULT_KINDS
from hreflex.acquisition.outcome import SessionStopped
from hreflex.acquisition.safety import StimulusGuard, effective_limits
from hreflex.devices import (
    AmplifierClient,
    LinkEvent,
    NackError,
    PortTarget,
    StimulatorClient,
    Timebase,
)
from hreflex.errors import ConfigError, DeviceError, HreflexError, SafetyError
from hreflex.protocol import DeviceKind, Identity, Opcode, Reason, StimLimits

#: the stimulator link's longest read wait (wall s): bounds the round trip of each command
STIM_READ_INTERVAL_S = 0.002
#: the amplifier link's longest read wait (wall s): bounds live latency and gating delay
AMP_READ_INTERVAL_S = 0.01
class DeviceSupervisor:
    """The amplifier and stimulator links of one session (see the module doc). ``on_bytes``:
    the links' byte hook (:meth:`~.wiretap.WireTap.on_bytes`); ``fault(kind, detail)``: the
    session's fault sink."""

    def __init__(self, cfg: SessionConfig, timebase: Timebase, *,
                 on_bytes: Callable[[str, float, bytes], None],
                 fault: Callable[..., None]) -> None:
        self.cfg, self.timebase, self.on_bytes, self._fault = cfg, timebase, on_bytes, fault
        self.amp: AmplifierClient | None = None
        self.stim: StimulatorClient | None = None
        self.amp_ok = self.stim_ok = True
        self.amp_reinit = self.stim_reinit = False
        #: called when the stimulator link goes down (it is no longer armed)
        self.on_stimulator_down: Callable[[], None] = lambda: None
        self._down_since: float | None = None
        self._next_watch = 0.0
        self._counts: dict[str, int] = {}

    def targets(self, bench=None) -> tuple[PortTarget, PortTarget]:
        """(amplifier, stimulator) targets: the config's ports, or for a device marked
        ``emulated`` the pty port of ``bench`` (an ``EmulatedBench``)."""
        amp, stim = self.cfg.amplifier.connection, self.cfg.stimulator.connection
        return (bench.amplifier_url if amp.emulated else amp.target(),
                bench.stimulator_url if stim.emulated else stim.target())

    @property
    def ready(self) -> bool:
        """Both devices connected and back in the session (a stimulus may go)."""
        return self.amp_ok and self.stim_ok and not (self.amp_reinit or self.stim_reinit)

    def open_amplifier(self, target: PortTarget) -> Identity:
        """Open, IDENTIFY and CONFIGURE the amplifier (not streaming yet)."""
        a = self.cfg.amplifier
        self.amp = AmplifierClient(target, timebase=self.timebase, on_bytes=self.on_bytes,
                                   baudrate=a.connection.baud,
                                   reconnect_timeout_s=self.cfg.recording.reconnect_timeout_s,
                                   read_interval_s=AMP_READ_INTERVAL_S)
        self.amp.open()
        return self.configure_amplifier()

    def open_stimulator(self, target: PortTarget) -> Identity:
        """Open and IDENTIFY the stimulator, set its heartbeat timeout; heartbeats start."""
        s, cfg = self.cfg.stimulator, self.cfg
        self.stim = StimulatorClient(
            target, cfg.limits.stim_limits, timebase=self.timebase, on_bytes=self.on_bytes,
            baudrate=s.connection.baud, heartbeat_timeout_ms=s.heartbeat_timeout_ms,
            reconnect_timeout_s=cfg.recording.reconnect_timeout_s, timeout_s=1.0,
            read_interval_s=STIM_READ_INTERVAL_S)
        return self.stim.open()

    def configure_amplifier(self) -> Identity:
        a = self.cfg.amplifier
        n_ch = len(self.cfg.channels)
        try:
            ident = self.amp.configure(a.sample_rate_Hz, n_ch, a.samples_per_block)
        except NackError as exc:
            if exc.reason != Reason.BAD_CONFIG:
                raise
            raise ConfigError(f"{self.cfg.source} [devices.amplifier]: the amplifier refuses "
                              f"{a.sample_rate_Hz} Hz, {a.samples_per_block} samples per block "
                              f"with {n_ch} channels (BAD_CONFIG; nothing was sent to the "
                              "stimulator)") from None
        if ident.sample_rate_Hz != a.sample_rate_Hz or ident.n_channels != n_ch:
            raise DeviceError(
                f"amplifier on {self.amp.link.target} runs {ident.n_channels} channels at "
                f"{ident.sample_rate_Hz} Hz after CONFIGURE; the config asks for {n_ch} at "
                f"{a.sample_rate_Hz} Hz ([devices.amplifier] sample_rate_Hz, [[channels]])")
        return ident

    def send(self, opcode: int, **fields: int):
        """The guard's raw command function: one request on the stimulator link (FIRE is
        never retried: a lost answer may mean a delivered pulse)."""
        retries = 0 if opcode == Opcode.FIRE else None
        return self.stim.link.request(opcode, retries=retries, **fields)

    def link_event(self, role: str, ev: LinkEvent) -> None:
        """A link event of ``role`` ("amplifier" or "stimulator")."""
        if ev.kind == "disconnected":
            self._fault("disconnect", ev.message)
            setattr(self, "amp_ok" if role == "amplifier" else "stim_ok", False)
            self._down_since = self._down_since or time.monotonic()
            if role == "stimulator":
                self.on_stimulator_down()
        elif ev.kind == "reconnected":
            self._fault("reconnect", ev.message)
            setattr(self, "amp_reinit" if role == "amplifier" else "stim_reinit", True)
        elif ev.kind == "lost":
            self._fault("lost", ev.message)
            raise SessionStopped(f"{ev.message}; stopped safely (the stimulator's watchdog "
                                 "disarms it without heartbeats)")
        elif ev.kind in ("stall", "stall_end", "error"):
            self._fault(ev.kind, ev.message)
            if ev.kind == "error":
                raise SessionStopped(ev.message)

    def recover(self, limits: StimLimits, restart_stream: Callable[[], int],
                stimulator_back: Callable[[], None]) -> None:
        """Bring a reconnected device back: an amplifier that stopped streaming is configured
        again and restarted (``restart_stream()`` first sets the new clock's row offset and
        returns it); a stimulator must report the same effective ``limits``
        (:class:`SafetyError` otherwise), then ``stimulator_back()``."""
        try:
            if self.amp_reinit:
                if not self.amp.status().streaming:
                    self.configure_amplifier()
                    offset = restart_stream()
                    self.amp.start()
                    self._fault("restart", f"amplifier streaming again from row {offset}")
                self.amp_reinit, self.amp_ok = False, True
            if self.stim_reinit:
                ident = self.stim.link.identify(DeviceKind.STIMULATOR)
                now = effective_limits(self.cfg.limits.stim_limits,
                                       StimLimits.from_identity(ident))
                if now != limits:
                    raise SafetyError(f"the stimulator reports other limits after reconnecting "
                                      f"({now}); stopped")
                self.stim_reinit, self.stim_ok = False, True
                stimulator_back()
        except DeviceError as exc:
            if self._down_since is not None and (time.monotonic() - self._down_since
                                                 > self.cfg.recording.reconnect_timeout_s + 5):
                raise SessionStopped(f"device did not come back: {exc}") from None
            return  # try again on the next turn
        if self.amp_ok and self.stim_ok:
            self._down_since = None

    def watch_counters(self) -> None:
        """Record what the links counted since the last look (every 0.1 s wall): missed
        heartbeats, request timeouts, rejected stimulator frames."""
        now = time.monotonic()
        if now < self._next_watch:
            return
        self._next_watch = now + 0.1
        counts = {"heartbeat_missed": self.stim.heartbeats_missed,
                  "timeout": self.stim.link.counters["timeouts"]
                  + self.amp.link.counters["timeouts"],
                  "stimulator_frame_error": self.stim.link.stats.errors}
        for kind, value in counts.items():
            new = value - self._counts.get(kind, 0)
            if new > 0:
                self._fault(kind, f"{new} more (total {value}) {FAULT_KINDS[kind]}")
            self._counts[kind] = value

    def close(self, guard: StimulusGuard | None) -> list[str]:
        """Exit path: DISARM through ``guard`` (while the link is up and heartbeats still
        run), close the stimulator (DISARM again, heartbeats stop, the port closes), then the
        amplifier (STOP). Never raises: the problems, as text."""
        problems = []
        if self.stim is not None:
            if guard is not None and self.stim.link.connected:
                try:
                    guard.disarm()
                except HreflexError as exc:
                    problems.append(f"DISARM failed: {exc}")
            try:
                self.stim.close()
            except HreflexError as exc:
                problems.append(str(exc))
        if self.amp is not None:
            try:
                self.amp.close()
            except HreflexError as exc:
                problems.append(str(exc))
        return problems


def start_bench(cfg: SessionConfig):
    """An ``EmulatedBench`` (devices on pty ports) from the config's ``[emulator]``."""
    from hreflex.sim.emulators import EmulatedBench

    emu = cfg.emulator
    return EmulatedBench(preset=emu.preset, n_channels=len(cfg.channels),
                         sample_rate_Hz=cfg.amplifier.sample_rate_Hz, speed=emu.speed_factor,
                         seed=emu.seed)
