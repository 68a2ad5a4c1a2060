"""The emulated devices driven by hand over their ptys (no host driver): the firmware's answers
as PROTOCOL.md specifies them, pacing on the drifting device clock, the watchdog, the bench."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hreflex.protocol import (
    Command,
    DeviceKind,
    Identity,
    Opcode,
    Reason,
    Response,
    Status,
    StimEvent,
    StimLimits,
    encode_wire,
)
from tests.devices.helpers import pattern

SET = Opcode.SET_STIMULUS


def answers(raw):
    def ask(rid: int, opcode: int, **fields: int) -> Reason:
        return Reason(raw.request(rid, opcode, **fields).reason)
    return ask


def test_stimulator_firmware_rules(rig) -> None:
    limits = StimLimits(max_intensity_uA=50_000, max_pulse_width_us=1000, max_rate_mHz=10_000)
    bench = rig.bench(limits=limits, speed=1.0)  # real time: 100 ms between pulses
    raw = rig.raw(bench.stimulator_url)
    ask = answers(raw)
    assert ask(1, Opcode.FIRE) == Reason.NOT_ARMED
    assert ask(2, Opcode.ARM) == Reason.NO_STIMULUS
    assert ask(3, SET, intensity_uA=50_001, pulse_width_us=500) == Reason.INTENSITY_LIMIT
    assert ask(4, SET, intensity_uA=50_000, pulse_width_us=0) == Reason.PULSE_WIDTH_LIMIT
    assert ask(5, SET, intensity_uA=50_000, pulse_width_us=1001) == Reason.PULSE_WIDTH_LIMIT
    assert ask(6, SET, intensity_uA=50_000, pulse_width_us=1000) == Reason.OK
    assert ask(7, Opcode.ARM) == Reason.OK
    assert ask(8, Opcode.FIRE) == Reason.OK
    assert ask(9, Opcode.FIRE) == Reason.RATE_LIMIT
    raw.pump(0.12)
    assert ask(10, Opcode.FIRE) == Reason.OK
    assert ask(11, Opcode.DISARM) == Reason.OK
    assert ask(12, Opcode.FIRE) == Reason.NOT_ARMED
    raw.send(Command(13, 0x7F))
    raw.send(Command(14, SET, b"\x01\x02\x03\x04"))
    assert ask(15, Opcode.START) == Reason.NOT_SUPPORTED
    assert [raw.wait(lambda f, r=r: isinstance(f, Response) and f.request_id == r).reason
            for r in (13, 14)] == [Reason.UNKNOWN_OPCODE, Reason.BAD_ARGUMENTS]
    assert ask(16, Opcode.IDENTIFY) == Reason.OK

    events = [f for f in raw.frames if isinstance(f, StimEvent)]
    assert [(e.pulse_counter, e.request_id, e.intensity_uA, e.pulse_width_us, e.sample_index)
            for e in events] == [(1, 8, 50_000, 1000, None), (2, 10, 50_000, 1000, None)]
    assert (events[1].device_time_us - events[0].device_time_us) * 10_000 >= 10**9
    ident = next(f for f in raw.frames if isinstance(f, Identity))
    assert ident.kind == DeviceKind.STIMULATOR and StimLimits.from_identity(ident) == limits
    # every frame came before its own answer, and the command record is complete
    kinds = [type(f).__name__ for f in raw.frames]
    assert kinds[kinds.index("Identity") + 1] == "Response"
    assert [c.command.request_id for c in bench.stimulator.commands] == list(range(1, 17))
    assert [(p.pulse_counter, p.request_id) for p in bench.delivered] == [(1, 8), (2, 10)]
    assert all(p.amplifier_sample_index is None for p in bench.delivered)  # not streaming


def test_stimulator_watchdog_disarms_when_heartbeats_stop(rig) -> None:
    bench = rig.bench(speed=10.0)
    raw = rig.raw(bench.stimulator_url)
    ask = answers(raw)
    assert ask(1, Opcode.CONFIGURE_STIMULATOR, heartbeat_timeout_ms=5) == Reason.BAD_CONFIG
    assert ask(2, Opcode.CONFIGURE_STIMULATOR, heartbeat_timeout_ms=1000) == Reason.OK
    assert ask(3, SET, intensity_uA=10_000, pulse_width_us=200) == Reason.OK
    assert ask(4, Opcode.ARM) == Reason.OK
    for rid in range(5, 15):  # heartbeats every ~300 ms of experiment time
        raw.pump(0.02)
        assert ask(rid, Opcode.HEARTBEAT) == Reason.OK
    assert not any(isinstance(f, Status) for f in raw.frames)
    status = raw.wait(lambda f: isinstance(f, Status), timeout_s=2.0)
    assert (status.armed, status.watchdog_tripped, status.last_disarm_reason,
            status.watchdog_trips) == (False, True, Reason.WATCHDOG, 1)
    last_beat = bench.stimulator.commands[-1]
    assert last_beat.command.request_id == 14
    beat_us = bench.stimulator.clock.time_us(last_beat.true_time_s)
    assert 1_000_000 <= status.device_time_us - beat_us < 1_100_000  # tripped on time
    assert ask(20, Opcode.FIRE) == Reason.NOT_ARMED
    assert ask(21, Opcode.ARM) == Reason.OK
    assert ask(22, Opcode.GET_STATUS) == Reason.OK
    again = [f for f in raw.frames if isinstance(f, Status)][-1]
    assert again.armed and not again.watchdog_tripped and again.watchdog_trips == 1


def test_amplifier_firmware_answers_and_paces_on_its_drifting_clock(rig) -> None:
    ppm, rate, spb, n_ch = 5000.0, 5000, 10, 3  # an exaggerated drift to see it in the count
    bench = rig.bench(signal="test", sample_rate_Hz=rate, drift_ppm=(ppm, 0.0))
    raw = rig.raw(bench.amplifier_url)
    ask = answers(raw)
    assert ask(1, Opcode.IDENTIFY) == Reason.OK
    ident = next(f for f in raw.frames if isinstance(f, Identity))
    assert (ident.kind, ident.sample_rate_Hz, ident.n_channels) == (DeviceKind.AMPLIFIER, rate, 2)
    conf = Opcode.CONFIGURE_AMPLIFIER
    assert ask(2, conf, sample_rate_Hz=rate, samples_per_block=spb,
               n_channels=17) == Reason.BAD_CONFIG
    assert ask(3, conf, sample_rate_Hz=20_001, samples_per_block=spb,
               n_channels=2) == Reason.BAD_CONFIG
    assert ask(4, conf, sample_rate_Hz=rate, samples_per_block=300,
               n_channels=16) == Reason.BAD_CONFIG  # 9924-byte frame > 8192
    assert ask(5, Opcode.FIRE) == Reason.NOT_SUPPORTED
    assert ask(6, conf, sample_rate_Hz=rate, samples_per_block=spb, n_channels=n_ch) == Reason.OK
    assert ask(7, Opcode.START) == Reason.OK
    assert ask(8, conf, sample_rate_Hz=rate, samples_per_block=spb,
               n_channels=n_ch) == Reason.BUSY
    assert ask(9, Opcode.START) == Reason.BUSY
    raw.pump(0.3)
    assert ask(10, Opcode.STOP) == Reason.OK
    raw.pump(0.05)

    seq, first, samples, digital = (np.concatenate([getattr(b, k) for b in raw.samples])
                                    for k in ("seq", "first_sample", "samples", "digital"))
    n = len(digital)
    assert seq.tolist() == list(range(n // spb))
    assert first.tolist() == list(range(0, n, spb))
    assert np.array_equal(samples, pattern(np.arange(n), n_ch))
    assert not raw.gaps and not digital.any()
    # blocks were sent as the device clock ((1 + ppm) x true time) completed them
    times = {c.command.request_id: c.true_time_s for c in bench.amplifier.commands}
    due = math.floor((times[10] - times[7]) * (1 + ppm * 1e-6) * rate) // spb * spb
    without_drift = math.floor((times[10] - times[7]) * rate) // spb * spb
    assert abs(n - due) <= spb and abs(n - without_drift) > 3 * spb
    assert bench.amplifier.blocks_sent == n // spb


def test_bench_links_faults_api_and_cleanup(rig) -> None:
    bench = rig.bench()
    for url in (bench.amplifier_url, bench.stimulator_url):
        assert Path(url).parent == bench.directory and Path(url).resolve().is_char_device()
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        bench.amplifier.inject("explode")
    with pytest.raises(TypeError, match="takes"):
        bench.stimulator.inject("stall", seconds=1)
    bench.close()
    assert not bench.directory.exists()


def test_commands_record_when_their_bytes_were_read_and_when_handled(rig) -> None:
    bench = rig.bench()
    ask = answers(rig.raw(bench.stimulator_url))
    assert ask(1, Opcode.HEARTBEAT) == Reason.OK and ask(2, Opcode.GET_STATUS) == Reason.OK
    received = list(bench.stimulator.commands)
    assert [c.command.request_id for c in received] == [1, 2]
    # read from the pty first, handled after (the bench lock may delay the handling)
    assert all(c.read_time_s is not None and c.read_time_s <= c.true_time_s for c in received)
    assert received[0].read_time_s <= received[1].read_time_s
    # a device polled by hand (no pty read) has no read time
    dev = bench.stimulator
    n = len(dev.commands)
    dev.poll(encode_wire(Command.make(3, Opcode.HEARTBEAT)))
    assert dev.commands[n].read_time_s is None and dev.commands[n].command.request_id == 3
