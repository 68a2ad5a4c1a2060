"""The emulated stimulator answers exactly as the C firmware core (stim_device.c, driven by the
test driver with a scripted clock) does, frame for frame, on random command sequences."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hreflex.devices import Timebase
from hreflex.protocol import Command, Identity, Opcode, StimLimits, StreamDecoder, encode_wire
from hreflex.sim.emulators import EmulatedStimulator
from tests.protocol.conftest import c_driver  # noqa: F401  (the C test driver fixture)

LIMITS = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=10_000)

commands = st.one_of(
    st.none(),  # time passes (the watchdog runs)
    st.builds(lambda ua, us: (Opcode.SET_STIMULUS, {"intensity_uA": ua, "pulse_width_us": us}),
              st.integers(0, 60_000), st.integers(0, 1200)),
    st.builds(lambda ms: (Opcode.CONFIGURE_STIMULATOR, {"heartbeat_timeout_ms": ms}),
              st.integers(0, 2000)),
    st.sampled_from([(op, {}) for op in (Opcode.ARM, Opcode.FIRE, Opcode.FIRE, Opcode.DISARM,
                                         Opcode.HEARTBEAT, Opcode.GET_STATUS, Opcode.IDENTIFY,
                                         Opcode.START)]),
    st.sampled_from([(0x7F, b""), (Opcode.SET_STIMULUS, b"\x01\x02\x03\x04"),
                     (Opcode.ARM, b"\x00")]),  # unknown opcode, wrong argument lengths
)


def frames_of(wire: bytes) -> list:
    decoder = StreamDecoder()
    frames = decoder.feed(wire).frames
    assert decoder.stats.errors == 0
    # the emulator names itself differently; everything else must be identical
    return [replace(f, model="", serial="") if isinstance(f, Identity) else f for f in frames]


def emulator_output(script: list[tuple[int, bytes]], tmp_path) -> bytes:
    """Run the script through the emulator's firmware loop (not started: no pty traffic)."""
    stim = EmulatedStimulator(tmp_path / "stim", timebase=Timebase(), limits=LIMITS)
    stim.clock.reboot(0.0)
    out: list[bytes] = []
    stim.link.send = lambda data, now: out.append(data)
    for t_us, data in script:
        stim.poll(data, now=t_us * 1e-6 + 1e-9)  # + 1 ns: the device µs clock reads t_us
    return b"".join(out)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400_000), commands), max_size=40))
def test_emulated_stimulator_matches_the_c_firmware(c_driver, tmp_path_factory, steps) -> None:  # noqa: F811
    script, t = [], 0
    for rid, (dt, spec) in enumerate(steps, start=1):
        t += dt
        if spec is None:
            script.append((t, b""))
            continue
        opcode, args = spec
        cmd = (Command(rid, opcode, args) if isinstance(args, bytes)
               else Command.make(rid, opcode, **args))
        script.append((t, encode_wire(cmd)))
    lines = "".join(f"{t} {data.hex() or '-'}\n" for t, data in script)
    c_wire, _ = c_driver.run("stim", str(LIMITS.max_intensity_uA),
                             str(LIMITS.max_pulse_width_us), str(LIMITS.max_rate_mHz),
                             data=lines.encode())
    py_wire = emulator_output(script, tmp_path_factory.mktemp("stim"))
    assert frames_of(py_wire) == frames_of(c_wire)
