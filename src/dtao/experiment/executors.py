"""Executors: where the runs of a sweep execute, behind one interface.

Every executor takes an iterator of :class:`RunTask` and yields a :class:`RunOutcome` per task as
runs finish (in completion order), keeping only a few tasks in flight so memory stays bounded.  All
of them call the same top-level :func:`execute_run`, and a run's seed is fixed by the plan, so the
same experiment gives the same results on each of them.

- ``inprocess``: one run after another in this process (debugging, profiling).
- ``processes``: a pool of local worker processes (``spawn``), one per core by default.  A worker
  that dies (killed, out of memory, a native crash) does not lose the sweep: the runs it may have
  held are retried one at a time, and the one that kills a worker alone is recorded as failed.
- ``dask``: a ``dask.distributed`` cluster (``Client(address)``, or a client you pass in).  Workers
  send each finished run's files back to this process, which commits them, so the cluster needs no
  shared filesystem; workers need ``dtao`` importable.
"""
from __future__ import annotations

import abc
import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Iterator

from dtao.chain.threads import one_thread_env, restore_env
from dtao.experiment.runner import RunOutcome, RunTask, execute_run, failed_record

EXECUTORS: tuple[str, ...] = ("inprocess", "processes", "dask")


class Executor(abc.ABC):
    """Runs tasks and yields their outcomes as they finish."""

    name: str = ""
    #: True when workers cannot write into the store and send files back instead
    transfer: bool = False

    @property
    def workers(self) -> int:
        """How many runs can execute at once."""
        return 1

    @abc.abstractmethod
    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        """Execute ``tasks``; yield one outcome per task as each finishes."""

    def abort(self) -> None:
        """Stop at once (Ctrl-C): cancel queued runs and stop running ones; their temporary folders
        are removed by the next resume."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Runs every task in this process, in order."""

    name = "inprocess"

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        for t in tasks:
            yield execute_run(t)


