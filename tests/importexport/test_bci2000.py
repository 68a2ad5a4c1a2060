"""BCI2000 .dat import on files written by the tests (helpers.write_bci2000 follows the BCI2000
file format reference, not the importer): EPOCS-like and plain BCI2000 headers, the three
data formats, 1.0 and 1.1 headers, no-option imports and one-line errors for what is missing
or lies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.format import decode_str
from hreflex.io.importers import import_file
from hreflex.io.importers.bci2000 import read_bci2000
from hreflex.io.importers.detect import detect_format
from hreflex.io.importers.origins import SourceWarning
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


def run(*args):
    result = CliRunner().invoke(cli, ["import", *map(str, args)])
    return result.exit_code, result.output


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
    assert len(s.recorded_windows) == 0  # not an EPOCS file


# -- an EPOCS-like file with another trigger channel name, int32 and index references --------

RATE = 4000
STIM_ONSETS = np.array([400, 2100, 3900])


def epocs_like(tmp_path, *, data_format="int32", extra=(), current=True, version="1.1"):
    """SOL, MG and a trigger copy named STIM (1 mV/count). Pulses of 4 V at STIM_ONSETS, a
    bounce 30 samples after the first (inside LookForward), and a 2.2 V pulse at 3000 that
    stays under TriggerThreshold= 2500mV (but above half-way, 2 V)."""
    n = 6000
    k = np.arange(n)
    raw = np.zeros((n, 3))
    raw[:, 0] = np.round(3000 * np.sin(k / 7.0))
    raw[:, 1] = np.round(2000 * np.cos(k / 5.0)) + 17
    for t in STIM_ONSETS:
        raw[t : t + 8, 2] = 4000
    raw[STIM_ONSETS[0] + 30 : STIM_ONSETS[0] + 33, 2] = 4000
    raw[3000:3008, 2] = 2200
    amplitude = np.zeros(n, np.int64)
    for t, uA in zip(STIM_ONSETS, (7500, 12250, 31000), strict=True):
        amplitude[t - 40 : t + 600] = uA
    st = {"Running": (1, np.ones(n, np.int64)), "EnableTrigger": (1, np.isin(k, STIM_ONSETS - 9))}
    if current:
        st["CurrentAmplitude"] = (16, amplitude)
    params = [
        "Source:NIADC int SampleBlockSize= 40 16 2 2048 // samples per block (10 ms)",
        "Trigger:Trigger%20Detection:TrapFilter string TriggerChannel= STIM 3 % % // trigger",
        "Trigger:Trigger%20Detection:TrapFilter float TriggerThreshold= 2500mV 1.0V 0 % // level",
        "Trigger:Epoch:TrapFilter stringlist ChannelsToTrap= 2 SOL MG 2 % % // trapped",
        "Trigger:Epoch:TrapFilter float LookForward= 50ms 150ms 1 % // after",
        "Filtering:NIDAQFilterAO float PulseWidth= 1ms 0.5ms % % // pulse width",
        "Storage:Session:DataIOFilter string SubjectName= rat%2007 Name % % // alias",
        "Storage:Session:DataIOFilter string SubjectSession= 003 001 % % // session",
        "Storage:Session:DataIOFilter string SubjectRun= 12 00 % % // run",
        "Storage string DataFile= file://x%20y.dat // a value holding //",
        "Responses:RangeIntegrator matrix ResponseDefinition= 3 { Input%20Channel Start End "
        "Subtract%20Mean? Norm Weight Response%20Name } 1 7ms 12ms no 1 1.0 SOLH "
        "MG 1 2 yes 1 0.5 MGM 2 -20ms -5ms no 1 1.0 BG // windows (2nd row in blocks)",
        "Responses:RangeIntegrator matrix ResponseAssessment= 1 { Response%20Name "
        "Min%20Amplitude Max%20Amplitude Feedback%20Weight } SOLH 10mV % 1 // H",
        "Responses:RangeIntegrator matrix ReferenceAssessment= 1 { Response%20Name "
        "Feedback%20Weight } MGM 1 // M",
        "Responses:RangeIntegrator int AnalysisType= 0 0 0 1 // 0 mean rectified, 1 p2p",
        *extra,
    ]
    path = write_bci2000(
        tmp_path / "epocs.dat",
        raw.astype(np.float32 if data_format == "float32" else np.int32),
        st,
        rate=f"{RATE}Hz" if version else str(RATE),
        gains=["0.1muV", "0.1uV", "1000"],
        offsets=["0", "17", "0"],
        names=["SOL", "MG", "STIM"],
        data_format=data_format,
        extra_params=params,
        version=version,
    )
    return path, raw


@pytest.mark.parametrize("data_format", ["int32", "float32"])
def test_epocs_like_file_imports_with_no_options(tmp_path, data_format):
    path, raw = epocs_like(tmp_path, data_format=data_format)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = import_file(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, SourceWarning)]
    assert any("1 edge(s) of STIM within LookForward= 50ms" in m for m in messages), messages
    assert any("row 3 (BG)" in m and "neither or both" in m for m in messages), messages
    np.testing.assert_array_equal(s.stimuli["sample_index"], STIM_ONSETS)
    np.testing.assert_allclose(s.stimuli["intensity_mA"], [7.5, 12.25, 31.0])  # µA / 1000
    assert (s.stimuli["pulse_width_us"] == 1000).all()
    assert s.channel_names == ["SOL", "MG"]  # STIM is the trigger
    np.testing.assert_allclose(s.continuous[:, 1], (raw[:, 1] - 17) * 0.1e-6, rtol=1e-6)
    assert (s.meta.subject_id, s.meta.session_id) == ("rat 07", "003")
    assert s.devices["source"]["run"] == "12" and s.devices["source"]["trigger"] == "STIM"
    w = s.recorded_windows
    assert w["channel"].tolist() == [0, 1]  # "1" = SOL, "MG"
    assert [decode_str(x) for x in w["wave"]] == ["h", "m"]
    np.testing.assert_array_equal(w["start_ms"], [7, 10])  # 1 block = 40 samples = 10 ms
    # stored as EPOCS's last measured sample: round(5 ms x 4 kHz) = 20 samples from 7 ms ->
    # 11.75 ms; 40 samples from 10 ms -> 19.75 ms
    np.testing.assert_array_equal(w["stop_ms"], [11.75, 19.75])
    assert [decode_str(x) for x in w["measure"]] == ["mean_rect", "mean_rect"]  # AnalysisType 0
    assert decode_str(w["source"][1]) == (
        "EPOCS ResponseDefinition MGM, mean subtracted, weight 0.5"
    )


def test_1_0_header_with_the_trigger_among_the_trapped_channels(tmp_path):
    """Early EPOCS GUIs listed TRIG in ChannelsToTrap; a 1.0 header has no DataFormat."""
    path, raw = epocs_like(
        tmp_path,
        data_format="int16",
        version=None,
        extra=["Trigger:Epoch:TrapFilter stringlist ChannelsToTrap= 3 SOL MG STIM // again"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SourceWarning)
        s = import_file(path)
    assert s.channel_names == ["SOL", "MG"]
    assert s.devices["source"]["version"] == "1.0"
    np.testing.assert_allclose(s.continuous[:, 0], raw[:, 0] * 0.1e-6, rtol=1e-6)


def test_no_current_state_names_the_missing_option(tmp_path):
    path, _ = epocs_like(tmp_path, data_format="float32", current=False)
    code, out = run(path, "-o", tmp_path / "o.h5")
    assert code == 1 and out.count("\n") == 1 and "Traceback" not in out, out
    assert "epocs.dat" in out and "no CurrentAmplitude state" in out and "give --intensity" in out
    assert not (tmp_path / "o.h5").exists()
    code, out = run(path, "-o", tmp_path / "o.h5", "--intensity", "3.5")
    assert code == 0, out
    assert "3.5 mA  (option: --intensity (read as mA))" in out


def test_enable_trigger_state_when_there_is_no_trap_filter(tmp_path):
    """Without TrapFilter parameters the stimuli are where EnableTrigger turns on."""
    n, k = 3000, np.arange(3000)
    enable = np.isin(k // 10, [50, 150, 250])  # on for one 10-sample block each
    raw = np.round(500 * np.sin(k / 3.0))[:, None].astype(np.float32)
    path = write_bci2000(
        tmp_path / "plain.dat",
        raw,
        {"EnableTrigger": (1, enable), "Running": (1, np.ones(n))},
        data_format="float32",
        names=["EMG"],
    )
    s = import_file(path, intensity="9")
    np.testing.assert_array_equal(s.stimuli["sample_index"], [500, 1500, 2500])
    assert s.stimuli["intensity_mA"].tolist() == [9.0] * 3
    assert s.channel_names == ["EMG"] and np.isnan(s.stimuli["pulse_width_us"]).all()


def test_a_current_of_zero_everywhere_is_a_warning(tmp_path):
    n, k = 1200, np.arange(1200)
    trig = np.where(np.isin(k // 4, [50, 200]), 5000, 0)
    path = write_bci2000(
        tmp_path / "z.dat",
        np.column_stack([np.round(100 * np.sin(k / 4.0)), trig]).astype(np.int16),
        {"CurrentAmplitude": (16, np.zeros(n)), "Running": (1, np.ones(n))},
        names=["EMG1", "TRIG"],
        extra_params=["Trigger string TriggerChannel= TRIG // trigger"],
    )
    with pytest.warns(SourceWarning, match="state CurrentAmplitude is 0 at every stimulus"):
        s = import_file(path)
    np.testing.assert_array_equal(s.stimuli["sample_index"], [200, 800])
    assert s.stimuli["intensity_mA"].tolist() == [0.0, 0.0] and s.channel_names == ["EMG1"]


def test_options_override_the_header(tmp_path):
    path, _ = epocs_like(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SourceWarning)
        s = import_file(
            path, trigger="STIM", trigger_threshold=2.0e6, intensity_scale=1e-4, pulse_width_us=200
        )
    # 2 V (in µV) also counts the 2.2 V pulse at 3000
    np.testing.assert_array_equal(s.stimuli["sample_index"], [400, 2100, 3000, 3900])
    np.testing.assert_allclose(s.stimuli["intensity_mA"], [0.75, 1.225, 0.0, 3.1])
    assert (s.stimuli["pulse_width_us"] == 200).all()


def test_state_and_option_errors(tmp_path):
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
    with pytest.raises(ConfigError, match="--intensity-scale applies to a state's values|not to a"):
        import_file(path, trigger="StimTrigger", intensity="1", intensity_scale=0.001)
    bad = tmp_path / "bad.dat"
    bad.write_bytes(path.read_bytes().replace(b"SourceChGain=", b"SourceChGaim="))  # same length
    with pytest.raises(FileFormatError, match="parameter SourceChGain is missing"):
        read_bci2000(bad, trigger="StimTrigger", intensity="1")


# -- headers that lie ---------------------------------------------------------------------


def _with_header_len(data: bytes, new: int) -> bytes:
    old = data.split(b"HeaderLen= ", 1)[1].split(b" ", 1)[0]
    assert len(str(new)) == len(old)
    return data.replace(b"HeaderLen= " + old, b"HeaderLen= " + str(new).encode(), 1)


def _bad_headers(path):
    data = path.read_bytes()
    length = int(data.split(b"HeaderLen= ", 1)[1].split(b" ", 1)[0])
    last_line = data[:length].rstrip(b"\r\n").rfind(b"\n") + 1  # start of the last param line
    n_ch_gains = data.replace(b"SourceChGain= 2 0.5muV 2", b"SourceChGain= 1 0.5muV  ")
    return {
        "short: mid-line": (_with_header_len(data, length - 7), "ends the header in the middle"),
        "short: whole lines": (_with_header_len(data, last_line), "header lines continue after"),
        "short: no parameters": (
            _with_header_len(data, data.index(b"[ Parameter Definition ]")),
            "header has no [ Parameter Definition ] section",
        ),
        "long: into the data": (_with_header_len(data, length + 9), "is binary data"),
        "beyond the file": (data[: length - 50], "HeaderLen = "),
        "truncated data": (data[:-5], "not a whole number of 7-byte samples"),
        "gain list short": (n_ch_gains, "SourceChGain has 1 values for SourceCh= 2 channels"),
        "state outside": (
            data.replace(b"StimTrigger 1 0 2 2", b"StimTrigger 1 0 9 2"),
            "state StimTrigger (bits 74..74) lies outside the StatevectorLen= 3-byte",
        ),
        "names short": (
            data.replace(b"ChannelNames= 2 SOL TA", b"ChannelNames= 1 SOLTA "),
            "ChannelNames has 1 names for SourceCh= 2",
        ),
        "source ch differs": (
            data.replace(b"int SourceCh= 2 ", b"int SourceCh= 4 "),
            "SourceCh= 2 in the first header line but parameter SourceCh= 4",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "short: mid-line",
        "short: whole lines",
        "short: no parameters",
        "long: into the data",
        "beyond the file",
        "truncated data",
        "gain list short",
        "state outside",
        "names short",
        "source ch differs",
    ],
)
def test_lying_headers_are_one_line_errors(tmp_path, case):
    good = write_bci2000(
        tmp_path / "g.dat", raw_counts(), states(), gains=["0.5muV", "2"], names=["SOL", "TA"]
    )
    data, needle = _bad_headers(good)[case]
    bad = tmp_path / "bad.dat"
    bad.write_bytes(data)
    code, out = run(bad, "-o", tmp_path / "o.h5", "--intensity", "StimulusCurrent")
    assert code == 1 and out.startswith("Error: ") and out.count("\n") == 1, out
    assert "bad.dat" in out and needle in out, out
    assert not (tmp_path / "o.h5").exists()


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
