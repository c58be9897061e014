"""Registration: subnets (lock cost, pool seeding, start_call, pruning) and neurons (burned
registration, immunity, pruning by lowest pruning score), root registration (spec 4.6, 6, 7)."""
from __future__ import annotations

import numpy as np
from numba import njit

from dtao.chain.errors import (
    FirstEmissionBlockNumberAlreadySet,
    HotKeyAlreadyRegisteredInSubNet,
    NeedWaitingMoreBlocksToStarCall,
    NetworkTxRateLimitExceeded,
    NoNeuronIdAvailable,
    NonAssociatedColdKey,
    NotEnoughBalance,
    NotSubnetOwner,
    SubNetRegistrationDisabled,
    SubnetLimitReached,
    TooManyRegistrationsThisBlock,
    TooManyRegistrationsThisInterval,
)
from dtao.chain.params import SubnetHyper
from dtao.chain.state import H_TARGET_REGS, HF_ADJ_ALPHA, HF_MAX_BURN, HF_MIN_BURN, MECH_DYNAMIC, ROOT, ChainState, kernel_view


# ------------------------------------------------------------------------------------- subnets
def network_lock_cost(state: ChainState) -> float:
    """``get_network_lock_cost`` (TAO): the last lock doubled, decaying linearly back over
    ``NetworkLockReductionInterval`` blocks, never below ``NetworkMinLockCost``."""
    p = state.params
    last = state.network_last_lock_cost
    mult = 1.0 if state.network_last_lock_block == 0 else 2.0
    # integer division last_lock / interval in rao, as on chain
    decay_per_block = np.floor(last * 1e9 / p.network_lock_reduction_interval) / 1e9
    cost = last * mult - decay_per_block * max(state.block - state.network_last_lock_block, 0)
    return float(max(p.network_min_lock_cost, cost))


def _next_netuid(state: ChainState) -> int:
    ids = state.subnet_netuids
    n = 1
    used = set(int(i) for i in ids)
    while n in used:
        n += 1
    return n


def prune_candidate(state: ChainState) -> int | None:
    """The subnet the limit would replace: lowest EMA price among non-immune subnets (earliest on ties)."""
    ids = state.subnet_netuids
    immune = state.block - state.registered_block[ids] < state.params.network_immunity_period
    cand = ids[~immune]
    if cand.size == 0:
        return None
    mp = state.moving_price[cand]
    order = np.lexsort((state.registered_block[cand], mp))
    return int(cand[order[0]])


def register_network(state: ChainState, coldkey: int, hotkey: int, hyper: SubnetHyper | None = None) -> int:
    """``register_network``: pay the lock, create a dynamic subnet seeded with ``NetworkMinLockCost``
    TAO and as much alpha (price 1), burn the lock excess, register the owner hotkey.  Returns the netuid.

    Without the start gate (``require_start_call`` false, the runtime before v2.0.9) the subnet emits
    from its registration: ``FirstEmissionBlockNumber`` is set to the next block, as ``migrate_rao``
    does for the launch subnets, so the slow start counts blocks since registration (v2.0.6-v2.0.8).
    With the gate it stays unset until the owner's ``start_call``.

    Errors: NetworkTxRateLimitExceeded, NotEnoughBalance, NonAssociatedColdKey, SubnetLimitReached.
    """
    p = state.params
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    if state.hotkey_owner[hk] != ck:
        raise NonAssociatedColdKey(f"coldkey {ck} does not own hotkey {hk}")
    # NetworkLastRegistered is the same storage as NetworkLastLockBlock (0 at genesis)
    if state.block - state.network_last_lock_block < p.network_rate_limit:
        raise NetworkTxRateLimitExceeded(
            f"last subnet registered at block {state.network_last_lock_block}; "
            f"next allowed at {state.network_last_lock_block + p.network_rate_limit}")
    lock = network_lock_cost(state)
    if state.balance[ck] < lock:
        raise NotEnoughBalance(f"lock cost {lock} TAO, balance {state.balance[ck]} TAO")
    prune = None
    if p.subnet_limit is not None and state.subnet_netuids.size >= p.subnet_limit:
        if not p.subnet_pruning:
            raise SubnetLimitReached(f"{p.subnet_limit} subnets registered and pruning is off")
        prune = prune_candidate(state)
        if prune is None:
            raise SubnetLimitReached("every subnet is still immune")
    if prune is not None:
        dissolve_network(state, prune)
        netuid = prune
    else:
        netuid = _next_netuid(state)
    state._balance[ck] -= lock
    state.network_last_lock_cost = lock
    state.network_last_lock_block = state.block
    seed = min(p.network_min_lock_cost, lock)
    excess = lock - seed
    state.total_issuance -= excess
    state.tao_burned += excess
    state.add_subnet(netuid, mechanism=MECH_DYNAMIC, tao_reserve=seed, alpha_reserve=seed, moving_price=0.0,
                     owner_coldkey=ck, owner_hotkey=hk, hyper=hyper,
                     first_emission_block=-1 if p.require_start_call else state.block + 1)
    state.total_stake += seed
    state.registered_block[netuid] = state.block
    _append_neuron(state, netuid, hk)
    return netuid


