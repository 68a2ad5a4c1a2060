"""Bootstrap pieces: per-level means resampled within levels, percentile intervals.

Sweeps are resampled with replacement *within* their intensity level (the intensities are the
design, the responses the random part), with the small-sample correction of the resampled
deviations, ``mean + sqrt(n / (n - 1)) (mean* - mean)``, so a level of n sweeps shows the
variance of its mean, not (n - 1) / n of it. Pure numpy, no loop over replicates.
"""

from __future__ import annotations

import numpy as np

#: resamples per channel; fixed seed, so an analysis is reproducible
N_BOOT = 300
SEED = 20261201
#: replicates drawn and summed this many at a time (the draws, (B, n) doubles, are the
#: largest temporaries of an analysis after the sweeps)
BLOCK = 100


def resampled_means(values: np.ndarray, level: np.ndarray, n_levels: int,
                    rng: np.random.Generator, n_boot: int = N_BOOT) -> np.ndarray:
    """(n_boot, n_levels, k) means of the columns of ``values`` (n, k) resampled within
    ``level`` (n,) (-1 = unused; the same draws for every column, so the columns stay
    paired), small-sample corrected; NaN where a level has no value."""
    ok = (level >= 0) & np.isfinite(values).all(axis=1)
    v, lv = values[ok], level[ok]
    order = np.argsort(lv, kind="stable")
    v, lv = v[order], lv[order]
    count = np.bincount(lv, minlength=n_levels)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    out = np.full((n_boot, n_levels, v.shape[1]), np.nan)
    present = np.flatnonzero(count)
    if present.size == 0:
        return out
    firsts = start[present]  # sweeps are sorted by level: sum each level's block
    n = count[present][:, None]
    mean = np.add.reduceat(v, firsts, axis=0) / n
    corr = np.where(n > 1, np.sqrt(n / np.maximum(n - 1, 1)), 1.0)
    # one column at a time: gathering the rows of the (n, k) array at once (v[pick]) is
    # several times slower than k gathers of contiguous columns (same values, same sums)
    cols = np.ascontiguousarray(v.T)
    for lo in range(0, n_boot, BLOCK):  # replicates in blocks (the same draws, in order)
        rows = min(BLOCK, n_boot - lo)
        pick = start[lv] + np.floor(rng.random((rows, lv.size)) * count[lv]).astype(np.int64)
        boot = np.stack([np.add.reduceat(col[pick], firsts, axis=1) for col in cols],
                        axis=-1) / n[None]
        out[lo:lo + rows, present] = mean + corr * (boot - mean)
    return out


def percentile_interval(samples: np.ndarray, min_valid: float = 0.9
                        ) -> tuple[float, float] | None:
    """2.5 and 97.5 percentiles of the finite ``samples`` (B,); None when fewer than
    ``min_valid`` of them are finite."""
    ok = np.isfinite(samples)
    if ok.mean() < min_valid:
        return None
    lo, hi = np.percentile(samples[ok], [2.5, 97.5])
    return float(lo), float(hi)
