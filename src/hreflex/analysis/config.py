"""Analysis parameters: one frozen dataclass per pipeline step, read from a TOML file.

The dataclass defaults *are* the defaults; ``configs/analysis.toml`` is a commented copy of
them (a test keeps the two equal). Every key is documented in ``docs/METRICS.md``.
:func:`load_config` / :func:`config_from_dict` raise :class:`~hreflex.errors.ConfigError`
naming the file, table and key of any mistake.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hreflex.errors import ConfigError
from hreflex.io.toml import check_keys, load_toml
from hreflex.species import canonical_species

AMPLITUDE_MEASURES = ("p2p", "area", "rms", "mean_rect")
#: amplitude measure -> unit of the amplitudes it gives
AMPLITUDE_UNITS = {"p2p": "mV", "area": "mV·ms", "rms": "mV", "mean_rect": "mV"}
WINDOW_SOURCES = ("auto", "recorded")
THRESHOLD_METHODS = ("fraction", "mmax", "background")
#: default ``threshold_value`` per method: 5 % of the curve's own maximum, 10 % of Mmax,
#: 2 x the background (noise) peak-to-peak
THRESHOLD_DEFAULTS = {"fraction": 0.05, "mmax": 0.10, "background": 2.0}
#: H recruitment models (``docs/METRICS.md`` step 6); ``auto`` = the species' own
H_MODELS = ("auto", "bell", "persistent")
#: the H model of ``auto`` per species (:func:`~hreflex.species.canonical_species`; any other
#: species: bell): the rat's H persists at >= 90 % of Hmax with a supramaximal M
#: (METHODS.md), a human's falls away
SPECIES_H_MODEL = {"rat": "persistent", "mouse": "persistent"}


@dataclass(frozen=True)
class WindowPrior:
    """Where M and H may be, for one species (and optionally some muscles).

    The automatic window search only accepts an M-wave whose onset lies in ``m_onset_ms``
    and an H-reflex whose onset lies in ``h_onset_ms`` (ms after the stimulus); nothing is
    searched after ``max_end_ms``. The artifact is blanked from the stimulus to the end of
    the pulse plus ``blank_ms[0]`` at least and ``blank_ms[1]`` at most. ``smooth_ms`` is the
    width of the moving RMS used to tell activity from noise. ``muscles`` are
    case-insensitive substrings of the channel's muscle name; empty = any muscle.
    """

    name: str
    species: str
    muscles: tuple[str, ...]
    m_onset_ms: tuple[float, float]
    h_onset_ms: tuple[float, float]
    max_end_ms: float
    blank_ms: tuple[float, float]
    smooth_ms: float

    def matches(self, species: str, muscle: str) -> int:
        """0 = no match, 1 = species match, 2 = species and muscle match."""
        if canonical_species(self.species) != canonical_species(species):
            return 0
        if not self.muscles:
            return 1
        return 2 if any(m.lower() in muscle.lower() for m in self.muscles) else 0


_HUMAN = dict(species="human", max_end_ms=80.0, blank_ms=(0.5, 3.0), smooth_ms=1.0)
#: Sources: METHODS.md (soleus M 6-20 ms, H 31.5-43.5 ms; H 30.8 +/- 2.6 ms, longer legs
#: later; FCR H 15.9 +/- 1.3 ms, M 3-4 ms; rat M ~2 ms, H 6.4 +/- 0.4 ms), bounds widened.
DEFAULT_PRIORS = (
    WindowPrior("human triceps surae", muscles=("soleus", "gastroc", "triceps"),
                m_onset_ms=(2.0, 12.0), h_onset_ms=(20.0, 50.0), **_HUMAN),
    WindowPrior("human forearm flexors", muscles=("flexor carpi", "fcr", "flexor"),
                m_onset_ms=(1.5, 8.0), h_onset_ms=(10.0, 30.0), **_HUMAN),
    WindowPrior("human", muscles=(), m_onset_ms=(1.5, 12.0), h_onset_ms=(10.0, 50.0), **_HUMAN),
    WindowPrior("rat", species="rat", muscles=(), m_onset_ms=(0.5, 4.0), h_onset_ms=(3.5, 12.0),
                max_end_ms=25.0, blank_ms=(0.1, 1.0), smooth_ms=0.25),
    # [assumption] METHODS.md has no mouse numbers: the rat's bounds (the rat's H latency at
    # the ankle hardly depends on body size, 6.0-6.6 ms from 100 to 500 g)
    WindowPrior("mouse", species="mouse", muscles=(), m_onset_ms=(0.5, 4.0),
                h_onset_ms=(3.5, 12.0), max_end_ms=25.0, blank_ms=(0.1, 1.0), smooth_ms=0.25),
)


@dataclass(frozen=True)
class ConditioningConfig:
    """Baseline removal and optional zero-phase filters (applied per sweep)."""

    baseline_ms: tuple[float, float] = (-55.0, -5.0)  #: DC is the mean over this window
    bandpass: bool = False  #: off by default: p2p is measured on the amplifier's signal
    bandpass_Hz: tuple[float, float] = (10.0, 1000.0)  #: surface-EMG band when switched on
    filter_order: int = 2  #: Butterworth order (doubled by the forward-backward pass)
    notch: bool = False
    notch_Hz: float = 50.0  #: mains (50 or 60); harmonics are not removed
    notch_q: float = 30.0
    #: mains interference taken out of every sweep by regression on its baseline window
    #: (harmonics 1-3 of 50 or 60 Hz; ``auto`` picks the one with more power): auto | 50 |
    #: 60 | off
    mains: str = "auto"


@dataclass(frozen=True)
class WindowConfig:
    """Automatic M/H windows, their priors and manual overrides.

    ``source = "recorded"`` uses the windows stored in the session (``/emg/recorded_windows``,
    e.g. EPOCS's own) where a channel has them. ``manual`` maps a channel name (or ``"*"``: every channel) to ``{"m": (start, stop),
    "h": (start, stop)}`` in ms after the stimulus; either key may be left out.
    """

    source: str = "auto"  #: auto | recorded (the windows the recording system stored)
    priors: tuple[WindowPrior, ...] = DEFAULT_PRIORS
    manual: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    detrend_min_ms: float = 30.0  #: level means lose their baseline's linear trend (drift)
    #: before the search when the baseline window holds this long (0 = off)
    activity_sd: float = 5.0  #: activity counts above this x noise RMS of the level mean
    activity_fraction: float = 0.02  #: ... and above this fraction of its own peak
    onset_sd: float = 3.0  #: onset: departure from the baseline by this x its noise RMS


@dataclass(frozen=True)
class QcConfig:
    """Per-sweep quality checks (annotations; flagged sweeps are left out of the results)."""

    background_ms: tuple[float, float] = (-55.0, -5.0)  #: pre-stimulus EMG window
    background_max_uV: float = 0.0  #: absolute RMS limit, 0 = off
    background_max_relative: float = 2.0  #: limit as a multiple of the channel's median
    background_floor_uV: float = 20.0  #: the relative limit is never below this (quiet rest)
    clip_level_V: float = 0.0  #: |V| at which the amplifier saturates, 0 = from the file
    exclude: tuple[str, ...] = ("background", "clipping")  #: flags that exclude a sweep


@dataclass(frozen=True)
class RecruitmentConfig:
    """Pooling per intensity and curve fitting."""

    threshold_method: str = "fraction"  #: fraction | mmax | background
    threshold_value: float = 0.0  #: 0 = the method's default (THRESHOLD_DEFAULTS)
    min_r2: float = 0.8  #: a fit below this is not acceptable
    plateau_fraction: float = 0.95  #: plateau if fitted M at the top intensity >= this
    intensity_tolerance: float = 0.005  #: a level spans this x its lowest intensity
    h_model: str = "auto"  #: H curve model: auto (by species) | bell | persistent

    @property
    def threshold(self) -> float:
        return self.threshold_value or THRESHOLD_DEFAULTS[self.threshold_method]

    def for_species(self, species: str | None) -> RecruitmentConfig:
        """This configuration with ``h_model`` "auto" made the species' model
        (:data:`SPECIES_H_MODEL`; bell for any other or no species)."""
        if self.h_model != "auto":
            return self
        model = SPECIES_H_MODEL.get(canonical_species(species), "bell")
        return replace(self, h_model=model)


@dataclass(frozen=True)
class RddConfig:
    """Rate-dependent depression."""

    skip_first: int = 1  #: responses 0..skip_first-1 of every train are left out
    reference_Hz: float = 0.0  #: 0 = the lowest frequency present
    m_change_pct: float = 20.0  #: flag when mean M varies more than this across frequencies
    interval_tolerance_ms: float = 2.0  #: inferred trains: consecutive intervals equal within
    min_pulses: int = 3  #: inferred trains: at least this many pulses


@dataclass(frozen=True)
class AnalysisConfig:
    """All analysis parameters (see ``docs/METRICS.md``)."""

    amplitude: str = "p2p"  #: measure used for recruitment and RDD: p2p | area | rms | mean_rect
    conditioning: ConditioningConfig = ConditioningConfig()
    windows: WindowConfig = WindowConfig()
    qc: QcConfig = QcConfig()
    recruitment: RecruitmentConfig = RecruitmentConfig()
    rdd: RddConfig = RddConfig()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every parameter (tuples become lists)."""
        return asdict(self)


