"""Speed and memory of the analysis on a 1-hour, 4-channel, 10 kHz session with 2,000 stimuli.

    .venv/bin/python bench/bench_analysis.py [--cache /tmp/hreflex_bench.h5] [--repeat 3]

Prints, in one run: the full analysis time (target <= 5 s), the per-sweep stage against the
straightforward per-sweep loop of ``bench/reference_loop.py`` (target >= 20x, and both must
give the same numbers), epoch + peak-to-peak against MNE-Python's ``Epochs`` (target >= 1x;
skipped when ``mne`` is not importable: it is a benchmark-only tool, install it in a
separate venv, e.g. ``python -m venv /tmp/bench && /tmp/bench/bin/pip install -e . mne``),
and peak memory of the analysis against the raw data (target <= 3x).
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

from hreflex.analysis import AnalysisConfig, analyze_session  # noqa: E402
from hreflex.analysis.conditioning import remove_baseline  # noqa: E402
from hreflex.analysis.epochs import gather, make_epochs, to_volts  # noqa: E402
from hreflex.analysis.measures import background_rms, measure_wave  # noqa: E402
from hreflex.io.session import read_session, write_session  # noqa: E402
from hreflex.schedule import concat, fixed, rdd, recruitment  # noqa: E402
from hreflex.sim import get_preset, simulate_session  # noqa: E402
from reference_loop import per_sweep_loop  # noqa: E402


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


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def vectorised_stage(session, windows, start_ms, stop_ms, cfg):
    """The per-sweep stage as the pipeline runs it."""
    clip = np.iinfo(session.continuous.dtype).max * session.scale_V_per_count
    ep = make_epochs(session, start_ms, stop_ms, clip)
    t = ep.time_ms
    data, _ = remove_baseline(ep.data_V, t, cfg.conditioning.baseline_ms, overwrite=True)
    bg = background_rms(data, t, cfg.qc.background_ms)
    out = {"background_V": bg}
    for wave in ("m", "h"):
        w = measure_wave(data, t, windows, wave, bg, cfg.windows.onset_sd, ep.saturated)
        for name in ("p2p_mV", "area_mVms", "rms_mV", "mean_rect_mV", "peak_ms", "onset_ms",
                     "clipped"):
            out[f"{wave}_{name}"] = getattr(w, name)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None,
                    help="session file to reuse (written on first use)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        session = read_session(args.cache)
        how = f"read from {args.cache}"
    else:
        session = make_session()
        how = "simulated"
        if args.cache:
            write_session(args.cache, session)
    raw_MB = session.continuous.nbytes / 1e6
    n_st = len(session.stimuli)
    print(f"session: {session.duration_s:.0f} s, {session.n_channels} channels, "
          f"{session.sample_rate_Hz:g} Hz, {n_st} stimuli, raw {raw_MB:.0f} MB "
          f"({session.continuous.dtype}), {how} in {time.perf_counter() - t0:.1f} s")
    cfg = AnalysisConfig()
    rows = []

    # 1. full analysis
    t_full, result = best_of(lambda: analyze_session(session, cfg), args.repeat)
    rows.append(("full analysis (analyze_session)", f"{t_full:.2f} s", "<= 5 s",
                 t_full <= 5.0))
    if args.cache and args.cache.exists():
        t_read, _ = best_of(lambda: read_session(args.cache), 1)
        rows.append(("  + read_session of the file", f"{t_read:.2f} s", "", True))

    # 2. per-sweep stage vs the per-sweep loop, on the windows the analysis found
    windows = [c.windows for c in result.channels]
    win_ms = [{**{k: (getattr(w, k).start_ms, getattr(w, k).stop_ms) for k in ("m", "h")},
               **{f"{k}_from": w.onset_search_ms(k) for k in ("m", "h")}} for w in windows]
    start_ms, stop_ms = cfg.conditioning.baseline_ms[0], 80.0
    t_vec, vec = best_of(lambda: vectorised_stage(session, windows, start_ms, stop_ms, cfg),
                         args.repeat)
    clip_counts = np.iinfo(session.continuous.dtype).max
    t_loop, ref = best_of(lambda: per_sweep_loop(
        session.continuous, session.scale_V_per_count, session.stimuli["sample_index"],
        session.sample_rate_Hz, start_ms, stop_ms, win_ms, cfg.conditioning.baseline_ms,
        cfg.qc.background_ms, clip_counts, cfg.windows.onset_sd, windows[0].smooth_ms), 1)
    for key, value in ref.items():  # float32 sweeps (exact counts) vs a float64 loop
        if key.endswith("onset_ms"):  # a threshold crossing may move by one sample
            close = np.isclose(vec[key], value, atol=1e-3, equal_nan=True)
            assert close.mean() > 0.999, (key, close.mean())
        else:
            np.testing.assert_allclose(vec[key], value, rtol=2e-5, atol=1e-9, err_msg=key)
    rows.append(("per-sweep stage: vectorised", f"{t_vec:.3f} s", "", True))
    rows.append(("per-sweep stage: reference loop", f"{t_loop:.2f} s", "", True))
    rows.append(("  -> speed-up (same numbers)", f"{t_loop / t_vec:.0f}x", ">= 20x",
                 t_loop / t_vec >= 20))

    # 3. epoch + peak-to-peak vs MNE Epochs
    m_win = windows[0].m
    fs = session.sample_rate_Hz
    start, n = int(np.floor(start_ms * fs / 1000)), int(np.ceil(stop_ms * fs / 1000))
    n = n - start + 1

    t_ms = (start + np.arange(n)) * 1000 / fs
    sel = (t_ms >= m_win.start_ms - 1e-9) & (t_ms <= m_win.stop_ms + 1e-9)  # M window samples

    def ours():
        sweeps, _ = gather(session.continuous, session.stimuli["sample_index"], start, n)
        volts, _ = to_volts(sweeps, session.scale_V_per_count)
        return np.ptp(volts[..., sel], axis=-1)

    t_ours, p2p_ours = best_of(ours, args.repeat)
    try:
        import mne
    except ImportError:
        rows.append(("epoch + p2p vs MNE Epochs", "skipped", "mne not installed", True))
    else:
        mne.set_log_level("ERROR")
        t_mk, raw = best_of(lambda: mne.io.RawArray(
            session.to_volts(session.continuous).T, mne.create_info(
                session.channel_names, fs, "emg")), 1)
        events = np.c_[session.stimuli["sample_index"], np.zeros(n_st, int), np.ones(n_st, int)]

        def theirs():
            ep = mne.Epochs(raw, events, tmin=start / fs, tmax=(start + n - 1) / fs,
                            baseline=None, preload=True, reject_by_annotation=False)
            return np.ptp(ep.get_data()[..., sel], axis=-1)

        t_mne, p2p_mne = best_of(theirs, args.repeat)
        np.testing.assert_allclose(p2p_mne, p2p_ours, rtol=1e-6)
        rows.append((f"epoch + p2p: hreflex ({session.continuous.dtype} raw)",
                     f"{t_ours:.3f} s", "", True))
        rows.append((f"epoch + p2p: MNE {mne.__version__} Epochs (RawArray built in "
                     f"{t_mk:.1f} s, not counted)", f"{t_mne:.3f} s", "", True))
        rows.append(("  -> hreflex / MNE speed-up (same numbers)", f"{t_mne / t_ours:.1f}x",
                     ">= 1x", t_mne >= t_ours))

    # 4. peak memory of the analysis (numpy allocations are traced by tracemalloc)
    del result
    gc.collect()
    tracemalloc.start()
    analyze_session(session, cfg)
    peak_MB = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    total = (raw_MB + peak_MB) / raw_MB
    rows.append(("peak memory: raw + analysis peak", f"{raw_MB:.0f} + {peak_MB:.0f} MB",
                 "", True))
    rows.append(("  -> ratio to the raw data", f"{total:.2f}x", "<= 3x", total <= 3))

    width = max(len(r[0]) for r in rows)
    for name, value, target, ok in rows:
        mark = "" if not target else ("  OK" if ok else "  MISSED")
        print(f"{name:<{width}}  {value:>14}  {target:>8}{mark}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
