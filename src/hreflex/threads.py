"""One BLAS/OpenMP thread per ``hreflex`` process unless asked for more.

The analysis is a handful of small matrix products per session: multi-threaded BLAS only
spins on it (``level_means`` took 0.25 s instead of 0.005 s with its threads competing for
two cores), and ``batch``/``compare`` already run one process per core. The thread count
is read by the BLAS library when numpy is first imported, so :func:`limit_blas_threads`
runs at the very start of the command line (``hreflex.cli.main``), before anything heavy.

- ``HREFLEX_THREADS=N`` asks for N threads (a positive integer);
- a thread variable the user set (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
  ``MKL_NUM_THREADS``) is left as it is;
- otherwise each of them is set to 1.
Worker processes inherit the environment.

:func:`quick_handoff` is about Python's own threads: the interpreter lock changing hands.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

#: the variables the BLAS/OpenMP libraries numpy may use read their thread count from
BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: the variable that asks hreflex for more than one thread
THREADS_ENV = "HREFLEX_THREADS"


def limit_blas_threads(environ: MutableMapping[str, str] | None = None) -> int | None:
    """Set every unset :data:`BLAS_THREAD_ENV` variable in ``environ`` (default
    ``os.environ``) to ``HREFLEX_THREADS`` or 1; returns that count, or None when
    ``HREFLEX_THREADS`` is not a positive integer (then nothing is changed, and the
    command reports it)."""
    env = os.environ if environ is None else environ
    asked = env.get(THREADS_ENV, "1").strip() or "1"
    if not asked.isdigit() or int(asked) < 1:
        return None
    for name in BLAS_THREAD_ENV:
        env.setdefault(name, str(int(asked)))
    return int(asked)


#: How long (s) a thread waits at most for the interpreter lock while another one holds it,
#: inside :func:`quick_handoff` (Python's default is 5 ms).
HANDOFF_S = 2e-4


@contextmanager
def quick_handoff(interval_s: float = HANDOFF_S) -> Iterator[None]:
    """Within the block, the interpreter lock changes hands every ``interval_s`` at most
    (``sys.setswitchinterval``; restored after). For two threads that work in turn on the
    same data: h5py keeps the lock through its reads, so a thread that releases it for a
    numpy operation waits for it again up to 5 ms at every return; the streaming read of
    the sweeps (``hreflex.io.lazy``) took twice as long in about half the runs."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, interval_s))
    try:
        yield
    finally:
        sys.setswitchinterval(before)
