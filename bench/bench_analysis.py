"""Speed and memory of the analysis on a 1-hour, 4-channel, 10 kHz session with 2,000 stimuli.

    .venv/bin/python bench/bench_analysis.py [--cache /tmp/hreflex_bench.h5] [--rounds 7]

Everything is timed in one run, the contenders alternated round by round; medians. Prints:

- the per-sweep stage as the pipeline runs it (epochs, baseline, background, p2p / area /
  RMS / mean rectified in the M and H windows of every channel, pooling per intensity)
  against the same work in the per-sweep loop of ``bench/reference_loop.py`` (index ranges
  computed once, one slice per sweep): same numbers checked, target >= 5x;
- epoch + peak-to-peak against MNE-Python's ``Epochs`` (target >= 3x; skipped when ``mne``
  is not importable: a benchmark-only tool, ``pip install mne`` into the venv);
- all recruitment fits of the file (target <= 30 ms in total), and how far
  ``scipy.optimize.least_squares`` (the polisher before, on the same objective) moves them;
- the full ``analyze_session`` (target <= 5 s) and its peak memory against the raw data.

Exit status 0 only when every target is met (each line says MET or MISSED).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hreflex.analysis.channel as channel_module  # noqa: E402
from hreflex.analysis import AnalysisConfig, analyze_session  # noqa: E402
from hreflex.analysis.conditioning import remove_baseline  # noqa: E402
from hreflex.analysis.epochs import gather, make_epochs, to_volts  # noqa: E402
from hreflex.analysis.fitting import fit_setup  # noqa: E402
from hreflex.analysis.measures import background_rms, wave_amplitudes  # noqa: E402
from hreflex.analysis.models import PARAMS, measured_and_jacobian  # noqa: E402
from hreflex.analysis.noise_shape import table_of  # noqa: E402
from hreflex.analysis.pooling import intensity_levels, level_stats  # noqa: E402
from hreflex.io.session import read_session  # noqa: E402
from hreflex.io.writer import write_session  # noqa: E402
from hreflex.schedule import concat, fixed, rdd, recruitment  # noqa: E402
from hreflex.sim import get_preset, simulate_session  # noqa: E402
from reference_loop import index_ranges, per_sweep_loop  # noqa: E402

NAMES = {"p2p": "p2p_mV", "area": "area_mVms", "rms": "rms_mV", "mean_rect": "mean_rect_mV"}


def make_session():
    """~1 h of soleus_healthy x 4 channels at 10 kHz: 1,380 recruitment stimuli (23
    intensities x 60), 12 x 5 RDD trains of 10 pulses (0.5-10 Hz), 20 fixed stimuli."""
    p = get_preset("soleus_healthy")
    parts = [recruitment(start_mA=8, stop_mA=52, step_mA=2, sweeps=60, isi_s=1.62, jitter_s=0.4,
                         randomize=True, seed=0, pulse_width_us=1000)]
    parts += [rdd([0.5, 1, 2, 5, 10], intensity_mA=17.9, pulses_per_train=10, rest_s=10,
                  pulse_width_us=1000) for _ in range(12)]
    parts.append(fixed(intensity_mA=45, n_stimuli=20, isi_s=3, pulse_width_us=1000))
    session, _ = simulate_session(p, concat(*parts, gap_s=10), seed=0, sample_rate_Hz=10000,
                                  n_channels=4, contraction_probability=0.05)
    return session


def timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def project_stage(session, windows, start_ms, stop_ms, cfg, level, n_levels):
    """The per-sweep stage with the pipeline's own functions (``stages.prepare`` /
    ``measure``): make_epochs, remove_baseline, background_rms, wave_amplitudes,
    level_stats."""
    clip = np.iinfo(session.continuous.dtype).max * session.scale_V_per_count
    ep = make_epochs(session, start_ms, stop_ms, clip)
    t = ep.time_ms
    data, _ = remove_baseline(ep.data_V, t, cfg.conditioning.baseline_ms, overwrite=True)
    out = {"background_V": background_rms(data, t, cfg.qc.background_ms), "pooled": {}}
    everyone = np.ones(data.shape[:2], bool)
    for wave in ("m", "h"):
        amps = wave_amplitudes(data, t, windows, wave)
        out.update({f"{wave}_{NAMES[k]}": v for k, v in amps.items()})
        out["pooled"][wave] = np.array(level_stats(amps["p2p"], level, n_levels, everyone))
    return out


def check_same(ours: dict, ref: dict) -> None:
    """float32 sweeps (exact counts) vs the loop's float64: same numbers."""
    for key, value in ref.items():
        if key == "pooled":
            for wave in value:
                np.testing.assert_allclose(ours[key][wave], value[wave], rtol=2e-5, atol=1e-9,
                                           err_msg=f"pooled {wave}")
        else:
            np.testing.assert_allclose(ours[key], value, rtol=2e-5, atol=1e-9, err_msg=key)


