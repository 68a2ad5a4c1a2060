"""Helpers for the device-driver and emulator tests: bounded waits, a hand-driven protocol port,
a collector of amplifier output and a rig that closes everything it opened (clients first).

The expected values in the tests come from the protocol spec and from the emulators' own
records of what they really did (commands received, faults applied, pulses delivered)."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import serial

from hreflex.devices import AmplifierClient, LinkEvent, Received, StimulatorClient
from hreflex.errors import DeviceError
from hreflex.protocol import (
    Command,
    Gap,
    Response,
    StimLimits,
    StreamDecoder,
    encode_wire,
)
from hreflex.sim.emulators import BenchProcess, EmulatedBench

#: the host's limits in most tests: 50 mA, 1 ms, 5 Hz (the emulated device allows more)
LIMITS = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=5000)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 5.0, what: str = "it") -> Any:
    """Poll ``predicate`` (every 5 ms) until it returns something truthy; fail after
    ``timeout_s`` wall seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


def pattern(indices: np.ndarray, n_channels: int) -> np.ndarray:
    """The amplifier's "test" signal at sample ``indices`` as docs/DEVICES.md specifies it
    (written out here, not imported): int16(uint16((k * (c + 1) + 1000 * c) mod 65536))."""
    k = np.asarray(indices, dtype=np.int64)[:, None]
    c = np.arange(n_channels)[None, :]
    return ((k * (c + 1) + 1000 * c) % 65536).astype(np.uint16).view(np.int16)


class RawPort:
    """The wire protocol spoken by hand over pyserial (no host driver), to test emulators."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, timeout=0.01)
        self.decoder = StreamDecoder()
        self.frames: list[Any] = []  # every non-sample frame, in order
        self.samples: list[Any] = []
        self.gaps: list[Gap] = []

    def pump(self, seconds: float) -> None:
        """Read and decode for ``seconds`` (wall clock)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            decoded = self.decoder.feed(self.port.read(1 << 16))
            self.frames += decoded.frames
            self.samples += decoded.samples
            self.gaps += decoded.gaps

    def request(self, rid: int, opcode: int, timeout_s: float = 2.0, **fields: int) -> Response:
        """Send a command and wait for the response with its request id."""
        self.port.write(encode_wire(Command.make(rid, opcode, **fields)))
        return self.wait(lambda f: isinstance(f, Response) and f.request_id == rid, timeout_s)

    def send(self, command: Command) -> None:
        self.port.write(encode_wire(command))

    def wait(self, match: Callable[[Any], bool], timeout_s: float = 2.0) -> Any:
        """The first frame received so far (or within ``timeout_s``) that ``match``es."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = next((f for f in self.frames if match(f)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching frame within {timeout_s} s: {self.frames}")
            self.pump(0.01)

    def close(self) -> None:
        self.port.close()


class Collector:
    """Everything an :class:`AmplifierClient` delivered, in order."""

    def __init__(self, amp: AmplifierClient) -> None:
        self.amp = amp
        self.batches: list[Any] = []
        self.gaps: list[Gap] = []
        self.frames: list[Any] = []
        self.events: list[LinkEvent] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.n_samples = 0
        self.last_index = -1  # device index of the last row received

    def pump(self, until: Callable[[Collector], Any], timeout_s: float = 10.0,
             what: str = "data") -> None:
        """Take records from the client until ``until(self)`` is true (fail after
        ``timeout_s`` wall seconds)."""
        deadline = time.monotonic() + timeout_s
        while not until(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; "
                                     f"{self.n_samples} samples, events {self.events}, "
                                     f"gaps {self.gaps}, errors {dict(self.errors)}")
            item = self.amp.get(timeout_s=0.02)
            if isinstance(item, Received):
                self.batches += item.samples
                self.gaps += item.gaps
                self.frames += item.frames
                self.errors.update(item.errors)
                self.n_samples += item.n_samples
                if item.samples:
                    self.last_index = int(item.samples[-1].sample_index()[-1])
            elif isinstance(item, LinkEvent):
                self.events.append(item)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def indices(self) -> np.ndarray:
        """Device sample index of every row received, in arrival order (int64)."""
        if not self.batches:
            return np.zeros(0, np.int64)
        return np.concatenate([b.sample_index() for b in self.batches]).astype(np.int64)

    def samples(self) -> np.ndarray:
        return np.concatenate([b.samples for b in self.batches])

    def digital(self) -> np.ndarray:
        return np.concatenate([b.digital for b in self.batches])


class Rig:
    """Opens benches, clients and raw ports; :meth:`close` closes all of them, newest first
    (clients before the bench they talk to)."""

    def __init__(self) -> None:
        self._open: list[Any] = []

    def _keep(self, thing: Any) -> Any:
        self._open.append(thing)
        return thing

    def bench(self, **options: Any) -> EmulatedBench:
        defaults = {"speed": 10.0, "jitter_ms": 20.0, "seed": 1, "n_channels": 2}
        return self._keep(EmulatedBench(**{**defaults, **options}))

    def bench_process(self, **options: Any) -> BenchProcess:
        defaults = {"speed": 10.0, "jitter_ms": 20.0, "seed": 1, "n_channels": 2}
        return self._keep(BenchProcess(**{**defaults, **options}))

    def amplifier(self, bench: EmulatedBench | BenchProcess, **options: Any) -> AmplifierClient:
        amp = AmplifierClient(bench.amplifier_url, timebase=bench.timebase, **options)
        amp.open()
        return self._keep(amp)

    def stimulator(self, bench: EmulatedBench, limits: StimLimits = LIMITS,
                   **options: Any) -> StimulatorClient:
        """A stimulator client; its watchdog timeout defaults to 5 s of experiment time (at
        10x speed 0.5 s of wall time, so a loaded test machine does not trip it)."""
        options.setdefault("heartbeat_timeout_ms", 5000)
        stim = StimulatorClient(bench.stimulator_url, limits, timebase=bench.timebase, **options)
        stim.open()
        return self._keep(stim)

    def raw(self, url: str) -> RawPort:
        return self._keep(RawPort(url))

    def close(self) -> None:
        while self._open:
            with contextlib.suppress(DeviceError):
                self._open.pop().close()


@pytest.fixture
def rig():
    """A :class:`Rig`; at the end everything is closed and no hreflex thread may be left."""
    r = Rig()
    yield r
    r.close()
    left = [t.name for t in threading.enumerate() if t.name.startswith("hreflex-")]
    assert not left, f"threads still running: {left}"
