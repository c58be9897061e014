"""Initial networks for scenarios: the dTAO launch state (``launch-2025``) and a developed
synthetic network (``synthetic``).  Both are built with the chain's own genesis functions
(``genesis``, ``migrate_rao``, ``seed_stake``, ``register_neurons_genesis``, ``root_register``,
``set_weights_batch``), so every TAO and alpha is accounted from the first block.

Who holds what (both builders):
* subnet owners: one coldkey + hotkey per subnet, UID 0, validator permit;
* root validators: ``root_validators`` hotkeys with a UID on root and on every subnet (except
  subnets marked ``root_validators = false``, where only the largest, the foundation, registers);
  their root stake follows a Zipf law after the foundation's share, ``validator_self_share`` of each
  held by its own coldkey and the rest by ``root_holders`` nominator coldkeys;
* miners: the remaining UIDs, one coldkey each.
Validators have set weights on the miners by latent quality at the start block.

Launch figures (opentensor/subtensor v2.0.0 ``migrate_rao``; ../shared/data/history/
chain_params_at_launch.json): 64 subnets, each pool seeded with NetworkMinLockCost = 1 TAO and
1 alpha (price 1.0), SubnetMovingPrice seeded with the subnet's pre-dTAO emission share
(EmissionValues/1e9), ~6M TAO on root (range 5-6.5M), ~8.38M TAO issued, tao_weight 0.18.  The
per-subnet pre-dTAO emission values are not in the data; they are drawn log-normal (linked to
latent quality) and normalised to sum to 1, which is what the real values summed to.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtao.agents.base import Roles, World
from dtao.chain.migration import genesis, migrate_rao, seed_stake
from dtao.chain.params import ChainParams
from dtao.chain.registration import register_neurons_genesis, root_register
from dtao.chain.state import MECH_DYNAMIC, ROOT, ChainState
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.chain.weights import set_weights_batch

#: launch figures used by ``launch-2025`` (source: chain_params_at_launch.json, migrate_rao.rs v2.0.0)
LAUNCH_FIGURES: dict[str, float] = {
    "subnets_at_launch": 64,
    "initial_pool_tao": 1.0,
    "initial_pool_alpha": 1.0,
    "root_tao_at_launch_est": 6_000_000.0,
    "tao_issued_at_launch_est": 8_380_000.0,
    "tao_weight": 3320413933267719290 / 18446744073709551615,
    "blocks_per_day": 7200,
    "tempo_blocks_default": 360,
}


@dataclass
class Network:
    """A built initial state with the roles of its accounts."""

    state: ChainState
    roles: Roles
    start_block: int
    target_issuance: float | None = None


def _root_stake_split(rng: np.random.Generator, k: int, total: float, foundation_share: float) -> np.ndarray:
    """Root stake per validator (TAO): the first holds ``foundation_share``; the others a Zipf
    law (1/rank) over the rest, lightly jittered."""
    if k == 1:
        return np.array([total])
    rest = 1.0 / np.arange(2, k + 1) * np.exp(rng.normal(0.0, 0.1, k - 1))
    rest = rest / rest.sum() * (1.0 - foundation_share)
    share = np.concatenate([[foundation_share], rest])
    order = np.argsort(-share, kind="stable")
    return share[order] * total


def _root_validators(state: ChainState, rng: np.random.Generator, cfg: object) -> tuple[np.ndarray, np.ndarray]:
    """Create root validators and their nominators; stake ``root_tao`` on root.  Returns
    (validator hotkeys, root holder coldkeys)."""
    k = cfg.root_validators
    vck = state.new_coldkeys(np.zeros(k))
    vhk = state.new_hotkeys(vck)
    stakes = _root_stake_split(rng, k, cfg.root_tao, cfg.foundation_root_share)
    holders = state.new_coldkeys(np.zeros(cfg.root_holders))
    # each nominator backs one validator, chosen in proportion to validator stake
    backing = rng.choice(k, size=holders.size, p=stakes / stakes.sum())
    w = np.exp(rng.normal(0.0, 1.0, holders.size))
    for v in range(k):
        root_register(state, int(vck[v]), int(vhk[v]))
        own = stakes[v] * cfg.validator_self_share
        mine = np.flatnonzero(backing == v)
        if mine.size == 0:
            own = stakes[v]
        if own > 0:
            seed_stake(state, int(vck[v]), int(vhk[v]), ROOT, float(own))
        if mine.size:
            amounts = w[mine] / w[mine].sum() * (stakes[v] - own)
            for ck, a in zip(holders[mine], amounts):
                seed_stake(state, int(ck), int(vhk[v]), ROOT, float(a))
    return vhk.astype(np.int64), holders.astype(np.int64)


def _register_subnet_neurons(state: ChainState, netuid: int, validators: np.ndarray, n_uids: int) -> np.ndarray:
    """Give ``validators`` UIDs (after the owner's UID 0) and fill the rest with new miners; returns
    the miners' hotkeys."""
    register_neurons_genesis(state, netuid, validators)
    n_miners = n_uids - state.neurons[netuid].n
    mck = state.new_coldkeys(np.zeros(n_miners))
    mhk = state.new_hotkeys(mck)
    register_neurons_genesis(state, netuid, mhk)
    return mhk.astype(np.int64)


def _initial_weights(state: ChainState, world: World, rng: np.random.Generator, netuid: int,
                     validator_hotkeys: np.ndarray, noise: float = 0.3) -> None:
    """Permit holders (owner + validators) set quality weights on the miners at the start block."""
    nr = state.neurons[netuid]
    is_val = np.isin(nr.hotkey, validator_hotkeys) | (nr.hotkey == state.owner_hotkey[netuid])
    nr.validator_permit[:] = False
    nr.validator_permit[is_val] = True
    setters = np.flatnonzero(is_val)
    miners = ~is_val
    if setters.size == 0 or not miners.any():
        return
    q = world.quality_of(nr.hotkey[miners])
    W = np.zeros((setters.size, nr.n))
    W[:, miners] = q * np.exp(noise * rng.standard_normal((setters.size, int(miners.sum()))))
    set_weights_batch(state, netuid, setters, W, enforce_rate_limit=False)


# ---------------------------------------------------------------------------------------- launch
def launch_2025(cfg: object, params: ChainParams, world: World, rng: np.random.Generator) -> Network:
    """The dTAO launch state (see module docstring).  Block 0 is the migration; the run starts at
    block 1, with validators' weights set then.  ``target_issuance`` (8.38M TAO by default) is
    reached after the agents are funded by topping up one idle reserve wallet."""
    state = genesis(params, block=0)
    n = cfg.n_subnets
    q = world.subnet_q(n + 1)[1:]
    ev = q ** cfg.emission_quality_link * np.exp(rng.normal(0.0, cfg.emission_sigma, n))
    ev = ev / ev.sum()
    ock = state.new_coldkeys(np.zeros(n))
    ohk = state.new_hotkeys(ock)
    hyper = params.subnet_hyper
    from dataclasses import replace

    hyper = replace(hyper, max_allowed_uids=cfg.max_uids)
    migrate_rao(state, n, ev, owner_coldkeys=ock, owner_hotkeys=ohk, started=True, hyper=hyper)
    vhk, holders = _root_validators(state, rng, cfg)
    miners = [_register_subnet_neurons(state, int(nu), vhk, cfg.n_uids) for nu in range(1, n + 1)]
    state.block = 1  # weights set after the UIDs registered (the epoch drops older weights)
    for nu in range(1, n + 1):
        _initial_weights(state, world, rng, nu, vhk)
    roles = Roles(root_validators=vhk, foundation=int(vhk[0]), root_holders=holders,
                  miners=np.concatenate(miners) if miners else np.zeros(0, np.int64)).finalize(state)
    return Network(state, roles, start_block=1, target_issuance=cfg.total_issuance)


# ------------------------------------------------------------------------------------- synthetic
def synthetic_network(cfg: object, params: ChainParams, world: World, rng: np.random.Generator) -> Network:
    """A developed network ``start_day`` days after its subnets started (see module docstring).

    Prices are log-normal around ``price_median`` (capped at 1), the EMA price equals the spot
    price, pools hold ``pool_tao`` scaled by price/median (so pools hold similar alpha) with
    log-normal noise.  Alpha outstanding is ``alpha_out_ratio`` x pool alpha, or whatever makes
    the subnet's root proportion ``root_proportion``; owners hold ``owner_alpha_share`` of it,
    miners ``miner_alpha_share`` (by quality) and validators the rest (by root stake)."""
    from dataclasses import replace

    state = genesis(params, block=0)
    n = cfg.n_subnets
    over = {s.netuid: s for s in cfg.subnets}
    prices = np.minimum(cfg.price_median * np.exp(rng.normal(0.0, cfg.price_sigma, n)), 1.0)
    pool_noise = np.exp(rng.normal(0.0, cfg.pool_sigma, n))
    for i in range(n):
        s = over.get(i + 1)
        if s is not None and s.price is not None:
            prices[i] = s.price
    for i in range(n):
        s = over.get(i + 1)
        if s is not None and s.price_quantile is not None:
            others = np.delete(prices, i)
            prices[i] = float(np.quantile(others, s.price_quantile)) if others.size else cfg.price_median
    pool_tao = cfg.pool_tao * prices / cfg.price_median * pool_noise
    for i in range(n):
        s = over.get(i + 1)
        if s is not None and s.pool_tao is not None:
            pool_tao[i] = s.pool_tao
    hyper = replace(params.subnet_hyper, max_allowed_uids=cfg.max_uids)
    ock = state.new_coldkeys(np.zeros(n))
    ohk = state.new_hotkeys(ock)
    for i in range(n):
        nu = i + 1
        alpha_res = pool_tao[i] / prices[i]
        state.add_subnet(nu, mechanism=MECH_DYNAMIC, tao_reserve=float(pool_tao[i]), alpha_reserve=float(alpha_res),
                         moving_price=float(prices[i]), owner_coldkey=int(ock[i]), owner_hotkey=int(ohk[i]),
                         hyper=hyper, first_emission_block=1)
        state.total_issuance += float(pool_tao[i])
        state.initial_issuance += float(pool_tao[i])
        state.total_stake += float(pool_tao[i])
        state.neurons[nu].append(int(ohk[i]), 0)
    vhk, holders = _root_validators(state, rng, cfg)
    foundation = vhk[:1]
    tw = params.tao_weight
    R = float(state.tao_reserve[ROOT])
    miners_all = []
    for i in range(n):
        nu = i + 1
        s = over.get(nu)
        here = vhk if (s is None or s.root_validators) else foundation
        mhk = _register_subnet_neurons(state, nu, here, cfg.n_uids)
        miners_all.append(mhk)
        alpha_res = float(state.alpha_reserve[nu])
        if cfg.root_proportion is not None:
            issuance = tw * R * (1.0 - cfg.root_proportion) / cfg.root_proportion
            alpha_out = max(issuance - alpha_res, 0.0)
        else:
            alpha_out = cfg.alpha_out_ratio * alpha_res
        if alpha_out <= 0:
            continue
        seed_stake(state, int(ock[i]), int(ohk[i]), nu, alpha_out * cfg.owner_alpha_share)
        qm = world.quality_of(mhk)
        for hk, a in zip(mhk, alpha_out * cfg.miner_alpha_share * qm / qm.sum()):
            seed_stake(state, int(state.hotkey_owner[hk]), int(hk), nu, float(a))
        v_alpha = alpha_out * (1.0 - cfg.owner_alpha_share - cfg.miner_alpha_share)
        if s is not None and not s.root_validators:  # the owner's validator holds the validators' part
            seed_stake(state, int(ock[i]), int(ohk[i]), nu, v_alpha)
        else:
            w = state.hotkey_alpha[here, ROOT]
            for hk, a in zip(here, v_alpha * w / w.sum()):
                seed_stake(state, int(state.hotkey_owner[hk]), int(hk), nu, float(a))
    if cfg.free_tao > 0:
        state.new_coldkeys(np.array([cfg.free_tao]))
    start = int(round(cfg.start_day * BLOCKS_PER_DAY)) + 1
    state.block = start
    for nu in range(1, n + 1):
        s = over.get(nu)
        _initial_weights(state, world, rng, nu, vhk if (s is None or s.root_validators) else foundation)
    roles = Roles(root_validators=vhk, foundation=int(vhk[0]), root_holders=holders,
                  miners=np.concatenate(miners_all)).finalize(state)
    return Network(state, roles, start_block=start)


def pin_rank(state: ChainState, world: World, netuid: int, rank: int) -> int:
    """Give ``netuid`` the launch standing of the subnet ranked ``rank`` (1 = highest) by EMA price
    (at launch: the pre-dTAO emission share) by swapping the two subnets' EMA prices and latent
    qualities: the draws are kept, only which netuid holds which changes.  Returns the netuid it
    swapped with (itself if already there)."""
    ids = state.subnet_netuids
    if netuid not in ids or not (1 <= rank <= ids.size):
        raise ValueError(f"cannot pin subnet {netuid} to rank {rank} of {ids.size}")
    order = ids[np.argsort(-state.moving_price[ids], kind="stable")]
    other = int(order[rank - 1])
    if other != netuid:
        mp = state.moving_price
        mp[netuid], mp[other] = mp[other], mp[netuid]
        q = world.subnet_q(state.n_subnets_cap)
        q[netuid], q[other] = q[other], q[netuid]
    return other
