"""Hotkey share pools (``share_pool.rs`` / ``stake_utils.rs``, spec 4.5).

Each (hotkey, netuid) has a pool value V (``TotalHotkeyAlpha``, alpha units; TAO on root) and a share
denominator D (``TotalHotkeyShares``).  A coldkey's stake is s shares worth ``V/D*s``.  Staking x mints
``x*D/V`` shares (the first staker gets s = D = x and so also takes any value left in an empty pool);
dividends raise V for everyone (``increase_stake_for_hotkey_on_subnet``).  An unstake that would leave
less than 1e-5 of a position's shares removes the whole position.
"""
from __future__ import annotations

import numpy as np

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
    if coldkey == state._hotkey_owner[hotkey]:
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
    v = state._hotkey_alpha[hotkey, netuid]
    d = state._hotkey_shares[hotkey, netuid]
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


def credit_owner_stake(state: ChainState, hotkeys: np.ndarray, netuid: int, alpha: np.ndarray) -> None:
    """Vectorised ``increase_stake_for_hotkey_and_coldkey_on_subnet`` to each hotkey's own coldkey.

    ``hotkeys`` must be unique.  Used for miner incentive, owner cut and delegate take.
    """
    hotkeys = np.asarray(hotkeys, np.int64)
    alpha = np.asarray(alpha, np.float64)
    pos = alpha > 0.0
    if not pos.any():
        return
    hks, a = hotkeys[pos], alpha[pos]
    v = state._hotkey_alpha[hks, netuid]
    d = state._hotkey_shares[hks, netuid]
    empty = (v <= 0.0) | (d <= 0.0)
    if empty.any():
        for hk in hks[empty]:
            for key in [k for k in state.positions if k[1] == hk and k[2] == netuid]:
                del state.positions[key]
    new = np.where(empty, a, a * d / np.where(empty, 1.0, v))
    state._owner_shares[hks, netuid] = np.where(empty, 0.0, state._owner_shares[hks, netuid]) + new
    state._hotkey_shares[hks, netuid] = np.where(empty, 0.0, d) + new
    state._hotkey_alpha[hks, netuid] = v + a


def increase_stake_for_hotkey_on_subnet(state: ChainState, hotkeys: np.ndarray | int, netuid: int,
                                        alpha: np.ndarray | float) -> None:
    """Raise the pool value of ``hotkeys`` by ``alpha`` without minting shares (nominators gain pro rata)."""
    np.add.at(state._hotkey_alpha[:, netuid], np.asarray(hotkeys, np.int64), np.asarray(alpha, np.float64))


def plan_decrease(state: ChainState, coldkey: int, hotkey: int, netuid: int, alpha: float) -> tuple[float, float]:
    """Shares and alpha an unstake of ``alpha`` would actually remove (dust rule applied).

    Pure: does not change the state.  Returns ``(shares_removed, alpha_removed)``.
    """
    s = state.position_shares(coldkey, hotkey, netuid)
    v = state._hotkey_alpha[hotkey, netuid]
    d = state._hotkey_shares[hotkey, netuid]
    if s <= 0.0 or d <= 0.0:
        return 0.0, 0.0
    value = v * s / d
    if alpha >= value:
        return s, value
    remove = alpha * d / v
    if (s - remove) / s < DUST_RATIO:
        return s, value
    return remove, alpha


def decrease_stake_for_hotkey_and_coldkey_on_subnet(state: ChainState, coldkey: int, hotkey: int,
                                                     netuid: int, alpha: float) -> float:
    """Remove ``alpha`` from the position (whole position under the dust rule); returns alpha removed."""
    shares, removed = plan_decrease(state, coldkey, hotkey, netuid, alpha)
    if shares <= 0.0:
        return 0.0
    s = state.position_shares(coldkey, hotkey, netuid)
    _set_shares(state, coldkey, hotkey, netuid, max(s - shares, 0.0))
    state._hotkey_shares[hotkey, netuid] = max(state._hotkey_shares[hotkey, netuid] - shares, 0.0)
    state._hotkey_alpha[hotkey, netuid] = max(state._hotkey_alpha[hotkey, netuid] - removed, 0.0)
    if state._hotkey_shares[hotkey, netuid] <= 0.0:
        state._hotkey_shares[hotkey, netuid] = 0.0
    return removed
