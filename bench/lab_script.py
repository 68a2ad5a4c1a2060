"""A plain lab script: what a lab writes in an afternoon to get p2p / area / RMS of M and H
per intensity from a session file. The reference of ``bench/bench_e2e.py``.

    python bench/lab_script.py SESSION.h5 WINDOWS.json OUT.json

h5py reads the recording (all of it, as ``dataset[()]``) and the stimulus table; a loop over
the sweeps cuts each one (all channels), scales it to volts, removes its baseline (mean of
-55..-5 ms) and measures peak-to-peak, rectified area and RMS in each channel's M and H
window (``WINDOWS.json``: ``{"<channel>": {"m": [start_ms, stop_ms], "h": [...]}}``, the
windows hreflex found); sweeps are pooled per requested intensity (mean, n); JSON out.
"""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np


def main(path: str, windows_path: str, out_path: str) -> None:
    with h5py.File(path, "r") as f:
        emg = f["emg/continuous"][()]
        scale = f["emg/scale_V_per_count"][()]
        fs = float(f["emg"].attrs["sample_rate_Hz"])
        names = [n.decode() if isinstance(n, bytes) else n for n in f["emg/channel_names"][()]]
        events = f["stimuli/events"][()]
    windows = json.load(open(windows_path, encoding="utf-8"))
    first, last = int(np.floor(-55 * fs / 1000)), int(np.ceil(80 * fs / 1000))
    t = np.arange(first, last + 1) * 1000 / fs
    base = slice(np.searchsorted(t, -55 - 1e-9), np.searchsorted(t, -5))
    spans = [{w: slice(np.searchsorted(t, windows[n][w][0] - 1e-9),
                       np.searchsorted(t, windows[n][w][1] + 1e-9)) for w in ("m", "h")}
             for n in names]
    dt = 1000 / fs
    n_sw, n_ch = len(events), len(names)
    res = {f"{w}_{k}": np.full((n_sw, n_ch), np.nan) for w in "mh" for k in ("p2p", "area", "rms")}
    for i, s in enumerate(events["sample_index"]):
        if s + first < 0 or s + last >= len(emg):
            continue
        x = emg[s + first:s + last + 1] * scale
        x -= x[base].mean(axis=0)
        for c in range(n_ch):
            for w in ("m", "h"):
                seg = x[spans[c][w], c] * 1e3
                res[f"{w}_p2p"][i, c] = seg.max() - seg.min()
                res[f"{w}_area"][i, c] = np.abs(seg).sum() * dt
                res[f"{w}_rms"][i, c] = np.sqrt(np.mean(seg * seg))
    intensity = np.round(events["intensity_requested_mA"], 3)
    out = {"channels": names, "levels": []}
    for level in np.unique(intensity):
        pick = intensity == level
        out["levels"].append({"intensity_mA": float(level), "n": int(pick.sum()),
                              **{k: np.nanmean(v[pick], axis=0).tolist() for k, v in res.items()}})
    json.dump(out, open(out_path, "w", encoding="utf-8"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
