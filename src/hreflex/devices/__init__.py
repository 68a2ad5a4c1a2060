"""Host-side drivers of the lab devices (``docs/DEVICES.md``).

- :class:`AmplifierClient`: identify, configure, start/stop streaming; a reader thread decodes
  sample blocks into :class:`Received` records with gap records and error counts.
- :class:`StimulatorClient`: identify (device limits), set stimulus, arm, fire, disarm, a
  heartbeat thread and a queue of delivered pulses, behind one safety guard.
- :func:`open_port` / :class:`UsbMatch`: ports from a path, a pyserial URL or VID/PID/serial.
- :class:`Timebase`: experiment time (faster than real time with emulated devices).
"""

from hreflex.devices.amplifier import AmplifierClient, Received
from hreflex.devices.link import DeviceLink, LinkEvent, NackError
from hreflex.devices.stimulator import StimulatorClient
from hreflex.devices.timebase import Timebase
from hreflex.devices.transport import PortTarget, UsbMatch, find_port, open_port

__all__ = [
    "AmplifierClient", "DeviceLink", "LinkEvent", "NackError", "PortTarget", "Received",
    "StimulatorClient", "Timebase", "UsbMatch", "find_port", "open_port",
]
