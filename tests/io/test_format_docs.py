"""docs/FORMAT.md is the files: everything the writers write (groups, datasets, attributes and
their units, the /devices attributes of a recording, table fields and dtypes, fault kinds,
end states, sync methods) is documented there, and everything documented is written.

The files are made the way the program makes them: a recording through the acquisition
layout (device descriptions from IDENTITY frames), an epoched file, and analysis results
stored into a recording; the documentation is parsed from its tables and lists."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from hreflex.acquisition import sync
from hreflex.acquisition.faults import FAULT_KINDS, GAP_CAUSES, fault_rows
from hreflex.acquisition.layout import SessionLayout, device_attrs
from hreflex.io import endstate
from hreflex.io.format import ANNOTATION_DTYPE, STIMULUS_DTYPE, empty_table
from hreflex.io.session import SessionMeta
from hreflex.io.writer import SessionWriter, store_analysis
from hreflex.protocol import DeviceKind, Identity
from hreflex.species import SPECIES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
SOURCES = ROOT / "src" / "hreflex" / "acquisition"


# -- the documentation ---------------------------------------------------------------------

def section(heading: str) -> str:
    """The text under the first heading that starts with ``heading``, up to the next heading
    of the same or a higher level."""
    lines = DOC.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith(heading))
    level = len(heading) - len(heading.lstrip("#"))
    end = next((i for i in range(start + 1, len(lines))
                if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start + 1:end])


def tables(text: str) -> list[list[list[str]]]:
    """Markdown tables in ``text``: rows of cells, without the header and separator rows."""
    out, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            out.append(rows[2:])
            rows = []
    return out


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def layout_paths() -> dict[str, str]:
    """Path (``<role>`` kept) -> its line, from the code block of the Layout section."""
    block = section("## Layout").split("```")[1]
    return {line.split()[0].rstrip("/") or "/": line
            for line in block.splitlines() if line.startswith("/")}


DTYPES = {"int64": "<i8", "int32": "<i4", "float64": "<f8", "float32": "<f4"}


# -- the files -----------------------------------------------------------------------------

AMP = Identity(DeviceKind.AMPLIFIER, "ADS-16", "A0042", (2, 1, 3), n_channels=2,
               sample_rate_Hz=5000, adc_bits=16, gain=1000.0, highpass_Hz=10.0,
               lowpass_Hz=2000.0, scale_V_per_count=(1.2e-7,))
STIM = Identity(DeviceKind.STIMULATOR, "DS8R-ctl", "S0007", (1, 4, 0),
                max_intensity_uA=50_500, max_pulse_width_us=2000, max_rate_mHz=20_250)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("docs")
    layout = SessionLayout(
        SessionMeta(subject_id="S1", session_id="2", muscle="soleus"), 5000.0,
        ("SOL", "MG"), (1.2e-7, 1.2e-7), ("soleus", "gastrocnemius"),
        ((0, "recruitment", "rc"), (1, "rdd", "rdd")), "[limits]\n",
        {"amplifier": device_attrs(AMP, "/dev/ttyACM0"),
         "stimulator": device_attrs(STIM, "USB vid=0x16C0 pid=0x0483 serial=S0007")})
    rec = d / "recorded.h5"
    w = layout.create_writer(rec)
    w.append_samples(np.zeros((100, 2), np.int16), np.zeros(100, np.uint8))
    w.append_stimuli(empty_table(STIMULUS_DTYPE, 2))
    w.append_faults(fault_rows("gap", 10, 5, "samples 10-14 not received"))
    w.close(endstate.stopped("interrupted (SIGTERM)"))
    stored = d / "stored.h5"
    shutil.copy(rec, stored)
    note = empty_table(ANNOTATION_DTYPE, 1)
    note[0] = (0, -1, b"background EMG", b"auto-qc")
    store_analysis(stored, {"x": 1}, note)
    epoched = d / "epoched.h5"
    with SessionWriter(epoched, meta=SessionMeta(), sample_rate_Hz=2000.0,
                       channel_names=["a"], scale_V_per_count=[1.0], sample_dtype=np.float32,
                       sweeps=np.zeros((2, 1, 40), np.float32), pre_trigger_ms=5.0) as e:
        e.append_stimuli(empty_table(STIMULUS_DTYPE, 2))
    return {"recorded": rec, "stored": stored, "epoched": epoched}


def walk(path: Path) -> dict[str, tuple[h5py.HLObject, dict]]:
    """Every object of a file: path -> (object kind, attributes)."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = ("group", dict(f.attrs))
        f.visititems(lambda name, obj: out.__setitem__(
            "/" + name, ("dataset" if isinstance(obj, h5py.Dataset) else "group",
                         dict(obj.attrs))))
    return out


def everything(files) -> dict[str, tuple[str, dict]]:
    merged: dict[str, tuple[str, dict]] = {}
    for path in files.values():
        for name, (kind, attrs) in walk(path).items():
            old = merged.get(name, (kind, {}))[1]
            merged[name] = (kind, {**old, **attrs})
    return merged


def _documented(name: str, paths: dict[str, str]) -> str | None:
    generic = re.sub(r"^/devices/[^/]+", "/devices/<role>", name)
    return generic if generic in paths else None


# -- the checks ----------------------------------------------------------------------------

