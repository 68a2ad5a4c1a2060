"""Session configuration: shipped configs, defaults, and one-line errors naming the key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hreflex.acquisition.config import DerivedIntensity, load_config, parse_config
from hreflex.acquisition.plan import build_plan, check_plan
from hreflex.errors import ConfigError

from .helpers import base_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = ["soleus_recruitment", "soleus_rdd", "fcr_recruitment", "rat_sci_rdd", "demo"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load_and_fit_their_limits(name):
    cfg = load_config(CONFIGS / f"{name}.toml")
    check_plan(build_plan(cfg, seed=1))
    assert cfg.text.startswith("#") and cfg.source == f"{name}.toml"


def test_demo_runs_in_well_under_a_minute_at_its_speed_factor():
    cfg = load_config(CONFIGS / "demo.toml")
    plan = build_plan(cfg)
    assert cfg.amplifier.connection.emulated and cfg.stimulator.connection.emulated
    assert [p.kind for p in cfg.protocols] == ["recruitment", "rdd"]
    device_s = plan.schedule.duration_s
    assert 60 < device_s < 300  # "a few minutes" of device time
    assert device_s / cfg.emulator.speed_factor < 30


def test_defaults_and_resolved_values():
    cfg = parse_config(base_config(), "t.toml")
    assert cfg.amplifier.connection.port == "loop://"
    assert cfg.amplifier.samples_per_block == 5  # 1 ms at 5 kHz
    assert cfg.stimulator.heartbeat_timeout_ms == 1000 and cfg.stimulator.connection.baud == 115200
    assert cfg.meta.species == "human" and cfg.meta.subject_id == "S9"
    assert (cfg.sweep.pre_ms, cfg.sweep.post_ms) == (50.0, 100.0)
    assert cfg.recording.flush_interval_s == 0.25 and cfg.recording.journal
    rc, rdd = cfg.protocols
    assert rc.intensities_mA == (10, 20, 15) and rc.pulse_width_us == 1000 and rc.jitter_s == 0
    assert rdd.test_intensity_mA == DerivedIntensity(source_block=0, h_fraction=0.5)
    assert cfg.gating is None and cfg.emulator is None


def test_intensity_range_is_inclusive():
    data = base_config()
    data["protocols"][0] = {"kind": "recruitment", "start_mA": 4, "stop_mA": 7, "step_mA": 0.5,
                            "isi_s": 8}
    assert parse_config(data).protocols[0].intensities_mA == (4, 4.5, 5, 5.5, 6, 6.5, 7)


def test_usb_match_and_gating_and_output_name():
    data = base_config()
    data["devices"]["amplifier"] = {"vid": 0x16C0, "pid": 0x0483, "serial_number": "77",
                                    "sample_rate_Hz": 20000, "samples_per_block": 40}
    data["gating"] = {"channel": "TA", "max_rms_uV": 25}
    data["recording"] = {"output_dir": "out", "name": "{subject}-{session}-{date}"}
    cfg = parse_config(data)
    c = cfg.amplifier.connection
    assert (c.vid, c.pid, c.serial_number, c.port) == (0x16C0, 0x0483, "77", None)
    g = cfg.gating
    assert (g.channel, g.min_rms_uV, g.max_rms_uV, g.window_ms, g.hold_s) == ("TA", 0, 25, 50, 2)
    path = cfg.output_path(datetime(2024, 3, 5, 14, 7, 9))
    assert path == Path("out/S9-pre-20240305.h5")


def _set(data, dotted, value):
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

BAD = [
    # (what to change, value, text the one-line message must contain)
    ("limits.max_current_mA", 5, "[limits]: unknown key 'max_current_mA'"),
    ("devices.stimulator", _DELETE, "[devices]: missing key 'stimulator'"),
    ("devices.amplifier.port", _DELETE, "[devices.amplifier]: give exactly one of port"),
    ("devices.amplifier.vid", 0x16C0, "[devices.amplifier]: give exactly one of port"),
    ("devices.amplifier.sample_rate_Hz", -5, "[devices.amplifier]: sample_rate_Hz must be >= 1"),
    # the protocol's CONFIGURE_AMPLIFIER ranges (PROTOCOL.md: 1-20000 Hz, a block fits 8192 B)
    ("devices.amplifier.sample_rate_Hz", 1_000_000,
     "[devices.amplifier]: sample_rate_Hz must be <= 20000, got 1000000"),
    ("devices.amplifier.samples_per_block", 4096,
     "samples_per_block: 4096 samples per block is outside 1 … 1633"),
    ("channels", [{"name": f"c{i}"} for i in range(17)], "17 channels, an amplifier has at most 16"),
    # counts and seeds that no session can use
    ("limits.max_stimuli", 1e300, "[limits]: max_stimuli must be <= 1000000, got 1e+300"),
    ("schedule", {"seed": 2**64}, "[schedule]: seed must be <= 18446744073709551615, got "
                                  "18446744073709551616"),
    ("schedule", {"seed": -3}, "[schedule]: seed must be >= 0"),
    ("emulator", {"preset": "soleus_healthy", "seed": 2**70}, "[emulator]: seed must be <= "),
    ("protocols.0.sweeps", 10**12, "sweeps must be <= 1000000"),
    ("protocols.0.isi_s", 1e300, "isi_s must be <= 86400, got 1e+300"),
    ("protocols.0.pulse_width_us", 0.5, "pulse_width_us must be >= 1, got 0.5"),
    ("protocols.1.frequencies_Hz", [1e-300], "frequencies_Hz must be >= 1.15741e-05"),
    ("sweep", {"post_ms": 1e300}, "[sweep]: post_ms must be <= 10000"),
    ("limits.max_intensity_mA", 1e300, "[limits]: max_intensity_mA must be <= 4.29497e+06"),
    ("protocols.0.isi_s", -1, "[[protocols]] #1 (recruitment): isi_s must be > 0, got -1"),
    ("protocols.0.sweeps", 1.5, "[[protocols]] #1 (recruitment): sweeps must be an integer"),
    ("protocols.0.start_mA", 3, "#1 (recruitment): give intensities_mA or start_mA"),
    ("protocols.0.kind", "ramp", "[[protocols]] #1: kind must be one of recruitment, rdd, fixed"),
    ("protocols.1.test_intensity_mA", 12, "#2 (rdd): give exactly one of test_intensity_mA"),
    ("protocols.1.test_intensity.from", "warmup", "test_intensity: from = 'warmup' needs an"),
    ("protocols.1.test_intensity.h_fraction", 1.5, "test_intensity: h_fraction must be <= 1"),
    ("protocols.1.frequencies_Hz", [], "#2 (rdd): frequencies_Hz must be a non-empty list"),
    ("limits.max_rate_Hz", True, "[limits]: max_rate_Hz must be a number, got True"),
    ("limits.max_stimuli", _DELETE, "[limits]: missing key 'max_stimuli'"),
    ("channels.1.name", "SOL", "[[channels]]: name 'SOL' is used twice"),
    ("channels", [], "[[channels]] needs at least one entry"),
    ("gating", {"channel": "MG", "max_rms_uV": 20}, "[gating]: channel 'MG' is not one of"),
    ("gating", {"max_rms_uV": 20, "min_rms_uV": 30}, "[gating]: max_rms_uV must be > 30"),
    ("recording", {"flush_interval_s": 1.0}, "[recording]: flush_interval_s must be <= 0.5"),
    ("recording", {"name": "{subject}_{site}"}, "[recording]: name has unknown placeholder {site}"),
    ("sweep", {"post_ms": 40, "H_window_ms": [30, 45]}, "[sweep]: H_window_ms [30.0, 45.0] must"),
    ("sweep", {"M_window_ms": [20, 6]}, "[sweep]: M_window_ms must be [start, end]"),
    ("devices.amplifier.emulated", True, "give exactly one of port"),
    ("emulator", {"preset": "soleus_healthy", "speed": 3}, "[emulator]: unknown key 'speed'"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_error_naming_the_key(key, value, message):
    data = base_config()
    _set(data, key, value)
    with pytest.raises(ConfigError) as err:
        parse_config(data, "x.toml")
    text = str(err.value)
    assert text.startswith("x.toml") and "\n" not in text
    assert message in text


def test_emulated_devices_need_an_emulator_with_a_known_preset():
    data = base_config()
    data["devices"]["amplifier"] = {"emulated": True, "sample_rate_Hz": 5000}
    with pytest.raises(ConfigError, match=r"emulated = true but \[emulator\] is missing"):
        parse_config(data)
    data["emulator"] = {"preset": "horse"}
    with pytest.raises(ConfigError, match=r"\[emulator\]: preset 'horse'"):
        parse_config(data)
    data["emulator"] = {"preset": "rat_sci", "speed_factor": 4}
    assert parse_config(data).emulator.speed_factor == 4


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)


def test_emulator_speed_for_devices_emulated_elsewhere_needs_no_preset():
    data = base_config()  # devices on ports
    data["emulator"] = {"speed_factor": 10}
    cfg = parse_config(data, "x.toml")
    assert cfg.emulator.speed_factor == 10 and cfg.emulator.preset is None
    data["devices"]["amplifier"] = {"emulated": True, "sample_rate_Hz": 5000}
    with pytest.raises(ConfigError, match=r"x.toml \[emulator\]: missing key 'preset'"):
        parse_config(data, "x.toml")


def test_seeds_beyond_64_bits_and_huge_plans_are_refused_before_building():
    cfg = parse_config(base_config(), "x.toml")
    with pytest.raises(ConfigError, match=r"--seed must be an integer in 0 … 18446744073709551615"):
        build_plan(cfg, seed=2**64)
    assert build_plan(cfg, seed=2**64 - 1).seed == 2**64 - 1
    data = base_config()
    data["limits"]["max_stimuli"] = 1_000_000
    data["protocols"][0]["sweeps"] = 1_000_000  # 3 intensities: 3e6 stimuli, never built
    with pytest.raises(ConfigError, match="max_stimuli = 1000000 but the protocols plan 3000"):
        build_plan(parse_config(data, "x.toml"))
    data["protocols"][0] = {"kind": "recruitment", "start_mA": 0, "stop_mA": 40,
                            "step_mA": 1e-9, "isi_s": 8}
    with pytest.raises(ConfigError, match=r"step_mA = 1e-09 makes more than 1000000 intensities"):
        parse_config(data, "x.toml")
