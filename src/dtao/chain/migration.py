"""``migrate_rao``-style genesis of the dTAO launch state (v2.0.0, 2025-02-13), and the later
migrations a replay of the timeline needs.

All stake sits on root (netuid 0, stable); each subnet becomes dynamic with a pool of
``NetworkMinLockCost`` TAO and as much alpha (price 1.0), and ``SubnetMovingPrice`` is seeded with
the subnet's pre-dTAO emission share (``EmissionValues / 1e9``).  ``migrate_set_first_emission_block_number``
is v2.0.9's (2025-03-28).
"""
from __future__ import annotations

import numpy as np

from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.state import MECH_DYNAMIC, MECH_STABLE, ROOT, ChainState


def genesis(params: ChainParams | None = None, *, block: int = 0) -> ChainState:
    """An empty chain with only the root subnet (stable, 64 UIDs)."""
    state = ChainState(params=params or ChainParams())
    state.block = block
    state.add_subnet(ROOT, mechanism=MECH_STABLE, moving_price=1.0,
                     hyper=SubnetHyper(max_allowed_uids=64, max_allowed_validators=64))
    return state


def migrate_rao(state: ChainState, n_subnets: int, emission_values: np.ndarray, *,
                owner_coldkeys: np.ndarray, owner_hotkeys: np.ndarray, started: bool = True,
                hyper: SubnetHyper | None = None) -> np.ndarray:
    """Create subnets 1..n_subnets as at the rao migration; returns their netuids.

    ``emission_values`` (length n_subnets) are the pre-dTAO emission shares that seed the moving
    price.  With ``started`` the subnets emit from the next block (FirstEmissionBlockNumber set), as
    the launch subnets did before ``start_call`` existed.
    """
    seed = state.params.network_min_lock_cost
    ev = np.asarray(emission_values, np.float64)
    ids = np.arange(1, n_subnets + 1)
    for i, nu in enumerate(ids):
        state.add_subnet(int(nu), mechanism=MECH_DYNAMIC, tao_reserve=seed, alpha_reserve=seed,
                         moving_price=float(ev[i]), owner_coldkey=int(owner_coldkeys[i]),
                         owner_hotkey=int(owner_hotkeys[i]), hyper=hyper,
                         first_emission_block=state.block + 1 if started else -1)
        state.registered_block[nu] = state.block
        state.neurons[nu].append(int(owner_hotkeys[i]), state.block)
    # the pools' seed TAO comes out of the owners' refunded locks: created here as genesis issuance
    total = float(seed * n_subnets)
    state.total_issuance += total
    state.initial_issuance += total
    state.total_stake += total
    state.network_last_lock_cost = seed
    return ids


def seed_stake(state: ChainState, coldkey: int, hotkey: int, netuid: int, amount: float) -> None:
    """Genesis stake: ``amount`` (TAO on root, alpha elsewhere) credited to (coldkey, hotkey, netuid)
    as if it had always been there (counted in the initial issuance; no swap, no fee)."""
    from dtao.chain.stake_pool import increase_stake_for_hotkey_and_coldkey_on_subnet
    from dtao.chain.state import check_amount

    amt = check_amount(amount, "genesis stake")
    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    increase_stake_for_hotkey_and_coldkey_on_subnet(state, hk, ck, nu, amt)
    if nu == ROOT or state.mechanism[nu] == MECH_STABLE:
        state.tao_reserve[nu] += amt
        state.alpha_out[nu] += amt
        state.total_issuance += amt
        state.initial_issuance += amt
        state.total_stake += amt
    else:
        state.alpha_out[nu] += amt
        state.alpha_minted[nu] += amt


def migrate_set_first_emission_block_number(state: ChainState) -> np.ndarray:
    """v2.0.9's ``migrate_set_first_emission_block_number``: every existing subnet gets
    ``FirstEmissionBlockNumber`` = the current block (they were all emitting already; later subnets
    wait for their owner's ``start_call``).  Returns the netuids set."""
    ids = state.subnet_netuids
    state.first_emission_block[ids] = state.block
    return ids
