"""Subnet registration (lock cost, rate limit, start_call, pruning option) and neuron registration."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dtao.chain import errors as E
from dtao.chain.coinbase import block_step
from dtao.chain.invariants import check_invariants
from dtao.chain.migration import genesis
from dtao.chain.registration import (
    burned_register,
    network_lock_cost,
    register_network,
    start_call,
)
from tests.conftest import snapshot_of


@pytest.fixture
def chain():
    st = genesis()
    st.block = 1000
    ck = st.new_coldkey(100_000.0)
    return st, ck


def test_lock_cost_doubles_then_decays_and_excess_burns(chain):
    st, ck = chain
    st.params = st.params.with_(network_min_lock_cost=1.0)
    st.network_last_lock_cost = 1000.0
    st.network_last_lock_block = 1000
    assert network_lock_cost(st) == 2000.0
    st.block = 1000 + 50_400  # half the reduction interval
    # decay per block is last_lock / interval in integer rao, as on chain
    assert math.isclose(network_lock_cost(st), 2000.0 - (10**12 // 100_800) / 1e9 * 50_400, rel_tol=1e-12)
    issuance = st.total_issuance
    hk = st.new_hotkey(ck)
    cost = network_lock_cost(st)
    nu = register_network(st, ck, hk)
    assert st.tao_reserve[nu] == 1.0 and st.alpha_reserve[nu] == 1.0
    assert math.isclose(st.total_issuance, issuance - (cost - 1.0))
    assert st.owner_hotkey[nu] == hk and st.uid_of(nu, hk) == 0
    check_invariants(st)


def test_rate_limit_and_start_call(chain):
    st, ck = chain
    hk = st.new_hotkey(ck)
    nu = register_network(st, ck, hk)
    before = snapshot_of(st)
    with pytest.raises(E.NetworkTxRateLimitExceeded):
        register_network(st, ck, st.new_hotkey(ck))
    assert snapshot_of(st)["subnets"] == before["subnets"]
    with pytest.raises(E.NeedWaitingMoreBlocksToStarCall):
        start_call(st, ck, nu)
    st.block += 50_400
    other = st.new_coldkey(1.0)
    with pytest.raises(E.NotSubnetOwner):
        start_call(st, other, nu)
    start_call(st, ck, nu)
    assert st.first_emission_block[nu] == st.block + 1
    with pytest.raises(E.FirstEmissionBlockNumberAlreadySet):
        start_call(st, ck, nu)


def test_subnet_limit_off_by_default_and_pruning_option(chain):
    st, ck = chain
    st.params = st.params.with_(subnet_limit=2, subnet_pruning=False, network_rate_limit=0,
                                network_immunity_period=10)
    for _ in range(2):
        register_network(st, ck, st.new_hotkey(ck))
    with pytest.raises(E.SubnetLimitReached):
        register_network(st, ck, st.new_hotkey(ck))
    st.params = st.params.with_(subnet_pruning=True)
    st.moving_price[1], st.moving_price[2] = 0.3, 0.1
    st.block += 100
    nu = register_network(st, ck, st.new_hotkey(ck))
    assert nu == 2  # lowest EMA price replaced
    check_invariants(st)


def test_neuron_registration_burn_and_pruning(chain):
    st, ck = chain
    st.params = st.params.with_(subnet_hyper={"max_allowed_uids": 3, "immunity_period": 5, "burn": 0.5})
    owner_hk = st.new_hotkey(ck)
    nu = register_network(st, ck, owner_hk)
    hks = [st.new_hotkey(ck) for _ in range(4)]
    issuance = st.total_issuance
    burned_register(st, ck, hks[0], nu)
    assert math.isclose(st.total_issuance, issuance - 0.5)
    with pytest.raises(E.TooManyRegistrationsThisBlock):
        burned_register(st, ck, hks[1], nu)
    st.block += 1
    burned_register(st, ck, hks[1], nu)
    st.block += 1
    with pytest.raises(E.NoNeuronIdAvailable):  # full and everyone immune
        burned_register(st, ck, hks[2], nu)
    st.block += 10
    st.neurons[nu].pruning_scores[:] = [0, 50, 10]  # uid 0 is the owner: never pruned
    uid = burned_register(st, ck, hks[2], nu)
    assert uid == 2 and st.neurons[nu].hotkey[2] == hks[2]
    with pytest.raises(E.HotKeyAlreadyRegisteredInSubNet):
        st.block += 1
        burned_register(st, ck, hks[2], nu)
    check_invariants(st)


def test_new_subnet_emits_only_after_start(chain):
    st, ck = chain
    hk = st.new_hotkey(ck)
    nu = register_network(st, ck, hk)
    for _ in range(5):
        block_step(st)
    assert st.pending_emission[nu] == 0 and st.moving_price[nu] == 0
    st.block += 50_400
    start_call(st, ck, nu)
    for _ in range(5):
        block_step(st)
    assert st.alpha_out[nu] > 0 and st.moving_price[nu] > 0
    check_invariants(st)
