"""Stimulus schedules: what to deliver, when, at which intensity, grouped in blocks and trains.

A :class:`Schedule` is a frozen set of equal-length arrays, one element per planned stimulus,
in time order. Builders make one block each (``recruitment``, ``rdd``, ``fixed``), starting at
t = 0; :func:`concat` joins them into one session. Invalid arguments raise ``ConfigError``
naming the argument. Randomness (jitter, order) comes from ``seed`` (an int or a numpy
``Generator``), so a schedule is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hreflex.errors import ConfigError

BLOCK_KINDS = ("recruitment", "rdd", "fixed")


@dataclass(frozen=True)
class Block:
    """A group of stimuli with one purpose; ``kind`` is one of ``BLOCK_KINDS``."""

    block_id: int
    kind: str
    label: str


@dataclass(frozen=True, eq=False)
class Schedule:
    """Planned stimuli, shape (n,) each, sorted by ``time_s``.

    ``time_s``: planned time from session start (s); ``intensity_mA``; ``pulse_width_us``;
    ``block_id`` (an id in ``blocks``); ``train_id`` (-1 outside trains); ``pulse_index``
    (index within the train, -1 outside); ``nominal_frequency_Hz`` (train frequency in RDD
    blocks, NaN elsewhere). Arrays are read-only.
    """

    time_s: np.ndarray
    intensity_mA: np.ndarray
    pulse_width_us: np.ndarray
    block_id: np.ndarray
    train_id: np.ndarray
    pulse_index: np.ndarray
    nominal_frequency_Hz: np.ndarray
    blocks: tuple[Block, ...] = field(default=())

    FIELD_DTYPES = {
        "time_s": float,
        "intensity_mA": float,
        "pulse_width_us": float,
        "block_id": np.int32,
        "train_id": np.int32,
        "pulse_index": np.int32,
        "nominal_frequency_Hz": float,
    }

    def __post_init__(self) -> None:
        n = len(np.atleast_1d(self.time_s))
        for name, dtype in self.FIELD_DTYPES.items():
            arr = np.array(getattr(self, name), dtype=dtype).reshape(-1)
            if arr.shape != (n,):
                raise ConfigError(f"schedule: {name} has {arr.size} elements, expected {n}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if np.any(np.diff(self.time_s) < 0):
            raise ConfigError("schedule: time_s must be non-decreasing")
        for b in self.blocks:
            if b.kind not in BLOCK_KINDS:
                raise ConfigError(f"schedule: block kind {b.kind!r} not in {BLOCK_KINDS}")
        unknown = set(np.unique(self.block_id).tolist()) - {b.block_id for b in self.blocks}
        if unknown:
            raise ConfigError(f"schedule: block_id {sorted(unknown)} missing from blocks")

    def __len__(self) -> int:
        return self.time_s.size

    @property
    def duration_s(self) -> float:
        """Time of the last planned stimulus (0 for an empty schedule)."""
        return float(self.time_s[-1]) if len(self) else 0.0


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_common(pulse_width_us: float, isi_s: float | None = None, jitter_s: float = 0.0):
    _check(
        np.isfinite(pulse_width_us) and pulse_width_us > 0,
        f"pulse_width_us must be > 0, got {pulse_width_us}",
    )
    if isi_s is not None:
        _check(np.isfinite(isi_s) and isi_s > 0, f"isi_s must be > 0, got {isi_s}")
    _check(np.isfinite(jitter_s) and jitter_s >= 0, f"jitter_s must be >= 0, got {jitter_s}")


def _intervals_to_times(n: int, isi_s: float, jitter_s: float, rng) -> np.ndarray:
    """n times starting at 0, spaced ``isi_s + U(0, jitter_s)``."""
    gaps = isi_s + jitter_s * rng.random(max(n - 1, 0))
    return np.concatenate([[0.0], np.cumsum(gaps)])


def _single_block(
    kind,
    label,
    time_s,
    intensity_mA,
    pulse_width_us,
    train_id=None,
    pulse_index=None,
    nominal_frequency_Hz=None,
) -> Schedule:
    n = len(time_s)
    return Schedule(
        time_s=time_s,
        intensity_mA=intensity_mA,
        pulse_width_us=np.broadcast_to(pulse_width_us, (n,)),
        block_id=np.zeros(n),
        train_id=np.full(n, -1) if train_id is None else train_id,
        pulse_index=np.full(n, -1) if pulse_index is None else pulse_index,
        nominal_frequency_Hz=np.full(n, np.nan)
        if nominal_frequency_Hz is None
        else nominal_frequency_Hz,
        blocks=(Block(0, kind, label),),
    )


def intensity_levels(start_mA: float, stop_mA: float, step_mA: float) -> np.ndarray:
    """``start, start + step, ...`` up to and including ``stop`` (rounded to 1e-9 mA)."""
    _check(all(np.isfinite([start_mA, stop_mA, step_mA])), "intensity range must be finite")
    _check(step_mA > 0, f"step_mA must be > 0, got {step_mA}")
    _check(start_mA >= 0, f"start_mA must be >= 0, got {start_mA}")
    _check(stop_mA >= start_mA, f"stop_mA ({stop_mA}) must be >= start_mA ({start_mA})")
    n = int(np.floor((stop_mA - start_mA) / step_mA + 1e-9)) + 1
    return np.round(start_mA + step_mA * np.arange(n), 9)


def recruitment(
    intensities_mA: Sequence[float] | np.ndarray | None = None,
    *,
    start_mA: float | None = None,
    stop_mA: float | None = None,
    step_mA: float | None = None,
    sweeps: int = 4,
    isi_s: float = 10.0,
    jitter_s: float = 0.0,
    randomize: bool = False,
    pulse_width_us: float = 1000.0,
    seed: int | np.random.Generator | None = 0,
    label: str = "recruitment",
) -> Schedule:
    """Recruitment-curve block: every intensity ``sweeps`` times, one stimulus per interval.

    Intensities come from ``intensities_mA`` or from ``start_mA/stop_mA/step_mA`` (inclusive).
    Order: ascending, each intensity repeated ``sweeps`` times in a row; with ``randomize``,
    ``sweeps`` rounds, each a fresh random permutation of all intensities. Stimulus n+1
    follows stimulus n after ``isi_s + U(0, jitter_s)`` seconds.
    """
    if intensities_mA is None:
        _check(
            None not in (start_mA, stop_mA, step_mA),
            "recruitment: give intensities_mA or all of start_mA, stop_mA, step_mA",
        )
        levels = intensity_levels(start_mA, stop_mA, step_mA)
    else:
        _check(
            start_mA is None and stop_mA is None and step_mA is None,
            "recruitment: give intensities_mA or a start/stop/step range, not both",
        )
        levels = np.asarray(intensities_mA, dtype=float).reshape(-1)
    _check(levels.size > 0, "recruitment: intensities_mA is empty")
    _check(
        bool(np.all(np.isfinite(levels) & (levels >= 0))),
        "recruitment: intensities_mA must be finite and >= 0",
    )
    _check(int(sweeps) == sweeps and sweeps >= 1, f"sweeps must be an integer >= 1, got {sweeps}")
    _check_common(pulse_width_us, isi_s, jitter_s)
    rng = _rng(seed)
    if randomize:
        order = np.concatenate([rng.permutation(levels) for _ in range(int(sweeps))])
    else:
        order = np.repeat(np.sort(levels), int(sweeps))
    times = _intervals_to_times(order.size, isi_s, jitter_s, rng)
    return _single_block("recruitment", label, times, order, pulse_width_us)


def rdd(
    frequencies_Hz: Sequence[float],
    *,
    intensity_mA: float,
    pulses_per_train: int = 10,
    rest_s: float = 30.0,
    pulse_width_us: float = 1000.0,
    randomize: bool = False,
    seed: int | np.random.Generator | None = 0,
    label: str = "rdd",
) -> Schedule:
    """Rate-dependent-depression block: one train of ``pulses_per_train`` pulses per frequency.

    Pulse k of a train at f Hz is at ``train_start + k / f``; the next train starts ``rest_s``
    after the last pulse of the previous one. Trains follow ``frequencies_Hz`` in the given
    order (or a random order with ``randomize``); ``train_id`` counts trains from 0.
    """
    freqs = np.asarray(frequencies_Hz, dtype=float).reshape(-1)
    _check(freqs.size > 0, "rdd: frequencies_Hz is empty")
    _check(bool(np.all(np.isfinite(freqs) & (freqs > 0))), "rdd: frequencies_Hz must be > 0")
    _check(
        int(pulses_per_train) == pulses_per_train and pulses_per_train >= 2,
        f"rdd: pulses_per_train must be an integer >= 2, got {pulses_per_train}",
    )
    _check(np.isfinite(rest_s) and rest_s >= 0, f"rdd: rest_s must be >= 0, got {rest_s}")
    _check(
        np.isfinite(intensity_mA) and intensity_mA >= 0,
        f"rdd: intensity_mA must be >= 0, got {intensity_mA}",
    )
    _check_common(pulse_width_us)
    if randomize:
        freqs = _rng(seed).permutation(freqs)
    n = int(pulses_per_train)
    k = np.arange(n)
    offsets = k[None, :] / freqs[:, None]  # (trains, pulses), from each train's start
    starts = np.concatenate([[0.0], np.cumsum(offsets[:-1, -1] + rest_s)])
    return _single_block(
        "rdd",
        label,
        (starts[:, None] + offsets).ravel(),
        np.full(freqs.size * n, intensity_mA),
        pulse_width_us,
        train_id=np.repeat(np.arange(freqs.size), n),
        pulse_index=np.tile(k, freqs.size),
        nominal_frequency_Hz=np.repeat(freqs, n),
    )


def fixed(
    intensity_mA: float,
    n_stimuli: int,
    *,
    isi_s: float = 10.0,
    jitter_s: float = 0.0,
    pulse_width_us: float = 1000.0,
    seed: int | np.random.Generator | None = 0,
    label: str = "fixed",
) -> Schedule:
    """``n_stimuli`` stimuli at one intensity, ``isi_s + U(0, jitter_s)`` apart."""
    _check(
        np.isfinite(intensity_mA) and intensity_mA >= 0,
        f"fixed: intensity_mA must be >= 0, got {intensity_mA}",
    )
    _check(
        int(n_stimuli) == n_stimuli and n_stimuli >= 1,
        f"fixed: n_stimuli must be an integer >= 1, got {n_stimuli}",
    )
    _check_common(pulse_width_us, isi_s, jitter_s)
    times = _intervals_to_times(int(n_stimuli), isi_s, jitter_s, _rng(seed))
    return _single_block(
        "fixed", label, times, np.full(int(n_stimuli), intensity_mA), pulse_width_us
    )


def concat(*schedules: Schedule, gap_s: float = 10.0) -> Schedule:
    """One session from several schedules, in order.

    Each schedule starts ``gap_s`` after the previous one's last stimulus; block ids are
    renumbered 0, 1, ... in order of appearance and train ids are offset to stay unique.
    """
    _check(len(schedules) > 0, "concat: no schedules given")
    _check(np.isfinite(gap_s) and gap_s > 0, f"concat: gap_s must be > 0, got {gap_s}")
    parts, blocks = [], []
    t0, next_train = 0.0, 0
    for s in schedules:
        _check(len(s) > 0, "concat: empty schedule")
        remap = {b.block_id: len(blocks) + i for i, b in enumerate(s.blocks)}
        blocks += [Block(remap[b.block_id], b.kind, b.label) for b in s.blocks]
        trains = np.where(s.train_id >= 0, s.train_id + next_train, -1)
        next_train = max(next_train, int(trains.max()) + 1)
        parts.append(
            dict(
                time_s=s.time_s - s.time_s[0] + t0,
                intensity_mA=s.intensity_mA,
                pulse_width_us=s.pulse_width_us,
                block_id=np.vectorize(remap.get, otypes=[np.int32])(s.block_id),
                train_id=trains,
                pulse_index=s.pulse_index,
                nominal_frequency_Hz=s.nominal_frequency_Hz,
            )
        )
        t0 = float(parts[-1]["time_s"][-1]) + gap_s
    return Schedule(
        **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, blocks=tuple(blocks)
    )
