"""Recruitment fits against independent expectations: noise-free curves from known
parameters give those parameters back (all of them, tightly), and a fit with a parameter on
its bound is a true constrained minimum of the soft-L1 cost (no feasible nudge lowers it)."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.fitting import fit_curve, fit_curves, fit_setup, lm_fit
from hreflex.analysis.models import MODELS, PARAMS, measured_and_jacobian

LEVELS = np.arange(4.0, 52.1, 2.0)  # 25 intensities
CASES = [
    ("boltzmann", dict(floor_mV=0.03, amp_mV=8.0, i50_mA=30.0, slope_mA=3.0)),
    ("boltzmann", dict(floor_mV=0.2, amp_mV=1.5, i50_mA=18.0, slope_mA=1.2)),
    ("bell", dict(floor_mV=0.03, amp_mV=6.0, i_rise_mA=15.0, k_rise_mA=2.0, i_fall_mA=26.0,
                  k_fall_mA=2.5)),
    ("bell", dict(floor_mV=0.1, amp_mV=3.0, i_rise_mA=10.0, k_rise_mA=1.0, i_fall_mA=35.0,
                  k_fall_mA=4.0)),
    # an H that persists at 85 % once the fall is over (the rat's)
    ("persistent", dict(floor_mV=0.05, amp_mV=4.0, i_rise_mA=15.0, k_rise_mA=1.5,
                        fall_after_mA=12.0, k_fall_mA=4.0, depth=0.15)),
]


def _noise_free(model: str, truth: dict) -> np.ndarray:
    shape = MODELS[model]
    params = {k: v for k, v in truth.items() if k != "floor_mV"}
    return np.hypot(shape(LEVELS, **params), truth["floor_mV"])


@pytest.mark.parametrize(("model", "truth"), CASES)
def test_noise_free_curves_give_their_parameters_back(model, truth):
    counts = np.resize([3, 4, 5], LEVELS.size)  # unequal weights change nothing here
    fit = fit_curve(model, LEVELS, _noise_free(model, truth), counts)
    assert fit.acceptable and fit.r2 > 1 - 1e-9
    for name in PARAMS[model]:
        assert fit.params[name] == pytest.approx(truth[name], rel=1e-4), name


def _cost(model, x, y, w, p, scale):
    r = w * (measured_and_jacobian(model, x, p)[0] - y)
    return float(np.sum(2 * (np.sqrt(1 + (r / scale) ** 2) - 1)))


def test_a_fit_on_its_bound_is_a_constrained_minimum():
    """An H curve that rises and never falls within the tested range (as in the accuracy
    corpus): the bell's fall runs into its bound. The fit must still be optimal in the other
    parameters, a constrained minimum (a step clipped at the bound must not stall them)."""
    x = np.linspace(0.3, 1.6, 27)
    y = np.array([0.0336, 0.0487, 0.0467, 0.0536, 0.0923, 0.2338, 0.6500, 1.0968, 1.5561,
                  1.7046, 1.7153, 1.6914, 1.7138, 1.6578, 1.6970, 1.6447, 1.6898, 1.6979,
                  1.6655, 1.6386, 1.6637, 1.6466, 1.6477, 1.6233, 1.6732, 1.6547, 1.6814])
    n = np.array([1, 3, 2, 3, 2, 3, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 1, 2, 3, 3, 3, 3, 2, 3, 3,
                  3, 3])  # level means of an H curve in the accuracy corpus
    fit = fit_curve("bell", x, y, n)
    (lo, hi), scale = fit_setup("bell", x, y)
    p = np.array([fit.params[k] for k in PARAMS["bell"]])
    assert fit.acceptable and (np.isclose(p, lo) | np.isclose(p, hi)).any()  # on a bound
    w = np.sqrt(n.astype(float))
    best = _cost("bell", x, y, w, p, scale)
    for j in range(p.size):
        for sign in (-1, 1):
            q = p.copy()
            q[j] = np.clip(q[j] * (1 + sign * 1e-4), lo[j], hi[j])
            assert _cost("bell", x, y, w, q, scale) >= best * (1 - 1e-12), (j, sign)


def test_channels_fitted_together_get_their_own_parameters():
    """Several curves in one batch (as the pipeline fits every channel): each gets back its
    own true parameters; a level without sweeps (n = 0, mean NaN) is left out of its curve
    only, and a curve with too few levels gets its reason."""
    model = "bell"
    truths = [CASES[2][1], CASES[3][1]]
    means = np.array([_noise_free(model, t) for t in truths] + [_noise_free(model, truths[0])])
    counts = np.full(means.shape, 4)
    means[1, 7], counts[1, 7] = np.nan, 0  # a level nobody stimulated on the second channel
    counts[2, 6:] = 0  # the third: 6 levels, one short of a bell fit
    fits = fit_curves(model, LEVELS, means, counts)
    for fit, truth in zip(fits[:2], truths, strict=True):
        assert fit.acceptable
        for name in PARAMS[model]:
            assert fit.params[name] == pytest.approx(truth[name], rel=1e-4), name
    assert fits[2] == "too few intensities for a bell fit (6 < 7)"




def _p2p_like():
    """A p2p-like noise shape: the quadrature plus a bias that rises, then fades."""
    from hreflex.analysis.noise_shape import X_NODES

    return np.hypot(X_NODES, 1.0) + 0.2 * X_NODES / (1.0 + 0.1 * X_NODES**1.5)


@pytest.mark.parametrize(("model", "truth"), CASES)
def test_curves_read_through_a_noise_shape_give_their_parameters_back(model, truth):
    """Level means made as floor * e(response / floor) with a non-quadrature shape e: the
    fit with that shape gets every parameter back; its analytic Jacobian is the numerical
    one."""
    from hreflex.analysis.noise_shape import ShapeTable

    e = _p2p_like()
    table = ShapeTable.of(e)
    p = np.array([truth[k] for k in PARAMS[model]])
    y = measured_and_jacobian(model, LEVELS, p[None, :], table)[0][0]
    fit = fit_curve(model, LEVELS, y, np.resize([3, 4, 5], LEVELS.size), shape=e)
    assert fit.acceptable and fit.to_dict()["noise_shape"] == "measured"
    for name in PARAMS[model]:
        assert fit.params[name] == pytest.approx(truth[name], rel=2e-3), name
    _, jac = measured_and_jacobian(model, LEVELS, p[None, :], table)
    for j in range(p.size):
        h = 1e-3 * max(abs(p[j]), 1e-3)  # over several table steps (it is interpolated)
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        num = (measured_and_jacobian(model, LEVELS, up[None, :], table)[0][0]
               - measured_and_jacobian(model, LEVELS, down[None, :], table)[0][0]) / (2 * h)
        np.testing.assert_allclose(jac[0, :, j], num, rtol=0.01,
                                   atol=0.01 * np.abs(num).max())


def test_a_start_on_the_floors_bound_gets_away_from_it():
    """A bootstrap replicate of a ramp of 15 levels x 3 sweeps (2-30 mA), refitted from a
    point estimate whose floor is 0, its lower bound. There hypot(s, floor) has no slope in
    the floor: from a start 1e-12 inside the bound the step was all noise, refused, and 12
    steps passed before anything moved (the bootstrap's 6 left the replicate where it
    started, and its intervals too narrow). The optimum has a floor of 0.007 mV."""
    x = np.linspace(2, 30, 15)
    y = np.array([0.00975, 0.010713, 0.149293, 0.935277, 1.386897, 1.044979, 1.107218,
                  0.691454, 0.224614, 0.094547, 0.03336, 0.017306, 0.002492, -0.00866,
                  0.011273])[None, :]
    p0 = np.array([[0.0, 1.5714, 7.9568, 0.8711, 15.4314, 1.6904]])
    bounds = (np.array([0.0, 0.0, -26.0, 0.056, -26.0, 0.056]),
              np.array([1.386897, 13.868967, 58.0, 28.0, 86.0, 56.0]))
    w = np.full(x.size, np.sqrt(3.0))
    start = _cost("bell", x, y[0], w, p0[0], 0.0699)
    best = lm_fit("bell", x, y, w, p0, bounds, 0.0699, iterations=400)
    few = lm_fit("bell", x, y, w, p0, bounds, 0.0699, iterations=6)
    assert best[2][0] and best[0][0, 0] > 0.005 and best[1][0] < 0.7 * start
    # six steps go nearly all the way (the old start: not one step in six)
    assert few[1][0] - best[1][0] < 0.01 * (start - best[1][0])
