"""Import through the optional neo extra (skipped without neo)."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers import import_file
from hreflex.io.importers.detect import detect_format
from tests.importexport.helpers import write_brainvision

neo = pytest.importorskip("neo")

ONSETS = [120, 480, 910]


def test_brainvision_continuous_with_markers(tmp_path):
    k = np.arange(1200)
    data_uV = np.column_stack([100 * np.sin(k / 5.0), 400 * np.cos(k / 3.0)])
    vhdr = write_brainvision(tmp_path / "rec", data_uV, ONSETS, 5000.0, ["SOL", "MG"])
    (tmp_path / "amps.txt").write_text("6.5, 8, 9.5")
    assert detect_format(vhdr) == "neo"
    s = import_file(vhdr, intensity_file=tmp_path / "amps.txt")
    assert s.channel_names == ["SOL", "MG"] and s.sample_rate_Hz == 5000.0
    np.testing.assert_allclose(s.continuous, data_uV * 1e-6, rtol=1e-6)  # µV in the header
    # BrainVision marker positions are 1-based; neo 0.14 reports them unconverted (1 sample late)
    assert np.abs(s.stimuli["sample_index"] - ONSETS).max() <= 1
    np.testing.assert_array_equal(s.stimuli["intensity_mA"], [6.5, 8, 9.5])
    with pytest.raises(FileFormatError, match="no analog channel 'TA'; channels: SOL, MG"):
        import_file(vhdr, intensity="1", signal="TA")
    with pytest.raises(FileFormatError, match="trigger 'Response' is neither an event channel"):
        import_file(vhdr, intensity="1", trigger="Response")


def test_event_channel_times_are_stimuli(tmp_path):
    import quantities as pq
    from neo.core import AnalogSignal, Block, Event, Segment

    rate, signal_mV = 2000.0, np.linspace(-1, 1, 3000)[:, None] * np.array([[1.0, 2.0]])
    seg = Segment()
    for i, name in enumerate(("SOL", "TRIG")):
        seg.analogsignals.append(
            AnalogSignal(signal_mV[:, i : i + 1], units="mV", sampling_rate=rate * pq.Hz, name=name)
        )
    seg.events.append(
        Event(np.array(ONSETS) / rate * pq.s, name="stim", labels=np.array(["a"] * 3))
    )
    block = Block()
    block.segments.append(seg)
    path = tmp_path / "cont.mat"
    neo.io.NeoMatlabIO(str(path)).write_block(block)
    s = import_file(path, "neo", intensity="2", signal="SOL")
    np.testing.assert_array_equal(s.stimuli["sample_index"], ONSETS)
    np.testing.assert_allclose(s.continuous[:, 0], signal_mV[:, 0] * 1e-3, rtol=1e-6)
    s = import_file(path, "neo", intensity="2", trigger="TRIG", trigger_threshold=0.5)
    assert s.channel_names == ["SOL"]  # the trigger channel is not EMG
    np.testing.assert_array_equal(s.stimuli["sample_index"], [np.argmax(signal_mV[:, 1] > 0.5)])


def test_segments_become_sweeps(tmp_path):
    import quantities as pq
    from neo.core import AnalogSignal, Block, Segment

    block = Block()
    sweeps_mV = np.arange(3 * 40, dtype=float).reshape(3, 40) - 60.0
    for row in sweeps_mV:
        seg = Segment()
        seg.analogsignals.append(
            AnalogSignal(row[:, None], units="mV", sampling_rate=10 * pq.kHz, name="EMG")
        )
        block.segments.append(seg)
    path = tmp_path / "episodes.mat"
    neo.io.NeoMatlabIO(str(path)).write_block(block)
    with pytest.raises(ConfigError, match="3 segments .* give --pre-ms"):
        import_file(path, "neo", intensity="4")
    s = import_file(path, "neo", intensity="4", pre_ms=1.0)
    assert s.sweeps.shape == (3, 1, 40) and s.pre_trigger_ms == 1.0
    np.testing.assert_allclose(s.sweeps[:, 0], sweeps_mV * 1e-3, rtol=1e-6)
    assert s.sample_rate_Hz == 10000.0 and (s.stimuli["intensity_mA"] == 4).all()
