"""The block loop's phase profile (dtao.chain.profile): the chain's results do not depend on it, its
phases account for the blocks and epochs run and add up to no more than the calls' wall time, and a
machine without the cycle counter gets a clear error (no timing is asserted)."""
from __future__ import annotations

import numpy as np
import pytest

import dtao.chain.profile as P
from dtao.chain.coinbase import run_blocks
from dtao.chain.profile import PHASES, chain_profile
from tests.conftest import snapshot_of
from tests.test_bench import _cli, _world


def _check(prof: P.ChainProfile, blocks: int, epochs: int, calls: int) -> None:
    assert (prof.blocks, prof.epochs, prof.calls) == (blocks, epochs, calls)
    sec = prof.seconds()
    assert list(sec) == [*PHASES, "loop_rest", "python"]
    assert all(v >= 0.0 for v in sec.values())
    assert sec["coinbase"] > 0.0 and sec["epochs"] > 0.0 and sec["drain_crediting"] > 0.0
    # the compiled phases lie inside the compiled calls, which lie inside the run_blocks calls
    assert sum(sec[k] for k in PHASES) <= prof.compiled_s * 1.05 + 1e-4
    assert prof.compiled_s <= prof.total_s
    assert sum(sec.values()) == pytest.approx(prof.total_s, rel=0.05, abs=1e-4)


@pytest.mark.skipif(not P.cycles_available(), reason="the profile reads the x86-64 cycle counter")
def test_profile_changes_nothing_and_accounts_for_the_run() -> None:
    a, b = _world(kids=True), _world(kids=True)  # childkeys: drains finished in Python too
    ea = run_blocks(a, 500) + run_blocks(a, 400)
    with chain_profile() as outer:
        with chain_profile() as inner:
            eb = run_blocks(b, 500)
        eb += run_blocks(b, 400)
    assert ea == eb > 0
    assert snapshot_of(a) == snapshot_of(b)  # bit-identical with the counters read
    c, d = _world(), _world()
    ec = run_blocks(c, 900)
    with chain_profile() as compiled:
        ed = run_blocks(d, 900)
    assert ec == ed and snapshot_of(c) == snapshot_of(d)
    _check(compiled, 900, ed, 1)  # every drain compiled
    assert outer.blocks == 900 and outer.epochs == eb and outer.calls == 2
    assert inner.blocks == 500 and inner.calls == 1 and inner.cycles.sum() <= outer.cycles.sum()
    s = compiled.summary()
    assert s["blocks"] == 900 and s["us_per_block"]["epochs"] > 0 and s["us_per_epoch"]["epochs"] > 0
    assert not P.profiling()  # closed with its with-block


def test_profile_needs_the_cycle_counter(monkeypatch) -> None:
    monkeypatch.setattr(P.platform, "machine", lambda: "aarch64")
    with pytest.raises(RuntimeError, match="x86-64 cycle counter; this machine is aarch64"):
        with chain_profile():
            pass  # pragma: no cover
    assert not P.profiling()
    from dtao.bench.year import bench_year

    with pytest.raises(ValueError, match="--profile-chain"):
        bench_year(days=0.01, subnets=3, uids=12, validators=3, agents=3, profile_chain=True)


@pytest.mark.skipif(not P.cycles_available(), reason="the profile reads the x86-64 cycle counter")
def test_year_profile_chain_in_json() -> None:
    r = _cli("year", "--days", "0.05", "--subnets", "3", "--uids", "12", "--validators", "3", "--agents", "30",
             "--profile-chain", "-q")
    ph = r["chain_phases"]
    assert ph["blocks"] == r["blocks"] == 360 and ph["epochs"] == r["epochs"] > 0
    assert set(ph["seconds"]) == {*PHASES, "loop_rest", "python"}
    # the chain's share of the run (time_split) is the profile's total, measured the same way
    chain_s = r["time_split"]["chain: blocks (coinbase + epochs)"] * r["seconds"]
    assert sum(ph["seconds"].values()) == pytest.approx(chain_s, rel=0.1, abs=0.01)
    assert np.isfinite(ph["cycles_per_second"]) and ph["cycles_per_second"] > 0


def test_year_reports_epochs_on_one_thread() -> None:
    from dtao.bench.year import bench_year
    from dtao.chain import threads as T

    saved = T.ADAPT.copy()
    try:
        T.ADAPT[:] = 0
        T.ADAPT[T.A_SERIAL], T.ADAPT[T.A_LEFT] = 1, 10**9  # as if one thread had been timed cheaper
        r = bench_year(days=0.05, subnets=3, uids=64, validators=3, agents=30, seed=1)
        assert r["epochs_on_one_thread"] == r["epochs"] > 0  # 64 UIDs: every epoch has two blocks
        T.ADAPT[T.A_OFF] = 1
        assert bench_year(days=0.01, subnets=3, uids=12, validators=3, agents=3)["epochs_on_one_thread"] is None
    finally:
        T.ADAPT[:] = saved
