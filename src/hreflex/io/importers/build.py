"""What every importer shares: units, stimulus edges, and the two Session builders.

Importers only parse their source; they hand arrays in volts to :func:`epoched_session`
(sweeps + one intensity per sweep) or :func:`continuous_session` (samples + stimulus sample
indices), which check them and fill the format-v1 tables the same way for every source.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.format import BLOCK_DTYPE, RECORDED_WINDOW_DTYPE, STIMULUS_DTYPE, empty_table
from hreflex.io.importers.tables import read_lines
from hreflex.io.session import Session, SessionMeta
from hreflex.io.validate import check_pre_trigger, check_rate, check_recorded_windows

#: ``--units`` value -> volts per unit
VOLTS_PER_UNIT = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "μV": 1e-6}  # micro sign, Greek mu


def volts_per_unit(units: str, source: Path, what: str = "--units") -> float:
    """Scale factor to volts for ``units`` (V, mV, uV/µV); ConfigError naming ``what`` if unknown."""
    if units not in VOLTS_PER_UNIT:
        raise ConfigError(
            f"{source}: {what} {units!r} is not a unit this importer knows (expected V, mV or uV)"
        )
    return VOLTS_PER_UNIT[units]


def as_number(text: str | float | None) -> float | None:
    """``text`` as a float, or None when it is not a number (e.g. a variable name)."""
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def intensity_factor(scale: float | None, source: Path) -> float:
    """mA per stored intensity unit: ``--intensity-scale`` (checked: a positive number) or 1."""
    if scale is None:
        return 1.0
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"{source}: --intensity-scale {scale!r} must be a positive number")
    return float(scale)


def read_as(factor: float) -> str:
    """``"read as µA"`` for a factor of 0.001 mA per unit (how provenance names the unit)."""
    unit = {1.0: "mA", 1e-3: "µA", 1e-6: "nA", 1e3: "A"}.get(factor, f"units of {factor:g} mA")
    return f"read as {unit}"


def no_scale_for_constant(scale: float | None, source: Path) -> None:
    """ConfigError when ``--intensity-scale`` comes with a constant ``--intensity`` (mA)."""
    if scale is not None:
        raise ConfigError(
            f"{source}: --intensity-scale applies to intensities read from the file, not to a "
            "constant --intensity (give it in mA)"
        )


def read_numbers(path: Path) -> np.ndarray:
    """Numbers of a sidecar file (commas, spaces or new lines between them; a first
    non-numeric token, e.g. a column name, is skipped)."""
    tokens = [t for t in re.split(r"[,;\s]+", " ".join(read_lines(path))) if t]
    if tokens and as_number(tokens[0]) is None:
        tokens = tokens[1:]
    bad = [t for t in tokens if as_number(t) is None]
    if bad or not tokens:
        raise FileFormatError(
            f"{path}: {bad[0]!r} is not a number" if bad else f"{path}: no numbers"
        )
    values = np.array([float(t) for t in tokens])
    wrong = ~(np.isfinite(values) & (values >= 0))
    if wrong.any():
        k = int(np.flatnonzero(wrong)[0])
        raise FileFormatError(f"{path}: value {k + 1} is {values[k]:g}; intensities are "
                              "finite numbers >= 0")
    return values


def per_stimulus(values, n: int, source: Path, what: str) -> np.ndarray:
    """One float per stimulus from a constant or a vector of length ``n`` (any 1×n / n×1 shape)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 1:
        return np.full(n, arr[0])
    if arr.size != n:
        raise FileFormatError(
            f"{source}: {what} has {arr.size} values, expected {n} (one per stimulus)"
        )
    return arr


def rising_edges(x: np.ndarray, threshold: float) -> np.ndarray:
    """Indices (int64) of the first sample above ``threshold`` after one at or below it.

    A signal already above the threshold at sample 0 does not count as an edge there.
    """
    above = np.asarray(x).ravel() > threshold
    return np.flatnonzero(above[1:] & ~above[:-1]).astype(np.int64) + 1