def recorded_fits(session, cfg):
    """(model, x, means, counts, min_r2, noise shapes) of every ``fit_curves`` call of the
    analysis (one per model: all channels at once), and the result."""
    calls, fit = [], channel_module.fit_curves

    def spy(model, x, y, n, min_r2=0.8, shapes=None):
        calls.append((model, x.copy(), y.copy(), n.copy(), min_r2, shapes))
        return fit(model, x, y, n, min_r2, shapes)

    channel_module.fit_curves = spy
    try:
        result = analyze_session(session, cfg)
    finally:
        channel_module.fit_curves = fit
    return calls, result


def _residuals(q, model, x, y, w, table):
    return w * (measured_and_jacobian(model, x, q, table)[0] - y)


def _jacobian(q, model, x, y, w, table):
    return w[:, None] * measured_and_jacobian(model, x, q, table)[1]


def least_squares_change(calls, fits) -> float:
    """Largest relative parameter change when ``scipy.optimize.least_squares`` (trust
    region, same bounds, soft-L1 objective and Jacobian: the polisher before) polishes each
    fit further."""
    from scipy.optimize import least_squares

    worst = 0.0
    for (model, x_all, means, counts, _, _), row_fits in zip(calls, fits, strict=True):
        for y, n, f in zip(means, counts, row_fits, strict=True):
            if isinstance(f, str):
                continue
            use = (n > 0) & np.isfinite(y)
            x, y, w = x_all[use], y[use], np.sqrt(n[use].astype(float))
            (lo, hi), scale = fit_setup(model, x, y)
            p = np.array([f.params[k] for k in PARAMS[model]])
            table = table_of(f.shape)
            res = least_squares(_residuals, np.clip(p, lo, hi), jac=_jacobian,
                                bounds=(lo, hi), loss="soft_l1", f_scale=scale,
                                args=(model, x, y, w, table))
            worst = max(worst, float(np.max(np.abs(res.x - p) / np.maximum(np.abs(p),
                                                                           1e-12))))
    return worst


