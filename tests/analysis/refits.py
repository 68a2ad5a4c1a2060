"""The reference the bootstrap refits' tolerances are judged against: every replicate
refitted to convergence, and how far an interval's ends are from that reference's."""

from __future__ import annotations

import numpy as np
import pytest

import hreflex.analysis.intervals as intervals


def refit_to_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on (until ``monkeypatch.undo()``), every bootstrap refit runs 400 steps to a
    tolerance of 1e-10 (``raising=False``: the tolerances are absent from older code)."""
    monkeypatch.setattr(intervals, "REFIT_ITERATIONS", 400)
    monkeypatch.setattr(intervals, "REFIT_TOL", 1e-10, raising=False)
    monkeypatch.setattr(intervals, "SINGLE_REFIT_TOL", 1e-10, raising=False)


def end_shifts(ci: dict[str, tuple[float, float]], full: dict[str, tuple[float, float]],
               keys: tuple[str, ...]) -> dict[str, float]:
    """Per key, the larger distance of ``ci``'s two ends from ``full``'s, as a fraction of
    ``full``'s width."""
    return {k: float(np.abs(np.subtract(ci[k], full[k])).max() / (full[k][1] - full[k][0]))
            for k in keys}
