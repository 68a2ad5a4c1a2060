"""Sustained streaming through a pty: emulated amplifier -> pyserial -> StreamDecoder.

The emulated amplifier (16 channels x 20 kHz, known test signal, 20 ms delivery jitter) runs in
a child process (``BenchProcess``), so the CPU time measured here is the host's alone: the
AmplifierClient's reader thread (pyserial reads, decoding) plus a consumer that takes every
record off its queue and checks that the sample indices are continuous. Prints host CPU use
(% of one core), the emulator's (from /proc, Linux), throughput and lost blocks (blocks the
device says it sent minus blocks the host decoded) and samples the device had to drop.

    .venv/bin/python bench/bench_stream.py [--seconds 60] [--speed 1] [--channels 16]
        [--rate 20000] [--jitter-ms 20]

``--seconds`` is device time; ``--speed`` > 1 runs the device faster than real time (the
host then has to keep up with speed x the real data rate).
"""

from __future__ import annotations

import argparse
import os
import time

from hreflex.devices import AmplifierClient, LinkEvent, Received
from hreflex.sim.emulators import BenchProcess


def cpu_s(pid: int) -> float | None:
    """CPU time (user + system) of process ``pid`` so far, from /proc (Linux); else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Tally:
    """The consumer: counts samples and blocks and checks index continuity."""

    def __init__(self) -> None:
        self.samples = self.blocks = self.next = self.discontinuities = self.events = 0

    def consume(self, item: Received | LinkEvent | None) -> None:
        if isinstance(item, LinkEvent):
            self.events += 1
        elif isinstance(item, Received):
            for batch in item.samples:
                self.discontinuities += int(batch.first_sample[0]) != self.next
                last_rows = len(batch.digital) - int(batch.row_start[-2])
                self.next = int(batch.first_sample[-1]) + last_rows
                self.samples += len(batch.digital)
                self.blocks += batch.n_blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="device time to stream")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=int, default=20_000, help="Hz")
    parser.add_argument("--jitter-ms", type=float, default=20.0)
    args = parser.parse_args()

    tally = Tally()
    with BenchProcess(signal="test", n_channels=args.channels, sample_rate_Hz=args.rate,
                      speed=args.speed, jitter_ms=args.jitter_ms, seed=1) as bench:
        with AmplifierClient(bench.amplifier_url, timebase=bench.timebase) as amp:
            amp.configure(args.rate, args.channels, max(1, args.rate // 1000))
            wanted = int(args.seconds * args.rate)
            wall0, cpu0, dev_cpu0 = time.perf_counter(), time.process_time(), cpu_s(bench.pid)
            amp.start()
            while tally.samples < wanted:
                item = amp.get(timeout_s=2.0)
                if item is None:
                    raise SystemExit("no data for 2 s")
                tally.consume(item)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            dev_cpu = cpu_s(bench.pid)
            amp.stop()  # when it returns, every block sent before its answer is queued
            while (item := amp.get(timeout_s=0)) is not None:
                tally.consume(item)
            stats = amp.stats
        sent = bench.call("amplifier.blocks_sent")
        dropped = bench.call("amplifier.dropped_samples")

    emulator = ("n/a" if dev_cpu is None or dev_cpu0 is None
                else f"{100 * (dev_cpu - dev_cpu0) / wall:.1f} %")
    mb = stats.bytes_in / 1e6
    print(f"{args.channels} ch x {args.rate} Hz, {tally.samples / args.rate:.1f} s of device "
          f"time at {args.speed:g}x real time in {wall:.1f} s wall ({mb:.1f} MB, "
          f"{mb / wall:.2f} MB/s)")
    print(f"host CPU (reader + decoder + consumer): {cpu:.2f} s = {100 * cpu / wall:.1f} % of "
          f"one core; emulator process: {emulator} of one core")
    print(f"lost blocks: {sent - tally.blocks} (device sent {sent}, host decoded "
          f"{tally.blocks}); device-dropped samples {dropped}; gaps {stats.gaps}, decoder "
          f"errors {stats.errors}, discontinuities {tally.discontinuities}, link events "
          f"{tally.events}")


if __name__ == "__main__":
    main()
