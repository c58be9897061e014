"""Root validators for the pre-dTAO ``root_vote`` rule: they make a root_vote world emit, its shares
follow their stake-weighted votes, and under dTAO rules they change nothing at all."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from dtao.agents.validators import RootValidators
from dtao.chain.state import ROOT
from dtao.scenario import load_scenario
from dtao.sim import run_scenario

SEEDS = (11, 12, 13, 14, 15)
DAYS = 0.5


def _without_root_validators(sc):
    return sc.model_copy(update={"agents": {k: v for k, v in sc.agents.items() if v.kind != "root_validators"}})


@pytest.mark.parametrize("seed", SEEDS)
def test_root_vote_emits_by_the_root_validators_votes(seed: int, tmp_path) -> None:
    sc = load_scenario("sn28", {"chain.emission_rule": "root_vote"})
    r = run_scenario(sc, seed=seed, days=DAYS, out_dir=tmp_path / "rv", record_plots=False)
    assert r.summary["conservation_ok"]
    sub = pd.read_parquet(r.out_dir / "subnets.parquet")
    sums = sub.groupby("block").emission_share.sum()
    assert np.allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert r.summary["quality_emission_corr"] > 0.5
    # the chain's shares are the stake-weighted average of the validators' normalised rows (every
    # validator votes on every subnet, so root consensus is the same for all): recompute from the
    # weights the population submitted and the root stakes now
    st = r.state
    assert st.params.root_vote_tempo == 360
    hks = np.array(sorted(st.root_weights), np.int64)
    stake = st.hotkey_alpha[hks, ROOT]
    W = np.stack([st.root_weights[int(h)] for h in hks])
    W[:, ROOT] = 0.0
    W = W / W.sum(axis=1, keepdims=True)
    expect = (stake / stake.sum()) @ W
    got = st.emission_share
    ids = st.subnet_netuids
    # root epoch every 360 blocks and the validators act every 360: compare the order, and the values
    # within the drift of one round of stake changes
    assert spearmanr(expect[ids], got[ids]).statistic > 0.95
    assert np.abs(expect[ids] - got[ids]).max() < 0.1 * expect[ids].max()


def test_without_root_validators_root_vote_emits_nothing() -> None:
    sc = _without_root_validators(load_scenario("sn28", {"chain.emission_rule": "root_vote"}))
    r = run_scenario(sc, seed=11, days=0.1)
    assert float(r.state.emission_share.sum()) == 0.0


def test_root_weights_follow_quality_and_price_blend() -> None:
    from dtao.scenario.build import build

    sc = load_scenario("sn28", {"agents.root_validators.noise": 0.0})
    w = build(sc, seed=3, n_blocks=10)
    pop = next(p for p in w.populations if isinstance(p, RootValidators))
    ids = w.state.subnet_netuids
    q = w.world.subnet_quality[ids]
    # noise 0: every validator's row is the quality share
    assert np.allclose(pop.last_weights, (q / q.sum())[None, :])
    assert pop.hotkeys.size == 16 and set(pop.hotkeys.tolist()) == set(w.state.root_weights)
    # the largest root stakes are adopted first
    st = pop.hotkeys
    assert np.all(np.diff(w.state.hotkey_alpha[st, ROOT]) <= 0)
    price = np.asarray(w.state.spot_price(), np.float64)
    sc2 = load_scenario("sn28", {"agents.root_validators.noise": 0.0, "agents.root_validators.price_weight": 1.0})
    pop2 = next(p for p in build(sc2, seed=3, n_blocks=10).populations if isinstance(p, RootValidators))
    blended = pop2.scores(w.state, w.world, price, ids)
    assert np.allclose(blended, (price[ids] / price[ids].sum())[None, :])


@pytest.mark.parametrize("name", ["sn28", "death-spiral"])
def test_root_validators_leave_dtao_runs_bit_identical(name: str) -> None:
    sc = load_scenario(name)
    assert sc.chain_params().emission_rule in ("ema_price", "flow")
    a = run_scenario(sc, seed=11, days=0.3)
    b = run_scenario(_without_root_validators(sc), seed=11, days=0.3)
    from dtao.chain.snapshot import to_dict

    da, db = to_dict(a.state), to_dict(b.state)
    da.pop("root_weights", None)
    db.pop("root_weights", None)
    assert da == db
    assert a.state.root_weights and not b.state.root_weights
