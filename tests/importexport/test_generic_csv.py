"""Generic sweep CSV import: wide and long layouts, intensities from a row, a column, a sidecar
file or a constant; errors."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.generic_csv import read_csv

# 3 sweeps x 4 samples, values in mV, sampled at 1 kHz with the stimulus at sample 1
VALUES_mV = np.array([[0.5, 1.0, -2.0, 0.25], [1.5, 2.0, -4.0, 0.75], [0.0, 3.0, -6.0, 1.0]])
TIME_MS = [-1.0, 0.0, 1.0, 2.0]


def wide(path, *, header="intensity_mA,5,10,12.5\n", time=True, comments=""):
    rows = "".join(
        (f"{t:g}" if time else "") + "," + ",".join(f"{v:g}" for v in VALUES_mV[:, k]) + "\n"
        for k, t in enumerate(TIME_MS)
    )
    path.write_text(comments + header + rows, encoding="utf-8")
    return path


def test_wide_with_time_column_and_intensity_row(tmp_path):
    s = read_csv(wide(tmp_path / "w.csv"), units="mV")
    assert s.sweeps.shape == (3, 1, 4)
    np.testing.assert_allclose(s.sweeps[:, 0], VALUES_mV * 1e-3, rtol=1e-7)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [5, 10, 12.5])
    assert s.sample_rate_Hz == 1000.0 and s.pre_trigger_ms == 1.0  # from the time column
    assert s.devices["source"]["layout"] == "wide"


def test_wide_without_time_uses_options_and_comments(tmp_path):
    path = wide(tmp_path / "w.csv", time=False)
    with pytest.raises(ConfigError, match="give --sample-rate"):
        read_csv(path)
    s = read_csv(path, sample_rate=2000, pre_ms=0.5)
    assert (s.sample_rate_Hz, s.pre_trigger_ms) == (2000.0, 0.5)
    np.testing.assert_allclose(s.sweeps[:, 0], VALUES_mV, rtol=1e-7)  # default units: V
    commented = wide(
        tmp_path / "c.csv",
        time=False,
        comments="# sample_rate_Hz: 4000\n# pre_trigger_ms: 0.25\n# units: uV\n# subject_id: S7\n",
    )
    s = read_csv(commented)
    assert (s.sample_rate_Hz, s.pre_trigger_ms, s.meta.subject_id) == (4000.0, 0.25, "S7")
    np.testing.assert_allclose(s.sweeps[:, 0], VALUES_mV * 1e-6, rtol=1e-7)


@pytest.mark.parametrize(("delimiter", "decimal"), [(";", ","), ("\t", ","), ("\t", ".")])
def test_semicolon_or_tab_separated_with_decimal_commas(tmp_path, delimiter, decimal):
    """A spreadsheet where the decimal mark is a comma exports ``;`` (or tab) between cells
    and ``-2,5`` for -2.5: the same sweeps as the comma-separated file."""
    text = wide(tmp_path / "w.csv", comments="# units: mV\n# subject_id: S7, left\n",
                header="intensity_mA,5,10,12.5\nlabel,a;b,c,d\n").read_text()
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            body.append(line)
            continue
        cells = line.split(",") if not line.startswith("label") else ["label", "a;b", "c", "d"]
        body.append(delimiter.join(
            f'"{c}"' if delimiter in c else c.replace(".", decimal) for c in cells))
    (tmp_path / "x.csv").write_text("\n".join(body) + "\n", encoding="utf-8")
    s = read_csv(tmp_path / "x.csv")
    np.testing.assert_allclose(s.sweeps[:, 0], VALUES_mV * 1e-3, rtol=1e-7)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [5, 10, 12.5])
    assert (s.sample_rate_Hz, s.pre_trigger_ms, s.meta.subject_id) == (1000.0, 1.0, "S7, left")
    assert s.devices["source"]["delimiter"] == ("tab" if delimiter == "\t" else "semicolon")


def test_intensities_from_sidecar_constant_or_named_row(tmp_path):
    path = wide(tmp_path / "w.csv", header="sweep,first,second,third\n")
    (tmp_path / "i.txt").write_text("intensity_mA\n3\n4\n5.5\n")
    s = read_csv(path, intensity_file=tmp_path / "i.txt")
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [3, 4, 5.5])
    assert read_csv(path, intensity="7.25").stimuli["intensity_mA"].tolist() == [7.25] * 3
    named = wide(tmp_path / "n.csv", header="current,1,2,3\n")
    assert read_csv(named, intensity="current").stimuli["intensity_mA"].tolist() == [1, 2, 3]
    (tmp_path / "short.txt").write_text("1 2")
    with pytest.raises(FileFormatError, match="intensity has 2 values, expected 3"):
        read_csv(path, intensity_file=tmp_path / "short.txt")


def test_wide_channels_and_sweep_rows(tmp_path):
    path = tmp_path / "ch.csv"
    path.write_text(
        "sweep,1,1,0,0\nchannel,SOL,MG,SOL,MG\nmuscle,soleus,gastroc,soleus,gastroc\n"
        "intensity_mA,20,20,10,10\n-0.5,1,2,3,4\n0,5,6,7,8\n"
    )
    s = read_csv(path, units="mV")
    assert s.channel_names == ["SOL", "MG"] and s.channel_muscles == ["soleus", "gastroc"]
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [10, 20])  # sweeps in id order
    np.testing.assert_allclose(s.sweeps * 1e3, [[[3, 7], [4, 8]], [[1, 5], [2, 6]]], rtol=1e-6)
    assert s.sample_rate_Hz == 2000.0 and s.pre_trigger_ms == 0.5


def test_long_layout_rows_in_any_order(tmp_path):
    rows = ["channel,sweep,time_ms,value,intensity_mA"]
    for sweep in (1, 0):
        for k in (3, 1, 0, 2):
            for ch, scale in (("B", 10), ("A", 1)):
                rows.append(
                    f"{ch},{sweep},{TIME_MS[k]},{scale * VALUES_mV[sweep, k]},{5 * sweep + 5}"
                )
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    s = read_csv(path, units="mV")
    assert s.channel_names == ["B", "A"] and s.devices["source"]["layout"] == "long"
    np.testing.assert_allclose(s.sweeps[:, 1] * 1e3, VALUES_mV[:2], rtol=1e-6)
    np.testing.assert_allclose(s.sweeps[:, 0] * 1e3, 10 * VALUES_mV[:2], rtol=1e-6)
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [5, 10])
    assert (s.sample_rate_Hz, s.pre_trigger_ms) == (1000.0, 1.0)
    path.write_text("\n".join(rows[:-1]) + "\n")  # one sample missing
    with pytest.raises(FileFormatError, match="same number of rows"):
        read_csv(path)


def test_errors(tmp_path):
    path = wide(tmp_path / "w.csv", header="sweep,0,1,2\n")
    with pytest.raises(
        FileFormatError, match=r"w\.csv: no intensities: no header row / column 'intensity_mA'"
    ):
        read_csv(path)
    with pytest.raises(ConfigError, match=r"w\.csv: --units 'volts' is not a unit"):
        read_csv(path, intensity="1", units="volts")
    bad = wide(tmp_path / "b.csv", header="intensity_mA,5,ten,12\n")
    with pytest.raises(
        FileFormatError, match=r"b\.csv: row/column 'intensity_mA': 'ten' is not a number"
    ):
        read_csv(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("sweep,0,0\nintensity_mA,1,1\n0,1,2\n")
    with pytest.raises(FileFormatError, match="sweep 0 has 2 columns for channel 'ch0'"):
        read_csv(dup)
    neg = wide(tmp_path / "neg.csv", header="intensity_mA,5,-1,12\n")
    with pytest.raises(
        FileFormatError, match="intensity of stimulus 1 is -1; expected a finite number of mA >= 0"
    ):
        read_csv(neg)
