"""Reading only the sweeps (``read_session(lazy=True)``): the analysis is bit for bit the one
of the whole file read into memory, only the sweep windows of ``/emg/continuous`` are read
(one request each), ``/emg/trigger`` never, and the input hash follows the recipe of
docs/FORMAT.md ("What hreflex analyze reads, and the input hash"), recomputed here with
plain h5py and hashlib."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import hreflex.io.lazy as lazy
import hreflex.io.writer as writer
from hreflex.analysis import AnalysisConfig, analyze_session
from hreflex.cli import cli
from hreflex.io.format import FAULT_DTYPE, RECORDED_WINDOW_DTYPE, empty_table
from hreflex.io.session import read_session
from hreflex.io.writer import write_session
from hreflex.threads import HANDOFF_S
from tests.analysis.simdata import short_recruitment, simulated
from tests.conftest import small_session

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "sample_data").glob("*.h5"))


def _doc(path: Path, lazy_read: bool, cfg: AnalysisConfig | None = None) -> str:
    doc = analyze_session(read_session(path, lazy=lazy_read), cfg).to_dict()
    doc.pop("created_utc")
    return json.dumps(doc, sort_keys=True)


@pytest.fixture(scope="module")
def edge_file(tmp_path_factory) -> Path:
    """A simulated recruitment with a recorded gap over one sweep and two stimuli whose
    windows leave the recording (first and last sample)."""
    session = short_recruitment()[0]
    n = len(session.continuous)
    stim = session.stimuli.copy()
    stim["sample_index"][0], stim["sample_index"][-1] = 5, n - 3
    faults = empty_table(FAULT_DTYPE, 1)
    faults[0] = (b"gap", int(stim["sample_index"][4]) + 10, 50, b"test gap")
    path = tmp_path_factory.mktemp("lazy") / "edges.h5"
    write_session(path, replace(session, stimuli=stim, faults=faults))
    return path


@pytest.fixture(scope="module")
def fcr_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lazy") / "fcr.h5"
    write_session(path, simulated("fcr_healthy", 1)[0])
    return path


def test_lazy_analysis_is_bit_for_bit_the_eager_one(fcr_file, edge_file):
    assert SAMPLES  # the shipped sample data is among the files
    for path in [*SAMPLES, fcr_file, edge_file]:
        eager = _doc(path, False)
        assert _doc(path, True) == eager, path
    assert "outside the recording" in eager and "overlaps recorded gap" in eager


def test_a_sweep_clipped_at_full_scale_is_excluded_read_lazily_as_eagerly(tmp_path):
    """The saturation bits are marked as the windows stream past (the raw windows are not
    kept): the one sweep whose M reaches int16 full scale, and only it, is excluded."""
    session = short_recruitment()[0]
    counts = session.continuous.copy()
    k = len(session.stimuli) // 2
    at = int(session.stimuli["sample_index"][k]) + int(0.010 * session.sample_rate_Hz)
    counts[at:at + 3, 0] = np.iinfo(np.int16).max  # 10 ms after the stimulus: in M
    path = tmp_path / "clipped.h5"
    write_session(path, replace(session, continuous=counts))
    results = [analyze_session(read_session(path, lazy=lazy_read)) for lazy_read in (True, False)]
    for result in results:
        flagged = np.char.find(result.sweeps.reasons.astype(str), "saturated") >= 0
        assert np.argwhere(flagged).tolist() == [[k, 0]]
    assert _doc(path, True) == _doc(path, False)


def test_hash_blocks_do_not_change_sweeps_or_hash(edge_file, monkeypatch):
    """The hashing thread takes the windows a block at a time; one SHA-256 stream, so the
    block size changes neither the sweeps nor the hash."""
    def run() -> tuple[str, dict]:
        session = read_session(edge_file, lazy=True)
        doc = analyze_session(session).to_dict()
        doc.pop("created_utc")
        return json.dumps(doc, sort_keys=True), session.read_hash.provenance()

    eager = _doc(edge_file, False)
    reference = run()
    assert reference[0] == eager
    for block in (1, 3):
        monkeypatch.setattr(lazy, "HASH_BLOCK", block)
        assert run() == reference


def test_online_highpass_reads_all_samples_and_matches(tmp_path):
    """Recorded windows with the source's online high-pass filter the whole recording."""
    session = short_recruitment()[0]
    windows = empty_table(RECORDED_WINDOW_DTYPE, 2)
    windows[0] = (-1, b"m", 5.0, 20.0, b"p2p", b"lab")
    windows[1] = (-1, b"h", 25.0, 45.0, b"p2p", b"lab")
    path = tmp_path / "epocs_like.h5"
    write_session(path, replace(session, recorded_windows=windows, devices={
        "source": {"online_highpass_Hz": 10.0, "online_highpass_order": 1}}))
    cfg = AnalysisConfig()
    cfg = replace(cfg, windows=replace(cfg.windows, source="recorded"))
    assert _doc(path, True, cfg) == _doc(path, False, cfg)
    lazy_session = read_session(path, lazy=True)
    analyze_session(lazy_session, cfg)
    assert lazy_session.read_hash.samples == "all"


