"""Analysis config: the documented TOML equals the built-in defaults; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hreflex.analysis.config import (
    DEFAULT_PRIORS,
    AnalysisConfig,
    config_from_dict,
    load_config,
    prior_for,
)
from hreflex.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "analysis.toml"


def test_documented_config_is_exactly_the_defaults():
    assert load_config(CONFIG) == AnalysisConfig()
    assert load_config(None) == AnalysisConfig()


def test_partial_config_keeps_other_defaults():
    cfg = config_from_dict({"amplitude": "area", "rdd": {"skip_first": 2}})
    assert cfg.amplitude == "area" and cfg.rdd.skip_first == 2
    assert cfg.qc == AnalysisConfig().qc and cfg.rdd.m_change_pct == 20.0


def test_manual_windows_parse():
    cfg = config_from_dict({"windows": {"manual": {"SOL": {"h_ms": [30, 45]},
                                                   "*": {"m_ms": [5, 20]}}}})
    assert cfg.windows.manual == {"SOL": {"h": (30.0, 45.0)}, "*": {"m": (5.0, 20.0)}}


@pytest.mark.parametrize(("data", "words"), [
    ({"amplitud": "p2p"}, ["'amplitud'"]),
    ({"qc": {"background_max": 3}}, ["[qc]", "'background_max'"]),
    ({"amplitude": "peak"}, ["amplitude", "'peak'"]),
    ({"recruitment": {"min_r2": "high"}}, ["min_r2", "number"]),
    ({"rdd": {"skip_first": -1}}, ["skip_first", "[0, 1000]"]),
    ({"recruitment": {"min_r2": 5}}, ["min_r2", "[0, 1]", "5"]),
    ({"conditioning": {"notch_q": 0}}, ["notch_q", "(0, inf)"]),
    ({"rdd": {"min_pulses": 2.5}}, ["min_pulses", "whole number"]),
    ({"windows": {"onset_sd": float("nan")}}, ["onset_sd", "finite"]),
    ({"qc": {"background_floor_uV": float("inf")}}, ["background_floor_uV", "finite"]),
    ({"windows": "everywhere"}, ["source", "'everywhere'"]),
    ({"conditioning": {"baseline_ms": [0, -5]}}, ["baseline_ms", "start < stop"]),
    ({"windows": {"manual": {"SOL": {"x_ms": [1, 2]}}}}, ["manual.SOL", "'x_ms'"]),
    ({"windows": {"priors": [{"name": "x"}]}}, ["priors[0]", "missing"]),
    ({"recruitment": {"threshold_method": "4x"}}, ["threshold_method", "'4x'"]),
    ({"qc": {"exclude": ["gap"]}}, ["exclude", "'gap'"]),
])
def test_errors_name_the_key(data, words):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, where="my.toml")
    assert "my.toml" in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_bad_file_is_a_config_error(tmp_path):
    bad = tmp_path / "a.toml"
    bad.write_text("amplitude = \n")
    with pytest.raises(ConfigError, match="a.toml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(("species", "muscle", "name"), [
    ("human", "soleus", "human triceps surae"),
    ("Human", "Medial Gastrocnemius", "human triceps surae"),
    ("human", "flexor carpi radialis", "human forearm flexors"),
    ("human", "tibialis anterior", "human"),
    ("rat", "plantar interosseous", "rat"),
    ("C57BL/6 mouse", "gastrocnemius", "mouse"),
    ("cat", "soleus", "human"),  # unknown species: the first species-only prior
])
def test_prior_choice(species, muscle, name):
    assert prior_for(DEFAULT_PRIORS, species, muscle).name == name


def test_threshold_default_depends_on_method():
    assert config_from_dict({}).recruitment.threshold == 0.05
    assert config_from_dict({"recruitment": {"threshold_method": "mmax"}}).recruitment.threshold == 0.1
    cfg = config_from_dict({"recruitment": {"threshold_method": "background",
                                            "threshold_value": 4}})
    assert cfg.recruitment.threshold == 4.0


@pytest.mark.parametrize(("value", "kept"), [(50, "50"), (60.0, "60"), ("60", "60"),
                                             ("off", "off")])
def test_mains_as_a_number_or_a_word(value, kept):
    assert config_from_dict({"conditioning": {"mains": value}}).conditioning.mains == kept


@pytest.mark.parametrize("value", [55, 50.5, True, "55", "50 Hz"])
def test_a_mains_that_is_not_50_or_60_is_refused_by_name(value):
    with pytest.raises(ConfigError, match=r"\[conditioning\] mains"):
        config_from_dict({"conditioning": {"mains": value}})
