"""Bad input never crashes: clear per-channel messages, null values with reasons, valid JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hreflex.analysis import analyze_session, config_from_dict
from hreflex.io.format import FAULT_DTYPE, empty_table
from tests.analysis.simdata import short_recruitment


@pytest.fixture(scope="module")
def sim():
    return short_recruitment()[0]


def _doc(result) -> dict:
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN
    return doc


def test_no_stimuli(sim):
    doc = _doc(analyze_session(replace(sim, stimuli=sim.stimuli[:0])))
    assert doc["messages"] == ["no stimuli in the file"]
    for ch in doc["channels"]:
        assert ch["recruitment"] is None and ch["recruitment_reason"] == "no stimuli in the file"
        assert ch["windows_ms"]["m"] is None and ch["rdd"] == []


def test_one_intensity_only(sim):
    stimuli = sim.stimuli.copy()
    stimuli["intensity_mA"] = 40.0
    doc = _doc(analyze_session(replace(sim, stimuli=stimuli)))
    for ch in doc["channels"]:
        rec = ch["recruitment"]
        assert rec["hmax_mmax"] is None and "one intensity only" in rec["hmax_mmax_reason"]
        assert rec["mmax_observed_mV"] > 1.0  # still reported
        assert ch["windows_ms"]["m"] is not None
        assert ch["rdd"] == [] and ch["rdd_reason"]


def test_nan_samples_and_gaps_exclude_sweeps(sim):
    volts = sim.to_volts(sim.continuous).astype(np.float32)
    idx = sim.stimuli["sample_index"]
    volts[idx[3] + 100, 1] = np.nan  # one channel of sweep 3
    faults = empty_table(FAULT_DTYPE, 1)
    faults[0] = (b"gap", idx[5] + 20, 50, b"blocks missing")
    s = replace(sim, continuous=volts, scale_V_per_count=np.ones(sim.n_channels), faults=faults)
    result = analyze_session(s)
    doc = _doc(result)
    ex = [dict((e["sweep"], e["reason"]) for e in ch["qc"]["excluded"]) for ch in doc["channels"]]
    assert 3 not in ex[0] and ex[1][3] == "NaN samples (not recorded)"
    assert "gap" in ex[0][5] and "gap" in ex[1][5]
    assert any("cannot be used" in m for m in doc["messages"])
    ann = result.annotations
    assert (5, -1) in {(int(a["sweep"]), int(a["channel"])) for a in ann}  # both channels
    assert all(a["source"] == b"auto-qc" for a in ann)
    assert doc["channels"][0]["recruitment"]["mmax_mV"] is not None


def test_channel_of_zeros(sim):
    counts = sim.continuous.copy()
    counts[:, 1] = 0
    doc = _doc(analyze_session(replace(sim, continuous=counts)))
    assert doc["channels"][0]["recruitment"]["mmax_mV"] is not None
    flat = doc["channels"][1]
    assert "flat" in flat["messages"][0] and flat["recruitment"] is None
    assert "flat" in flat["recruitment_reason"] and flat["latency_ms"]["m"] is None


def test_events_outside_the_recording(sim):
    stimuli = sim.stimuli.copy()
    stimuli["sample_index"][[0, 1]] = [-500, len(sim.continuous) + 10]
    doc = _doc(analyze_session(replace(sim, stimuli=stimuli)))
    reasons = dict((e["sweep"], e["reason"]) for e in doc["channels"][0]["qc"]["excluded"])
    assert "outside the recording" in reasons[0] and "outside the recording" in reasons[1]


def test_windows_outside_the_sweep(sim):
    cfg = config_from_dict({"windows": {"manual": {"*": {"h_ms": [30.0, 400.0]}}}})
    doc = _doc(analyze_session(sim, cfg))
    for ch in doc["channels"]:
        assert ch["windows_ms"]["h"] is None and "outside the sweep" in ch["windows_ms"]["h_reason"]
        assert any("outside the sweep" in m for m in ch["messages"])
        assert ch["recruitment"]["hmax_mV"] is None and ch["rdd"] == []
        assert ch["recruitment"]["mmax_mV"] is not None


def test_epoched_file_without_pre_stimulus_samples(sim):
    idx = sim.stimuli["sample_index"]
    sweeps = np.stack([sim.continuous[i:i + 300].T for i in idx])  # 60 ms from the stimulus
    s = replace(sim, continuous=None, trigger=None, sweeps=sweeps, pre_trigger_ms=0.0)
    ref = analyze_session(sim)
    doc = _doc(analyze_session(s))
    for ch, c_ref in zip(doc["channels"], ref.channels, strict=True):
        assert any("no pre-stimulus samples" in m for m in ch["messages"])
        assert ch["recruitment"]["mmax_mV"] == pytest.approx(c_ref.recruitment.mmax_mV, rel=0.02)
        assert ch["qc"]["background_median_uV"] is None


def test_unknown_species_falls_back_with_a_message(sim):
    s = replace(sim, meta=replace(sim.meta, species="cat"))
    doc = _doc(analyze_session(s))
    assert any("no window prior for species 'cat'" in m for m in doc["messages"])
