#!/usr/bin/env python3
"""Bootstrap runner: the README's two quick-start commands go through here.

    python3 run.py demo     # the main job: a simulated session, end to end
    python3 run.py test     # the test suite (what CI runs)

It creates (or reuses) a virtual environment in ``.venv``, installs the project with its
test extra whenever ``pyproject.toml`` changed, then runs the requested job. Only the
standard library is used here, so a fresh machine needs nothing but python3.
Any further arguments are passed on (``python3 run.py test -k format``).
``HREFLEX_EXTRAS=nwb,neo`` also installs those optional extras (CI does, so their tests run).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".hreflex-installed"

JOBS = {
    "demo": [str(BIN / "hreflex"), "demo"],
    "test": [str(BIN / "python"), "-m", "pytest"],
}


def ensure_venv() -> None:
    """Create .venv and (re)install the project when pyproject.toml or the extras changed."""
    extras = ",".join(["test", *filter(None, os.environ.get("HREFLEX_EXTRAS", "").split(","))])
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in JOBS:
        print(f"usage: python3 run.py {{{'|'.join(JOBS)}}} [args...]", file=sys.stderr)
        return 2
    ensure_venv()
    return subprocess.run([*JOBS[argv[0]], *argv[1:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
