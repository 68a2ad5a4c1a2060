"""The acquisition engine: runs one session from a :class:`SessionConfig` on the devices.

    result = run_session(load_config("session.toml"), log=sys.stderr)

Order of operations (``docs/ACQUISITION.md``, "Engine"): plan and check it; start the device
emulators when the config says so; open, identify and configure both devices; effective limits
(config capped by the device: refused above it, before any stimulus); the :class:`StimulusGuard`;
journal, then recorder (SWMR file); start streaming; then the schedule, one stimulus at a time:
wait for its planned time (and the guard's rate limit), gate on background EMG, set the
stimulus, fire, and once its sweep has arrived place it on the EMG clock (``sync``), measure it
(``live``), write its row and print its line. On every exit path the stimulator is disarmed
before the recorder is closed.

Threads: each device link has a reader thread (it only journals the raw bytes and decodes;
it never waits for the disk or the display), the stimulator client a heartbeat thread, the
recorder and the journal their writer threads. Everything else happens in the thread that
calls :meth:`Engine.run`, in one loop.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from hreflex.acquisition.config import SessionConfig
from hreflex.acquisition.console import guard as console
from hreflex.acquisition.diskspace import DiskGuard, reserve_bytes
from hreflex.acquisition.faults import FAULT_KINDS, GAP_CAUSES, fault_rows
from hreflex.acquisition.gating import BackgroundGate
from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import device_attrs, session_layout
from hreflex.acquisition.live import LivePlot, SweepBuffer, derive_test_intensity, measure_sweep
from hreflex.acquisition.liveview import eta_s, progress_bar, stimulus_line
from hreflex.acquisition.outcome import RunResult, StimulusRecord
from hreflex.acquisition.plan import (
    Plan,
    build_plan,
    check_plan,
    resolve_intensity,
)
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recorder_process import start_recorder
from hreflex.acquisition.safety import StimulusGuard, effective_limits
from hreflex.acquisition.sync import (
    DEVICE,
    LATCH_TOLERANCE,
    MODEL,
    TRIGGER,
    Placement,
    RowClock,
    Synchronizer,
    rising_edges,
)
from hreflex.devices import (
    AmplifierClient,
    LinkEvent,
    NackError,
    PortTarget,
    StimulatorClient,
    Timebase,
)
from hreflex.devices.amplifier import Received
from hreflex.errors import ConfigError, DeviceError, HreflexError, SafetyError
from hreflex.io.endstate import COMPLETED, stopped
from hreflex.io.format import STIMULUS_DTYPE, empty_table
from hreflex.protocol import DeviceKind, Identity, Opcode, Reason, Status, StimEvent, StimLimits

#: wire source ids in the journal
AMP_SOURCE, STIM_SOURCE = 0, 1
#: the stimulator link's longest read wait (wall s): bounds the round trip of each command
STIM_READ_INTERVAL_S = 0.002
#: the amplifier link's longest read wait (wall s): bounds live latency and gating delay
AMP_READ_INTERVAL_S = 0.01
#: extra wait after the guard's rate limit: host-to-device latency varies by this much (wall s)
RATE_MARGIN_WALL_S = 0.003
#: the stream runs this long (wall s) before the first stimulus
SETTLE_WALL_S = 0.3
#: longest main-loop sleep (wall s)
TICK_S = 0.01
#: NACK reasons after which the engine sets the stimulus, arms and tries again
_RETRY_REASONS = {Reason.NOT_ARMED, Reason.NO_STIMULUS, Reason.RATE_LIMIT, Reason.BUSY}
FIRE_ATTEMPTS = 3
_STATE = {"amplifier": "_amp", "stimulator": "_stim"}


class SessionStopped(HreflexError):
    """The session stopped before the end of the plan (everything so far is recorded)."""


@dataclass
class _Fired:
    """A pulse fired (or reported) and not yet written."""

    k: int | None
    event: StimEvent | None
    h_send: float
    h_ack: float
    wait_s: float
    flags: list[str]
    requested: tuple[float, float]
    placement: Placement | None = None


class Engine:
    """One session (see the module doc).

    ``seed`` overrides the config's schedule seed; ``output`` the session file path (default
    ``config.output_path()``); ``plot`` a PNG path for the live plot (None: no plot);
    ``log`` receives the live view (None: silent; a failing stream is dropped, never an
    error); ``stop`` ends the session gracefully when set (Ctrl-C; a
    :class:`~hreflex.acquisition.signals.StopRequest` also gives the reason). ``bench``: the
    :class:`~hreflex.sim.emulators.EmulatedBench` to use for the devices the config marks
    ``emulated`` (the caller keeps and closes it; tests read its
    truth); without it the engine starts one from ``[emulator]`` and closes it at the end.
    ``on_fire(engine, k)`` is called after each planned stimulus was fired (tests inject
    faults there).
    """

    def __init__(self, config: SessionConfig, *, seed: int | None = None,
                 output: str | Path | None = None, plot: str | Path | None = None,
                 log: TextIO | None = sys.stderr, stop: threading.Event | None = None,
                 bench=None, on_fire=None) -> None:
        self.cfg = config
        self.plan: Plan = build_plan(config, seed=seed)
        check_plan(self.plan)
        self.path = Path(output) if output is not None else config.output_path()
        self.plot_path = Path(plot) if plot is not None else None
        self.log = console(log)
        self.stop = stop or threading.Event()
        self.on_fire = on_fire
        self.bench = bench
        self._own_bench = False
        self.amp: AmplifierClient | None = None
        self.stim: StimulatorClient | None = None
        self.guard: StimulusGuard | None = None
        self.journal: Journal | None = None
        self.recorder: Recorder | None = None
        self.disk: DiskGuard | None = None
        self.result = RunResult(self.path, None, self.plan.seed, len(self.plan.schedule))
        emu = config.emulator
        self.speed = emu.speed_factor if emu is not None else 1.0
        self.timebase = Timebase(self.speed)
        # journal hook state (shared with the reader threads)
        self._jlock = threading.Lock()
        self._early: list[tuple[int, bytes]] = []  # bytes before the journal exists
        self._amp_chunks = 0
        self._chunk_times: deque[tuple[float, int]] = deque()
        self._offsets: list[tuple[int, int]] = [(-1, 0)]  # (after amp chunk n, row offset)
        self._tty = bool(log is not None and getattr(log, "isatty", lambda: False)())
        self._bar_shown, self._last_bar_pct, self._closed = False, -1, False
        self.plot: LivePlot | None = None
        self.t_start = 0.0

    # -- public ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run the session; returns the result (``stopped`` says why it ended early). Raises
        :class:`HreflexError` for problems found before the first stimulus (nothing sent)."""
        t0 = time.monotonic()
        try:
            self._open()
            self._loop()
        except SessionStopped as exc:
            self.result.stopped = str(exc)
            self._fault("stop", f"session stopped: {exc}")
        except (HreflexError, KeyboardInterrupt) as exc:
            self.result.stopped = ("interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                                   else str(exc) or type(exc).__name__)
            if self.guard is None or self.guard.n_fired == 0:
                self._shutdown()
                raise
            self._fault("stop", f"session stopped: {self.result.stopped}")
        except BaseException as exc:
            self.result.stopped = f"internal error ({type(exc).__name__}: {exc})"
            self._shutdown()
            raise
        finally:
            self._shutdown()
            self.result.wall_s = time.monotonic() - t0
        return self.result

    # -- setup --------------------------------------------------------------------------------

    def _target(self, spec, url: str | None) -> PortTarget:
        return url if spec.emulated else spec.target()

    def _open(self) -> None:
        cfg = self.cfg
        if self.path.exists() or journal_path(self.path).exists():
            if not cfg.recording.overwrite:
                raise ConfigError(f"{cfg.source} [recording]: {self.path} exists; set "
                                  "overwrite = true or change name (nothing was sent)")
            self.path.unlink(missing_ok=True)
            journal_path(self.path).unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        amp_cfg, stim_cfg = cfg.amplifier, cfg.stimulator
        self.disk = DiskGuard(self.path, reserve_bytes(
            len(cfg.channels), amp_cfg.sample_rate_Hz, self.speed,
            amp_cfg.sample_rate_Hz / amp_cfg.samples_per_block))
        self.disk.start()
        if self.bench is None and (amp_cfg.connection.emulated or stim_cfg.connection.emulated):
            from hreflex.sim.emulators import EmulatedBench

            emu = cfg.emulator
            self.bench = EmulatedBench(
                preset=emu.preset, n_channels=len(cfg.channels),
                sample_rate_Hz=amp_cfg.sample_rate_Hz, speed=emu.speed_factor, seed=emu.seed)
            self._own_bench = True
        if self.bench is not None:
            self.timebase = self.bench.timebase
            self.speed = self.timebase.speed
        amp_url = self._target(amp_cfg.connection, self.bench and self.bench.amplifier_url)
        stim_url = self._target(stim_cfg.connection, self.bench and self.bench.stimulator_url)
        reconnect = cfg.recording.reconnect_timeout_s
        self.amp = AmplifierClient(amp_url, timebase=self.timebase, on_bytes=self._on_bytes,
                                   baudrate=amp_cfg.connection.baud, reconnect_timeout_s=reconnect,
                                   read_interval_s=AMP_READ_INTERVAL_S)
        self.amp.open()
        n_ch, rate = len(cfg.channels), amp_cfg.sample_rate_Hz
        amp_id = self._configure_amplifier()
        self.stim = StimulatorClient(stim_url, cfg.limits.stim_limits, timebase=self.timebase,
                                     on_bytes=self._on_bytes, baudrate=stim_cfg.connection.baud,
                                     heartbeat_timeout_ms=stim_cfg.heartbeat_timeout_ms,
                                     reconnect_timeout_s=reconnect, timeout_s=1.0,
                                     read_interval_s=STIM_READ_INTERVAL_S)
        stim_id = self.stim.open()
        limits = effective_limits(cfg.limits.stim_limits, StimLimits.from_identity(stim_id))
        self.guard = StimulusGuard(self._send, limits, max_stimuli=cfg.limits.max_stimuli,
                                   clock=self.timebase.now_s)
        scale = np.broadcast_to(np.asarray(amp_id.scale_V_per_count or (1.0,), float), (n_ch,))
        self.scale = np.array(scale)
        self.layout = session_layout(cfg, self.plan, sample_rate_Hz=rate, scale_V_per_count=scale,
                                     devices={"amplifier": device_attrs(amp_id, amp_url),
                                              "stimulator": device_attrs(stim_id, stim_url)})
        if cfg.recording.journal:
            journal = Journal(journal_path(self.path),
                              {"sources": {str(AMP_SOURCE): "amplifier",
                                           str(STIM_SOURCE): "stimulator"},
                               "samples_source": AMP_SOURCE, "layout": self.layout.to_dict()},
                              fsync_interval_s=cfg.recording.journal_fsync_s)
            with self._jlock:
                for source, data in self._early:
                    journal.write(source, data)
                self._early.clear()
                self.journal = journal
            self.result.journal = journal.path
        self.max_gap = int(2 * reconnect * self.speed * rate + 10 * rate)
        self._init_state(rate, n_ch)
        self.recorder = start_recorder(self.layout, self.path,
                                       in_process=cfg.recording.recorder == "thread",
                                       flush_interval_s=cfg.recording.flush_interval_s,
                                       journal=self.journal, max_gap_samples=self.max_gap,
                                       disk=self.disk)
        self._note_offset(0)
        self.amp.start()
        self._settle()

    def _settle(self) -> None:
        """Let the stream run briefly before the first stimulus (the host clock estimate needs
        a few reads); the plan's time 0 is the end of this."""
        deadline = time.monotonic() + SETTLE_WALL_S
        while time.monotonic() < deadline or self.next_row == 0:
            if time.monotonic() > deadline + 5.0:
                raise DeviceError(f"amplifier on {self.amp.link.target} sends no samples after "
                                  "START")
            self._take_amplifier(TICK_S)
        self.t_start = self.shift_s = self.now()

    def _configure_amplifier(self) -> Identity:
        a = self.cfg.amplifier
        n_ch = len(self.cfg.channels)
        try:
            ident = self.amp.configure(a.sample_rate_Hz, n_ch, a.samples_per_block)
        except NackError as exc:
            if exc.reason != Reason.BAD_CONFIG:
                raise
            raise ConfigError(f"{self.cfg.source} [devices.amplifier]: the amplifier refuses "
                              f"{a.sample_rate_Hz} Hz, {a.samples_per_block} samples per block "
                              f"with {n_ch} channels (BAD_CONFIG; nothing was sent to the "
                              "stimulator)") from None
        if ident.sample_rate_Hz != a.sample_rate_Hz or ident.n_channels != n_ch:
            raise DeviceError(
                f"amplifier on {self.amp.link.target} runs {ident.n_channels} channels at "
                f"{ident.sample_rate_Hz} Hz after CONFIGURE; the config asks for {n_ch} at "
                f"{a.sample_rate_Hz} Hz ([devices.amplifier] sample_rate_Hz, [[channels]])")
        return ident

    def _init_state(self, rate: int, n_ch: int) -> None:
        cfg = self.cfg
        self.rate, self.n_ch = float(rate), n_ch
        self.pre_n = int(round(cfg.sweep.pre_ms * rate / 1000))
        self.post_n = int(round(cfg.sweep.post_ms * rate / 1000)) + 1
        self.windows = (cfg.sweep.M_window_ms, cfg.sweep.H_window_ms)
        muscles = [c.muscle for c in cfg.channels]
        self.primary = next((i for i, m in enumerate(muscles)
                             if m and m.lower() == cfg.meta.muscle.lower()), 0)
        self.sync = Synchronizer(rate)
        self.rowclock = RowClock(rate)
        self.buffer = SweepBuffer(int(max(10.0, 4 * (cfg.sweep.pre_ms + cfg.sweep.post_ms) / 1e3)
                                      * rate), n_ch)
        g = cfg.gating
        self.gate = BackgroundGate(g, rate) if g is not None else None
        self.gate_ch = [c.name for c in cfg.channels].index(g.channel) if g else 0
        #: rows a just-fired pulse may lie within, until placed (host clock lower bounds)
        self.host_margin = (0.05 + self.speed * (2 * AMP_READ_INTERVAL_S + 0.005)) * rate
        #: rows after that window where the first pulse of a clock epoch is still looked for
        self.host_search = (2.0 + self.speed * 0.1) * rate
        self.next_row = 0
        self._last_high: bool | None = None
        self.k = 0
        self.shift_s = 0.0
        self._gate_t0: float | None = None
        self.pending: deque[_Fired] = deque()
        self._taken: set[tuple[int, int]] = set()
        self._orphans: list[StimEvent] = []
        self._pulses_known = 0  # the stimulator's pulse counter at its latest pulse
        self._last_event: StimEvent | None = None
        self._armed = False
        self._need_setup = True
        self._amp_ok = self._stim_ok = True
        self._amp_reinit = self._stim_reinit = False
        self._down_since: float | None = None
        self._next_watch = 0.0
        self._counts: dict[str, int] = {}
        self._exclude: deque[tuple[int, int]] = deque(maxlen=16)
        self._rec_sweeps: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        #: recruitment blocks whose sweeps are kept (a later RDD block derives its intensity)
        self._keep_sweeps = {d.source_block for d in self.plan.deferred}
        self.plot = (LivePlot(self.plot_path, [c.name for c in cfg.channels], cfg.sweep.pre_ms,
                              rate) if self.plot_path is not None else None)

    # -- journal hook (reader threads) -------------------------------------------------------

    def _on_bytes(self, name: str, host_time_s: float, data: bytes) -> None:
        source = AMP_SOURCE if name == "amplifier" else STIM_SOURCE
        with self._jlock:
            if self.journal is not None:
                self.journal.write(source, data)
            else:
                self._early.append((source, data))
            if source == AMP_SOURCE:
                self._amp_chunks += 1
                self._chunk_times.append((host_time_s, self._amp_chunks))

    def _note_offset(self, offset: int) -> None:
        """From the next amplifier chunk on, device sample d is row d + ``offset`` (the
        journal gets the same clock note at the same place in the byte stream)."""
        with self._jlock:
            if self.journal is not None:
                self.journal.note_clock(AMP_SOURCE, 0, int(offset))
            self._offsets.append((self._amp_chunks, int(offset)))

    def _offset_of(self, host_time_s: float) -> int:
        with self._jlock:
            while self._chunk_times and self._chunk_times[0][0] < host_time_s:
                self._chunk_times.popleft()
            chunk = (self._chunk_times.popleft()[1] if self._chunk_times
                     and self._chunk_times[0][0] == host_time_s else self._amp_chunks)
        return next(off for after, off in reversed(self._offsets) if chunk > after)

    def _send(self, opcode: int, **fields: int):
        """The guard's raw command function: one request on the stimulator link (FIRE is
        never retried: a lost answer may mean a delivered pulse)."""
        retries = 0 if opcode == Opcode.FIRE else None
        return self.stim.link.request(opcode, retries=retries, **fields)

    # -- helpers ------------------------------------------------------------------------------

    def now(self) -> float:
        return self.timebase.now_s()

    def _fault(self, kind: str, detail: str, sample_start: int | None = None,
               n_samples: int = 0) -> None:
        self.result.faults.append((kind, detail))
        if self.recorder is not None:
            start = self.next_row if sample_start is None else sample_start
            try:
                self.recorder.put_faults(fault_rows(kind, start, n_samples, detail))
            except HreflexError:
                pass
        self._say(f"fault: {kind}: {detail}")

    def _say(self, line: str) -> None:
        if self.log is None:
            return
        if self._bar_shown and self._tty:
            self.log.write("\r\033[K")
            self._bar_shown = False
        self.log.write(line + "\n")
        self.log.flush()

    def _bar(self) -> None:
        if self.log is None:
            return
        n_done, n = self.result.n_delivered, len(self.plan.schedule)
        elapsed = self.now() - self.t_start
        eta = eta_s(self.plan.schedule.time_s, min(self.k, n), elapsed)
        bar = progress_bar(min(self.k, n), n, elapsed / self.speed, eta / self.speed)
        pct = int(100 * n_done / max(1, n))
        if self._tty:
            self.log.write("\r\033[K" + bar)
            self._bar_shown = True
        elif pct // 10 != self._last_bar_pct // 10 or n_done == n:
            self.log.write(bar + "\n")
        self._last_bar_pct = pct
        self.log.flush()

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        n = len(self.plan.schedule)
        wait_s = 0.0
        while True:
            self._check_stop()
            self._take_amplifier(max(0.0, min(wait_s, TICK_S)))
            self._drain_stimulator()
            self._recover_devices()
            self._watch_counters()
            self._resolve()
            if self.k >= n and not self.pending:
                return
            wait_s = self._schedule() if self.k < n else TICK_S

    def _schedule(self) -> float:
        """Fire the next planned stimulus when it is due; return how long to sleep (wall)."""
        if not (self._amp_ok and self._stim_ok) or self._amp_reinit or self._stim_reinit:
            return TICK_S
        k, s = self.k, self.plan.schedule
        block = int(s.block_id[k])
        if any(d.block_id == block for d in self.plan.deferred):
            if self.pending:
                return TICK_S  # the source block's last sweeps are still being placed
            self._resolve_test_intensity(block)
        now = self.now()
        due = float(s.time_s[k]) + self.shift_s
        margin = self.speed * RATE_MARGIN_WALL_S + 0.001
        go = max(due, self.guard.earliest_fire_s + margin)
        if now < go:
            return (go - now) / self.speed
        wait_s, flags = 0.0, []
        if self.gate is not None and self.plan.gated[k]:
            if self._gate_t0 is None:
                self._gate_t0 = now
            wait_s = now - self._gate_t0
            if not self.gate.ready(self._exclusions()):
                if wait_s < self.cfg.gating.max_wait_s:
                    return TICK_S / 2
                flags.append("gate_timeout")
        fired = self._fire(k, wait_s, flags)
        if fired is None:
            return TICK_S  # not delivered (device gone): try again when it is back
        self._gate_t0 = None
        self.shift_s = max(self.shift_s, fired.h_send - float(s.time_s[k]))
        self.k += 1
        if self.on_fire is not None:
            self.on_fire(self, k)
        return 0.0

    # -- stimulating --------------------------------------------------------------------------

    def _fire(self, k: int, wait_s: float, flags: list[str]) -> _Fired | None:
        s = self.plan.schedule
        mA, pw = float(s.intensity_mA[k]), float(s.pulse_width_us[k])
        for attempt in range(FIRE_ATTEMPTS):
            if attempt:
                self._wait_exp(max(0.0, self.guard.earliest_fire_s - self.now())
                               + self.speed * RATE_MARGIN_WALL_S + 0.001)
            try:
                if self._need_setup:  # first time, or the device may have restarted
                    self.guard.send(Opcode.CONFIGURE_STIMULATOR,
                                    heartbeat_timeout_ms=self.cfg.stimulator.heartbeat_timeout_ms)
                if self._need_setup or self.guard.stimulus != (mA, pw):
                    self.guard.set_stimulus(mA, pw)
                if not self._armed or self._need_setup:
                    self.guard.arm()
                    self._armed, self._need_setup = True, False
            except NackError as exc:
                self._fault("nack", str(exc))
                if exc.reason not in _RETRY_REASONS:
                    raise
                self._need_setup = True
                continue
            except DeviceError as exc:
                if not self.stim.link.connected:
                    return None
                self._fault("command_failed", str(exc))
                continue
            h_send = self.now()
            try:
                response, frames = self.guard.fire()
            except NackError as exc:
                self._fault("nack", str(exc))
                if exc.reason not in _RETRY_REASONS:
                    raise
                if exc.reason in (Reason.NOT_ARMED, Reason.NO_STIMULUS):
                    self._armed, self._need_setup = False, True
                continue
            except DeviceError as exc:
                delivered, event = self._was_delivered()
                if delivered:
                    self._fault("no_response", f"{exc}; the pulse was delivered"
                                + ("" if event else " (no STIM_EVENT: placed by the trigger)"))
                    return self._fired(k, event, h_send, wait_s,
                                       flags if event else [*flags, "no_event"], (mA, pw))
                self._fault("fire_failed", f"{exc}; no pulse was delivered")
                if not self.stim.link.connected:
                    return None
                continue
            event = next((f for f in frames if isinstance(f, StimEvent)), None)
            if event is None:
                self._fault("no_event", f"FIRE acknowledged (request {response.request_id}) "
                                        "without a STIM_EVENT; placed by the trigger")
                flags = [*flags, "no_event"]
            return self._fired(k, event, h_send, wait_s, flags, (mA, pw))
        raise SessionStopped(f"stimulator did not deliver stimulus {k + 1} after "
                             f"{FIRE_ATTEMPTS} attempts (see the faults table)")

    def _fired(self, k, event, h_send, wait_s, flags, requested) -> _Fired:
        if event is not None:
            self._taken.add((event.pulse_counter, event.device_time_us))
            self._pulses_known = event.pulse_counter
        f = _Fired(k, event, h_send, self.now(), wait_s, list(flags), requested)
        self.pending.append(f)
        return f

    def _exclusions(self) -> list[tuple[int, int]]:
        """Rows holding responses to recent stimuli (gating leaves them out): ``[row, row +
        post]`` of placed pulses, the whole host-clock window of those not placed yet."""
        out = list(self._exclude)
        for f in self.pending:
            if f.placement is not None:
                out.append((f.placement.row, f.placement.row + self.post_n))
            elif (host := self._host_rows(f)) is not None:
                out.append((int(host[0] - self.host_margin),
                            int(host[1] + self.host_margin) + self.post_n))
        return out

    def _wait_exp(self, duration_s: float) -> None:
        """Sleep ``duration_s`` of experiment time while keeping the amplifier data flowing."""
        end = self.now() + duration_s
        while (left := end - self.now()) > 0:
            self._take_amplifier(min(TICK_S, left / self.speed))

    def _take_amplifier(self, timeout_s: float) -> None:
        """Process everything the amplifier delivered (waiting up to ``timeout_s`` wall for
        the first item); pulses are placed and written as soon as their sweeps are in."""
        item = self.amp.get(timeout_s=timeout_s)
        while item is not None:
            self._amp_item(item)
            self._resolve()
            item = self.amp.get(0)

    def _was_delivered(self) -> tuple[bool, StimEvent | None]:
        """After a FIRE without answer: did the pulse go out? A STIM_EVENT that arrives anyway
        says so (it comes before the answer); else the device's pulse counter (GET_STATUS)."""
        event = self._late_event(0.05)
        if event is not None or not self.stim.link.connected:
            return event is not None, event
        try:
            count = self.stim.status().pulses_delivered
        except DeviceError:
            return False, None
        if count == self._pulses_known:
            return False, None
        self._pulses_known = count
        return True, self._late_event(1.0)

    def _late_event(self, wait_s: float) -> StimEvent | None:
        """A STIM_EVENT no FIRE answer brought, waiting up to ``wait_s`` wall for it."""
        deadline = time.monotonic() + wait_s
        while True:
            self._drain_stimulator(keep_orphans=True)
            if self._orphans:
                return self._orphans.pop(0)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def _drain_stimulator(self, keep_orphans: bool = False) -> None:
        while (item := self.stim.get(0)) is not None:
            if isinstance(item, StimEvent):
                key = (item.pulse_counter, item.device_time_us)
                if key in self._taken:
                    self._taken.discard(key)
                    continue
                self._orphans.append(item)
            elif isinstance(item, Status):
                if item.watchdog_tripped and not item.armed:
                    self._armed, self._need_setup = False, True
                    self._fault("watchdog", "the stimulator's watchdog disarmed it (no heartbeat "
                                f"for {item.heartbeat_timeout_ms} ms); re-arming")
            elif isinstance(item, LinkEvent):
                self._link_event("stimulator", item)
        if not keep_orphans:
            while self._orphans:
                ev = self._orphans.pop(0)
                self._pulses_known = ev.pulse_counter
                self._fault("unplanned_pulse", f"pulse {ev.pulse_counter} reported without a "
                                               "FIRE from this session")
                now = self.now()
                self.pending.append(_Fired(None, ev, now, now, 0.0, ["unplanned"],
                                           (float("nan"), float("nan"))))

    # -- devices: events, reconnects ----------------------------------------------------------

    def _link_event(self, role: str, ev: LinkEvent) -> None:
        if ev.kind == "disconnected":
            self._fault("disconnect", ev.message)
            setattr(self, _STATE[role] + "_ok", False)
            self._down_since = self._down_since or time.monotonic()
            if role == "stimulator":
                self._armed = False
        elif ev.kind == "reconnected":
            self._fault("reconnect", ev.message)
            setattr(self, _STATE[role] + "_reinit", True)
        elif ev.kind == "lost":
            self._fault("lost", ev.message)
            raise SessionStopped(f"{ev.message}; stopped safely (the stimulator's watchdog "
                                 "disarms it without heartbeats)")
        elif ev.kind in ("stall", "stall_end", "error"):
            self._fault(ev.kind, ev.message)
            if ev.kind == "error":
                raise SessionStopped(ev.message)

    def _check_stop(self) -> None:
        """Print the faults the recorder derived; record notices (SIGHUP); stop when asked
        (a signal) or when the disk is about to be full."""
        self._print_derived()
        notices = getattr(self.stop, "notices", [])
        while notices:
            self._fault("hangup", notices.pop(0))
        if self.stop.is_set():
            raise SessionStopped(getattr(self.stop, "reason", "") or "interrupted")
        if self.recorder.low_space:
            raise SessionStopped(self.recorder.low_space)

    def _print_derived(self) -> None:
        """The recorder's own faults (gap, overlap, clock_jump): already in the file."""
        while not self.recorder.derived.empty():
            kind, detail = self.recorder.derived.get()
            self.result.faults.append((kind, detail))
            self._say(f"fault: {kind}: {detail}")

    def _watch_counters(self) -> None:
        """Record what the links counted since the last look (every 0.1 s wall): missed
        heartbeats, request timeouts, rejected stimulator frames."""
        now = time.monotonic()
        if now < self._next_watch:
            return
        self._next_watch = now + 0.1
        counts = {"heartbeat_missed": self.stim.heartbeats_missed,
                  "timeout": self.stim.link.counters["timeouts"]
                  + self.amp.link.counters["timeouts"],
                  "stimulator_frame_error": self.stim.link.stats.errors}
        for kind, value in counts.items():
            new = value - self._counts.get(kind, 0)
            if new > 0:
                self._fault(kind, f"{new} more (total {value}) {FAULT_KINDS[kind]}")
            self._counts[kind] = value

    def _recover_devices(self) -> None:
        """Bring a reconnected device back into the session."""
        try:
            if self._amp_reinit:
                status = self.amp.status()
                if not status.streaming:
                    self._configure_amplifier()
                    guess = self.rowclock.row_at(self.now())
                    offset = max(self.next_row, int(guess) if guess is not None else 0)
                    self._place_pending()  # pulses fired before belong to the old clock
                    self._note_offset(offset)
                    self.amp.start()
                    self.sync.new_epoch()
                    self._fault("restart", f"amplifier streaming again from row {offset}")
                self._amp_reinit, self._amp_ok = False, True
            if self._stim_reinit:
                ident = self.stim.link.identify(DeviceKind.STIMULATOR)
                limits = effective_limits(self.cfg.limits.stim_limits,
                                          StimLimits.from_identity(ident))
                if limits != self.guard.limits:
                    raise SafetyError(f"the stimulator reports other limits after reconnecting "
                                      f"({limits}); stopped")
                self._stim_reinit, self._stim_ok = False, True
                self._armed, self._need_setup = False, True
        except DeviceError as exc:
            if self._down_since is not None and (time.monotonic() - self._down_since
                                                 > self.cfg.recording.reconnect_timeout_s + 5):
                raise SessionStopped(f"device did not come back: {exc}") from None
            return  # try again on the next turn
        if self._amp_ok and self._stim_ok:
            self._down_since = None

    # -- the amplifier stream -----------------------------------------------------------------

    def _amp_item(self, item) -> None:
        if isinstance(item, LinkEvent):
            self._link_event("amplifier", item)
            return
        if not isinstance(item, Received):
            return
        offset = self._offset_of(item.host_time_s)
        before = self.next_row
        for sb in item.samples:
            if sb.n_channels != self.n_ch:
                self._fault("bad_block", f"{sb.n_blocks} blocks with {sb.n_channels} channels "
                                         f"instead of {self.n_ch}; dropped")
                continue
            self.recorder.put_blocks(sb, offset)
            idx = sb.sample_index().astype(np.int64) + offset
            breaks = np.flatnonzero(np.diff(idx) != 1) + 1
            for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(idx)], strict=True):
                self._take_run(int(idx[a]), sb.samples[a:b], sb.digital[a:b])
        if item.errors:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(item.errors.items()))
            self._fault("frame_error", f"amplifier frames rejected: {detail}")
        for g in item.gaps:
            if g.kind in GAP_CAUSES:
                kind, why = GAP_CAUSES[g.kind]
                first, n = g.first_missing_sample + offset, g.n_missing_samples or 0
                what = f"samples {first}-{first + n - 1}" if n else "samples"
                self._fault(kind, f"{what} {why} (block {g.got_seq})", first, n)
        if any(g.kind == "reset" for g in item.gaps):
            self._amplifier_reset(item)
        elif self.next_row > before:
            self.rowclock.observe(item.host_time_s, self.next_row)

    def _take_run(self, first: int, counts: np.ndarray, digital: np.ndarray) -> None:
        """Contiguous samples from row ``first``, placed as the recorder places them."""
        if first < self.next_row:
            skip = min(len(counts), self.next_row - first)
            counts, digital, first = counts[skip:], digital[skip:], first + skip
            if not len(counts):
                return
        prev = self._last_high
        if first > self.next_row:
            if first - self.next_row > self.max_gap:
                return  # the recorder drops it too (clock_jump)
            prev = None
        self.sync.add_edges(rising_edges(digital, prev) + first)
        self.buffer.put(first, counts)
        if self.gate is not None:
            self.gate.feed(first, counts[:, self.gate_ch] * self.scale[self.gate_ch])
        self._last_high = bool(digital[-1] & 1)
        self.next_row = first + len(counts)

    def _amplifier_reset(self, item: Received) -> None:
        """The amplifier restarted its sample clock by itself: the new clock continues at the
        row estimated from the host clock (never before the rows already written)."""
        last = item.samples[-1] if item.samples else None
        n_new = int(last.first_sample[-1]) + int(np.diff(last.row_start)[-1]) if last else 0
        guess = self.rowclock.row_at(item.host_time_s)
        offset = max(self.next_row, int(guess) - n_new if guess is not None else 0)
        self._place_pending()  # pulses fired before the restart belong to the old clock
        self._note_offset(offset)
        self.sync.new_epoch()
        self._fault("device_reset", f"amplifier sample clock restarted; it continues at row "
                                    f"{offset} (samples before that row from the new clock are "
                                    "dropped)")

    # -- placing, measuring, writing ----------------------------------------------------------

    def _resolve(self, force: bool = False) -> None:
        """Place and write pending pulses whose sweeps have arrived (``force``: all)."""
        while self.pending:
            f = self.pending[0]
            if f.placement is None:
                f.placement = self._place(f, force)
                if f.placement is None:
                    return
            if not force and self.next_row < f.placement.row + self.post_n:
                return
            self.pending.popleft()
            self._write(f)

    def _place_pending(self) -> None:
        """Place every pending pulse now with what is known (before a clock restart)."""
        for f in self.pending:
            if f.placement is None:
                f.placement = self._place(f, force=True)

    def _host_rows(self, f: _Fired) -> tuple[float, float] | None:
        lo, hi = self.rowclock.row_at(f.h_send), self.rowclock.row_at(f.h_ack)
        return None if lo is None else (lo, hi)

    def _place(self, f: _Fired, force: bool) -> Placement | None:
        t_us = f.event.device_time_us if f.event is not None else None
        host = self._host_rows(f)
        last = self._last_event
        fit = self.sync.fit
        if f.event is not None and last is not None and (
                f.event.device_time_us < last.device_time_us
                or f.event.pulse_counter <= last.pulse_counter):
            self.sync.new_epoch()  # the stimulator restarted: its clock too
        elif fit is not None and t_us is not None and host is not None:
            p = fit.predict(t_us)
            if not host[0] - 2 * self.host_margin <= p <= host[1] + 2 * self.host_margin:
                self.sync.new_epoch()
                self._fault("clock_restart", "stimulator clock no longer matches the EMG clock; "
                                             "synchronisation starts again")
        latched = self._latched_row(f, host)
        win = ((latched - LATCH_TOLERANCE, latched + LATCH_TOLERANCE) if latched is not None
               else self.sync.window(t_us, host, self.host_margin, self.host_search))
        if not force and (win is None or (self.next_row <= win[1] + 1
                                          and not self.sync.has_edge(win))):
            return None
        if f.event is not None:
            self._last_event = f.event
        placed = self.sync.place(t_us, host, self.host_margin, self.host_search, latched)
        if placed is None:
            placed = Placement(max(0, self.next_row - 1), MODEL, float("nan"))
        if placed.row < 0:
            placed = dataclasses.replace(placed, row=0)
        self.sync.prune(placed.row)
        return placed

    def _latched_row(self, f: _Fired, host: tuple[float, float] | None) -> int | None:
        """The STIM_EVENT's device-latched sample as a row of the current amplifier clock, or
        None (none, or too far from the host's window to be this amplifier's clock: then it
        is ignored for good, with a ``device_index`` fault)."""
        index = f.event.sample_index if f.event is not None else None
        if index is None:
            return None
        row = int(index) + self._offsets[-1][1]
        lo, hi = ((host[0] - 2 * self.host_margin, host[1] + 2 * self.host_margin
                   + self.host_search) if host is not None else (0, math.inf))
        if lo <= row <= hi and row >= 0:
            return row
        f.event = dataclasses.replace(f.event, sample_index=None)
        self._fault("device_index", f"pulse {f.event.pulse_counter}: STIM_EVENT sample_index "
                                    f"{index} (row {row}) is not where the pulse went out; "
                                    "placed without it")
        return None

    def _write(self, f: _Fired) -> None:
        s, pl = self.plan.schedule, f.placement
        rate = self.rate
        got = self.buffer.get(pl.row - self.pre_n, pl.row + self.post_n)
        flags = list(f.flags)
        if pl.method not in (TRIGGER, DEVICE):
            flags.append("no_trigger")
        nan = np.full(self.n_ch, np.nan)
        if got is None:
            flags.append("late")
            m = None
        else:
            counts, received = got
            if not received.all():
                flags.append("gap")
            m = measure_sweep(counts, self.scale, self.pre_n, rate, *self.windows)
            if m.clipped.any():
                flags.append("clipped")
        M, H, bg = (m.M_mV, m.H_mV, m.background_uV) if m is not None else (nan, nan, nan)
        g = self.cfg.gating
        if g is not None and np.isfinite(bg[self.gate_ch]) and not (
                g.min_rms_uV <= bg[self.gate_ch] <= g.max_rms_uV):
            flags.append("bg_high" if bg[self.gate_ch] > g.max_rms_uV else "bg_low")
        row = empty_table(STIMULUS_DTYPE, 1)[0]
        ev = f.event
        row["sample_index"] = pl.row
        row["time_s"] = pl.row / rate
        row["intensity_requested_mA"], row["pulse_width_requested_us"] = f.requested
        row["intensity_mA"] = ev.intensity_uA / 1000.0 if ev else f.requested[0]
        row["pulse_width_us"] = ev.pulse_width_us if ev else f.requested[1]
        if f.k is not None:
            for name in ("block_id", "train_id", "pulse_index", "nominal_frequency_Hz"):
                row[name] = getattr(s, name)[f.k]
        row["sync_method"] = pl.method.encode()
        row["sync_residual_samples"] = pl.residual_samples
        row["wait_s"] = f.wait_s
        self.recorder.put_stimuli(row)
        self._exclude.append((pl.row, pl.row + self.post_n))
        c = self.primary
        rec = StimulusRecord(f.k, pl.row, pl.method, float(pl.residual_samples), f.wait_s,
                             f.h_send, self.now(), float(row["intensity_mA"]), float(M[c]),
                             float(H[c]), float(bg[c]), tuple(flags))
        self.result.stimuli.append(rec)
        block = int(s.block_id[f.k]) if f.k is not None else -1
        if got is not None and block in self._keep_sweeps:
            self._rec_sweeps.setdefault(block, []).append((got[0].T.copy(), row.copy()))
        if self.plot is not None and got is not None:
            kind = self.plan.schedule.blocks[block].kind if block >= 0 else ""
            self.plot.add(got[0] * self.scale[None, :] * 1e3, rec.intensity_mA, rec.M_mV,
                          rec.H_mV, kind == "recruitment")
        label = self.plan.schedule.blocks[block].label if block >= 0 else "unplanned"
        self._say(stimulus_line(n=len(self.result.stimuli), n_total=len(s), time_s=row["time_s"],
                                intensity_mA=rec.intensity_mA, M_mV=rec.M_mV, H_mV=rec.H_mV,
                                background_uV=rec.background_uV, wait_s=f.wait_s, flags=flags,
                                block=label))
        self._bar()

    # -- run-time RDD test intensity ----------------------------------------------------------

    def _resolve_test_intensity(self, block: int) -> None:
        d = next(d for d in self.plan.deferred if d.block_id == block)
        kept = self._rec_sweeps.get(d.source_block, [])
        if not kept:
            raise SessionStopped(f"cannot derive the test intensity of block #{block + 1}: no "
                                 f"sweeps of recruitment block #{d.source_block + 1} were recorded")
        sweeps = np.stack([k[0] for k in kept])
        rows = np.array([k[1] for k in kept], STIMULUS_DTYPE)
        cfg = self.cfg
        mA, how = derive_test_intensity(
            cfg.meta, self.rate, [c.name for c in cfg.channels], [c.muscle for c in cfg.channels],
            self.scale, sweeps, self.pre_n * 1000.0 / self.rate, rows, self.layout.block_table(),
            self.primary, d.h_fraction)
        if mA is None:
            raise SessionStopped(f"cannot derive the test intensity of block #{block + 1} from "
                                 f"recruitment block #{d.source_block + 1}: {how}")
        mA = math.floor(mA * 100) / 100  # 0.01 mA steps, rounded down
        self.plan = resolve_intensity(self.plan, block, mA)
        self.result.test_intensities_mA[block] = mA
        self._say(f"block #{block + 1} ({cfg.protocols[block].label}): test intensity "
                  f"{mA:.2f} mA = {d.h_fraction:g} × Hmax on the ascending limb of block "
                  f"#{d.source_block + 1} ({how})")

    # -- shutdown -----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Disarm (heartbeats stop only after), stop streaming, write what is left, close the
        files. Safe to call more than once; never raises."""
        if self._closed:
            return
        self._closed = True
        problems = []
        if self.stim is not None:
            if self.guard is not None and self.stim.link.connected:
                try:
                    self.guard.disarm()
                except HreflexError as exc:
                    problems.append(f"DISARM failed: {exc}")
            try:
                self.stim.close()
            except HreflexError as exc:
                problems.append(str(exc))
        if self.amp is not None:
            try:
                self.amp.close()
            except HreflexError as exc:
                problems.append(str(exc))
            if self.recorder is not None:
                try:
                    while (item := self.amp.get(0)) is not None:
                        self._amp_item(item)
                    self._drain_stimulator()
                    self._resolve(force=True)
                except (HreflexError, StopIteration) as exc:
                    problems.append(str(exc))
        for p in problems:
            self._fault("shutdown", p)
        if self._tty and self._bar_shown and self.log is not None:
            self.log.write("\n")
        if self.plot is not None:
            self.plot.close()
        if self.disk is not None:
            self.disk.release()  # room for the last writes and closing, whatever happened
        if self.recorder is not None:
            end = COMPLETED if self.result.stopped is None else stopped(self.result.stopped)
            try:
                self.result.recorder = self.recorder.close(end)
            except HreflexError as exc:
                self.result.stopped = self.result.stopped or str(exc)
            self._print_derived()
        elif self.journal is not None:
            self.journal.close()
        if self._own_bench:
            self.bench.close()
        self.result.device_s = self.now() - self.t_start if self.t_start else 0.0


def run_session(config: SessionConfig, **options: Any) -> RunResult:
    """``Engine(config, **options).run()``."""
    return Engine(config, **options).run()
