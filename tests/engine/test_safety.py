"""Safety on every exit path, proven by the emulated stimulator's own record: Ctrl-C, a killed
host (the device watchdog), an exception, a refusal; bad configs send nothing; random configs
never produce a command beyond the limits."""

from __future__ import annotations

import math
import signal
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hreflex.acquisition.config import load_config
from hreflex.acquisition.engine import Engine
from hreflex.acquisition.recover import recover
from hreflex.cli import cli
from hreflex.io.session import read_session
from hreflex.io.validate import check_file
from hreflex.protocol import Opcode, Reason
from hreflex.sim.emulators import EmulatedBench
from tests.engine.conftest import SPEED
from tests.engine.helpers import (
    assert_disarmed_last,
    config_dict,
    port_config,
    wait_for,
    write_config,
)

GUARDED = (Opcode.SET_STIMULUS, Opcode.ARM, Opcode.FIRE)


def ops(bench):
    return [(c.true_time_s, c.command.opcode) for c in bench.stimulator.commands]


@pytest.mark.parametrize("sig, code, reason", [
    (signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "interrupted (SIGTERM)")])
def test_ctrl_c_and_sigterm_disarm_then_close_the_file(tmp_path, bench, spawn, sig, code, reason):
    child = spawn("acquire", str(port_config(tmp_path, bench)))
    wait_for(lambda: len(bench.delivered) >= 3, 30, "three pulses")
    child.send_signal(sig)
    assert child.wait(timeout=30) == code  # 128 + the signal number (ACQUISITION.md)
    log = open(child.log_path).read()
    assert f"session stopped early: {reason}" in log and "Traceback" not in log
    t_disarm = assert_disarmed_last(bench)
    record = ops(bench)
    # heartbeats ran up to the disarm (period: timeout / 5 = 0.4 s of device time)
    beats = [t for t, op in record if op == Opcode.HEARTBEAT and t <= t_disarm]
    assert t_disarm - beats[-1] <= 0.6
    time.sleep(0.3)  # > the 2 s watchdog at 10 x: it never had to act
    assert bench.stimulator.safety.watchdog_trips == 0
    path = next(tmp_path.glob("*.h5"))
    assert check_file(path) == []
    with h5py.File(path, "r") as f:  # closed properly: no SWMR reader needed
        n = f["stimuli/events"].shape[0]
        assert f.attrs["end_state"] == f"stopped: {reason}"
    assert n == len(bench.delivered)
    assert f"warning: end_state is 'stopped: {reason}'" in _cli("validate", str(path)).output


def test_a_killed_host_is_disarmed_by_the_watchdog(tmp_path, bench, spawn):
    child = spawn("acquire", str(port_config(tmp_path, bench)))
    wait_for(lambda: bench.stimulator.safety.armed and len(bench.delivered) >= 2, 30, "armed")
    child.kill()  # SIGKILL: no chance to disarm
    child.wait(timeout=10)
    safety = bench.stimulator.safety
    wait_for(lambda: not safety.armed, 5, "the watchdog")  # 2 s of device time = 0.2 s wall
    assert safety.last_disarm_reason == Reason.WATCHDOG and safety.watchdog_trips == 1
    path = next(tmp_path.glob("*.h5"))
    assert recover(path).problems == []


def test_an_exception_disarms_and_closes_the_file(tmp_path):
    cfg = load_config(write_config(tmp_path, config_dict()))

    def boom(engine, k):
        if k == 2:
            raise RuntimeError("a bug")

    with EmulatedBench(n_channels=2, sample_rate_Hz=5000, speed=20, signal="test") as b:
        with pytest.raises(RuntimeError, match="a bug"):
            Engine(cfg, bench=b, log=None, on_fire=boom).run()
        t_disarm = assert_disarmed_last(b)
        assert max(t for t, op in ops(b) if op == Opcode.FIRE) < t_disarm
        assert len(b.delivered) == 3
    s = read_session(tmp_path / "s.h5")
    assert len(s.stimuli) == 3  # the three delivered pulses were still written
    with h5py.File(s.path, "r") as f:
        assert f.attrs["end_state"] == "stopped: internal error (RuntimeError: a bug)"


