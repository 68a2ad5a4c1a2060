"""A simulated lab bench: an emulated amplifier and stimulator on one subject, with the truth.

    with EmulatedBench(preset="soleus_healthy", n_channels=2, speed=10.0,
                       drift_ppm=(+80, -60), jitter_ms=20, seed=1) as bench:
        amp = AmplifierClient(bench.amplifier_url, timebase=bench.timebase)
        stim = StimulatorClient(bench.stimulator_url, limits, timebase=bench.timebase)
        ...
        bench.delivered          # ground truth of every pulse
        bench.amplifier.inject("drop", n=3)

When the stimulator fires at true time t, the amplifier learns of it at the same instant
(both devices run under one lock, in one time order): the pulse gets the amplifier sample
index that t has on the *amplifier's* drifting clock (:meth:`EmulatedAmplifier.trigger`),
the EMG responds there and the trigger bit goes high (unless ``trigger_line=False``: a dead
trigger cable). The stimulator reports its own device time and, with
``latch_sample_index=True``, that amplifier sample too (a stimulator sharing the amplifier's
sample clock). :attr:`EmulatedBench.delivered` keeps what really happened.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from hreflex.devices.timebase import Timebase
from hreflex.protocol import StimEvent, StimLimits
from hreflex.sim.emulators.amplifier import EmulatedAmplifier
from hreflex.sim.emulators.stimulator import DEFAULT_LIMITS, EmulatedStimulator
from hreflex.sim.params import Preset

__all__ = ["DeliveredPulse", "EmulatedBench"]


@dataclass(frozen=True)
class DeliveredPulse:
    """Ground truth of one pulse: true time (experiment s), its amplifier sample index (None
    when the amplifier was not streaming) in sample-clock run ``amplifier_epoch``, what was
    delivered, and what the stimulator reported (pulse counter, its device time, request id)."""

    true_time_s: float
    amplifier_sample_index: int | None
    amplifier_epoch: int
    intensity_mA: float
    pulse_width_us: int
    pulse_counter: int
    stimulator_time_us: int
    request_id: int


class EmulatedBench:
    """Both emulated devices, their ports (pty links in a temporary directory, or sockets),
    and the truth.

    ``speed``: experiment seconds per wall second (shared :attr:`timebase`); ``drift_ppm``:
    (amplifier, stimulator) clock errors; ``jitter_ms``: output delivery jitter of both
    (experiment ms); ``signal``: ``"emg"`` or ``"test"`` (see the amplifier); ``limits``: the
    stimulator firmware's; ``trigger_line`` (False: the trigger input stays 0) and
    ``latch_sample_index`` (STIM_EVENTs carry the amplifier sample) as above. ``preset``,
    ``n_channels``, ``sample_rate_Hz`` (None: the
    preset's), ``noise``, ``contraction_probability`` and ``seed`` go to the amplifier's
    :class:`~hreflex.sim.EmgSynth`; ``buffer_bytes`` is the amplifier's output buffer.
    ``transport``: ``"pty"`` (default: real serial ports at stable paths) or ``"socket"``
    (``socket://127.0.0.1:PORT``: no pty between host and device), for both devices or as
    (amplifier, stimulator).
    """

    def __init__(self, preset: str | Preset = "soleus_healthy", n_channels: int | None = None,
                 sample_rate_Hz: int | None = None, speed: float = 10.0,
                 drift_ppm: tuple[float, float] = (80.0, -60.0), jitter_ms: float = 20.0,
                 seed: int = 1, signal: str = "emg", noise: bool = True,
                 contraction_probability: float = 0.0, limits: StimLimits = DEFAULT_LIMITS,
                 buffer_bytes: int = 1 << 23, trigger_line: bool = True,
                 latch_sample_index: bool = False,
                 transport: str | tuple[str, str] = "pty") -> None:
        self.timebase = Timebase(speed)
        self.lock = threading.RLock()
        self.directory = Path(tempfile.mkdtemp(prefix="hreflex-bench-"))
        self._delivered: list[DeliveredPulse] = []
        amp_transport, stim_transport = ((transport, transport) if isinstance(transport, str)
                                         else transport)
        common = {"timebase": self.timebase, "lock": self.lock, "jitter_ms": jitter_ms}
        self.amplifier = EmulatedAmplifier(
            self.directory / "amplifier", preset=preset, n_channels=n_channels,
            sample_rate_Hz=sample_rate_Hz, signal=signal, noise=noise,
            contraction_probability=contraction_probability, buffer_bytes=buffer_bytes,
            trigger_line=trigger_line, drift_ppm=drift_ppm[0], seed=seed,
            transport=amp_transport, **common)
        self.stimulator = EmulatedStimulator(
            self.directory / "stimulator", limits=limits, on_pulse=self._deliver,
            latch_sample_index=latch_sample_index, drift_ppm=drift_ppm[1], seed=seed + 1,
            transport=stim_transport, **common)
        try:
            self.amplifier.start()
            self.stimulator.start()
        except BaseException:
            self.close()
            raise

    @property
    def amplifier_url(self) -> str:
        return self.amplifier.url

    @property
    def stimulator_url(self) -> str:
        return self.stimulator.url

    @property
    def delivered(self) -> list[DeliveredPulse]:
        """Every pulse delivered so far (a copy)."""
        with self.lock:
            return list(self._delivered)

    def true_time_s(self) -> float:
        return self.timebase.now_s()

    def _deliver(self, true_s: float, event: StimEvent) -> int | None:
        index = self.amplifier.trigger(true_s, event.intensity_uA, event.pulse_width_us)
        self._delivered.append(DeliveredPulse(
            true_s, index, self.amplifier.epoch, event.intensity_uA / 1000.0,
            event.pulse_width_us, event.pulse_counter, event.device_time_us, event.request_id))
        return index

    def close(self) -> None:
        """Stop both devices and remove their links (idempotent)."""
        self.stimulator.close()
        self.amplifier.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> EmulatedBench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
