"""The session's output: what goes to the session writer (the recorder: stimulus rows,
faults), into the :class:`~.outcome.RunResult`, onto the terminal view and the live plot.

:meth:`SessionOutput.add_fault` is the one fault sink every part uses (``fault(kind, detail,
sample_start=None, n_samples=0)``: the faults table, the result, a line). :meth:`write`
measures one placed pulse's sweep in the configured windows (``live.measure_sweep``), adds
its QC flags and writes its row (``STIMULUS_DTYPE``, FORMAT.md). The sweeps of recruitment
blocks a later RDD block derives its test intensity from are kept (:meth:`test_intensity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hreflex.acquisition.config import GatingConfig, SessionConfig
from hreflex.acquisition.diskspace import DiskGuard
from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.live import LivePlot, derive_test_intensity, measure_sweep
from hreflex.acquisition.liveview import TerminalView, stimulus_line
from hreflex.acquisition.outcome import Fired, RunResult, SessionStopped, StimulusRecord
from hreflex.acquisition.plan import Deferred
from hreflex.acquisition.sync import DEVICE, TRIGGER
from hreflex.errors import ConfigError, HreflexError
from hreflex.io.endstate import COMPLETED, stopped
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


    @classmethod
    def of(cls, cfg: SessionConfig, rate: float, scale: np.ndarray) -> SweepSpec:
        """The spec of ``cfg``'s ``[sweep]``, channels and gating at ``rate`` samples/s."""
        muscles = [c.muscle for c in cfg.channels]
        primary = next((i for i, m in enumerate(muscles)
                        if m and m.lower() == cfg.meta.muscle.lower()), 0)
        g = cfg.gating
        return cls(rate, int(round(cfg.sweep.pre_ms * rate / 1000)),
                   int(round(cfg.sweep.post_ms * rate / 1000)) + 1,
                   (cfg.sweep.M_window_ms, cfg.sweep.H_window_ms), scale, primary, g,
                   [c.name for c in cfg.channels].index(g.channel) if g else 0)


def prepare_path(path: Path, cfg: SessionConfig) -> None:
    """Make room for a new session file (and journal) at ``path``: an existing one is
    refused (:class:`ConfigError`, nothing sent) unless ``[recording] overwrite``."""
    if path.exists() or journal_path(path).exists():
        if not cfg.recording.overwrite:
            raise ConfigError(f"{cfg.source} [recording]: {path} exists; set overwrite = true "
                              "or change name (nothing was sent)")
        path.unlink(missing_ok=True)
        journal_path(path).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


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

    def add_fault(self, kind: str, detail: str, sample_start: int | None = None,
              n_samples: int = 0) -> None:
        self.result.faults.append((kind, detail))
        if self.recorder is not None:
            start = self.row_now() if sample_start is None else sample_start
            try:
                self.recorder.put_faults(fault_rows(kind, start, n_samples, detail))
            except HreflexError:
                pass
        self.view.say(f"fault: {kind}: {detail}")

    def close(self, disk: DiskGuard | None = None, journal: Journal | None = None) -> None:
        """The end of the session's output: the bar's line, the live plot, the ``disk``
        reserve released (room for the last writes and closing, whatever happened), then the
        recorder closed with the end state (``completed`` or ``stopped: <reason>``, which
        closes the journal too), or without a recorder the ``journal``. Never raises: a
        failure to close becomes the result's ``stopped`` reason."""
        self.view.close()
        if self.plot is not None:
            self.plot.close()
        if disk is not None:
            disk.release()
        if self.recorder is None:
            if journal is not None:
                journal.close()
            return
        why = self.result.stopped
        try:
            self.result.recorder = self.recorder.close(COMPLETED if why is None else stopped(why))
        except HreflexError as exc:
            self.result.stopped = why or str(exc)
        self.print_derived()

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
                       block_table: np.ndarray) -> float:
        """The run-time test intensity of deferred block ``d`` (mA, rounded down to 0.01 mA)
        from the kept sweeps of its recruitment block (recorded in the result, said on the
        view). Raises
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
        mA = math.floor(mA * 100) / 100  # 0.01 mA steps, rounded down
        self.result.test_intensities_mA[d.block_id] = mA
        self.view.say(f"block #{d.block_id + 1} ({cfg.protocols[d.block_id].label}): test "
                      f"intensity {mA:.2f} mA = {d.h_fraction:g} × Hmax on the ascending limb "
                      f"of block #{d.source_block + 1} ({how})")
        return mA
