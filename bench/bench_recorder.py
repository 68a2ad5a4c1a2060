"""Recorder + journal throughput: a 16 ch × 20 kHz wire stream through decoder, recorder and
journal as fast as possible, then recovery from the journal alone.

    .venv/bin/python bench/bench_recorder.py [SECONDS]   # device seconds, default 30
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recover import recover
from hreflex.io.session import SessionMeta
from hreflex.protocol.decoder import StreamDecoder
from hreflex.protocol.frames import SampleBlock, encode_wire

RATE, NCH, BLOCK, SECONDS = 20000, 16, 20, float(sys.argv[1]) if len(sys.argv) > 1 else 30
rng = np.random.default_rng(0)
n_blocks = int(SECONDS * RATE / BLOCK)
data = rng.normal(0, 300, (1000 * BLOCK, NCH)).astype(np.int16)
wire = [
    encode_wire(
        SampleBlock(
            s,
            s * BLOCK,
            data[(s % 1000) * BLOCK : (s % 1000 + 1) * BLOCK],
            np.zeros(BLOCK, np.uint8),
        )
    )
    for s in range(1000)
]
d = Path(tempfile.mkdtemp())
path = d / "b.h5"
lay = SessionLayout(SessionMeta(), RATE, tuple(f"c{i}" for i in range(NCH)), (1e-7,) * NCH)
j = Journal(journal_path(path), {"samples_source": 0, "layout": lay.to_dict()})
rec = Recorder(lay.create_writer(path), flush_interval_s=0.25, journal=j).start()
dec = StreamDecoder()
t0 = time.perf_counter()
nbytes = 0
for start in range(0, n_blocks, 100):  # 100 blocks = 0.1 s of data per read
    chunk = b"".join(
        encode_wire(
            SampleBlock(
                s,
                s * BLOCK,
                data[(s % 1000) * BLOCK : (s % 1000 + 1) * BLOCK],
                np.zeros(BLOCK, np.uint8),
            )
        )
        for s in range(start, min(start + 100, n_blocks))
    )
    nbytes += len(chunk)
    j.write(0, chunk)
    for b in dec.feed(chunk).samples:
        rec.put_blocks(b)
t_put = time.perf_counter() - t0
stats = rec.close()
t_all = time.perf_counter() - t0
print(
    f"{SECONDS:g} s of 16 ch x 20 kHz ({nbytes / 1e6:.1f} MB wire): produced in {t_put:.2f} s, "
    f"written+closed in {t_all:.2f} s -> {SECONDS / t_all:.1f}x real time; "
    f"max flush gap {stats.max_flush_gap_s * 1e3:.0f} ms, flushes {stats.n_flushes}, max backlog {stats.max_backlog}"
)
print(
    f"file {path.stat().st_size / 1e6:.1f} MB, journal {journal_path(path).stat().st_size / 1e6:.1f} MB"
)
path.unlink()
t0 = time.perf_counter()
r = recover(path)
print(
    f"rebuild from journal: {time.perf_counter() - t0:.2f} s, {r.after[0]} samples, problems {r.problems}"
)
