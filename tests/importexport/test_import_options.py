"""What every import takes (per-channel muscles, species, nerve, condition, session id,
intensity scale), the unit warnings every import gets, and `hreflex import` saying where each
value came from."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from hreflex.cli import cli
from hreflex.errors import ConfigError
from hreflex.io.importers import import_file
from hreflex.io.importers.origins import Origins, SourceWarning
from hreflex.io.session import read_session
from tests.importexport.helpers import write_cadwell
from tests.importexport.test_bci2000 import epocs_like
from tests.importexport.test_cadwell import LABELS, traces

TWO_CHANNELS = """# sample_rate_Hz: 1000
# pre_trigger_ms: 1
{comments}sweep,0,0,1,1
channel,SOL,MG,SOL,MG
intensity_mA,{i0},{i0},{i1},{i1}
,0.1,0.2,0.3,0.4
,0.5,0.6,0.7,0.8
,0.9,1.0,1.1,1.2
"""


def csv_file(tmp_path, comments="", i0=5, i1=10):
    path = tmp_path / "two.csv"
    path.write_text(TWO_CHANNELS.format(comments=comments, i0=i0, i1=i1), encoding="utf-8")
    return path


def quiet_import(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = import_file(*args, **kwargs)
    return session, [str(w.message) for w in caught if issubclass(w.category, SourceWarning)]


def test_muscle_per_channel_or_one_for_all(tmp_path):
    path, _ = epocs_like(tmp_path)
    s, _ = quiet_import(path, muscle="SOL=soleus, mg=medial gastrocnemius")
    assert s.channel_muscles == ["soleus", "medial gastrocnemius"]
    assert s.meta.muscle == "soleus"  # the first channel's
    s, _ = quiet_import(path, muscle="MG=medial gastrocnemius")
    assert s.channel_muscles == ["", "medial gastrocnemius"]
    assert s.meta.muscle == "medial gastrocnemius"
    s, _ = quiet_import(path, muscle="flexor carpi radialis")
    assert s.channel_muscles == ["flexor carpi radialis"] * 2
    with pytest.raises(ConfigError, match="--muscle names channel 'TA'; the channels are SOL, MG"):
        import_file(path, muscle="SOL=soleus,TA=tibialis anterior")
    with pytest.raises(ConfigError, match="mixes CHANNEL=muscle pairs with plain values"):
        import_file(path, muscle="SOL=soleus,gastrocnemius")


def test_muscles_follow_renamed_channels(tmp_path):
    path, _ = epocs_like(tmp_path)
    s, _ = quiet_import(path, channel_names="L-SOL,L-MG", muscle="L-MG=gastrocnemius")
    assert s.channel_names == ["L-SOL", "L-MG"] and s.channel_muscles == ["", "gastrocnemius"]


def test_csv_muscle_comment_reaches_the_channels(tmp_path):
    s = import_file(csv_file(tmp_path, "# muscle: soleus\n"))
    assert s.channel_muscles == ["soleus", "soleus"] and s.meta.muscle == "soleus"
    s = import_file(csv_file(tmp_path, "# muscle: MG=medial gastrocnemius,SOL=soleus\n"))
    assert s.channel_muscles == ["soleus", "medial gastrocnemius"]
    s = import_file(csv_file(tmp_path, "# muscle: soleus\n"), muscle="MG=lateral gastrocnemius")
    assert s.channel_muscles == ["soleus", "lateral gastrocnemius"]


def test_metadata_options_reach_the_file(tmp_path):
    src = write_cadwell(tmp_path / "c.csv", traces(), LABELS)
    args = [
        "--species",
        "Rat",
        "--nerve",
        "sciatic",
        "--condition",
        "week 5",
        "--session-id",
        "S2",
        "--subject-id",
        "R7",
        "--muscle",
        "plantaris",
    ]
    result = CliRunner().invoke(cli, ["import", str(src), "-o", str(tmp_path / "c.h5"), *args])
    assert result.exit_code == 0, result.output
    s = read_session(tmp_path / "c.h5")
    assert (s.meta.species, s.meta.nerve, s.meta.condition) == ("rat", "sciatic", "week 5")
    assert (s.meta.session_id, s.meta.subject_id, s.meta.muscle) == ("S2", "R7", "plantaris")
    assert s.channel_muscles == ["plantaris"]
    # the Cadwell file's 100 mA trace is implausible for a rat: a warning naming field + unit
    assert "warning: " in result.output and "intensity_mA reaches 100 mA" in result.output
    assert "implausible for a rat subject); Trace Label (read as mA) — check its unit\n" in (
        result.output
    )
    assert "intensity_mA reaches 100 mA" in s.devices["source"]["warnings"]
    origins = Origins.parse(s.devices["source"]["provenance"])
    assert origins.get("species") == ("rat", "option", "--species")
    assert origins.get("intensity") == ("0–100 mA", "header", "Trace Label (read as mA)")


def test_intensity_and_pulse_width_unit_warnings(tmp_path):
    # the same Cadwell file as a human recording: 100 mA is plausible, no warning
    src = write_cadwell(tmp_path / "c.csv", traces(), LABELS)
    assert quiet_import(src)[1] == []
    odd = write_cadwell(tmp_path / "o.csv", traces(), [*LABELS[:2], "Tr 3 : 250 mA : 0.5 µs"])
    _, messages = quiet_import(odd)
    assert any("intensity_mA reaches 250 mA" in m and "above 200 mA" in m for m in messages)
    assert any(
        "pulse_width_us 0.5 µs is outside 20–2000 µs (1 stimuli); Trace Label (read as µs)" in m
        for m in messages
    ), messages
    # a rat named in Latin has the rat's limit (20 mA): 100 mA is implausible for it
    s, messages = quiet_import(src, species="Rattus norvegicus")
    assert s.meta.species == "rattus norvegicus"  # (stored as given, lower case)
    assert any("above 20 mA, implausible for a rat subject" in m for m in messages), messages
    # intensities stored in µA: 5000 µA × 0.001 is 5 mA, no warning
    s, messages = quiet_import(csv_file(tmp_path, i0=5000, i1=12500), intensity_scale=0.001)
    np.testing.assert_allclose(s.stimuli["intensity_mA"], [5, 12.5])
    assert messages == []
    s, messages = quiet_import(csv_file(tmp_path, i0=5000, i1=12500))
    assert any("row/column 'intensity_mA' (read as mA)" in m for m in messages), messages
    with pytest.raises(ConfigError, match="not to a constant --intensity"):
        import_file(csv_file(tmp_path), intensity="5", intensity_scale=0.001)
    with pytest.raises(ConfigError, match="--intensity-scale -1.0 must be a positive number"):
        import_file(csv_file(tmp_path), intensity_scale=-1.0)


def emg_csv(tmp_path, values, units_comment=""):
    """One channel, two sweeps of ``values`` (the second at half size)."""
    rows = "\n".join(f",{v!r},{v / 2!r}" for v in values)
    path = tmp_path / "emg.csv"
    path.write_text(
        f"# sample_rate_Hz: 1000\n# pre_trigger_ms: 1\n{units_comment}sweep,0,1\n"
        f"channel,SOL,SOL\nintensity_mA,5,10\n{rows}\n",
        encoding="utf-8",
    )
    return path


def test_emg_span_unit_warnings(tmp_path):
    # a 20 mV M-wave (peak to peak 20 mV): -8 mV then +12 mV
    wave_mV = [0.0, 0.01, -8.0, 12.0, 0.5, -0.01]
    volts = [v / 1e3 for v in wave_mV]
    for values, comment in [(volts, ""), (wave_mV, "# units: mV\n"), (volts, "# units: V\n")]:
        s, messages = quiet_import(emg_csv(tmp_path, values, comment))
        np.testing.assert_allclose(np.ptp(s.sweeps[0, 0]) * 1e3, 20.0, rtol=1e-6)
        assert messages == [], messages
    # the header lies: it says mV, the values are volts -> 0.02 mV, below 0.1 mV
    _, messages = quiet_import(emg_csv(tmp_path, volts, "# units: mV\n"))
    assert len(messages) == 1 and "channel SOL spans 0.02 mV peak to peak" in messages[0]
    assert "its samples were read as mV (comment '# units:') — check their unit" in messages[0]
    # no units comment, the values are mV: read as volts -> 20000 mV, above 10000 mV
    _, messages = quiet_import(emg_csv(tmp_path, wave_mV))
    assert len(messages) == 1 and "spans 2e+04 mV" in messages[0], messages
    assert "read as V (default)" in messages[0]
    # the option corrects it, and the warning goes
    s, messages = quiet_import(emg_csv(tmp_path, wave_mV), units="mV")
    assert messages == [] and np.ptp(s.sweeps) * 1e3 == pytest.approx(20.0)


def test_mat_intensity_scale(tmp_path):
    path = tmp_path / "m.mat"
    scipy.io.savemat(path, {"emg": np.eye(10, 3) * 1e-3, "uA": [1500.0, 2500.0, 3500.0]})
    s = import_file(path, sweeps="emg", intensity="uA", intensity_scale=1e-3, sample_rate=1000, pre_ms=2)
    np.testing.assert_allclose(s.stimuli["intensity_mA"], [1.5, 2.5, 3.5])
    assert Origins.parse(s.devices["source"]["provenance"]).get("intensity")[2] == (
        "variable uA (read as µA)"
    )


def test_import_says_where_each_value_came_from(tmp_path):
    path, _ = epocs_like(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(path),
            "-o",
            str(tmp_path / "e.h5"),
            "--pulse-width-us",
            "300",
            "--muscle",
            "SOL=soleus",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for line in (
        "trigger            channel STIM rising through 2.5 V  (header: TriggerChannel (TrapFilter))",
        "trigger threshold  2.5 V  (header: TriggerThreshold= 2500mV)",
        "intensity          7.5–31 mA  (header: state CurrentAmplitude at each onset × 0.001 (read",
        "pulse width        300 µs  (option: --pulse-width-us (read as µs))",
        "subject            rat 07  (header: SubjectName)",
        "species            human  (default)",
        "muscles            SOL=soleus, MG=?  (option: --muscle)",
        # stored as the samples EPOCS measures at 4 kHz: 7-12 ms = samples 28..47 (7-11.75 ms)
        "recorded windows   H SOL 7–11.75 ms mean_rect; M MG 10–19.75 ms mean_rect  (header: ",
    ):
        assert line in out, out
    assert "warning: " in out and "LookForward" in out  # the ignored trigger bounce


def test_csv_import_says_where_its_values_came_from(tmp_path):
    src = csv_file(tmp_path, "# species: rat\n# muscle: SOL=soleus\n")
    result = CliRunner().invoke(
        cli, ["import", str(src), "-o", str(tmp_path / "t.h5"), "--sample-rate", "2000"]
    )
    assert result.exit_code == 0, result.output
    for line in (
        "channels     SOL, MG  (header: 'channel' row/column)",
        "units        V  (default)",
        "sample rate  2000 Hz  (option: --sample-rate)",
        "pre-trigger  1 ms  (header: comment '# pre_trigger_ms:')",
        "intensity    5–10 mA  (header: row/column 'intensity_mA' (read as mA))",
        "species      rat  (header: comment '# species:')",
        "muscles      SOL=soleus, MG=?  (header)",
    ):
        assert line in result.output, result.output
    assert read_session(tmp_path / "t.h5").sample_rate_Hz == 2000.0
