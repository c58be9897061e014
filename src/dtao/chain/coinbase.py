"""The per-block coinbase and the tempo drain, launch era (``run_coinbase.rs`` v2.0.11, spec 3).

Order per block (``block_step``): registration terms; E = block emission from issuance before this
block; then for the emitting subnets (started, not root): TAO shares by the emission rule; injection
(tao_in, alpha_in capped by the subnet's own alpha emission, alpha_out); owner cut; root proportion
and the root alpha sold through the pool; pending accumulators; the EMA moving price; the rule's own
end-of-block state (flow EMA, root epoch); finally every subnet whose staggered epoch fires drains its
pending emission through Yuma consensus to miners, validators, nominators, the owner and root, and
pending childkeys of those subnets are applied.

The whole block is one compiled loop (:func:`_advance`) over all subnets, which can run many blocks
without returning to Python (:func:`run_blocks`); it comes back to Python only for what is rare and
stateful in Python objects: the root epoch of the ``root_vote`` rule, drains when childkeys exist
(their dividend split), and pending childkeys.  ``block_step``, ``run_blocks`` and ``run_coinbase``
all run this one implementation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, overload

import numpy as np
from numba import njit

from dtao.chain.block_emission import emission_tao
from dtao.chain.drain import (
    H_YUMA3,
    PAID_ALPHA_DIVS,
    PAID_BURNED,
    PAID_INCENTIVE,
    PAID_TAO_DIVS,
    SC_LAST_E,
    SC_STAKE,
    SC_INJECTED,
    SC_ISSUANCE,
    SC_TAO_UNOWNED,
    _scalars,
    _store_scalars,
    distribute_core,
    drain_pending_emission_batch,
    epoch_store,
    owner_uid_of,
)
from dtao.chain.epoch import _n_blocks
from dtao.chain.profile import PHASES, add_call, profiling, read_cycles
from dtao.chain.registration import adjust_registration_core
from dtao.chain.state import MECH_STABLE, ROOT, ChainState, kernel_view, neuron_arrays, spot_price_1
from dtao.chain.subnet_emissions import (
    RULE_CODES,
    ema_price_shares,
    flow_shares,
    flow_update,
    moving_price_of,
    root_epoch_shares,
    root_vote_shares,
)
from dtao.chain.swap import alpha_for_tao_1
from dtao.chain.threads import ADAPT, A_OFF, adaptive_record, adaptive_serial, may_fork_join


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


@njit(cache=True, inline="always")
def blocks_until_epoch_1(netuid: int, tempo: int, block: int) -> int:
    """The epoch schedule (``blocks_until_next_epoch``) of one subnet: ``tempo - ((block + netuid + 1) mod
    (tempo + 1))`` blocks from ``block`` to its next epoch (0: it runs at ``block``); u64::MAX (-1 here)
    when tempo is 0."""
    if tempo == 0:
        return -1
    return tempo - (block + netuid + 1) % max(tempo + 1, 1)


@njit(cache=True)
def _blocks_until_each(netuid: np.ndarray, tempo: np.ndarray, block: int, out: np.ndarray) -> None:
    for i in range(out.size):
        out[i] = blocks_until_epoch_1(netuid[i], tempo[i], block)


def blocks_until_next_epoch(netuid: np.ndarray | int, tempo: np.ndarray | int, block: int) -> np.ndarray:
    """:func:`blocks_until_epoch_1` of each (netuid, tempo) pair (broadcast); an int64 array."""
    nu, t = np.broadcast_arrays(np.asarray(netuid, np.int64), np.asarray(tempo, np.int64))
    out = np.empty(nu.shape, np.int64)
    _blocks_until_each(np.ascontiguousarray(nu).reshape(-1), np.ascontiguousarray(t).reshape(-1), int(block),
                       out.reshape(-1))
    return out


@njit(cache=True)
def _due_within(exists: np.ndarray, tempo: np.ndarray, block: int, span: int, out: np.ndarray) -> int:
    """The existing subnets (root aside) whose epoch may run in the ``span`` blocks from ``block``, in
    netuid order, into ``out``; returns their count.  When ``span`` is at least the longest tempo + 1
    that is every one of them; otherwise those with ``0 <= blocks_until_epoch_1 < span`` (a tempo
    of 0 never runs an epoch)."""
    longest = 0
    for nu in range(1, exists.size):
        if exists[nu] and tempo[nu] > longest:
            longest = tempo[nu]
    every = span >= longest + 1
    m = 0
    for nu in range(1, exists.size):
        if exists[nu]:
            wait = blocks_until_epoch_1(nu, tempo[nu], block)
            out[m] = nu
            m += every or 0 <= wait < span
    return m


@njit(cache=True)
def epoch_due(netuid: int, tempo: int, block: int) -> bool:
    """Whether ``netuid``'s epoch runs at ``block`` (``blocks_until_next_epoch == 0``; never if tempo is 0)."""
    return tempo > 0 and blocks_until_epoch_1(netuid, tempo, block) == 0