class _DeferredInterrupt:
    """Ctrl-C (SIGINT) taken as a flag while the driver waits on its workers, and raised as
    ``KeyboardInterrupt`` only where :meth:`check` is called.

    A ``KeyboardInterrupt`` raised wherever the signal happens to land can leave one of
    ``concurrent.futures``' locks held (half-way through ``wait()`` taking the futures' locks, or
    inside ``submit``); the pool's manager thread then blocks on that lock for ever and the process
    hangs at exit.  Acts only in the main thread (where Python runs signal handlers) and only over
    Python's own Ctrl-C handling; elsewhere it does nothing."""

    def __init__(self) -> None:
        self.hit = False
        self._saved: Any = None
        self._active = False

    def start(self) -> None:
        """Take Ctrl-C as a flag from now on."""
        import threading

        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._saved = signal.signal(signal.SIGINT, self._handler)
            self._active = True

    def _handler(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        self.hit = True

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C came since the last check."""
        if self.hit:
            self.hit = False
            raise KeyboardInterrupt

    def stop(self, redeliver: bool) -> None:
        """Put Python's Ctrl-C handling back; with ``redeliver``, a Ctrl-C taken after the last check
        is raised now rather than lost."""
        if self._active:
            signal.signal(signal.SIGINT, self._saved)
            self._active = False
        if self.hit:
            self.hit = False
            if redeliver:
                raise KeyboardInterrupt


#: seconds the driver waits for a finished run before it looks for a Ctrl-C taken meanwhile
_POLL_S = 0.2


def _worker_init() -> None:
    # the driver handles Ctrl-C (it stops the workers); a worker must not die half-way on its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor(Executor):
    """A pool of local worker processes (start method ``spawn``).

    Worker processes get one BLAS/OpenMP/numba thread each (``workers`` processes already use the
    cores; more threads would oversubscribe them)."""

    name = "processes"

    def __init__(self, max_workers: int | None = None) -> None:
        n = max_workers if max_workers is not None else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {n}")
        self._n = n
        self._pool: ProcessPoolExecutor | None = None
        self._saved_env: dict[str, str | None] | None = None

    @property
    def workers(self) -> int:
        return self._n

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)

    def _set_thread_env(self) -> None:
        # workers are spawned on demand and read these when they start; restored by close()
        if self._saved_env is None:
            self._saved_env = one_thread_env()

    def _restore_thread_env(self) -> None:
        if self._saved_env is not None:
            restore_env(self._saved_env)
            self._saved_env = None

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        it = iter(tasks)
        inflight: dict[Future, RunTask] = {}
        suspects: deque[RunTask] = deque()  # runs in flight when a worker died: rerun one at a time
        isolating = False
        exhausted = False
        self._set_thread_env()
        self._pool = self._new_pool()
        ctrl_c = _DeferredInterrupt()
        ctrl_c.start()
        try:
            while True:
                ctrl_c.check()
                # fill
                while not isolating and suspects and not inflight:
                    t = suspects.popleft()
                    inflight[self._pool.submit(execute_run, t)] = t
                    isolating = True
                while not isolating and not suspects and not exhausted and len(inflight) < 2 * self._n:
                    try:
                        t = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    inflight[self._pool.submit(execute_run, t)] = t
                if not inflight:
                    if suspects:
                        continue
                    return
                done: set[Future] = set()
                while not done:
                    done, _ = wait(list(inflight), timeout=_POLL_S, return_when=FIRST_COMPLETED)
                    ctrl_c.check()
                broken = False
                for f in done:
                    t = inflight.pop(f)
                    exc = f.exception()
                    if exc is None:
                        yield f.result()
                    elif isinstance(exc, BrokenProcessPool):
                        broken = True
                        if isolating:
                            yield RunOutcome(failed_record(
                                t, "WorkerDied: the worker process died while running this run (killed, out "
                                   "of memory, or a crash in native code)", repr(exc)))
                        else:
                            suspects.append(t)
                    else:  # execute_run itself failed (e.g. the store is not writable)
                        yield RunOutcome(failed_record(t, f"{type(exc).__name__}: {exc}", repr(exc)))
                if isolating and not inflight:
                    isolating = False
                if broken:
                    for f, t in list(inflight.items()):
                        suspects.append(t)
                    inflight.clear()
                    self._pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = self._new_pool()
                    isolating = False
        except BaseException:  # Ctrl-C, or the consumer stopped early: do not wait for running runs
            self.abort()
            ctrl_c.stop(redeliver=False)
            raise
        finally:
            self.close()
            ctrl_c.stop(redeliver=True)

    def abort(self) -> None:
        pool = self._pool
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
        self._pool = None
        self._restore_thread_env()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._restore_thread_env()


class DaskExecutor(Executor):
    """Runs tasks on a ``dask.distributed`` cluster.

    ``address``: the scheduler (``tcp://host:8786``); or pass a ready ``client`` (left open).
    Each finished run's files travel back to this process (``transfer``), so workers need no access
    to the output folder."""

    name = "dask"
    transfer = True

    def __init__(self, address: str | None = None, *, client: Any = None) -> None:
        from dask.distributed import Client

        if client is None and address is None:
            raise ValueError("the dask executor needs a scheduler address (--scheduler tcp://HOST:8786)")
        self._own = client is None
        try:
            self.client = client if client is not None else Client(address, timeout="30s")
        except OSError as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self._inflight: dict[str, Any] = {}

    @property
    def workers(self) -> int:
        n = sum(self.client.nthreads().values())
        return max(n, 1)

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        from dask.distributed import as_completed

        it = iter(tasks)
        limit = 2 * self.workers
        by_key: dict[str, RunTask] = {}
        ac = as_completed()
        n_inflight = 0

        def submit_next() -> bool:
            nonlocal n_inflight
            try:
                t = next(it)
            except StopIteration:
                return False
            f = self.client.submit(execute_run, t, pure=False, key=f"dtao-run-{t.run_id}-{os.urandom(4).hex()}")
            by_key[f.key] = t
            self._inflight[f.key] = f
            ac.add(f)
            n_inflight += 1
            return True

        try:
            while n_inflight < limit and submit_next():
                pass
            for f in ac:
                n_inflight -= 1
                t = by_key.pop(f.key)
                self._inflight.pop(f.key, None)
                try:
                    out = f.result()
                except Exception as exc:  # e.g. KilledWorker: the task killed its workers repeatedly
                    out = RunOutcome(failed_record(t, f"{type(exc).__name__}: {exc}", repr(exc)))
                f.release()
                yield out
                while n_inflight < limit and submit_next():
                    pass
        except BaseException:  # Ctrl-C, or the consumer stopped early
            self.abort()
            raise

    def abort(self) -> None:
        if self.client is not None and self._inflight:
            try:
                self.client.cancel(list(self._inflight.values()))
            except Exception:  # the cluster may already be gone; nothing left to cancel then
                pass
            self._inflight.clear()
        self.close()

    def close(self) -> None:
        if self._own and self.client is not None:
            self.client.close()
            self.client = None


def make_executor(name: str, *, workers: int | None = None, scheduler: str | None = None,
                  client: Any = None) -> Executor:
    """An executor by name: ``inprocess``, ``processes`` (``workers`` processes, default all cores)
    or ``dask`` (``scheduler`` address, or a ``client``)."""
    if name == "inprocess":
        return InProcessExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, client=client)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
