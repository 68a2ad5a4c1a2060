"""The noise shape: how an amplitude measure reads a response in the channel's own noise,
checked against fresh noisy sweeps of known size and against the closed forms it must meet."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.analysis.fitting import fit_curve
from hreflex.analysis.models import bell
from hreflex.analysis.noise_shape import (
    MIN_STRETCHES,
    X_NODES,
    ShapeTable,
    net_of_floor,
    noise_shape,
    quadrature,
)

FS_HZ = 10_000.0
SIGMA_V = 10e-6


def _biphasic(n: int, centre: int, width: int) -> np.ndarray:
    """A biphasic wave (first derivative of a Gaussian), peak-to-peak 1."""
    t = (np.arange(n) - centre) / width
    w = -t * np.exp(-0.5 * t * t)
    return w / np.ptp(w)


def _sweeps(sizes_mV: np.ndarray, rng: np.random.Generator, colour: int = 1):
    """Sweeps from -60 to +40 ms with a biphasic wave of p2p ``sizes_mV`` at 25-35 ms in
    Gaussian noise (moving-averaged over ``colour`` samples, rescaled to SIGMA_V)."""
    time_ms = np.arange(-600, 400) / FS_HZ * 1e3
    noise = rng.normal(size=(sizes_mV.size, time_ms.size + colour - 1))
    noise = np.apply_along_axis(np.convolve, 1, noise, np.ones(colour), "valid")
    noise *= SIGMA_V / noise.std()
    a, b = np.searchsorted(time_ms, [25.0 - 1e-9, 35.0 + 1e-9])
    wave = np.zeros(time_ms.size)
    wave[a:b] = _biphasic(b - a, (b - a) // 2, 12)
    return time_ms, noise + sizes_mV[:, None] * 1e-3 * wave, (a, b)


def _shape(rng, measure="p2p", colour=1):
    time_ms, data, span = _sweeps(np.full(200, 0.5), rng, colour)
    k = span[1] - span[0]
    pre = data[:, 600 - k - 50:600 - 50]  # the stretch before -5 ms
    floor = float(np.median({"p2p": np.ptp(pre, axis=1) * 1e3,
                             "rms": np.sqrt((pre**2).mean(axis=1)) * 1e3}[measure]))
    e = noise_shape(data, time_ms, span, np.ones(200, bool), np.ones(200, bool),
                    (-55.0, -5.0), measure, floor)
    return e, floor


@pytest.mark.parametrize("colour", [1, 4])
def test_the_measured_shape_takes_fresh_noisy_readings_back_to_their_size(colour):
    """Mean p2p of fresh sweeps (noise the shape never saw) with a wave of 1-6 x the floor:
    the measured shape gives back the true size within 3 % of it; the quadrature is further
    off (it leaves a part of the bias in)."""
    rng = np.random.default_rng(11)
    e, floor = _shape(rng, colour=colour)
    assert e is not None and e[0] == pytest.approx(1.0, abs=0.1)
    for ratio in (1.5, 3.0, 6.0):
        size = ratio * floor
        _, data, (a, b) = _sweeps(np.full(4000, size), rng, colour)
        reading = float(np.ptp(data[:, a:b], axis=1).mean() * 1e3)
        shaped = float(net_of_floor(np.array([reading]), floor, e)[0][0])
        quad = float(net_of_floor(np.array([reading]), floor)[0][0])
        assert shaped == pytest.approx(size, rel=0.03)
        assert abs(quad - size) > abs(shaped - size)


def test_rms_in_white_noise_adds_in_quadrature():
    """For the RMS of a window in white noise E[rms^2] = rms_wave^2 + sigma^2: the measured
    shape is the quadrature, to the Monte Carlo's precision."""
    e, _ = _shape(np.random.default_rng(5), measure="rms")
    np.testing.assert_allclose(e, quadrature(), rtol=0.02)


def test_the_table_interpolates_the_nodes_and_their_derivative():
    """A ShapeTable of the quadrature nodes is sqrt(1 + x^2) and its derivative x / sqrt(1 +
    x^2) everywhere, one shape for all rows or one per row, and a shift of x beyond the
    last node."""
    x = np.linspace(0.0, 100.0, 20001)
    for table, xs in ((ShapeTable.of(quadrature()), x[None, :]),
                      (ShapeTable.of(np.repeat(quadrature()[None], 3, 0)), np.tile(x, (3, 1)))):
        value, slope = table(xs)
        np.testing.assert_allclose(value, np.hypot(xs, 1.0), rtol=1e-4)
        np.testing.assert_allclose(slope, xs / np.hypot(xs, 1.0), atol=5e-3)
    value, _ = ShapeTable.of(quadrature())(np.array([X_NODES[-1] + 10.0]))
    assert value[0] == pytest.approx(np.hypot(X_NODES[-1], 1.0) + 10.0)


def test_net_of_floor_inverts_the_shape():
    e = np.hypot(X_NODES, 1.0) + 0.15 * X_NODES / (1.0 + X_NODES)  # a p2p-like extra bias
    floor = 0.02
    sizes = np.array([0.0, 0.01, 0.03, 0.1, 0.5, 3.0])
    readings = floor * ShapeTable.of(e)(sizes / floor)[0]
    net, slope = net_of_floor(readings, floor, e)
    np.testing.assert_allclose(net[1:], sizes[1:], rtol=2e-3)
    # d net / d reading = 1 / e'(x): above 1 where the noise adds, 1 beyond the last node
    assert net[0] == 0.0 and np.all(slope[1:-1] > 1.0) and slope[-1] == 1.0


def test_no_shape_without_enough_pre_stimulus_noise():
    rng = np.random.default_rng(2)
    time_ms, data, span = _sweeps(np.full(40, 0.5), rng)
    few = np.zeros(40, bool)
    few[:MIN_STRETCHES - 1] = True
    common = (data, time_ms, span, np.ones(40, bool))
    assert noise_shape(*common, few, (-55.0, -5.0), "p2p", 0.05) is None
    assert noise_shape(*common, np.ones(40, bool), (-2.0, -1.0), "p2p", 0.05) is None
    assert noise_shape(*common, np.ones(40, bool), (-55.0, -5.0), "p2p", float("nan")) is None
    data[3, 500] = np.nan  # a lost sample in a pre-stimulus stretch: no shape, no NaN fit
    assert noise_shape(*common, np.ones(40, bool), (-55.0, -5.0), "p2p", 0.05) is None


def test_a_bell_fitted_with_the_measured_shape_finds_the_true_hmax():
    """Per-level means of fresh noisy sweeps of an H curve peaking at 3 x the floor: the fit
    with the measured shape gets Hmax within 4 %; the quadrature's fit reads it high."""
    rng = np.random.default_rng(8)
    e, floor = _shape(rng)
    levels = np.arange(4.0, 20.5, 1.0)
    true = bell(levels, 3.2 * floor, 9.0, 1.0, 14.0, 1.2)
    _, data, (a, b) = _sweeps(np.repeat(true, 400), rng)
    means = (np.ptp(data[:, a:b], axis=1) * 1e3).reshape(levels.size, 400).mean(axis=1)
    n = np.full(levels.size, 400)
    grid = np.linspace(levels[0], levels[-1], 2001)
    hmax_true = float(bell(grid, 3.2 * floor, 9.0, 1.0, 14.0, 1.2).max())
    shaped = fit_curve("bell", levels, means, n, shape=e)
    quad = fit_curve("bell", levels, means, n)
    assert float(shaped(grid).max()) == pytest.approx(hmax_true, rel=0.04)
    assert float(quad(grid).max()) > float(shaped(grid).max())
