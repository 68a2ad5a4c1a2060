"""Bootstrap pieces: per-level means resampled within levels, percentile intervals.

Sweeps are resampled with replacement *within* their intensity level (the intensities are the
design, the responses the random part), with the small-sample correction of the resampled
deviations, ``mean + sqrt(n / (n - 1)) (mean* - mean)``, so a level of n sweeps shows the
variance of its mean, not (n - 1) / n of it. Pure numpy, no loop over replicates.
"""

from __future__ import annotations

import numpy as np

#: resamples per channel; fixed seed, so an analysis is reproducible
N_BOOT = 400
SEED = 20261201


def resampled_means(values: np.ndarray, level: np.ndarray, n_levels: int,
                    rng: np.random.Generator, n_boot: int = N_BOOT) -> np.ndarray:
    """(n_boot, n_levels) means of ``values`` (n,) resampled within ``level`` (n,) (-1 =
    unused), small-sample corrected; NaN where a level has no value."""
    ok = (level >= 0) & np.isfinite(values)
    v, lv = values[ok], level[ok]
    order = np.argsort(lv, kind="stable")
    v, lv = v[order], lv[order]
    count = np.bincount(lv, minlength=n_levels)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    pick = start[lv] + np.floor(rng.random((n_boot, v.size)) * count[lv]).astype(np.int64)
    onehot = (lv[:, None] == np.arange(n_levels)[None, :]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(lv, weights=v, minlength=n_levels) / count
        boot = (v[pick] @ onehot) / count
        corr = np.where(count > 1, np.sqrt(count / np.maximum(count - 1, 1)), 1.0)
        return mean + corr * (boot - mean)


def percentile_interval(samples: np.ndarray, min_valid: float = 0.9
                        ) -> tuple[float, float] | None:
    """2.5 and 97.5 percentiles of the finite ``samples`` (B,); None when fewer than
    ``min_valid`` of them are finite."""
    ok = np.isfinite(samples)
    if ok.mean() < min_valid:
        return None
    lo, hi = np.percentile(samples[ok], [2.5, 97.5])
    return float(lo), float(hi)
