"""What a session run produced: :class:`RunResult` (files, delivered pulses, faults, why it
stopped) with one :class:`StimulusRecord` per pulse, and :func:`describe`, its summary for
the command line; also the records the engine's parts hand each other: :class:`Fired` (a
pulse fired and not yet written) and :class:`SessionStopped`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hreflex.acquisition.plan import format_duration
from hreflex.acquisition.recorder import RecorderStats
from hreflex.acquisition.sync import Placement
from hreflex.errors import HreflexError
from hreflex.protocol import StimEvent


class SessionStopped(HreflexError):
    """The session stopped before the end of the plan (everything so far is recorded)."""


@dataclass
class Fired:
    """A pulse fired (or reported by the stimulator) and not yet written.

    ``k``: planned stimulus (None: unplanned); ``event``: its STIM_EVENT (None: none came);
    ``h_send``/``h_ack``: experiment clock (s) when FIRE was sent / answered; ``wait_s``:
    gating wait; ``flags``: QC flags so far; ``requested``: (mA, µs); ``placement``: its row on
    the EMG clock once placed."""

    k: int | None
    event: StimEvent | None
    h_send: float
    h_ack: float
    wait_s: float
    flags: list[str]
    requested: tuple[float, float]
    placement: Placement | None = None


@dataclass
class StimulusRecord:
    """What the engine did for one delivered pulse (the file row holds the same and more).

    ``k``: planned stimulus (None: a pulse the engine did not plan); ``row``: EMG sample;
    times in experiment seconds: ``fired_s`` FIRE sent, ``processed_s`` row and line out."""

    k: int | None
    row: int
    method: str
    residual_samples: float
    wait_s: float
    fired_s: float
    processed_s: float
    intensity_mA: float
    M_mV: float
    H_mV: float
    background_uV: float
    flags: tuple[str, ...]


@dataclass
class RunResult:
    """The outcome of :meth:`Engine.run`: the files, what was delivered, why it stopped."""

    path: Path
    journal: Path | None
    seed: int
    n_planned: int
    stimuli: list[StimulusRecord] = field(default_factory=list)
    faults: list[tuple[str, str]] = field(default_factory=list)
    stopped: str | None = None  # None: the plan was completed
    test_intensities_mA: dict[int, float] = field(default_factory=dict)
    recorder: RecorderStats | None = None
    wall_s: float = 0.0
    device_s: float = 0.0

    @property
    def n_delivered(self) -> int:
        return len(self.stimuli)


def describe(result: RunResult) -> str:
    """Summary lines of a finished run (for the command line)."""
    lines = [f"session   {result.path}" + (f" (journal {result.journal})" if result.journal
                                           else ""),
             f"stimuli   {result.n_delivered} delivered of {result.n_planned} planned",
             f"duration  {format_duration(result.device_s)} of device time, "
             f"{result.wall_s:.1f} s wall"]
    methods: dict[str, int] = {}
    for s in result.stimuli:
        methods[s.method] = methods.get(s.method, 0) + 1
    if methods:
        lines.append("sync      " + ", ".join(f"{v} by {k}" for k, v in sorted(methods.items())))
    for block, mA in result.test_intensities_mA.items():
        lines.append(f"block #{block + 1}  test intensity {mA:.2f} mA (from recruitment)")
    if result.faults:
        kinds: dict[str, int] = {}
        for kind, _ in result.faults:
            kinds[kind] = kinds.get(kind, 0) + 1
        lines.append("faults    " + ", ".join(f"{k} × {v}" for k, v in kinds.items()))
    return "\n".join(lines)
