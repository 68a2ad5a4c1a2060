"""Matched amplitudes: each sweep's size as a multiple of its wave's mean shape.

A wave of fixed shape whose size changes (an H-reflex depressed by fast trains) is, in sweep
i, ``k_i T`` plus noise, T the mean of the wave's large sweeps. ``k_i`` is the coefficient
of T in the least-squares fit of the sweep's window by T, a constant and a straight line (an
offset or a slow drift across the window does not count). It is linear in the data, so noise
averages out of a mean of k instead of adding to it as it does to a peak-to-peak. ``k_i``
times the configured measure of T is the sweep's **matched amplitude**: exactly the measure
for a noise-free sweep of T's shape. RDD uses it where the depressed H is read near the
noise floor (:data:`LOW_SNR`), the H recruitment curve where the channel's largest H is
(:data:`LOW_SNR_CURVE`); ``docs/METRICS.md`` (steps 6 and 7) has the definition.
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.measures import amplitude

#: RDD is computed from matched amplitudes when a frequency's mean H reading is below this
#: multiple of the H window's noise floor (there the net-of-floor correction, step 7, is
#: steep and a peak-to-peak's noise no longer averages out)
LOW_SNR = 3.0
#: a channel's H recruitment (and so its RDD) is computed from matched amplitudes when its
#: largest per-level mean H reading is below this multiple of the H window's noise floor
#: and its H keeps one shape (``channel.shape_agreement``; there a peak-to-peak's noise and
#: its floor correction are the largest error; otherwise the configured measure is kept,
#: exact for any shape)
LOW_SNR_CURVE = 15.0


def matched_amplitudes(data_V: np.ndarray, time_ms: np.ndarray, span: tuple[int, int],
                       template_sweeps: np.ndarray, measure: str) -> np.ndarray | None:
    """(n_sweeps,) matched amplitudes (mV or mV·ms, signed: a sweep of noise averages 0) of
    one channel's sweeps ``data_V`` (n_sweeps, n_samples) V in the window ``span`` (sample
    range ``[a, b)``), the template the mean of ``template_sweeps`` (n_sweeps,) bool. None
    when there is no template or it is flat or not finite."""
    a, b = span
    if not template_sweeps.any():
        return None
    template = data_V[template_sweeps, a:b].mean(axis=0, dtype=np.float64)
    size = float(amplitude(template, float(time_ms[1] - time_ms[0]), measure))
    basis = np.stack([np.ones(b - a), np.linspace(-1.0, 1.0, b - a), template], axis=1)
    if not (size > 0 and np.isfinite(basis).all()) or np.linalg.matrix_rank(basis) < 3:
        return None
    weights = np.linalg.pinv(basis)[2]  # (k,): the template's least-squares coefficient
    return (data_V[:, a:b] @ weights) * size
