"""The stimulus scheduler: the plan → when the next pulse may go, and with what.

:meth:`Scheduler.next` answers, at experiment time ``now_s``, one of

- :class:`Wait` (sleep this long, wall seconds, then ask again),
- :class:`Derive` (the next block's test intensity is still unknown: derive it from the
  recorded sweeps, :meth:`Scheduler.set_intensity`, and ask again),
- :class:`Go` (fire planned stimulus ``k`` now, at this intensity and pulse width).

Rules (``docs/ACQUISITION.md``, "Timing"): stimulus k goes at ``max(planned time + shift,
earliest FIRE the guard's rate limit allows + margin)``; ``shift`` grows by every delay
(:meth:`Scheduler.fired`), so later intervals are never shorter than planned. A gated
stimulus (``plan.gated[k]``) also waits until the background gate is ready, at most
``max_wait_s``, then goes flagged ``gate_timeout``. The scheduler decides only: it sends
nothing (stimulation does) and never reads a device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from hreflex.acquisition.plan import Plan, resolve_intensity

#: extra wait after the guard's rate limit: host-to-device latency varies by this much (wall s)
RATE_MARGIN_WALL_S = 0.003
#: longest main-loop sleep (wall s)
TICK_S = 0.01


class Gate(Protocol):
    """What the scheduler asks the background gate (:class:`~.gating.BackgroundGate`)."""

    def ready(self, exclude: Iterable[tuple[int, int]] = ()) -> bool: ...


@dataclass(frozen=True)
class Wait:
    """Ask again after ``wall_s`` wall seconds."""

    wall_s: float


@dataclass(frozen=True)
class Derive:
    """Block ``block`` (index into the config's protocols) needs its test intensity first."""

    block: int


@dataclass(frozen=True)
class Go:
    """Fire planned stimulus ``k`` now: ``intensity_mA``, ``pulse_width_us``; ``wait_s`` it
    waited for the gate (experiment s), ``flags`` for its row (``gate_timeout``)."""

    k: int
    intensity_mA: float
    pulse_width_us: float
    wait_s: float
    flags: tuple[str, ...]


class Scheduler:
    """Plan → next pulse (see the module doc). ``speed``: experiment time / wall time;
    ``gate``: None for no gating; ``max_wait_s``: longest gating wait (experiment s)."""

    def __init__(self, plan: Plan, *, speed: float = 1.0, gate: Gate | None = None,
                 max_wait_s: float = math.inf) -> None:
        self.plan, self.speed, self.gate, self.max_wait_s = plan, speed, gate, max_wait_s
        #: the next planned stimulus
        self.k = 0
        #: experiment time of the plan's time 0 plus every delay so far (s)
        self.shift_s = 0.0
        self._gate_t0: float | None = None

    @property
    def n(self) -> int:
        return len(self.plan.schedule)

    @property
    def done(self) -> bool:
        """Every planned stimulus was fired."""
        return self.k >= self.n

    def start(self, t0_s: float) -> None:
        """The plan's time 0 is experiment time ``t0_s``."""
        self.shift_s = t0_s

    def next(self, now_s: float, earliest_fire_s: float,
             exclude: Callable[[], Iterable[tuple[int, int]]] = tuple,
             pending: bool = False) -> Wait | Derive | Go:
        """What to do at experiment time ``now_s`` (``earliest_fire_s``: the guard's rate
        limit; ``exclude()``: row intervals of recent responses the gate leaves out;
        ``pending``: pulses not written yet, whose sweeps a derivation may need)."""
        k, s = self.k, self.plan.schedule
        block = int(s.block_id[k])
        if any(d.block_id == block for d in self.plan.deferred):
            return Wait(TICK_S) if pending else Derive(block)
        due = float(s.time_s[k]) + self.shift_s
        go = max(due, earliest_fire_s + self.speed * RATE_MARGIN_WALL_S + 0.001)
        if now_s < go:
            return Wait((go - now_s) / self.speed)
        wait_s, flags = 0.0, ()
        if self.gate is not None and self.plan.gated[k]:
            if self._gate_t0 is None:
                self._gate_t0 = now_s
            wait_s = now_s - self._gate_t0
            if not self.gate.ready(exclude()):
                if wait_s < self.max_wait_s:
                    return Wait(TICK_S / 2)
                flags = ("gate_timeout",)
        return Go(k, float(s.intensity_mA[k]), float(s.pulse_width_us[k]), wait_s, flags)

    def fired(self, k: int, sent_s: float) -> None:
        """Planned stimulus ``k`` went out (FIRE sent at experiment time ``sent_s``)."""
        self._gate_t0 = None
        self.shift_s = max(self.shift_s, sent_s - float(self.plan.schedule.time_s[k]))
        self.k = k + 1

    def set_intensity(self, block: int, intensity_mA: float) -> None:
        """The derived test intensity of ``block`` (its stimuli get it)."""
        self.plan = resolve_intensity(self.plan, block, intensity_mA)