_SECTIONS = {
    "conditioning": ConditioningConfig,
    "windows": WindowConfig,
    "qc": QcConfig,
    "recruitment": RecruitmentConfig,
    "rdd": RddConfig,
}


def _pair(value: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not value[0] < value[1]
    ):
        raise ConfigError(f"{where}: expected [start, stop] with start < stop, got {value!r}")
    return float(value[0]), float(value[1])


#: allowed ranges of the numeric keys, as (left bracket, low, high or None, right bracket);
#: every other number must be >= 0
RANGES: dict[str, tuple[str, float, float | None, str]] = {
    "activity_sd": ("(", 0.0, None, ")"), "activity_fraction": ("[", 0.0, 1.0, ")"),
    "onset_sd": ("(", 0.0, None, ")"), "filter_order": ("[", 1, 8, "]"),
    "notch_Hz": ("(", 0.0, None, ")"), "notch_q": ("(", 0.0, None, ")"),
    "min_r2": ("[", 0.0, 1.0, "]"), "plateau_fraction": ("(", 0.0, 1.0, "]"),
    "intensity_tolerance": ("[", 0.0, 1.0, ")"), "skip_first": ("[", 0, 1000, "]"),
    "min_pulses": ("[", 2, 10000, "]"),
}


def _coerce(cls: type, name: str, value: Any, where: str) -> Any:
    """Check one scalar/pair/list value against the type of ``cls.name``'s default."""
    default = {f.name: f.default for f in fields(cls)}[name]
    key = f"{where} {name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        if isinstance(default, int) and value != int(value):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        left, lo, hi, right = RANGES.get(name, ("[", 0.0, None, ")"))
        ok = (value >= lo if left == "[" else value > lo) and (
            hi is None or (value <= hi if right == "]" else value < hi))
        if not ok:
            top = "inf" if hi is None else f"{hi:g}"
            raise ConfigError(f"{key}: must be in {left}{lo:g}, {top}{right}, got {value!r}")
        return type(default)(value)
    if isinstance(default, str):
        if name == "mains" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and value == int(value):
            return str(int(value))  # mains = 50 as well as "50" (Hz)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if isinstance(default, tuple) and default and isinstance(default[0], str):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return tuple(value)
    return _pair(value, key)


