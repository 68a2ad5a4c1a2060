"""MATLAB .mat files: v5 (scipy.io) and v7.3 (HDF5, h5py), epoched or continuous.

Variables are named on the command line. Epoched: ``sweeps`` (2-D samples × sweeps in either
order, or 3-D with a channel axis) plus ``intensity``; continuous: ``signal`` (vector or
samples × channels in either order) plus a ``trigger`` vector whose rising edges are the
stimuli. v7.3 arrays are transposed back to the shape MATLAB shows; singleton dimensions are
dropped (1×N, N×1 and N are the same vector). ``a.b`` names a struct field.
"""

from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.build import (
    as_number,
    continuous_session,
    epoched_session,
    intensity_factor,
    no_scale_for_constant,
    per_stimulus,
    read_as,
    rising_edges,
    volts_per_unit,
)
from hreflex.io.importers.origins import Origins, value_range
from hreflex.io.session import Session


class _MatFile:
    """Numeric variables of a .mat file by name, in MATLAB's axis order, squeezed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hdf5 = h5py.is_hdf5(path)
        if not self.hdf5:
            import scipy.io

            try:
                self._vars = scipy.io.loadmat(path, simplify_cells=True)
            except (
                ValueError,
                TypeError,
                OSError,
                NotImplementedError,
                IndexError,
                KeyError,
                EOFError,
                AttributeError,
                struct.error,
            ) as exc:  # scipy on a cut file
                detail = " ".join(str(exc).split()) or type(exc).__name__
                raise FileFormatError(
                    f"{path}: not a readable MATLAB file (truncated or corrupt: {detail})"
                ) from None

    def _h5(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            raise FileFormatError(
                f"{self.path}: not a readable MATLAB v7.3 file (truncated or "
                f"corrupt: {' '.join(str(exc).split())})"
            ) from None

    def names(self) -> list[str]:
        if self.hdf5:
            with self._h5() as f:
                return [k for k in f if not k.startswith("#")]
        return [k for k in self._vars if not k.startswith("__")]

    def __call__(self, name: str, what: str) -> np.ndarray:
        if self.hdf5:
            with self._h5() as f:
                node = f.get(name.replace(".", "/"))
                try:
                    value = node[()].T if isinstance(node, h5py.Dataset) else node and "a struct"
                except OSError as exc:
                    raise FileFormatError(
                        f"{self.path}: variable {name!r} ({what}) cannot be read (the file is "
                        f"truncated or corrupt: {' '.join(str(exc).split())})"
                    ) from None
        else:
            value = self._vars
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            raise FileFormatError(
                f"{self.path}: variable {name!r} ({what}) not found; the file holds "
                f"{', '.join(self.names()) or 'no variables'}"
            )
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf" or arr.size == 0:
            kind = (
                value
                if isinstance(value, str)
                else "a struct"
                if isinstance(value, dict)
                else f"{type(value).__name__} of {arr.dtype}"
            )
            raise FileFormatError(
                f"{self.path}: variable {name!r} ({what}) is {kind}; expected a numeric array"
            )
        return np.squeeze(arr).astype(np.float64)


def _intensity(
    mat: _MatFile, intensity: str | None, scale: float | None, origins: Origins
) -> np.ndarray | float:
    """A constant (mA) or a variable's values × ``scale`` (mA per stored unit)."""
    if intensity is None:
        raise ConfigError(f"{mat.path}: give --intensity (a variable name or a constant in mA)")
    constant = as_number(intensity)
    if constant is not None:
        no_scale_for_constant(scale, mat.path)
        origins.set("intensity", f"{constant:g} mA", "option", "--intensity (read as mA)")
        return constant
    factor = intensity_factor(scale, mat.path)
    values = mat(intensity, "intensity").ravel() * factor
    origins.set(
        "intensity",
        value_range(values, "mA"),
        "option",
        f"variable {intensity} ({read_as(factor)})",
    )
    return values


def _need(value, option: str, path: Path):
    if value is None:
        raise ConfigError(f"{path}: {option} is required for this import")
    return value


def _epoched(mat: _MatFile, name: str, current, sweep_axis: int | None) -> np.ndarray:
    """Sweeps variable -> (n_sweeps, n_channels, n_samples)."""
    x = mat(name, "sweeps")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim not in (2, 3):
        raise FileFormatError(
            f"{mat.path}: variable {name!r} has shape {x.shape}; expected 2-D (samples × sweeps) "
            "or 3-D (with a channel axis)"
        )
    if sweep_axis is None:
        n = np.size(current)
        axes = [a for a in range(x.ndim) if x.shape[a] == n] if n > 1 else []
        if len(axes) != 1:
            raise ConfigError(
                f"{mat.path}: cannot tell which axis of {name!r} (shape {x.shape}) holds the "
                f"sweeps ({n} intensit{'y' if n == 1 else 'ies'}); give --sweep-axis"
            )
        sweep_axis = axes[0]
    if not 0 <= sweep_axis < x.ndim:
        raise ConfigError(f"{mat.path}: --sweep-axis {sweep_axis} but {name!r} has {x.ndim} axes")
    x = np.moveaxis(x, sweep_axis, 0)
    if x.ndim == 2:
        return x[:, None, :]
    if x.shape[1] == x.shape[2]:
        raise FileFormatError(
            f"{mat.path}: cannot tell samples from channels in {name!r} (shape {x.shape})"
        )
    return x if x.shape[2] > x.shape[1] else np.swapaxes(x, 1, 2)


