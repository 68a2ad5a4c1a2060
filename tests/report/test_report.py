"""``write_report`` / ``hreflex report`` on simulated sessions of every preset.

The chain checked: the page shows the numbers of the analysis result (exact value in
``data-value``, the text rounded to 4 digits), and those numbers match the simulator's
ground truth; every figure is in the page and on disk as a valid PNG of sensible size.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from hreflex import __version__
from hreflex.analysis import analyze_session, load_config
from hreflex.cli import cli
from hreflex.io.session import read_session
from hreflex.io.writer import write_session
from hreflex.report import write_report
from hreflex.report.build import KINDS
from tests.report.pages import decoded_png, png_size, read_page
from tests.report.simdata import PRESETS, short_session


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """preset -> (session file, page text, truth, results doc of a separate analysis)."""
    out = {}
    for preset in PRESETS:
        d = tmp_path_factory.mktemp(preset)
        session, truth = short_session(preset)
        path = write_session(d / f"{preset}.h5", session)
        page = write_report(path, d / "report")
        doc = analyze_session(read_session(path)).to_dict()
        out[preset] = (path, page.read_text(encoding="utf-8"), truth, doc)
    return out


@pytest.mark.parametrize("preset", PRESETS)
def test_every_figure_is_embedded_and_written_as_a_valid_png(reports, preset):
    path, html, _, doc = reports[preset]
    page = read_page(html)
    names = [f"ch{c['index']}_{c['name']}_{k}.png" for c in doc["channels"] for k in KINDS]
    assert sorted(page.images) == sorted(names)
    for name in names:
        on_disk = (path.parent / "report" / name).read_bytes()
        assert page.images[name] == on_disk
        width, height = png_size(on_disk)
        assert 600 <= width <= 1200 and 400 <= height <= 500, (name, width, height)
        pixels = decoded_png(on_disk)
        assert pixels.shape[:2] == (height, width)
        assert pixels[..., :3].std() > 0.05  # something is drawn


@pytest.mark.parametrize("preset", PRESETS)
def test_page_is_self_contained(reports, preset):
    page = read_page(reports[preset][1])
    assert page.external == []
    assert not page.tags & {"script", "link", "iframe", "object"}
    assert "@import" not in reports[preset][1] and "url(" not in reports[preset][1]


@pytest.mark.parametrize("preset", PRESETS)
def test_key_numbers_are_those_of_the_analysis(reports, preset):
    _, html, _, doc = reports[preset]
    values = read_page(html).values
    for ch in doc["channels"]:
        expected = {f"{ch['name']}/recruitment/{k}": v for k, v in ch["recruitment"].items()
                    if k.endswith(("_mV", "_mA", "_mmax", "_pct_mmax"))}
        expected.update({f"{ch['name']}/latency_ms/{k}": v for k, v in ch["latency_ms"].items()
                         if not k.endswith("_reason")})
        expected.update({f"{ch['name']}/rdd/{r['frequency_Hz']:g}": r["ratio"]
                         for r in ch["rdd"]})
        assert len(expected) == 11 + 4 + 3
        for key, value in expected.items():
            exact, text = values[key]
            assert exact == value, key
            assert float(text) == pytest.approx(value, rel=5e-4), key


@pytest.mark.parametrize("preset", PRESETS)
def test_the_analysis_shown_matches_the_simulator_truth(reports, preset):
    _, html, truth, _ = reports[preset]
    values = read_page(html).values
    levels, m_levels, h_levels = truth.level_means()
    for c, (name, t) in enumerate(zip(truth.channel_names, truth.channels, strict=True)):
        got = {k.split("/", 1)[1]: v[0] for k, v in values.items() if k.startswith(f"{name}/")}
        assert got["recruitment/mmax_mV"] == pytest.approx(m_levels[:, c].max(), rel=0.03)
        assert got["recruitment/hmax_mmax"] == pytest.approx(
            h_levels[:, c].max() / m_levels[:, c].max(), rel=0.12)
        step = np.ptp(levels) / (levels.size - 1)  # within the intensity resolution
        assert abs(got["recruitment/m_threshold_mA"] - t.M_threshold_mA) <= step
        assert abs(got["recruitment/h_threshold_mA"] - t.H_threshold_mA) <= step
        tol_ms = 0.3 if preset == "rat_sci" else 1.0
        assert got["latency_ms/m"] == pytest.approx(t.M_onset_ms, abs=tol_ms)
        assert got["latency_ms/h"] == pytest.approx(t.H_onset_ms, abs=tol_ms)
        for f, ratio in truth.rdd_ratios.items():
            assert got[f"rdd/{f:g}"] == pytest.approx(ratio, abs=0.1), f


def test_provenance_and_metadata_are_on_the_page(reports):
    path, html, _, doc = reports["soleus_healthy"]
    page = read_page(html)
    assert hashlib.sha256(path.read_bytes()).hexdigest() in page.text
    assert f"hreflex {__version__}" in page.text
    assert "sim-soleus_healthy" in page.text  # subject id written by the simulator
    assert '"background_max_relative": 2.0' in page.text  # the parameters used
    assert "No sweep was excluded." in page.text and "No fault or gap" in page.text


def test_qc_table_lists_excluded_sweeps_and_recorded_gaps(tmp_path):
    session, _ = short_session("fcr_healthy")
    k = 5  # put a recorded gap over stimulus k
    start = int(session.stimuli["sample_index"][k]) + 10
    faults = np.array([(b"gap", start, 40, b"blocks 17-18 missing")], dtype=session.faults.dtype)
    continuous = session.continuous.copy()
    continuous[start:start + 40] = 0
    path = write_session(tmp_path / "gap.h5", replace(session, faults=faults,
                                                        continuous=continuous))
    page = read_page(write_report(path, tmp_path / "out").read_text(encoding="utf-8"))
    stim = session.stimuli[k]
    assert ["FCR", str(k), f"{stim['time_s']:.4g}", f"{stim['intensity_mA']:.4g}",
            f"overlaps recorded gap at samples {start}..{start + 39}"] in page.rows
    assert ["gap", str(start), f"{start / session.sample_rate_Hz:.4g}", "40",
            f"{1000 * 40 / session.sample_rate_Hz:.4g}", "blocks 17-18 missing"] in page.rows
    # per-channel counts: channel, sweeps, excluded (only the sweep under the gap)
    assert any(r[:3] == ["FCR", str(len(session.stimuli)), "1"] for r in page.rows)


@pytest.mark.parametrize(("case", "phrases"), [
    ("no_h", ["not determinable: no H window", "RDD not determinable"]),
    ("rdd_only", ["not determinable: no usable sweep"]),
    ("no_stimuli", ["not determinable: no stimuli in the file"]),
])
def test_degenerate_sessions_render_with_reasons(tmp_path, case, phrases):
    if case == "no_h":
        session, _ = short_session("soleus_healthy", protocol="recruitment", levels=8,
                                   hmax_over_mmax=0.0)
    elif case == "rdd_only":
        session, _ = short_session("fcr_healthy", protocol="rdd")
    else:
        session, _ = short_session("fcr_healthy", protocol="rdd")
        session = replace(session, stimuli=session.stimuli[:0], blocks=session.blocks[:0])
    path = write_session(tmp_path / f"{case}.h5", session)
    page = read_page(write_report(path, tmp_path / "out").read_text(encoding="utf-8"))
    for phrase in phrases:
        assert phrase in page.text, phrase
    assert len(page.images) == len(KINDS) * session.n_channels
    for png in page.images.values():
        assert png_size(png)[0] >= 600


def test_cli_report_uses_the_config_and_reports_bad_files_on_one_line(reports, tmp_path):
    path = reports["rat_sci"][0]
    config = tmp_path / "area.toml"
    config.write_text('amplitude = "area"\n')
    result = CliRunner().invoke(cli, ["report", str(path), "--out", str(tmp_path / "r"),
                                      "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "4 figures" in result.output
    page = read_page((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))
    area = analyze_session(read_session(path), load_config(config)).channels[0].recruitment
    assert page.values["PL/recruitment/mmax_mV"][0] == area.mmax_mV
    assert area.mmax_mV != reports["rat_sci"][3]["channels"][0]["recruitment"]["mmax_mV"]
    assert any(r[0] == "Mmax" and r[3] == "mV·ms" for r in page.rows)  # after the interval
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    result = CliRunner().invoke(cli, ["report", str(bad), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith(f"Error: {bad}")


def test_rdd_note_says_which_amplitude_the_ratios_come_from():
    from hreflex.report.sections import rdd_table

    row = {"frequency_Hz": 0.2, "ratio": 1.0, "ratio_ci95": None, "h_mean_mV": 0.05,
           "h_sd_mV": 0.01, "n": 9, "n_trains": 1, "m_mean_mV": 0.4}
    info = {"skip_first": 1, "reference_Hz": 0.2, "trains": "file", "floor_mV": 0.02,
            "m_change_pct": None}
    for amplitude, phrase in (("matched", "from matched amplitudes"),
                              ("measure", "net of the noise floor")):
        ch = {"name": "FCR", "rdd": [row], "rdd_info": {**info, "amplitude": amplitude}}
        html = rdd_table(ch, "mV")
        assert phrase in html and "(0.02 mV" in html
