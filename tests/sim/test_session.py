"""Simulated sessions: file contents, per-stimulus truth, and the ``hreflex simulate`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.errors import ConfigError
from hreflex.io.format import decode_str
from hreflex.io.session import read_session
from hreflex.io.writer import write_session
from hreflex.schedule import concat, rdd, recruitment
from hreflex.sim.presets import PRESETS, get_preset
from hreflex.sim.session import LEAD_IN_S, default_schedule, simulate_session
from hreflex.sim.truth import rdd_test_intensity
from tests.sim.helpers import ptp_in_window

FCR = get_preset("fcr_healthy")


@pytest.fixture(scope="module")
def small():
    sched = concat(
        recruitment([4.0, 8.0, 12.0, 30.0], sweeps=2, isi_s=3.0, randomize=True),
        rdd([0.5, 5.0], intensity_mA=8.0, pulses_per_train=4, rest_s=5.0),
        gap_s=4.0,
    )
    session, truth = simulate_session(FCR, sched, seed=4, noise=False)
    return sched, session, truth


def test_session_round_trip(small, tmp_path):
    sched, session, truth = small
    back = read_session(write_session(tmp_path / "s.h5", session))
    st, fs = back.stimuli, back.sample_rate_Hz
    assert len(st) == len(sched) == 16
    assert np.array_equal(st["intensity_mA"], sched.intensity_mA)
    assert np.array_equal(st["sample_index"], np.round((LEAD_IN_S + sched.time_s) * fs))
    assert np.allclose(st["time_s"], st["sample_index"] / fs)
    assert np.array_equal(st["train_id"], sched.train_id)
    assert np.array_equal(st["nominal_frequency_Hz"], sched.nominal_frequency_Hz, equal_nan=True)
    assert [decode_str(k) for k in back.blocks["kind"]] == ["recruitment", "rdd"]
    assert back.continuous.dtype == np.int16 and back.channel_names == ["FCR"]
    assert back.scale_V_per_count[0] == pytest.approx(FCR.adc_range_mV * 1e-3 / 32767)
    assert np.flatnonzero(back.trigger & 1)[::4].tolist() == st["sample_index"].tolist()
    assert back.meta.species == "human" and back.meta.nerve == "median"
    sim = back.devices["simulator"]
    assert sim["preset"] == "fcr_healthy" and sim["seed"] == 4
    assert sim["truth_Hmax_mV"][0] == pytest.approx(truth.channels[0].Hmax_mV)
    assert back.duration_s == pytest.approx(LEAD_IN_S + sched.duration_s + 2.0, abs=1e-3)


def test_per_stimulus_truth_matches_the_recorded_signal(small):
    _, session, truth = small
    ch = FCR.channels[0]
    fs = session.sample_rate_Hz
    mV = session.to_volts(session.continuous)[:, 0] * 1e3
    idx = session.stimuli["sample_index"]
    sweeps = mV[idx[:, None] + np.arange(int(ch.H_wave.end_ms * fs / 1000) + 1)]
    h = ptp_in_window(sweeps, fs, ch.H_wave.onset_ms, ch.H_wave.end_ms, 1)
    m = ptp_in_window(sweeps, fs, ch.M_wave.onset_ms, ch.M_wave.end_ms, 1)
    # int16 quantisation is 0.3 µV: 1 % is ample, and depression is included in the truth
    big = truth.H_mV[:, 0] > 0.05
    assert h[big] == pytest.approx(truth.H_mV[big, 0], rel=0.01)
    assert m == pytest.approx(truth.M_mV[:, 0], rel=0.01, abs=0.002)
    rec = session.stimuli["block_id"] == 0
    levels, M_mean, H_mean = truth.level_means("recruitment")
    assert levels.tolist() == [4.0, 8.0, 12.0, 30.0]
    for lvl, mm, hm in zip(levels, M_mean[:, 0], H_mean[:, 0], strict=True):
        at = rec & (session.stimuli["intensity_mA"] == lvl)
        assert m[at].mean() == pytest.approx(mm, rel=0.01, abs=0.002)
        assert h[at].mean() == pytest.approx(hm, rel=0.01, abs=0.002)
    train = session.stimuli["nominal_frequency_Hz"] == 5.0
    assert np.all(np.diff(truth.depression[train]) < 0)  # 5 Hz train depresses
    assert set(truth.rdd_ratios) == {0.5, 5.0} and truth.rdd_ratios[5.0] < 0.5


def test_default_schedules_follow_the_preset():
    for p in PRESETS.values():
        rec, r = default_schedule(p, "recruitment"), default_schedule(p, "rdd")
        start, stop, step = p.recruitment_mA
        n_levels = round((stop - start) / step) + 1
        assert len(rec) == n_levels * p.recruitment_sweeps
        assert rec.intensity_mA.min() == start and rec.intensity_mA.max() == pytest.approx(stop)
        assert len(r) == len(p.rdd_frequencies_Hz) * p.rdd_pulses
        assert np.all(r.intensity_mA == round(rdd_test_intensity(p), 2))
        both = default_schedule(p, "both")
        assert len(both) == len(rec) + len(r)
        assert [b.kind for b in both.blocks] == ["recruitment", "rdd"]
    with pytest.raises(ConfigError, match="protocol"):
        default_schedule(FCR, "ramp")


def test_cli_simulate_writes_readable_file(tmp_path):
    out, truth_json = tmp_path / "rat.h5", tmp_path / "truth.json"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "simulate",
            "--preset",
            "rat_sci",
            "--protocol",
            "rdd",
            "-o",
            str(out),
            "--seed",
            "3",
            "--truth",
            str(truth_json),
        ],
    )
    assert res.exit_code == 0, res.output
    s = read_session(out)
    rat = get_preset("rat_sci")
    assert len(s.stimuli) == len(rat.rdd_frequencies_Hz) * rat.rdd_pulses
    assert np.all(s.stimuli["intensity_mA"] == round(rdd_test_intensity(rat), 2))
    assert s.sample_rate_Hz == rat.sample_rate_Hz and s.meta.species == "rat"
    truth = json.loads(truth_json.read_text())
    assert truth["sample_index"] == s.stimuli["sample_index"].tolist()
    # refuses to overwrite, and names the valid presets for a typo
    again = runner.invoke(cli, ["simulate", "--preset", "rat_sci", "-o", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(cli, ["simulate", "--preset", "soleus", "-o", str(tmp_path / "x.h5")])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert bad.output.count("\n") == 1 and all(n in bad.output for n in PRESETS)
