"""Throughput of the streaming EMG synthesiser (EmgSynth): 16 channels × 20 kHz, a stimulus
every 100 ms, for several block sizes. Prints × real time (the emulators need ≥ 50×).

    .venv/bin/python bench/bench_synth.py
"""

import time

from hreflex.sim.presets import PRESETS
from hreflex.sim.synth import EmgSynth

RATE_HZ, SECONDS = 20000, 30

for name in ("soleus_healthy", "rat_sci"):
    preset = PRESETS[name]
    intensity_mA = 1.0 if name == "rat_sci" else 25.0
    for block in (20, 200, 2000):
        synth = EmgSynth(preset, RATE_HZ, n_channels=16, seed=0, contraction_probability=0.2)
        done = next_stim = 0
        t0 = time.perf_counter()
        while done < RATE_HZ * SECONDS:
            if done >= next_stim:
                synth.stimulate(next_stim + 5, intensity_mA, preset.pulse_width_us)
                next_stim += RATE_HZ // 10
            synth.generate(block)
            done += block
        speed = SECONDS / (time.perf_counter() - t0)
        print(f"{name:15s} block {block:5d} samples ({block / RATE_HZ * 1e3:5.1f} ms): {speed:6.1f}x real time")
