"""What both device emulators share: a thread serving its port (a :class:`PtyLink` or a
:class:`SocketLink`, :data:`TRANSPORTS`), command dispatch with the firmware's checks, the
record of received commands, and fault injection.

Fault kinds for :meth:`EmulatedDevice.inject` (times are true time, in experiment seconds):

| kind | parameters | effect |
|---|---|---|
| ``drop`` | ``n=1``, ``frame_type`` | the next n frames are lost in transit (sequence numbers used) |
| ``bitflip`` | ``n=1``, ``frame_type`` | one random bit of each of the next n frames is flipped (CRC fails) |
| ``truncate`` | ``n=1``, ``frame_type`` | the next n frames are cut short, then the 0x00 delimiter |
| ``garbage`` | ``n_bytes=64`` | random bytes, then a 0x00, between two frames |
| ``stall`` | ``duration_s=1.0`` | output held back (the device keeps working; its buffer may overflow) |
| ``disconnect`` | ``duration_s=1.0``, ``reboot=True`` | the port vanishes (pty and link; or the socket's connection is reset and it stops listening), then comes back at the same path or port; ``reboot``: the device lost power and restarts in its power-on state |
| ``reset`` | none | the firmware restarts: counters and device clock restart at 0 (an amplifier resumes streaming, a stimulator comes back disarmed without stimulus) |
| ``nack`` | ``n=1``, ``opcode=None``, ``reason=Reason.BUSY`` | the next n commands (of ``opcode``) are refused with ``reason``, not executed |
| ``no_response`` | ``n=1``, ``opcode=None``, ``execute=True`` | the next n commands (of ``opcode``) get no answer; ``execute``: only the answer is lost |

``frame_type`` (a :class:`FrameType`) defaults to the device's data frames (the amplifier's
sample blocks; any frame of the stimulator). Every fault actually applied is appended to
:attr:`EmulatedDevice.faults` as a :class:`FaultRecord` (for sample blocks with the exact
sequence number and sample range).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hreflex.devices.timebase import Timebase
from hreflex.protocol import (
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
    StreamDecoder,
    cobs_encode,
    encode_frame,
)
from hreflex.sim.emulators.clock import DeviceClock
from hreflex.sim.emulators.delivery import DeviceEnd
from hreflex.sim.emulators.pty_link import PtyLink
from hreflex.sim.emulators.socket_link import SocketLink

__all__ = ["EmulatedDevice", "FaultRecord", "ReceivedCommand", "FAULT_KINDS", "TRANSPORTS",
           "make_link"]

#: how the host reaches an emulated device: ``"pty"`` (a real serial port at a stable path,
#: the default) or ``"socket"`` (``socket://127.0.0.1:PORT``, no pty in the way)
TRANSPORTS = ("pty", "socket")

#: fault kind -> its parameters with their defaults
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "drop": {"n": 1, "frame_type": None},
    "bitflip": {"n": 1, "frame_type": None},
    "truncate": {"n": 1, "frame_type": None},
    "garbage": {"n_bytes": 64},
    "stall": {"duration_s": 1.0},
    "disconnect": {"duration_s": 1.0, "reboot": True},
    "reset": {},
    "nack": {"n": 1, "opcode": None, "reason": Reason.BUSY},
    "no_response": {"n": 1, "opcode": None, "execute": True},
}
_FRAME_FAULTS = ("drop", "bitflip", "truncate")
#: response texts, as the firmware's ``hrx_reason_text`` (firmware_io/hreflex_proto.c)
REASON_TEXT = {
    Reason.OK: "ok", Reason.UNKNOWN_OPCODE: "unknown opcode",
    Reason.BAD_ARGUMENTS: "wrong argument length",
    Reason.NOT_SUPPORTED: "not supported by this device",
    Reason.BAD_CONFIG: "configuration value out of range",
    Reason.BUSY: "busy: stop streaming first", Reason.INTENSITY_LIMIT: "intensity above device limit",
    Reason.PULSE_WIDTH_LIMIT: "pulse width zero or above device limit",
    Reason.NOT_ARMED: "not armed", Reason.RATE_LIMIT: "faster than the device rate limit",
    Reason.NO_STIMULUS: "no stimulus set", Reason.WATCHDOG: "heartbeat timeout: disarmed",
    Reason.HOST_DISARM: "disarmed by host",
}
_COMMAND_FAULTS = ("nack", "no_response")


@dataclass(frozen=True)
class ReceivedCommand:
    """A command as the device received it: handled at true time ``true_time_s`` (the time the
    firmware acted on it, e.g. fed its watchdog); ``read_time_s`` is when the device thread
    got its bytes from the pty (None when :meth:`EmulatedDevice.poll` was called without)."""

    true_time_s: float
    command: Command
    read_time_s: float | None = None


@dataclass(frozen=True)
class FaultRecord:
    """A fault the emulator applied at ``true_time_s``. For frame faults ``frame_type``; for
    sample blocks also ``seq``, ``first_sample`` and ``n_samples`` of the block hit."""

    kind: str
    true_time_s: float
    frame_type: int | None = None
    seq: int | None = None
    first_sample: int | None = None
    n_samples: int | None = None
    detail: str = ""


@dataclass
class _Armed:
    kind: str
    params: dict[str, Any]
    remaining: int


def make_link(transport: str, path: str | Path, *, jitter_s: float,
              rng: np.random.Generator) -> DeviceEnd:
    """The device end of ``transport`` (:data:`TRANSPORTS`); ``path`` is the pty link's."""
    if transport == "pty":
        return PtyLink(path, jitter_s=jitter_s, rng=rng)
    if transport == "socket":
        return SocketLink(jitter_s=jitter_s, rng=rng)
    raise ValueError(f"unknown transport {transport!r}; valid: {', '.join(TRANSPORTS)}")


