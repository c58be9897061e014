"""The per-block coinbase and the tempo drain, launch era (``run_coinbase.rs`` v2.0.11, spec 3).

Order per block (``block_step``): E = block emission from issuance before this block; then for the
emitting subnets (started, not root): TAO shares by the emission rule; injection (tao_in, alpha_in
capped by the subnet's own alpha emission, alpha_out); owner cut; root proportion and the root alpha
sold through the pool; pending accumulators; the EMA moving price; finally every subnet whose
staggered epoch fires drains its pending emission through Yuma consensus to miners, validators,
nominators, the owner and root.  Everything is vectorised across subnets; epochs that fire in the
same block run in one batched call.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dtao.chain.block_emission import block_emission_for_issuance
from dtao.chain.stake_pool import credit_owner_stake, increase_stake_for_hotkey_on_subnet
from dtao.chain.state import MECH_STABLE, ROOT, ChainState
from dtao.chain.subnet_emissions import subnet_emission_shares, update_after_block
from dtao.chain.swap import quote_alpha_for_tao


@dataclass
class Drain:
    """One ``drain_pending_emission`` call: what was handed to it and what it paid (alpha/TAO units)."""

    block: int
    netuid: int
    pending_alpha: float
    pending_tao: float
    pending_swapped: float
    owner_cut: float
    incentive_paid: float = 0.0
    incentive_burned: float = 0.0
    alpha_dividends_paid: float = 0.0
    tao_dividends_paid: float = 0.0


@dataclass
class BlockReport:
    """What one block's coinbase did (per-subnet arrays indexed by netuid)."""

    block: int
    block_emission: float
    drains: list[Drain] = field(default_factory=list)


def blocks_until_next_epoch(netuid: np.ndarray | int, tempo: np.ndarray | int, block: int) -> np.ndarray:
    """``tempo - ((block + netuid + 1) mod (tempo + 1))``; u64::MAX (-1 here) when tempo is 0."""
    netuid = np.asarray(netuid, np.int64)
    tempo = np.asarray(tempo, np.int64)
    out = tempo - ((block + netuid + 1) % np.maximum(tempo + 1, 1))
    return np.where(tempo == 0, -1, out)


def get_block_emission(state: ChainState) -> float:
    """TAO emitted this block, from ``TotalIssuance`` before the block (spec 2)."""
    return float(block_emission_for_issuance(state.total_issuance))


def emitting_subnets(state: ChainState) -> np.ndarray:
    """Netuids that receive emission: existing, not root, started (``FirstEmissionBlockNumber`` set)."""
    ids = state.subnet_netuids
    if state.params.require_start_call:
        ids = ids[state.first_emission_block[ids] >= 0]
    return ids


def root_proportion(state: ChainState, netuids: np.ndarray | None = None) -> np.ndarray:
    """Root's share of each subnet's validator emission: ``tw*SubnetTAO[0] / (tw*SubnetTAO[0] + alpha issuance)``.

    Indexed like ``netuids`` (all netuids when None; 0 for subnets with no issuance and no root)."""
    ids = np.arange(state.n_subnets_cap) if netuids is None else np.asarray(netuids, np.int64)
    t0 = state.params.tao_weight * state.tao_reserve[ROOT]
    denom = t0 + state.alpha_issuance()[ids]
    return np.divide(t0, denom, out=np.zeros(ids.shape, np.float64), where=denom > 0)


def update_moving_price(state: ChainState, netuids: np.ndarray) -> None:
    """``update_moving_price`` for ``netuids`` (spec 3.2): EMA of the spot price capped at 1.0, slow start."""
    if netuids.size == 0:
        return
    p = state.params
    alpha = p.subnet_moving_alpha
    if p.ema_slow_start:
        start_call_block = np.maximum(state.first_emission_block[netuids] - 1, 0)
        b = np.maximum(state.block - start_call_block, 0).astype(np.float64)
        h = state.ema_halving_blocks[netuids].astype(np.float64)
        denom = b + h
        alpha = alpha * np.divide(b, denom, out=np.zeros_like(b), where=denom > 0)
    price = state.spot_price()[netuids]
    if p.ema_price_cap:
        price = np.minimum(price, 1.0)
    mp = np.where(state.mechanism[netuids] == MECH_STABLE, 1.0, state.moving_price[netuids])
    state.moving_price[netuids] = alpha * price + (1.0 - alpha) * mp


