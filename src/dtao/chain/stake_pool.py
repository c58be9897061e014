"""Hotkey share pools (``share_pool.rs`` / ``stake_utils.rs``, spec 4.5).

Each (hotkey, netuid) has a pool value V (``TotalHotkeyAlpha``, alpha units; TAO on root) and a share
denominator D (``TotalHotkeyShares``).  A coldkey's stake is s shares worth ``V/D*s``.  Staking x mints
``x*D/V`` shares (the first staker gets s = D = x and so also takes any value left in an empty pool);
dividends raise V for everyone (``increase_stake_for_hotkey_on_subnet``).  An unstake that would leave
less than 1e-5 of a position's shares removes the whole position.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from dtao.chain.state import ChainState

#: an unstake leaving new_shares/shares below this removes the whole position (dust rule)
DUST_RATIO = 1e-5


def _shares_for(state: ChainState, hotkey: int, netuid: int, alpha: float) -> float:
    v = state._hotkey_alpha[hotkey, netuid]
    d = state._hotkey_shares[hotkey, netuid]
    if v <= 0.0 or d <= 0.0:
        return alpha
    return alpha * d / v


def _set_shares(state: ChainState, coldkey: int, hotkey: int, netuid: int, shares: float) -> None:
    if coldkey == state._hotkey_owner.item(hotkey):
        state._owner_shares[hotkey, netuid] = shares
    elif shares > 0.0:
        state.positions[(coldkey, hotkey, netuid)] = shares
    else:
        state.positions.pop((coldkey, hotkey, netuid), None)


def increase_stake_for_hotkey_and_coldkey_on_subnet(state: ChainState, hotkey: int, coldkey: int,
                                                     netuid: int, alpha: float) -> None:
    """Credit ``alpha`` (alpha units) to the (coldkey, hotkey, netuid) position, minting shares."""
    if alpha <= 0.0:
        return
    v = state._hotkey_alpha.item(hotkey, netuid)
    d = state._hotkey_shares.item(hotkey, netuid)
    if v <= 0.0 or d <= 0.0:
        # first staker: shares = denominator = alpha (any value left in the pool goes with them)
        new = alpha
        for key in [k for k in state.positions if k[1] == hotkey and k[2] == netuid]:
            del state.positions[key]
        state._owner_shares[hotkey, netuid] = 0.0
        state._hotkey_shares[hotkey, netuid] = new
        state._hotkey_alpha[hotkey, netuid] = v + alpha
        _set_shares(state, coldkey, hotkey, netuid, new)
        return
    new = alpha * d / v
    state._hotkey_shares[hotkey, netuid] = d + new
    state._hotkey_alpha[hotkey, netuid] = v + alpha
    _set_shares(state, coldkey, hotkey, netuid, state.position_shares(coldkey, hotkey, netuid) + new)


@njit(cache=True)
def credit_owner_core(hotkey_alpha: np.ndarray, hotkey_shares: np.ndarray, owner_shares: np.ndarray,
                      hotkeys: np.ndarray, netuid: int, alpha: np.ndarray, empty_out: np.ndarray) -> int:
    """The share-pool arithmetic of :func:`credit_owner_stake` on the (hotkey, netuid) arrays, compiled.

    Each positive ``alpha[t]`` (alpha units) is credited to ``hotkeys[t]``'s own coldkey, minting
    ``alpha*D/V`` shares; a pool with no value or no shares is restarted with ``D = alpha``.  The
    hotkeys of restarted pools are written to ``empty_out`` (their other nominators' positions must be
    dropped by the caller); returns how many.  ``hotkeys`` must be unique.
    """
    ne = 0
    for t in range(hotkeys.size):
        a = alpha[t]
        if not a > 0.0:
            continue
        hk = hotkeys[t]
        v = hotkey_alpha[hk, netuid]
        d = hotkey_shares[hk, netuid]
        if v <= 0.0 or d <= 0.0:
            owner_shares[hk, netuid] = 0.0 + a
            hotkey_shares[hk, netuid] = 0.0 + a
            if ne < empty_out.size:
                empty_out[ne] = hk
            ne += 1
        else:
            new = a * d / v
            owner_shares[hk, netuid] = owner_shares[hk, netuid] + new
            hotkey_shares[hk, netuid] = d + new
        hotkey_alpha[hk, netuid] = v + a
    return ne


@njit(cache=True)
def increase_pool_core(hotkey_alpha: np.ndarray, hotkeys: np.ndarray, netuid: int, alpha: np.ndarray) -> None:
    """``increase_stake_for_hotkey_on_subnet`` on the pool-value array, compiled (repeated hotkeys add up)."""
    for t in range(hotkeys.size):
        hotkey_alpha[hotkeys[t], netuid] += alpha[t]


def drop_nominators(state: ChainState, pools: list[tuple[int, int]] | set[tuple[int, int]]) -> None:
    """Remove the positions of coldkeys other than the owner in restarted (hotkey, netuid) pools."""
    if not state.positions or not pools:
        return
    pools = set(pools)
    for key in [k for k in state.positions if (k[1], k[2]) in pools]:
        del state.positions[key]


def credit_owner_stake(state: ChainState, hotkeys: np.ndarray, netuid: int, alpha: np.ndarray) -> None:
    """Vectorised ``increase_stake_for_hotkey_and_coldkey_on_subnet`` to each hotkey's own coldkey.

    ``hotkeys`` must be unique.  Used for miner incentive, owner cut and delegate take.
    """
    hotkeys = np.ascontiguousarray(hotkeys, np.int64).reshape(-1)
    alpha = np.ascontiguousarray(alpha, np.float64).reshape(-1)
    empty = np.empty(hotkeys.size, np.int64)
    ne = credit_owner_core(state._hotkey_alpha, state._hotkey_shares, state._owner_shares, hotkeys, int(netuid),
                           alpha, empty)
    if ne:
        drop_nominators(state, {(int(h), int(netuid)) for h in empty[:ne]})


def increase_stake_for_hotkey_on_subnet(state: ChainState, hotkeys: np.ndarray | int, netuid: int,
                                        alpha: np.ndarray | float) -> None:
    """Raise the pool value of ``hotkeys`` by ``alpha`` without minting shares (nominators gain pro rata)."""
    hks, a = np.broadcast_arrays(np.asarray(hotkeys, np.int64), np.asarray(alpha, np.float64))
    increase_pool_core(state._hotkey_alpha, np.array(hks, copy=True).reshape(-1), int(netuid),
                       np.array(a, copy=True).reshape(-1))  # own copies: broadcast views are read-only


def _plan(s: float, v: float, d: float, alpha: float) -> tuple[float, float]:
    """The dust rule on a position of ``s`` shares in a pool of value ``v`` (alpha) and ``d`` shares:
    ``(shares_removed, alpha_removed)`` for an unstake of ``alpha``."""
    if s <= 0.0 or d <= 0.0:
        return 0.0, 0.0
    value = v * s / d
    if alpha >= value:
        return s, value
    remove = alpha * d / v
    if (s - remove) / s < DUST_RATIO:
        return s, value
    return remove, alpha


def plan_decrease(state: ChainState, coldkey: int, hotkey: int, netuid: int, alpha: float) -> tuple[float, float]:
    """Shares and alpha an unstake of ``alpha`` would actually remove (dust rule applied).

    Pure: does not change the state.  Returns ``(shares_removed, alpha_removed)``.
    """
    return _plan(state.position_shares(coldkey, hotkey, netuid), state._hotkey_alpha.item(hotkey, netuid),
                 state._hotkey_shares.item(hotkey, netuid), alpha)


def decrease_stake_for_hotkey_and_coldkey_on_subnet(state: ChainState, coldkey: int, hotkey: int,
                                                     netuid: int, alpha: float) -> float:
    """Remove ``alpha`` from the position (whole position under the dust rule); returns alpha removed."""
    s = state.position_shares(coldkey, hotkey, netuid)
    v = state._hotkey_alpha.item(hotkey, netuid)
    d = state._hotkey_shares.item(hotkey, netuid)
    shares, removed = _plan(s, v, d, alpha)
    if shares <= 0.0:
        return 0.0
    _set_shares(state, coldkey, hotkey, netuid, max(s - shares, 0.0))
    d = max(d - shares, 0.0)
    state._hotkey_shares[hotkey, netuid] = 0.0 if d <= 0.0 else d
    state._hotkey_alpha[hotkey, netuid] = max(v - removed, 0.0)
    return removed
