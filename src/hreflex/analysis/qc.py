"""Quality control: which sweeps are flagged and why, as non-destructive annotations.

Flags are (n_sweeps, n_channels) boolean arrays. A flag named in ``QcConfig.exclude``
(background, clipping) keeps the sweep out of recruitment and RDD; sweeps that could not be
read (outside the recording, in a gap, NaN samples) are always left out.
"""

from __future__ import annotations

import numpy as np

from hreflex.analysis.config import QcConfig
from hreflex.io.format import ANNOTATION_DTYPE, empty_table


def background_limit(background_V: np.ndarray, usable: np.ndarray, cfg: QcConfig
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel background limit and median, V (n_channels,) each.

    The limit is the smaller of ``background_max_uV`` and ``background_max_relative`` x the
    channel's median over usable sweeps, the latter never below ``background_floor_uV`` (a
    zero setting switches a limit off); NaN when neither applies or no sweep has a
    background value.
    """
    ok = usable & np.isfinite(background_V)
    median = np.full(background_V.shape[1], np.nan)
    has = ok.any(axis=0)
    if has.any():
        median[has] = np.nanmedian(np.where(ok[:, has], background_V[:, has], np.nan), axis=0)
    limits = [np.full(median.shape, np.inf)]
    if cfg.background_max_uV > 0:
        limits.append(np.full(median.shape, cfg.background_max_uV * 1e-6))
    if cfg.background_max_relative > 0:
        relative = np.maximum(cfg.background_max_relative * median, cfg.background_floor_uV * 1e-6)
        limits.append(np.where(np.isfinite(median), relative, np.inf))
    limit = np.min(limits, axis=0)
    return np.where(np.isfinite(limit), limit, np.nan), median


def sweep_reasons(unusable: np.ndarray, background_V: np.ndarray, limit_V: np.ndarray,
                  clipped: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Reasons per sweep and channel, and the flags behind them.

    ``unusable`` (n_sweeps, n_channels) strings from :class:`~hreflex.analysis.epochs.Epochs`;
    returns ``(reasons, flags)``: reasons (n_sweeps, n_channels) object array of
    "; "-joined strings ("" = clean), flags ``{"unusable", "background", "clipping"}``.
    """
    flags = {
        "unusable": unusable != "",
        "background": np.isfinite(background_V) & (background_V > limit_V[None, :]),
        "clipping": clipped,
    }
    reasons = np.array(unusable, dtype=object)
    for s, c in zip(*np.nonzero(flags["background"]), strict=True):  # flagged sweeps only
        reasons[s, c] = _join(reasons[s, c], f"background EMG {background_V[s, c] * 1e6:.1f} µV "
                              f"above limit {limit_V[c] * 1e6:.1f} µV")
    for s, c in zip(*np.nonzero(flags["clipping"] & ~flags["unusable"]), strict=True):
        reasons[s, c] = _join(reasons[s, c], "amplifier saturated inside the M or H window")
    return reasons, flags


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def excluded(flags: dict[str, np.ndarray], cfg: QcConfig) -> np.ndarray:
    """(n_sweeps, n_channels) True where a sweep is left out of the results."""
    out = flags["unusable"].copy()
    for name in cfg.exclude:
        out |= flags[name]
    return out


def annotations(reasons: np.ndarray) -> np.ndarray:
    """ANNOTATION_DTYPE rows (``source = auto-qc``) for every non-empty reason; a reason
    shared by all channels of a sweep becomes one row with channel -1."""
    rows = []
    n_ch = reasons.shape[1] if reasons.ndim == 2 else 0
    for s in np.flatnonzero((reasons != "").any(axis=1)) if n_ch else []:
        row = list(reasons[s])
        if n_ch > 1 and all(r == row[0] for r in row):
            rows.append((s, -1, row[0]))
        else:
            rows.extend((s, c, r) for c, r in enumerate(row) if r)
    table = empty_table(ANNOTATION_DTYPE, len(rows))
    for i, (s, c, r) in enumerate(rows):
        table[i] = (s, c, r.encode("utf-8")[:128], b"auto-qc")
    return table
