"""The compiled block loop and the benchmarks: run_blocks is exactly block_step repeated (childkeys,
root_vote and registration terms included), and ``dtao bench year|memory|coinbase`` print the
figures they promise (small sizes; no timing is asserted)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from dtao.chain import staking as S
from dtao.chain.childkeys import set_children
from dtao.chain.coinbase import block_step, run_blocks
from dtao.chain.invariants import check_invariants
from dtao.chain.weights import set_root_weights
from dtao.scenario.initial import synthetic
from tests.conftest import snapshot_of
from tests.support.child import run_child


def _world(rule: str = "ema_price", kids: bool = False):
    st = synthetic(np.random.default_rng(11), n_subnets=5, n_uids=12, n_validators=4, root_tao=20_000.0)
    st.params = st.params.with_(emission_rule=rule, root_vote_tempo=40, pending_childkey_cooldown=15)
    if rule == "root_vote":
        for hk in st.neurons[1].hotkey[:3]:
            set_root_weights(st, int(hk), [1, 2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4, 1.0])
    if kids:
        p, c = int(st.neurons[2].hotkey[1]), int(st.neurons[2].hotkey[2])
        set_children(st, int(st.hotkey_owner[p]), p, 2, [(0.5, c)])
    ck = st.new_coldkey(1_000.0)
    S.add_stake(st, ck, int(st.neurons[3].hotkey[0]), 3, 10.0)
    st.flow_block[3] = 0.5  # some recorded flow: the flow EMA runs under every rule
    return st


@pytest.mark.parametrize("rule,kids", [("ema_price", False), ("flow", False), ("root_vote", False),
                                       ("ema_price", True)])
def test_run_blocks_is_block_step_repeated(rule: str, kids: bool) -> None:
    a, b = _world(rule, kids), _world(rule, kids)
    n = 900  # every subnet drains twice or more; registration terms adjust twice
    epochs = sum(len(block_step(a).drains) for _ in range(n))
    got = run_blocks(b, 500) + run_blocks(b, 0) + run_blocks(b, 400)
    assert got == epochs > 0
    assert snapshot_of(a) == snapshot_of(b)  # bit-identical, every array and dict
    check_invariants(b)
    # (both run the compiled loop) BlocksSinceLastStep: 0 at a subnet's epoch, one more every block after
    nus = b.subnet_netuids
    assert np.all(b.last_step_block[nus] > 0)
    assert np.array_equal(b.blocks_since_last_step[nus], b.block - 1 - b.last_step_block[nus])
    if kids:
        assert (int(b.neurons[2].hotkey[1]), 2) in b.children  # applied at an epoch after the cooldown


def test_run_blocks_reports_match_block_step() -> None:
    a, b = _world(), _world()
    steps = [block_step(a) for _ in range(400)]
    reps = run_blocks(b, 400, reports=True)
    assert [(r.block, r.block_emission, r.drains) for r in steps] == [(r.block, r.block_emission, r.drains)
                                                                       for r in reps]
    assert sum(len(r.drains) for r in reps) >= 5 and all(d.incentive_paid >= 0 for r in reps for d in r.drains)


def test_run_blocks_rejects_negative() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        run_blocks(_world(), -1)


def _cli(*args: str, cwd=None, stderr: list[str] | None = None) -> dict:
    p = run_child([sys.executable, "-m", "dtao", "bench", *args], capture_output=True, text=True, cwd=cwd)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    if stderr is not None:
        stderr.append(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


SMALL = ("--subnets", "3", "--uids", "12", "--validators", "3", "--agents", "30")


def test_year_slice_extrapolates_and_records(tmp_path) -> None:
    err: list[str] = []
    r = _cli("year", "--days", "0.05", *SMALL, "--record", cwd=tmp_path, stderr=err)
    assert "360/360 blocks" in err[0]  # the progress bar goes to stderr; stdout is the JSON alone
    assert r["benchmark"] == "year" and r["extrapolated_from_days"] == 0.05 and r["blocks"] == 360
    # seconds is rounded to 1 ms, year_seconds to 0.1 s
    assert r["year_seconds"] == pytest.approx(r["seconds"] * 365 / 0.05, abs=0.0005 * 365 / 0.05 + 0.1)
    assert r["blocks_per_second"] > 0 and r["peak_rss_mb"] > 0 and r["epochs"] > 0
    assert sum(r["time_split"].values()) == pytest.approx(1.0, abs=0.01)
    assert any(k.startswith("agents: ") for k in r["time_split"])
    rows = (tmp_path / "benchmarks" / "results.jsonl").read_text().splitlines()
    row = json.loads(rows[-1])
    assert row["benchmark"] == "year" and "commit" in row and row["cpus"] >= 1 and "time" in row


def test_year_is_deterministic() -> None:
    from dtao.bench.year import bench_year

    a = bench_year(days=0.03, subnets=3, uids=12, validators=3, agents=30, seed=4)
    b = bench_year(days=0.03, subnets=3, uids=12, validators=3, agents=30, seed=4)
    keys = ("epochs", "agent_orders", "agent_rejections", "blocks")
    assert [a[k] for k in keys] == [b[k] for k in keys] and a["agent_orders"] > 0


def test_year_bad_sizes_are_clear_errors() -> None:
    p = run_child([sys.executable, "-m", "dtao", "bench", "year", "--days", "0.01", "--uids", "8",
                   "--validators", "8"], capture_output=True, text=True)
    assert p.returncode == 2 and "uids" in p.stderr


def test_memory_runs_the_year_in_a_fresh_process() -> None:
    r = _cli("memory", "--days", "0.02", *SMALL)
    assert r["benchmark"] == "memory" and r["peak_rss_mb"] > 50 and r["extrapolated_from_days"] == 0.02


def test_coinbase_bench_counts_epochs() -> None:
    r = _cli("coinbase", "--blocks", "400", "--subnets", "4", "--uids", "8", "--validators", "2")
    assert r["epochs"] == pytest.approx(400 * 4 / 361, abs=2) and r["blocks_per_second"] > 0
    assert r["block_step_blocks_per_second"] > 0
