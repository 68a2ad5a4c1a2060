"""Issue #10 acceptance on the shared real EPOCS recording (BCI2000 .dat, FCR stimulus test).

The file imports with no options; every imported value is checked against an expectation
computed here from the raw bytes (header fields found by regular expressions, samples and
states with numpy), not with the importer's own parser. EPOCS's own peak-to-peak responses
are computed in its recorded windows by :func:`epocs_p2p_V` and checked against the H-reflex
amplitudes EPOCS itself stored online (state ``ResponseFeedbackValue``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.io.format import decode_str
from hreflex.io.session import Session, read_session
from hreflex.io.validate import check_file

FILE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "real_data"
    / "epocs"
    / "fcr2l-2016-09-22-14-21-R41-ST.dat"
)
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason="shared EPOCS recording not present")


def raw_recording() -> dict:
    """Header text, counts (n, SourceCh), state vectors (n, StatevectorLen), gains, offsets."""
    data = FILE.read_bytes()
    header_len = int(re.match(rb"HeaderLen=\s*(\d+)", data)[1])
    text = data[:header_len].decode("latin-1")
    n_ch = int(re.search(r"SourceCh=\s*(\d+)", text)[1])
    state_len = int(re.search(r"StatevectorLen=\s*(\d+)", text)[1])

    def numbers(name: str) -> np.ndarray:
        count, *values = re.search(name + r"=\s*(\d+(?:\s+[-\d.]+)+)", text)[1].split()
        return np.array(values[: int(count)], dtype=float)

    records = np.frombuffer(
        data[header_len:], dtype=[("x", "<i2", (n_ch,)), ("s", "u1", (state_len,))]
    )
    return {
        "text": text,
        "counts": records["x"].astype(np.int64),
        "states": records["s"],
        "gain_uV": numbers("SourceChGain"),
        "offset": numbers("SourceChOffset"),
        "rate": float(re.search(r"SamplingRate=\s*([\d.]+)", text)[1]),
    }


def state(raw: dict, name: str) -> np.ndarray:
    """A state's values from its ``Name Length Value Byte Bit`` line (whole bytes here)."""
    bits, _, byte, bit = map(
        int, re.search(rf"\n{name} (\d+) (\d+) (\d+) (\d+)", raw["text"]).groups()
    )
    assert bit == 0 and bits % 8 == 0
    chunk = raw["states"][:, byte : byte + bits // 8].astype(np.int64)
    return (chunk << (8 * np.arange(bits // 8))).sum(axis=1)


def trig_above(raw: dict) -> np.ndarray:
    """TRIG (channel 3) at or above 1.0 V (TriggerThreshold), per sample."""
    volts = (raw["counts"][:, 2] - raw["offset"][2]) * raw["gain_uV"][2] * 1e-6
    return volts >= 1.0


def trig_edges(raw: dict) -> np.ndarray:
    """Samples where TRIG first reaches 1.0 V, as EPOCS's TrapFilter detects a trigger."""
    above = trig_above(raw)
    return np.flatnonzero(above[1:] & ~above[:-1]) + 1


def epocs_p2p_V(session: Session, highpass: tuple[float, int] | None = None) -> np.ndarray:
    """EPOCS's peak-to-peak (RangeIntegrator, AnalysisType 1) in every recorded window of
    ``session``, V, (n_windows, n_stimuli).

    Window = the stored first .. last measured sample, ``t + round(start·fs)`` ..
    ``t + round(stop·fs)`` after the stimulus sample ``t``; value = ``max(0, max) − min(0, min)`` there. EPOCS measures its
    online filtered signal: ``highpass = (corner_Hz, order)`` applies its IIRBandpass high-pass
    (Butterworth, causal, from the first sample of the run) first; None measures the imported
    EMG as it is, as ``max − min`` (the 0 terms only matter on a signal with an offset).
    """
    fs, x = session.sample_rate_Hz, session.continuous.astype(np.float64)
    if highpass is not None:
        b, a = scipy.signal.butter(highpass[1], highpass[0], "highpass", fs=fs)
        x = scipy.signal.lfilter(b, a, x, axis=0)
    onsets = session.stimuli["sample_index"]
    out = np.empty((len(session.recorded_windows), len(onsets)))
    for i, w in enumerate(session.recorded_windows):  # a handful of windows; sweeps vectorised
        first = int(0.5 + w["start_ms"] * fs / 1000)  # stored: first and last sample measured
        n = int(0.5 + (w["stop_ms"] - w["start_ms"]) * fs / 1000) + 1
        cut = x[onsets[:, None] + first + np.arange(n), w["channel"]]  # (n_stimuli, n)
        if highpass is None:
            out[i] = cut.max(axis=1) - cut.min(axis=1)
        else:
            out[i] = np.maximum(cut.max(axis=1), 0) - np.minimum(cut.min(axis=1), 0)
    return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Session, str]:
    out = tmp_path_factory.mktemp("epocs") / "fcr.h5"
    result = CliRunner().invoke(cli, ["import", str(FILE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert check_file(out) == []
    return read_session(out), result.output


def test_imports_with_no_options(imported):
    session, output = imported
    raw = raw_recording()
    edges = trig_edges(raw)
    assert len(edges) == 3
    assert np.abs(session.stimuli["sample_index"] - edges).max() <= 1
    current_uA = state(raw, "CurrentAmplitude")[edges]
    np.testing.assert_allclose(session.stimuli["intensity_mA"], current_uA / 1000)
    assert session.stimuli["intensity_mA"].tolist() == [1.0, 0.5, 0.25]
    assert (session.stimuli["pulse_width_us"] == 500).all()  # PulseWidth= 0.5ms
    assert session.channel_names == ["EMG1", "EMG2"]  # ChannelsToTrap; TRIG is the trigger
    emg_V = (raw["counts"][:, :2] - raw["offset"][:2]) * raw["gain_uV"][:2] * 1e-6
    np.testing.assert_allclose(session.continuous, emg_V, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(session.trigger, trig_above(raw))
    assert session.sample_rate_Hz == raw["rate"] == 3200
    assert (session.meta.subject_id, session.meta.session_id) == ("fcr2l", "001")
    assert session.devices["source"]["run"] == "41"
    for line in (
        "trigger ",
        "channel TRIG rising through 1 V  (header: TriggerChannel (TrapFilter))",
        "0.25–1 mA  (header: state CurrentAmplitude at each onset × 0.001 (read as µA))",
        "500 µs  (header: PulseWidth= 0.5ms",
        "EMG1, EMG2  (header: ChannelsToTrap)",
        "fcr2l  (header: SubjectName)",
        "species",
    ):
        assert line in output, output
    assert "warning" not in output


def test_epocs_windows_are_stored(imported):
    session, _ = imported
    w = session.recorded_windows
    # the header's ResponseDefinition rows (Input Channel, Start, End, …, Response Name):
    #   EMG1 14ms 30ms … EMG1 | EMG2 14ms 30ms … EMG2 | EMG1 3.5ms 13ms … EMG1a |
    #   EMG1 3.5ms 13ms … EMG2a; ResponseAssessment names EMG1, EMG2 (H), ReferenceAssessment
    #   EMG1a, EMG2a (M); AnalysisType= 1 (peak-to-peak). Row 4 measures EMG1, as EPOCS did.
    assert w["channel"].tolist() == [0, 1, 0, 0]
    assert [decode_str(x) for x in w["wave"]] == ["h", "h", "m", "m"]
    # the header's 14-30 ms and 3.5-13 ms as the samples EPOCS measures at 3200 Hz:
    # round(14 x 3.2) = 45 (14.0625 ms) for round(16 x 3.2) = 51 samples (to 29.6875 ms);
    # round(3.5 x 3.2) = 11 (3.4375 ms) for round(9.5 x 3.2) = 30 samples (to 12.5 ms)
    assert w["start_ms"].tolist() == [14.0625, 14.0625, 3.4375, 3.4375]
    assert w["stop_ms"].tolist() == [29.6875, 29.6875, 12.5, 12.5]
    assert {decode_str(x) for x in w["measure"]} == {"p2p"}
    assert [decode_str(x).split()[-1] for x in w["source"]] == ["EMG1", "EMG2", "EMG1a", "EMG2a"]
    assert session.devices["source"]["online_highpass_Hz"] == 0.5
    assert session.devices["source"]["online_highpass_order"] == 2


def test_epocs_p2p_reproduces_epocs_online_h_amplitudes(imported):
    """EPOCS stored each trial's response (ResponseAssessment feedback weights: EMG1 1, EMG2 0,
    i.e. EMG1's H peak-to-peak) in µV in state ResponseFeedbackValue once the trial's epoch was
    complete; it holds until the next trial's."""
    session, _ = imported
    raw = raw_recording()
    onsets = session.stimuli["sample_index"]
    after = np.append(onsets[1:] - 1, len(raw["states"]) - 1)
    online_uV = state(raw, "ResponseFeedbackValue")[after]
    src = session.devices["source"]
    ours = epocs_p2p_V(session, (src["online_highpass_Hz"], src["online_highpass_order"]))
    h_emg1 = 0  # row 1: H of EMG1
    np.testing.assert_allclose(ours[h_emg1] * 1e6, online_uV, atol=0.5 + 1e-6)
    # the imported (unfiltered) EMG measured as max − min stays within 1.1 % of EPOCS
    plain = epocs_p2p_V(session)
    assert np.abs(plain / ours - 1).max() < 0.011
