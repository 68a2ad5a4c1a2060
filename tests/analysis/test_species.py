"""A species is the one a file names, however it spells it (``docs/FORMAT.md``, "Species
names"): the window priors and the H model of a rat file whose species reads "Rattus
norvegicus" are the rat's, not the human fall-backs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hreflex.analysis import analyze_session
from hreflex.analysis.config import DEFAULT_PRIORS, RecruitmentConfig, prior_for
from hreflex.species import canonical_species, latin_name
from hreflex.validation import simulate_case


@pytest.mark.parametrize(("text", "species"), [
    ("rat", "rat"), (" Rat ", "rat"), ("RATS", "rat"), ("Rattus norvegicus", "rat"),
    ("Sprague-Dawley rat", "rat"), ("rats (Wistar)", "rat"), ("Long Evans", "rat"),
    ("F344", "rat"), ("Homo sapiens", "human"), ("HUMAN", "human"), ("H. sapiens", "human"),
    ("Mus musculus", "mouse"), ("C57BL/6J mice", "mouse"), ("BALB/c", "mouse"),
    ("Felis catus", "cat"), ("rhesus macaque", "monkey"),
    # names of none (a word that only contains one is not it) or of two: the text itself
    ("pirate", "pirate"), ("Ratio", "ratio"), ("humane", "humane"), (" Zebrafish", "zebrafish"),
    ("rat and mouse", "rat and mouse"), ("", ""), (None, ""),
])
def test_a_species_is_the_one_named(text, species):
    assert canonical_species(text) == species


def test_latin_names():
    assert latin_name("rat") == "Rattus norvegicus" == latin_name("Wistar rats")
    assert latin_name(" human") == "Homo sapiens"
    assert latin_name(" Danio rerio ") == "Danio rerio"  # unknown: as it is, trimmed


def test_priors_and_h_model_follow_the_named_species():
    assert prior_for(DEFAULT_PRIORS, "Rattus norvegicus", "plantaris").name == "rat"
    assert prior_for(DEFAULT_PRIORS, "Homo sapiens", "soleus").name == "human triceps surae"
    assert RecruitmentConfig().for_species("Sprague-Dawley rat").h_model == "persistent"
    assert RecruitmentConfig().for_species("Homo sapiens").h_model == "bell"


def test_a_rat_file_named_in_latin_is_analysed_as_a_rat():
    session, _ = simulate_case("rat_sci", "preset", 1)
    assert session.meta.species == "rat"
    ref = analyze_session(session).to_dict()
    latin = replace(session, meta=replace(session.meta, species="Rattus norvegicus"))
    doc = analyze_session(latin).to_dict()
    assert not any("no window prior" in m for m in doc["messages"])
    assert doc["input"]["species"] == "Rattus norvegicus"  # the file's text, kept
    for ch, ch_ref in zip(doc["channels"], ref["channels"], strict=True):
        assert ch["windows_ms"] == ch_ref["windows_ms"]
        assert ch["recruitment"]["fits"]["h"]["model"] == "persistent"
        assert ch["recruitment"]["hmax_mV"] == ch_ref["recruitment"]["hmax_mV"]
    # a mouse has the rat's prior and H model (the human prior's H range holds no rodent H)
    mouse = analyze_session(replace(session, meta=replace(session.meta,
                                                         species="C57BL/6J mice"))).to_dict()
    assert not any("no window prior" in m for m in mouse["messages"])
    for ch, ch_ref in zip(mouse["channels"], ref["channels"], strict=True):
        assert ch["windows_ms"]["prior"] == "mouse"
        assert ch["windows_ms"]["h"] == ch_ref["windows_ms"]["h"]
        assert ch["recruitment"]["fits"]["h"]["model"] == "persistent"
        assert ch["recruitment"]["hmax_mV"] == ch_ref["recruitment"]["hmax_mV"]
    # and what the unknown spelling used to get: the human prior, so other windows
    other = replace(session, meta=replace(session.meta, species="rodent"))
    assert any("no window prior for species 'rodent'" in m
               for m in analyze_session(other).to_dict()["messages"])
