"""Fixtures for the protocol tests: the C test driver built with the machine's gcc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_io"
GOLDEN = FIRMWARE / "golden"
CORE_SOURCES = ["hreflex_proto.c", "stim_safety.c", "stim_device.c"]
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror",
           "-O1"]


class Driver:
    """Runs ``hrx_driver`` (see firmware_io/test_driver/hrx_driver.c)."""

    def __init__(self, exe: Path):
        self.exe = exe

    def run(self, *args: str, data: bytes = b"") -> tuple[bytes, str]:
        proc = subprocess.run([str(self.exe), *args], input=data, capture_output=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout, proc.stderr.decode()

    def encode(self, text: str) -> bytes:
        return self.run("encode", data=text.encode())[0]

    def decode(self, wire: bytes, cap: int = 0) -> list[str]:
        return self.run("decode", str(cap), data=wire)[0].decode().splitlines()


@pytest.fixture(scope="session")
def c_driver(tmp_path_factory: pytest.TempPathFactory) -> Driver:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the C codec cross-checks need a C compiler")
    exe = tmp_path_factory.mktemp("c_build") / "hrx_driver"
    cmd = [gcc, *C_FLAGS, f"-I{FIRMWARE}", *(str(FIRMWARE / s) for s in CORE_SOURCES),
           str(FIRMWARE / "test_driver" / "hrx_driver.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return Driver(exe)
