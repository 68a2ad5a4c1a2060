"""Helpers for the engine tests: session configs with emulated devices, a runner that keeps the
bench's ground truth, and the independent checks (truth of delivered pulses, the amplifier's
known test pattern)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hreflex.acquisition.config import load_config
from hreflex.acquisition.engine import Engine, RunResult
from hreflex.io.format import decode_str
from hreflex.io.session import Session, read_session
from hreflex.sim.emulators import EmulatedBench

REPO = Path(__file__).resolve().parents[2]

#: two channels at 5 kHz, a short recruitment (4 levels x 2) then RDD at 0.5 and 2 Hz whose
#: test intensity comes from the recruitment; 20 x real time
BASE: dict[str, Any] = {
    "metadata": {"subject": "T", "session": "1", "species": "human", "muscle": "soleus"},
    "devices": {
        "amplifier": {"emulated": True, "sample_rate_Hz": 5000},
        "stimulator": {"emulated": True, "heartbeat_timeout_ms": 20000},
    },
    "emulator": {"preset": "soleus_healthy", "speed_factor": 20, "seed": 2},
    "channels": [{"name": "SOL", "muscle": "soleus"}, {"name": "MG", "muscle": "gastrocnemius"}],
    "sweep": {"pre_ms": 50, "post_ms": 100, "M_window_ms": [6, 20], "H_window_ms": [30, 45]},
    "limits": {"max_intensity_mA": 50, "max_pulse_width_us": 1000, "max_rate_Hz": 10,
               "max_stimuli": 100},
    "protocols": [
        {"kind": "recruitment", "label": "rc", "intensities_mA": [12, 20, 28, 40], "sweeps": 2,
         "isi_s": 1.5, "jitter_s": 0.5, "randomize": True},
        {"kind": "rdd", "label": "rdd", "frequencies_Hz": [0.5, 2], "pulses_per_train": 4,
         "rest_s": 2, "test_intensity": {"from": "recruitment", "h_fraction": 0.5}},
    ],
    "schedule": {"seed": 5, "block_gap_s": 2},
    "recording": {"output_dir": ".", "name": "s", "reconnect_timeout_s": 5},
}


def config_dict(**tables: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE` with whole tables replaced (``None`` removes one)."""
    d = copy.deepcopy(BASE)
    for key, value in tables.items():
        if value is None:
            d.pop(key, None)
        else:
            d[key] = value
    return d


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def to_toml(d: dict[str, Any]) -> str:
    """TOML text of a config dict (tables, arrays of tables, one level of sub-tables)."""
    out = []
    for name, table in d.items():
        if isinstance(table, list):
            for item in table:
                out.append(f"[[{name}]]")
                out += [f"{k} = {_value(v)}" for k, v in item.items()]
            continue
        flat = {k: v for k, v in table.items() if not isinstance(v, dict) or name != "devices"}
        if flat:
            out.append(f"[{name}]")
            out += [f"{k} = {_value(v)}" for k, v in flat.items()]
        for k, v in table.items():
            if isinstance(v, dict) and name == "devices":
                out.append(f"[{name}.{k}]")
                out += [f"{kk} = {_value(vv)}" for kk, vv in v.items()]
    return "\n".join(out) + "\n"


def write_config(directory: Path, d: dict[str, Any], name: str = "session.toml") -> Path:
    d = copy.deepcopy(d)
    d.setdefault("recording", {})["output_dir"] = str(directory)
    path = directory / name
    path.write_text(to_toml(d), encoding="utf-8")
    return path


@dataclass
class Run:
    result: RunResult
    session: Session
    truth: list  # DeliveredPulse, in delivery order
    commands: list  # ReceivedCommand of the stimulator
    bench_faults: dict[str, list]  # role -> FaultRecord
    bench: EmulatedBench


def run_engine(tmp_path: Path, d: dict[str, Any] | None = None, *, bench_options=None,
               on_fire=None, **engine_options: Any) -> Run:
    """Run a session of config ``d`` (default :data:`BASE`) on a bench made here (so its truth
    can be read afterwards); the bench is closed before returning."""
    d = config_dict() if d is None else d
    cfg = load_config(write_config(tmp_path, d))
    emu = cfg.emulator
    opts = {"preset": emu.preset, "n_channels": len(cfg.channels),
            "sample_rate_Hz": cfg.amplifier.sample_rate_Hz, "speed": emu.speed_factor,
            "seed": emu.seed, "drift_ppm": (100.0, -100.0), "jitter_ms": 20.0,
            **(bench_options or {})}
    bench = EmulatedBench(**opts)
    try:
        result = Engine(cfg, bench=bench, on_fire=on_fire,
                        **{"log": None, **engine_options}).run()
    finally:
        bench.close()
    return Run(result, read_session(result.path), bench.delivered,
               list(bench.stimulator.commands),
               {"amplifier": list(bench.amplifier.faults),
                "stimulator": list(bench.stimulator.faults)}, bench)


def placement_errors(run: Run) -> np.ndarray:
    """|file row − true amplifier sample| of every pulse (both in delivery order), samples.

    Only valid while the amplifier ran one sample-clock epoch with the file's row = device
    sample (no restart): tests that restart the clock compare otherwise."""
    rows = run.session.stimuli["sample_index"].astype(np.int64)
    truth = np.array([p.amplifier_sample_index for p in run.truth], dtype=np.int64)
    assert len(rows) == len(truth), (len(rows), len(truth))
    return np.abs(rows - truth)


def assert_placed_as_stated(run: Run, truth: np.ndarray) -> np.ndarray:
    """Every pulse whose true file row ``truth`` (n,) was received (not in a recorded gap)
    within 1 sample of it; and every pulse as closely as its placement says: by device index
    or trigger edge within 1 sample; by timestamp within 3 x the standard error it states (at
    least 1 sample; ACQUISITION.md, "Stimulus alignment"); by the host clock (``model``)
    only without an edge, flagged ``no_trigger``. Returns (n,) True for the pulses in a gap."""
    s = run.session
    err = np.abs(s.stimuli["sample_index"].astype(np.int64) - truth)
    in_gap = gap_mask(s)[truth]
    assert err[~in_gap].max(initial=0) <= 1, diagnosis(run)
    method = np.array([decode_str(m) for m in s.stimuli["sync_method"]])
    exact = np.isin(method, ["device", "trigger"])
    assert err[exact].max(initial=0) <= 1, diagnosis(run)
    stamp = method == "timestamp"
    allowed = np.maximum(1.0, 3.0 * s.stimuli["sync_residual_samples"][stamp])
    assert (err[stamp] <= allowed).all(), diagnosis(run)
    model = np.flatnonzero(method == "model")
    assert all("no_trigger" in run.result.stimuli[k].flags for k in model), diagnosis(run)
    return in_gap


def diagnosis(run: Run) -> str:
    """What to look at when a check fails: faults, methods, flags, rows vs truth."""
    return "\n".join([
        f"stopped: {run.result.stopped}",
        f"faults: {run.result.faults}",
        f"stimuli: {[(s.k, s.row, s.method, s.flags) for s in run.result.stimuli]}",
        f"truth: {[(p.amplifier_sample_index, p.amplifier_epoch) for p in run.truth]}",
        f"bench faults: {run.bench_faults}"])


def pattern(rows: np.ndarray, n_channels: int, offset: int = 0) -> np.ndarray:
    """The emulated amplifier's "test" signal (docs/DEVICES.md, written out here) for device
    samples ``rows - offset``: int16(uint16((k * (c + 1) + 1000 * c) mod 65536))."""
    k = np.asarray(rows, np.int64)[:, None] - offset
    c = np.arange(n_channels)[None, :]
    return ((k * (c + 1) + 1000 * c) % 65536).astype(np.uint16).view(np.int16)


def gap_mask(session: Session) -> np.ndarray:
    """(n_samples,) True on rows inside recorded ``gap`` faults (zero-filled)."""
    mask = np.zeros(len(session.continuous), bool)
    for f in session.faults:
        if f["kind"] == b"gap":
            mask[f["sample_start"]: f["sample_start"] + f["n_samples"]] = True
    return mask


def fault_kinds(session: Session) -> list[str]:
    return [f["kind"].decode() for f in session.faults]


def port_config(tmp_path: Path, bench: EmulatedBench, heartbeat_ms: int = 2000, **tables):
    """A config that opens the bench's devices by their port paths (as a lab config would),
    with the host clock at the bench's speed; 30 stimuli 1 s apart."""
    d = config_dict(**tables)
    d["devices"] = {
        "amplifier": {"port": bench.amplifier_url, "sample_rate_Hz": 5000},
        "stimulator": {"port": bench.stimulator_url, "heartbeat_timeout_ms": heartbeat_ms}}
    d["emulator"] = {"preset": "soleus_healthy", "speed_factor": bench.timebase.speed}
    if "protocols" not in tables:
        d["protocols"] = [{"kind": "fixed", "intensity_mA": 20, "n_stimuli": 30, "isi_s": 1.0}]
    return write_config(tmp_path, d)


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)
    return value


def assert_disarmed_last(bench) -> float:
    """The host disarmed the stimulator and nothing able to stimulate (SET_STIMULUS, ARM,
    FIRE) follows the final DISARM in the device's own record (a heartbeat in flight may);
    returns the DISARM's true time."""
    from hreflex.protocol import Opcode, Reason

    safety = bench.stimulator.safety
    assert not safety.armed and safety.last_disarm_reason == Reason.HOST_DISARM
    record = [(c.true_time_s, c.command.opcode) for c in bench.stimulator.commands]
    t_disarm = max(t for t, op in record if op == Opcode.DISARM)
    guarded = (Opcode.SET_STIMULUS, Opcode.ARM, Opcode.FIRE)
    assert not [op for t, op in record if t > t_disarm and op in guarded]
    return t_disarm
