"""The session's output: what goes to the session writer (the recorder: stimulus rows,
faults), into the :class:`~.outcome.RunResult`, onto the terminal view and the live plot.

:meth:`SessionOutput.fault` is the one fault sink every part uses (``fault(kind, detail,
sample_start=None, n_samples=0)``: the faults table, the result, a line). :meth:`write`
measures one placed pulse's sweep in the configured windows (``live.measure_sweep``), adds
its QC flags and writes its row (``STIMULUS_DTYPE``, FORMAT.md). The sweeps of recruitment
blocks a later RDD block derives its test intensity from are kept (:meth:`test_intensity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hreflex.acquisition.config import GatingConfig, SessionConfig
from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.live import LivePlot, derive_test_intensity, measure_sweep
from hreflex.acquisition.liveview import TerminalView, stimulus_line
from hreflex.acquisition.outcome import Fired, RunResult, SessionStopped, StimulusRecord
from hreflex.acquisition.plan import Deferred
from hreflex.acquisition.sync import DEVICE, TRIGGER
from hreflex.errors import HreflexError
from hreflex.io.format import STIMULUS_DTYPE, empty_table
from hreflex.schedule import Schedule


@dataclass(frozen=True)
class SweepSpec:
    """How a sweep is cut and measured: ``rate`` samples/s; ``pre_n``/``post_n`` rows before
    / from the pulse; ``windows`` (M, H) in ms; ``scale`` V per count (n_ch,); ``primary``:
    the channel of the live line; ``gating`` and its channel ``gate_ch`` (flags)."""

    rate: float
    pre_n: int
    post_n: int
    windows: tuple
    scale: np.ndarray
    primary: int
    gating: GatingConfig | None
    gate_ch: int


class SessionOutput:
    """See the module doc. ``row_now()``: the row a fault without a sample range is put at;
    ``clock()``: experiment seconds. :meth:`attach` the recorder when it exists (faults before
    that go to the result and the view only)."""

    def __init__(self, result: RunResult, view: TerminalView, *, row_now: Callable[[], int],
                 clock: Callable[[], float]) -> None:
        self.result, self.view, self.row_now, self.clock = result, view, row_now, clock
        self.recorder = None
        self.plot: LivePlot | None = None
        self.spec: SweepSpec | None = None
        self._keep: set[int] = set()
        self._kept: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def attach(self, recorder, spec: SweepSpec, keep_blocks: set[int],
               plot: LivePlot | None = None) -> None:
        """The recorder (``put_stimuli``, ``put_faults``, ``derived``), how sweeps are
        measured, the blocks whose sweeps are kept, the live plot (None: none)."""
        self.recorder, self.spec, self._keep, self.plot = recorder, spec, keep_blocks, plot

    def fault(self, kind: str, detail: str, sample_start: int | None = None,
              n_samples: int = 0) -> None:
        self.result.faults.append((kind, detail))
        if self.recorder is not None:
            start = self.row_now() if sample_start is None else sample_start
            try:
                self.recorder.put_faults(fault_rows(kind, start, n_samples, detail))
            except HreflexError:
                pass
        self.view.say(f"fault: {kind}: {detail}")

    def print_derived(self) -> None:
        """The recorder's own faults (gap, overlap, clock_jump): already in the file."""
        while not self.recorder.derived.empty():
            kind, detail = self.recorder.derived.get()
            self.result.faults.append((kind, detail))
            self.view.say(f"fault: {kind}: {detail}")

    def _flags(self, f: Fired, got) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """QC flags and (M mV, H mV, background µV) per channel (NaN without a sweep)."""
        sp = self.spec
        flags = list(f.flags)
        if f.placement.method not in (TRIGGER, DEVICE):
            flags.append("no_trigger")
        nan = np.full(len(sp.scale), np.nan)
        if got is None:
            flags.append("late")
            return flags, nan, nan, nan
        counts, received = got
        if not received.all():
            flags.append("gap")
        m = measure_sweep(counts, sp.scale, sp.pre_n, sp.rate, *sp.windows)
        if m.clipped.any():
            flags.append("clipped")
        g, bg = sp.gating, m.background_uV
        if g is not None and np.isfinite(bg[sp.gate_ch]) and not (
                g.min_rms_uV <= bg[sp.gate_ch] <= g.max_rms_uV):
            flags.append("bg_high" if bg[sp.gate_ch] > g.max_rms_uV else "bg_low")
        return flags, m.M_mV, m.H_mV, bg

    def _row(self, f: Fired, s: Schedule) -> np.ndarray:
        pl, ev = f.placement, f.event
        row = empty_table(STIMULUS_DTYPE, 1)[0]
        row["sample_index"] = pl.row
        row["time_s"] = pl.row / self.spec.rate
        row["intensity_requested_mA"], row["pulse_width_requested_us"] = f.requested
        row["intensity_mA"] = ev.intensity_uA / 1000.0 if ev else f.requested[0]
        row["pulse_width_us"] = ev.pulse_width_us if ev else f.requested[1]
        if f.k is not None:
            for name in ("block_id", "train_id", "pulse_index", "nominal_frequency_Hz"):
                row[name] = getattr(s, name)[f.k]
        row["sync_method"] = pl.method.encode()
        row["sync_residual_samples"] = pl.residual_samples
        row["wait_s"] = f.wait_s
        return row

    def write(self, f: Fired, got: tuple[np.ndarray, np.ndarray] | None,
              schedule: Schedule) -> StimulusRecord:
        """Measure, write and show one placed pulse; ``got``: its sweep (counts (n, n_ch),
        received (n,)) from the sweep buffer, None when those rows are gone (``late``)."""
        flags, M, H, bg = self._flags(f, got)
        row = self._row(f, schedule)
        self.recorder.put_stimuli(row)
        c, pl = self.spec.primary, f.placement
        rec = StimulusRecord(f.k, pl.row, pl.method, float(pl.residual_samples), f.wait_s,
                             f.h_send, self.clock(), float(row["intensity_mA"]), float(M[c]),
                             float(H[c]), float(bg[c]), tuple(flags))
        self.result.stimuli.append(rec)
        block = int(schedule.block_id[f.k]) if f.k is not None else -1
        if got is not None and block in self._keep:
            self._kept.setdefault(block, []).append((got[0].T.copy(), row.copy()))
        if self.plot is not None and got is not None:
            kind = schedule.blocks[block].kind if block >= 0 else ""
            self.plot.add(got[0] * self.spec.scale[None, :] * 1e3, rec.intensity_mA, rec.M_mV,
                          rec.H_mV, kind == "recruitment")
        label = schedule.blocks[block].label if block >= 0 else "unplanned"
        self.view.say(stimulus_line(n=len(self.result.stimuli), n_total=len(schedule),
                                    time_s=row["time_s"], intensity_mA=rec.intensity_mA,
                                    M_mV=rec.M_mV, H_mV=rec.H_mV,
                                    background_uV=rec.background_uV, wait_s=f.wait_s,
                                    flags=flags, block=label))
        return rec

    def test_intensity(self, d: Deferred, cfg: SessionConfig,
                       block_table: np.ndarray) -> tuple[float, str]:
        """The run-time test intensity of deferred block ``d`` (mA, rounded down to 0.01 mA)
        from the kept sweeps of its recruitment block, and how it was found. Raises
        :class:`SessionStopped` when it cannot be derived."""
        kept = self._kept.get(d.source_block, [])
        if not kept:
            raise SessionStopped(f"cannot derive the test intensity of block #{d.block_id + 1}: "
                                 f"no sweeps of recruitment block #{d.source_block + 1} were "
                                 "recorded")
        sp = self.spec
        mA, how = derive_test_intensity(
            cfg.meta, sp.rate, [c.name for c in cfg.channels], [c.muscle for c in cfg.channels],
            sp.scale, np.stack([k[0] for k in kept]), sp.pre_n * 1000.0 / sp.rate,
            np.array([k[1] for k in kept], STIMULUS_DTYPE), block_table, sp.primary,
            d.h_fraction)
        if mA is None:
            raise SessionStopped(f"cannot derive the test intensity of block #{d.block_id + 1} "
                                 f"from recruitment block #{d.source_block + 1}: {how}")
        return math.floor(mA * 100) / 100, how  # 0.01 mA steps, rounded down
