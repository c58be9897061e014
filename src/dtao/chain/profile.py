"""Where the compiled block loop spends its time: a phase profile read from the CPU's cycle counter.

Inside :func:`dtao.chain.coinbase.run_blocks` the chain runs without returning to Python, so a Python
profiler sees one call.  With a :func:`chain_profile` open, the loop reads the cycle counter
(``llvm.readcyclecounter``: ``rdtsc`` on x86-64) around its phases and adds the differences up:

* ``coinbase``: the block's coinbase over the emitting subnets;
* ``stake_gathering``: the stake weights of the subnets whose epoch is due;
* ``epochs``: their Yuma epochs, results stored (``epoch_store``);
* ``drain_crediting``: paying out each epoch (``distribute_core``);
* ``loop_rest``: the rest of the compiled call (registration terms, epoch schedule, records, the
  call's dispatch);
* ``python``: the Python around each ``run_blocks`` call (setup, the drains and root epochs Python
  finishes, scalars).

The reads cost a few nanoseconds and happen only while a profile is open; the chain's results are
the same with or without one.  Only where the counter ticks at a constant rate readable from user
code (x86-64) can a profile be opened; elsewhere :func:`chain_profile` raises."""
from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: the compiled phases, in the order of their counter slots
PHASES: tuple[str, ...] = ("coinbase", "stake_gathering", "epochs", "drain_crediting")


@intrinsic
def _cycle_counter(typingctx):  # noqa: ANN001, ANN202
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@njit(cache=True)
def read_cycles() -> int:
    """The CPU's cycle counter (a count that grows at a constant rate; see :func:`cycles_per_second`)."""
    return _cycle_counter()


def cycles_available() -> bool:
    """Whether this machine's cycle counter can be read here (x86-64)."""
    return platform.machine().lower() in ("x86_64", "amd64")


def cycles_per_second(sample_s: float = 0.05) -> float:
    """Rate of :func:`read_cycles`, measured against ``time.perf_counter`` over ``sample_s`` seconds."""
    read_cycles()
    c0, t0 = read_cycles(), time.perf_counter()
    while time.perf_counter() - t0 < sample_s:
        pass
    c1, t1 = read_cycles(), time.perf_counter()
    return (c1 - c0) / (t1 - t0)


@dataclass(eq=False)
class ChainProfile:
    """Phase times of the block loop while the profile was open (seconds), with the blocks, epochs and
    ``run_blocks`` calls they cover."""

    cycles: np.ndarray = field(default_factory=lambda: np.zeros(len(PHASES), np.int64))
    compiled_s: float = 0.0  # wall seconds inside the compiled calls (dispatch included)
    total_s: float = 0.0  # wall seconds of the run_blocks calls
    blocks: int = 0
    epochs: int = 0
    calls: int = 0
    hz: float = 0.0

    def seconds(self) -> dict[str, float]:
        """Seconds per phase (:data:`PHASES`, then ``loop_rest`` and ``python``)."""
        out = {name: float(c) / self.hz for name, c in zip(PHASES, self.cycles)} if self.hz > 0 else \
            {name: 0.0 for name in PHASES}
        out["loop_rest"] = max(self.compiled_s - sum(out.values()), 0.0)
        out["python"] = max(self.total_s - self.compiled_s, 0.0)
        return out

    def summary(self) -> dict[str, object]:
        """The profile as plain numbers: seconds, µs a block and µs an epoch per phase, and the counts."""
        sec = self.seconds()
        per_block = {k: round(v / self.blocks * 1e6, 3) for k, v in sec.items()} if self.blocks else {}
        per_epoch = {k: round(sec[k] / self.epochs * 1e6, 3) for k in ("stake_gathering", "epochs", "drain_crediting")} \
            if self.epochs else {}
        return {"seconds": {k: round(v, 4) for k, v in sec.items()}, "us_per_block": per_block,
                "us_per_epoch": per_epoch, "blocks": self.blocks, "epochs": self.epochs, "calls": self.calls,
                "cycles_per_second": round(self.hz)}


#: the profiles open now (the block loop adds its counters to each)
_OPEN: list[ChainProfile] = []


def profiling() -> bool:
    """Whether a :func:`chain_profile` is open."""
    return bool(_OPEN)


def add_call(cycles: np.ndarray, compiled_s: float, total_s: float, blocks: int, epochs: int) -> None:
    """Add one ``run_blocks`` call's counters to every open profile."""
    for p in _OPEN:
        p.cycles += cycles
        p.compiled_s += compiled_s
        p.total_s += total_s
        p.blocks += blocks
        p.epochs += epochs
        p.calls += 1


@contextmanager
def chain_profile() -> Iterator[ChainProfile]:
    """Open a phase profile of the block loop for the ``with`` block; yields the :class:`ChainProfile`
    that the ``run_blocks`` calls inside fill in.  Raises ``RuntimeError`` where the cycle counter
    cannot be read (not x86-64)."""
    if not cycles_available():
        raise RuntimeError(f"the chain's phase profile reads the x86-64 cycle counter; this machine is "
                           f"{platform.machine() or 'unknown'}")
    prof = ChainProfile(hz=cycles_per_second())
    _OPEN.append(prof)
    try:
        yield prof
    finally:
        _OPEN.remove(prof)