def _prior(table: dict, where: str) -> WindowPrior:
    check_keys(table, [f.name for f in fields(WindowPrior)], where)
    missing = [f.name for f in fields(WindowPrior) if f.name not in table]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    try:
        return WindowPrior(
            name=str(table["name"]), species=str(table["species"]),
            muscles=tuple(str(m) for m in table["muscles"]),
            m_onset_ms=_pair(table["m_onset_ms"], f"{where} m_onset_ms"),
            h_onset_ms=_pair(table["h_onset_ms"], f"{where} h_onset_ms"),
            max_end_ms=float(table["max_end_ms"]),
            blank_ms=_pair(table["blank_ms"], f"{where} blank_ms"),
            smooth_ms=float(table["smooth_ms"]),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _windows(table: dict, where: str) -> WindowConfig:
    out = {}
    for key, value in table.items():
        if key == "priors":
            if not isinstance(value, list) or not value:
                raise ConfigError(f"{where} priors: expected a non-empty array of tables")
            out[key] = tuple(_prior(p, f"{where} priors[{i}]") for i, p in enumerate(value))
        elif key == "manual":
            if not isinstance(value, dict):
                raise ConfigError(f"{where} manual: expected a table of channels")
            manual = {}
            for channel, wins in value.items():
                w = f"{where} manual.{channel}"
                if not isinstance(wins, dict):
                    raise ConfigError(f"{w}: expected a table with m_ms and/or h_ms")
                check_keys(wins, ("m_ms", "h_ms"), w)
                manual[channel] = {k[0]: _pair(v, f"{w} {k}") for k, v in wins.items()}
            out[key] = manual
        else:
            out[key] = _coerce(WindowConfig, key, value, where)
    return WindowConfig(**out)


def config_from_dict(data: dict[str, Any], where: str = "analysis config") -> AnalysisConfig:
    """Build an :class:`AnalysisConfig` from a parsed TOML dict (missing keys: defaults).

    ``where`` names the source in error messages, e.g. the file name.
    """
    check_keys(data, ["amplitude", *_SECTIONS], where)
    if isinstance(data.get("windows"), str):  # windows = "recorded": short for [windows] source
        data = {**data, "windows": {"source": data["windows"]}}
    cfg = AnalysisConfig()
    if "amplitude" in data:
        cfg = replace(cfg, amplitude=_coerce(AnalysisConfig, "amplitude", data["amplitude"], where))
    for name, cls in _SECTIONS.items():
        table = data.get(name, {})
        w = f"{where} [{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{w}: expected a table")
        check_keys(table, [f.name for f in fields(cls)], w)
        if name == "windows":
            section = _windows(table, w)
        else:
            section = cls(**{k: _coerce(cls, k, v, w) for k, v in table.items()})
        cfg = replace(cfg, **{name: section})
    _validate(cfg, where)
    return cfg