def _samples(data: np.ndarray, source: Path) -> None:
    """EMG from a source: finite volts, NaN where not recorded, not all of it NaN."""
    if np.isinf(data).any():
        raise FileFormatError(f"{source}: the EMG holds infinite values (expected numbers, "
                              "or NaN where nothing was recorded)")
    if np.isnan(data).all():
        raise FileFormatError(f"{source}: every EMG sample is NaN (nothing was recorded)")


def _stimuli(n: int, intensity_mA, pulse_width_us, source: Path) -> np.ndarray:
    stimuli = empty_table(STIMULUS_DTYPE, n)
    stimuli["intensity_mA"] = per_stimulus(intensity_mA, n, source, "intensity")
    if pulse_width_us is not None:
        stimuli["pulse_width_us"] = per_stimulus(pulse_width_us, n, source, "pulse width")
    bad = ~np.isfinite(stimuli["intensity_mA"]) | (stimuli["intensity_mA"] < 0)
    if bad.any():
        raise FileFormatError(
            f"{source}: intensity of stimulus {int(np.flatnonzero(bad)[0])} is "
            f"{stimuli['intensity_mA'][bad][0]:g}; expected a finite number of mA >= 0"
        )
    stimuli["block_id"] = 0
    stimuli["sync_method"] = b"imported"
    return stimuli


def _attrs(description: dict | None, source: Path) -> dict:
    """``devices["source"]``: the file name plus ``description``, lists of text joined by "; "
    (HDF5 attributes hold numbers, strings and numeric arrays)."""
    out = {"file": source.name}
    for key, value in (description or {}).items():
        if isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
            value = "; ".join(map(str, value))
        out[key] = value
    return out


def _single_block(label: str) -> np.ndarray:
    blocks = empty_table(BLOCK_DTYPE, 1)
    blocks[0] = (0, b"recruitment", label.encode()[:64])
    return blocks


def _windows(windows: np.ndarray | None, n_channels: int, source: Path) -> np.ndarray:
    """RECORDED_WINDOW rows, checked as the validator checks them (an importer bug, not the
    user's, if this fails)."""
    table = empty_table(RECORDED_WINDOW_DTYPE) if windows is None else windows
    problems = check_recorded_windows(table, n_channels)
    if problems:
        raise FileFormatError(f"{source}: " + "; ".join(problems))
    return table


def _channels(names: list[str] | None, muscles: list[str] | None, n: int, source: Path):
    names = list(names) if names else [f"ch{i}" for i in range(n)]
    muscles = list(muscles) if muscles else [""] * n
    if len(names) != n or len(muscles) != n:
        raise ConfigError(
            f"{source}: {len(names)} channel names / {len(muscles)} muscles for {n} channels"
        )
    return names, muscles


def _timing(source: Path, rate: float, pre_ms: float | None = None, n_samples: int = 0) -> None:
    """ConfigError unless the sampling rate (and an epoched file's pre-trigger time) obey
    the rules of the session format (the validator's own checks)."""
    problems = check_rate(rate, "sampling rate (sample_rate_Hz)")
    if pre_ms is not None and not problems:
        problems = check_pre_trigger(pre_ms, n_samples, float(rate), "pre-trigger time")
    if problems:
        raise ConfigError(f"{source}: {problems[0]}")


