"""Shared test material: a small valid session configuration as a TOML-like dict."""

from __future__ import annotations

import copy
from typing import Any

_BASE: dict[str, Any] = {
    "metadata": {"subject": "S9", "session": "pre", "muscle": "soleus", "nerve": "tibial"},
    "devices": {
        "amplifier": {"port": "loop://", "sample_rate_Hz": 5000},
        "stimulator": {"port": "/dev/pts/7", "baud": 115200},
    },
    "channels": [{"name": "SOL", "muscle": "soleus"}, {"name": "TA", "muscle": "tibialis"}],
    "limits": {"max_intensity_mA": 30, "max_pulse_width_us": 1000, "max_rate_Hz": 5,
               "max_stimuli": 100},
    # 3 levels x 2 sweeps, 5 s apart; then RDD at 1 and 5 Hz, 3 pulses, 20 s rest
    "protocols": [
        {"kind": "recruitment", "intensities_mA": [10, 20, 15], "sweeps": 2, "isi_s": 5},
        {"kind": "rdd", "frequencies_Hz": [1, 5], "pulses_per_train": 3, "rest_s": 20,
         "test_intensity": {"from": "recruitment", "h_fraction": 0.5}},
    ],
    "schedule": {"seed": 3, "block_gap_s": 10},
}


def base_config() -> dict[str, Any]:
    """A fresh deep copy (tests mutate it)."""
    return copy.deepcopy(_BASE)
