"""Pooling sweeps per stimulus intensity: level assignment and per-level statistics."""

from __future__ import annotations

import numpy as np


def intensity_levels(intensity_mA: np.ndarray, tolerance: float = 0.005
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Group intensities (n,) into levels.

    A level starts at the smallest intensity not yet grouped and takes in every intensity
    up to ``tolerance`` x that intensity above it (delivered currents scatter around the
    requested value; distinct requested values, e.g. 16 and 16.5 mA, stay apart however
    far the other intensities of the session reach). Returns ``(levels_mA (L,), level
    (n,))``: each level's mean intensity, ascending, and the level index of every element
    (-1 where the intensity is not finite).
    """
    intensity_mA = np.asarray(intensity_mA, dtype=np.float64)
    ok = np.isfinite(intensity_mA)
    level = np.full(intensity_mA.shape, -1, dtype=np.int64)
    if not ok.any():
        return np.zeros(0), level
    values = intensity_mA[ok]
    distinct, which = np.unique(values, return_inverse=True)
    group = np.zeros(distinct.size, dtype=np.int64)  # one pass over the distinct values
    first = distinct[0]
    for k in range(1, distinct.size):
        new = distinct[k] > first + tolerance * abs(first)
        group[k] = group[k - 1] + new
        first = distinct[k] if new else first
    level[ok] = group[which]
    n_levels = int(group[-1]) + 1
    means = np.bincount(level[ok], weights=values, minlength=n_levels) / np.bincount(
        level[ok], minlength=n_levels)
    return means, level


def level_stats(values: np.ndarray, level: np.ndarray, n_levels: int,
                include: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, SD (ddof 1, NaN for n < 2) and count per level and channel.

    ``values``/``include`` (n_sweeps, n_channels); ``level`` (n_sweeps,) from
    :func:`intensity_levels`. Sweeps with ``include`` False or level -1 are left out.
    Returns three (n_levels, n_channels) arrays; the mean is NaN where n = 0.
    """
    use = include & (level >= 0)[:, None] & np.isfinite(values)
    x = np.where(use, values, 0.0)
    onehot = (level[None, :] == np.arange(n_levels)[:, None]).astype(np.float64)
    n = onehot @ use.astype(np.float64)
    s1, s2 = onehot @ x, onehot @ (x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        var = np.where(n > 1, (s2 - n * mean**2) / np.maximum(n - 1, 1), np.nan)
    return mean, np.sqrt(np.clip(var, 0, None)), n.astype(np.int64)


def level_means(data: np.ndarray, level: np.ndarray, n_levels: int,
                include: np.ndarray) -> np.ndarray:
    """Mean sweep per level: data (n_sweeps, n_channels, n_samples), include
    (n_sweeps, n_channels) -> (n_levels, n_channels, n_samples); zero where no sweep.
    Per channel one matrix product (levels x sweeps weights) @ (sweeps x samples): no copy
    of the sweeps."""
    use = include & (level >= 0)[:, None]
    out = np.zeros((n_levels, *data.shape[1:]), dtype=data.dtype)
    for c in range(data.shape[1]):
        weights = ((level[None, :] == np.arange(n_levels)[:, None]) & use[None, :, c])
        counts = weights.sum(axis=1)
        if counts.any():
            out[:, c] = (weights.astype(data.dtype) @ data[:, c]) / np.maximum(counts, 1)[:, None]
    return out
