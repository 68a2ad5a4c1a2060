"""Child process for the crash tests: records a known test signal in real time until killed.

Usage: python recording_child.py SESSION.h5 [--seconds S] [--process]

It plays an amplifier: sample blocks of :func:`signal` are encoded as wire frames (blocks with
``seq % LOST_EVERY == LOST_PHASE`` are "lost on the wire"), journaled, decoded and put into a
:class:`Recorder`, paced by the wall clock; a stimulus row every ``STIM_EVERY`` blocks. After
each batch it prints the number of samples produced so far (the parent reads the last value
printed before it killed the child). Prints ``ready`` once the file and journal exist. With
``--process`` the recorder is a :class:`RecorderProcess` and ``pid=N`` (its child) follows.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from hreflex.acquisition.journal import Journal, journal_path
from hreflex.acquisition.layout import SessionLayout
from hreflex.acquisition.recorder import Recorder
from hreflex.acquisition.recorder_process import RecorderProcess
from hreflex.io.format import STIMULUS_DTYPE, empty_table
from hreflex.io.session import SessionMeta
from hreflex.protocol.decoder import StreamDecoder
from hreflex.protocol.frames import SampleBlock, encode_wire

RATE_HZ = 5000
N_CHANNELS = 4
BLOCK = 50  # samples per block (10 ms)
LOST_EVERY, LOST_PHASE = 37, 11
STIM_EVERY = 25  # blocks (0.25 s)


def signal(index: np.ndarray) -> np.ndarray:
    """(n, N_CHANNELS) int16 test signal at sample ``index``: never 0, so a zero row is a gap."""
    k = np.asarray(index, np.int64)[:, None]
    return (1 + (k * 7 + np.arange(N_CHANNELS) * 3001) % 30000).astype(np.int16)


def trigger(index: np.ndarray) -> np.ndarray:
    """(n,) uint8: bit 0 set on the first sample of every stimulus block."""
    k = np.asarray(index, np.int64)
    return ((k % (BLOCK * STIM_EVERY)) == 0).astype(np.uint8)


def lost(seq: int) -> bool:
    return seq % LOST_EVERY == LOST_PHASE


def stimulus_row(seq: int) -> np.ndarray:
    row = empty_table(STIMULUS_DTYPE, 1)
    row["sample_index"] = seq * BLOCK
    row["time_s"] = seq * BLOCK / RATE_HZ
    row["intensity_mA"] = seq / 100
    row["sync_method"] = b"trigger"
    return row


def layout() -> SessionLayout:
    return SessionLayout(
        meta=SessionMeta(subject_id="crash", session_id="test"),
        sample_rate_Hz=RATE_HZ,
        channel_names=tuple(f"ch{i}" for i in range(N_CHANNELS)),
        scale_V_per_count=(1e-7,) * N_CHANNELS,
        blocks=((0, "fixed", "test signal"),),
    )


def main(path: str, seconds: float, process: bool = False) -> None:
    lay = layout()
    journal = Journal(journal_path(path), {"sources": {"0": "amplifier"}, "samples_source": 0,
                                           "layout": lay.to_dict()})
    if process:
        recorder = RecorderProcess(lay, path, flush_interval_s=0.25, journal=journal).start()
    else:
        recorder = Recorder(lay.create_writer(path), flush_interval_s=0.25, journal=journal).start()
    decoder = StreamDecoder()
    print("ready", flush=True)
    if process:
        print(f"pid={recorder.pid}", flush=True)
    t0 = time.monotonic()
    seq = 0
    while time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * RATE_HZ) // BLOCK
        wire, stims = [], []
        while seq < due:
            idx = np.arange(seq * BLOCK, (seq + 1) * BLOCK)
            if not lost(seq):
                wire.append(encode_wire(SampleBlock(seq, seq * BLOCK, signal(idx), trigger(idx))))
            if seq % STIM_EVERY == 0:
                stims.append(seq)
            seq += 1
        if wire:
            chunk = b"".join(wire)
            journal.write(0, chunk)
            for blocks in decoder.feed(chunk).samples:
                recorder.put_blocks(blocks)
        if stims or wire:
            print(seq * BLOCK, flush=True)
        for s in stims:  # after the count that covers them (a kill in between loses them)
            recorder.put_stimuli(stimulus_row(s))
        time.sleep(0.005)
    recorder.close()
    print("done", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    seconds = float(args[args.index("--seconds") + 1]) if "--seconds" in args else 3600.0
    main(args[0], seconds, "--process" in args)
