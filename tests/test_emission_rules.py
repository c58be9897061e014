"""The three rules that split the block's TAO among subnets: ema_price, flow, root_vote."""
from __future__ import annotations

import numpy as np
import pytest

from dtao.chain import staking as S
from dtao.chain.coinbase import block_step
from dtao.chain.errors import InvalidParameter
from dtao.chain.invariants import check_invariants
from dtao.chain.subnet_emissions import shares_flow
from dtao.chain.weights import set_root_weights
from dtao.scenario.initial import synthetic


def _chain(rule: str):
    st = synthetic(np.random.default_rng(3), n_subnets=4, n_uids=6, n_validators=3, root_tao=50_000.0)
    st.params = st.params.with_(emission_rule=rule)
    return st


def test_unknown_rule_rejected():
    st = _chain("ema_price")
    with pytest.raises(InvalidParameter, match="emission_rule"):
        st.params.with_(emission_rule="lottery")


def test_ema_price_shares_follow_moving_price():
    st = _chain("ema_price")
    mp = st.moving_price[1:5].copy()
    block_step(st)
    assert np.allclose(st.emission_share[1:5], mp / mp.sum(), rtol=1e-5)


def test_flow_rule_rewards_net_inflow():
    st = _chain("flow")
    ck = st.new_coldkey(10_000.0)
    hk = int(st.neurons[2].hotkey[0])
    block_step(st)  # first EMA values: min(moving price, spot price)
    assert np.allclose(st.flow_ema[1:5], np.minimum(st.moving_price[1:5], st.spot_price()[1:5]), rtol=1e-3)
    st.flow_ema[1:5] = 0.0  # start level so that a short run shows the flow term alone
    for b in range(3000):
        if b % 10 == 0:
            S.add_stake(st, ck, hk, 2, 2.0)  # steady inflow into subnet 2 only
        block_step(st)
    shares = st.emission_share[1:5]
    assert shares[1] == shares.max() and shares[1] > 0.5
    assert st.flow_ema[2] > 0
    check_invariants(st)


def test_flow_normaliser_floor():
    """L = max(TaoFlowCutoff, min(S_min, 0)), z = max(S - L, 0)."""
    st = _chain("flow")
    st.flow_ema[1:5] = [-2.0, 0.0, 2.0, 6.0]
    assert np.allclose(shares_flow(st, np.arange(1, 5)), [0, 0, 0.25, 0.75])  # cutoff 0: negatives get nothing
    st.params = st.params.with_(flow_cutoff=-1.0)  # the chain's i64 cutoff may be negative
    assert np.allclose(shares_flow(st, np.arange(1, 5)), np.array([0, 1, 3, 7]) / 11)


def test_root_vote_shares_from_top_validators():
    st = _chain("root_vote")
    vals = [int(h) for h in st.neurons[1].hotkey[:3]]
    for hk in vals:
        set_root_weights(st, hk, [1, 2, 3, 4], [0.0, 0.0, 1.0, 3.0])
    block_step(st)
    s = st.emission_share[1:5]
    assert s[0] == 0 and s[1] == 0 and s[3] > s[2] > 0 and np.isclose(s.sum(), 1.0)
    check_invariants(st)
