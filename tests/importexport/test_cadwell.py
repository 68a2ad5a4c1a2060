"""Cadwell Sierra CSV import: files the tests write, and the lab's real exports when present."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hreflex.errors import FileFormatError
from hreflex.io.importers import import_file
from hreflex.io.importers.cadwell import read_cadwell
from tests.importexport.helpers import REAL_DATA, write_cadwell

LABELS = ["Tr 1 : 0 mA : 200 µs", "Tr 2 : 12.5 mA : 200 µs", "Tr 3 : 100 mA : 450 µs"]


def traces(n_samples: int = 640, artifact_at: int = 30) -> np.ndarray:
    """(3, n) µV: a small ramp; stimulated traces get a 5000 µV artifact step at
    ``artifact_at`` decaying over 8 samples and a 2000 µV-p2p wave 40 samples later."""
    k = np.arange(n_samples)
    out = np.tile(0.01 * k, (3, 1)) + np.array([[1.0], [2.0], [3.0]])
    for i, gain in ((1, 0.5), (2, 1.0)):
        tail = k - artifact_at
        out[i] += np.where(tail >= 0, 5000 * gain * np.exp(-np.clip(tail, 0, None) / 2.0), 0)
        bump = (k >= artifact_at + 40) & (k < artifact_at + 60)
        out[i, bump] += 1000 * gain * np.sin(2 * np.pi * (k[bump] - artifact_at - 40) / 20)
    return out


def test_values_labels_rate_and_metadata(tmp_path):
    x = traces()
    s = read_cadwell(write_cadwell(tmp_path / "t.csv", x, LABELS))
    assert s.sweeps.shape == (3, 1, 640) and s.sweeps.dtype == np.float32
    np.testing.assert_allclose(s.sweeps[:, 0], x * 1e-6, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [0, 12.5, 100])
    np.testing.assert_array_equal(s.stimuli["pulse_width_us"], [200, 200, 450])
    assert (s.stimuli["sample_index"] == -1).all() and np.isnan(s.stimuli["time_s"]).all()
    assert s.sample_rate_Hz == 6400.0  # 0.1563 ms/Sample printed for 0.15625
    assert (s.meta.subject_id, s.meta.session_id, s.meta.muscle) == ("s0001abc", "pre", "gastroc")
    assert s.channel_names == ["Left Gastroc"] and "left side" in s.meta.notes
    src = s.devices["source"]
    assert (src["highpass_Hz"], src["lowpass_Hz"], src["sensitivity_uV_per_div"]) == (
        20,
        10000,
        1000,
    )


@pytest.mark.parametrize(
    ("ms_per_sample", "rate"), [("0.0781", 12800.0), ("0.2000", 5000.0), ("0.3", 1000 / 0.3)]
)
def test_rate_from_ms_per_sample(tmp_path, ms_per_sample, rate):
    s = read_cadwell(
        write_cadwell(tmp_path / "t.csv", traces(), LABELS, ms_per_sample=ms_per_sample)
    )
    assert s.sample_rate_Hz == pytest.approx(rate, rel=1e-12)


def test_pre_stimulus_time_from_artifact(tmp_path):
    # artifact steps between samples 29 and 30 (4.53 ms at 6.4 kHz): stimulus at 5 ms (rounded up)
    s = read_cadwell(write_cadwell(tmp_path / "a.csv", traces(artifact_at=30), LABELS))
    assert s.pre_trigger_ms == 5.0
    assert s.devices["source"]["pre_trigger_ms_source"].startswith("detected")
    # a trace that starts inside the artifact starts at the stimulus
    s = read_cadwell(write_cadwell(tmp_path / "b.csv", traces(artifact_at=-2), LABELS))
    assert s.pre_trigger_ms == 0.0
    s = read_cadwell(tmp_path / "b.csv", pre_ms=7.5)
    assert s.pre_trigger_ms == 7.5 and s.devices["source"]["pre_trigger_ms_source"] == "given"


def test_labels_without_pulse_width_and_files_re_saved_as_utf8(tmp_path):
    # the Sierra's "H-Reflex Inc-Dec" tests label traces "Tr 4 : 37 mA" (no pulse width)
    labels = ["Tr 1 : 0 mA", "Tr 2 : 26 mA", "Tr 3 : 37.5 mA : 0.2 ms"]
    x = traces()
    s = read_cadwell(write_cadwell(tmp_path / "inc.csv", x, labels, test_name="H-Reflex Inc-Dec",
                                   item="Right M-max"))
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [0, 26, 37.5])
    assert s.meta.muscle == "" and "right side" in s.meta.notes  # a protocol step, no muscle
    assert np.isnan(s.stimuli["pulse_width_us"][:2]).all()
    assert s.stimuli["pulse_width_us"][2] == 200.0
    # the same export opened and saved again as UTF-8 (µ as C2 B5, or as the Greek mu CE BC)
    latin = write_cadwell(tmp_path / "latin.csv", x, LABELS).read_bytes().decode("latin-1")
    for name, text in (("utf8.csv", latin), ("mu.csv", latin.replace("µ", "μ"))):
        (tmp_path / name).write_bytes(text.encode("utf-8"))
        s = read_cadwell(tmp_path / name)
        np.testing.assert_allclose(s.sweeps[:, 0], x * 1e-6, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(s.stimuli["pulse_width_us"], [200, 200, 450])
        assert s.devices["source"]["sensitivity_uV_per_div"] == 1000


def test_an_export_re_saved_by_a_spreadsheet_reads_like_the_original(tmp_path):
    """Opened and saved again as "Unicode text" (UTF-16 with its byte-order mark, tabs) or
    where the decimal mark is a comma (";" between cells, "0,1563"): the same session, and
    the format is still told from the content."""
    x = traces()
    latin = write_cadwell(tmp_path / "latin.csv", x, LABELS).read_bytes().decode("latin-1")
    rows = [next(csv.reader([ln])) for ln in latin.split("\r\n") if ln]
    tabs = "\r\n".join("\t".join(r) for r in rows)
    semi = "\r\n".join(";".join(c.replace(".", ",") if c[:1] in "-0123456789" else c
                                for c in r) for r in rows)
    assert "0,1563" in semi and "Tr 2 : 12.5 mA" in tabs
    for name, raw in (("unicode.txt", tabs.encode("utf-16")), ("semi.csv", semi.encode())):
        (tmp_path / name).write_bytes(raw)
        s = import_file(tmp_path / name)
        assert s.sample_rate_Hz == 6400.0
        np.testing.assert_allclose(s.sweeps[:, 0], x * 1e-6, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(s.stimuli["intensity_mA"], [0, 12.5, 100])
        np.testing.assert_array_equal(s.stimuli["pulse_width_us"], [200, 200, 450])


def test_a_header_whose_sample_count_lies_for_one_trace_is_refused(tmp_path):
    path = write_cadwell(tmp_path / "lie.csv", traces(), LABELS)
    text = path.read_bytes().decode("latin-1")
    n = traces().shape[1]
    line = next(ln for ln in text.split("\r\n") if ln.startswith("Samples,"))
    path.write_bytes(text.replace(line, f"Samples,{n},{n - 40},{n}").encode("latin-1"))
    with pytest.raises(FileFormatError, match=rf"lie\.csv: header says '{n - 40}' Samples "
                       rf"for trace 2 but {n} data rows follow"):
        read_cadwell(path)


def test_errors_name_file_and_field(tmp_path):
    path = write_cadwell(
        tmp_path / "bad.csv", traces(), [LABELS[0], "Tr 2 : lots mA : 200 µs", LABELS[2]]
    )
    with pytest.raises(
        FileFormatError, match=r"bad\.csv: Trace Label of column 2 is 'Tr 2 : lots mA"
    ):
        read_cadwell(path)
    text = tmp_path / "t.csv"
    write_cadwell(text, traces(), LABELS)
    lines = text.read_bytes().decode("latin-1").split("\r\n")
    lines[20] += "x"  # last cell of the 10th data row becomes "3.090000000x"
    text.write_bytes("\r\n".join(lines).encode("latin-1"))
    with pytest.raises(
        FileFormatError, match=r"t\.csv: line 21, column 4: '3\.09.*x' is not a number"
    ):
        read_cadwell(text)
    no_label = tmp_path / "nolabel.csv"
    no_label.write_bytes(
        b"\r\n".join(
            ln
            for ln in (tmp_path / "bad.csv").read_bytes().split(b"\r\n")
            if not ln.startswith(b"Trace Label")
        )
    )
    with pytest.raises(FileFormatError, match="header row 'Trace Label' is missing"):
        read_cadwell(no_label)
    zero = write_cadwell(tmp_path / "zero.csv", traces()[:1], LABELS[:1])
    with pytest.raises(FileFormatError, match="give the pre-stimulus time with --pre-ms"):
        read_cadwell(zero)


# -- the lab's real exports (../shared/real_data/cadwell), skipped when absent ----------------

needs_real = pytest.mark.skipif(not REAL_DATA.is_dir(), reason="shared real data not present")
SIDE = {"inv": "left", "uninv": "right"}


def p2p_uV(session, start_ms: float, duration_ms: float) -> np.ndarray:
    """Per-sweep peak-to-peak (µV) for start_ms <= t <= start_ms + duration_ms after the stimulus."""
    t = (
        np.arange(session.sweeps.shape[2]) * 1000.0 / session.sample_rate_Hz
        - session.pre_trigger_ms
    )
    window = (t >= start_ms) & (t <= start_ms + duration_ms)
    return np.ptp(session.sweeps[:, 0][:, window], axis=1).astype(np.float64) * 1e6


@needs_real
def test_real_mmax_rows_in_published_windows():
    """Published M-max = largest single-trace p2p in the lab's window (README: 15/16 exact)."""
    rows = list(csv.DictReader((REAL_DATA / "s2718tdvg" / "m_max.csv").open()))
    assert len(rows) == 16
    within, exact = 0, 0
    for r in rows:
        path = (
            REAL_DATA / "s2718tdvg" / r["session"] / f"{SIDE[r['side']]}_{r['muscle'].lower()}.csv"
        )
        s = import_file(path)
        assert s.pre_trigger_ms == 10.0  # README: traces start 10 ms before the stimulus
        assert s.sample_rate_Hz == 6400.0
        amp = p2p_uV(s, float(r["mep_latency_ms"]), float(r["mep_dur_ms"]))
        best = int(np.argmax(amp))
        published = float(r["mep_ampl_uv"])
        within += abs(amp[best] / published - 1) <= 0.03
        exact += abs(amp[best] - published) < 1.0
        if exact == within and abs(amp[best] - published) < 1.0:  # the trace it came from
            assert s.stimuli["intensity_mA"][best] == float(r["pp_stim_ampl_ma"])
    assert within >= 15 and exact >= 15


@needs_real
def test_real_hmax_top3_and_mmax_flexors():
    base = REAL_DATA / "s2802mytb" / "week5"
    dec = import_file(base / "right_flexors_dec.csv")
    assert dec.pre_trigger_ms == 0.0 and dec.sample_rate_Hz == 12800.0  # README: start at stimulus
    top3 = np.sort(p2p_uV(dec, 21.7, 13.9))[::-1][:3]
    np.testing.assert_allclose(top3, [14183.807373047, 12638.854980469, 12371.826171875], rtol=1e-6)
    inc = import_file(base / "right_flexors_inc.csv")
    assert p2p_uV(inc, 4.6, 16.9).max() == pytest.approx(28935, abs=1)
    assert inc.meta.subject_id == "s2802mytb" and inc.meta.session_id == "week5"
