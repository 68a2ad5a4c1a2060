"""PROTOCOL.md's tables are what the devices do: which opcode each device supports and what
it answers otherwise, the check order, the armed state after each command, the
CONFIGURE_AMPLIFIER ranges and the frame size limits — checked against the emulators, the C
stimulator core (through the test driver) and the amplifier sketch's opcode table."""

from __future__ import annotations

import re

import pytest

from hreflex.devices import Timebase
from hreflex.protocol import (
    MAX_WIRE_LEN,
    Command,
    Opcode,
    Reason,
    Response,
    Status,
    StimEvent,
    StimLimits,
    StreamDecoder,
    encode_wire,
)
from hreflex.protocol.limits import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    amplifier_config_problem,
    block_frame_len,
    max_samples_per_block,
)
from hreflex.sim.emulators import EmulatedAmplifier, EmulatedStimulator
from tests.protocol.conftest import FIRMWARE
from tests.protocol.test_stimulator import run_c

SPEC = (FIRMWARE / "PROTOCOL.md").read_text(encoding="utf-8")
LIMITS = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=10_000)
#: valid arguments of each opcode that takes some
ARGS = {Opcode.CONFIGURE_AMPLIFIER: {"sample_rate_Hz": 5000, "samples_per_block": 5,
                                     "n_channels": 2},
        Opcode.CONFIGURE_STIMULATOR: {"heartbeat_timeout_ms": 1000},
        Opcode.SET_STIMULUS: {"intensity_uA": 10_000, "pulse_width_us": 500}}


def spec_table(header: str) -> list[list[str]]:
    """Rows (cells) of the PROTOCOL.md table whose header row starts with ``header``."""
    lines = SPEC.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip().startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def supported_by_spec() -> dict[str, set[int]]:
    rows = spec_table("| opcode | amplifier | stimulator |")
    assert {Opcode[r[0]] for r in rows} == set(Opcode)
    return {dev: {Opcode[r[0]] for r in rows if r[col] == "✓"}
            for dev, col in (("amplifier", 1), ("stimulator", 2))}


def answers(device, commands: list[Command]) -> dict[int, Reason]:
    """Run commands through an emulator's firmware loop (not started); request id -> reason."""
    out: list[bytes] = []
    device.link.send = lambda data, now: out.append(data)
    for k, c in enumerate(commands):
        device.poll(encode_wire(c), now=1.0 + k * 1e-3)
    frames = StreamDecoder().feed(b"".join(out)).frames
    return {f.request_id: Reason(f.reason) for f in frames if isinstance(f, Response)}


@pytest.fixture
def emulators(tmp_path):
    tb = Timebase()
    return {"amplifier": EmulatedAmplifier(tmp_path / "amp", timebase=tb, signal="test",
                                           n_channels=2, sample_rate_Hz=5000),
            "stimulator": EmulatedStimulator(tmp_path / "stim", timebase=tb, limits=LIMITS)}


def every_opcode() -> list[Command]:
    return [Command.make(int(op), op, **ARGS.get(op, {})) for op in Opcode]


def test_the_opcode_table_is_what_the_emulators_answer(emulators):
    spec = supported_by_spec()
    for name, device in emulators.items():
        got = answers(device, every_opcode())
        refused = {Opcode(rid) for rid, why in got.items() if why == Reason.NOT_SUPPORTED}
        assert refused == set(Opcode) - spec[name], name
        assert device.SUPPORTED == spec[name]


def test_the_opcode_table_is_what_the_c_stimulator_and_the_amplifier_sketch_do(c_driver):
    spec = supported_by_spec()
    run = run_c(c_driver, [(10 * k, c) for k, c in enumerate(every_opcode())])
    refused = {Opcode(rid) for rid, r in run.responses.items()
               if r.reason == Reason.NOT_SUPPORTED}
    assert refused == set(Opcode) - spec["stimulator"]
    sketch = (FIRMWARE / "amplifier_streamer" / "amplifier_streamer.ino").read_text()
    table = re.search(r"ARGS\[\] = \{([^}]*)\}", sketch).group(1)
    arg_len = [int(x) for x in table.split(",")]
    assert {Opcode(op) for op, n in enumerate(arg_len) if n >= 0} == spec["amplifier"]


def test_the_check_order_unknown_then_unsupported_then_argument_length(emulators, c_driver):
    wrong_args = b"\x01"
    script = [Command(1, 0x7F, b""),                       # unknown opcode
              Command(2, Opcode.START, wrong_args),        # not supported by a stimulator
              Command(3, Opcode.SET_STIMULUS, wrong_args)]  # supported, wrong length
    want = {1: Reason.UNKNOWN_OPCODE, 2: Reason.NOT_SUPPORTED, 3: Reason.BAD_ARGUMENTS}
    assert answers(emulators["stimulator"], script) == want
    run = run_c(c_driver, [(10 * k, c) for k, c in enumerate(script)])
    assert {rid: Reason(r.reason) for rid, r in run.responses.items()} == want
    amp = [Command(1, 0x7F, b""), Command(2, Opcode.FIRE, wrong_args),
           Command(3, Opcode.CONFIGURE_AMPLIFIER, wrong_args)]
    assert answers(emulators["amplifier"], amp) == want


