"""Session configuration: one TOML file describes devices, channels, protocols, limits, gating
and recording (schema with every key, unit and default: ``docs/ACQUISITION.md``).

:func:`load_config` parses and checks it; every problem raises one-line :class:`ConfigError`
naming the file, the table and the key. Unknown keys are refused. Whether the protocols fit the
limits is checked on the built schedule by :func:`hreflex.acquisition.plan.check_plan`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hreflex.acquisition.protocols import (  # noqa: F401 (the protocol records, re-exported)
    MAX_INTERVAL_S,
    MAX_STIMULI,
    DerivedIntensity,
    Fixed,
    Protocol,
    Rdd,
    Recruitment,
    parse_protocols,
)
from hreflex.acquisition.safety import wire_limits
from hreflex.acquisition.table import REQUIRED, Table
from hreflex.devices.transport import PortTarget, UsbMatch
from hreflex.errors import ConfigError
from hreflex.io.session import SessionMeta
from hreflex.io.toml import load_toml
from hreflex.protocol.limits import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    amplifier_config_problem,
)
from hreflex.protocol.safety import HEARTBEAT_MAX_MS, HEARTBEAT_MIN_MS, StimLimits

MAX_FLUSH_INTERVAL_S = 0.5
NAME_FIELDS = ("subject", "session", "condition", "date", "time")
#: longest sweep part (pre_ms, post_ms) and gating window, ms
MAX_SWEEP_MS = 10_000.0
#: seeds are unsigned 64-bit integers
MAX_SEED = 2**64 - 1
#: the wire carries limits as u32 (µA, µs, mHz)
_U32 = 2**32 - 1


# -- the configuration records ----------------------------------------------------------------


@dataclass(frozen=True)
class PortSpec:
    """How to find one device: a ``port`` (path such as ``/dev/ttyACM0`` or ``COM3``, or a
    pyserial URL such as ``loop://``), or a USB match on ``vid``/``pid``/``serial_number``,
    or ``emulated`` (the engine starts a device emulator). ``baud`` in bit/s."""

    role: str
    port: str | None = None
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    emulated: bool = False
    baud: int = 2_000_000

    def target(self) -> PortTarget:
        """What the device driver opens: the path/URL as given, or a USB match that is resolved
        again at every (re)open, so a replugged device is found under its new name."""
        if self.port is not None:
            return self.port
        return UsbMatch(self.vid, self.pid, self.serial_number)

    def describe(self) -> str:
        return "emulated" if self.emulated else str(self.target())


@dataclass(frozen=True)
class AmplifierConfig:
    connection: PortSpec
    sample_rate_Hz: int
    samples_per_block: int


@dataclass(frozen=True)
class StimulatorConfig:
    connection: PortSpec
    heartbeat_timeout_ms: int


@dataclass(frozen=True)
class Channel:
    name: str
    muscle: str = ""


@dataclass(frozen=True)
class SweepConfig:
    """Sweep window around each stimulus (ms) and the initial live-view M/H windows (ms after
    the stimulus; None = not set)."""

    pre_ms: float
    post_ms: float
    M_window_ms: tuple[float, float] | None = None
    H_window_ms: tuple[float, float] | None = None


@dataclass(frozen=True)
class LimitsConfig:
    """``[limits]`` as written: intensity mA, pulse width µs, rate Hz, stimuli per session."""

    max_intensity_mA: float
    max_pulse_width_us: float
    max_rate_Hz: float
    max_stimuli: int

    @property
    def stim_limits(self) -> StimLimits:
        """The same limits in wire units (rounded down)."""
        return wire_limits(self.max_intensity_mA, self.max_pulse_width_us, self.max_rate_Hz)




@dataclass(frozen=True)
class GatingConfig:
    """Background-EMG gating: stimulate only after the RMS of ``channel`` over the last
    ``window_ms`` stayed within [min_rms_uV, max_rms_uV] for ``hold_s``; give up waiting after
    ``max_wait_s`` (the stimulus is then delivered and flagged)."""

    channel: str
    window_ms: float
    min_rms_uV: float
    max_rms_uV: float
    hold_s: float
    max_wait_s: float


@dataclass(frozen=True)
class RecordingConfig:
    output_dir: Path
    name: str
    flush_interval_s: float
    journal: bool
    journal_fsync_s: float
    reconnect_timeout_s: float
    overwrite: bool
    recorder: str = "process"  # the file is written by a child process, or "thread" in this one


@dataclass(frozen=True)
class EmulatorConfig:
    preset: str | None  # None: no device is emulated in this process
    speed_factor: float
    seed: int


@dataclass(frozen=True)
class SessionConfig:
    """A whole validated session configuration (``source``: the file it came from, ``text``:
    its TOML, stored in the session file as requested)."""

    source: str
    text: str
    meta: SessionMeta
    amplifier: AmplifierConfig
    stimulator: StimulatorConfig
    channels: tuple[Channel, ...]
    sweep: SweepConfig
    limits: LimitsConfig
    protocols: tuple[Protocol, ...]
    seed: int | None
    block_gap_s: float
    gating: GatingConfig | None
    recording: RecordingConfig
    emulator: EmulatorConfig | None = None

    def output_path(self, now: datetime | None = None) -> Path:
        """Session file path: ``[recording] output_dir / name`` with the placeholders filled
        and ``.h5`` appended."""
        now = now or datetime.now()
        values = {
            "subject": self.meta.subject_id, "session": self.meta.session_id,
            "condition": self.meta.condition, "date": now.strftime("%Y%m%d"),
            "time": now.strftime("%H%M%S"),
        }
        name = self.recording.name.format(**values)
        return self.recording.output_dir / (name if name.endswith(".h5") else name + ".h5")


# -- parsing ----------------------------------------------------------------------------------


def _port_spec(t: Table, role: str) -> PortSpec:
    emulated = t.flag("emulated", False)
    port = t.text("port", None)
    vid = t.number("vid", None, ge=0, le=0xFFFF, integer=True)
    pid = t.number("pid", None, ge=0, le=0xFFFF, integer=True)
    serial = t.text("serial_number", None)
    ways = [emulated, port is not None, any(v is not None for v in (vid, pid, serial))]
    if sum(ways) != 1:
        raise ConfigError(
            f"{t.where}: give exactly one of port, vid/pid/serial_number or emulated = true"
        )
    if port is not None and not port.strip():
        raise t.fail("port", "is empty")
    baud = t.number("baud", 2_000_000, gt=0, le=50_000_000, integer=True)
    return PortSpec(role, port, vid, pid, serial, emulated, baud)


def _devices(root: Table) -> tuple[AmplifierConfig, StimulatorConfig]:
    devices = root.sub("devices")
    amp_t = devices.sub("amplifier", section="[devices.amplifier]")
    stim_t = devices.sub("stimulator", section="[devices.stimulator]")
    devices.finish()
    rate = amp_t.number("sample_rate_Hz", ge=MIN_SAMPLE_RATE_HZ, le=MAX_SAMPLE_RATE_HZ,
                        integer=True)
    amp = AmplifierConfig(
        _port_spec(amp_t, "amplifier"),
        rate,
        amp_t.number("samples_per_block", max(1, rate // 1000), ge=1, integer=True),
    )
    stim = StimulatorConfig(
        _port_spec(stim_t, "stimulator"),
        stim_t.number(
            "heartbeat_timeout_ms", 1000, ge=HEARTBEAT_MIN_MS, le=HEARTBEAT_MAX_MS, integer=True
        ),
    )
    amp_t.finish()
    stim_t.finish()
    return amp, stim


def _channels(root: Table) -> tuple[Channel, ...]:
    out = []
    for t in root.items("channels", "[[channels]]"):
        name = t.text("name")
        if not name.strip():
            raise t.fail("name", "is empty")
        out.append(Channel(name, t.text("muscle", "")))
        t.finish()
    names = [c.name for c in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(f"{root.where} [[channels]]: name {dup!r} is used twice")
    return tuple(out)


def _gating(root: Table, channels: tuple[Channel, ...]) -> GatingConfig | None:
    if not root.has("gating"):
        return None
    t = root.sub("gating")
    names = [c.name for c in channels]
    channel = t.text("channel", names[0])
    if channel not in names:
        raise t.fail("channel", f"{channel!r} is not one of the [[channels]] names {names}")
    lo = t.number("min_rms_uV", 0.0, ge=0)
    g = GatingConfig(
        channel, t.number("window_ms", 50.0, gt=0, le=MAX_SWEEP_MS), lo,
        t.number("max_rms_uV", gt=lo), t.number("hold_s", 2.0, ge=0, le=MAX_INTERVAL_S),
        t.number("max_wait_s", 30.0, gt=0, le=MAX_INTERVAL_S),
    )
    t.finish()
    return g


def _recording(root: Table) -> RecordingConfig:
    t = root.sub("recording", required=False)
    name = t.text("name", "{subject}_{session}_{date}_{time}")
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(name) if f is not None}
    except ValueError as exc:
        raise t.fail("name", f"is not a valid name template ({exc})") from None
    bad = sorted(used - set(NAME_FIELDS))
    if bad:
        raise t.fail("name", f"has unknown placeholder {{{bad[0]}}} (use {', '.join(NAME_FIELDS)})")
    r = RecordingConfig(
        Path(t.text("output_dir", ".")), name,
        t.number("flush_interval_s", 0.25, gt=0, le=MAX_FLUSH_INTERVAL_S),
        t.flag("journal", True), t.number("journal_fsync_s", 0.5, gt=0, le=10),
        t.number("reconnect_timeout_s", 10.0, ge=0, le=3600), t.flag("overwrite", False),
        t.text("recorder", "process", choices=("process", "thread")),
    )
    t.finish()
    return r


def _emulator(root: Table, needed: bool) -> EmulatorConfig | None:
    """``[emulator]``: the preset (required only when a device is emulated here), the speed
    of device time (also for devices emulated elsewhere, e.g. in another process) and the
    physiology's seed."""
    if not root.has("emulator"):
        if needed:
            raise ConfigError(f"{root.where}: a device has emulated = true but [emulator] is missing")
        return None
    from hreflex.sim.presets import get_preset

    t = root.sub("emulator")
    preset = t.text("preset", REQUIRED if needed else None)
    if preset is not None:
        try:
            get_preset(preset)
        except ConfigError as exc:
            raise t.fail("preset", f"{preset!r}: {exc}") from None
    e = EmulatorConfig(
        preset, t.number("speed_factor", 1.0, gt=0, le=1000),
        t.number("seed", 0, ge=0, le=MAX_SEED, integer=True),
    )
    t.finish()
    return e


def parse_config(data: dict[str, Any], source: str = "<config>", text: str = "") -> SessionConfig:
    """Validate an already-parsed TOML document; ``source`` names it in error messages."""
    root = Table(data, source, "")
    md = root.sub("metadata", required=False)
    meta = SessionMeta(
        subject_id=md.text("subject", ""), session_id=md.text("session", ""),
        species=md.text("species", "human"), muscle=md.text("muscle", ""),
        nerve=md.text("nerve", ""), condition=md.text("condition", ""),
        notes=md.text("notes", ""),
    )
    md.finish()
    amp, stim = _devices(root)
    channels = _channels(root)
    if len(channels) > MAX_CHANNELS:
        raise ConfigError(f"{source} [[channels]]: {len(channels)} channels, an amplifier has "
                          f"at most {MAX_CHANNELS}")
    why = amplifier_config_problem(amp.sample_rate_Hz, amp.samples_per_block, len(channels))
    if why is not None:
        raise ConfigError(f"{source} [devices.amplifier]: samples_per_block: {why}")
    sw = root.sub("sweep", required=False)
    sweep = SweepConfig(
        sw.number("pre_ms", 50.0, ge=0, le=MAX_SWEEP_MS),
        sw.number("post_ms", 100.0, gt=0, le=MAX_SWEEP_MS),
        sw.window("M_window_ms"), sw.window("H_window_ms"),
    )
    for key, w in (("M_window_ms", sweep.M_window_ms), ("H_window_ms", sweep.H_window_ms)):
        if w is not None and not (0 <= w[0] and w[1] <= sweep.post_ms):
            raise sw.fail(key, f"{list(w)} must lie within 0..post_ms ({sweep.post_ms:g} ms)")
    sw.finish()
    lt = root.sub("limits")
    limits = LimitsConfig(
        lt.number("max_intensity_mA", gt=0, le=_U32 / 1000),
        lt.number("max_pulse_width_us", gt=0, le=_U32),
        lt.number("max_rate_Hz", gt=0, le=_U32 / 1000),
        lt.number("max_stimuli", ge=1, le=MAX_STIMULI, integer=True),
    )
    lt.finish()
    protocols = parse_protocols(root)
    sc = root.sub("schedule", required=False)
    seed = sc.number("seed", None, ge=0, le=MAX_SEED, integer=True)
    block_gap_s = sc.number("block_gap_s", 10.0, gt=0, le=MAX_INTERVAL_S)
    sc.finish()
    gating = _gating(root, channels)
    recording = _recording(root)
    emulator = _emulator(root, amp.connection.emulated or stim.connection.emulated)
    root.finish()
    return SessionConfig(
        source, text, meta, amp, stim, channels, sweep, limits, protocols, seed, block_gap_s,
        gating, recording, emulator,
    )


def load_config(path: str | Path) -> SessionConfig:
    """Read and validate a session configuration file (raises :class:`ConfigError`)."""
    path = Path(path)
    data = load_toml(path)
    return parse_config(data, source=path.name, text=path.read_text(encoding="utf-8"))
