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
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

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
