"""Rate-dependent depression: stimulus trains, and H per train frequency.

Trains come from the file (``train_id``/``pulse_index``/``nominal_frequency_Hz``) or, when
the file has none, are inferred from the stimulus times: consecutive equal intervals at one
intensity form a train. Per frequency, the H of pulses ``pulse_index >= skip_first`` is
averaged and divided by the same at the reference frequency (the lowest by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hreflex.analysis.config import RddConfig
from hreflex.analysis.noise_shape import net_of_floor

#: train frequencies within this fraction of each other are pooled (and match reference_Hz)
FREQUENCY_TOLERANCE = 0.02


@dataclass(frozen=True)
class Trains:
    """Train membership of every stimulus, arrays (n_stimuli,): ``train_id`` (-1 outside
    trains), ``pulse_index`` (-1 outside), ``frequency_Hz`` (NaN outside); ``source`` is
    ``file``, ``inferred`` or ``none``."""

    train_id: np.ndarray
    pulse_index: np.ndarray
    frequency_Hz: np.ndarray
    source: str


def infer_trains(time_s: np.ndarray, intensity_mA: np.ndarray, cfg: RddConfig) -> Trains:
    """Trains from stimulus times (n,): runs of equal intervals (within
    ``interval_tolerance_ms``) at one intensity, of at least ``min_pulses`` pulses. A
    stimulus between two trains (no rest) starts the later one."""
    n = time_s.size
    none = Trains(np.full(n, -1), np.full(n, -1), np.full(n, np.nan), "none")
    if n < max(2, cfg.min_pulses) or not np.isfinite(time_s).all():
        return none
    d = np.diff(time_s)
    same_i = np.isclose(intensity_mA[1:-1], intensity_mA[:-2]) & np.isclose(
        intensity_mA[2:], intensity_mA[1:-1])
    equal = (np.abs(d[1:] - d[:-1]) <= cfg.interval_tolerance_ms * 1e-3) & same_i
    group = np.cumsum(np.r_[True, ~equal]) - 1  # per interval
    size = np.bincount(group) + 1  # pulses per group
    is_train = (size >= cfg.min_pulses) & (np.bincount(group, weights=d) > 0)
    g_start = np.r_[-1, group]  # interval ending at stimulus k (k>=1)
    g_next = np.r_[group, -1]  # interval starting at stimulus k
    member = np.where(g_next >= 0, g_next, 0)
    owner = np.where((g_next >= 0) & is_train[member], g_next,
                     np.where((g_start >= 0) & is_train[np.maximum(g_start, 0)], g_start, -1))
    if not (owner >= 0).any():
        return none
    ids, train_id = np.unique(owner[owner >= 0], return_inverse=True)
    tid = np.full(n, -1)
    tid[owner >= 0] = train_id
    first = np.full(ids.size, n)
    np.minimum.at(first, train_id, np.flatnonzero(owner >= 0))
    pulse = np.where(tid >= 0, np.arange(n) - first[np.maximum(tid, 0)], -1)
    mean_d = np.bincount(group, weights=d) / np.maximum(size - 1, 1)
    freq = np.where(tid >= 0, 1.0 / mean_d[np.maximum(owner, 0)], np.nan)
    return Trains(tid, pulse, freq, "inferred")


def trains_of(stimuli: np.ndarray, cfg: RddConfig) -> Trains:
    """Trains recorded in a STIMULUS table, else inferred from ``time_s``."""
    tid = np.asarray(stimuli["train_id"], dtype=np.int64)
    if (tid >= 0).any():
        freq = np.where(tid >= 0, stimuli["nominal_frequency_Hz"], np.nan)
        missing = (tid >= 0) & ~np.isfinite(freq)
        for t in np.unique(tid[missing]):  # per train (few): frequency from its times
            d = np.diff(stimuli["time_s"][tid == t])
            freq[tid == t] = 1.0 / np.mean(d) if d.size and np.all(d > 0) else np.nan
        return Trains(tid, np.asarray(stimuli["pulse_index"], np.int64), freq, "file")
    return infer_trains(np.asarray(stimuli["time_s"], float),
                        np.asarray(stimuli["intensity_mA"], float), cfg)


def frequency_groups(freq_Hz: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Cluster frequencies (n,) whose ratio is within 1 + ``tolerance``.
    Returns ``(centres_Hz (F,), group (n,))`` with -1 for NaN."""
    group = np.full(freq_Hz.shape, -1, dtype=np.int64)
    ok = np.isfinite(freq_Hz) & (freq_Hz > 0)
    if not ok.any():
        return np.zeros(0), group
    f = freq_Hz[ok]
    order = np.argsort(f)
    new = np.r_[True, f[order][1:] > f[order][:-1] * (1 + tolerance)]
    g = np.empty(f.size, dtype=np.int64)
    g[order] = np.cumsum(new) - 1
    group[ok] = g
    centres = np.bincount(g, weights=f) / np.bincount(g)
    return centres, group


