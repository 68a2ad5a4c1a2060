"""One host-side connection to a device: port, reader thread, decoder, requests, a queue.

:class:`DeviceLink` is the machinery both device clients share. Its reader thread reads the
port in big chunks (one ``read`` returns after ``read_interval_s`` or ``read_size`` bytes),
hands every raw chunk to ``on_bytes``, decodes it with :class:`StreamDecoder`, completes the
requests waiting for their answers and puts what is left (turned into records by the client's
``route`` function) on an **unbounded** queue. Unbounded on purpose: the reader must never
drop what a device delivered (the session would silently lose samples) nor wait for the
consumer (the device would overflow); the queue holds only what the consumer is behind,
about 0.7 MB/s at 16 channels × 20 kHz, and :attr:`DeviceLink.backlog` lets the consumer
watch it. Read or write failures are reported as :class:`LinkEvent` records and the same
target is reopened until it is back or ``reconnect_timeout_s`` has passed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import serial

from hreflex.devices.timebase import Timebase
from hreflex.devices.transport import DEFAULT_BAUD, PortTarget, open_port
from hreflex.errors import DeviceError
from hreflex.protocol import (
    PROTOCOL_VERSION,
    Command,
    Decoded,
    DecoderStats,
    DeviceKind,
    Frame,
    Identity,
    Opcode,
    Reason,
    Response,
    Status,
    StimEvent,
    StreamDecoder,
    encode_wire,
)

__all__ = ["DeviceLink", "LinkEvent", "NackError", "OnBytes", "Route"]

#: ``on_bytes(source, host_time_s, data)``: called by the reader thread with every raw chunk
#: (``source`` is the client's name, ``host_time_s`` experiment time); it must not block
OnBytes = Callable[[str, float, bytes], None]
#: ``route(host_time_s, decoded, frames, errors)`` -> records for the queue; ``frames`` are the
#: frames no request claimed, ``errors`` the decoder error counters this chunk increased
Route = Callable[[float, Decoded, list[Frame], dict[str, int]], Iterable[Any]]

RECONNECT_INTERVAL_S = 0.05
#: frames a device sends just before its answer to these requests (and that belong to them)
_ANSWER_FRAMES = {Opcode.IDENTIFY: Identity, Opcode.GET_STATUS: Status, Opcode.FIRE: StimEvent}


@dataclass(frozen=True)
class LinkEvent:
    """Something happened to the connection. ``kind``: ``disconnected`` (a read or write
    failed; waiting requests fail), ``reconnected`` (the same target opened again; the device
    may have rebooted), ``lost`` (not back within ``reconnect_timeout_s``; the reader
    stopped), ``stall`` (no bytes for ``stall_timeout_s`` while data is expected),
    ``stall_end`` (bytes again), ``error`` (``on_bytes`` or the reader itself failed).
    ``host_time_s`` is experiment time; ``message`` is one line for a person."""

    kind: str
    host_time_s: float
    message: str


class NackError(DeviceError):
    """The device refused a command: ``opcode`` and the NACK ``reason`` code."""

    def __init__(self, message: str, opcode: int, reason: int) -> None:
        super().__init__(message)
        self.opcode, self.reason = opcode, reason


def reason_name(code: int) -> str:
    return Reason(code).name if code in Reason.__members__.values() else f"reason {code}"


@dataclass
class _Pending:
    opcode: int
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None
    frames: list[Frame] = field(default_factory=list)
    failure: str = ""


class DeviceLink:
    """A device connection (see the module doc). Thread-safe: requests may come from any
    thread, while the reader thread owns the decoder.

    Options (wall-clock seconds unless said otherwise): ``timeout_s`` per request attempt,
    ``retries`` extra attempts after a missing answer (each with a new request id),
    ``stall_timeout_s`` silence reported as a stall while :meth:`watch_stall` is on (None:
    never), ``reconnect_timeout_s`` how long to keep reopening a lost port, ``read_interval_s``
    the longest a read waits, ``read_size`` the most bytes one read returns.
    """

    def __init__(self, target: PortTarget, route: Route, *, name: str,
                 timebase: Timebase | None = None, on_bytes: OnBytes | None = None,
                 baudrate: int = DEFAULT_BAUD, timeout_s: float = 0.5, retries: int = 2,
                 stall_timeout_s: float | None = None, reconnect_timeout_s: float = 5.0,
                 read_interval_s: float = 0.02, read_size: int = 1 << 18) -> None:
        self.target, self.route, self.name = target, route, name
        self.timebase = timebase or Timebase()
        self.on_bytes = on_bytes
        self.baudrate, self.timeout_s, self.retries = baudrate, timeout_s, retries
        self.stall_timeout_s, self.reconnect_timeout_s = stall_timeout_s, reconnect_timeout_s
        self.read_interval_s, self.read_size = read_interval_s, read_size
        self.decoder = StreamDecoder()
        #: host-side counters: timeouts, retries, unmatched_responses, disconnects, reconnects
        self.counters = dict.fromkeys(
            ("timeouts", "retries", "unmatched_responses", "disconnects", "reconnects"), 0)
        self._port: serial.SerialBase | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: dict[int, _Pending] = {}
        self._rid = 0
        self._lock = threading.Lock()  # pending requests, request ids, counters
        self._write_lock = threading.Lock()  # the port object and writes to it
        self._decode_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch = self._stalled = False
        self._last_data = time.monotonic()

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the port and start the reader thread."""
        self._port = open_port(self.target, name=self.name, baudrate=self.baudrate,
                               read_timeout_s=self.read_interval_s)
        self._thread = threading.Thread(target=self._run, name=f"hreflex-{self.name}-reader",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the reader, fail waiting requests and close the port (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with self._write_lock:
            port, self._port = self._port, None
        _close_quietly(port)
        self._fail_pending("the connection was closed")

    @property
    def connected(self) -> bool:
        return self._port is not None

    # -- for the consumer -------------------------------------------------------------------

    def get(self, timeout_s: float | None = None) -> Any:
        """The next record in arrival order, or None after ``timeout_s`` (wall clock; None:
        wait for ever, 0: do not wait)."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def backlog(self) -> int:
        """Records waiting in the queue."""
        return self._queue.qsize()

    @property
    def stats(self) -> DecoderStats:
        """A copy of the decoder counters."""
        with self._decode_lock:
            return DecoderStats(**self.decoder.stats.as_dict())

    def reset_sequence(self) -> None:
        """Forget the expected block sequence (call before asking the device to restart it)."""
        with self._decode_lock:
            self.decoder.reset_sequence()

    def watch_stall(self, on: bool) -> None:
        """Report silences longer than ``stall_timeout_s`` from now on (or stop doing so)."""
        self._last_data, self._stalled, self._watch = time.monotonic(), False, on

    # -- requests ---------------------------------------------------------------------------

    def request(self, opcode: int, *, retries: int | None = None, timeout_s: float | None = None,
                **fields: int) -> tuple[Response, list[Frame]]:
        """Send a command and wait for its ACK; return it with the frames that came with it
        (IDENTITY, STATUS, STIM_EVENT). A missing answer is retried ``retries`` times with a
        new request id, then raises :class:`DeviceError`; a NACK raises :class:`NackError`.
        When it returns, everything the device sent before the answer is on the queue."""
        retries = self.retries if retries is None else retries
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        op = Opcode(opcode).name
        for attempt in range(retries + 1):
            pending = _Pending(opcode)
            with self._lock:
                self._rid = self._rid % 0xFFFF + 1  # 1..65535; 0 means "not a request"
                rid = self._rid
                self._pending[rid] = pending
                self.counters["retries"] += attempt > 0
            try:
                self.write(encode_wire(Command.make(rid, opcode, **fields)))
                answered = pending.done.wait(timeout_s)
            finally:
                with self._lock:
                    self._pending.pop(rid, None)
            if pending.failure:
                raise DeviceError(f"{self.name}: {op} failed: {pending.failure}")
            if answered and pending.response is not None:
                r = pending.response
                if not r.ack:
                    text = f" ({r.text})" if r.text and r.text != reason_name(r.reason) else ""
                    raise NackError(f"{self.name} on {self.target} refused {op}: "
                                    f"{reason_name(r.reason)}{text}", opcode, r.reason)
                return r, pending.frames
            with self._lock:
                self.counters["timeouts"] += 1
        raise DeviceError(f"{self.name} on {self.target}: no answer to {op} after "
                          f"{retries + 1} attempt(s) of {timeout_s:g} s")

    def status(self) -> Status:
        """GET_STATUS: the STATUS frame that came with the ACK."""
        _, frames = self.request(Opcode.GET_STATUS)
        status = next((f for f in frames if isinstance(f, Status)), None)
        if status is None:
            raise DeviceError(f"{self.name}: GET_STATUS acknowledged without a STATUS frame")
        return status

    def identify(self, kind: DeviceKind) -> Identity:
        """IDENTIFY, checking the device kind and protocol version."""
        _, frames = self.request(Opcode.IDENTIFY)
        ident = next((f for f in frames if isinstance(f, Identity)), None)
        if ident is None:
            raise DeviceError(f"{self.name} on {self.target}: IDENTIFY acknowledged without "
                              "an IDENTITY frame")
        if ident.kind != kind:
            raise DeviceError(f"{self.name} on {self.target} is not a {kind.name.lower()} "
                              f"(IDENTITY kind {ident.kind}, model {ident.model!r})")
        if ident.protocol_version != PROTOCOL_VERSION:
            raise DeviceError(f"{self.name} on {self.target} speaks protocol version "
                              f"{ident.protocol_version}, this host {PROTOCOL_VERSION}")
        return ident

    def write(self, data: bytes) -> None:
        """Send raw bytes; :class:`DeviceError` when not connected or the write fails."""
        with self._write_lock:
            if self._port is None:
                raise DeviceError(f"{self.name}: {self.target} is not connected")
            try:
                self._port.write(data)
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"{self.name}: write to {self.target} failed: {exc}") from None

    # -- the reader thread ------------------------------------------------------------------

    def _put(self, kind: str, message: str) -> None:
        self._queue.put(LinkEvent(kind, self.timebase.now_s(), f"{self.name}: {message}"))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data = self._port.read(self.read_size)
                except (serial.SerialException, OSError) as exc:
                    if not self._stop.is_set():
                        self._reconnect(exc)
                    continue
                self._handle(bytes(data))
        except Exception as exc:  # a bug must not end the reader silently
            self._put("error", f"reader stopped: {exc!r}")
            raise

    def _handle(self, data: bytes) -> None:
        now = time.monotonic()
        if not data:
            silent = now - self._last_data
            if (self._watch and not self._stalled and self.stall_timeout_s is not None
                    and silent > self.stall_timeout_s):
                self._stalled = True
                self._put("stall", f"no data from {self.target} for {silent * 1e3:.0f} ms")
            return
        host_time_s = self.timebase.now_s()
        if self._stalled:
            self._stalled = False
            self._put("stall_end", f"data again after {(now - self._last_data) * 1e3:.0f} ms")
        self._last_data = now
        if self.on_bytes is not None:
            try:
                self.on_bytes(self.name, host_time_s, data)
            except Exception as exc:
                self._put("error", f"on_bytes failed: {type(exc).__name__}: {exc}")
        with self._decode_lock:
            before = self.decoder.stats.as_dict()
            decoded = self.decoder.feed(data)
            after = self.decoder.stats.as_dict()
        errors = {k: after[k] - before[k] for k in DecoderStats.ERRORS if after[k] != before[k]}
        rest, answered = self._claim(decoded.frames)
        for item in self.route(host_time_s, decoded, rest, errors):
            self._queue.put(item)
        for pending in answered:  # after queueing: what came before an answer is queued
            pending.done.set()

    def _claim(self, frames: list[Frame]) -> tuple[list[Frame], list[_Pending]]:
        """Give answers to the requests waiting for them; return the other frames (and every
        STIM_EVENT: a delivered pulse is always reported) and the requests answered."""
        rest, answered = [], []
        with self._lock:
            for f in frames:
                if isinstance(f, Response):
                    p = self._pending.get(f.request_id)
                    if p is not None and p.opcode == f.opcode and p.response is None:
                        p.response = f
                        answered.append(p)
                    else:
                        self.counters["unmatched_responses"] += 1
                    continue
                owner = next((p for p in self._pending.values() if p.response is None
                              and isinstance(f, _ANSWER_FRAMES.get(p.opcode, ()))), None)
                if owner is not None:
                    owner.frames.append(f)
                if owner is None or isinstance(f, StimEvent):
                    rest.append(f)
        return rest, answered

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            for p in self._pending.values():
                p.failure = why
                p.done.set()

    def _reconnect(self, exc: Exception) -> None:
        with self._write_lock:
            port, self._port = self._port, None
        _close_quietly(port)
        self._watch = self._stalled = False
        self._fail_pending(f"{self.target} disconnected")
        with self._decode_lock:
            self.decoder.close()  # a frame cut off by the disconnect counts as truncated
        with self._lock:
            self.counters["disconnects"] += 1
        self._put("disconnected", f"{self.target} disconnected ({exc})")
        deadline = time.monotonic() + self.reconnect_timeout_s
        while not self._stop.wait(RECONNECT_INTERVAL_S):
            try:
                port = open_port(self.target, name=self.name, baudrate=self.baudrate,
                                 read_timeout_s=self.read_interval_s)
            except DeviceError as err:
                if time.monotonic() >= deadline:
                    self._put("lost", f"{self.target} did not come back within "
                                      f"{self.reconnect_timeout_s:g} s ({err})")
                    self._stop.set()
                    return
                continue
            with self._write_lock:
                self._port = port
            with self._lock:
                self.counters["reconnects"] += 1
            self._last_data = time.monotonic()
            self._put("reconnected", f"{self.target} is back (the device may have restarted)")
            return


def _close_quietly(port: serial.SerialBase | None) -> None:
    if port is not None:
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass
