"""Acquisition engine bench: a long 16 ch × 20 kHz session through emulated device ports, then
a kill -9 loop.

    .venv/bin/python bench/bench_acquire.py [--minutes 10] [--speed 1] [--kills 10] [--burn 2]
                                            [--transport socket|pty]

1. **Stream**: emulated devices run in a child process (16 channels at 20 kHz, 1 ms blocks,
   simulated soleus EMG, clocks ±100 ppm, 20 ms delivery jitter); this process runs the real
   engine on their ports for ``--minutes`` of device time (one stimulus every 2 s). Reported:
   lost blocks (must be 0), host CPU of this process (all engine threads; goal ≤ 30 % of one
   core at real time), live-sweep latency (from the true end of each sweep window to its
   live line; goal ≤ 50 ms), sync (|row - true sample|), recorder backlog and flush gaps,
   and the heartbeat intervals p50 / p99 / max against the acceptance of issue 14 (p99 <
   timeout/4, no interval above timeout/3; the protocol's own bound is timeout/3), with MET /
   MISSED, at three points: as the host's heartbeat thread sent them (before the write), as
   the emulated stimulator's thread read them from its port, and as it handled them
   (HEARTBEAT or ARM, device true time: what its watchdog saw). ``hb transit`` splits each
   heartbeat's way (matched by request id): the host's write call, write returned -> read
   by the device thread (the kernel's delivery plus the device thread's wake-up), read ->
   handled (the bench lock, the emulator's own work).
   ``--transport``: how the host reaches the emulated devices (both, and in the kill loop):
   ``socket`` (default: ``socket://127.0.0.1:PORT``; the host's write is in the device's
   socket when it returns, as a USB-serial write is submitted) or ``pty`` (real serial ports,
   whose kernel flip-buffer worker is late under CPU load: docs/ACQUISITION.md). The load
   average is printed at the start and the end of the stream.
   ``--burn N`` runs N CPU-burning processes (``while True: pass``) during the stream;
   ``--device-nice -10`` raises the devices' process priority (they stand in for hardware).
2. **Kill loop**: ``--kills`` times, ``hreflex acquire`` in a child process is killed with
   SIGKILL at a random moment mid-session (0-4 s after its journal appeared); each file must be
   readable after ``hreflex recover`` with ≤ 0.5 s lost and every sample in place (samples
   lost = what the amplifier had sent when it was killed − rows in the recovered file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE, NCH = 20000, 16
HEARTBEAT_TIMEOUT_MS = 1000


def serve(speed: float, signal: str, seed: int, nice: int = 0, transport: str = "socket") -> None:
    """Child mode: run the devices, print their ports, on a line on stdin print the truth.
    ``nice`` (< 0 needs root): the emulated devices stand in for hardware, which no CPU-burning
    process on the host can slow down."""
    from hreflex.sim.emulators import EmulatedBench

    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)

    with EmulatedBench(preset="soleus_healthy", n_channels=NCH, sample_rate_Hz=RATE,
                       speed=speed, drift_ppm=(100.0, -100.0), jitter_ms=20.0, seed=seed,
                       signal=signal, transport=transport) as b:
        t0 = time.monotonic() - b.timebase.now_s() / speed
        print(json.dumps({"amplifier": b.amplifier_url, "stimulator": b.stimulator_url,
                          "t0": t0}), flush=True)
        sys.stdin.readline()
        with b.lock:
            status = b.amplifier.status(b.true_time_s())
        usage = resource.getrusage(resource.RUSAGE_SELF)
        from hreflex.protocol import Opcode

        beats = [c for c in list(b.stimulator.commands)
                 if c.command.opcode in (Opcode.HEARTBEAT, Opcode.ARM)]
        print(json.dumps({
            "heartbeats": [c.true_time_s for c in beats],
            "heartbeats_read": [c.read_time_s for c in beats if c.read_time_s is not None],
            "heartbeats_by_rid": [(c.command.request_id, c.read_time_s, c.true_time_s)
                                  for c in beats if c.command.opcode == Opcode.HEARTBEAT],
            "pulses": [(p.true_time_s, p.amplifier_sample_index) for p in b.delivered],
            "blocks_sent": status.blocks_sent, "dropped_samples": status.dropped_samples,
            "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


def config(directory: Path, amp: str, stim: str, speed: float, n_stimuli: int,
           isi_s: float, max_stimuli: int | None = None) -> Path:
    text = f"""
