"""The thread pool of the compiled kernels that split their work over threads (numba ``parallel=True``:
the epoch's column blocks, a weight round's subnets).

A kernel compiled into a caller that numba loads from its on-disk cache does not start the pool
itself, so it is started here, when a module with such a kernel is imported.  The number of threads
is numba's (``NUMBA_NUM_THREADS``, default the cores); the results never depend on it (the work is
split by data size only).  Worker processes that run side by side (``--jobs``) use one thread each:
:func:`one_thread_env`."""
from __future__ import annotations

import os
import threading

from numba.np.ufunc.parallel import _launch_threads

_launch_threads()

#: the thread counts a process reads when it starts (OpenMP, BLAS, numba's kernels)
THREAD_ENV: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def one_thread_env() -> dict[str, str | None]:
    """Make the processes started from now on (a pool's spawned workers) use one thread each, so that N
    workers keep to N busy threads; returns the previous values for :func:`restore_env`."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    for k in THREAD_ENV:
        os.environ[k] = "1"
    return saved


def restore_env(saved: dict[str, str | None]) -> None:
    """Put back the values :func:`one_thread_env` replaced."""
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def may_fork_join() -> bool:
    """Whether a kernel called now may open parallel regions: only from the main thread.  A region
    opened from another thread gets a thread team of its own, and once the process holds more such
    threads than cores, OpenMP stops letting idle workers spin: every later region (the main
    thread's too) then waits for sleeping workers to wake, which made every epoch ≈ 3× slower on
    the development machine.  Kernels called from other threads (``epoch_batch``'s, a thread pool's)
    do the same work one block after another instead, with the same results."""
    return threading.current_thread() is threading.main_thread()