def test_every_written_object_is_in_the_layout_and_every_documented_one_is_written(files):
    paths = layout_paths()
    written = everything(files)
    for name, (kind, attrs) in written.items():
        if kind == "dataset" or attrs:  # groups are documented through what they hold
            assert _documented(name, paths), f"{name} is written but not in FORMAT.md"
    found = {_documented(n, paths) for n in written}
    missing = [p for p in paths if p not in found]
    assert all("optional" in paths[p] for p in missing), f"documented, never written: {missing}"
    assert {n for n in written if n.startswith("/devices")} == {
        "/devices", "/devices/amplifier", "/devices/stimulator"}


def test_root_attributes(files):
    rows = tables(section("### Root attributes"))[0]
    documented = {n for row in rows for n in ticked(row[0])}
    written = walk(files["recorded"])["/"][1]
    assert set(written) == documented
    assert all(isinstance(v, str) for v in written.values())  # "(all strings)"


def test_end_states(files):
    rows = tables(section("### Root attributes"))[1]
    values = {ticked(row[0])[0] for row in rows}
    assert values == {endstate.COMPLETED, endstate.stopped("<reason>"), endstate.RECOVERED}
    assert f"`{endstate.RECORDING}`" in section("### Root attributes")
    assert walk(files["recorded"])["/"][1]["end_state"] == "stopped: interrupted (SIGTERM)"
    assert walk(files["epoched"])["/"][1]["end_state"] == endstate.COMPLETED


def test_species_names_are_the_code_s():
    rows = tables(section("### Species names"))[0]
    documented = {ticked(r[0])[0]: (r[1].strip(), set(ticked(r[2]))) for r in rows}
    assert documented == {name: (latin, set(words) - {name})
                          for name, (latin, words) in SPECIES.items()}


TYPES = {"string": lambda v: isinstance(v, str), "int": lambda v: isinstance(v, np.integer),
         "float64": lambda v: isinstance(v, np.float64)}


def test_device_attributes_names_types_and_units(files):
    rows = tables(section("### `/devices/<role>` attributes"))[0]
    written = walk(files["recorded"])
    for role in ("amplifier", "stimulator"):
        attrs = written[f"/devices/{role}"][1]
        doc = {n: row for row in rows for n in ticked(row[0]) if row[3] in ("both", role)}
        assert set(attrs) == set(doc), role
        for name, value in attrs.items():
            assert TYPES[doc[name][1]](value), (role, name, value)
            unit = doc[name][2]
            if unit not in ("–", "bits", "V/V"):
                assert name.endswith("_" + unit.replace("µ", "u")), (name, unit)
    stim = written["/devices/stimulator"][1]
    # the wire's µA and mHz, converted to the documented mA and Hz
    assert (stim["max_intensity_mA"], stim["max_rate_Hz"]) == (50.5, 20.25)
    assert stim["port"] == "USB vid=0x16C0 pid=0x0483 serial=S0007"
    assert written["/devices/amplifier"][1]["firmware"] == "2.1.3"


def test_emg_attributes_and_units(files):
    text = section("### `/emg`")
    names = set(ticked(text)) | set(re.findall(r"`(\w+) =", text))
    units = set(re.findall(r'units =\s*"([^"]*)"', text))
    written = everything(files)
    seen = set()
    for name, (_, attrs) in written.items():
        if name == "/emg" or name.startswith("/emg/"):
            for key, value in attrs.items():
                seen.add(key)
                assert key in names, f"{name}: attribute {key} not in FORMAT.md /emg"
                if key == "units":
                    assert value in units, f"{name}: units = {value!r} not documented"
    assert set(re.findall(r"attribute `(\w+)`", text)) <= seen


@pytest.mark.parametrize("heading, dataset", [
    ("### STIMULUS table", "stimuli/events"), ("### BLOCK table", "stimuli/blocks"),
    ("### FAULT table", "faults"), ("### ANNOTATION table", "analysis/annotations")])
def test_table_fields_and_dtypes(files, heading, dataset):
    rows = tables(section(heading))[0]
    with h5py.File(files["stored"], "r") as f:
        dtype = f[dataset].dtype
    assert [ticked(r[0])[0] for r in rows] == list(dtype.names)
    for r in rows:
        name, doc = ticked(r[0])[0], r[1]
        assert dtype[name].str.lstrip("|") == DTYPES.get(doc, doc), (name, doc)


def test_fault_kinds_are_documented_exactly():
    rows = tables(section("### FAULT table"))[1]
    doc = {ticked(r[0])[0]: r[1].replace("`", "") for r in rows}
    assert doc == FAULT_KINDS


def test_the_acquisition_code_writes_only_listed_fault_kinds():
    used = set()
    for path in SOURCES.glob("*.py"):
        used |= set(re.findall(r'(?:_fault|fault_rows)\(\s*"([a-z_]+)"', path.read_text()))
    used |= {kind for kind, _ in GAP_CAUSES.values()}
    assert {"gap", "link_loss", "device_loss", "stop", "hangup"} <= used
    assert used <= set(FAULT_KINDS), used - set(FAULT_KINDS)
    with pytest.raises(ValueError, match="unknown fault kind 'crc_error'"):
        fault_rows("crc_error")


def test_sync_methods_are_documented():
    row = next(r for r in tables(section("### STIMULUS table"))[0] if "sync_method" in r[0])
    assert {sync.DEVICE, sync.TRIGGER, sync.TIMESTAMP, sync.MODEL} <= set(ticked(row[3]))