def _take(armed: list[_Armed], applies: Callable[[_Armed], bool]) -> _Armed | None:
    """The first armed fault for which ``applies(fault)``; it is used up after n uses."""
    for f in armed:
        if applies(f):
            f.remaining -= 1
            if f.remaining <= 0:
                armed.remove(f)
            return f
    return None


class EmulatedDevice:
    """A device behind a port, driven by its own thread (see the module doc): a pty linked at
    ``path`` or, with ``transport="socket"``, a localhost TCP port (``path`` unused).

    ``timebase`` is the bench's true time; ``lock`` (shared by the devices of a bench) guards
    all device state, so a stimulus and the amplifier's sampling happen in one time order.
    ``drift_ppm``: the device clock's error; ``jitter_ms``: output delivery delay (true ms).
    """

    KIND: ClassVar[DeviceKind]
    SUPPORTED: ClassVar[frozenset[int]]
    DATA_FRAME: ClassVar[FrameType | None] = None
    #: longest wall-clock wait for host bytes per loop turn
    POLL_S = 0.001

    def __init__(self, path: str | Path, *, timebase: Timebase, lock: threading.RLock | None = None,
                 drift_ppm: float = 0.0, jitter_ms: float = 0.0, seed: int = 0,
                 transport: str = "pty") -> None:
        self.timebase = timebase
        self.lock = lock or threading.RLock()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.clock = DeviceClock(drift_ppm, boot_s=timebase.now_s())
        self.transport = transport
        self.link = make_link(transport, path, jitter_s=jitter_ms / 1000.0, rng=self.rng)
        #: every command received, in order (the proof of what the host sent)
        self.commands: list[ReceivedCommand] = []
        #: every fault applied, in order
        self.faults: list[FaultRecord] = []
        self.frames_received = 0
        self._decoder = StreamDecoder()
        self._frame_faults: list[_Armed] = []
        self._command_faults: list[_Armed] = []
        self._now_faults: list[tuple[str, dict[str, Any]]] = []
        self._reconnect: tuple[float, bool] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"hreflex-emulated-{self.KIND.name.lower()}")

    @property
    def url(self) -> str:
        """What the host opens: the stable path, or ``socket://127.0.0.1:PORT`` (after
        :meth:`start`)."""
        return self.link.url

    def start(self) -> None:
        """Create the port, announce the device (one 0x00) and start serving."""
        self.link.connect()
        self.link.send(b"\x00", self.timebase.now_s())
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.link.disconnect()

    def inject(self, kind: str, **params: Any) -> None:
        """Arm a fault (see the module doc); it is applied by the device thread."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        unknown = set(params) - set(FAULT_KINDS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes {sorted(FAULT_KINDS[kind])}, "
                            f"got {sorted(unknown)}")
        p = {**FAULT_KINDS[kind], **params}
        with self.lock:
            if kind in _FRAME_FAULTS:
                p["frame_type"] = p["frame_type"] or self.DATA_FRAME
                self._frame_faults.append(_Armed(kind, p, int(p["n"])))
            elif kind in _COMMAND_FAULTS:
                self._command_faults.append(_Armed(kind, p, int(p["n"])))
            else:
                self._now_faults.append((kind, p))

    # -- the device thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self.link.read(self.POLL_S)
            self.poll(data, read_s=self.timebase.now_s() if data else None)
            self.link.flush(self.timebase.now_s())

    def poll(self, data: bytes = b"", now: float | None = None,
             read_s: float | None = None) -> None:
        """One turn of the firmware loop at true time ``now`` (default: now, read under the
        lock): pending faults, time-driven work (it happened before these bytes arrived),
        then the commands in ``data``. The device thread calls it; tests may call it on a
        device that was not started, with scripted times."""
        with self.lock:
            now = self.timebase.now_s() if now is None else now
            self._apply_now_faults(now)
            self._step(now)
            if data:
                for frame in self._decoder.feed(data).frames:
                    self.frames_received += 1
                    if isinstance(frame, Command):
                        self._command(frame, now, read_s)

    def _apply_now_faults(self, now: float) -> None:
        if self._reconnect is not None and now >= self._reconnect[0]:
            reboot = self._reconnect[1]
            self._reconnect = None
            if reboot:
                self._boot(now)
            self.link.connect()
            self.link.send(b"\x00", now)
            self.faults.append(FaultRecord("reconnect", now, detail=f"reboot={reboot}"))
        for kind, p in self._now_faults:
            detail = ", ".join(f"{k}={v}" for k, v in p.items())
            if kind == "garbage":
                junk = self.rng.integers(0, 256, int(p["n_bytes"]), dtype=np.uint8).tobytes()
                self.link.send(junk + b"\x00", now)
            elif kind == "stall":
                self.link.pause(now + p["duration_s"])
            elif kind == "disconnect":
                self.link.disconnect()
                if p["reboot"]:
                    self._boot(now)  # power lost: the device stops where it is
                self._reconnect = (now + p["duration_s"], bool(p["reboot"]))
            else:
                self._reset(now)
                self.link.send(b"\x00", now)
            self.faults.append(FaultRecord(kind, now, detail=detail))
        self._now_faults.clear()

    def _command(self, cmd: Command, now: float, read_s: float | None = None) -> None:
        self.commands.append(ReceivedCommand(now, cmd, read_s))
        fault = _take(self._command_faults, lambda f: f.params["opcode"] in (None, cmd.opcode))
        if fault is not None:
            self.faults.append(FaultRecord(fault.kind, now, FrameType.COMMAND,
                                           detail=f"opcode {cmd.opcode}, request {cmd.request_id}"))
            if fault.kind == "nack":
                self._respond(cmd, Reason(fault.params["reason"]), now)
                return
            if fault.params["execute"]:
                self._execute(cmd, now)
            return
        self._respond(cmd, self._execute(cmd, now), now)

    def _execute(self, cmd: Command, now: float) -> Reason:
        """The firmware's checks in its order, then the opcode's handler ``_on_<name>``."""
        if cmd.opcode not in Opcode.__members__.values():
            return Reason.UNKNOWN_OPCODE
        if cmd.opcode not in self.SUPPORTED:
            return Reason.NOT_SUPPORTED
        try:
            fields = cmd.fields()
        except FrameError:
            return Reason.BAD_ARGUMENTS
        return getattr(self, f"_on_{Opcode(cmd.opcode).name.lower()}")(now, cmd, **fields)

    def _respond(self, cmd: Command, reason: Reason, now: float) -> None:
        self._emit(Response(cmd.request_id, cmd.opcode, reason == Reason.OK, reason,
                            REASON_TEXT.get(reason, "error")), now)

    def _emit(self, frame: Frame, now: float) -> None:
        """Send one frame (through the armed frame faults)."""
        self.link.send(self._wire(frame, now), now)

    def _wire(self, frame: Frame, now: float) -> bytes:
        """The wire bytes of ``frame`` after the first armed frame fault that targets it
        (empty when it is dropped); the fault is recorded."""
        fault = _take(self._frame_faults,
                      lambda f: f.params["frame_type"] in (None, frame.TYPE))
        data = encode_frame(frame)
        if fault is None:
            return cobs_encode(data) + b"\x00"
        detail = ""
        if fault.kind == "bitflip":
            i, bit = int(self.rng.integers(len(data))), int(self.rng.integers(8))
            data = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
            detail = f"byte {i} bit {bit}"
        wire = cobs_encode(data)
        if fault.kind == "truncate":
            keep = int(self.rng.integers(1, len(wire)))
            wire, detail = wire[:keep], f"{keep} of {len(wire)} bytes sent"
        block = isinstance(frame, SampleBlock)
        self.faults.append(FaultRecord(
            fault.kind, now, frame.TYPE, frame.seq if block else None,
            frame.first_sample if block else None, len(frame.samples) if block else None,
            detail))
        return b"" if fault.kind == "drop" else wire + b"\x00"

    # -- device specific --------------------------------------------------------------------

    def _boot(self, now: float) -> None:
        """Power-on state: the device clock restarts at ``now``, counters at 0."""
        self.clock.reboot(now)
        self.frames_received = 0
        self._decoder = StreamDecoder()

    def _reset(self, now: float) -> None:
        """A firmware restart (the ``reset`` fault); by default the power-on state."""
        self._boot(now)

    def _step(self, now: float) -> None:
        """Time-driven work up to true time ``now`` (sampling, the watchdog)."""

    def identity(self) -> Identity:
        raise NotImplementedError

    def status(self, now: float) -> Status:
        raise NotImplementedError

    def _on_identify(self, now: float, cmd: Command) -> Reason:
        self._emit(self.identity(), now)
        return Reason.OK

    def _on_get_status(self, now: float, cmd: Command) -> Reason:
        self._emit(self.status(now), now)
        return Reason.OK

    def _on_heartbeat(self, now: float, cmd: Command) -> Reason:
        return Reason.OK
