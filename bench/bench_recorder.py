"""Recorder + journal: a 16 ch × 20 kHz wire stream through decoder, recorder and journal.

    .venv/bin/python bench/bench_recorder.py [SECONDS]            # device seconds, default 30
    .venv/bin/python bench/bench_recorder.py --compare [SECONDS]  # wall seconds, default 20

Default: the writer thread (:class:`Recorder`) as fast as possible, then recovery from the
journal alone.

``--compare``: the writer thread against the recorder process (:class:`RecorderProcess`),
alternated (thread, process, thread, process), the same precomputed wire bytes each time:

- *paced*: SECONDS of stream in real time (a read of 10 ms of blocks every 10 ms, journaled,
  decoded, put), while a "heartbeat" thread of the producing process sleeps 20 ms at a time
  and records how late it wakes: its longest and 99th-percentile lateness is the stall a
  file-system flush can cause to the stimulator heartbeat (issue 14);
- *unpaced*: 30 device seconds as fast as they can be put, until ``close()`` returns
  (throughput, × real time).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recorder_process import RecorderProcess
from hreflex.acquisition.recover import recover
from hreflex.io.session import SessionMeta
from hreflex.protocol.decoder import StreamDecoder
from hreflex.protocol.frames import SampleBlock, encode_wire

RATE, NCH, BLOCK = 20000, 16, 20
READ_BLOCKS = 100  # blocks per read in the unpaced runs (0.1 s of data)
HEARTBEAT_S = 0.02
LAYOUT = SessionLayout(SessionMeta(), RATE, tuple(f"c{i}" for i in range(NCH)), (1e-7,) * NCH)
DATA = np.random.default_rng(0).normal(0, 300, (1000 * BLOCK, NCH)).astype(np.int16)


def block_wire(s: int) -> bytes:
    rows = DATA[(s % 1000) * BLOCK : (s % 1000 + 1) * BLOCK]
    return encode_wire(SampleBlock(s, s * BLOCK, rows, np.zeros(BLOCK, np.uint8)))


def open_recorder(kind: str, path: Path) -> tuple[Journal, Recorder | RecorderProcess]:
    j = Journal(journal_path(path), {"samples_source": 0, "layout": LAYOUT.to_dict()})
    if kind == "thread":
        return j, Recorder(LAYOUT.create_writer(path), flush_interval_s=0.25, journal=j).start()
    return j, RecorderProcess(LAYOUT, path, flush_interval_s=0.25, journal=j).start()


def feed(j: Journal, rec, dec: StreamDecoder, chunk: bytes) -> None:
    """What a serial reader thread does with one read."""
    j.write(0, chunk)
    for b in dec.feed(chunk).samples:
        rec.put_blocks(b)


def throughput(seconds: float) -> None:
    """The default mode: the writer thread, blocks encoded as they go, then recovery."""
    n_blocks = int(seconds * RATE / BLOCK)
    path = Path(tempfile.mkdtemp()) / "b.h5"
    j, rec = open_recorder("thread", path)
    dec = StreamDecoder()
    t0 = time.perf_counter()
    nbytes = 0
    for start in range(0, n_blocks, READ_BLOCKS):
        chunk = b"".join(block_wire(s) for s in range(start, min(start + READ_BLOCKS, n_blocks)))
        nbytes += len(chunk)
        feed(j, rec, dec, chunk)
    t_put = time.perf_counter() - t0
    stats = rec.close()
    t_all = time.perf_counter() - t0
    print(f"{seconds:g} s of 16 ch x 20 kHz ({nbytes / 1e6:.1f} MB wire): produced in "
          f"{t_put:.2f} s, written+closed in {t_all:.2f} s -> {seconds / t_all:.1f}x real time; "
          f"max flush gap {stats.max_flush_gap_s * 1e3:.0f} ms, flushes {stats.n_flushes}, "
          f"max backlog {stats.max_backlog}")
    print(f"file {path.stat().st_size / 1e6:.1f} MB, journal "
          f"{journal_path(path).stat().st_size / 1e6:.1f} MB")
    path.unlink()
    t0 = time.perf_counter()
    r = recover(path)
    print(f"rebuild from journal: {time.perf_counter() - t0:.2f} s, {r.after[0]} samples, "
          f"problems {r.problems}")


def heartbeat(stop: threading.Event, lateness: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        time.sleep(HEARTBEAT_S)
        lateness.append(time.perf_counter() - t0 - HEARTBEAT_S)


def paced(kind: str, chunks: list[bytes], d: Path) -> str:
    """Real-time stream of ``chunks`` (one per 10 ms) with the heartbeat thread running."""
    j, rec = open_recorder(kind, d / f"paced_{kind}_{time.monotonic_ns()}.h5")
    dec, stop, late = StreamDecoder(), threading.Event(), []
    hb = threading.Thread(target=heartbeat, args=(stop, late), daemon=True)
    hb.start()
    t0 = time.monotonic()
    behind = 0.0
    for i, chunk in enumerate(chunks):
        due = t0 + i * 0.01
        behind = max(behind, time.monotonic() - due)
        time.sleep(max(0.0, due - time.monotonic()))
        feed(j, rec, dec, chunk)
    stats = rec.close()
    stop.set()
    hb.join()
    ms = np.array(late) * 1e3
    return (f"paced   {kind:<7} heartbeat lateness max {ms.max():6.1f} ms, p99 "
            f"{np.percentile(ms, 99):5.1f} ms, > 50 ms: {int((ms > 50).sum())} of {len(ms)}; "
            f"reads late by up to {behind * 1e3:.0f} ms; flushes {stats.n_flushes}, longest "
            f"flush gap {stats.max_flush_gap_s * 1e3:.0f} ms")


def unpaced(kind: str, chunks: list[bytes], d: Path) -> str:
    j, rec = open_recorder(kind, d / f"fast_{kind}_{time.monotonic_ns()}.h5")
    dec = StreamDecoder()
    t0 = time.perf_counter()
    for chunk in chunks:
        feed(j, rec, dec, chunk)
    t_put = time.perf_counter() - t0
    stats = rec.close()
    t_all = time.perf_counter() - t0
    device_s = stats.n_samples / RATE
    return (f"unpaced {kind:<7} {device_s:g} s of data put in {t_put:.2f} s, written+closed "
            f"in {t_all:.2f} s -> {device_s / t_all:.1f}x real time; max backlog "
            f"{stats.max_backlog} items")


def compare(seconds: float) -> None:
    per_read = RATE // BLOCK // 100  # 10 ms of blocks
    n_reads = int(seconds * 100)
    paced_chunks = [b"".join(block_wire(s) for s in range(r * per_read, (r + 1) * per_read))
                    for r in range(n_reads)]
    n_fast = int(30 * RATE / BLOCK)
    fast_chunks = [b"".join(block_wire(s) for s in range(a, min(a + READ_BLOCKS, n_fast)))
                   for a in range(0, n_fast, READ_BLOCKS)]
    d = Path(tempfile.mkdtemp())
    print(f"16 ch x 20 kHz, {BLOCK} samples per block; paced runs {seconds:g} s; heartbeat "
          f"thread sleeps {HEARTBEAT_S * 1e3:.0f} ms; alternated")
    for kind in ("thread", "process", "thread", "process"):
        print(paced(kind, paced_chunks, d), flush=True)
    for kind in ("thread", "process"):
        print(unpaced(kind, fast_chunks, d), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--compare":
        compare(float(args[1]) if len(args) > 1 else 20.0)
    else:
        throughput(float(args[0]) if args else 30.0)
