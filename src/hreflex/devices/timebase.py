"""Experiment time: the clock that device-side durations are measured on.

Real hardware runs in real time (``speed = 1``). Emulated devices may run faster than real time
(``speed > 1``); everything a device measures (heartbeat periods, stimulus intervals, device
timestamps) then runs ``speed`` times faster than the wall clock, and a host that talks to them
must measure those durations on the same clock. Host-side guards against silence (response
timeouts, stall detection, reconnect timeouts) stay in wall-clock seconds.
"""

from __future__ import annotations

import math
import time

__all__ = ["Timebase"]


class Timebase:
    """Experiment time in seconds: ``(time.monotonic() - start) * speed``. Immutable, so it can
    be shared between threads (and between a host driver and device emulators). ``start``
    (a ``time.monotonic()`` reading; default: now) lets another process on the same machine
    build the same time base (the monotonic clock is system-wide)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
        self.speed = float(speed)
        self.start = time.monotonic() if start is None else float(start)

    def now_s(self) -> float:
        """Experiment seconds since this time base was created."""
        return (time.monotonic() - self.start) * self.speed

    def wall_s(self, duration_s: float) -> float:
        """Wall-clock seconds that ``duration_s`` seconds of experiment time take."""
        return duration_s / self.speed

    def sleep(self, duration_s: float) -> None:
        """Sleep for ``duration_s`` seconds of experiment time."""
        time.sleep(max(0.0, duration_s) / self.speed)