def _signal(mat: _MatFile, name: str, n_samples: int) -> np.ndarray:
    """Signal variable -> (n_samples, n_channels), the time axis matched to the trigger."""
    x = mat(name, "signal")
    axes = [a for a in range(x.ndim) if x.shape[a] == n_samples]
    if x.ndim > 2 or len(axes) != 1:
        raise FileFormatError(
            f"{mat.path}: variable {name!r} has shape {x.shape}; expected a vector or a "
            f"samples × channels matrix with one axis of {n_samples} samples (the trigger's length)"
        )
    return x.reshape(n_samples, 1) if x.ndim == 1 else np.moveaxis(x, axes[0], 0)


def read_mat(
    path: str | Path,
    *,
    sweeps: str | None = None,
    signal: str | None = None,
    trigger: str | None = None,
    intensity: str | None = None,
    sample_rate: float | None = None,
    pre_ms: float | None = None,
    sweep_axis: int | None = None,
    trigger_threshold: float | None = None,
    units: str | None = None,
    intensity_scale: float | None = None,
    pulse_width_us: float | None = None,
) -> Session:
    """Import a MATLAB .mat file (v5 or v7.3).

    Epoched (``sweeps``): needs ``intensity`` (variable, one per sweep, or constant mA),
    ``sample_rate`` and ``pre_ms``; the sweep axis is the one whose length equals the number of
    intensities unless ``sweep_axis`` says. Continuous (``signal``): needs ``trigger`` (a
    vector), ``sample_rate`` and ``intensity`` (one per stimulus, or constant); stimuli are the
    trigger's rising edges through ``trigger_threshold`` (in the trigger's own units; default
    halfway between its minimum and maximum). ``units`` (V, mV, uV; default V) says what the
    EMG numbers are; ``intensity_scale`` (mA per stored unit, default 1) scales an intensity
    variable.
    """
    path = Path(path)
    if (sweeps is None) == (signal is None):
        raise ConfigError(f"{path}: give either --sweeps (epoched) or --signal (continuous)")
    scale = volts_per_unit(units or "V", path)
    mat = _MatFile(path)
    origins = Origins()
    origins.set("units", units or "V", *(("option", "--units") if units else ("default",)))
    if pulse_width_us is not None:
        origins.set(
            "pulse width", f"{pulse_width_us:g} µs", "option", "--pulse-width-us (read as µs)"
        )
    description = {"system": "MATLAB", "version": "7.3" if mat.hdf5 else "5", "units": units or "V"}
    if sweeps is not None:
        for option, value in (("--trigger", trigger), ("--trigger-threshold", trigger_threshold)):
            if value is not None:
                raise ConfigError(f"{path}: {option} is for continuous imports (--signal)")
        current = _intensity(mat, intensity, intensity_scale, origins)
        x = _epoched(mat, sweeps, current, sweep_axis)
        return epoched_session(
            path,
            x * scale,
            _need(sample_rate, "--sample-rate", path),
            _need(pre_ms, "--pre-ms", path),
            per_stimulus(current, x.shape[0], path, f"--intensity {intensity}"),
            pulse_width_us=pulse_width_us,
            description={**description, "sweeps_variable": sweeps, "provenance": origins.text()},
        )
    for option, value in (("--pre-ms", pre_ms), ("--sweep-axis", sweep_axis)):
        if value is not None:
            raise ConfigError(f"{path}: {option} is for epoched imports (--sweeps)")
    line, onsets, threshold = _trigger_onsets(mat, trigger, trigger_threshold, origins)
    x = _signal(mat, signal, line.size)
    current = _intensity(mat, intensity, intensity_scale, origins)
    return continuous_session(
        path,
        x * scale,
        _need(sample_rate, "--sample-rate", path),
        onsets,
        per_stimulus(current, onsets.size, path, f"--intensity {intensity}"),
        pulse_width_us=pulse_width_us,
        trigger=line > threshold,
        description={
            **description,
            "signal_variable": signal,
            "trigger_variable": trigger,
            "trigger_threshold": threshold,
            "provenance": origins.text(),
        },
    )


def _trigger_onsets(
    mat: _MatFile, trigger: str | None, trigger_threshold: float | None, origins: Origins
) -> tuple[np.ndarray, np.ndarray, float]:
    """The trigger vector, its rising-edge sample indices and the threshold used (noted in
    ``origins``); raises when the variable is not a vector or never rises."""
    path = mat.path
    line = mat(_need(trigger, "--trigger", path), "trigger")
    if line.ndim != 1:
        raise FileFormatError(
            f"{path}: variable {trigger!r} has shape {line.shape}; expected a vector"
        )
    threshold = (
        0.5 * (line.min() + line.max()) if trigger_threshold is None else float(trigger_threshold)
    )
    onsets = rising_edges(line, threshold)
    if onsets.size == 0:
        raise FileFormatError(
            f"{path}: variable {trigger!r} never rises through {threshold:g}; expected one "
            "rising edge per stimulus (set --trigger-threshold)"
        )
    how = (
        ("option", "--trigger-threshold")
        if trigger_threshold is not None
        else ("default", "half-way min..max")
    )
    origins.set("trigger", f"variable {trigger} rising through {threshold:g}", *how)
    return line, onsets, threshold
