"""A device's own clock: it drifts against the bench's true time and restarts when it boots."""

from __future__ import annotations

import math

__all__ = ["DeviceClock"]


class DeviceClock:
    """Device time in seconds = (true time − boot time) × (1 + ``drift_ppm`` · 1e-6).

    True time is the bench's :class:`~hreflex.devices.timebase.Timebase` (experiment seconds);
    ``drift_ppm`` > 0 means the device's crystal runs fast.
    """

    def __init__(self, drift_ppm: float = 0.0, boot_s: float = 0.0) -> None:
        self.drift_ppm = float(drift_ppm)
        self.rate = 1.0 + self.drift_ppm * 1e-6
        self.boot_s = float(boot_s)

    def time_s(self, true_s: float) -> float:
        return (true_s - self.boot_s) * self.rate

    def time_us(self, true_s: float) -> int:
        """Whole microseconds (what a device's µs counter reads)."""
        return math.floor(self.time_s(true_s) * 1e6)

    def true_s(self, device_s: float) -> float:
        """The true time at which this clock reads ``device_s``."""
        return self.boot_s + device_s / self.rate

    def reboot(self, true_s: float) -> None:
        """The device restarted at ``true_s``: its clock reads 0 there."""
        self.boot_s = float(true_s)