def run_coinbase(state: ChainState, block_emission: float, *, drain: bool = True) -> BlockReport:
    """``run_coinbase(E)`` at ``state.block`` (spec 3.1).  With ``drain=False`` the due epochs are
    recorded in the report but not run (for conformance of the coinbase alone)."""
    p = state.params
    report = BlockReport(state.block, block_emission)
    emit = emitting_subnets(state)
    state.tao_in_emission[:] = 0.0
    state.alpha_in_emission[:] = 0.0
    state.alpha_out_emission[:] = 0.0
    state.emission_share[:] = 0.0
    if emit.size:
        shares = subnet_emission_shares(state, emit)
        tao_in = block_emission * shares
        price = state.spot_price()[emit]
        alpha_em = np.asarray(block_emission_for_issuance(state.alpha_issuance()[emit]))
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha_in = np.where(price > 0, np.minimum(tao_in / np.where(price > 0, price, 1.0), alpha_em), alpha_em)
        alpha_out = alpha_em.copy()
        reg_off = ~state.registration_allowed[emit] & ~state.pow_registration_allowed[emit]
        tao_in = np.where(reg_off, 0.0, tao_in)  # quirk: alpha_in already computed from the non-zero tao_in
        # injection
        state.alpha_reserve[emit] += alpha_in
        state.alpha_out[emit] += alpha_out
        state.alpha_minted[emit] += alpha_in + alpha_out
        state.tao_reserve[emit] += tao_in
        injected = float(tao_in.sum())
        state.total_stake += injected
        state.total_issuance += injected
        state.tao_injected += injected
        state.tao_in_emission[emit] = tao_in
        state.alpha_in_emission[emit] = alpha_in
        state.alpha_out_emission[emit] = alpha_out
        state.emission_share[emit] = shares
        # owner cut
        cut = alpha_out * p.subnet_owner_cut
        state.pending_owner_cut[emit] += cut
        alpha_out = alpha_out - cut
        # root share, sold through the pool every block
        root_prop = root_proportion(state, emit)
        root_alpha = root_prop * alpha_out * 0.5
        pending_alpha = alpha_out - root_alpha
        stable = state.mechanism[emit] == MECH_STABLE
        T, A = state.tao_reserve[emit], state.alpha_reserve[emit]
        tao_out, ok = quote_alpha_for_tao(T, A, root_alpha, stable, p.min_pool_liquidity)
        sold = np.where(ok, root_alpha, 0.0)
        tao_out = np.where(ok, tao_out, 0.0)
        state.alpha_reserve[emit] = A + sold
        state.alpha_out[emit] = np.maximum(state.alpha_out[emit] - sold, 0.0)
        state.tao_reserve[emit] = np.maximum(T - tao_out, 0.0)
        state.total_stake = max(state.total_stake - float(tao_out.sum()), 0.0)
        state.volume[emit] += tao_out
        state.alpha_unowned[emit] += root_alpha - sold  # refused sale: minted alpha no one holds
        state.pending_alpha_swapped[emit] += root_alpha
        state.pending_emission[emit] += pending_alpha
        state.pending_root_divs[emit] += tao_out
        update_moving_price(state, emit)
    update_after_block(state, emit)
    # epochs
    ids = state.subnet_netuids
    due_mask = blocks_until_next_epoch(ids, state.tempo[ids], state.block) == 0
    due = ids[due_mask]
    state.blocks_since_last_step[ids[~due_mask]] += 1
    if due.size:
        state.blocks_since_last_step[due] = 0
        state.last_step_block[due] = state.block
        takes = [
            Drain(state.block, int(nu), float(state.pending_emission[nu]), float(state.pending_root_divs[nu]),
                  float(state.pending_alpha_swapped[nu]), float(state.pending_owner_cut[nu]))
            for nu in due
        ]
        state.pending_emission[due] = 0.0
        state.pending_root_divs[due] = 0.0
        state.pending_alpha_swapped[due] = 0.0
        state.pending_owner_cut[due] = 0.0
        if drain:
            from dtao.chain.drain import drain_pending_emission_batch

            drain_pending_emission_batch(state, takes)
        else:
            # not drained here: keep the amounts accounted as held by no one
            for d in takes:
                state.alpha_unowned[d.netuid] += d.pending_alpha + d.owner_cut
                state.tao_unowned += d.pending_tao
        report.drains = takes
    return report


def block_step(state: ChainState) -> BlockReport:
    """One block (``block_step``): registration terms, emission from issuance, the coinbase with its
    drains, pending childkeys of the subnets whose epoch ran, then the block number advances."""
    from dtao.chain.childkeys import apply_pending_children
    from dtao.chain.registration import adjust_registration_terms

    adjust_registration_terms(state)
    e = get_block_emission(state)
    report = run_coinbase(state, e)
    if state.pending_children and report.drains:
        apply_pending_children(state, np.array([d.netuid for d in report.drains]))
    state.block += 1
    return report


def run_blocks(state: ChainState, n: int) -> list[BlockReport]:
    """Run ``n`` blocks; returns their reports."""
    return [block_step(state) for _ in range(n)]