def test_epoched_file_reads_the_same(tmp_path):
    session = small_session()
    sweeps = np.stack([session.continuous[i - 100:i + 400].T
                       for i in session.stimuli["sample_index"]])
    path = tmp_path / "epoched.h5"
    write_session(path, replace(session, continuous=None, trigger=None, sweeps=sweeps,
                                pre_trigger_ms=20.0))
    assert _doc(path, True) == _doc(path, False)


def _watch_sample_reads(monkeypatch) -> list[tuple[str, int, int]]:
    """Every sample request of :mod:`hreflex.io.lazy`: (dataset, first row, last row)."""
    requests = []
    real = lazy.read_rows

    def spy(dsid, mspace, fspace, flat, mtype):
        (row0, col0), (row1, col1) = fspace.get_select_bounds()
        assert (col0, col1) == (0, flat.shape[1] - 1)  # all channels
        requests.append((h5py.h5i.get_name(dsid).decode(), row0, row1))
        return real(dsid, mspace, fspace, flat, mtype)

    monkeypatch.setattr(lazy, "read_rows", spy)
    return requests


def test_only_the_sweep_windows_are_read(edge_file, monkeypatch):
    reads = []
    real = h5py.Dataset.__getitem__

    def spy(self, key):
        reads.append((self.name, key))
        return real(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    requests = _watch_sample_reads(monkeypatch)
    session = read_session(edge_file, lazy=True)
    assert not any(name in ("/emg/trigger", "/emg/continuous") for name, _ in reads)
    reads.clear()
    analyze_session(session)
    assert reads == []  # no sample through h5py's high-level reads, the trigger never
    n_rows = session.continuous.shape[0]
    start, n = session.read_hash.sweep_start_sample, session.read_hash.sweep_n_samples
    first = session.stimuli["sample_index"].astype(np.int64) + start
    first = first[(first >= 0) & (first + n <= n_rows)]
    assert len(first) == len(session.stimuli) - 2  # two leave the recording
    # one request per window, of exactly its rows, in the table's order
    assert requests == [("/emg/continuous", a, a + n - 1) for a in first.tolist()]
    assert len(first) * n < n_rows  # never the whole recording


def test_each_window_is_one_request_in_the_order_given(tmp_path, monkeypatch):
    """Overlapping windows, windows sharing a chunk, and an order that is not the file's."""
    session = small_session(n_samples=40000)
    stim = session.stimuli.copy()
    stim["sample_index"] = [20000, 1000, 1200]  # chunk 4 | chunk 0, overlapping
    path = tmp_path / "three.h5"
    write_session(path, replace(session, stimuli=stim))
    samples = read_session(path, lazy=True).continuous
    requests = _watch_sample_reads(monkeypatch)
    out = samples.read_windows(stim["sample_index"], -100, 500)
    assert requests == [("/emg/continuous", s - 100, s + 399) for s in stim["sample_index"]]
    assert out.shape == (3, session.n_channels, 500) and out.dtype == session.continuous.dtype
    for k, s in enumerate(stim["sample_index"]):
        assert np.array_equal(out[k], session.continuous[s - 100:s + 400].T)
    expected = hashlib.sha256(b"".join(session.continuous[s - 100:s + 400].tobytes()
                                       for s in stim["sample_index"]))
    digest = hashlib.sha256()  # what the windows add to the hash: their rows, in this order
    samples.digest._digest = digest
    samples.read_windows(stim["sample_index"], -100, 500)
    assert digest.hexdigest() == expected.hexdigest()


def _many_windows(tmp_path, n_windows: int):
    """A file with ``n_windows`` stimuli (some windows overlapping), its session and samples."""
    session = small_session(n_samples=60000)
    stim = np.resize(session.stimuli.copy(), n_windows)
    stim["sample_index"] = np.random.default_rng(3).integers(200, 59000, n_windows)
    path = tmp_path / "many.h5"
    write_session(path, replace(session, stimuli=stim))
    return session, stim, read_session(path, lazy=True).continuous


def test_streamed_windows_are_the_windows_in_order_in_a_few_reused_buffers(tmp_path):
    """stream_windows hands every block of HASH_BLOCK windows once, in order, equal to the
    file's rows, hashed as read_windows hashes them, through RING_BLOCKS buffers only."""
    n_win = lazy.HASH_BLOCK * (lazy.RING_BLOCKS + 2) + 7  # more blocks than buffers
    session, stim, samples = _many_windows(tmp_path, n_win)
    samples.digest._digest = hashlib.sha256()  # the windows' part of the hash only
    whole = samples.read_windows(stim["sample_index"], -100, 500)
    whole_hash = samples.digest._digest.hexdigest()
    samples.digest._digest = hashlib.sha256()
    seen, buffers = [], set()

    def each_block(lo, hi, rows):
        assert rows.shape == (hi - lo, 500, session.n_channels)
        assert np.array_equal(rows.transpose(0, 2, 1), whole[lo:hi])
        seen.append((lo, hi))
        buffers.add(id(rows.base))

    samples.stream_windows(stim["sample_index"], -100, 500, each_block)
    block = lazy.HASH_BLOCK
    assert seen == [(lo, min(lo + block, n_win)) for lo in range(0, n_win, block)]
    assert len(buffers) <= lazy.RING_BLOCKS
    first = stim["sample_index"][0]
    assert np.array_equal(whole[0], session.continuous[first - 100:first + 400].T)
    assert samples.digest._digest.hexdigest() == whole_hash


def test_an_error_in_the_block_work_is_raised_after_the_read_not_a_hang(tmp_path):
    """The block after the first fails: later blocks are only given back (no hang waiting
    for a buffer), and the error comes out of stream_windows."""
    n_win = lazy.HASH_BLOCK * (lazy.RING_BLOCKS + 3)
    _, stim, samples = _many_windows(tmp_path, n_win)
    calls = []

    def each_block(lo, hi, rows):
        calls.append(lo)
        if lo:
            raise ValueError("scaling failed")

    with pytest.raises(ValueError, match="scaling failed"):
        samples.stream_windows(stim["sample_index"], -100, 500, each_block)
    assert calls == [0, lazy.HASH_BLOCK]


def test_the_block_work_gets_the_lock_back_quickly_and_the_interval_is_restored(tmp_path):
    """While the windows stream, the interpreter lock changes hands every HANDOFF_S at
    most (h5py keeps it through its reads: at Python's 5 ms the block work waited for it
    at every numpy call); afterwards, also after an error, the interval is what it was."""
    _, stim, samples = _many_windows(tmp_path, lazy.HASH_BLOCK + 3)
    before, during = sys.getswitchinterval(), []

    def each_block(lo, hi, rows):
        during.append(sys.getswitchinterval())
        if lo:
            raise ValueError("scaling failed")

    with pytest.raises(ValueError, match="scaling failed"):
        samples.stream_windows(stim["sample_index"], -100, 500, each_block)
    assert len(during) == 2 and max(during) <= HANDOFF_S < before
    assert sys.getswitchinterval() == before


# -- the input hash, by the recipe of docs/FORMAT.md ---------------------------------------

def _text(value) -> bytes:
    return (value.decode() if isinstance(value, bytes) else str(value)).encode() + b"\0"


def recipe_sha256(path: Path, start: int, n: int) -> str:
    """docs/FORMAT.md, "What hreflex analyze reads, and the input hash", step by step."""
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        emg = f["emg"]
        h.update(np.array(emg.attrs["sample_rate_Hz"], "<f8").tobytes())
        h.update(np.array(emg["scale_V_per_count"][()], "<f8").tobytes())
        for name in ("channel_names", "channel_muscles"):
            for value in emg[name][()]:
                h.update(_text(value))
        for name in ("species", "muscle"):
            h.update(_text(f.attrs.get(name, "")))
        for group, name in [("devices/amplifier", "adc_bits"),
                            ("devices/source", "online_highpass_Hz"),
                            ("devices/source", "online_highpass_order")]:
            value = f[group].attrs[name] if group in f and name in f[group].attrs else np.nan
            h.update(np.array(value, "<f8").tobytes())
        for name in ("stimuli/events", "stimuli/blocks", "faults", "emg/recorded_windows"):
            if name in f:
                h.update(f[name][()].tobytes())
        data = emg["continuous"]
        rows = min(len(data), len(emg["trigger"])) if "trigger" in emg else len(data)
        h.update(data.dtype.str.encode() + b"\0")
        h.update(np.array([rows, data.shape[1]], "<u8").tobytes())
        everything = data[:rows]
        for index in f["stimuli/events"]["sample_index"]:
            if 0 <= index + start and index + start + n <= rows:
                h.update(everything[index + start:index + start + n].tobytes())
    return h.hexdigest()


def _analyze(path: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{path.stem}.json"
    run = CliRunner().invoke(cli, ["analyze", str(path), "-o", str(out), "--overwrite"])
    assert run.exit_code == 0, run.output
    return json.loads(out.read_text())["input"]


def test_input_hash_follows_the_documented_recipe(edge_file, tmp_path):
    info = _analyze(edge_file, tmp_path)
    covers = info["sha256_covers"]
    assert covers["recipe"] == "hreflex-read/1" and covers["samples"] == "sweeps"
    start, n = covers["sweep_start_sample"], covers["sweep_n_samples"]
    assert start < 0 < start + n  # the window holds the baseline and the responses
    assert info["sha256"] == recipe_sha256(edge_file, start, n)
    assert info["sha256"] != hashlib.sha256(edge_file.read_bytes()).hexdigest()


def test_one_sample_inside_a_sweep_changes_the_hash_outside_does_not(edge_file, tmp_path):
    info = _analyze(edge_file, tmp_path)
    start, n = info["sha256_covers"]["sweep_start_sample"], info["sha256_covers"]["sweep_n_samples"]
    with h5py.File(edge_file, "r") as f:
        index = f["stimuli/events"]["sample_index"]
        inside, outside = int(index[3]) + start + n // 2, int(index[3]) + start + n
        gaps = np.diff(np.sort(index))
        assert gaps.min() > 2 * n  # so the sample after the window is in no other window
    for row, same in ((inside, False), (outside, True)):
        copy = tmp_path / f"changed_{row}.h5"
        shutil.copyfile(edge_file, copy)
        with h5py.File(copy, "r+") as f:
            f["emg/continuous"][row, 1] = f["emg/continuous"][row, 1] + 1
        assert (_analyze(copy, tmp_path)["sha256"] == info["sha256"]) is same


def test_the_recipe_printed_in_the_docs_gives_the_hash(edge_file, tmp_path):
    doc = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    code = re.search(r"With plain h5py and hashlib.*?```python\n(.*?)```", doc, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # the documentation's own example, as a stranger would run it
    info = _analyze(edge_file, tmp_path)
    covers = info["sha256_covers"]
    assert namespace["input_sha256"](edge_file, covers["sweep_start_sample"],
                                     covers["sweep_n_samples"]) == info["sha256"]


# -- how finished files store EMG (docs/FORMAT.md, "Compression (finished files)") ---------

def _documented_storage() -> dict[str, tuple[str, str]]:
    doc = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    text = doc.split("### Compression (finished files)", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(/emg/\w+)` \| `([\w+-]+)` \| (.*?) \|$", text, re.M)
    return {name: (filt, chunks) for name, filt, chunks in rows}


def _filter_of(ds: h5py.Dataset) -> str:
    if ds.compression is None:
        return "none" if not ds.shuffle else "shuffle"
    level = f"-{ds.compression_opts}" if ds.compression == "gzip" else ""
    return f"{ds.compression}{level}" + ("+shuffle" if ds.shuffle else "")


def test_finished_files_store_emg_as_documented(tmp_path):
    documented = _documented_storage()
    assert set(documented) == {"/emg/continuous", "/emg/sweeps", "/emg/trigger"}
    session = small_session(n_samples=20000, n_channels=3)
    continuous = write_session(tmp_path / "c.h5", replace(
        session, channel_muscles=["a", "b", "c"]))
    sweeps = np.stack([session.continuous[i - 100:i + 400].T
                       for i in session.stimuli["sample_index"]])
    epoched = write_session(tmp_path / "e.h5", replace(
        session, continuous=None, trigger=None, sweeps=sweeps, pre_trigger_ms=20.0,
        channel_muscles=["a", "b", "c"]))
    with h5py.File(continuous) as f, h5py.File(epoched) as g:
        for name, ds in (("/emg/continuous", f["emg/continuous"]),
                         ("/emg/trigger", f["emg/trigger"]), ("/emg/sweeps", g["emg/sweeps"])):
            filt, chunks = documented[name]
            assert _filter_of(ds) == filt, name
            rows = re.match(r"`(\d+)` rows", chunks)
            if rows:  # documented rows x (all channels)
                assert ds.chunks == (int(rows.group(1)), *ds.shape[1:]), name
            else:
                assert ds.chunks is not None and "automatic" in chunks, name


def test_a_damaged_sample_chunk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    """A gzip-compressed file (as another tool may write) with a damaged chunk."""
    monkeypatch.setattr(writer, "FINISHED_FILTER", {"compression": "gzip"})
    path = write_session(tmp_path / "damaged.h5", small_session(n_samples=40000))
    with h5py.File(path, "r") as f:  # where chunk 0 of /emg/continuous lies in the file
        info = f["emg/continuous"].id.get_chunk_info(0)
    with open(path, "r+b") as raw:  # the sweeps read it; validation does not
        raw.seek(info.byte_offset)
        raw.write(b"\xff" * min(64, info.size))
    session_ok = read_session(path, lazy=True)  # metadata intact: reads fine
    run = CliRunner().invoke(cli, ["analyze", str(path), "-o", str(tmp_path / "out.json")])
    assert run.exit_code != 0 and "Traceback" not in run.output
    assert str(path) in run.output and session_ok.continuous.shape == (40000, 2)
