"""The bench joins the devices: a pulse lands in the amplifier data at the sample index its true
time has on the amplifier's drifting clock, in the trigger bit and in the EMG, and the
stimulator's reports run on its own clock. Checked through the host drivers."""

from __future__ import annotations

import numpy as np

from hreflex.sim import EmgSynth, get_preset
from tests.devices.helpers import Collector

RATE_HZ = 5000
PPM_AMP, PPM_STIM = 80.0, -60.0


def fire_every(bench, stim, got: Collector, n: int, interval_s: float) -> list:
    """Fire ``n`` pulses ``interval_s`` apart (experiment time) while collecting samples."""
    events = []
    for k in range(n):
        due = bench.true_time_s() + interval_s
        got.pump(lambda c, due=due: bench.true_time_s() >= due, what=f"pulse {k}")
        events.append(stim.fire())
    return events


def rising_edges(digital: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start rows and lengths of the runs of trigger bit 0."""
    bit = np.r_[0, digital & 1, 0].astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(bit) == 1), np.flatnonzero(np.diff(bit) == -1)
    return starts, ends - starts


def test_trigger_bit_marks_the_truth_and_the_clocks_drift(rig) -> None:
    bench = rig.bench(signal="test", sample_rate_Hz=RATE_HZ, drift_ppm=(PPM_AMP, PPM_STIM))
    amp, stim = rig.amplifier(bench), rig.stimulator(bench)
    amp.start()
    stim.set_stimulus(20.0, 1000)
    stim.arm()
    got = Collector(amp)
    events = fire_every(bench, stim, got, n=15, interval_s=1.5)
    got.pump(lambda c: c.last_index > bench.delivered[-1].amplifier_sample_index + 100)
    truth = bench.delivered
    idx = got.indices()
    assert np.array_equal(idx, np.arange(len(idx)))
    starts, lengths = rising_edges(got.digital())
    # exactly the delivered pulses, each high for the 1 ms pulse (5 samples at 5 kHz)
    assert starts.tolist() == [t.amplifier_sample_index for t in truth]
    assert lengths.tolist() == [5] * len(truth)
    assert [e.device_time_us for e in events] == [t.stimulator_time_us for t in truth]

    # the host's view: trigger index against the stimulator's reported device time
    t_stim_s = np.array([e.device_time_us for e in events]) * 1e-6
    slope, offset = np.polyfit(t_stim_s, starts, 1)
    expected = RATE_HZ * (1 + PPM_AMP * 1e-6) / (1 + PPM_STIM * 1e-6)
    assert abs(slope / expected - 1) < 2e-5  # the fit resolves the 140 ppm difference
    assert abs(slope / RATE_HZ - 1) > 1e-4
    residual = starts - (slope * t_stim_s + offset)
    assert np.abs(residual).max() <= 1.0  # the index is the first sample at/after the pulse


def test_emg_responds_where_the_truth_says(rig) -> None:
    preset = get_preset("soleus_healthy")
    bench = rig.bench(signal="emg", noise=False, preset="soleus_healthy", n_channels=2)
    amp, stim = rig.amplifier(bench), rig.stimulator(bench)
    amp.start()
    stim.set_stimulus(25.0, 1000)
    stim.arm()
    got = Collector(amp)
    fire_every(bench, stim, got, n=3, interval_s=1.0)
    got.pump(lambda c: c.last_index > bench.delivered[-1].amplifier_sample_index + RATE_HZ // 5)
    idx = got.indices()
    assert np.array_equal(idx, np.arange(len(idx)))

    # an independent synthesiser fed with the truth gives the same counts
    synth = EmgSynth(preset, RATE_HZ, n_channels=2, seed=1, noise=False)
    for t in bench.delivered:
        synth.stimulate(t.amplifier_sample_index, t.intensity_mA, t.pulse_width_us)
    scale = amp.identity.scale_V_per_count[0]
    volts = synth.generate(len(idx))
    expected = np.clip(np.round(volts / scale), -32768, 32767).astype(np.int16)
    assert np.array_equal(got.samples(), expected)
    # and there is an H-reflex 30-45 ms after each pulse on the soleus channel
    for t in bench.delivered:
        a = t.amplifier_sample_index
        window = got.samples()[a + 150 : a + 225, 0].astype(float) * scale * 1e3
        assert np.ptp(window) > 0.5  # mV