def armed_rules() -> dict[str, str]:
    """Command -> ``armed`` / ``unchanged`` / ``disarmed`` from the armed-state table."""
    rules = {}
    for cells in spec_table("   | command | armed state after it |"):
        after = cells[1].replace("*", "").split()[0].rstrip(":")
        for name in re.findall(r"[A-Z_]{4,}", cells[0]):
            rules[name] = after
    return rules


#: the command to try, by name, in its accepted and (for SET_STIMULUS) refused form
TRIES = [("SET_STIMULUS", {"intensity_uA": 20_000, "pulse_width_us": 800}),
         ("SET_STIMULUS", {"intensity_uA": 60_000, "pulse_width_us": 800}),  # refused
         ("FIRE", {}), ("CONFIGURE_STIMULATOR", {"heartbeat_timeout_ms": 2000}),
         ("HEARTBEAT", {}), ("IDENTIFY", {}), ("GET_STATUS", {}), ("DISARM", {})]


@pytest.mark.parametrize("name, fields", TRIES)
def test_the_armed_state_after_each_command(c_driver, tmp_path, name, fields):
    """Armed with 10 mA: ``name`` (at 300 ms, after a pulse at 100 ms), GET_STATUS, then FIRE
    at 500 ms. The C core and the emulator both follow the table; an armed device that got
    a new stimulus delivers it without being armed again."""
    rules = armed_rules()
    script = [(0, Command.make(1, Opcode.SET_STIMULUS, intensity_uA=10_000, pulse_width_us=500)),
              (10, Command.make(2, Opcode.ARM)), (100_000, Command.make(3, Opcode.FIRE)),
              (300_000, Command.make(4, Opcode[name], **fields)),
              (300_010, Command.make(5, Opcode.GET_STATUS)),
              (500_000, Command.make(6, Opcode.FIRE))]
    stay = rules[name] in ("unchanged", "armed")
    c = run_c(c_driver, script)
    for statuses, events in ((c.statuses, c.events), _emulator_run(tmp_path, script)):
        assert statuses[-1].armed == stay, name
        fired = [e for e in events if e.request_id == 6]
        assert bool(fired) == stay
        if stay and name == "SET_STIMULUS":  # the new stimulus, or the old one if refused
            accepted = fields["intensity_uA"] <= LIMITS.max_intensity_uA
            assert fired[0].intensity_uA == (fields["intensity_uA"] if accepted else 10_000)


def _emulator_run(tmp_path, script) -> tuple[list[Status], list[StimEvent]]:
    stim = EmulatedStimulator(tmp_path / "s", timebase=Timebase(), limits=LIMITS)
    stim.clock.reboot(0.0)
    out: list[bytes] = []
    stim.link.send = lambda data, now: out.append(data)
    for t_us, c in script:
        stim.poll(encode_wire(c), now=t_us * 1e-6 + 1e-9)
    frames = StreamDecoder().feed(b"".join(out)).frames
    return ([f for f in frames if isinstance(f, Status)],
            [f for f in frames if isinstance(f, StimEvent)])


def test_configure_amplifier_ranges_are_the_spec_and_the_emulator_refuses_outside(emulators):
    rows = {r[1].strip("`"): r[2] for r in spec_table("| command | field | range |")
            if r[0] == "CONFIGURE_AMPLIFIER"}
    assert rows["n_channels"] == f"1 … {MAX_CHANNELS}"
    assert rows["sample_rate_Hz"] == f"{MIN_SAMPLE_RATE_HZ} … {MAX_SAMPLE_RATE_HZ}"
    amp = emulators["amplifier"]
    cases = []
    for n_ch in (0, 1, 2, 16, 17):
        for rate in (0, 1, 20_000, 20_001):
            most = max_samples_per_block(max(1, n_ch))
            for spb in (0, 1, most, most + 1):
                cases.append((rate, spb, n_ch))
    commands = [Command.make(k + 1, Opcode.CONFIGURE_AMPLIFIER, sample_rate_Hz=r,
                             samples_per_block=b, n_channels=c)
                for k, (r, b, c) in enumerate(cases)]
    got = answers(amp, commands)
    for k, (rate, spb, n_ch) in enumerate(cases):
        ok = 1 <= n_ch <= 16 and 1 <= rate <= 20_000 and 1 <= spb and (
            24 + spb * (2 * n_ch + 1) <= 8192)  # PROTOCOL.md, written out
        assert (got[k + 1] == Reason.OK) == ok, (rate, spb, n_ch, got[k + 1])
        assert (amplifier_config_problem(rate, spb, n_ch) is None) == ok


def test_frame_size_limits_are_consistent():
    assert MAX_WIRE_LEN == 8192 + 8192 // 254 + 1 == 8225
    assert "**8225 bytes**" in SPEC and "**8224 bytes**" in SPEC
    header = (FIRMWARE / "hreflex_proto.h").read_text()
    assert "#define HRX_DECODER_FULL_CAP (HRX_MAX_WIRE_LEN - 1u)" in header
    row = next(r for r in spec_table("| frame | bytes |") if r[0].startswith("SAMPLE_BLOCK"))
    for n_ch, most in ((1, 2722), (2, 1633), (16, 247)):
        assert max_samples_per_block(n_ch) == most and f"{most} at" in row[1]
        assert block_frame_len(most, n_ch) <= 8192 < block_frame_len(most + 1, n_ch)
