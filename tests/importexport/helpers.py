"""Writers of small source files with known contents, for the importer tests.

Each writer follows the published description of its format (not the importer's code):
Cadwell Sierra CSV (``../shared/real_data/README.md``), BCI2000 .dat (BCI2000 file format
reference), MATLAB v7.3 (HDF5 with a 512-byte MATLAB header, arrays stored transposed) and
BrainVision (header/marker text files plus multiplexed float32 samples).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[2]
REAL_DATA = REPO.parent / "shared" / "real_data" / "cadwell"


def write_cadwell(
    path: Path,
    traces_uV: np.ndarray,
    labels: list[str],
    *,
    ms_per_sample: str = "0.1563",
    item: str = "Left Gastroc",
    patient: str = "pre  s0001abc",
    test_name: str = "M-max Lower Leg Ampl Lines",
) -> Path:
    """A Sierra export: header rows, then one row per sample, one column per trace (µV)."""
    n, m = traces_uV.shape

    def row(name: str, value: str) -> str:
        return ",".join([name] + [value] * n)

    lines = [
        f"Test Name,{test_name}",
        f"Test Item,{item}",
        f'Patient Name,"{patient}"',
        "Patient ID,",
        "Test Date,8/20/2019",
        "Trace Label," + ",".join(f'"{label}"' for label in labels),
        row("Sensitivity (µV/Div)", "1000.00"),
        row("Hicut", "10000.00"),
        row("Locut", "20.00"),
        row("ms/Sample", ms_per_sample),
        row("Samples", str(m)),
    ]
    for k in range(m):
        label = "Trace Data (µV)" if k == 0 else ""
        lines.append(label + "," + ",".join(f"{v:.9f}" for v in traces_uV[:, k]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def write_mat73(path: Path, **arrays: np.ndarray) -> Path:
    """A MATLAB v7.3 file: HDF5 with a 512-byte MATLAB header; MATLAB's column-major arrays
    appear transposed to HDF5, so each (MATLAB-shaped) array is stored as its transpose."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in arrays.items():
            ds = f.create_dataset(name, data=np.asarray(value, dtype=np.float64).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with path.open("r+b") as f:
        f.write(text.ljust(116) + b"\0" * 8 + b"\x00\x02" + b"IM")
    return path


def write_bci2000(
    path: Path,
    raw: np.ndarray,
    states: dict[str, tuple[int, np.ndarray]],
    *,
    rate: str = "2000Hz",
    gains: list[str] | None = None,
    offsets: list[str] | None = None,
    names: list[str] | None = None,
    data_format: str = "int16",
    extra_params: list[str] = (),
    version: str | None = "1.1",
) -> Path:
    """A BCI2000 .dat file: text header, then per sample the channel values and the state
    vector. ``states``: name -> (bit length, (n,) values); states are packed one after the
    other from bit 0 (the first state starts at byte 0, bit 0), little-endian bits.
    ``extra_params``: more parameter lines, as written; ``version=None`` writes a 1.0 header (no
    ``BCI2000V``/``DataFormat`` on the first line, int16 data)."""
    n, n_ch = raw.shape
    gains = gains or ["1"] * n_ch
    offsets = offsets or ["0"] * n_ch
    names = names or [f"ch{i + 1}" for i in range(n_ch)]
    position, definitions = 0, []
    for name, (length, _) in states.items():
        definitions.append(f"{name} {length} 0 {position // 8} {position % 8}")
        position += length
    state_len = max(1, (position + 7) // 8)
    vectors = np.zeros((n, state_len), np.uint8)
    position = 0
    for _, (length, values) in states.items():
        values = np.asarray(values, dtype=np.int64)
        for k in range(length):  # one bit of every sample at a time
            bit = position + k
            vectors[:, bit // 8] |= (((values >> k) & 1) << (bit % 8)).astype(np.uint8)
        position += length
    params = [
        f"Source:Signal%20Properties:DataIOFilter int SourceCh= {n_ch} 16 1 % // channels",
        f"Source:Signal%20Properties:DataIOFilter float SamplingRate= {rate} 256Hz 0.0 % // rate",
        f"Source:Signal%20Properties:DataIOFilter list SourceChGain= {n_ch} {' '.join(gains)} % % % // gain",
        f"Source:Signal%20Properties:DataIOFilter list SourceChOffset= {n_ch} {' '.join(offsets)} 0 % % // offset",
        f"Source:Signal%20Properties:DataIOFilter list ChannelNames= {n_ch} {' '.join(names)} % % % // names",
        "Storage:Documentation%20Properties string StorageTime= 2024-01-01T10:00:00 // time",
        *extra_params,
    ]
    body = (
        "\r\n".join(
            ["[ State Vector Definition ]", *definitions, "[ Parameter Definition ]", *params, ""]
        )
        + "\r\n"
    )
    header_len = 0
    while True:  # HeaderLen counts itself
        first = (
            f"BCI2000V= {version} HeaderLen= {header_len} SourceCh= {n_ch} "
            f"StatevectorLen= {state_len} DataFormat= {data_format}\r\n"
            if version
            else f"HeaderLen= {header_len} SourceCh= {n_ch} StatevectorLen= {state_len}\r\n"
        )
        if len(first) + len(body) == header_len:
            break
        header_len = len(first) + len(body)
    dtype = {"int16": "<i2", "int32": "<i4", "float32": "<f4"}[data_format]
    record = np.zeros(n, [("signal", dtype, (n_ch,)), ("state", "u1", (state_len,))])
    record["signal"], record["state"] = raw, vectors
    path.write_bytes((first + body).encode("latin-1") + record.tobytes())
    return path


def write_brainvision(
    stem: Path, data_uV: np.ndarray, markers: list[int], rate_Hz: float, names: list[str]
) -> Path:
    """BrainVision .vhdr/.vmrk/.eeg (float32 multiplexed, µV); ``markers``: 0-based sample
    indices of "Stimulus" markers (the file stores them 1-based). Returns the .vhdr path."""
    eeg, vmrk, vhdr = (stem.with_suffix(s) for s in (".eeg", ".vmrk", ".vhdr"))
    data_uV.astype("<f4").tofile(eeg)
    channels = "\n".join(f"Ch{i + 1}={name},,1,µV" for i, name in enumerate(names))
    vhdr.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={eeg.name}\nMarkerFile={vmrk.name}\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={len(names)}\n"
        f"SamplingInterval={1e6 / rate_Hz:g}\n\n[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n\n"
        f"[Channel Infos]\n{channels}\n",
        encoding="utf-8",
    )
    marks = "\n".join(f"Mk{i + 1}=Stimulus,S  1,{k + 1},1,0" for i, k in enumerate(markers))
    vmrk.write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={eeg.name}\n\n[Marker Infos]\n{marks}\n",
        encoding="utf-8",
    )
    return vhdr