def mne_contender(session, start, n, sel):
    """A function doing epoch + p2p with MNE ``Epochs``, or None without mne."""
    try:
        import mne
    except ImportError:
        return None, None
    mne.set_log_level("ERROR")
    fs = session.sample_rate_Hz
    raw = mne.io.RawArray(session.to_volts(session.continuous).T,
                          mne.create_info(session.channel_names, fs, "emg"))
    n_st = len(session.stimuli)
    events = np.c_[session.stimuli["sample_index"], np.zeros(n_st, int), np.ones(n_st, int)]

    def theirs():
        ep = mne.Epochs(raw, events, tmin=start / fs, tmax=(start + n - 1) / fs,
                        baseline=None, preload=True, reject_by_annotation=False)
        return np.ptp(ep.get_data()[..., sel], axis=-1)

    return theirs, mne.__version__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None,
                    help="session file to reuse (written on first use)")
    ap.add_argument("--rounds", type=int, default=7, help="alternated rounds (medians)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        session, how = read_session(args.cache), f"read from {args.cache}"
    else:
        session, how = make_session(), "simulated"
        if args.cache:
            write_session(args.cache, session)
    raw_MB = session.continuous.nbytes / 1e6
    print(f"session: {session.duration_s:.0f} s, {session.n_channels} channels, "
          f"{session.sample_rate_Hz:g} Hz, {len(session.stimuli)} stimuli, raw {raw_MB:.0f} MB "
          f"({session.continuous.dtype}), {how} in {time.perf_counter() - t0:.1f} s")
    cfg = AnalysisConfig()
    calls, result = recorded_fits(session, cfg)
    windows = [c.windows for c in result.channels]
    win_ms = [{k: (getattr(w, k).start_ms, getattr(w, k).stop_ms) for k in ("m", "h")}
              for w in windows]
    start_ms, stop_ms = cfg.conditioning.baseline_ms[0], 80.0
    ranges = index_ranges(session.sample_rate_Hz, start_ms, stop_ms,
                          cfg.conditioning.baseline_ms, cfg.qc.background_ms, win_ms)
    levels, level = intensity_levels(session.stimuli["intensity_mA"],
                                     cfg.recruitment.intensity_tolerance)
    fs = session.sample_rate_Hz
    start, n = ranges["epoch"]
    sel = ranges["windows"][0]["m"]  # the M window of channel 0, a slice (no copy)
    theirs, mne_version = mne_contender(session, start, n, sel)

    def ours_p2p():
        sweeps, _ = gather(session.continuous, session.stimuli["sample_index"], start, n)
        volts, _ = to_volts(sweeps, session.scale_V_per_count)
        return np.ptp(volts[..., sel], axis=-1)

    contenders = {
        "stage": lambda: project_stage(session, windows, start_ms, stop_ms, cfg, level,
                                       levels.size),
        "loop": lambda: per_sweep_loop(session.continuous, session.scale_V_per_count,
                                       session.stimuli["sample_index"], fs, ranges, level,
                                       levels.size),
        "p2p": ours_p2p,
        "fits": lambda: [channel_module.fit_curves(*c) for c in calls],
        "full": lambda: analyze_session(session, cfg),
    }
    if theirs is not None:
        contenders["mne"] = theirs
    times: dict[str, list[float]] = {k: [] for k in contenders}
    values = {}
    for _ in range(args.rounds):  # alternated: every contender once per round
        for key, fn in contenders.items():
            dt, values[key] = timed(fn)
            times[key].append(dt)
    med = {k: float(np.median(v)) for k, v in times.items()}
    spread = {k: f"[{min(v):.3f}-{max(v):.3f}]" for k, v in times.items()}
    check_same(values["stage"], values["loop"])
    rows = [
        ("per-sweep stage: hreflex (epochs, baseline, background, 4 measures x 2 windows, "
         "pooling)", f"{med['stage']:.3f} s {spread['stage']}", "", None),
        ("per-sweep stage: reference loop (same numbers)",
         f"{med['loop']:.3f} s {spread['loop']}", "", None),
        ("  -> speed-up", f"{med['loop'] / med['stage']:.1f}x", ">= 5x",
         med["loop"] / med["stage"] >= 5),
        ("epoch + p2p: hreflex", f"{med['p2p']:.3f} s {spread['p2p']}", "", None),
    ]
    if theirs is None:
        rows.append(("epoch + p2p: MNE Epochs", "skipped", "mne not installed", None))
    else:
        np.testing.assert_allclose(values["mne"], values["p2p"], rtol=1e-6)
        rows += [(f"epoch + p2p: MNE {mne_version} Epochs (same numbers)",
                  f"{med['mne']:.3f} s {spread['mne']}", "", None),
                 ("  -> speed-up", f"{med['mne'] / med['p2p']:.1f}x", ">= 3x",
                  med["mne"] / med["p2p"] >= 3)]
    n_fits = sum(len(c[2]) for c in calls)
    rows += [(f"all {n_fits} recruitment fits ({len(calls)} batched calls)",
              f"{med['fits'] * 1e3:.1f} ms "
              f"[{min(times['fits']) * 1e3:.1f}-{max(times['fits']) * 1e3:.1f}]", "<= 30 ms",
              med["fits"] <= 0.030),
             ("  max relative change when least_squares polishes them",
              f"{least_squares_change(calls, values['fits']):.1e}", "", None),
             ("full analysis (analyze_session)", f"{med['full']:.2f} s {spread['full']}",
              "<= 5 s", med["full"] <= 5.0)]
    del result, values
    gc.collect()
    tracemalloc.start()
    analyze_session(session, cfg)
    peak_MB = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    ratio = (raw_MB + peak_MB) / raw_MB
    rows += [("peak memory: raw + analysis peak (tracemalloc)",
              f"{raw_MB:.0f} + {peak_MB:.0f} MB", "", None),
             ("  -> ratio to the raw data", f"{ratio:.2f}x", "<= 3x", ratio <= 3)]
    print(f"{args.rounds} rounds, alternated; medians [min-max]")
    width = max(len(r[0]) for r in rows)
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("  MET" if ok else "  MISSED")
        print(f"{name:<{width}}  {value:>24}  {target:>8}{mark}")
    return 0 if all(r[3] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
