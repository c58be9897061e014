"""The epoch's learnt choice between one thread and the parallel regions (dtao.chain.threads.ADAPT):
the probing policy, and the same chain whichever way the epochs ran (no timing is asserted)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import dtao.chain.threads as T
from dtao.chain.coinbase import run_blocks
from dtao.chain.epoch import _n_blocks
from dtao.chain.profile import cycles_available
from dtao.scenario.initial import synthetic
from tests.conftest import snapshot_of
from tests.support.child import run_child


@pytest.fixture
def adapt():
    """The process's learning state, put back as it was after the test."""
    saved = T.ADAPT.copy()
    yield T.ADAPT
    T.ADAPT[:] = saved


def _fresh(left: int = 2) -> np.ndarray:
    a = np.zeros(8, np.int64)
    a[T.A_LEFT] = left
    return a


def _probe(a: np.ndarray, serial_cost: int, parallel_cost: int) -> None:
    """A probe: one thread and the regions in turn, each timed PROBE_EPOCHS times."""
    for k in range(2 * T.PROBE_EPOCHS):
        assert a[T.A_PHASE] == 1
        one = T.adaptive_serial(a)
        assert one == (k % 2 == 0)
        T.adaptive_record(a, serial_cost if one else parallel_cost)
    assert a[T.A_PHASE] == 0 and a[T.A_LEFT] == T.PERIOD_EPOCHS


def test_policy_probes_both_ways_and_keeps_the_cheaper() -> None:
    a = _fresh(left=2)
    assert not T.adaptive_serial(a)  # the regions until the first probe
    T.adaptive_record(a, 999)
    assert a[T.A_PHASE] == 0 and a[T.A_LEFT] == 1
    T.adaptive_record(a, 999)
    assert a[T.A_PHASE] == 1  # probing
    _probe(a, serial_cost=100, parallel_cost=200)
    assert a[T.A_ONE_THREAD] == T.PROBE_EPOCHS
    assert a[T.A_SERIAL] == 1 and T.adaptive_serial(a)  # one thread was cheaper: kept
    for _ in range(T.PERIOD_EPOCHS - 1):
        T.adaptive_record(a, 1)
    assert a[T.A_PHASE] == 0 and T.adaptive_serial(a)
    T.adaptive_record(a, 1)
    assert a[T.A_PHASE] == 1
    _probe(a, serial_cost=300, parallel_cost=100)
    assert a[T.A_SERIAL] == 0 and not T.adaptive_serial(a)  # the regions again
    _fresh_off = _fresh(left=1)
    _fresh_off[T.A_OFF] = 1
    for _ in range(5):
        assert not T.adaptive_serial(_fresh_off)
        T.adaptive_record(_fresh_off, 1)
    assert _fresh_off[T.A_LEFT] == 1 and _fresh_off[T.A_PHASE] == 0  # off: never probes


def _world():
    from dataclasses import replace

    st = synthetic(np.random.default_rng(5), n_subnets=4, n_uids=64, n_validators=16, root_tao=20_000.0)
    for nu in range(1, 5):
        st.set_hyper(nu, replace(st.hyper[nu], tempo=19 + nu))  # an epoch every 20-24 blocks
    assert _n_blocks(64, False) == 2  # these epochs have the choice
    return st


def test_same_chain_on_one_thread_with_regions_and_learning(adapt) -> None:
    if not cycles_available():  # (the learning is off there: it times epochs with the cycle counter)
        pytest.skip("the learning times epochs with the x86-64 cycle counter")  # pragma: no cover
    snaps = []
    for mode in ("regions", "one thread", "learning"):
        adapt[:] = 0
        if mode == "regions":
            adapt[T.A_OFF] = 1
        elif mode == "one thread":
            adapt[T.A_SERIAL] = 1
            adapt[T.A_LEFT] = 10**9
        else:
            adapt[T.A_LEFT] = 3  # probes (one thread, then the regions) within the run
        st = _world()
        epochs = run_blocks(st, 700) + run_blocks(st, 500)
        assert epochs > 3 * T.PROBE_EPOCHS
        if mode == "one thread":
            assert adapt[T.A_LEFT] == 10**9 - epochs  # every epoch went through the choice
            assert adapt[T.A_ONE_THREAD] == epochs
            assert not T.regions_pay()  # the weight rounds follow it
        if mode == "learning":
            assert adapt[T.A_PHASE] == 0 and adapt[T.A_LEFT] < T.PERIOD_EPOCHS  # a probe finished
            assert adapt[T.A_ONE_THREAD] >= T.PROBE_EPOCHS  # its one-thread half counted
        snaps.append(snapshot_of(st))
    assert snaps[0] == snaps[1] == snaps[2]


def test_learning_can_be_turned_off() -> None:
    code = "from dtao.chain.threads import ADAPT, A_OFF; print(int(ADAPT[A_OFF]))"
    for value, off in (("0", "1"), ("1", "0" if cycles_available() else "1")):
        env = dict(os.environ, DTAO_ADAPTIVE_THREADS=value, NUMBA_NUM_THREADS="2")
        p = run_child([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert p.stdout.strip() == off
    env = dict(os.environ, NUMBA_NUM_THREADS="1")  # one thread: nothing to choose
    p = run_child([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "1"
