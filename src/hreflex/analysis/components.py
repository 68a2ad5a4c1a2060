"""Evoked components of one channel: stretches of the sweep where the response, seen across all
intensity levels at once, has one intensity profile.

Input is the matrix of per-level mean sweeps ``X`` (n_levels, n_samples), volts. A wave whose
shape is fixed and whose size depends on intensity is, over its time span, the rank-1 matrix
``profile (n_levels,) x waveform (n_samples,)``: every phase of it shares the profile, however
many times it crosses zero. So the sweep is cut into

1. **runs**: where some level's activity (moving RMS) is significant, bridged over gaps of at
   most ``bridge`` samples;
2. **components**: each run split, recursively, where its two sides have different intensity
   profiles (binary segmentation on the rank-1 energy; an M-wave followed by an H-reflex with
   no quiet gap between them becomes two components).

For each component: its span, the amplitude profile (peak-to-peak of every level inside the
span), the matched waveform (the levels projected on the leading profile: the best-SNR
picture of the wave) and that waveform's noise. Pure functions over arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a split is accepted when the two sides' profiles have a cosine below this ...
SPLIT_COSINE = 0.9
#: ... or when it removes at least this fraction of the rank-1 residual of the whole run
SPLIT_GAIN = 0.6
#: the split's energy gain must exceed this many times what splitting noise alone gains
SPLIT_NOISE = 25.0
#: a second look (``apart``) keeps the best cut whose parts' profiles have a cosine below
#: this and whose gain exceeds APART_NOISE x what splitting noise gains
APART_COSINE = 0.75
APART_NOISE = 1000.0
#: touching components are demixed only when their profiles' cosine is below this
DEMIX_COSINE = 0.99
#: relative profiles must differ by more than this many noise SDs for a split on gain alone
PROFILE_SD = 4.0


@dataclass(frozen=True)
class Component:
    """One evoked component: samples ``start..stop-1`` of the sweep.

    ``profile_V`` (n_levels,): peak-to-peak of each level mean in the span; ``weights``
    (n_levels,): the unit leading profile (left singular vector, sum > 0); ``waveform_V``
    (n_samples of the whole sweep,): the level means projected on ``weights`` (scaled so a
    level with weight w shows w x waveform); ``noise_V``: RMS noise of ``waveform_V``."""

    start: int
    stop: int
    profile_V: np.ndarray
    weights: np.ndarray
    waveform_V: np.ndarray
    noise_V: float

    def peak_V(self) -> float:
        """Largest level peak-to-peak in the span."""
        return float(self.profile_V.max())


def moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Moving mean along the last axis over ``width`` samples, in ``x``'s dtype: sample i
    averages ``i - width // 2 .. i + (width - 1) // 2``, the edge samples repeated beyond
    the ends (``scipy.ndimage.uniform_filter1d`` with ``mode="nearest"``; a float64
    running sum, so no scipy import)."""
    width = max(1, int(width))
    left, right = width // 2, width - 1 - width // 2
    pad = [(0, 0)] * (x.ndim - 1) + [(left, right + 1)]
    padded = np.pad(x, pad, mode="edge")
    c = np.zeros(padded.shape)  # c[..., j] = sum of the first j padded samples
    np.cumsum(padded[..., :-1], axis=-1, dtype=np.float64, out=c[..., 1:])
    return ((c[..., width:] - c[..., :-width]) / width).astype(x.dtype, copy=False)


def moving_rms(x: np.ndarray, width: int) -> np.ndarray:
    """Moving RMS along the last axis over ``width`` samples (centred)."""
    return np.sqrt(np.maximum(moving_mean(x * x, width), 0.0))  # -1e-30 on silence


def runs_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the True runs of a 1-D mask."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def active_runs(active: np.ndarray, lo: int, hi: int, min_len: int, bridge: int
                ) -> list[tuple[int, int]]:
    """Runs of ``active[lo:hi]`` (1-D bool) as absolute (start, stop), gaps of at most
    ``bridge`` samples closed, runs shorter than ``min_len`` dropped."""
    starts, stops = runs_of(active[lo:hi])
    merged: list[list[int]] = []
    for a, b in zip(starts + lo, stops + lo, strict=True):
        if merged and a - merged[-1][1] <= bridge:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged if b - a >= min_len]