def get_block_emission(state: ChainState) -> float:
    """TAO emitted this block, from ``TotalIssuance`` before the block (spec 2)."""
    return float(emission_tao(float(state.total_issuance)))


def emitting_subnets(state: ChainState) -> np.ndarray:
    """Netuids that receive emission: existing, not root, started (``FirstEmissionBlockNumber`` set)."""
    ids = state.subnet_netuids
    if state.params.require_start_call:
        ids = ids[state.first_emission_block[ids] >= 0]
    return ids


@njit(cache=True)
def root_proportion_1(root_tao_weighted: float, alpha_issuance: float) -> float:
    """Root's share of a subnet's validator emission: ``t0 / (t0 + alpha issuance)`` with
    ``t0 = tao_weight * SubnetTAO[0]`` (0 when the denominator is 0)."""
    denom = root_tao_weighted + alpha_issuance
    return root_tao_weighted / denom if denom > 0.0 else 0.0


@njit(cache=True)
def _root_proportions(t0: float, alpha_reserve: np.ndarray, alpha_out: np.ndarray, ids: np.ndarray) -> np.ndarray:
    out = np.empty(ids.size)
    for k in range(ids.size):
        out[k] = root_proportion_1(t0, alpha_reserve[ids[k]] + alpha_out[ids[k]])
    return out


def root_proportion(state: ChainState, netuids: np.ndarray | None = None) -> np.ndarray:
    """Root's share of each subnet's validator emission: ``tw*SubnetTAO[0] / (tw*SubnetTAO[0] + alpha issuance)``.

    Indexed like ``netuids`` (all netuids when None; 0 for subnets with no issuance and no root)."""
    ids = np.arange(state.n_subnets_cap) if netuids is None else np.asarray(netuids, np.int64).reshape(-1)
    t0 = state.params.tao_weight * state.tao_reserve[ROOT]
    return _root_proportions(float(t0), state.alpha_reserve, state.alpha_out, ids)


@njit(cache=True)
def moving_price_step(moving_price: float, spot: float, mechanism: int, block: int, first_emission_block: int,
                      halving_blocks: int, moving_alpha: float, slow_start: bool, price_cap: bool) -> float:
    """``update_moving_price`` of one subnet (spec 3.2): the EMA of the spot price (capped at 1.0),
    with the slow-start smoothing ``alpha * b / (b + halving)`` where b = blocks since start_call."""
    alpha = moving_alpha
    if slow_start:
        start_call_block = max(first_emission_block - 1, 0)
        b = float(max(block - start_call_block, 0))
        h = float(halving_blocks)
        denom = b + h
        alpha = alpha * (b / denom if denom > 0.0 else 0.0)
    price = spot
    if price_cap:
        price = min(price, 1.0)
    mp = moving_price_of(moving_price, mechanism)
    return alpha * price + (1.0 - alpha) * mp


def update_moving_price(state: ChainState, netuids: np.ndarray) -> None:
    """``update_moving_price`` for ``netuids`` (spec 3.2): EMA of the spot price capped at 1.0, slow start."""
    p = state.params
    for nu in np.asarray(netuids, np.int64).reshape(-1):
        nu = int(nu)
        state.moving_price[nu] = moving_price_step(
            float(state.moving_price[nu]), state.spot_price(nu), int(state.mechanism[nu]), int(state.block),
            int(state.first_emission_block[nu]), int(state.ema_halving_blocks[nu]), p.subnet_moving_alpha,
            p.ema_slow_start, p.ema_price_cap)


# ----------------------------------------------------------------------------------------------
# the compiled block loop
# ----------------------------------------------------------------------------------------------

