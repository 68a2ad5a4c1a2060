"""An :class:`EmulatedBench` in a child process.

Real devices do not take CPU time from the host. Emulated ones running in the host's process
do, and their threads compete with the host's for the GIL; at 16 channels × 20 kHz and faster
than real time that can starve the host's reader. :class:`BenchProcess` runs the bench in a
child process instead; the host opens the same ports (pty paths or sockets) and shares the
bench's true time (the monotonic clock is system-wide), and the bench is reached with :meth:`BenchProcess.call`:

    with BenchProcess(signal="test", n_channels=16, sample_rate_Hz=20000, speed=10) as bench:
        amp = AmplifierClient(bench.amplifier_url, timebase=bench.timebase)
        bench.call("amplifier.inject", "drop", n=3)
        delivered = bench.call("delivered")        # attributes are read, methods called

The child is started with ``spawn``: a script using it needs the usual
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from hreflex.devices.timebase import Timebase
from hreflex.sim.emulators.bench import EmulatedBench

__all__ = ["BenchProcess"]


def _serve(conn: Any, options: dict[str, Any]) -> None:
    """Child process: run the bench and answer ``(path, args, kwargs)`` requests until None."""
    with EmulatedBench(**options) as bench:
        conn.send((bench.amplifier_url, bench.stimulator_url, bench.timebase.start,
                   bench.timebase.speed))
        while (request := conn.recv()) is not None:
            path, args, kwargs = request
            try:
                target: Any = bench
                for name in path.split("."):
                    target = getattr(target, name)
                with bench.lock:
                    conn.send((True, target(*args, **kwargs) if callable(target) else target))
            except Exception as exc:
                conn.send((False, exc))


class BenchProcess:
    """Start ``EmulatedBench(**bench_options)`` in a child process (see the module doc)."""

    def __init__(self, **bench_options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")  # no inherited threads or locks
        self._conn, child_conn = ctx.Pipe()
        self._child = ctx.Process(target=_serve, args=(child_conn, bench_options),
                                  name="hreflex-bench", daemon=True)
        self._child.start()
        self.pid = self._child.pid
        deadline = time.monotonic() + 60.0
        while not self._conn.poll(0.05):
            if not self._child.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the emulated bench process did not start (exit code "
                                   f"{self._child.exitcode}; scripts need an "
                                   "'if __name__ == \"__main__\":' guard)")
        self.amplifier_url, self.stimulator_url, start, speed = self._conn.recv()
        self.timebase = Timebase(speed, start=start)

    def call(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """``bench.<path>(*args, **kwargs)`` in the child (or the attribute's value), under
        the bench lock; exceptions are raised here."""
        self._conn.send((path, args, kwargs))
        ok, value = self._conn.recv()
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the bench and the child process (idempotent)."""
        if self._child.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._child.join(timeout=10)
        if self._child.is_alive():
            self._child.kill()
            self._child.join(timeout=5)

    def __enter__(self) -> BenchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
