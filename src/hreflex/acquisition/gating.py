"""Background-EMG gating: stimulate only when the pre-stimulus EMG is steady within limits.

The RMS (about the mean, so a DC offset does not count) of the gating channel is computed over
consecutive, non-overlapping windows of ``window_ms`` on the EMG clock as the samples arrive.
A stimulus may go when the latest ``hold_s`` worth of complete windows were all within
``[min_rms_uV, max_rms_uV]``; windows that overlap the response to an earlier stimulus (its
artifact, M and H: ``exclude`` intervals) are left out, so a stimulus does not hold up the
next one, and the hold reaches back past them. A break in the samples (a gap) restarts the hold. The engine decides how long to
wait (``max_wait_s``) and records the wait; this module only measures.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import numpy as np

from hreflex.acquisition.config import GatingConfig


class BackgroundGate:
    """Windowed RMS of one channel and the hold rule (see the module doc).

    ``sample_rate_Hz`` of the EMG clock; windows are rows ``[k·n, (k+1)·n)`` with ``n`` =
    ``window_ms`` in samples. Feed the channel in volts with :meth:`feed`; ask with
    :meth:`ready`.
    """

    def __init__(self, config: GatingConfig, sample_rate_Hz: float) -> None:
        self.config = config
        self.n = max(2, round(config.window_ms * 1e-3 * sample_rate_Hz))
        self.hold_windows = max(1, math.ceil(config.hold_s * sample_rate_Hz / self.n))
        self._lo, self._hi = config.min_rms_uV * 1e-6, config.max_rms_uV * 1e-6
        self._rms: deque[tuple[int, float]] = deque(maxlen=self.hold_windows + 4096)
        self._part = np.zeros(0)  # samples of the window being filled
        self._next_row: int | None = None  # the row the next fed sample should be

    @property
    def latest_rms_uV(self) -> float:
        """RMS of the latest complete window, µV (NaN before the first)."""
        return self._rms[-1][1] * 1e6 if self._rms else float("nan")

    def feed(self, first_row: int, volts: np.ndarray) -> None:
        """Samples (n,) of the gating channel, volts; row 0 is ``first_row``. A jump in rows
        (a gap) discards the window being filled and the windows before (the hold restarts)."""
        x = np.asarray(volts, np.float64)
        if self._next_row is None or first_row != self._next_row:
            self._rms.clear()
            skip = (-first_row) % self.n  # start at the next window boundary
            x, first_row = x[skip:], first_row + skip
            self._part = np.zeros(0)
            if len(x) == 0:
                self._next_row = None
                return
        self._next_row = first_row + len(x)
        data = np.concatenate([self._part, x]) if len(self._part) else x
        start = first_row - len(self._part)  # row of data[0], a window boundary
        full = len(data) // self.n
        if full:
            w = data[: full * self.n].reshape(full, self.n)
            first = start // self.n
            self._rms.extend(zip(range(first, first + full), w.std(axis=1).tolist(),
                                 strict=True))
        self._part = data[full * self.n :].copy()

    def ready(self, exclude: Iterable[tuple[int, int]] = ()) -> bool:
        """True when the latest ``hold_s`` worth of complete windows all lie within the
        limits. Windows that overlap an ``exclude`` row interval ``[a, b)`` (responses to
        earlier stimuli) neither count nor break the hold: the look-back goes past them."""
        spans = [(a // self.n, (b - 1) // self.n) for a, b in exclude if b > a]
        valid = 0
        for k, rms in reversed(self._rms):
            if any(a <= k <= b for a, b in spans):
                continue
            if not self._lo <= rms <= self._hi:
                return False
            valid += 1
            if valid >= self.hold_windows:
                return True
        return False
