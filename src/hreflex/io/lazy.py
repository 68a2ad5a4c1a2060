"""Reading only what analysis uses, and hashing exactly that.

``read_session(path, lazy=True)`` (:mod:`hreflex.io.session`) leaves ``/emg/continuous`` in
the file as a :class:`LazySamples` (shape, dtype, nothing read) and never touches
``/emg/trigger``; epoching asks it for the sweep windows only
(:meth:`LazySamples.read_windows`: whole chunks, windows that share chunks in one request).
Everything read for the analysis goes through one :class:`ReadHash`, in the order
``docs/FORMAT.md`` ("What hreflex analyze reads, and the input hash") gives, so provenance
needs no second pass over the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hreflex.errors import FileFormatError
from hreflex.io.format import open_h5

#: Name of the recipe of :class:`ReadHash` (``docs/FORMAT.md``, "What hreflex analyze reads,
#: and the input hash").
HASH_RECIPE = "hreflex-read/1"
#: Tables hashed as stored, in this order (absent ones add nothing).
HASHED_TABLES = ("stimuli/events", "stimuli/blocks", "faults", "emg/recorded_windows")
#: Attributes hashed as float64 (NaN when absent): (group, attribute).
HASHED_NUMBERS = (("devices/amplifier", "adc_bits"), ("devices/source", "online_highpass_Hz"),
                  ("devices/source", "online_highpass_order"))
#: At most this many rows are read in one request (windows sharing a chunk beyond it are
#: read in the next request; the shared chunk is then read twice).
MAX_READ_ROWS = 1 << 18
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
    all channels) and ``dtype``; rows are read by :meth:`read_windows` or :meth:`read_all`,
    each time opening the file, and hashed into ``digest``."""

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

    def _groups(self, first: np.ndarray, n: int) -> list[tuple[int, int]]:
        """Runs ``[i, j)`` of the sorted window starts ``first`` that share chunks (each run
        at most :data:`MAX_READ_ROWS` rows unless one window is longer)."""
        c = self.chunk_rows
        lo, hi = first // c, (first + n - 1) // c
        runs, i = [], 0
        while i < len(first):
            j, top = i + 1, hi[i]
            while j < len(first) and lo[j] <= top and (max(top, hi[j]) - lo[i] + 1) * c <= \
                    MAX_READ_ROWS:
                top = max(top, hi[j])
                j += 1
            runs.append((i, j))
            i = j
        return runs

    def read_windows(self, sample_index: np.ndarray, start: int, n: int) -> np.ndarray:
        """Windows of ``n`` rows starting ``start`` rows after each ``sample_index`` (m,)
        (each wholly inside ``shape``), as (m, n_channels, n) in the stored dtype, in the
        order given (a transposed view of the rows as stored, so hashing them copies nothing).

        Reads whole chunks only, windows that share chunks in one request; hashes every
        window's rows (row-major, as stored) in the order given (``samples = "sweeps"``)."""
        first = np.asarray(sample_index, dtype=np.int64) + int(start)
        out = np.empty((len(first), n, self.shape[1]), dtype=self.dtype)  # rows as stored
        order = np.argsort(first, kind="stable")
        rows = first[order]
        c = self.chunk_rows
        with open_h5(self.path) as f:
            ds = f["emg/continuous"]
            for i, j in self._groups(rows, n):
                a = int(rows[i] // c * c)
                b = min(int((rows[j - 1] + n - 1) // c + 1) * c, self.shape[0])
                block = self._rows(ds, a, b)
                windows = sliding_window_view(block, n, axis=0).transpose(0, 2, 1)
                out[order[i:j]] = windows[rows[i:j] - a]
        for k in range(0, len(out), 256):  # file order (rows x channels), a block at a time
            self.digest.add(out[k:k + 256])
        self.digest.samples = "sweeps"
        self.digest.sweep_start_sample, self.digest.sweep_n_samples = int(start), int(n)
        return out.transpose(0, 2, 1)
