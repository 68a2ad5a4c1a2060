"""Live view while recording: pure formatting of one terminal line per stimulus and of the
overall progress bar with ETA. The engine measures; these functions only format.

Unknown values (None or NaN) show as ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hreflex.acquisition.plan import format_duration


def _num(value: float | None, fmt: str, width: int) -> str:
    if value is None or not math.isfinite(value):
        return "-".rjust(width)
    return format(value, fmt).rjust(width)


def stimulus_line(
    *,
    n: int,
    n_total: int,
    time_s: float,
    intensity_mA: float,
    M_mV: float | None,
    H_mV: float | None,
    background_uV: float | None,
    wait_s: float = 0.0,
    flags: Sequence[str] = (),
    block: str = "",
) -> str:
    """One line for stimulus ``n`` (1-based) of ``n_total``: session time (s), delivered
    intensity (mA), M and H peak-to-peak in the current windows (mV), background EMG RMS (µV),
    time it waited for gating (s), block label and QC flags (comma-separated)."""
    digits = len(str(n_total))
    parts = [
        f"{n:>{digits}}/{n_total}",
        f"t {_num(time_s, '.1f', 7)} s",
        f"I {_num(intensity_mA, '.2f', 6)} mA",
        f"M {_num(M_mV, '.3f', 6)} mV",
        f"H {_num(H_mV, '.3f', 6)} mV",
        f"bg {_num(background_uV, '.1f', 6)} µV",
        f"wait {_num(wait_s, '.1f', 4)} s",
    ]
    if block:
        parts.append(block)
    if flags:
        parts.append("[" + ",".join(flags) + "]")
    return "  ".join(parts)


def eta_s(planned_time_s: np.ndarray, n_done: int, elapsed_s: float) -> float:
    """Seconds until the last planned stimulus.

    ``planned_time_s`` (n,) is the schedule's planned times (first at 0). The planned time
    still ahead, from the last delivered stimulus to the last one, is stretched by how much
    slower than planned the session has run so far (gating waits, reconnects), never shrunk.
    """
    t = np.asarray(planned_time_s, float)
    if n_done >= len(t):
        return 0.0
    if n_done <= 0:
        return float(t[-1])
    done_at = float(t[n_done - 1])
    slowdown = max(1.0, elapsed_s / done_at) if done_at > 0 else 1.0
    return float(t[-1] - done_at) * slowdown


def progress_bar(
    n_done: int, n_total: int, elapsed_s: float, eta: float | None, width: int = 30
) -> str:
    """``[#########.....]  45/88  51%  elapsed 6:35  ETA 7:10`` (ETA ``-`` when unknown)."""
    frac = min(1.0, n_done / n_total) if n_total > 0 else 1.0
    filled = int(frac * width)
    eta_text = format_duration(eta) if eta is not None and math.isfinite(eta) else "-"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}]  {n_done}/{n_total}  {int(frac * 100):3d}%  "
        f"elapsed {format_duration(elapsed_s)}  ETA {eta_text}"
    )
