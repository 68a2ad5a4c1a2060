"""Recorder items packed for the trip to the recorder process: a few arrays per batch.

A batch is the items queued in about 20 ms, in their order, as one tuple of arrays (pickled
by ``multiprocessing`` as a handful of buffers, however many blocks it holds):

``kinds`` (n,) uint8 (0 samples, 1 stimulus rows, 2 fault rows), ``firsts`` (n,) int64 (the
EMG-clock index of a sample item's row 0; 0 otherwise), ``lengths`` (n,) int64 (rows of each
item), ``counts`` (sum, n_channels) and ``trigger`` (sum,) uint8 of all sample items one
after the other, ``stimuli`` (``STIMULUS_DTYPE``) and ``faults`` (``FAULT_DTYPE``) rows the
same way. :func:`unpack` gives back the items :class:`~hreflex.acquisition.recorder.RowWriter`
takes.
"""

from __future__ import annotations

import numpy as np

from hreflex.io.format import FAULT_DTYPE, STIMULUS_DTYPE

_KIND = {"s": 0, "t": 1, "f": 2}
_TAG = "stf"

Batch = tuple[np.ndarray, ...]


def item_nbytes(item) -> int:
    """Bytes of the arrays of one item."""
    return sum(a.nbytes for a in item[1:] if isinstance(a, np.ndarray))


def pack(items: list, n_channels: int, sample_dtype: np.dtype) -> Batch:
    """Items ``("s", first, counts, trigger)`` / ``("t", rows)`` / ``("f", rows)`` -> a batch."""
    kinds = np.array([_KIND[it[0]] for it in items], np.uint8)
    firsts = np.array([it[1] if it[0] == "s" else 0 for it in items], np.int64)
    lengths = np.array([len(it[2]) if it[0] == "s" else len(it[1]) for it in items], np.int64)
    samples = [it for it in items if it[0] == "s"]
    counts = (np.concatenate([it[2] for it in samples]) if samples
              else np.empty((0, n_channels), sample_dtype))
    trigger = (np.concatenate([it[3] for it in samples]) if samples
               else np.empty(0, np.uint8))

    def rows(tag: str, dtype: np.dtype) -> np.ndarray:
        parts = [it[1] for it in items if it[0] == tag]
        return np.concatenate(parts) if parts else np.empty(0, dtype)

    return (kinds, firsts, lengths, counts, trigger, rows("t", STIMULUS_DTYPE),
            rows("f", FAULT_DTYPE))


def unpack(batch: Batch) -> list:
    """A batch -> its items, in the order they were queued (views into the batch arrays)."""
    kinds, firsts, lengths, counts, trigger, stimuli, faults = batch
    at = [0, 0, 0]  # next row of samples, stimuli, faults
    items = []
    for kind, first, n in zip(kinds.tolist(), firsts.tolist(), lengths.tolist(), strict=True):
        a = at[kind]
        at[kind] = a + n
        if kind == 0:
            items.append(("s", first, counts[a:a + n], trigger[a:a + n]))
        else:
            items.append((_TAG[kind], (stimuli if kind == 1 else faults)[a:a + n]))
    return items
