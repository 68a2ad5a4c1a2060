"""The acquisition engine: runs one session from a :class:`SessionConfig` on the devices.

    result = run_session(load_config("session.toml"), log=sys.stderr)

The engine only wires the parts, each a module with one job (``docs/ARCHITECTURE.md``):
``supervisor`` (links, reconnects, heartbeats in their own thread), ``wiretap`` (bytes → the
journal, row offsets), ``stream`` (samples → the recorder, edges, sweeps, gating),
``scheduler`` (plan → next pulse), ``stimulation`` (set/arm/fire through the one
``StimulusGuard``), ``placement`` (pulse → EMG row, ``sync``) and ``output`` (rows and faults →
the session writer, the result, ``liveview``, the live plot). Order of operations and threads:
``docs/ACQUISITION.md``, "Engine". On every exit path the stimulator is disarmed first, then
the amplifier stopped, what arrived written and the recorder closed. The recorder (the file's
writer) runs in its own process by default (``recorder_process``), a thread on request.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from hreflex.acquisition.config import SessionConfig
from hreflex.acquisition.diskspace import DiskGuard, reserve_bytes
from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import device_attrs, session_layout
from hreflex.acquisition.live import LivePlot
from hreflex.acquisition.liveview import TerminalView
from hreflex.acquisition.outcome import RunResult, SessionStopped
from hreflex.acquisition.output import SessionOutput, SweepSpec, prepare_path
from hreflex.acquisition.placement import PulsePlacer, host_window
from hreflex.acquisition.plan import Plan, build_plan, check_plan
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recorder_process import RecorderProcess, start_recorder
from hreflex.acquisition.safety import StimulusGuard, effective_limits
from hreflex.acquisition.scheduler import RATE_MARGIN_WALL_S, TICK_S, Derive, Scheduler, Wait
from hreflex.acquisition.stimulation import Stimulation
from hreflex.acquisition.stream import EmgStream
from hreflex.acquisition.supervisor import AMP_READ_INTERVAL_S, DeviceSupervisor, start_bench
from hreflex.acquisition.wiretap import WireTap
from hreflex.devices import LinkEvent, Timebase
from hreflex.devices.amplifier import Received
from hreflex.errors import DeviceError, HreflexError
from hreflex.protocol import StimLimits

__all__ = ["Engine", "RunResult", "SessionStopped", "run_session"]

#: the stream runs this long (wall s) before the first stimulus
SETTLE_WALL_S = 0.3


class Engine:
    """One session. ``seed`` overrides the config's schedule seed; ``output`` the session
    file (default ``config.output_path()``); ``plot`` a live-plot PNG (None: none); ``log``
    the live view (None: silent; a failing stream is dropped); ``stop`` ends the session when
    set (a :class:`~.signals.StopRequest` also gives the reason); ``bench``: the
    ``EmulatedBench`` for devices marked ``emulated`` (the caller closes it; without it one is
    started from ``[emulator]``); ``on_fire(engine, k)`` after planned stimulus k was fired."""

    def __init__(self, config: SessionConfig, *, seed: int | None = None,
                 output: str | Path | None = None, plot: str | Path | None = None,
                 log: TextIO | None = sys.stderr, stop: threading.Event | None = None,
                 bench=None, on_fire=None) -> None:
        self.cfg = config
        plan = build_plan(config, seed=seed)
        check_plan(plan)
        self.path = Path(output) if output is not None else config.output_path()
        self.plot_path = Path(plot) if plot is not None else None
        self.stop = stop or threading.Event()
        self.on_fire, self.bench, self._own_bench = on_fire, bench, False
        self.result = RunResult(self.path, None, plan.seed, len(plan.schedule))
        emu = config.emulator
        self.timebase = Timebase(emu.speed_factor if emu is not None else 1.0)
        self.view = TerminalView(log)
        self.out = SessionOutput(self.result, self.view, clock=self.now,
                                 row_now=lambda: self.stream.next_row if self.stream else 0)
        self.scheduler = Scheduler(plan, speed=self.speed)
        self.tap = WireTap()
        self.devices = DeviceSupervisor(config, self.timebase, on_bytes=self.tap.on_bytes,
                                        fault=self.out.add_fault)
        # made by _open once the devices answered (None until then)
        self.guard: StimulusGuard | None = None
        self.journal: Journal | None = None
        self.recorder: Recorder | RecorderProcess | None = None
        self.disk: DiskGuard | None = None
        self.stream: EmgStream | None = None
        self.placer: PulsePlacer | None = None
        self.stimulation: Stimulation | None = None
        self.t_start, self._closed = 0.0, False

    @property
    def plan(self) -> Plan:
        return self.scheduler.plan

    @property
    def speed(self) -> float:
        return self.timebase.speed

    def now(self) -> float:
        """Experiment time, s."""
        return self.timebase.now_s()

    def run(self) -> RunResult:
        """Run the session; returns the result (``stopped`` says why it ended early). Raises
        :class:`HreflexError` for problems found before the first stimulus (nothing sent)."""
        t0 = time.monotonic()
        try:
            self._open()
            self._loop()
        except SessionStopped as exc:
            self.result.stopped = str(exc)
            self.out.add_fault("stop", f"session stopped: {exc}")
        except (HreflexError, KeyboardInterrupt) as exc:
            self.result.stopped = ("interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                                   else str(exc) or type(exc).__name__)
            if self.guard is None or self.guard.n_fired == 0:
                self._shutdown()
                raise
            self.out.add_fault("stop", f"session stopped: {self.result.stopped}")
        except BaseException as exc:
            self.result.stopped = f"internal error ({type(exc).__name__}: {exc})"
            self._shutdown()
            raise
        finally:
            self._shutdown()
            self.result.wall_s = time.monotonic() - t0
        return self.result

    # -- setup --------------------------------------------------------------------------------

    def _open(self) -> None:
        cfg, dev = self.cfg, self.devices
        prepare_path(self.path, cfg)
        rate = cfg.amplifier.sample_rate_Hz
        self.disk = DiskGuard(self.path, reserve_bytes(
            len(cfg.channels), rate, self.speed, rate / cfg.amplifier.samples_per_block))
        self.disk.start()
        if self.bench is None and (cfg.amplifier.connection.emulated
                                   or cfg.stimulator.connection.emulated):
            self.bench, self._own_bench = start_bench(cfg), True
        if self.bench is not None:
            self.timebase = dev.timebase = self.bench.timebase
        urls = dev.targets(self.bench)
        amp_id, stim_id = dev.open_amplifier(urls[0]), dev.open_stimulator(urls[1])
        limits = effective_limits(cfg.limits.stim_limits, StimLimits.from_identity(stim_id))
        self.guard = StimulusGuard(dev.send, limits, max_stimuli=cfg.limits.max_stimuli,
                                   clock=self.now)
        scale = np.array(np.broadcast_to(np.asarray(amp_id.scale_V_per_count or (1.0,), float),
                                         (len(cfg.channels),)))
        self.layout = session_layout(cfg, self.plan, sample_rate_Hz=rate, scale_V_per_count=scale,
                                     devices={"amplifier": device_attrs(amp_id, urls[0]),
                                              "stimulator": device_attrs(stim_id, urls[1])})
        if cfg.recording.journal:
            self.journal = self.tap.open_journal(journal_path(self.path), self.layout.to_dict(),
                                                 cfg.recording.journal_fsync_s)
            self.result.journal = self.journal.path
        max_gap = int(2 * cfg.recording.reconnect_timeout_s * self.speed * rate + 10 * rate)
        # the session writer: a child process, or a thread with [recording] recorder = "thread"
        self.recorder = start_recorder(self.layout, self.path,
                                       in_process=cfg.recording.recorder == "thread",
                                       flush_interval_s=cfg.recording.flush_interval_s,
                                       journal=self.journal, max_gap_samples=max_gap,
                                       disk=self.disk)
        self._wire(SweepSpec.of(cfg, float(rate), scale), max_gap)
        self.tap.note_offset(0)
        dev.amp.start()
        self._settle()

    def _wire(self, spec: SweepSpec, max_gap: int) -> None:
        """Make the parts that work on the stream (once the devices and the recorder exist)."""
        cfg, out, rate = self.cfg, self.out, spec.rate
        self.stream = stream = EmgStream.for_session(
            self.recorder, self.tap, n_ch=len(cfg.channels), rate=rate,
            sweep_ms=cfg.sweep.pre_ms + cfg.sweep.post_ms, max_gap=max_gap, scale=spec.scale,
            gating=cfg.gating, gate_ch=spec.gate_ch, fault=out.add_fault)
        margin, search, lag = host_window(rate, self.speed, AMP_READ_INTERVAL_S)
        self.placer = PulsePlacer(stream.sync, stream.rowclock, post_n=spec.post_n,
                                  host_margin=margin, host_search=search, host_lag=lag,
                                  offset=lambda: self.tap.offset, fault=out.add_fault)
        stream.before_new_clock = self.placer.place_pending
        self.stimulation = Stimulation(
            self.guard, self.devices.stim,
            heartbeat_timeout_ms=cfg.stimulator.heartbeat_timeout_ms, clock=self.now,
            wait=self._wait_exp, margin_s=self.speed * RATE_MARGIN_WALL_S + 0.001,
            fault=out.add_fault, on_pulse=self.placer.add,
            on_link_event=lambda ev: self.devices.link_event("stimulator", ev))
        self.devices.on_stimulator_down = self.stimulation.device_restarted
        s = self.scheduler
        s.speed, s.gate = self.speed, stream.gate
        s.max_wait_s = cfg.gating.max_wait_s if cfg.gating is not None else s.max_wait_s
        out.attach(self.recorder, spec, {d.source_block for d in self.plan.deferred},
                   None if self.plot_path is None else LivePlot(
                       self.plot_path, [c.name for c in cfg.channels], cfg.sweep.pre_ms, rate))

    def _settle(self) -> None:
        """Let the stream run briefly before the first stimulus (the host clock estimate needs
        a few reads); the plan's time 0 is the end of this."""
        deadline = time.monotonic() + SETTLE_WALL_S
        while time.monotonic() < deadline or self.stream.next_row == 0:
            if time.monotonic() > deadline + 5.0:
                raise DeviceError(f"amplifier on {self.devices.amp.link.target} sends no "
                                  "samples after START")
            self._take_amplifier(TICK_S)
        self.t_start = self.now()
        self.scheduler.start(self.t_start)

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        wait_s = 0.0
        while True:
            self._check_stop()
            self._take_amplifier(max(0.0, min(wait_s, TICK_S)))
            self.stimulation.drain()
            self.devices.recover(self.guard.limits, lambda: self.stream.new_clock(self.now()),
                                 self.stimulation.device_restarted)
            self.devices.watch_counters()
            self._resolve()
            if self.scheduler.done and not self.placer.pending:
                return
            wait_s = self._schedule() if not self.scheduler.done else TICK_S

    def _schedule(self) -> float:
        """Fire the next planned stimulus when it is due; return how long to sleep (wall)."""
        if not self.devices.ready:
            return TICK_S
        s = self.scheduler
        step = s.next(self.now(), self.guard.earliest_fire_s, self.placer.exclusions,
                      pending=bool(self.placer.pending))
        if isinstance(step, Wait):
            return step.wall_s
        if isinstance(step, Derive):
            d = next(d for d in self.plan.deferred if d.block_id == step.block)
            s.set_intensity(step.block, self.out.test_intensity(d, self.cfg,
                                                                self.layout.block_table()))
            return 0.0
        fired = self.stimulation.fire(step.k, step.intensity_mA, step.pulse_width_us,
                                      step.wait_s, step.flags)
        if fired is None:
            return TICK_S  # not delivered (device gone): try again when it is back
        s.fired(step.k, fired.h_send)
        if self.on_fire is not None:
            self.on_fire(self, step.k)
        return 0.0

    def _check_stop(self) -> None:
        """Print the faults the recorder derived; record notices (SIGHUP); stop when asked
        (a signal) or when the disk is about to be full."""
        self.out.print_derived()
        notices = getattr(self.stop, "notices", [])
        while notices:
            self.out.add_fault("hangup", notices.pop(0))
        if self.stop.is_set():
            raise SessionStopped(getattr(self.stop, "reason", "") or "interrupted")
        if self.recorder.low_space:
            raise SessionStopped(self.recorder.low_space)

    # -- the amplifier stream -----------------------------------------------------------------

    def _wait_exp(self, duration_s: float) -> None:
        """Sleep ``duration_s`` of experiment time while keeping the amplifier data flowing."""
        end = self.now() + duration_s
        while (left := end - self.now()) > 0:
            self._take_amplifier(min(TICK_S, left / self.speed))

    def _take_amplifier(self, timeout_s: float) -> None:
        """Process everything the amplifier delivered (waiting up to ``timeout_s`` wall for
        the first item); pulses are placed and written as soon as their sweeps are in."""
        item = self.devices.amp.get(timeout_s=timeout_s)
        while item is not None:
            self._amp_item(item)
            self._resolve()
            item = self.devices.amp.get(0)

    def _amp_item(self, item) -> None:
        if isinstance(item, LinkEvent):
            self.devices.link_event("amplifier", item)
        elif isinstance(item, Received):
            self.stream.take(item)

    def _resolve(self, force: bool = False) -> None:
        """Measure and write the pulses placed and with their sweeps in (``force``: all)."""
        for f in self.placer.resolve(self.stream.next_row, force):
            row, post = f.placement.row, self.out.spec.post_n
            self.out.write(f, self.stream.buffer.get(row - self.out.spec.pre_n, row + post),
                           self.plan.schedule)
            self.view.progress(self.plan.schedule.time_s, self.scheduler.k,
                               self.result.n_delivered, self.now() - self.t_start, self.speed)

    # -- shutdown -----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Disarm (heartbeats stop only after), stop streaming, write what is left, close the
        files. Safe to call more than once; never raises."""
        if self._closed:
            return
        self._closed = True
        problems = self.devices.close(self.guard)  # DISARM first, on every exit path
        if self.devices.amp is not None and self.stimulation is not None:
            try:  # what arrived until STOP; pending pulses placed with what is known
                while (item := self.devices.amp.get(0)) is not None:
                    self._amp_item(item)
                self.stimulation.drain()
                self._resolve(force=True)
            except (HreflexError, StopIteration) as exc:
                problems.append(str(exc))
        for p in problems:
            self.out.add_fault("shutdown", p)
        self.out.close(self.disk, self.journal)
        if self._own_bench:
            self.bench.close()
        self.result.device_s = self.now() - self.t_start if self.t_start else 0.0


def run_session(config: SessionConfig, **options: Any) -> RunResult:
    """``Engine(config, **options).run()``."""
    return Engine(config, **options).run()
