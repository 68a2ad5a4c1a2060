"""Live view while recording: one terminal line per stimulus or fault and the overall
progress bar with ETA. The engine measures; :func:`stimulus_line`, :func:`eta_s` and
:func:`progress_bar` only format, :class:`TerminalView` only writes (the bar is redrawn in
place on a terminal, printed at every 10 % otherwise; a vanished reader never stops a session).

Unknown values (None or NaN) show as ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from hreflex.acquisition.console import guard as console
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


class TerminalView:
    """Lines and the progress bar on ``log`` (None: silent; see the module doc)."""

    def __init__(self, log: TextIO | None) -> None:
        self._tty = bool(log is not None and getattr(log, "isatty", lambda: False)())
        self.log = console(log)
        self._bar_shown, self._last_pct = False, -1

    def say(self, line: str) -> None:
        """One line (a stimulus, a fault, a message); clears the bar first on a terminal."""
        if self.log is None:
            return
        if self._bar_shown and self._tty:
            self.log.write("\r\033[K")
            self._bar_shown = False
        self.log.write(line + "\n")
        self.log.flush()

    def progress(self, planned_time_s: np.ndarray, n_started: int, n_done: int,
                 elapsed_s: float, speed: float = 1.0) -> None:
        """The bar after ``n_started`` planned stimuli were fired and ``n_done`` written, of
        ``len(planned_time_s)``; ``elapsed_s`` experiment seconds, shown as wall seconds
        (÷ ``speed``)."""
        if self.log is None:
            return
        n = len(planned_time_s)
        eta = eta_s(planned_time_s, min(n_started, n), elapsed_s)
        bar = progress_bar(min(n_started, n), n, elapsed_s / speed, eta / speed)
        pct = int(100 * n_done / max(1, n))
        if self._tty:
            self.log.write("\r\033[K" + bar)
            self._bar_shown = True
        elif pct // 10 != self._last_pct // 10 or n_done == n:
            self.log.write(bar + "\n")
        self._last_pct = pct
        self.log.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self._tty and self._bar_shown and self.log is not None:
            self.log.write("\n")
            self._bar_shown = False
