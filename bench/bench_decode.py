"""Decode throughput of the host StreamDecoder on realistic amplifier traffic.

Builds a wire stream of 16-channel, 20 kHz sample blocks (1 ms = 20 samples per block) of
EMG-like int16 noise (many 0x00 bytes inside payloads: every small positive sample has a zero
high byte), with stimulus artefacts, trigger pulses on the digital input and a few stimulus
events, then feeds it to :class:`hreflex.protocol.StreamDecoder` in chunks of several sizes
and prints MB/s of encoded wire bytes (best of a few repeats).

    .venv/bin/python bench/bench_decode.py [--seconds 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hreflex.protocol import (
    SampleBlock,
    StimEvent,
    StreamDecoder,
    cobs_encode,
    encode_frame,
    encode_wire,
)

RATE_HZ, N_CH, BLOCK = 20_000, 16, 20


def make_stream(seconds: float, seed: int = 0) -> tuple[bytes, int, int]:
    """Wire bytes of ``seconds`` of streaming, the number of sample blocks in it and the
    number of 0x00 bytes inside the (decoded) block frames."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ) // BLOCK * BLOCK
    noise_counts = rng.uniform(20, 120, N_CH)  # per-channel background EMG, counts RMS
    x = rng.normal(0.0, 1.0, (n, N_CH)) * noise_counts
    digital = np.zeros(n, np.uint8)
    stim = np.arange(RATE_HZ // 2, n - RATE_HZ // 10, RATE_HZ // 5)  # 5 Hz stimuli
    for k in stim:  # artefact + M-wave-ish transient, trigger high for 1 ms
        t = np.arange(RATE_HZ // 25)
        x[k : k + len(t)] += 3000 * np.exp(-t / 15.0)[:, None] * np.sin(t / 6.0)[:, None]
        digital[k : k + RATE_HZ // 1000] = 1
    samples = np.clip(x, -32768, 32767).astype(np.int16)
    parts, zeros = [], 0
    for b in range(n // BLOCK):
        a = b * BLOCK
        frame = encode_frame(SampleBlock(b, a, samples[a : a + BLOCK], digital[a : a + BLOCK]))
        zeros += frame.count(0)
        parts.append(cobs_encode(frame) + b"\x00")
        hit = stim[(stim >= a) & (stim < a + BLOCK)]
        for k in hit.tolist():
            parts.append(encode_wire(StimEvent(k // 1000, k, k * 50, 12_500, 1000, 1)))
    return b"".join(parts), n // BLOCK, zeros


def run(wire: bytes, chunk: int) -> tuple[float, StreamDecoder]:
    dec = StreamDecoder()
    t0 = time.perf_counter()
    for i in range(0, len(wire), chunk):
        dec.feed(wire[i : i + chunk])
    return time.perf_counter() - t0, dec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of data (default 30)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    wire, n_blocks, zeros = make_stream(args.seconds)
    print(f"stream: {len(wire) / 1e6:.1f} MB, {n_blocks} blocks of {BLOCK} samples x {N_CH} ch "
          f"({args.seconds:g} s at {RATE_HZ} Hz); {len(wire) / n_blocks:.0f} wire bytes and "
          f"{zeros / n_blocks:.0f} zero bytes (= COBS codes to follow) per block frame")
    for chunk in (4096, 65536, 1 << 20, 8 << 20, len(wire)):
        best = min(run(wire, chunk)[0] for _ in range(args.repeats))
        _, dec = run(wire, chunk)
        assert dec.stats.errors == 0 and dec.stats.gaps == 0, dec.stats
        label = "whole" if chunk == len(wire) else f"{chunk // 1024} KiB"
        print(f"chunk {label:>9}: {len(wire) / best / 1e6:7.1f} MB/s "
              f"({len(wire) / best / 1e6 / 0.68:6.0f}x real time)")


if __name__ == "__main__":
    main()
