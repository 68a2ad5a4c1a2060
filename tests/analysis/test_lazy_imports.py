"""Pay only for what is used: ``hreflex --help`` / ``--version`` load nothing heavy,
``analyze`` loads ``scipy.signal`` only when a filter is on, and the command line runs with
one BLAS thread unless asked (``HREFLEX_THREADS``) or the user set the thread variables.
Each case runs in a fresh interpreter (a subprocess), as a user's command does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hreflex.threads import BLAS_THREAD_ENV, THREADS_ENV, limit_blas_threads

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "soleus_recruitment.h5"
HEAVY = ("numpy", "scipy", "h5py", "matplotlib")
#: runs the CLI in-process with argv, then prints the loaded modules and thread variables
PROBE = """
import json, os, sys
sys.argv = ["hreflex", *json.loads(sys.argv[1])]
from hreflex.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules),
                  "env": {k: os.environ.get(k) for k in THREAD_VARIABLES}}), file=sys.stderr)
""".replace("THREAD_VARIABLES", repr(BLAS_THREAD_ENV))


def _probe(args: list[str], env: dict[str, str] | None = None) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in (*BLAS_THREAD_ENV, THREADS_ENV)}
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)],
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=300)
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["analyze", "--help"]])
def test_help_and_version_import_nothing_heavy(args):
    out = _probe(args)
    assert out["code"] == 0
    loaded = {m.split(".")[0] for m in out["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_scipy_signal_only_when_a_filter_is_on(tmp_path):
    plain = _probe(["analyze", str(SAMPLE), "-o", str(tmp_path / "a.json")])
    assert plain["code"] == 0 and (tmp_path / "a.json").exists()
    assert "scipy.signal" not in plain["modules"]
    assert "numpy" in plain["modules"]  # (the probe does see what the analysis loads)
    cfg = tmp_path / "bandpass.toml"
    cfg.write_text("[conditioning]\nbandpass = true\n", encoding="utf-8")
    filtered = _probe(["analyze", str(SAMPLE), "--config", str(cfg), "-o",
                       str(tmp_path / "b.json")])
    assert filtered["code"] == 0 and "scipy.signal" in filtered["modules"]


def test_one_blas_thread_unless_asked():
    assert set(_probe(["--version"])["env"].values()) == {"1"}
    assert set(_probe(["--version"], {THREADS_ENV: "3"})["env"].values()) == {"3"}
    mine = _probe(["--version"], {"OMP_NUM_THREADS": "2"})["env"]
    assert mine == {name: "2" if name == "OMP_NUM_THREADS" else "1"
                    for name in BLAS_THREAD_ENV}  # what the user set is left alone


def test_bad_thread_count_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "hreflex", "--version"], capture_output=True,
                          text=True, env={**os.environ, THREADS_ENV: "many"}, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("Error: HREFLEX_THREADS='many' is not a positive integer (the "
                           "number of BLAS threads)\n")


def test_limit_blas_threads_on_a_mapping():
    env = {"MKL_NUM_THREADS": "4"}
    assert limit_blas_threads(env) == 1
    assert env == {"MKL_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert limit_blas_threads({THREADS_ENV: "0"}) is None
