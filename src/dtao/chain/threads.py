"""The thread pool of the compiled kernels that split their work over threads (numba ``parallel=True``:
the epoch's column blocks, a weight round's subnets).

A kernel compiled into a caller that numba loads from its on-disk cache does not start the pool
itself, so it is started here, when a module with such a kernel is imported.  The number of threads
is numba's (``NUMBA_NUM_THREADS``, default the cores); the results never depend on it (the work is
split by data size only).  Worker processes that run side by side (``--jobs``) use one thread each:
:func:`one_thread_env`.

Two threads pay only when the second core is free.  When something else keeps it busy (another
process, a neighbour on the host), a region waits for a worker that is not running, and an epoch
costs several times what one thread costs.  The block loop therefore learns which is faster while
it runs (:data:`ADAPT`, :func:`adaptive_serial`, :func:`adaptive_record`): every
:data:`PERIOD_EPOCHS` two-block epochs it times :data:`PROBE_EPOCHS` of them on one thread and as
many with the regions, alternating (so that both ways see the same stretch of the run: epochs just
after new weights cost more), and keeps the cheaper way until the next probe.  Either way gives the same
results (the blocks are the same, only who computes them changes), so the choice affects speed only.
``DTAO_ADAPTIVE_THREADS=0`` turns the learning off (always the regions)."""
from __future__ import annotations

import os
import threading

import numpy as np
from numba import config as _numba_config
from numba import njit

from dtao.chain.profile import cycles_available

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


# ------------------------------------------------------------------------ one thread or two, learnt
#: slots of :data:`ADAPT`: learning off; the current choice (1: one thread); two-block epochs left
#: before the next probe; probing (1) or not (0); epochs timed in this probe (even: one thread, odd:
#: the regions); their summed costs on one thread and with the regions; two-block epochs run on one
#: thread so far (probes included)
A_OFF, A_SERIAL, A_LEFT, A_PHASE, A_N, A_COST_SERIAL, A_COST_PARALLEL, A_ONE_THREAD = range(8)
#: two-block epochs between probes, and epochs timed each way in a probe
PERIOD_EPOCHS = 2048
PROBE_EPOCHS = 16


def _adapt_initial() -> np.ndarray:
    """The learning state at start: the regions, the first probe after 64 two-block epochs; off where
    there is one thread, no cycle counter to time with, or ``DTAO_ADAPTIVE_THREADS=0``."""
    a = np.zeros(8, np.int64)
    a[A_LEFT] = 64
    off = (os.environ.get("DTAO_ADAPTIVE_THREADS", "1").strip() == "0" or not cycles_available()
           or int(_numba_config.NUMBA_NUM_THREADS) < 2)
    a[A_OFF] = int(off)
    return a


#: the process's learning state (the block loop reads and updates it in place; not part of any state)
ADAPT: np.ndarray = _adapt_initial()


@njit(cache=True)
def adaptive_serial(adapt: np.ndarray) -> bool:
    """Whether the next two-block epoch should compute its blocks on the calling thread alone."""
    if adapt[A_OFF] != 0:
        return False
    if adapt[A_PHASE] != 0:
        return adapt[A_N] % 2 == 0
    return adapt[A_SERIAL] != 0


@njit(cache=True)
def adaptive_record(adapt: np.ndarray, cost: int) -> None:
    """Account one two-block epoch just run the way :func:`adaptive_serial` said, at ``cost`` (cycles
    per UID², so that subnets of different sizes compare); ends a probe phase when it has enough."""
    if adapt[A_OFF] != 0:
        return
    if adapt[A_PHASE] == 0:
        adapt[A_ONE_THREAD] += adapt[A_SERIAL] != 0
        adapt[A_LEFT] -= 1
        if adapt[A_LEFT] <= 0:
            adapt[A_PHASE] = 1
            adapt[A_N] = 0
            adapt[A_COST_SERIAL] = 0
            adapt[A_COST_PARALLEL] = 0
        return
    one = adapt[A_N] % 2 == 0
    adapt[A_ONE_THREAD] += one
    adapt[A_COST_SERIAL if one else A_COST_PARALLEL] += cost
    adapt[A_N] += 1
    if adapt[A_N] >= 2 * PROBE_EPOCHS:
        adapt[A_SERIAL] = 1 if adapt[A_COST_SERIAL] < adapt[A_COST_PARALLEL] else 0
        adapt[A_PHASE] = 0
        adapt[A_N] = 0
        adapt[A_LEFT] = PERIOD_EPOCHS


def regions_pay() -> bool:
    """Whether a kernel called now should open parallel regions: from the main thread
    (:func:`may_fork_join`), unless the epochs found one thread faster lately (:data:`ADAPT`)."""
    return may_fork_join() and not (ADAPT[A_OFF] == 0 and ADAPT[A_SERIAL] != 0)
