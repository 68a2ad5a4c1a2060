"""Reading only what analysis uses, and hashing exactly that.

``read_session(path, lazy=True)`` (:mod:`hreflex.io.session`) leaves ``/emg/continuous`` in
the file as a :class:`LazySamples` (shape, dtype, nothing read) and never touches
``/emg/trigger``; epoching asks it for the sweep windows only
(:meth:`LazySamples.read_windows`, or :meth:`LazySamples.stream_windows` a block at a time:
one read per window, of its rows only).
Everything read for the analysis goes through one :class:`ReadHash`, in the order
``docs/FORMAT.md`` ("What hreflex analyze reads, and the input hash") gives, so provenance
needs no second pass over the file.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from hreflex.errors import FileFormatError
from hreflex.io.format import open_h5
from hreflex.threads import quick_handoff

#: Name of the recipe of :class:`ReadHash` (``docs/FORMAT.md``, "What hreflex analyze reads,
#: and the input hash").
HASH_RECIPE = "hreflex-read/1"
#: Tables hashed as stored, in this order (absent ones add nothing).
HASHED_TABLES = ("stimuli/events", "stimuli/blocks", "faults", "emg/recorded_windows")
#: Attributes hashed as float64 (NaN when absent): (group, attribute).
HASHED_NUMBERS = (("devices/amplifier", "adc_bits"), ("devices/source", "online_highpass_Hz"),
                  ("devices/source", "online_highpass_order"))
#: Windows hashed at a time (in the hashing thread, while the next ones are read).
HASH_BLOCK = 256
#: Buffers of ``HASH_BLOCK`` windows :meth:`LazySamples.stream_windows` reads into in turn
#: (one being read, one being worked on, one spare)
RING_BLOCKS = 3
#: What :meth:`LazySamples.stream_windows` hands every block of finished windows to:
#: ``each_block(lo, hi, rows)``, windows ``lo..hi-1`` as stored, (hi - lo, n, n_channels).
BlockHook = Callable[[int, int, np.ndarray], None]
_NAN = np.float64(np.nan)


class ReadHash:
    """SHA-256 of what was read from a session file for analysis (``docs/FORMAT.md``, "What
    hreflex analyze reads, and the input hash"). ``samples`` says which samples it covers: ``"none"`` yet, ``"sweeps"``
    (each stimulus's window ``sweep_start_sample`` .. + ``sweep_n_samples`` rows) or
    ``"all"``."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.samples = "none"
        self.sweep_start_sample: int | None = None
        self.sweep_n_samples: int | None = None

    def add(self, data: np.ndarray | bytes) -> None:
        """Hash the bytes of ``data`` (an array: its values in C order, its own dtype)."""
        if isinstance(data, np.ndarray):
            data = memoryview(np.ascontiguousarray(data)).cast("B")
        self._digest.update(data)

    def add_text(self, text: str) -> None:
        """Hash ``text`` as UTF-8 followed by one zero byte."""
        self._digest.update(text.encode("utf-8") + b"\0")

    def provenance(self) -> dict:
        """``{"sha256": hex digest, "sha256_covers": what it covers}`` for the results."""
        covers = {"recipe": HASH_RECIPE, "samples": self.samples,
                  "description": "SHA-256 of what the analysis read from the file: metadata, "
                  "tables and the samples named by 'samples' (docs/FORMAT.md, 'What hreflex "
                  "analyze reads, and the input hash'); not of the whole file"}
        if self.samples == "sweeps":
            covers["sweep_start_sample"] = self.sweep_start_sample
            covers["sweep_n_samples"] = self.sweep_n_samples
        return {"sha256": self._digest.hexdigest(), "sha256_covers": covers}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def hash_metadata(f: h5py.File, digest: ReadHash, samples: h5py.Dataset,
                  shape: tuple[int, ...]) -> None:
    """Hash the metadata the analysis uses, steps 1-7 of the recipe: rate, scales, channel
    names and muscles, species and muscle, device numbers, tables, then the sample dataset's
    dtype and the ``shape`` used (rows of a live file: the part common with the trigger)."""
    emg = f["emg"]
    digest.add(np.asarray(emg.attrs["sample_rate_Hz"], dtype="<f8"))
    digest.add(np.asarray(emg["scale_V_per_count"][()], dtype="<f8"))
    for name in ("channel_names", "channel_muscles"):
        for value in emg[name][()]:
            digest.add_text(_text(value))
    for name in ("species", "muscle"):
        digest.add_text(_text(f.attrs.get(name, "")))
    for group, name in HASHED_NUMBERS:
        value = f[group].attrs.get(name, _NAN) if group in f else _NAN
        digest.add(np.asarray(value, dtype="<f8"))
    for name in HASHED_TABLES:
        if name in f:
            digest.add(f[name][()])
    digest.add_text(samples.dtype.str)
    digest.add(np.asarray(shape, dtype="<u8"))


class LazySamples:
    """``/emg/continuous`` of a session file, left in the file: ``shape`` (the rows in use,
    all channels), ``dtype`` and ``chunk_rows`` (the stored chunking, for information: the
    reads do not depend on it); rows are read by :meth:`read_windows`,
    :meth:`stream_windows` or :meth:`read_all`, each time opening the file, and hashed into
    ``digest``."""

    ndim = 2

    def __init__(self, path: Path, shape: tuple[int, int], dtype: np.dtype, chunk_rows: int,
                 digest: ReadHash) -> None:
        self.path, self.shape, self.dtype = Path(path), shape, np.dtype(dtype)
        self.chunk_rows, self.digest = max(1, int(chunk_rows)), digest

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, ds: h5py.Dataset, a: int, b: int) -> np.ndarray:
        """Rows ``a..b-1`` of ``ds`` (``/emg/continuous``, looked up once per read: a lookup
        costs as much as a chunk); a damaged file raises :class:`FileFormatError` naming it."""
        try:
            return ds[a:b]
        except (OSError, KeyError, ValueError) as exc:
            raise FileFormatError(f"{self.path}: cannot read emg/continuous rows {a}..{b - 1} "
                                  f"({exc})") from None

    def read_all(self) -> np.ndarray:
        """All rows in use, (n_rows, n_channels) (hashed: ``samples = "all"``)."""
        with open_h5(self.path) as f:
            data = self._rows(f["emg/continuous"], 0, self.shape[0])
        self.digest.add(data)
        self.digest.samples = "all"
        return data

    def read_windows(self, sample_index: np.ndarray, start: int, n: int) -> np.ndarray:
        """Windows of ``n`` rows starting ``start`` rows after each ``sample_index`` (m,)
        (each wholly inside ``shape``), as (m, n_channels, n) in the stored dtype, in the
        order given (a transposed view of the rows as stored, so hashing them copies nothing).

        One HDF5 read per window, of exactly its rows, straight into the result (no
        intermediate block, no copy: measured faster than reading whole chunks or spans
        covering several windows, and than one read of their union; ``docs/FORMAT.md``).
        Hashes every window's rows (row-major, as stored) in the order given
        (``samples = "sweeps"``), a block of :data:`HASH_BLOCK` windows at a time in a
        second thread while the next ones are read."""
        out = np.empty((len(sample_index), n, self.shape[1]), dtype=self.dtype)  # as stored
        self._read(sample_index, start, n, lambda lo, hi: out[lo:hi], None)
        return out.transpose(0, 2, 1)

    def stream_windows(self, sample_index: np.ndarray, start: int, n: int,
                       each_block: BlockHook) -> None:
        """The windows of :meth:`read_windows`, read and hashed the same way, but only
        handed to ``each_block(lo, hi, rows)``, in the hashing thread, for every block once
        it is hashed (windows ``lo..hi-1``, rows as stored: (hi - lo, n, n_channels)), in
        order, so work on them (e.g. scaling them) overlaps the reading; what it raises is
        raised here. The blocks are read into :data:`RING_BLOCKS` buffers, each reused once
        ``each_block`` returns: the windows are never all in memory at once."""
        free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(RING_BLOCKS):
            free.put(np.empty((HASH_BLOCK, n, self.shape[1]), dtype=self.dtype))

        # a block is the first hi - lo windows of a ring buffer (its base), given back once
        # the hashing thread is done with it
        self._read(sample_index, start, n, lambda lo, hi: free.get()[:hi - lo], each_block,
                   lambda block: free.put(block.base))

    def _read(self, sample_index: np.ndarray, start: int, n: int,
              block_of: Callable[[int, int], np.ndarray], each_block: BlockHook | None,
              release: Callable[[np.ndarray], None] | None = None) -> None:
        """Read the windows ``HASH_BLOCK`` at a time, block ``lo..hi-1`` into
        ``block_of(lo, hi)`` (C-contiguous (hi - lo, n, n_channels)), hashing each (and
        handing it to ``each_block``, then to ``release``) in the hashing thread."""
        first = (np.asarray(sample_index, dtype=np.int64) + int(start)).tolist()
        with quick_handoff():  # the hashing thread gets the lock back between h5py reads
            hasher = _BlockHasher(self.digest, each_block, release)
            try:
                if first and n:  # (no rows: nothing to read, nothing hashed)
                    with open_h5(self.path) as f:
                        self._read_blocks(f["emg/continuous"], first, n, block_of, hasher)
            finally:
                hasher.close()
        self.digest.samples = "sweeps"
        self.digest.sweep_start_sample, self.digest.sweep_n_samples = int(start), int(n)

    def _read_blocks(self, ds: h5py.Dataset, first: list[int], n: int,
                     block_of: Callable[[int, int], np.ndarray], hasher: _BlockHasher
                     ) -> None:
        """Window ``k`` (rows ``first[k]`` .. + ``n``) into its block's row ``k - lo``, one
        HDF5 read each; every finished block to ``hasher``."""
        n_ch = self.shape[1]
        dsid, mtype = ds.id, h5py.h5t.py_create(self.dtype)
        fspace = dsid.get_space()
        for lo in range(0, len(first), HASH_BLOCK):
            hi = min(lo + HASH_BLOCK, len(first))
            block = block_of(lo, hi)
            flat = block.reshape(-1, n_ch)  # a view: the block's windows one after the other
            mspace = h5py.h5s.create_simple(flat.shape)
            for k, row in enumerate(first[lo:hi]):
                try:
                    fspace.select_hyperslab((row, 0), (n, n_ch))
                    mspace.select_hyperslab((k * n, 0), (n, n_ch))
                    read_rows(dsid, mspace, fspace, flat, mtype)
                except (OSError, KeyError, ValueError) as exc:
                    raise FileFormatError(f"{self.path}: cannot read emg/continuous rows "
                                          f"{row}..{row + n - 1} ({exc})") from None
            hasher.put(lo, hi, block)


def read_rows(dsid: h5py.h5d.DatasetID, mspace: h5py.h5s.SpaceID, fspace: h5py.h5s.SpaceID,
              flat: np.ndarray, mtype: h5py.h5t.TypeID) -> None:
    """One HDF5 read of the rows selected in ``fspace`` into those selected in ``mspace`` of
    ``flat`` (a module function, so tests can watch the requests)."""
    dsid.read(mspace, fspace, flat, mtype)


class _BlockHasher:
    """Hashes the blocks :meth:`put` into a :class:`ReadHash`, in order, in one thread of
    its own (``hashlib`` lets other threads run while it hashes a large block: the hashing
    overlaps the reading), then hands each to ``each_block`` and then to ``release`` (if
    given). :meth:`close` waits for the last block and re-raises what the thread raised
    (blocks after an error are only released)."""

    def __init__(self, digest: ReadHash, each_block: BlockHook | None = None,
                 release: Callable[[np.ndarray], None] | None = None) -> None:
        self._digest, self._blocks, self._error = digest, queue.SimpleQueue(), None
        self._each_block, self._release = each_block, release
        self._thread = threading.Thread(target=self._run, name="hreflex-read-hash",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._blocks.get()) is not None:
            lo, hi, block = item
            try:
                if self._error is None:
                    self._digest.add(block)
                    if self._each_block is not None:
                        self._each_block(lo, hi, block)
            except BaseException as exc:  # handed to close(), in the reading thread
                self._error = exc
            finally:
                if self._release is not None:
                    self._release(block)

    def put(self, lo: int, hi: int, block: np.ndarray) -> None:
        """Windows ``lo..hi-1``, read: ``block`` (hi - lo, n, n_channels) as stored."""
        self._blocks.put((lo, hi, block))

    def close(self) -> None:
        self._blocks.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