# parameter slots (float pf / int pi)
PF_TW, PF_OWNER_CUT, PF_MOVING_ALPHA, PF_MIN_LIQ, PF_FLOW_SMOOTH, PF_FLOW_EXP, PF_FLOW_CUTOFF = range(7)
PI_RULE, PI_PRICE_CAP, PI_SLOW_START, PI_REQUIRE_START, PI_OWNER_BURN, PI_ROOT_DIVS_TAO, PI_RV_TEMPO = range(7)
# control slots
C_ADJUST, C_DRAIN, C_STOP_CHILDREN, C_INCREMENT, C_RESUME, C_RECORD, C_SERIAL, C_PROFILE = range(8)
# drain modes
DRAIN_NONE, DRAIN_COMPILED, DRAIN_PYTHON = 0, 1, 2
# resume points
RESUME_NONE, RESUME_RV_CHECKED, RESUME_AT_EPOCHS = 0, 1, 2
# return codes
ST_DONE, ST_ROOT_EPOCH, ST_ROOT_EPOCH_FIRST, ST_PY_DRAIN, ST_CHILDREN, ST_FLUSH = range(6)
# counters
N_RECORDS, N_EMPTY, N_EPOCHS, N_BLOCKS, N_LAST_DUE = range(5)
# cycle counts of the phases (dtao.chain.profile.PHASES), added up while a profile is open
N_PROF = 5
# drain record columns: float (pending alpha, pending tao, swapped, owner cut, incentive paid, burned,
# alpha divs, tao divs); int (block, netuid)
R_PA, R_PT, R_PS, R_OC, R_INC, R_BURN, R_ADIV, R_TDIV = range(8)


@njit(cache=True)
def _coinbase(E: float, block: int, pf: np.ndarray, pi: np.ndarray, sc: np.ndarray, emit: np.ndarray,
              exists: np.ndarray, mechanism: np.ndarray, first_emission_block: np.ndarray, reg_allowed: np.ndarray,
              pow_allowed: np.ndarray, ema_halving: np.ndarray, tao_reserve: np.ndarray, alpha_reserve: np.ndarray,
              alpha_out: np.ndarray, moving_price: np.ndarray, pending_emission: np.ndarray,
              pending_swapped: np.ndarray, pending_root_divs: np.ndarray, pending_owner_cut: np.ndarray,
              tao_in_em: np.ndarray, alpha_in_em: np.ndarray, alpha_out_em: np.ndarray, emission_share: np.ndarray,
              volume: np.ndarray, alpha_minted: np.ndarray, alpha_unowned: np.ndarray, flow_ema: np.ndarray,
              flow_block: np.ndarray, flow_init: np.ndarray, root_vote_share: np.ndarray, spot: np.ndarray) -> None:
    """``run_coinbase(E)`` up to the epochs (spec 3.1) for the emitting netuids ``emit``, then the rule's
    end-of-block state.  Each subnet's amounts depend only on its own pool and on root's SubnetTAO
    (which the coinbase does not change), so subnets are processed one after another.  ``spot``: a
    buffer of at least ``emit.size`` for the spot prices after the root sale."""
    tao_in_em[:] = 0.0
    alpha_in_em[:] = 0.0
    alpha_out_em[:] = 0.0
    emission_share[:] = 0.0
    ne = emit.size
    rule = pi[PI_RULE]
    if ne:
        if rule == 0:
            shares = ema_price_shares(moving_price, mechanism, emit)
        elif rule == 1:
            shares = flow_shares(flow_ema, emit, pf[PF_FLOW_CUTOFF], pf[PF_FLOW_EXP])
        else:
            shares = root_vote_shares(root_vote_share, emit)
        t0 = pf[PF_TW] * tao_reserve[ROOT]
        injected = 0.0
        tao_out_sum = 0.0
        for k in range(ne):
            nu = emit[k]
            share = shares[k]
            tao_in = E * share
            price = spot_price_1(tao_reserve[nu], alpha_reserve[nu], mechanism[nu], exists[nu])
            alpha_em = emission_tao(alpha_reserve[nu] + alpha_out[nu])
            if price > 0.0:
                alpha_in = min(tao_in / price, alpha_em)
            else:
                alpha_in = alpha_em
            ao = alpha_em
            if not reg_allowed[nu] and not pow_allowed[nu]:
                tao_in = 0.0  # quirk: alpha_in already computed from the non-zero tao_in
            # injection
            alpha_reserve[nu] += alpha_in
            alpha_out[nu] += ao
            alpha_minted[nu] += alpha_in + ao
            tao_reserve[nu] += tao_in
            injected += tao_in
            tao_in_em[nu] = tao_in
            alpha_in_em[nu] = alpha_in
            alpha_out_em[nu] = ao
            emission_share[nu] = share
            # owner cut
            cut = ao * pf[PF_OWNER_CUT]
            pending_owner_cut[nu] += cut
            ao = ao - cut
            # root share, sold through the pool every block
            rp = root_proportion_1(t0, alpha_reserve[nu] + alpha_out[nu])
            root_alpha = rp * ao * 0.5
            pending_alpha = ao - root_alpha
            T = tao_reserve[nu]
            A = alpha_reserve[nu]
            tao_out, ok = alpha_for_tao_1(T, A, root_alpha, mechanism[nu] == MECH_STABLE, pf[PF_MIN_LIQ])
            sold = root_alpha if ok else 0.0
            if not ok:
                tao_out = 0.0
            alpha_reserve[nu] = A + sold
            alpha_out[nu] = max(alpha_out[nu] - sold, 0.0)
            tao_reserve[nu] = max(T - tao_out, 0.0)
            tao_out_sum += tao_out
            volume[nu] += tao_out
            alpha_unowned[nu] += root_alpha - sold  # refused sale: minted alpha no one holds
            pending_swapped[nu] += root_alpha
            pending_emission[nu] += pending_alpha
            pending_root_divs[nu] += tao_out
            # the pool does not change again this block: its spot price serves the EMA and the flow rule
            spot[k] = spot_price_1(tao_reserve[nu], alpha_reserve[nu], mechanism[nu], exists[nu])
        sc[SC_STAKE] += injected
        sc[SC_ISSUANCE] += injected
        sc[SC_INJECTED] += injected
        sc[SC_STAKE] = max(sc[SC_STAKE] - tao_out_sum, 0.0)
        for k in range(ne):
            nu = emit[k]
            moving_price[nu] = moving_price_step(
                moving_price[nu], spot[k], mechanism[nu], block, first_emission_block[nu], ema_halving[nu],
                pf[PF_MOVING_ALPHA], pi[PI_SLOW_START] != 0, pi[PI_PRICE_CAP] != 0)
    flow_update(flow_ema, flow_block, flow_init, moving_price, mechanism, spot, emit, pf[PF_FLOW_SMOOTH], rule == 1)