@dataclass
class RddRow:
    """One train frequency: H of the pulses after the first ``skip_first`` (mV), its ratio
    to the reference frequency with its 95 % interval, M there, and the per-pulse mean H /
    reference mean."""

    frequency_Hz: float
    ratio: float | None
    h_mean_mV: float
    h_sd_mV: float | None
    n: int
    n_trains: int
    m_mean_mV: float | None
    per_pulse_ratio: list[float | None]
    ratio_ci95: tuple[float, float] | None = None


@dataclass
class RddResult:
    """RDD of one channel; ``rows`` empty and ``reason`` set when not determinable.
    ``floor_mV``: the noise amplitude of the H window (None: not known); ``amplitude``:
    ``"measure"`` (the configured measure, each mean net of that floor) or ``"matched"``
    (matched amplitudes, :mod:`hreflex.analysis.matched`)."""

    rows: list[RddRow] = field(default_factory=list)
    reference_Hz: float | None = None
    skip_first: int = 1
    source: str = "none"
    m_change_pct: float | None = None
    m_changed: bool | None = None
    floor_mV: float | None = None
    reason: str | None = None
    amplitude: str = "measure"


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def trial_variance(h_mV: np.ndarray, group: np.ndarray, train: np.ndarray,
                   pulse: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frequency group: the trial-to-trial variance of H around its course along the
    train, from second differences of consecutive pulses (``mean(d2^2) / 6``; a linear
    trend of depression drops out), first differences for 2-pulse runs (``mean(d^2) / 2``),
    and its degrees of freedom. Values (n,) must be the used sweeps only."""
    order = np.lexsort((pulse, train, group))
    g, tr, p, h = group[order], train[order], pulse[order], h_mV[order]
    same = (g[1:] == g[:-1]) & (tr[1:] == tr[:-1]) & (p[1:] == p[:-1] + 1)
    d1 = np.diff(h)
    two = same[1:] & same[:-1]
    d2 = d1[1:] - d1[:-1]
    s2 = np.bincount(g[2:][two], weights=d2[two] ** 2, minlength=n_groups)
    n2 = np.bincount(g[2:][two], minlength=n_groups)
    s1 = np.bincount(g[1:][same], weights=d1[same] ** 2, minlength=n_groups)
    n1 = np.bincount(g[1:][same], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(n2 > 0, s2 / (6 * n2), np.where(n1 > 0, s1 / (2 * n1), np.nan))
    return var, np.where(n2 > 0, n2, n1)


def _t_central(theta: float, dof: int, coef: np.ndarray) -> float:
    """P(|T| <= sqrt(dof) tan(theta)) of Student's t with integer ``dof``: the finite sums
    of Abramowitz & Stegun 26.7.3 (odd) and 26.7.4 (even), ``coef`` their coefficients."""
    c, sn = np.cos(theta), np.sin(theta)
    powers = c ** (2 * np.arange(coef.size) + (dof % 2))
    if dof % 2 == 0:
        return float(sn * np.sum(coef * powers))
    return float(2 / np.pi * (theta + (sn * np.sum(coef * powers) if dof > 1 else 0.0)))


@lru_cache(maxsize=256)  # a pure function of (q, dof); an analysis asks for few dofs, often
def t_quantile(q: float, dof: int) -> float:
    """The ``q`` quantile (0.5 < q < 1) of Student's t with integer ``dof`` >= 1 (what
    ``scipy.special.stdtrit`` gives, without importing scipy): bisection of the central
    probability 2q - 1 in theta = atan(t / sqrt(dof)), to double precision (cached: 60
    steps cost ~1 ms)."""
    dof = int(dof)
    k = np.arange(1, (dof + 1) // 2)  # enough ratios for either sum (sliced to length)
    if dof % 2 == 0:  # 1, 1/2, 1.3/(2.4), ... (dof / 2 terms)
        coef = np.cumprod(np.r_[1.0, (2 * k - 1) / (2 * k)])[: dof // 2]
    else:  # 1, 2/3, 2.4/(3.5), ... ((dof - 1) / 2 terms)
        coef = np.cumprod(np.r_[1.0, (2 * k) / (2 * k + 1)])[: (dof - 1) // 2]
    lo, hi = 0.0, np.pi / 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _t_central(mid, dof, coef) < 2 * q - 1 else (lo, mid)
    return float(np.sqrt(dof) * np.tan(0.5 * (lo + hi)))


def _ratio_ci(net: tuple[float, float], slope: tuple[float, float],
              se: tuple[float, float], dof: int) -> tuple[float, float] | None:
    """95 % interval of ``g(m_f) / g(m_ref)``, ``g`` = :func:`net_of_floor`, from the
    standard errors ``se`` of the two means: Fieller's interval (Student t) of the ratio of
    ``net`` = g(m) with standard errors ``slope`` x ``se`` (``slope`` = g'(m)), its ends
    clipped at 0 (an amplitude ratio is not negative). None where the reference cannot be
    told from 0 at that level (the interval is unbounded) or an input is not finite."""
    (a, b), (da, db), (ea, eb) = net, slope, se
    sa, sb = da * ea, db * eb
    if not (b > 0 and np.isfinite([a, sa, sb]).all()):
        return None
    t2 = float(t_quantile(0.975, max(dof, 1))) ** 2
    lead = b * b - t2 * sb * sb  # > 0: the reference is significantly above 0
    if not lead > 0:
        return None
    half = np.sqrt(t2 * (a * a * sb * sb + sa * sa * lead))
    return float(max((a * b - half) / lead, 0.0)), float(max((a * b + half) / lead, 0.0))


def rdd(h_mV: np.ndarray, m_mV: np.ndarray, include: np.ndarray, trains: Trains,
        cfg: RddConfig, floor_mV: float = float("nan"), shape: np.ndarray | None = None
        ) -> RddResult:
    """RDD of one channel from per-sweep H and M amplitudes (n,), ``include`` (n,) bool.

    Every mean H is taken net of the noise floor ``floor_mV`` (:func:`net_of_floor` with
    the H window's noise ``shape``, None = quadrature; a NaN floor = raw means).
    ``per_pulse_ratio[k]`` is the mean H of pulse k over the trains at that frequency
    divided by the reference mean (pulse 0 included: it shows the rested
    response). ``ratio_ci95``: 95 % interval from the trial variance
    (:func:`trial_variance`) of both means (docs/METRICS.md, step 7).
    """
    out = RddResult(skip_first=cfg.skip_first, source=trains.source,
                    floor_mV=_num(floor_mV))
    if trains.source == "none":
        out.reason = "no stimulus trains in the file and none inferred from stimulus times"
        return out
    centres, group = frequency_groups(trains.frequency_Hz, FREQUENCY_TOLERANCE)
    ok = include & (group >= 0) & np.isfinite(h_mV)
    use = ok & (trains.pulse_index >= cfg.skip_first)
    n_f = centres.size
    n = np.bincount(group[use], minlength=n_f)
    if not (n > 0).any():
        out.reason = f"no usable H after the first {cfg.skip_first} pulse(s) of any train"
        return out
    s1 = np.bincount(group[use], weights=h_mV[use], minlength=n_f)
    s2 = np.bincount(group[use], weights=h_mV[use] ** 2, minlength=n_f)
    mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
    sd = np.sqrt(np.clip((s2 - n * mean**2) / np.maximum(n - 1, 1), 0, None))
    net, slope = net_of_floor(mean, floor_mV, shape)
    var, dof = trial_variance(h_mV[use], group[use], trains.train_id[use],
                              trains.pulse_index[use], n_f)
    se = np.sqrt(var / np.maximum(n, 1))
    m_use = use & np.isfinite(m_mV)
    m_n = np.bincount(group[m_use], minlength=n_f)
    m_mean = np.where(m_n > 0, np.bincount(group[m_use], weights=m_mV[m_use], minlength=n_f)
                      / np.maximum(m_n, 1), np.nan)
    present = np.flatnonzero(n > 0)
    if cfg.reference_Hz > 0:
        near = present[np.argmin(np.abs(np.log(centres[present] / cfg.reference_Hz)))]
        if abs(centres[near] / cfg.reference_Hz - 1) > FREQUENCY_TOLERANCE:
            out.reason = (f"reference frequency {cfg.reference_Hz:g} Hz not among the trains "
                          f"({', '.join(f'{f:.3g}' for f in centres[present])} Hz)")
            return out
        ref = near
    else:
        ref = present[0]
    if not net[ref] > 0:
        out.reason = (f"mean H at the reference frequency {centres[ref]:.3g} Hz is 0"
                      + (f" once the noise floor ({floor_mV:.3g}) is taken out"
                         if np.isfinite(floor_mV) else ""))
        return out
    out.reference_Hz = float(centres[ref])
    n_pulses = int(trains.pulse_index[ok].max()) + 1
    cell = group[ok] * n_pulses + trains.pulse_index[ok]
    p_n = np.bincount(cell, minlength=n_f * n_pulses).reshape(n_f, n_pulses)
    p_sum = np.bincount(cell, weights=h_mV[ok], minlength=n_f * n_pulses).reshape(n_f, n_pulses)
    per_pulse = net_of_floor(np.where(p_n > 0, p_sum / np.maximum(p_n, 1), np.nan),
                             floor_mV, shape)[0] / net[ref]
    train_key = group[use] * (int(trains.train_id.max()) + 1) + trains.train_id[use]
    n_trains = np.bincount(np.unique(train_key) // (int(trains.train_id.max()) + 1),
                           minlength=n_f)
    for f in present:
        ratio = net[f] / net[ref]
        ci = None if f == ref else _ratio_ci(
            (net[f], net[ref]), (slope[f], slope[ref]), (se[f], se[ref]),
            int(min(dof[f], dof[ref])))
        out.rows.append(RddRow(
            frequency_Hz=float(f"{centres[f]:.4g}"), ratio=_num(ratio),
            h_mean_mV=float(mean[f]), h_sd_mV=_num(sd[f]) if n[f] > 1 else None, n=int(n[f]),
            n_trains=int(n_trains[f]), m_mean_mV=_num(m_mean[f]),
            per_pulse_ratio=[_num(v) for v in per_pulse[f]], ratio_ci95=ci))
    m_ref = m_mean[ref]
    if np.isfinite(m_ref) and m_ref > 0:
        out.m_change_pct = float(100 * (np.nanmax(m_mean[present]) - np.nanmin(m_mean[present]))
                                 / m_ref)
        out.m_changed = out.m_change_pct > cfg.m_change_pct
    return out
