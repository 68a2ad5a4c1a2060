"""BCI2000 header parsing against the file format reference: parameter lines of every type,
URL-encoded values, physical units, channel references."""

from __future__ import annotations

from pathlib import Path

import pytest

from hreflex.errors import FileFormatError
from hreflex.io.importers.bci2000_header import Header, channel_index, parse_param


def test_scalar_string_and_url_encoding():
    p = parse_param("Storage:Session:DataIOFilter string SubjectName= rat%2007 Name % % // alias")
    assert (p.name, p.kind, p.value) == ("SubjectName", "string", "rat 07")
    assert parse_param("Storage string ID_Amp= % // empty").value == ""
    # "//" inside a value is not a comment; only a separate "//" token is
    p = parse_param("Connector string SharedMemoryOutput= file://epocs.mmap // URL")
    assert p.value == "file://epocs.mmap"
    assert parse_param("Source int SourceCh=3 8 1 16").value == "3"  # no space after '='
    assert parse_param("[ Parameter Definition ]") is None


def test_lists_plain_and_labelled():
    p = parse_param("Trigger:Epoch:TrapFilter stringlist ChannelsToTrap= 2 EMG1 EMG2 2 % % // c")
    assert p.values == ["EMG1", "EMG2"] and p.rows == 2
    p = parse_param("Source list SourceChGain= { a b c } 0.1muV 2 3 % % % // labelled")
    assert p.values == ["0.1muV", "2", "3"] and p.row_labels == ["a", "b", "c"]
    assert parse_param("Source floatlist SourceChTimeOffset= 0 0 % % // empty").values == []


def test_matrices_with_numbers_labels_and_nested_values():
    p = parse_param(
        "Responses matrix ResponseDefinition= 2 { Input%20Channel Start End Subtract%20Mean? "
        "Norm Weight Response%20Name } EMG1 14ms 30ms no 1 1.0 EMG1 EMG1 3.5ms 13ms no 1 1.0 "
        "EMG1a // define"
    )
    assert (p.rows, p.cols) == (2, 7)
    assert p.matrix()[1] == ["EMG1", "3.5ms", "13ms", "no", "1", "1.0", "EMG1a"]
    assert p.column("Response Name", 0) == 6 and p.column("subtract mean?", 0) == 3
    p = parse_param(
        "System matrix Version= { Framework Revision } 1 3.05 N/A,%20N/A // labelled rows"
    )
    assert p.row_labels == ["Framework", "Revision"] and p.values == ["3.05", "N/A, N/A"]
    p = parse_param("X matrix M= 1 2 { list 2 a b } z // a nested list in a cell")
    assert p.matrix() == [["list 2 a b", "z"]]
    assert parse_param("Vis matrix VisPropertySets= 0 1 // none").values == []
    with pytest.raises((ValueError, IndexError)):
        parse_param("X matrix Short= 2 2 a b c")  # 4 cells needed


def header() -> Header:
    return Header(source=Path("h.dat"), length=0, first={}, states={}, params={})


@pytest.mark.parametrize(
    ("text", "unit", "bare", "power", "expected"),
    [
        ("14ms", "s", None, -3, 14.0),
        ("3.5ms", "s", None, -3, 3.5),
        ("0.5ms", "s", None, -6, 500.0),
        ("2s", "s", None, -3, 2000.0),
        ("3", "s", 40.0, -3, 120.0),  # no unit: sample blocks (here 40 ms each)
        ("1.0V", "V", 1.0, 0, 1.0),
        ("2500mV", "V", 1.0, 0, 2.5),
        ("0.1muV", "V", 1.0, -6, 0.1),
        ("0.1uV", "V", 1.0, -6, 0.1),
        ("0.1µV", "V", 1.0, -6, 0.1),
        ("162.07", "V", 1.0, -6, 162.07),  # a gain without unit is µV
        ("4.8kHz", "Hz", 1.0, 0, 4800.0),
        ("3200", "Hz", 1.0, 0, 3200.0),
        ("-52ms", "s", None, -3, -52.0),
    ],
)
def test_physical_units(text, unit, bare, power, expected):
    assert header().physical("P", text, unit, bare, power) == expected


@pytest.mark.parametrize(
    ("text", "unit", "bare"),
    [("14", "s", None), ("3Hz", "s", 1.0), ("fast", "Hz", 1.0), ("1xV", "V", 1.0)],
)
def test_physical_unit_errors_name_the_parameter(text, unit, bare):
    with pytest.raises(FileFormatError, match=f"h.dat: parameter P value '{text}' is not"):
        header().physical("P", text, unit, bare)


def test_channel_references_as_bci2000_resolves_them():
    labels = ["EMG1", "EMG2", "TRIG"]
    assert channel_index("TRIG", labels) == 2
    assert channel_index("trig", labels) == 2  # one label equal ignoring case
    assert channel_index("3", labels) == 2  # 1-based number
    assert channel_index("4", labels) is None and channel_index("0", labels) is None
    assert channel_index("EMG3", labels) is None
