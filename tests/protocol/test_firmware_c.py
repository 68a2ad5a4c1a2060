"""The firmware sources: portable core without heap or stdio, sketches that type-check."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import CORE_SOURCES, FIRMWARE

STUB = Path(__file__).resolve().parent / "arduino_stub"
SKETCHES = ["amplifier_streamer", "stimulator_controller"]


def test_core_uses_no_heap_no_stdio_no_arduino() -> None:
    banned = re.compile(r"\b(malloc|calloc|realloc|free|printf|fprintf|FILE|Arduino\.h)\b")
    for name in CORE_SOURCES + [s.replace(".c", ".h") for s in CORE_SOURCES]:
        text = (FIRMWARE / name).read_text()
        assert not banned.search(text), f"{name}: {banned.search(text).group(0)}"


@pytest.mark.parametrize("sketch", SKETCHES)
def test_sketch_type_checks_against_an_arduino_stub(sketch: str) -> None:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: cannot type-check the Arduino sketches")
    src = FIRMWARE / sketch / f"{sketch}.ino"
    cmd = [gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++",
           str(src), f"-I{STUB}", f"-I{FIRMWARE}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
