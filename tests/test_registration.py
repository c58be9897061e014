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
    st.block = 10_000  # past the first NetworkRateLimit window (NetworkLastRegistered starts at 0)
    ck = st.new_coldkey(100_000.0)
    return st, ck


def test_lock_cost_doubles_then_decays_and_excess_burns(chain):
    st, ck = chain
    st.params = st.params.with_(network_min_lock_cost=1.0)
    st.network_last_lock_cost = 1000.0
    st.network_last_lock_block = 10_000
    assert network_lock_cost(st) == 2000.0
    st.block = 10_000 + 50_400  # half the reduction interval
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


def test_neuron_registration_burn_buys_and_destroys_alpha(chain):
    st, ck = chain
    st.params = st.params.with_(subnet_hyper={"max_allowed_uids": 3, "immunity_period": 5, "burn": 0.5})
    owner_hk = st.new_hotkey(ck)
    nu = register_network(st, ck, owner_hk)
    hks = [st.new_hotkey(ck) for _ in range(5)]
    issuance, T, A, out = st.total_issuance, st.tao_reserve[nu], st.alpha_reserve[nu], st.alpha_out[nu]
    burned_register(st, ck, hks[0], nu)
    bought = A - st.alpha_reserve[nu]
    assert math.isclose(bought, A * 0.5 / (T + 0.5))
    assert st.total_issuance == issuance and math.isclose(st.tao_reserve[nu], T + 0.5)
    assert st.alpha_out[nu] == out  # the bought alpha is destroyed
    with pytest.raises(E.TooManyRegistrationsThisBlock):
        burned_register(st, ck, hks[1], nu)
    block_step_registration_terms(st)
    with pytest.raises(E.HotKeyAlreadyRegisteredInSubNet):
        burned_register(st, ck, hks[0], nu)
    burned_register(st, ck, hks[1], nu)
    block_step_registration_terms(st)
    # full and everyone immune: the immune UID with the lowest score goes (never the owner)
    st.neurons[nu].pruning_scores[:] = [0, 50, 10]
    uid = burned_register(st, ck, hks[2], nu)
    assert uid == 2 and st.neurons[nu].hotkey[2] == hks[2] and st.neurons[nu].pruning_scores[2] == 65535
    block_step_registration_terms(st)
    with pytest.raises(E.TooManyRegistrationsThisInterval):  # 3 x target per interval
        burned_register(st, ck, hks[3], nu)
    check_invariants(st)


def block_step_registration_terms(st):
    from dtao.chain.registration import adjust_registration_terms

    st.block += 1
    adjust_registration_terms(st)


def test_burn_adjusts_each_interval(chain):
    from dtao.chain.registration import adjust_registration_terms

    st, ck = chain
    nu = register_network(st, ck, st.new_hotkey(ck))
    b0 = st.burn[nu]
    st.block += 360
    adjust_registration_terms(st)  # no registrations: burn moves toward half
    assert math.isclose(st.burn[nu], 0.97 * b0 + 0.03 * b0 * 0.5)
    st.registrations_this_interval[nu] = 3
    b1 = st.burn[nu]
    st.block += 360
    adjust_registration_terms(st)  # above target: burn moves toward 2x
    assert math.isclose(st.burn[nu], 0.97 * b1 + 0.03 * b1 * 2.0)
    assert st.registrations_this_interval[nu] == 0


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


def test_without_start_gate_a_new_subnet_emits_from_registration(chain):
    """Before v2.0.9 (``require_start_call`` false) a registered subnet emits at once, its
    FirstEmissionBlockNumber standing at registration + 1 (the slow start's registration block);
    v2.0.9's migration then sets every existing subnet's to the migration block."""
    from dtao.chain.migration import migrate_set_first_emission_block_number

    st, ck = chain
    st.params = st.params.with_(require_start_call=False)
    nu = register_network(st, ck, st.new_hotkey(ck))
    assert st.first_emission_block[nu] == st.block + 1
    with pytest.raises(E.FirstEmissionBlockNumberAlreadySet):
        start_call(st, ck, nu)
    for _ in range(5):
        block_step(st)
    assert st.alpha_out[nu] > 0 and st.moving_price[nu] > 0
    st.params = st.params.with_(require_start_call=True)
    st.block += 20_000
    gated = register_network(st, ck, st.new_hotkey(ck))
    assert st.first_emission_block[gated] == -1  # with the gate it waits for start_call
    ids = migrate_set_first_emission_block_number(st)
    assert set(ids.tolist()) == set(st.subnet_netuids.tolist()) and gated in ids
    assert np.all(st.first_emission_block[ids] == st.block)
    check_invariants(st)


def test_burn_adjusts_inside_a_multi_block_run_as_block_by_block(chain):
    """``run_blocks`` adjusts each subnet's burn at the blocks its own interval falls on, as the same
    blocks stepped one at a time do (subnets on different intervals and phases, registrations pending)."""
    import copy
    import dataclasses

    from dtao.chain.coinbase import run_blocks

    st, ck = chain
    nus = []
    for _ in range(3):
        nus.append(register_network(st, ck, st.new_hotkey(ck)))
        st.block += 7200  # (past the network rate limit)
    for nu, interval in zip(nus, (7, 11, 5)):
        st.set_hyper(nu, dataclasses.replace(st.hyper[nu], adjustment_interval=interval))
        st.burn[nu] *= 1.0 + nu / 10
    st.last_adjustment_block[nus[1]] -= 4  # another phase
    b0 = st.burn[nus[0]]
    st.registrations_this_interval[nus[0]] = 5  # above target: the burn rises at its adjustment
    st.registrations_this_block[nus[2]] = 2  # cleared at the first block
    a, b = st, copy.deepcopy(st)
    run_blocks(a, 40)
    for _ in range(40):
        block_step(b)
    for field in ("burn", "last_adjustment_block", "registrations_this_interval", "registrations_this_block"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert all(a.last_adjustment_block[nu] > st.block - 40 for nu in nus)  # every subnet adjusted in the run
    assert a.registrations_this_interval[nus[0]] == 0 and a.burn[nus[0]] != b0
