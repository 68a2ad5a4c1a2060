"""Fixtures shared by the whole suite."""

from __future__ import annotations

import numpy as np
import pytest

from hreflex.io.format import BLOCK_DTYPE, FAULT_DTYPE, STIMULUS_DTYPE, empty_table
from hreflex.io.session import Session, SessionMeta


def small_session(n_samples: int = 5000, n_channels: int = 2, rate_Hz: float = 5000.0) -> Session:
    """A tiny but complete continuous session with every field filled (hand-made values)."""
    rng = np.random.default_rng(1)
    stimuli = empty_table(STIMULUS_DTYPE, 3)
    stimuli["sample_index"] = [1000, 2000, 3000]
    stimuli["time_s"] = stimuli["sample_index"] / rate_Hz
    stimuli["intensity_mA"] = [5.0, 10.0, 12.5]
    stimuli["intensity_requested_mA"] = [5.0, 10.0, 12.5]
    stimuli["pulse_width_us"] = 1000.0
    stimuli["pulse_width_requested_us"] = 1000.0
    stimuli["block_id"] = [0, 1, 1]
    stimuli["train_id"] = [-1, 0, 0]
    stimuli["pulse_index"] = [-1, 0, 1]
    stimuli["nominal_frequency_Hz"] = [np.nan, 5.0, 5.0]
    stimuli["sync_method"] = b"trigger"
    stimuli["sync_residual_samples"] = [0.0, 0.5, 0.25]
    stimuli["wait_s"] = [0.0, 1.5, 0.0]
    blocks = empty_table(BLOCK_DTYPE, 2)
    blocks["block_id"] = [0, 1]
    blocks["kind"] = [b"recruitment", b"rdd"]
    blocks["label"] = [b"soleus recruitment", b"soleus RDD"]
    faults = empty_table(FAULT_DTYPE, 1)
    faults[0] = (b"gap", 4000, 20, b"2 blocks missing (seq 200-201)")
    trigger = np.zeros(n_samples, np.uint8)
    trigger[stimuli["sample_index"]] = 1
    return Session(
        meta=SessionMeta(subject_id="S01", session_id="pre", species="human", muscle="soleus",
                         nerve="tibial", condition="baseline", notes="µ test ✓"),
        sample_rate_Hz=rate_Hz,
        channel_names=[f"ch{i}" for i in range(n_channels)],
        channel_muscles=["soleus", "tibialis anterior"][:n_channels],
        scale_V_per_count=np.full(n_channels, 1.5e-7),
        continuous=rng.integers(-2000, 2000, size=(n_samples, n_channels), dtype=np.int16),
        trigger=trigger,
        stimuli=stimuli,
        blocks=blocks,
        faults=faults,
        config_toml='[session]\nname = "test"\n',
        devices={"amplifier": {"model": "sim-amp", "firmware": "1.0", "protocol_version": 1,
                               "serial_number": "A1", "gain": 1000.0, "adc_bits": 16,
                               "highpass_Hz": 10.0, "lowpass_Hz": 2000.0}},
    )


@pytest.fixture
def session() -> Session:
    return small_session()