def dissolve_network(state: ChainState, netuid: int) -> None:
    """Remove a subnet (pruning): stakers are paid their share of the pool's TAO, the rest is burned."""
    nu = state.check_subnet(netuid)
    if nu == ROOT:
        raise NotSubnetOwner("root cannot be dissolved")
    T = float(state.tao_reserve[nu])
    total_alpha = float(state.hotkey_alpha[:, nu].sum())
    paid = 0.0
    if total_alpha > 0 and T > 0:
        for hk in np.flatnonzero(state.hotkey_alpha[:, nu] > 0):
            v = float(state.hotkey_alpha[hk, nu])
            d = float(state.hotkey_shares[hk, nu])
            if d <= 0:
                continue
            owner = int(state.hotkey_owner[hk])
            if state.owner_shares[hk, nu] > 0:
                x = T * (v * state.owner_shares[hk, nu] / d) / total_alpha
                state._balance[owner] += x
                paid += x
        for (ck, hk, n2), s in list(state.positions.items()):
            if n2 != nu:
                continue
            d = float(state.hotkey_shares[hk, nu])
            if d > 0:
                x = T * (state.hotkey_alpha[hk, nu] * s / d) / total_alpha
                state._balance[ck] += x
                paid += x
            del state.positions[(ck, hk, n2)]
    burned = T - paid + state.pending_root_divs[nu]
    state.total_issuance -= burned
    state.tao_burned += burned
    state.total_stake = max(state.total_stake - T, 0.0)
    for name in ("hotkey_alpha", "hotkey_shares", "owner_shares", "alpha_dividends_per_subnet",
                 "tao_dividends_per_subnet", "hotkey_alpha_last_epoch", "childkey_take"):
        getattr(state, "_" + name)[:, nu] = 0.0
    from dtao.chain.state import SUBNET_BOOL_FIELDS, SUBNET_FLOAT_FIELDS, SUBNET_INT_FIELDS

    for name in SUBNET_FLOAT_FIELDS:
        getattr(state, name)[nu] = 0.0
    for name in SUBNET_INT_FIELDS:
        getattr(state, name)[nu] = -1 if name in ("first_emission_block", "owner_coldkey", "owner_hotkey") else 0
    for name in SUBNET_BOOL_FIELDS:
        getattr(state, name)[nu] = False
    state.neurons[nu] = None
    state.hyper[nu] = None
    state.children = {k: v for k, v in state.children.items() if k[1] != nu}
    state.parents = {k: v for k, v in state.parents.items() if k[1] != nu}


def start_call(state: ChainState, coldkey: int, netuid: int) -> None:
    """``start_call``: the owner starts emission, allowed ``DurationOfStartCall`` blocks after
    registration; sets ``FirstEmissionBlockNumber = block + 1``."""
    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    if state.owner_coldkey[nu] != ck:
        raise NotSubnetOwner(f"coldkey {ck} does not own subnet {nu}")
    if state.first_emission_block[nu] >= 0:
        raise FirstEmissionBlockNumberAlreadySet(f"subnet {nu} started at block {state.first_emission_block[nu]}")
    ready = state.registered_block[nu] + state.params.duration_of_start_call
    if state.block < ready:
        raise NeedWaitingMoreBlocksToStarCall(f"subnet {nu} may start at block {ready}, now {state.block}")
    state.first_emission_block[nu] = state.block + 1


