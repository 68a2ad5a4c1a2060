"""Session layout: from config + plan + amplifier identity, through JSON, into a file."""

from __future__ import annotations

import json

import numpy as np

from hreflex.acquisition.config import parse_config
from hreflex.acquisition.layout import SessionLayout, session_layout
from hreflex.acquisition.plan import build_plan
from hreflex.io.format import decode_str
from hreflex.io.session import read_session

from .helpers import base_config


def test_layout_round_trip_into_a_session_file(tmp_path):
    cfg = parse_config(base_config(), "l.toml", text="# the config\n")
    layout = session_layout(cfg, build_plan(cfg), sample_rate_Hz=5000, scale_V_per_count=2.5e-7,
                            devices={"amplifier": {"model": "amp", "gain": np.float32(1000)}})
    assert layout.channel_names == ("SOL", "TA") and layout.channel_muscles == ("soleus",
                                                                                 "tibialis")
    assert layout.scale_V_per_count == (2.5e-7, 2.5e-7)  # one common scale for all channels
    assert layout.blocks == ((0, "recruitment", "recruitment"), (1, "rdd", "rdd"))
    text = json.dumps(layout.to_dict(), default=lambda v: v.item())  # as the journal stores it
    again = SessionLayout.from_dict(json.loads(text))
    assert again.meta == layout.meta and again.blocks == layout.blocks
    writer = again.create_writer(tmp_path / "l.h5", swmr=False)
    writer.append_samples(np.ones((3, 2), np.int16))
    writer.close()
    s = read_session(tmp_path / "l.h5")
    assert s.meta.subject_id == "S9" and s.sample_rate_Hz == 5000 and s.config_toml == "# the config\n"
    assert [decode_str(k) for k in s.blocks["kind"]] == ["recruitment", "rdd"]
    assert s.devices["amplifier"] == {"model": "amp", "gain": 1000.0}
    assert np.array_equal(s.scale_V_per_count, [2.5e-7, 2.5e-7]) and s.continuous.dtype == np.int16
