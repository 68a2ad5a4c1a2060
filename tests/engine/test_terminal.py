"""A session survives its terminal: a reader that goes away (``| head -3``, EPIPE) and a
terminal that closes (SIGHUP, then EIO on every write) never stop acquisition; every planned
stimulus is delivered, the stimulator is disarmed at the end and the file is complete."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import termios
import threading

import h5py

from hreflex.io.session import read_session
from hreflex.io.validate import check_file
from tests.engine.helpers import (
    assert_disarmed_last,
    config_dict,
    port_config,
    wait_for,
    write_config,
)


def test_demo_piped_into_head_delivers_every_stimulus(tmp_path):
    """``hreflex demo 2>&1 | head -3`` (a short demo config: 16 stimuli)."""
    cfg = write_config(tmp_path, config_dict(), name="small_demo.toml")
    out = tmp_path / "demo-out"
    child = subprocess.Popen(
        [sys.executable, "-m", "hreflex", "demo", "--out", str(out), "--config", str(cfg)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    head = [child.stdout.readline() for _ in range(3)]
    child.stdout.close()  # head exits: every later write gets EPIPE
    assert child.wait(timeout=120) == 0
    assert head[0].startswith(b"demo: small_demo.toml on emulated devices")
    session = next(out.glob("*.h5"))
    assert check_file(session) == []
    assert len(read_session(session).stimuli) == 16
    with h5py.File(session, "r") as f:
        assert f.attrs["end_state"] == "completed"
    # the demo went on after the session: analysis and report
    assert session.with_suffix(".analysis.json").stat().st_size > 1000
    assert (out / "report" / "report.html").is_file()


def _on_terminal(slave: int):
    def become_session_leader() -> None:  # the pty is the child's controlling terminal
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    return become_session_leader


def test_a_closed_terminal_does_not_stop_the_session(tmp_path, bench):
    cfg = port_config(tmp_path, bench, protocols=[
        {"kind": "fixed", "intensity_mA": 20, "n_stimuli": 12, "isi_s": 1.0}])
    master, slave = os.openpty()
    child = subprocess.Popen([sys.executable, "-m", "hreflex", "acquire", str(cfg)],
                             stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path,
                             preexec_fn=_on_terminal(slave))
    os.close(slave)
    seen = bytearray()

    def read() -> None:
        try:
            while chunk := os.read(master, 4096):
                seen.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(bench.delivered) >= 2, 30, "two pulses")
        assert b" 2/12" in seen or b"1/12" in seen  # the live view was on the terminal
    finally:
        os.close(master)  # the terminal window closes: SIGHUP, then EIO on every write
    assert child.wait(timeout=60) == 0
    assert len(bench.delivered) == 12
    assert_disarmed_last(bench)
    s = read_session(next(tmp_path.glob("*.h5")))
    assert len(s.stimuli) == 12
    assert b"hangup" in list(s.faults["kind"])
    with h5py.File(s.path, "r") as f:
        assert f.attrs["end_state"] == "completed"
