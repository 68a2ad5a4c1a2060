"""Fixtures: an emulated bench owned by the test (so acquiring child processes can be killed
while the devices live on), and acquiring child processes that are always reaped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hreflex.sim.emulators import EmulatedBench

SPEED = 10.0


@pytest.fixture
def bench():
    """2 channels at 5 kHz of the amplifier's test pattern, clocks +100/-100 ppm, 20 ms
    delivery jitter, 10 x real time."""
    b = EmulatedBench(preset="soleus_healthy", n_channels=2, sample_rate_Hz=5000, speed=SPEED,
                      drift_ppm=(100.0, -100.0), jitter_ms=20.0, seed=7, signal="test")
    yield b
    b.close()


@pytest.fixture
def spawn(tmp_path):
    """``spawn(*args)`` starts ``python -m hreflex *args`` in ``tmp_path`` (stdout/stderr to
    files there); every child still running at the end is killed."""
    children: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        out = open(tmp_path / f"child{len(children)}.log", "w")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        p = subprocess.Popen([sys.executable, "-m", "hreflex", *args], cwd=tmp_path,
                             stdout=out, stderr=subprocess.STDOUT, env=env)
        p.log_path = out.name
        out.close()
        children.append(p)
        return p

    yield start
    for p in children:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