def epoched_session(
    source: Path,
    sweeps_V: np.ndarray,
    sample_rate_Hz: float,
    pre_trigger_ms: float,
    intensity_mA,
    *,
    pulse_width_us=None,
    channel_names: list[str] | None = None,
    channel_muscles: list[str] | None = None,
    meta: SessionMeta | None = None,
    description: dict | None = None,
    stimulus_fields: dict[str, np.ndarray] | None = None,
    blocks: np.ndarray | None = None,
    recorded_windows: np.ndarray | None = None,
) -> Session:
    """Epoched :class:`Session` from sweeps in volts.

    ``sweeps_V``: (n_sweeps, n_channels, n_samples), sample 0 ``pre_trigger_ms`` before the
    stimulus. ``intensity_mA`` / ``pulse_width_us``: one value per sweep or a constant.
    ``stimulus_fields``: more per-sweep columns of the stimulus table (``block_id``,
    ``train_id``, ...); with ``blocks`` they replace the default single ``recruitment`` block
    that holds every sweep. ``description`` goes to ``devices["source"]``;
    ``recorded_windows`` (RECORDED_WINDOW rows) are the source's own M/H windows.
    """
    sweeps = np.asarray(sweeps_V, dtype=np.float32)
    if sweeps.ndim != 3 or 0 in sweeps.shape:
        raise FileFormatError(
            f"{source}: sweeps must be (n_sweeps, n_channels, n_samples), got shape {sweeps.shape}"
        )
    _timing(source, sample_rate_Hz, pre_trigger_ms, sweeps.shape[2])
    _samples(sweeps, source)
    n = sweeps.shape[0]
    stimuli = _stimuli(n, intensity_mA, pulse_width_us, source)
    for name, values in (stimulus_fields or {}).items():
        stimuli[name] = per_stimulus(values, n, source, name)
    names, muscles = _channels(channel_names, channel_muscles, sweeps.shape[1], source)
    return Session(
        meta=meta or SessionMeta(),
        sample_rate_Hz=float(sample_rate_Hz),
        channel_names=names,
        channel_muscles=muscles,
        scale_V_per_count=np.ones(len(names)),
        sweeps=sweeps,
        pre_trigger_ms=float(pre_trigger_ms),
        stimuli=stimuli,
        blocks=_single_block(source.name) if blocks is None else blocks,
        recorded_windows=_windows(recorded_windows, len(names), source),
        devices={"source": _attrs(description, source)},
    )


def continuous_session(
    source: Path,
    signal_V: np.ndarray,
    sample_rate_Hz: float,
    stimulus_index: np.ndarray,
    intensity_mA,
    *,
    pulse_width_us=None,
    trigger: np.ndarray | None = None,
    channel_names: list[str] | None = None,
    channel_muscles: list[str] | None = None,
    meta: SessionMeta | None = None,
    description: dict | None = None,
    recorded_windows: np.ndarray | None = None,
) -> Session:
    """Continuous :class:`Session` from (n_samples, n_channels) volts and stimulus onsets.

    ``stimulus_index``: onset sample of each stimulus (found on ``trigger``, the (n_samples,)
    boolean/0-1 trigger line, when given: it is stored as bit 0 of ``/emg/trigger``).
    """
    signal = np.asarray(signal_V, dtype=np.float32)
    if signal.ndim != 2 or 0 in signal.shape:
        raise FileFormatError(
            f"{source}: signal must be (n_samples, n_channels), got shape {signal.shape}"
        )
    _timing(source, sample_rate_Hz)
    _samples(signal, source)
    index = np.asarray(stimulus_index, dtype=np.int64).ravel()
    if index.size == 0:
        raise FileFormatError(f"{source}: no stimuli found")
    if index.min() < 0 or index.max() >= len(signal):
        raise FileFormatError(
            f"{source}: stimulus sample indices {index.min()}..{index.max()} fall outside the "
            f"{len(signal)} samples of the signal"
        )
    stimuli = _stimuli(index.size, intensity_mA, pulse_width_us, source)
    stimuli["sample_index"] = index
    stimuli["time_s"] = index / float(sample_rate_Hz)
    if trigger is not None:
        stimuli["sync_method"] = b"trigger"
        stimuli["sync_residual_samples"] = 0.0
        trigger = (np.asarray(trigger).ravel() != 0).astype(np.uint8)
    names, muscles = _channels(channel_names, channel_muscles, signal.shape[1], source)
    return Session(
        meta=meta or SessionMeta(),
        sample_rate_Hz=float(sample_rate_Hz),
        channel_names=names,
        channel_muscles=muscles,
        scale_V_per_count=np.ones(len(names)),
        continuous=signal,
        trigger=trigger,
        stimuli=stimuli,
        blocks=_single_block(source.name),
        recorded_windows=_windows(recorded_windows, len(names), source),
        devices={"source": _attrs(description, source)},
    )