def _top_energy(gram: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of each symmetric matrix in ``gram`` (..., k, k)."""
    return np.linalg.eigvalsh(gram)[..., -1]


def _leading(x: np.ndarray) -> np.ndarray:
    """Unit leading left singular vector of x (L, n), sign so that its sum is >= 0."""
    u = np.linalg.svd(x, full_matrices=False)[0][:, 0]
    return u if u.sum() >= 0 else -u


def _profiles_differ(a: np.ndarray, b: np.ndarray, sigma_V: np.ndarray) -> float:
    """Largest difference between the relative amplitude profiles (peak-to-peak per level /
    the largest) of two parts, in units of its noise (peak-to-peak noise ~ 6 sigma)."""
    pa, pb = np.ptp(a, axis=1), np.ptp(b, axis=1)
    ea, eb = 6 * sigma_V / max(pa.max(), 1e-30), 6 * sigma_V / max(pb.max(), 1e-30)
    diff = np.abs(pa / max(pa.max(), 1e-30) - pb / max(pb.max(), 1e-30))
    noise = np.hypot(ea, eb)
    z = np.where(noise > 0, diff / np.where(noise > 0, noise, 1.0), np.where(diff > 1e-9,
                                                                            np.inf, 0.0))
    return float(z.max())


def best_split(x: np.ndarray, min_len: int, sigma_V: np.ndarray, apart: bool = False
               ) -> int | None:
    """Where to cut ``x`` (L, n) into two parts with different intensity profiles, or None.

    The cut maximises the rank-1 energy of the two parts together. It is accepted when the
    gain over one rank-1 fit of the whole exceeds ``SPLIT_NOISE`` x what splitting white
    noise of the levels' variance (``sigma_V`` (L,) RMS) would gain, and either the parts'
    profiles point apart (cosine < ``SPLIT_COSINE``) or the cut removes ``SPLIT_GAIN`` of the
    whole's residual with relative profiles that differ by more than ``PROFILE_SD`` x noise.
    With ``apart``, when that cut is not kept, the best cut whose parts' profiles have a
    cosine below ``APART_COSINE`` and whose gain exceeds ``APART_NOISE`` x the noise's is.
    """
    n_lv, n = x.shape
    if n_lv < 3 or n < 2 * min_len:
        return None
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(n_lv, n, 8)
    z = (u[:, :k].T @ x).T  # (n, k): the same energies in <= 8 dimensions
    outer = np.einsum("ti,tj->tij", z, z)
    cum = np.concatenate([np.zeros((1, k, k)), np.cumsum(outer, axis=0)])
    cuts = np.arange(min_len, n - min_len + 1)
    both = _top_energy(cum[cuts]) + _top_energy(cum[-1] - cum[cuts])
    j = int(np.argmax(both))
    cut, whole = int(cuts[j]), float(s[0] ** 2)
    gain, residual = float(both[j]) - whole, float(np.sum(s**2)) - whole
    noise_gain = float(np.mean(sigma_V**2)) * (n_lv + 2 * np.sqrt(n_lv * n))
    if gain <= SPLIT_NOISE * noise_gain:
        return None
    cosine = abs(float(_leading(x[:, :cut]) @ _leading(x[:, cut:])))
    if cosine < SPLIT_COSINE:
        return cut
    differ = gain >= SPLIT_GAIN * residual and _profiles_differ(x[:, :cut], x[:, cut:],
                                                                sigma_V) > PROFILE_SD
    if differ or not apart:
        return cut if differ else None
    left = np.linalg.eigh(cum[cuts])[1][..., -1]  # the parts' leading profiles (reduced)
    right = np.linalg.eigh(cum[-1] - cum[cuts])[1][..., -1]
    ok = (np.abs(np.sum(left * right, axis=1)) < APART_COSINE) & (
        both - whole > APART_NOISE * noise_gain)
    return int(cuts[np.flatnonzero(ok)[np.argmax(both[ok])]]) if ok.any() else None


def split_run(x: np.ndarray, a: int, b: int, min_len: int, sigma_V: np.ndarray,
              apart: bool = False) -> list[tuple[int, int]]:
    """Recursive binary segmentation of ``x[:, a:b]`` (see :func:`best_split`)."""
    cut = best_split(x[:, a:b], min_len, sigma_V, apart)
    if cut is None:
        return [(a, b)]
    return (split_run(x, a, a + cut, min_len, sigma_V, apart)
            + split_run(x, a + cut, b, min_len, sigma_V, apart))


def component(x: np.ndarray, sigma_V: np.ndarray, a: int, b: int) -> Component:
    """The :class:`Component` of samples ``a..b-1`` of the level means ``x`` (L, T) whose
    noise RMS per level is ``sigma_V`` (L,)."""
    seg = x[:, a:b]
    w = _leading(seg) if x.shape[0] > 1 else np.ones(1)
    return Component(a, b, seg.max(axis=1) - seg.min(axis=1), w, w @ x,
                     float(np.sqrt(np.sum(w**2 * sigma_V**2))))


def demix(comps: list[Component], x: np.ndarray, sigma_V: np.ndarray) -> list[Component]:
    """Each component's waveform with its touching neighbours' share taken out.

    Where two components touch (one ends where the other starts: a split run), each one's
    projection also holds the other's wave (profiles are not orthogonal). The waveforms of a
    component and its touching neighbours are then solved together by least squares,
    ``x[:, t] = sum_k weights_k a_k(t)``, when the profiles are distinct enough (cosine below
    ``DEMIX_COSINE``) and there are more levels than components."""
    out = []
    for k, c in enumerate(comps):
        group = [j for j in (k - 1, k, k + 1) if 0 <= j < len(comps)
                 and (j == k or (comps[j].stop == c.start or c.stop == comps[j].start)
                      and abs(float(comps[j].weights @ c.weights)) < DEMIX_COSINE)]
        if len(group) == 1 or x.shape[0] <= len(group):
            out.append(c)
            continue
        pinv = np.linalg.pinv(np.stack([comps[j].weights for j in group], axis=1))
        row = pinv[group.index(k)]
        out.append(Component(c.start, c.stop, c.profile_V, c.weights, row @ x,
                             float(np.sqrt(np.sum(row**2 * sigma_V**2)))))
    return out


def components(x: np.ndarray, sigma_V: np.ndarray, active: np.ndarray, lo: int, hi: int,
               min_len: int, bridge: int, split: np.ndarray | None = None) -> list[Component]:
    """Every evoked component of the level means ``x`` (L, T) between samples lo and hi:
    runs of ``active`` (T,) split by intensity profile, in time order, demixed. Profiles
    are compared over the levels ``split`` (bool (L,), default all; an unstimulated level
    tells nothing) and only when there are at least 3 of them."""
    use = np.ones(x.shape[0], bool) if split is None else split
    runs = active_runs(active, lo, hi, min_len, bridge)
    spans = runs if use.sum() < 3 else [
        s for a, b in runs for s in split_run(x[use], a, b, min_len, sigma_V[use])]
    return demix([component(x, sigma_V, a, b) for a, b in spans], x, sigma_V)