def test_a_refusal_that_cannot_be_retried_stops_safely(tmp_path):
    cfg = load_config(write_config(tmp_path, config_dict()))

    def refuse(engine, k):
        if k == 2:
            engine.bench.stimulator.inject("nack", opcode=Opcode.SET_STIMULUS,
                                           reason=Reason.INTENSITY_LIMIT)

    with EmulatedBench(n_channels=2, sample_rate_Hz=5000, speed=20, signal="test") as b:
        result = Engine(cfg, bench=b, log=None, on_fire=refuse).run()
        assert not b.stimulator.safety.armed
        assert b.stimulator.safety.last_disarm_reason == Reason.HOST_DISARM
    assert "refused SET_STIMULUS: INTENSITY_LIMIT" in result.stopped
    kinds = [f["kind"] for f in read_session(result.path).faults]
    assert b"nack" in kinds and b"stop" in kinds


def _cli(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["limits"].update(max_current_mA=3), "[limits]: unknown key 'max_current_mA'"),
    (lambda d: d["devices"].pop("stimulator"), "[devices]: missing key 'stimulator'"),
    (lambda d: d["protocols"][0].update(isi_s=-1), "isi_s must be > 0, got -1"),
    (lambda d: d["limits"].update(max_intensity_mA=150),
     "[limits] max_intensity_mA = 150 mA is above the stimulator's own limit of 100 mA"),
    (lambda d: d["devices"]["amplifier"].update(port="/dev/does-not-exist"),
     "amplifier: cannot open /dev/does-not-exist"),
])
def test_bad_configs_are_one_line_errors_and_send_nothing(tmp_path, bench, change, message):
    path = port_config(tmp_path, bench)
    d = config_dict()
    d["devices"] = {"amplifier": {"port": bench.amplifier_url, "sample_rate_Hz": 5000},
                    "stimulator": {"port": bench.stimulator_url}}
    d["emulator"] = {"preset": "soleus_healthy", "speed_factor": SPEED}
    change(d)
    path = write_config(tmp_path, d)
    result = _cli("acquire", str(path))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and message in result.output, result.output
    assert not any(op in GUARDED for _, op in ops(bench))
    assert bench.delivered == []


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_configs_never_command_beyond_the_limits(tmp_path_factory, data):
    draw = data.draw
    lim_mA = draw(st.floats(1, 100).map(lambda x: round(x, 3)))
    lim_us = draw(st.integers(50, 2000))
    lim_Hz = draw(st.floats(0.5, 20).map(lambda x: round(x, 2)))
    # a plan within the limits (plans beyond them are refused before any device is opened:
    # test_bad_configs...); values at the limits are likely
    levels = draw(st.lists(st.one_of(st.just(lim_mA), st.floats(0, lim_mA).map(
        lambda x: round(x, 4))), min_size=1, max_size=3))
    pw = draw(st.one_of(st.just(lim_us), st.integers(1, lim_us)))
    shortest = max(0.3, (math.ceil(1e6 / lim_Hz) + 2) / 1e6)  # whole µs, as the plan checks
    isi = draw(st.one_of(st.just(shortest), st.floats(shortest, shortest + 1.0)))
    d = config_dict(limits={"max_intensity_mA": lim_mA, "max_pulse_width_us": lim_us,
                            "max_rate_Hz": lim_Hz,
                            "max_stimuli": draw(st.integers(2 * len(levels), 8))},
                    sweep={"pre_ms": 20, "post_ms": 60})
    d["protocols"] = [{"kind": "recruitment", "intensities_mA": levels, "sweeps": 2,
                       "isi_s": isi, "jitter_s": draw(st.floats(0, 0.5)),
                       "randomize": draw(st.booleans()), "pulse_width_us": pw}]
    d["schedule"] = {"seed": draw(st.integers(0, 100)), "block_gap_s": 1}
    tmp = tmp_path_factory.mktemp("prop")
    cfg = load_config(write_config(tmp, d))
    with EmulatedBench(n_channels=2, sample_rate_Hz=5000, speed=10, signal="test",
                       drift_ppm=(100, -100)) as b:
        result = Engine(cfg, bench=b, log=None).run()
        record = list(b.stimulator.commands)
    assert result.stopped is None and len(result.stimuli) == 2 * len(levels)
    rate_mHz = int(lim_Hz * 1000)
    fires = []
    for c in record:
        f = c.command.fields()
        if c.command.opcode == Opcode.SET_STIMULUS:
            assert f["intensity_uA"] <= round(lim_mA * 1000) and 0 < f["pulse_width_us"] <= lim_us
        if c.command.opcode == Opcode.FIRE:
            fires.append(c.true_time_s)
    assert len(fires) <= cfg.limits.max_stimuli
    # on the stimulator's own (drifting) clock, as its firmware checks the rate
    t_us = np.floor(np.array(fires) * (1 - 100e-6) * 1e6)
    assert (np.diff(t_us) * rate_mHz >= 1e9).all()
