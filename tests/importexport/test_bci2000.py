"""BCI2000 .dat import on files written by the tests (EPOCS-style: EMG + trigger)."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers import import_file
from hreflex.io.importers.bci2000 import read_bci2000
from hreflex.io.importers.detect import detect_format
from tests.importexport.helpers import write_bci2000

N = 2000
ONSETS = np.array([250, 900, 1500])


def states() -> dict[str, tuple[int, np.ndarray]]:
    """Running (bit 0), StimulusCurrent (5 bits, 1-5), Counter (12 bits, 6-17: spans three
    bytes) and StimTrigger (bit 18), packed by the writer from bit 0."""
    trig = np.zeros(N, np.int64)
    current = np.zeros(N, np.int64)
    for k, amps in zip(ONSETS, (7, 19, 31), strict=True):
        trig[k : k + 20] = 1
        current[k - 5 : k + 40] = amps
    return {
        "Running": (1, np.ones(N, np.int64)),
        "StimulusCurrent": (5, current),
        "Counter": (12, np.arange(N) % 4096),
        "StimTrigger": (1, trig),
    }


def raw_counts() -> np.ndarray:
    k = np.arange(N)
    return np.column_stack([(1000 * np.sin(k / 9.0)).astype(np.int16), (k % 500 - 250)]).astype(
        np.int16
    )


def test_int16_with_gain_offset_and_trigger_state(tmp_path):
    raw = raw_counts()
    path = write_bci2000(
        tmp_path / "r.dat",
        raw,
        states(),
        gains=["0.5muV", "2"],
        offsets=["10", "-3"],
        names=["SOL", "TA"],
    )
    assert detect_format(path) == "bci2000"
    s = import_file(path, intensity="StimulusCurrent", pulse_width_us=1000)
    assert s.channel_names == ["SOL", "TA"] and s.sample_rate_Hz == 2000.0
    expected = (raw - np.array([10, -3])) * np.array([0.5, 2.0]) * 1e-6  # (raw - offset) * gain µV
    np.testing.assert_allclose(s.continuous, expected, rtol=1e-6)
    np.testing.assert_array_equal(s.stimuli["sample_index"], ONSETS)  # trigger found by name
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [7, 19, 31])
    assert (s.stimuli["pulse_width_us"] == 1000).all()
    assert s.trigger.sum() == 60 and s.devices["source"]["trigger"] == "StimTrigger"


def test_float32_and_trigger_channel(tmp_path):
    raw = raw_counts().astype(np.float32)
    raw[:, 1] = 0.0
    for k in ONSETS:
        raw[k : k + 5, 1] = 3000.0  # the TRIG channel, as EPOCS records it
    st = states()
    del st["StimTrigger"]
    path = write_bci2000(
        tmp_path / "f.dat", raw, st, data_format="float32", rate="4kHz", names=["EMG1", "TRIG"]
    )
    s = read_bci2000(path, intensity="12.5")
    assert s.channel_names == ["EMG1"] and s.sample_rate_Hz == 4000.0
    np.testing.assert_allclose(s.continuous[:, 0], raw[:, 0] * 1e-6, rtol=1e-6)
    np.testing.assert_array_equal(s.stimuli["sample_index"], ONSETS)
    assert s.stimuli["intensity_mA"].tolist() == [12.5] * 3


def test_errors(tmp_path):
    st = states()
    st["OtherTrigger"] = st["StimTrigger"]
    path = write_bci2000(tmp_path / "e.dat", raw_counts(), st)
    with pytest.raises(
        ConfigError, match=r"e\.dat: give --trigger .*states: Running, StimulusCurrent"
    ):
        read_bci2000(path, intensity="1")
    with pytest.raises(FileFormatError, match="trigger 'Nope' is neither a state"):
        read_bci2000(path, trigger="Nope", intensity="1")
    with pytest.raises(FileFormatError, match="--intensity 'Amps' is neither a number nor a state"):
        read_bci2000(path, trigger="StimTrigger", intensity="Amps")
    with pytest.raises(ConfigError, match="--units does not apply to bci2000 imports"):
        import_file(path, trigger="StimTrigger", intensity="1", units="mV")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(path.read_bytes().replace(b"SourceChGain=", b"SourceChGrain="))
    with pytest.raises(FileFormatError, match="parameter SourceChGain is missing"):
        read_bci2000(bad, trigger="StimTrigger", intensity="1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_samples_and_state_changes_as_neo(tmp_path):
    """Cross-check with neo's independent BCI2000 reader (integer gains: neo parses no
    decimal gains)."""
    neo_rawio = pytest.importorskip("neo.rawio.bci2000rawio")
    raw = raw_counts()
    path = write_bci2000(tmp_path / "n.dat", raw, states(), gains=["1", "3"], names=["A", "B"])
    reader = neo_rawio.BCI2000RawIO(filename=str(path))
    reader.parse_header()
    theirs = reader.get_analogsignal_chunk(0, 0, stream_index=0)
    np.testing.assert_array_equal(theirs, raw)
    names = list(reader.header["event_channels"]["name"])
    times, _, values = reader.get_event_timestamps(0, 0, names.index("StimTrigger"))
    rises = times[values == "1"]
    s = read_bci2000(path, intensity="1")
    np.testing.assert_array_equal(s.stimuli["sample_index"], rises)
    np.testing.assert_allclose(s.continuous, raw * np.array([1.0, 3.0]) * 1e-6, rtol=1e-6)
