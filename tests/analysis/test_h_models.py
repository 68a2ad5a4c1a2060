"""The H recruitment model by species: a rat's H that persists with a supramaximal M is
fitted by the ``persistent`` model, whose maximum is the curve's, where the bell (which must
fall to 0) reads it low; ``auto`` picks the model from the species."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.config import RecruitmentConfig, config_from_dict
from hreflex.analysis.models import bell, sigmoid
from hreflex.analysis.recruitment import recruitment
from hreflex.errors import ConfigError

LEVELS = np.arange(0.30, 1.601, 0.05)  # mA, a rat recruitment run


def _rat_curves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M (Boltzmann) and an H whose afferent drive saturates while collision with the
    antidromic motor volley takes away 10 % of it as M is recruited (mV)."""
    m = sigmoid((x - 0.70) / 0.12)
    h = 1.9 * sigmoid((x - 0.62) / 0.04) * (1 - 0.1 * m)
    return 6.0 * m, h


def _hmax(model: str) -> float:
    m, h = _rat_curves(LEVELS)
    n = np.full(LEVELS.size, 3.0)
    cfg = RecruitmentConfig(h_model=model)
    r = recruitment(LEVELS, (m, 0.01 * m + 1e-3, n), (h, 0.01 * h + 1e-3, n), (None, None), cfg)
    assert r.h_fit.model == model and r.hmax_source == "fit"
    return r.hmax_mV


def test_a_persisting_h_is_read_at_its_maximum_by_the_persistent_model():
    fine = np.linspace(LEVELS[0], LEVELS[-1], 200001)
    true_max = float(_rat_curves(fine)[1].max())
    assert _hmax("persistent") == pytest.approx(true_max, rel=1e-3)
    # the bell must fall to 0, so it rounds the corner off: more than 0.4 % low
    assert _hmax("bell") < true_max * (1 - 4e-3)


@pytest.mark.parametrize(("species", "model"), [("rat", "persistent"), (" Rat ", "persistent"),
                                                ("human", "bell"), ("", "bell"),
                                                (None, "bell"), ("cat", "bell")])
def test_auto_takes_the_species_model(species, model):
    assert RecruitmentConfig().for_species(species).h_model == model
    # a configured model is kept whatever the species
    assert RecruitmentConfig(h_model="bell").for_species("rat").h_model == "bell"


def test_an_unknown_h_model_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[recruitment\] h_model: 'gauss' is not one of"):
        config_from_dict({"recruitment": {"h_model": "gauss"}}, where="x.toml")
    assert config_from_dict({"recruitment": {"h_model": "persistent"}},
                            where="x.toml").recruitment.h_model == "persistent"


def test_the_persistent_model_still_fits_an_h_that_falls_away():
    """A rat whose H does fall to 0 (a bell): the persistent model is the bell at depth 1,
    so it gets the curve and its maximum back."""
    truth = dict(amp_mV=2.0, i_rise_mA=0.62, k_rise_mA=0.04, i_fall_mA=1.0, k_fall_mA=0.1)
    h = bell(LEVELS, **truth)
    n = np.full(LEVELS.size, 3.0)
    r = recruitment(LEVELS, None, (np.hypot(h, 0.05), np.full(h.size, 0.01), n), (None, None),
                    RecruitmentConfig(h_model="persistent"))
    fine = np.linspace(LEVELS[0], LEVELS[-1], 20001)
    assert r.h_fit.params["depth"] == pytest.approx(1.0, abs=1e-4)
    assert r.h_fit.params["fall_after_mA"] == pytest.approx(1.0 - 0.62, rel=1e-3)
    assert r.hmax_mV == pytest.approx(bell(fine, **truth).max(), rel=1e-4)
