"""The thread pool of the compiled kernels that split their work over threads (numba ``parallel=True``:
the epoch's column blocks, a weight round's subnets).

A kernel compiled into a caller that numba loads from its on-disk cache does not start the pool
itself, so it is started here, when a module with such a kernel is imported.  The number of threads
is numba's (``NUMBA_NUM_THREADS``, default the cores); the results never depend on it (the work is
split by data size only).  Processes that run side by side (``--jobs``) use one thread each:
:func:`single_thread`."""
from __future__ import annotations

import threading

import numba
from numba.np.ufunc.parallel import _launch_threads

_launch_threads()


def single_thread() -> None:
    """Use one thread for the parallel kernels in this process (a worker of a process pool, so that
    pools of N processes keep to N busy threads)."""
    numba.set_num_threads(1)


def may_fork_join() -> bool:
    """Whether a kernel called now may open parallel regions: only from the main thread.  A region
    opened from another thread gets a thread team of its own, and once the process holds more such
    threads than cores, OpenMP stops letting idle workers spin: every later region (the main
    thread's too) then waits for sleeping workers to wake, which made every epoch ≈ 3× slower on
    the development machine.  Kernels called from other threads (``epoch_batch``'s, a thread pool's)
    do the same work one block after another instead, with the same results."""
    return threading.current_thread() is threading.main_thread()
