#!/usr/bin/env python3
"""Regenerate the files in sample_data/ (deterministic: fixed seeds, fixed creation time).

    .venv/bin/python sample_data/make_sample_data.py

``soleus_recruitment.h5``: a simulated healthy-soleus recruitment curve (10 intensities from
6 to 42 mA, 3 sweeps each, 3 s apart, 2 channels at 2.5 kHz) plus a short RDD block, written
through the same code path as ``hreflex simulate``. Small enough to ship (< 2 MB).
"""

from __future__ import annotations

from pathlib import Path

from hreflex.io.writer import write_session
from hreflex.schedule import concat, rdd, recruitment
from hreflex.sim import get_preset, simulate_session

HERE = Path(__file__).resolve().parent
CREATED_UTC = "2026-01-01T00:00:00+00:00"


def main() -> None:
    schedule = concat(
        recruitment(start_mA=6, stop_mA=42, step_mA=4, sweeps=3, isi_s=3.0, jitter_s=0.5, seed=7),
        rdd([0.2, 1.0, 5.0], intensity_mA=14.0, pulses_per_train=5, rest_s=5.0),
    )
    session, _ = simulate_session(get_preset("soleus_healthy"), schedule, seed=7, sample_rate_Hz=2500.0)
    session.meta.created_utc = CREATED_UTC
    session.meta.session_id = "sample"
    out = write_session(HERE / "soleus_recruitment.h5", session)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(session.stimuli)} stimuli)")


if __name__ == "__main__":
    main()