MAINS_CHOICES = ("auto", "50", "60", "off")


def _validate(cfg: AnalysisConfig, where: str) -> None:
    if cfg.amplitude not in AMPLITUDE_MEASURES:
        raise ConfigError(f"{where} amplitude: {cfg.amplitude!r} is not one of "
                          f"{', '.join(AMPLITUDE_MEASURES)}")
    if cfg.windows.source not in WINDOW_SOURCES:
        raise ConfigError(f"{where} [windows] source: {cfg.windows.source!r} is not one of "
                          f"{', '.join(WINDOW_SOURCES)}")
    method = cfg.recruitment.threshold_method
    if method not in THRESHOLD_METHODS:
        raise ConfigError(f"{where} [recruitment] threshold_method: {method!r} is not one of "
                          f"{', '.join(THRESHOLD_METHODS)}")
    if cfg.recruitment.h_model not in H_MODELS:
        raise ConfigError(f"{where} [recruitment] h_model: {cfg.recruitment.h_model!r} is not "
                          f"one of {', '.join(H_MODELS)}")
    if cfg.conditioning.mains not in MAINS_CHOICES:
        raise ConfigError(f"{where} [conditioning] mains: {cfg.conditioning.mains!r} is not "
                          f"one of {', '.join(MAINS_CHOICES)}")
    unknown = set(cfg.qc.exclude) - {"background", "clipping"}
    if unknown:
        raise ConfigError(f"{where} [qc] exclude: unknown flag {sorted(unknown)[0]!r} "
                          "(allowed: background, clipping)")
    if cfg.conditioning.filter_order < 1:
        raise ConfigError(f"{where} [conditioning] filter_order: must be >= 1")


def load_config(path: str | Path | None) -> AnalysisConfig:
    """Read an analysis config TOML file; ``None`` gives the defaults."""
    if path is None:
        return AnalysisConfig()
    return config_from_dict(load_toml(path), where=str(path))


def prior_for(priors: tuple[WindowPrior, ...], species: str, muscle: str) -> WindowPrior:
    """The most specific prior for a channel: species + muscle, then species only, then the
    first species-only prior (a fallback for an unknown species; the caller reports it)."""
    best = max(priors, key=lambda p: p.matches(species, muscle))
    if best.matches(species, muscle):
        return best
    return next((p for p in priors if not p.muscles), priors[0])
