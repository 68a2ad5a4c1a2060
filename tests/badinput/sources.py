"""Bad import sources, one builder per case: each writes its file(s) into a folder and returns
``(source, extra import options, the words the error must name)``. Every importer's format:
Cadwell Sierra CSV, generic CSV (wide and long), MATLAB v5 and v7.3, BCI2000 (and EPOCS'
parameters), BrainVision through neo, and the intensity sidecar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from tests.importexport.helpers import write_bci2000, write_brainvision, write_cadwell, write_mat73

Case = Callable[[Path], tuple[Path, list[str], str]]
RNG = np.random.default_rng(11)


# -- Cadwell ---------------------------------------------------------------------------------

def _cadwell(d: Path, **kw) -> Path:
    traces = RNG.normal(0, 50, (2, 200))
    traces[:, 20] += 3000  # stimulus artifact
    return write_cadwell(d / "c.csv", traces, ["Tr 1 : 10 mA : 200 µs",
                                                "Tr 2 : 20 mA : 200 µs"], **kw)


def _edit(path: Path, old: str, new: str, count: int = 1) -> Path:
    text = path.read_bytes().decode("latin-1")
    assert old in text, old
    path.write_bytes(text.replace(old, new, count).encode("latin-1"))
    return path


def _cut_bytes(path: Path, n: int) -> Path:
    path.write_bytes(path.read_bytes()[:-n])
    return path


def _cut(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _cadwell_data_row(path: Path, k: int, value: str) -> Path:
    lines = path.read_bytes().decode("latin-1").split("\r\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("Trace Data"))
    cells = lines[first + k].split(",")
    cells[1] = value
    lines[first + k] = ",".join(cells)
    path.write_bytes("\r\n".join(lines).encode("latin-1"))
    return path


CADWELL: dict[str, Case] = {
    "truncated-mid-data": lambda d: (_cut(_cadwell(d), 0.6), [], "c.csv"),
    "header-only": lambda d: (_cut(_cadwell(d), 0.08), ["--format", "cadwell"], "c.csv"),
    "text-in-data": lambda d: (_cadwell_data_row(_cadwell(d), 5, "abc"), [], "c.csv"),
    "nan-in-data": lambda d: (_cadwell_data_row(_cadwell(d), 5, "nan"), [], "Trace Data"),
    "inf-in-data": lambda d: (_cadwell_data_row(_cadwell(d), 7, "inf"), [], "c.csv"),
    "ms-per-sample-0": lambda d: (_cadwell(d, ms_per_sample="0"), [], "ms/Sample"),
    "ms-per-sample-nan": lambda d: (_cadwell(d, ms_per_sample="nan"), [], "ms/Sample"),
    "ms-per-sample-text": lambda d: (_cadwell(d, ms_per_sample="fast"), [], "ms/Sample"),
    "ms-per-sample-1e9": lambda d: (_cadwell(d, ms_per_sample="1e9"), [], "sampling rate"),
    "ms-per-sample-inf": lambda d: (_cadwell(d, ms_per_sample="inf"), [], "ms/Sample"),
    "samples-lie": lambda d: (_edit(_cadwell(d), "Samples,200,200", "Samples,900,900"), [],
                              "Samples"),
    "labels-lie": lambda d: (_edit(_cadwell(d), '"Tr 2 : 20 mA : 200 µs"',
                                   '"Tr 2 : 20 mA : 200 µs","Tr 3 : 30 mA : 200 µs"'), [],
                             "c.csv"),
    "label-intensity-text": lambda d: (_edit(_cadwell(d), "Tr 2 : 20 mA", "Tr 2 : lots mA"),
                                       [], "Trace Label"),
    "pre-ms-nan": lambda d: (_cadwell(d), ["--pre-ms", "nan"], "pre"),
    "pre-ms-1e9": lambda d: (_cadwell(d), ["--pre-ms", "1e9"], "pre"),
}


# -- generic CSV -----------------------------------------------------------------------------

def _wide(d: Path, comments: str = "", header: str = "intensity_mA,5,10,12.5\n",
          rows: str | None = None) -> Path:
    if rows is None:
        rows = "".join(f"{t:g},{0.1 * t:g},{0.2 * t:g},{0.3 * t:g}\n" for t in range(-2, 8))
    path = d / "w.csv"
    path.write_text(comments + header + rows, encoding="utf-8")
    return path


def _long(d: Path, body: str) -> Path:
    path = d / "l.csv"
    path.write_text("sweep,channel,time_ms,value,intensity_mA\n" + body, encoding="utf-8")
    return path


GENERIC_CSV: dict[str, Case] = {
    "truncated-row": lambda d: (_wide(d, rows="-2,0.1,0.2,0.3\n-1,0.1,0.2,0.3\n0,0.1"), [],
                                "w.csv"),
    "text-value": lambda d: (_wide(d, rows="-1,0.1,0.2,0.3\n0,0.1,abc,0.3\n1,1,1,1\n"), [],
                             "w.csv"),
    "nan-time": lambda d: (_wide(d, rows="-1,0.1,0.2,0.3\nnan,0.1,0.2,0.3\n1,1,1,1\n"), [],
                           "w.csv"),
    "inf-value": lambda d: (_wide(d, rows="-1,0.1,0.2,0.3\n0,inf,0.2,0.3\n1,1,1,1\n"), [],
                            "w.csv"),
    "ragged-rows": lambda d: (_wide(d, rows="-1,0.1,0.2,0.3\n0,0.1\n1,1,1,1\n"), [], "w.csv"),
    "rate-comment-text": lambda d: (_wide(d, "# sample_rate_Hz: fast\n"), [], "sample_rate_Hz"),
    "rate-comment-0": lambda d: (_wide(d, "# sample_rate_Hz: 0\n"), [], "sample"),
    "rate-comment-1e-9": lambda d: (_wide(d, "# sample_rate_Hz: 1e-9\n"), [], "sample"),
    "pre-comment-nan": lambda d: (_wide(d, "# pre_trigger_ms: nan\n"), [], "pre"),
    "pre-comment-1e9": lambda d: (_wide(d, "# pre_trigger_ms: 1e9\n"), [], "pre"),
    "intensity-negative": lambda d: (_wide(d, header="intensity_mA,5,-10,12.5\n"), [],
                                     "intensity"),
    "intensity-text": lambda d: (_wide(d, header="intensity_mA,5,ten,12.5\n"), [], "intensity"),
    "intensity-count-lie": lambda d: (_wide(d, header="intensity_mA,5,10\n"), [], "w.csv"),
    "no-intensity": lambda d: (_wide(d, header=""), [], "intensity"),
    "block-kind-unknown": lambda d: (_wide(d, "# block: 0,warmup,first\n",
                                           "intensity_mA,5,10,12.5\nblock_id,0,0,0\n"), [],
                                     "kind"),
    "long-unequal-sweeps": lambda d: (_long(d, "0,A,0,1,5\n0,A,1,2,5\n1,A,0,1,6\n"), [],
                                      "l.csv"),
    "long-value-text": lambda d: (_long(d, "0,A,0,x,5\n0,A,1,2,5\n"), [], "l.csv"),
    "binary-garbage": lambda d: (_bytes(d / "g.csv", bytes(range(256)) * 4), [], "g.csv"),
    "empty-file": lambda d: (_bytes(d / "e.csv", b""), [], "e.csv"),
    "sample-rate-option-nan": lambda d: (_wide(d), ["--sample-rate", "nan"], "sample"),
    "sample-rate-option-1e-9": lambda d: (_wide(d), ["--sample-rate", "1e-9"], "sample"),
    "units-unknown": lambda d: (_wide(d), ["--units", "furlongs"], "--units"),
}


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- MATLAB ----------------------------------------------------------------------------------

EPOCHED = ["--sweeps", "sweeps", "--intensity", "amps", "--sample-rate", "1000", "--pre-ms", "5"]


def _mat5(d: Path, **variables) -> Path:
    values = {"sweeps": RNG.normal(size=(50, 4)), "amps": np.array([1.0, 2.0, 3.0, 4.0])}
    values.update(variables)
    scipy.io.savemat(d / "m.mat", values)
    return d / "m.mat"


def _mat73(d: Path, **variables) -> Path:
    values = {"sweeps": RNG.normal(size=(50, 4)), "amps": np.array([1.0, 2.0, 3.0, 4.0])}
    values.update(variables)
    return write_mat73(d / "m.mat", **values)


def _with_options(*options: str) -> list[str]:
    out = list(EPOCHED)
    for flag, value in zip(options[::2], options[1::2], strict=True):
        out[out.index(flag) + 1] = value
    return out


MATLAB: dict[str, Case] = {
    "v5-truncated": lambda d: (_cut(_mat5(d), 0.5), EPOCHED, "m.mat"),
    "v5-truncated-header": lambda d: (_cut(_mat5(d), 0.05), EPOCHED, "m.mat"),
    "v73-truncated": lambda d: (_cut(_mat73(d), 0.5), EPOCHED, "m.mat"),
    "v73-truncated-data": lambda d: (_cut(_mat73(d), 0.9), EPOCHED, "m.mat"),
    "v5-sweeps-text": lambda d: (_mat5(d, sweeps="not numbers"), EPOCHED, "sweeps"),
    "v5-sweeps-nan": lambda d: (_mat5(d, sweeps=np.full((50, 4), np.nan)), EPOCHED, "m.mat"),
    "v5-sweeps-inf": lambda d: (_mat5(d, sweeps=np.full((50, 4), np.inf)), EPOCHED, "m.mat"),
    "v5-sweeps-empty": lambda d: (_mat5(d, sweeps=np.zeros((0, 4))), EPOCHED, "sweeps"),
    "v5-sweeps-4d": lambda d: (_mat5(d, sweeps=np.zeros((5, 4, 3, 2))), EPOCHED, "sweeps"),
    "v5-amps-nan": lambda d: (_mat5(d, amps=np.array([1.0, np.nan, 3.0, 4.0])), EPOCHED,
                              "intensity"),
    "v5-amps-negative": lambda d: (_mat5(d, amps=np.array([1.0, -2.0, 3.0, 4.0])), EPOCHED,
                                   "intensity"),
    "v5-amps-count-lie": lambda d: (_mat5(d, amps=np.array([1.0, 2.0, 3.0])), EPOCHED, "m.mat"),
    "v5-variable-missing": lambda d: (_mat5(d), _with_options("--sweeps", "data"), "data"),
    "rate-0": lambda d: (_mat5(d), _with_options("--sample-rate", "0"), "sampl"),
    "rate-nan": lambda d: (_mat5(d), _with_options("--sample-rate", "nan"), "sampl"),
    "rate-1e-9": lambda d: (_mat5(d), _with_options("--sample-rate", "1e-9"), "sampl"),
    "pre-nan": lambda d: (_mat5(d), _with_options("--pre-ms", "nan"), "pre"),
    "pre-1e9": lambda d: (_mat5(d), _with_options("--pre-ms", "1e9"), "pre"),
    "v73-sweeps-struct": lambda d: (_struct73(d), EPOCHED, "sweeps"),
    "continuous-trigger-never-high": lambda d: (
        _mat5(d, emg=RNG.normal(size=1000), trig=np.zeros(1000)),
        ["--signal", "emg", "--trigger", "trig", "--intensity", "5", "--sample-rate", "1000"],
        "m.mat"),
}


def _struct73(d: Path) -> Path:
    import h5py

    path = _mat73(d)
    with h5py.File(path, "a") as f:
        del f["sweeps"]
        f.create_group("sweeps")["x"] = [1.0]
    return path


# -- BCI2000 ---------------------------------------------------------------------------------

def _bci(d: Path, rate: str = "2000Hz", **kw) -> Path:
    n = 4000
    trig = np.zeros(n, int)
    trig[500::1000] = 1
    states = {"Running": (1, np.ones(n)), "EnableTrigger": (1, trig),
              "CurrentAmplitude": (16, np.full(n, 5000))}
    return write_bci2000(d / "b.dat", RNG.integers(-100, 100, (n, 2)), states, rate=rate, **kw)


def _header_field(path: Path, key: bytes, change: Callable[[int], int | str]) -> Path:
    data = path.read_bytes()
    i = data.index(key) + len(key)
    j = data.index(b" ", i + 1) if data[i:i + 1] == b" " else data.index(b" ", i)
    old = data[i:j].strip()
    path.write_bytes(data[:i] + b" " + str(change(int(old))).encode() + data[j:])
    return path


BCI2000: dict[str, Case] = {
    "headerlen-37-short": lambda d: (_header_field(_bci(d), b"HeaderLen=", lambda v: v - 37),
                                     [], "HeaderLen"),
    "headerlen-past-end": lambda d: (_header_field(_bci(d), b"HeaderLen=", lambda v: 10**7),
                                     [], "HeaderLen"),
    "headerlen-text": lambda d: (_header_field(_bci(d), b"HeaderLen=", lambda v: "many"), [],
                                 "HeaderLen"),
    "sourcech-lie": lambda d: (_header_field(_bci(d), b"SourceCh=", lambda v: v + 1), [],
                               "b.dat"),
    "statevectorlen-lie": lambda d: (_header_field(_bci(d), b"StatevectorLen=", lambda v: v + 2),
                                     [], "b.dat"),
    # (cut on a sample boundary a BCI2000 file is a shorter recording: its header has no length)
    "truncated-data": lambda d: (_cut_bytes(_bci(d), 3), [], "b.dat"),
    "truncated-header": lambda d: (_cut(_bci(d), 0.02), [], "b.dat"),
    "rate-0": lambda d: (_bci(d, rate="0Hz"), [], "sampling rate"),
    "rate-0-no-unit": lambda d: (_bci(d, rate="0"), [], "SamplingRate"),
    "rate-text": lambda d: (_bci(d, rate="fastHz"), [], "SamplingRate"),
    "rate-nan": lambda d: (_bci(d, rate="nanHz"), [], "SamplingRate"),
    "rate-1e-9": lambda d: (_bci(d, rate="1e-9Hz"), [], "sampling rate"),
    "dataformat-unknown": lambda d: (_edit_bytes(_bci(d), b"DataFormat= int16",
                                                 b"DataFormat= int64"), [], "DataFormat"),
    "no-trigger": lambda d: (_bci_no_trigger(d), [], "trigger"),
    "gain-text": lambda d: (_bci(d, gains=["x", "1"]), [], "SourceChGain"),
    "gain-nan": lambda d: (_bci(d, gains=["nan", "1"]), [], "SourceChGain"),
    "garbage-first-line": lambda d: (_bytes(d / "b.dat", b"HeaderLen= banana\r\n" + b"\0" * 64),
                                     [], "b.dat"),
}


def _edit_bytes(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    return path


def _bci_no_trigger(d: Path) -> Path:
    n = 2000
    return write_bci2000(d / "b.dat", RNG.integers(-100, 100, (n, 1)),
                         {"Running": (1, np.ones(n))})


# -- BrainVision (neo) and the intensity sidecar ------------------------------------------------

def _vision(d: Path) -> Path:
    return write_brainvision(d / "v", RNG.normal(0, 10, (3000, 2)), [500, 1500, 2500], 5000.0,
                             ["EMG1", "EMG2"])


NEO: dict[str, Case] = {
    "eeg-truncated": lambda d: (_cut_eeg(_vision(d)), ["--intensity", "5"], "v."),
    "channels-lie": lambda d: (_edit_text(_vision(d), "NumberOfChannels=2", "NumberOfChannels=3"),
                               ["--intensity", "5"], "v."),
    "interval-0": lambda d: (_edit_text(_vision(d), "SamplingInterval=200",
                                        "SamplingInterval=0"), ["--intensity", "5"], "v."),
    "eeg-missing": lambda d: (_drop(_vision(d), ".eeg"), ["--intensity", "5"], "v."),
}


def _edit_text(vhdr: Path, old: str, new: str) -> Path:
    text = vhdr.read_text(encoding="utf-8")
    assert old in text, old
    vhdr.write_text(text.replace(old, new), encoding="utf-8")
    return vhdr


def _cut_eeg(vhdr: Path) -> Path:
    eeg = vhdr.with_suffix(".eeg")
    eeg.write_bytes(eeg.read_bytes()[:-7])  # not a whole number of samples
    return vhdr


def _drop(vhdr: Path, suffix: str) -> Path:
    vhdr.with_suffix(suffix).unlink()
    return vhdr


def _sidecar(d: Path, text: str) -> tuple[Path, list[str], str]:
    (d / "amps.txt").write_text(text)
    return _wide(d, header=""), ["--intensity-file", str(d / "amps.txt")], "amps.txt"


SIDECAR: dict[str, Case] = {
    "sidecar-text": lambda d: _sidecar(d, "5\nten\n12\n"),
    "sidecar-count-lie": lambda d: (*_sidecar(d, "5\n10\n")[:2], "intensity has 2 values"),
    "sidecar-nan": lambda d: _sidecar(d, "5\nnan\n12\n"),
    "sidecar-negative": lambda d: _sidecar(d, "5\n-10\n12\n"),
    "sidecar-empty": lambda d: _sidecar(d, ""),
}