@njit(cache=True)
def _first_due(next_due: np.ndarray) -> int:
    """The earliest block at which some subnet's epoch runs (``next_due``: per netuid, -1 for none)."""
    first = np.iinfo(np.int64).max
    for nu in range(next_due.size):
        if next_due[nu] >= 0 and next_due[nu] < first:
            first = next_due[nu]
    return first


@njit(cache=True)
def _advance(n_blocks: int, block: int, e_fixed: float, ctl: np.ndarray, sc: np.ndarray, pf: np.ndarray,
             pi: np.ndarray, hyp_i: np.ndarray, hyp_f: np.ndarray,
             exists: np.ndarray, mechanism: np.ndarray, first_emission_block: np.ndarray, reg_allowed: np.ndarray,
             pow_allowed: np.ndarray, tempo: np.ndarray, ema_halving: np.ndarray, tao_reserve: np.ndarray,
             alpha_reserve: np.ndarray, alpha_out: np.ndarray, moving_price: np.ndarray,
             pending_emission: np.ndarray, pending_swapped: np.ndarray, pending_root_divs: np.ndarray,
             pending_owner_cut: np.ndarray, tao_in_em: np.ndarray, alpha_in_em: np.ndarray,
             alpha_out_em: np.ndarray, emission_share: np.ndarray, volume: np.ndarray, alpha_minted: np.ndarray,
             alpha_unowned: np.ndarray, flow_ema: np.ndarray, flow_block: np.ndarray, flow_init: np.ndarray,
             root_vote_share: np.ndarray, blocks_since: np.ndarray, last_step_block: np.ndarray, burn: np.ndarray,
             last_adj_block: np.ndarray, adj_interval: np.ndarray, regs_interval: np.ndarray,
             regs_block: np.ndarray, owner_hotkey: np.ndarray,
             hotkey_alpha: np.ndarray, hotkey_shares: np.ndarray, owner_shares: np.ndarray, hotkey_take: np.ndarray,
             alpha_divs: np.ndarray, tao_divs: np.ndarray, alpha_last_epoch: np.ndarray, div_rows: np.ndarray,
             div_rows_n: np.ndarray, ptrs: np.ndarray, sizes: np.ndarray, bond_rec: np.ndarray, cons_guess: np.ndarray, rec_f: np.ndarray,
             rec_i: np.ndarray,
             block_e: np.ndarray, counters: np.ndarray, empt: np.ndarray, adapt: np.ndarray) -> tuple:
    """Run up to ``n_blocks`` blocks from ``block`` (see the module docstring for the order).

    Returns ``(status, block, empt)``: ``ST_DONE`` when all blocks ran; otherwise the block is left
    part-way for Python to finish (``ST_ROOT_EPOCH*``: the root epoch is due; ``ST_PY_DRAIN``: the due
    subnets' takes are recorded and their pending zeroed, drains to run from Python; ``ST_CHILDREN``:
    drains done, pending childkeys to apply) or, ``ST_FLUSH``, stopped at a block boundary because
    the record buffer is nearly full.  ``empt`` lists the (hotkey, netuid) pools restarted by credits.
    """
    cap = exists.size
    due = np.empty(cap, np.int64)
    rule = pi[PI_RULE]
    resume = ctl[C_RESUME]
    drain_mode = ctl[C_DRAIN]
    record = ctl[C_RECORD] != 0
    prof = ctl[C_PROFILE] != 0
    c0 = 0
    tw = pf[PF_TW]
    paid = np.empty(4)
    # what only Python changes is fixed for the call: the emitting subnets and the epoch schedule
    emit_buf = np.empty(cap, np.int64)
    ne = 0
    for nu in range(1, cap):
        if exists[nu] and (pi[PI_REQUIRE_START] == 0 or first_emission_block[nu] >= 0):
            emit_buf[ne] = nu
            ne += 1
    emit = emit_buf[:ne]
    spot = np.empty(cap)
    # the first block at which a subnet's registration terms adjust (the blocks before it only clear the
    # per-block registration counts, which nothing in this loop raises: they stay 0 after the first)
    next_adj = np.iinfo(np.int64).min
    next_due = np.full(cap, -1, np.int64)  # next block whose epoch runs (-1: none)
    for nu in range(1, cap):
        if exists[nu] and tempo[nu] > 0:
            next_due[nu] = block + blocks_until_epoch_1(nu, tempo[nu], block)
    first_due = _first_due(next_due)
    while counters[N_BLOCKS] < n_blocks:
        if resume != RESUME_AT_EPOCHS:
            if rule == 2 and ne > 0 and resume != RESUME_RV_CHECKED:
                anypos = False
                for nu in range(cap):
                    if root_vote_share[nu] > 0.0:
                        anypos = True
                        break
                if not anypos:
                    return ST_ROOT_EPOCH_FIRST, block, empt
            if ctl[C_ADJUST] and block >= next_adj:
                adjust_registration_core(block, exists, last_adj_block, adj_interval, regs_interval, regs_block,
                                         burn, hyp_i, hyp_f)
                next_adj = np.iinfo(np.int64).max
                for nu in range(cap):
                    if exists[nu]:
                        next_adj = min(next_adj, last_adj_block[nu] + adj_interval[nu])
            E = e_fixed if e_fixed == e_fixed else emission_tao(sc[SC_ISSUANCE])
            sc[SC_LAST_E] = E
            if record:
                block_e[counters[N_BLOCKS]] = E
            if prof:
                c0 = read_cycles()
            _coinbase(E, block, pf, pi, sc, emit, exists, mechanism, first_emission_block, reg_allowed,
                      pow_allowed, ema_halving, tao_reserve, alpha_reserve, alpha_out, moving_price, pending_emission,
                      pending_swapped, pending_root_divs, pending_owner_cut, tao_in_em, alpha_in_em, alpha_out_em,
                      emission_share, volume, alpha_minted, alpha_unowned, flow_ema, flow_block, flow_init,
                      root_vote_share, spot)
            if prof:
                counters[N_PROF] += read_cycles() - c0
            if rule == 2:
                t = pi[PI_RV_TEMPO]
                if t > 0 and block % (t + 1) == 0:
                    return ST_ROOT_EPOCH, block, empt
        resume = RESUME_NONE
        # epochs
        nd = 0
        if block != first_due:  # no epoch this block: every existing subnet one block further from its last
            for nu in range(1, cap):
                blocks_since[nu] += exists[nu]
        else:
            for nu in range(1, cap):
                if not exists[nu]:
                    continue
                if next_due[nu] == block:  # epoch_due(nu, tempo[nu], block)
                    due[nd] = nu
                    nd += 1
                    next_due[nu] = block + tempo[nu] + 1
                else:
                    blocks_since[nu] += 1
            first_due = _first_due(next_due)
        counters[N_LAST_DUE] = nd
        if nd:
            base = counters[N_RECORDS] if record else 0
            for k in range(nd):
                nu = due[k]
                blocks_since[nu] = 0
                last_step_block[nu] = block
                r = base + k
                rec_i[r, 0] = block
                rec_i[r, 1] = nu
                rec_f[r, R_PA] = pending_emission[nu]
                rec_f[r, R_PT] = pending_root_divs[nu]
                rec_f[r, R_PS] = pending_swapped[nu]
                rec_f[r, R_OC] = pending_owner_cut[nu]
                rec_f[r, R_INC:] = 0.0
            for k in range(nd):
                nu = due[k]
                pending_emission[nu] = 0.0
                pending_root_divs[nu] = 0.0
                pending_swapped[nu] = 0.0
                pending_owner_cut[nu] = 0.0
            if record:
                counters[N_RECORDS] += nd
            if drain_mode == DRAIN_NONE:
                # not drained here: keep the amounts accounted as held by no one
                for k in range(nd):
                    r = base + k
                    alpha_unowned[due[k]] += rec_f[r, R_PA] + rec_f[r, R_OC]
                    sc[SC_TAO_UNOWNED] += rec_f[r, R_PT]
            elif drain_mode == DRAIN_PYTHON:
                return ST_PY_DRAIN, block, empt
            else:
                # gather every due subnet's stake weights before any of them pays out
                if prof:
                    c0 = read_cycles()
                soff = np.empty(nd + 1, np.int64)
                soff[0] = 0
                for k in range(nd):
                    soff[k + 1] = soff[k] + sizes[due[k]]
                stakes = np.empty(soff[nd])
                ouids = np.empty(nd, np.int64)
                for k in range(nd):
                    nu = due[k]
                    hks = neuron_arrays(ptrs, sizes, nu)[0]
                    o = soff[k]
                    for u in range(hks.size):
                        stakes[o + u] = hotkey_alpha[hks[u], nu] + tw * hotkey_alpha[hks[u], ROOT]
                    ouids[k] = owner_uid_of(hks, owner_hotkey[nu])
                if prof:
                    counters[N_PROF + 1] += read_cycles() - c0
                for k in range(nd):
                    nu = due[k]
                    r = base + k
                    nt = neuron_arrays(ptrs, sizes, nu)
                    hks = nt[0]
                    n = hks.size
                    server = np.empty(n)
                    validator = np.empty(n)
                    # a two-block epoch on this thread alone or with the regions: whichever was faster
                    # lately (dtao.chain.threads.ADAPT; the same results either way)
                    serial = ctl[C_SERIAL] != 0
                    learn = not serial and adapt[A_OFF] == 0 and _n_blocks(n, hyp_i[nu, H_YUMA3] != 0) == 2
                    if learn:
                        serial = adaptive_serial(adapt)
                    if prof or learn:
                        c0 = read_cycles()
                    epoch_store(block, rec_f[r, R_PA] + rec_f[r, R_PS], stakes[soff[k]:soff[k + 1]], ouids[k], hyp_i[nu],
                                hyp_f[nu], nt, server, validator, serial, bond_rec[nu], cons_guess[nu])
                    if prof or learn:
                        c1 = read_cycles()
                        if prof:
                            counters[N_PROF + 2] += c1 - c0
                        if learn:
                            adaptive_record(adapt, (c1 - c0) * 65536 // (n * n))
                        c0 = c1
                    nem = counters[N_EMPTY:N_EMPTY + 1]
                    empt = distribute_core(nu, hks, server, hks, validator, rec_f[r, R_PA], rec_f[r, R_PS],
                                           rec_f[r, R_PT], rec_f[r, R_OC], owner_hotkey[nu], tw,
                                           pi[PI_OWNER_BURN] != 0, pi[PI_ROOT_DIVS_TAO] != 0, hotkey_alpha,
                                           hotkey_shares, owner_shares, hotkey_take, alpha_divs, tao_divs,
                                           alpha_last_epoch, div_rows, div_rows_n, alpha_unowned, tao_reserve, sc,
                                           empt, nem, paid)
                    if prof:
                        counters[N_PROF + 3] += read_cycles() - c0
                    rec_f[r, R_INC] = paid[PAID_INCENTIVE]
                    rec_f[r, R_BURN] = paid[PAID_BURNED]
                    rec_f[r, R_ADIV] = paid[PAID_ALPHA_DIVS]
                    rec_f[r, R_TDIV] = paid[PAID_TAO_DIVS]
                counters[N_EPOCHS] += nd
                if ctl[C_STOP_CHILDREN]:
                    return ST_CHILDREN, block, empt
        if ctl[C_INCREMENT]:
            block += 1
        counters[N_BLOCKS] += 1
        if record and counters[N_RECORDS] + cap > rec_i.shape[0]:
            return ST_FLUSH, block, empt
    return ST_DONE, block, empt


class _Run:
    """One call into the compiled loop: the argument arrays and the buffers, built once per call."""

    def __init__(self, state: ChainState, n_blocks: int, e_fixed: float, adjust: bool, drain_mode: int,
                 increment: bool, record: bool) -> None:
        p = state.params
        view = kernel_view(state)
        self.state, self.view = state, view
        cap = state.exists.size
        self.sc = _scalars(state)
        self.pf = np.array([p.tao_weight, p.subnet_owner_cut, p.subnet_moving_alpha, p.min_pool_liquidity,
                            p.flow_ema_smoothing, p.flow_norm_exponent, p.flow_cutoff], np.float64)
        self.pi = np.array([RULE_CODES[p.emission_rule], p.ema_price_cap, p.ema_slow_start, p.require_start_call,
                            p.owner_incentive_burn, p.root_divs_to_subnet_tao, p.root_vote_tempo], np.int64)
        stop_children = bool(state.pending_children)
        self.profile = profiling()
        self.ctl = np.array([adjust, drain_mode, stop_children, increment, RESUME_NONE, record, not may_fork_join(),
                             self.profile], np.int64)
        self.n_blocks = int(n_blocks)
        self.e_fixed = float(e_fixed)
        rows = cap + (min(self.n_blocks, 4096) * 2 if record else 0) + 1
        self.rec_f = np.zeros((rows, 8))
        self.rec_i = np.zeros((rows, 2), np.int64)
        self.block_e = np.zeros(self.n_blocks if record else 1)
        self.counters = np.zeros(N_PROF + len(PHASES), np.int64)
        self.compiled_s = 0.0
        self.start_block = int(state.block)
        self.increment = bool(increment)
        self.empt = np.zeros((64, 2), np.int64)
        if drain_mode == DRAIN_COMPILED:
            ids = np.empty(cap, np.int64)
            view.sync_neurons(state, ids[:_due_within(state.exists, state.tempo, int(state.block), self.n_blocks, ids)])

    def call(self) -> int:
        st = self.state
        v = self.view
        t0 = time.perf_counter() if self.profile else 0.0
        status, block, self.empt = _advance(
            self.n_blocks, st.block, self.e_fixed, self.ctl, self.sc, self.pf, self.pi, v.hyp_i, v.hyp_f,
            st.exists, st.mechanism, st.first_emission_block, st.registration_allowed, st.pow_registration_allowed,
            st.tempo, st.ema_halving_blocks, st.tao_reserve, st.alpha_reserve, st.alpha_out, st.moving_price,
            st.pending_emission, st.pending_alpha_swapped, st.pending_root_divs, st.pending_owner_cut,
            st.tao_in_emission, st.alpha_in_emission, st.alpha_out_emission, st.emission_share, st.volume,
            st.alpha_minted, st.alpha_unowned, st.flow_ema, st.flow_block, st.flow_initialized, st.root_vote_share,
            st.blocks_since_last_step, st.last_step_block, st.burn, st.last_adjustment_block, st.adjustment_interval,
            st.registrations_this_interval, st.registrations_this_block, st.owner_hotkey,
            st._hotkey_alpha, st._hotkey_shares, st._owner_shares, st._hotkey_take, st._alpha_dividends_per_subnet,
            st._tao_dividends_per_subnet, st._hotkey_alpha_last_epoch, st._div_rows, st._div_rows_n, v.ptrs, v.sizes,
            v.bond_rec, v.cons_guess, self.rec_f, self.rec_i, self.block_e, self.counters, self.empt, ADAPT)
        if self.profile:
            self.compiled_s += time.perf_counter() - t0
        st.block = int(block)
        _store_scalars(st, self.sc)
        k = int(self.counters[N_EMPTY])
        if k:
            from dtao.chain.stake_pool import drop_nominators

            drop_nominators(st, {(int(h), int(nu)) for h, nu in self.empt[:k]})
            self.counters[N_EMPTY] = 0
        self.ctl[C_RESUME] = RESUME_NONE
        return int(status)

    def drains(self, lo: int, hi: int) -> list[Drain]:
        f, i = self.rec_f, self.rec_i
        return [Drain(int(i[r, 0]), int(i[r, 1]), float(f[r, R_PA]), float(f[r, R_PT]), float(f[r, R_PS]),
                      float(f[r, R_OC]), float(f[r, R_INC]), float(f[r, R_BURN]), float(f[r, R_ADIV]),
                      float(f[r, R_TDIV])) for r in range(lo, hi)]


def _run(state: ChainState, n_blocks: int, *, e_fixed: float = float("nan"), adjust: bool = True,
         drain: bool = True, increment: bool = True, record: bool = False) -> tuple[int, list[BlockReport]]:
    """Advance ``n_blocks`` blocks through the compiled loop, finishing in Python what it hands back.
    Returns (epochs run, reports if ``record``)."""
    from dtao.chain.childkeys import apply_pending_children

    t_start = time.perf_counter()
    childkeys = bool(state.children or state.parents)
    mode = (DRAIN_PYTHON if childkeys else DRAIN_COMPILED) if drain else DRAIN_NONE
    run = _Run(state, n_blocks, e_fixed, adjust, mode, increment, record)
    reports: list[BlockReport] = []
    epochs = 0
    rec_lo = 0
    flushed_blocks = 0
    while True:
        status = run.call()
        c = run.counters
        if status == ST_ROOT_EPOCH_FIRST:
            state.root_vote_share[:] = root_epoch_shares(state)
            run.ctl[C_RESUME] = RESUME_RV_CHECKED
            continue
        if status == ST_ROOT_EPOCH:
            state.root_vote_share[:] = root_epoch_shares(state)
            run.ctl[C_RESUME] = RESUME_AT_EPOCHS
            continue
        if status in (ST_PY_DRAIN, ST_CHILDREN):
            # the block is part-way: its due subnets' takes are the last rows of the record buffer
            nd = int(c[N_LAST_DUE])
            hi = int(c[N_RECORDS]) if record else nd
            lo = hi - nd
            drains = run.drains(lo, hi)
            if status == ST_PY_DRAIN:
                drain_pending_emission_batch(state, drains)
                for r, d in zip(range(lo, hi), drains):
                    run.rec_f[r, R_INC], run.rec_f[r, R_BURN] = d.incentive_paid, d.incentive_burned
                    run.rec_f[r, R_ADIV], run.rec_f[r, R_TDIV] = d.alpha_dividends_paid, d.tao_dividends_paid
                c[N_EPOCHS] += len(drains)
                run.sc = _scalars(state)
            if state.pending_children:
                apply_pending_children(state, np.array([d.netuid for d in drains], np.int64))
            run.ctl[C_STOP_CHILDREN] = bool(state.pending_children)
            if increment:
                state.block += 1
            c[N_BLOCKS] += 1
            if bool(state.children or state.parents) and run.ctl[C_DRAIN] == DRAIN_COMPILED:
                run.ctl[C_DRAIN] = DRAIN_PYTHON
            if c[N_BLOCKS] >= run.n_blocks:
                status = ST_DONE
            else:
                continue
        if record and status in (ST_DONE, ST_FLUSH):
            reports.extend(_reports(run, flushed_blocks, rec_lo))
            flushed_blocks = int(c[N_BLOCKS])
            rec_lo = int(c[N_RECORDS])
            if status == ST_FLUSH:
                c[N_RECORDS] = 0
                rec_lo = 0
        if status == ST_DONE:
            break
    epochs = int(run.counters[N_EPOCHS])
    if run.profile:
        add_call(run.counters[N_PROF:], run.compiled_s, time.perf_counter() - t_start, int(run.counters[N_BLOCKS]),
                 epochs)
    return epochs, reports


def _reports(run: _Run, first_block_index: int, rec_lo: int) -> list[BlockReport]:
    """BlockReports of the blocks run since ``first_block_index`` (their drains from row ``rec_lo``)."""
    c = run.counters
    drains = run.drains(rec_lo, int(c[N_RECORDS]))
    by_block: dict[int, list[Drain]] = {}
    for d in drains:
        by_block.setdefault(d.block, []).append(d)
    out = []
    for j in range(first_block_index, int(c[N_BLOCKS])):
        b = run.start_block + (j if run.increment else 0)
        out.append(BlockReport(b, float(run.block_e[j]), by_block.get(b, [])))
    return out


def run_coinbase(state: ChainState, block_emission: float, *, drain: bool = True) -> BlockReport:
    """``run_coinbase(E)`` at ``state.block`` (spec 3.1), without the registration terms and without
    advancing the block.  With ``drain=False`` the due epochs are recorded in the report but not run
    (for conformance of the coinbase alone)."""
    _, reports = _run(state, 1, e_fixed=float(block_emission), adjust=False, drain=drain, increment=False,
                      record=True)
    return reports[0]


def block_step(state: ChainState) -> BlockReport:
    """One block (``block_step``): registration terms, emission from issuance, the coinbase with its
    drains, pending childkeys of the subnets whose epoch ran, then the block number advances."""
    _, reports = _run(state, 1, record=True)
    return reports[0]


@overload
def run_blocks(state: ChainState, n: int, *, reports: Literal[False] = ...) -> int: ...
@overload
def run_blocks(state: ChainState, n: int, *, reports: Literal[True]) -> list[BlockReport]: ...


def run_blocks(state: ChainState, n: int, *, reports: bool = False) -> int | list[BlockReport]:
    """Run ``n`` blocks (each exactly as :func:`block_step`) in compiled code.

    Returns the number of epochs (drains) run, or with ``reports=True`` the list of the blocks'
    :class:`BlockReport` (slower: Python objects per block)."""
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return [] if reports else 0
    epochs, reps = _run(state, n, record=bool(reports))
    return reps if reports else epochs