# ------------------------------------------------------------------------------------- neurons
def _append_neuron(state: ChainState, netuid: int, hotkey: int) -> int:
    return state.neurons[netuid].append(hotkey, state.block)


def neuron_to_prune(state: ChainState, netuid: int) -> int | None:
    """``get_neuron_to_prune``: the non-immune UID with the lowest pruning score (ties: earliest
    registration); if every UID is immune, the immune one chosen the same way.  The subnet owner's
    hotkey is never chosen.  The chosen UID's pruning score is set to u16::MAX, as on chain.
    None only if the owner is the sole neuron."""
    nr = state.neurons[netuid]
    hyper = state.hyper[netuid]
    cand = np.flatnonzero(nr.hotkey != state.owner_hotkey[netuid])
    if cand.size == 0:
        return None
    immune = state.block - nr.block_at_registration[cand] < hyper.immunity_period
    pool = cand[~immune] if np.any(~immune) else cand
    order = np.lexsort((nr.block_at_registration[pool], nr.pruning_scores[pool]))
    uid = int(pool[order[0]])
    nr.pruning_scores[uid] = 65535
    return uid


@njit(cache=True)
def adjust_registration_core(block: int, exists: np.ndarray, last_adjustment_block: np.ndarray,
                             adjustment_interval: np.ndarray, registrations_this_interval: np.ndarray,
                             registrations_this_block: np.ndarray, burn: np.ndarray, hyp_i: np.ndarray,
                             hyp_f: np.ndarray) -> None:
    """The rule of :func:`adjust_registration_terms` over all existing netuids (compiled; the block loop
    calls it).  ``hyp_i``/``hyp_f``: per-netuid hyperparameter rows (target registrations per interval;
    adjustment alpha, min and max burn in TAO)."""
    for nu in range(exists.size):
        if not exists[nu]:
            continue
        if block - last_adjustment_block[nu] >= adjustment_interval[nu]:
            regs = registrations_this_interval[nu]
            target = hyp_i[nu, H_TARGET_REGS]
            if regs > target or regs == 0:
                cur = burn[nu]
                upgraded = cur * (regs + target) / (2 * target) if target > 0 else 0.0
                a = hyp_f[nu, HF_ADJ_ALPHA]
                nxt = a * cur + (1.0 - a) * upgraded
                burn[nu] = min(max(nxt, hyp_f[nu, HF_MIN_BURN]), hyp_f[nu, HF_MAX_BURN])
            last_adjustment_block[nu] = block
            registrations_this_interval[nu] = 0
        registrations_this_block[nu] = 0


def adjust_registration_terms(state: ChainState) -> None:
    """``adjust_registration_terms_for_networks`` (start of every block): every ``AdjustmentInterval``
    blocks the burn moves toward ``burn*(regs + target)/(2*target)`` with smoothing ``AdjustmentAlpha``,
    clamped to [MinBurn, MaxBurn] (with PoW off: when registrations exceeded the target or were zero),
    and the interval counters reset; the per-block counter resets every block."""
    v = kernel_view(state)
    adjust_registration_core(int(state.block), state.exists, state.last_adjustment_block, state.adjustment_interval,
                             state.registrations_this_interval, state.registrations_this_block, state.burn,
                             v.hyp_i, v.hyp_f)