[metadata]
subject = "bench"
muscle = "soleus"
[devices.amplifier]
port = "{amp}"
sample_rate_Hz = {RATE}
samples_per_block = 20
[devices.stimulator]
port = "{stim}"
heartbeat_timeout_ms = {HEARTBEAT_TIMEOUT_MS}
[emulator]
preset = "soleus_healthy"
speed_factor = {speed}
{"".join(f'[[channels]]{chr(10)}name = "ch{i}"{chr(10)}muscle = "soleus"{chr(10)}'
         for i in range(NCH))}
[sweep]
pre_ms = 50
post_ms = 100
M_window_ms = [6, 20]
H_window_ms = [30, 45]
[limits]
max_intensity_mA = 50
max_pulse_width_us = 1000
max_rate_Hz = 10
max_stimuli = {max_stimuli or n_stimuli}
[[protocols]]
kind = "fixed"
intensity_mA = 20
n_stimuli = {n_stimuli}
isi_s = {isi_s}
[recording]
output_dir = "{directory}"
name = "bench"
"""
    path = directory / "bench.toml"
    path.write_text(text)
    return path


def start_devices(speed: float, signal: str, seed: int, nice: int = 0,
                  transport: str = "socket") -> tuple[subprocess.Popen, dict]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--speed", str(speed),
                              "--signal", signal, "--seed", str(seed), "--device-nice",
                              str(nice), "--transport", transport],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return child, json.loads(child.stdout.readline())


def burners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep one core busy until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def heartbeat_report(times_s: list[float], speed: float, where: str) -> None:
    """Intervals between consecutive heartbeats (``times_s``: device true time or host
    monotonic, s), shown as wall ms."""
    t = np.sort(np.asarray(times_s))
    if len(t) < 2:
        print(f"heartbeat   fewer than 2 heartbeats {where}")
        return
    gaps_ms = np.diff(t) / speed * 1000
    quarter, third = HEARTBEAT_TIMEOUT_MS / 4 / speed, HEARTBEAT_TIMEOUT_MS / 3 / speed
    p50, p99, top = np.percentile(gaps_ms, 50), np.percentile(gaps_ms, 99), gaps_ms.max()
    print(f"heartbeat   {len(t)} {where} (timeout {HEARTBEAT_TIMEOUT_MS} ms): interval p50 "
          f"{p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms; p99 < timeout/4 = "
          f"{quarter:.0f} ms {verdict(p99 < quarter)}; max <= timeout/3 = {third:.0f} ms "
          f"{verdict(top <= third)}; above timeout/3: {int((gaps_ms > third).sum())}")


def record_heartbeat_sends() -> tuple[list[float], dict[int, list[tuple[float, float]]]]:
    """Wrap the stimulator client's heartbeat loop so each send's wall time (as true time at
    speed 1: time.monotonic) is recorded (the first list), and the port writes of HEARTBEAT
    commands: request id -> [(monotonic before the write, after it returned)]."""
    from hreflex.devices import link, stimulator
    from hreflex.protocol import Command, Opcode, decode_wire

    sent: list[float] = []
    writes: dict[int, list[tuple[float, float]]] = {}
    loop = stimulator.heartbeat_loop

    def recording(send, period_s, stop, **kw):
        def timed():
            sent.append(time.monotonic())
            return send()
        return loop(timed, period_s, stop, **kw)

    write = link.DeviceLink.write

    def timed_write(self, data: bytes) -> None:
        t0 = time.monotonic()
        write(self, data)
        try:
            cmd = decode_wire(data)
        except Exception:
            return
        if isinstance(cmd, Command) and cmd.opcode == Opcode.HEARTBEAT:
            writes.setdefault(cmd.request_id, []).append((t0, time.monotonic()))

    stimulator.heartbeat_loop = recording
    link.DeviceLink.write = timed_write
    return sent, writes


def transit_report(writes: dict[int, list[tuple[float, float]]], device: list, speed: float,
                   t0: float) -> None:
    """Where a heartbeat's lateness arises, per heartbeat (matched by request id and time):
    host (loop timestamp -> write returned is not covered here: see 'sent'), write itself,
    pty -> device thread read, read -> handled."""
    write_ms, transit_ms, handle_ms = [], [], []
    for rid, read_s, handled_s in device:
        cands = writes.get(rid, [])
        if read_s is None or not cands:
            continue
        read_wall = t0 + read_s / speed
        before, after = min(cands, key=lambda w: abs(read_wall - w[1]))
        write_ms.append((after - before) * 1e3)
        transit_ms.append((read_wall - after) * 1e3)
        handle_ms.append((handled_s - read_s) / speed * 1e3)

    def q(x):
        return (f"p50 {np.percentile(x, 50):.1f} / p99 {np.percentile(x, 99):.1f} / max "
                f"{np.max(x):.1f} ms")

    if write_ms:
        print(f"hb transit  {len(write_ms)} heartbeats: host write {q(write_ms)}; write "
              f"returned -> device thread read {q(transit_ms)}; read -> handled {q(handle_ms)}")


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def stream(minutes: float, speed: float, out: Path, burn: int = 0, nice: int = 0,
           transport: str = "socket") -> None:
    from hreflex.acquisition.config import load_config
    from hreflex.acquisition.engine import Engine
    from hreflex.io.session import read_session

    isi = 2.0
    n = max(2, int(minutes * 60 / isi))
    child, ports = start_devices(speed, "emg", 1, nice, transport)
    load_start = load_average()
    sent, writes = record_heartbeat_sends()
    hogs = burners(burn)
    try:
        cfg = load_config(config(out, ports["amplifier"], ports["stimulator"], speed, n, isi,
                                 max_stimuli=n + 20))
        engine = Engine(cfg, log=None)
        wall0, cpu0 = time.monotonic(), time.process_time()
        result = engine.run()
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        t0_engine = time.monotonic() - engine.now() / speed
        load_end = load_average()
        child.stdin.write("done\n")
        child.stdin.flush()
        truth = json.loads(child.stdout.readline())
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        child.stdin.close()
        child.wait(timeout=30)
    s = read_session(result.path, validate=False)
    pulses = np.array(truth["pulses"])
    rows = s.stimuli["sample_index"]
    post_s = cfg.sweep.post_ms / 1000
    # live latency: true end of the sweep window (device clock of the bench) -> line out
    done_wall = np.array([t0_engine + r.processed_s / speed for r in result.stimuli])
    window_end = ports["t0"] + (pulses[:, 0] + post_s) / speed
    latency_ms = (done_wall - window_end) * 1000
    st = result.recorder
    lost = truth["blocks_sent"] * 20 - st.n_samples
    print(f"stream      {NCH} ch x {RATE} Hz, {result.device_s / 60:.1f} min of device time "
          f"in {wall:.0f} s wall (speed {speed:g}), {len(rows)} stimuli, stopped: "
          f"{result.stopped}; {burn} CPU-burning processes, devices process nice {nice}, "
          f"transport {transport}")
    print(f"load avg    at the start {load_start}; at the end {load_end}")
    print(f"file        {result.path} ({result.path.stat().st_size / 1e6:.0f} MB), rows "
          f"{st.n_samples}, gap samples {st.gap_samples}, device dropped "
          f"{truth['dropped_samples']}, sent - recorded {lost} samples "
          f"(blocks in flight at STOP)")
    kinds: dict[str, int] = {}
    for f in s.faults:
        kinds[f["kind"].decode()] = kinds.get(f["kind"].decode(), 0) + 1
    print(f"faults      {kinds or 'none'}")
    lost_blocks = st.gap_samples // 20 + truth["dropped_samples"] // 20
    print(f"lost blocks {lost_blocks}  (goal 0) {verdict(lost_blocks == 0)}")
    print(f"host CPU    {100 * cpu / wall:.1f} % of one core (engine process, all threads; "
          f"goal <= 30 %); devices process {100 * truth['cpu_s'] / wall:.1f} %")
    print(f"latency     live line after the sweep window closed: median "
          f"{np.median(latency_ms):.1f} ms, 95th {np.percentile(latency_ms, 95):.1f} ms, max "
          f"{latency_ms.max():.1f} ms (goal <= 50 ms)")
    err = np.abs(rows - pulses[: len(rows), 1])
    methods = {m: int((s.stimuli["sync_method"] == m.encode()).sum()) for m in ("trigger",
                                                                              "timestamp")}
    print(f"sync        max |row - true sample| {err.max()} ({methods})")
    print(f"recorder    {st.n_flushes} flushes, longest gap {st.max_flush_gap_s * 1000:.0f} ms, "
          f"max backlog {st.max_backlog}")
    heartbeat_report(sent, 1.0, "sent by the host (its clock)")
    heartbeat_report(truth["heartbeats_read"], speed, "read by the device thread from its port")
    heartbeat_report(truth["heartbeats"], speed, "handled by the device (incl. ARM)")
    transit_report(writes, truth["heartbeats_by_rid"], speed, ports["t0"])


def kill_loop(kills: int, out: Path, seed: int = 0, transport: str = "socket") -> None:
    from hreflex.acquisition.recover import recover
    from hreflex.io.session import read_session
    from hreflex.sim.emulators import EmulatedBench

    rng = np.random.default_rng(seed)
    losses, results = [], []
    for i in range(kills):
        d = out / f"kill{i}"
        d.mkdir()
        with EmulatedBench(preset="soleus_healthy", n_channels=NCH, sample_rate_Hz=RATE,
                           speed=1.0, seed=i, signal="test", transport=transport) as b:
            cfg = config(d, b.amplifier_url, b.stimulator_url, 1.0, 50, 0.3)
            child = subprocess.Popen([sys.executable, "-m", "hreflex", "acquire", str(cfg)],
                                     cwd=d, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            # mid-session: once the journal exists (the child started streaming), at a random
            # moment of the next 4 s (50 stimuli at 0.3 s take 15 s)
            journal = d / "bench.journal"
            deadline = time.monotonic() + 120
            while not journal.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 4.0))
            with b.lock:
                sent = b.amplifier.status(b.true_time_s()).blocks_sent * 20
            child.kill()
            child.wait(timeout=10)
            path = d / "bench.h5"
            if not path.exists() and not path.with_suffix(".journal").exists():
                results.append("killed before the file existed")
                continue
            report = recover(path)
            s = read_session(path)
            n = len(s.continuous)
            k = np.arange(n)[:, None]
            c = np.arange(NCH)[None, :]
            expected = ((k * (c + 1) + 1000 * c) % 65536).astype(np.uint16).view(np.int16)
            gaps = np.zeros(n, bool)
            for f in s.faults:
                if f["kind"] == b"gap":
                    gaps[f["sample_start"]:f["sample_start"] + f["n_samples"]] = True
            in_place = bool(np.array_equal(s.continuous[~gaps], expected[~gaps]))
            loss_s = (sent - n) / RATE if sent else 0.0
            losses.append(loss_s)
            results.append(f"{report.action:<8} valid={not report.problems} "
                           f"samples_in_place={in_place} sent={sent} recovered={n} "
                           f"lost={max(0, sent - n)} ({loss_s:.3f} s) "
                           f"stimuli={len(s.stimuli)}")
    for i, r in enumerate(results):
        print(f"kill {i:>2}     {r}")
    if losses:
        print(f"kill loop   {len(losses)} files recovered, max loss {max(losses):.3f} s "
              f"(goal <= 0.5 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="device minutes to stream")
    ap.add_argument("--speed", type=float, default=1.0, help="device time / wall time")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--burn", type=int, default=0, help="CPU-burning processes during the stream")
    ap.add_argument("--device-nice", type=int, default=0,
                    help="nice value of the emulated devices' process (e.g. -10, needs root)")
    ap.add_argument("--transport", choices=("socket", "pty"), default="socket",
                    help="how the host reaches the emulated devices (default socket)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--signal", default="emg", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.speed, args.signal, args.seed, args.device_nice, args.transport)
        return
    out = Path(tempfile.mkdtemp(prefix="bench-acquire-"))
    if args.minutes > 0:
        stream(args.minutes, args.speed, out, args.burn, args.device_nice, args.transport)
    if args.kills > 0:
        kill_loop(args.kills, out, transport=args.transport)


if __name__ == "__main__":
    main()
