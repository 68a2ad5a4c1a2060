"""Emulated lab devices speaking the wire protocol over pty pairs or localhost sockets
(``docs/DEVICES.md``).

:class:`EmulatedBench` joins an :class:`EmulatedAmplifier` and an :class:`EmulatedStimulator`
on one simulated subject, with drifting device clocks, USB-like delivery jitter, a speed
factor, fault injection and the ground truth of every delivered pulse; :class:`BenchProcess`
runs one in a child process.
"""

from hreflex.sim.emulators.amplifier import AmplifierConfig, EmulatedAmplifier, known_pattern
from hreflex.sim.emulators.bench import DeliveredPulse, EmulatedBench
from hreflex.sim.emulators.clock import DeviceClock
from hreflex.sim.emulators.device import (
    FAULT_KINDS,
    TRANSPORTS,
    EmulatedDevice,
    FaultRecord,
    ReceivedCommand,
)
from hreflex.sim.emulators.process import BenchProcess
from hreflex.sim.emulators.pty_link import PtyLink
from hreflex.sim.emulators.socket_link import SocketLink
from hreflex.sim.emulators.stimulator import DEFAULT_LIMITS, EmulatedStimulator

__all__ = [
    "DEFAULT_LIMITS", "FAULT_KINDS", "AmplifierConfig", "BenchProcess", "DeliveredPulse",
    "DeviceClock", "EmulatedAmplifier", "EmulatedBench", "EmulatedDevice", "EmulatedStimulator",
    "FaultRecord", "PtyLink", "ReceivedCommand", "SocketLink", "TRANSPORTS", "known_pattern",
]