def burned_register(state: ChainState, coldkey: int, hotkey: int, netuid: int) -> int:
    """``burned_register``: pay the subnet's current burn (TAO) and give ``hotkey`` a UID.

    The burn is swapped into the subnet's pool (buy pressure) and the alpha bought is destroyed, as on
    chain; ``TotalIssuance`` is unchanged.  When the subnet has ``max_allowed_uids`` UIDs, the UID
    chosen by ``neuron_to_prune`` is replaced.  Errors: SubnetNotExists, SubNetRegistrationDisabled,
    TooManyRegistrationsThisBlock, TooManyRegistrationsThisInterval, NotEnoughBalance,
    HotKeyAlreadyRegisteredInSubNet, NoNeuronIdAvailable, NonAssociatedColdKey.
    """
    from dtao.chain.swap import sim_swap_tao_for_alpha, swap_tao_for_alpha

    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    if nu == ROOT:
        return root_register(state, ck, hk)
    if state.hotkey_owner[hk] != ck:
        raise NonAssociatedColdKey(f"coldkey {ck} does not own hotkey {hk}")
    hyper = state.hyper[nu]
    if not state.registration_allowed[nu]:
        raise SubNetRegistrationDisabled(f"registration is disabled on subnet {nu}")
    if state.registrations_this_block[nu] >= hyper.max_registrations_per_block:
        raise TooManyRegistrationsThisBlock(f"subnet {nu} already had {hyper.max_registrations_per_block} registration(s) this block")
    if state.registrations_this_interval[nu] >= 3 * hyper.target_registrations_per_interval:
        raise TooManyRegistrationsThisInterval(
            f"subnet {nu} already had {state.registrations_this_interval[nu]} registrations this interval")
    if state.uid_of(nu, hk) is not None:
        raise HotKeyAlreadyRegisteredInSubNet(f"hotkey {hk} already has a UID on subnet {nu}")
    cost = float(state.burn[nu])
    if state.balance[ck] < cost:
        raise NotEnoughBalance(f"registration burn {cost} TAO, balance {state.balance[ck]} TAO")
    nr = state.neurons[nu]
    if nr.n >= hyper.max_allowed_uids:
        uid = neuron_to_prune(state, nu)
        if uid is None:
            raise NoNeuronIdAvailable(f"subnet {nu} is full and only its owner is registered")
        nr.replace(uid, hk, state.block)
    else:
        uid = nr.append(hk, state.block)
    state._balance[ck] -= cost
    if sim_swap_tao_for_alpha(state, nu, cost) is not None:
        bought = swap_tao_for_alpha(state, nu, cost)
        state.alpha_out[nu] = max(state.alpha_out[nu] - bought, 0.0)
        state.alpha_minted[nu] -= bought  # the alpha bought with the burn is destroyed
    else:
        state.tao_unowned += cost  # refused swap: the chain's swap returns 0 and the TAO is gone
    state.registrations_this_block[nu] += 1
    state.registrations_this_interval[nu] += 1
    return uid


def register_neurons_genesis(state: ChainState, netuid: int, hotkeys: np.ndarray) -> np.ndarray:
    """Give many hotkeys UIDs at once without burn or rate limits (building an initial state)."""
    nu = state.check_subnet(netuid)
    nr = state.neurons[nu]
    hotkeys = np.asarray(hotkeys, np.int64)
    if nr.n + hotkeys.size > state.hyper[nu].max_allowed_uids:
        raise NoNeuronIdAvailable(f"subnet {nu} allows {state.hyper[nu].max_allowed_uids} UIDs")
    uids = np.arange(nr.n, nr.n + hotkeys.size)
    n = nr.n + hotkeys.size
    for name in nr.VECTORS:
        arr = getattr(nr, name)
        setattr(nr, name, np.concatenate([arr, np.zeros(hotkeys.size, arr.dtype)]))
    nr.hotkey[uids] = hotkeys
    nr.block_at_registration[uids] = state.block
    nr.mark_uids_changed()
    nr.last_update[uids] = state.block
    for name in ("weights", "bonds"):
        m = getattr(nr, name)
        new = np.zeros((n, n), np.uint16)
        new[: m.shape[0], : m.shape[1]] = m
        setattr(nr, name, new)
    return uids


def root_register(state: ChainState, coldkey: int, hotkey: int) -> int:
    """``root_register``: a UID on root (max ``MaxAllowedUids[0]`` = 64).  When full, the hotkey must
    have more root stake than the lowest-staked root UID, which it replaces."""
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    if state.hotkey_owner[hk] != ck:
        raise NonAssociatedColdKey(f"coldkey {ck} does not own hotkey {hk}")
    if state.uid_of(ROOT, hk) is not None:
        raise HotKeyAlreadyRegisteredInSubNet(f"hotkey {hk} already on root")
    nr = state.neurons[ROOT]
    if nr.n < state.hyper[ROOT].max_allowed_uids:
        return nr.append(hk, state.block)
    stakes = state.hotkey_alpha[nr.hotkey, ROOT]
    low = int(np.argmin(stakes))
    if state.hotkey_alpha[hk, ROOT] <= stakes[low]:
        raise NoNeuronIdAvailable("root is full and the hotkey's root stake is not above the lowest root UID")
    nr.replace(low, hk, state.block)
    return low
