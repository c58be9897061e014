"""Staking extrinsics with the chain's checks, fees, minimums and limit orders (spec 4.2-4.4).

Every extrinsic validates everything first and only then mutates, so a rejected call (a raised
:class:`~dtao.chain.errors.ChainError`) leaves the state exactly as it was.  Amounts are TAO units
(TAO for ``add_stake``, alpha for the others); limit prices are TAO per alpha.
"""
from __future__ import annotations

import math

import numpy as np

from dtao.chain.errors import (
    AmountTooLow,
    ChainError,
    NotEnoughBalanceToStake,
    InsufficientLiquidity,
    InvalidAmount,
    NonAssociatedColdKey,
    NotEnoughBalance,
    NotEnoughStakeToWithdraw,
    SlippageTooHigh,
    TransferDisallowed,
)
from dtao.chain.stake_pool import (
    decrease_stake_for_hotkey_and_coldkey_on_subnet,
    increase_stake_for_hotkey_and_coldkey_on_subnet,
)
from dtao.chain.state import MECH_STABLE, ROOT, ChainState, check_amount
from dtao.chain.swap import sim_swap_alpha_for_tao, sim_swap_tao_for_alpha, swap_alpha_for_tao, swap_tao_for_alpha
from dtao.chain.units import RAO_PER_TAO, U64_MAX

#: "no limit" returned by the max-amount functions (u64::MAX rao) in TAO units
NO_LIMIT: float = math.inf


# ------------------------------------------------------------------------------------------ fees
def calculate_staking_fee(state: ChainState, origin: tuple[int, int] | None, destination_netuid: int | None,
                          alpha_estimate: float, tao_estimate: float | None = None) -> float:
    """``calculate_staking_fee`` (v2.0.9-v3.1.x) in TAO.

    ``origin`` is (hotkey, netuid) of the stake being removed, or None when adding stake.  Flat
    ``DefaultStakingFee`` for adding stake, a same-subnet move, root or a stable subnet; otherwise
    ``max(tao_est * AlphaDividendsPerSubnet/TotalHotkeyAlphaLastEpoch, tao_est * 0.00005, flat)``,
    where ``tao_est`` is the TAO a sale of ``alpha_estimate`` would give (about one epoch of yield):
    ``tao_estimate`` when the caller has that quote already (the unstake checks quote the same sale).
    """
    flat = state.params.staking_fee
    if origin is None or not state.params.dynamic_unstake_fee:
        return flat
    hotkey, netuid = origin
    if netuid == ROOT or state.mechanism.item(netuid) == MECH_STABLE or netuid == destination_netuid:
        return flat
    tao_est = (sim_swap_alpha_for_tao(state, netuid, alpha_estimate) or 0.0) if tao_estimate is None else tao_estimate
    return dynamic_fee(tao_est, state._alpha_dividends_per_subnet.item(hotkey, netuid),
                       state._hotkey_alpha_last_epoch.item(hotkey, netuid), flat)


def dynamic_fee(tao_est: float, alpha_divs: float, alpha_last_epoch: float, flat: float) -> float:
    """The dynamic unstake fee from its inputs (TAO): one epoch of dividend yield, at least 0.005% and the flat fee."""
    yield_fee = tao_est * alpha_divs / alpha_last_epoch if alpha_last_epoch > 0 else 0.0
    return max(yield_fee, tao_est * 0.00005, flat)


# --------------------------------------------------------------------------- limit-order maxima
# The chain computes these in u128/U64F64 integer rao arithmetic with quirks (an integer-truncated
# price in get_max_amount_add); they are edge functions, so dtao computes them in exact rao integers too.

def _rao(x: float) -> int:
    return int(round(float(x) * RAO_PER_TAO))  # a Python float rounds (half to even) as numpy's does, faster


def _tao_limit(r: int) -> float:
    return NO_LIMIT if r >= U64_MAX else r / RAO_PER_TAO


def max_amount_add_rao(stable: bool, tao_reserve: int, alpha_reserve: int, limit_price: int) -> int:
    """``get_max_amount_add`` in rao: TAO that can be staked before the price reaches ``limit_price``
    (rao per alpha), measured against the pre-trade alpha reserve."""
    if stable:
        return U64_MAX if limit_price >= 1_000_000_000 else 0
    if alpha_reserve == 0 or tao_reserve == 0 or limit_price == 0:
        return 0
    if limit_price < (tao_reserve // alpha_reserve) * 1_000_000_000:
        return 0
    r = limit_price * alpha_reserve // 1_000_000_000 - tao_reserve
    return min(max(r, 0), U64_MAX)


def max_amount_remove_rao(stable: bool, tao_reserve: int, alpha_reserve: int, limit_price: int) -> int:
    """``get_max_amount_remove`` in rao: alpha that can be sold before the price falls to ``limit_price``."""
    if stable:
        return U64_MAX if limit_price <= 1_000_000_000 else 0
    if alpha_reserve == 0 or tao_reserve == 0:
        return 0
    if limit_price == 0:
        return U64_MAX
    if limit_price >= tao_reserve * 1_000_000_000 // alpha_reserve:
        return 0
    r = tao_reserve * 1_000_000_000 // limit_price - alpha_reserve
    return min(max(r, 0), U64_MAX)


def max_amount_move_rao(o_stable: bool, o_tao: int, o_alpha: int, d_stable: bool, d_tao: int, d_alpha: int,
                        limit_price: int) -> int:
    """``get_max_amount_move`` in rao (alpha of the origin); ``limit_price`` = origin/destination price in 1e9 units."""
    if o_stable and d_stable:
        return 0 if limit_price > 1_000_000_000 else U64_MAX
    if o_stable and not d_stable:
        if limit_price == 0:
            return U64_MAX
        return max_amount_add_rao(False, d_tao, d_alpha, 10**18 // limit_price)
    if not o_stable and d_stable:
        return max_amount_remove_rao(False, o_tao, o_alpha, limit_price)
    # dynamic -> dynamic, U64F64
    if o_alpha == 0 or d_alpha == 0 or o_tao == 0 or d_tao == 0:
        return 0
    l = limit_price / 1e9
    if l > (o_tao / o_alpha) / (d_tao / d_alpha):
        return 0
    if limit_price == 0:
        return U64_MAX
    t_sum = o_tao + d_tao
    r = (d_alpha * o_tao / t_sum) / l - (o_alpha * d_tao / t_sum)
    return min(max(int(math.floor(r)), 0), U64_MAX) if math.isfinite(r) else U64_MAX


def _pool_rao(state: ChainState, netuid: int) -> tuple[bool, int, int]:
    return (netuid == ROOT or state.mechanism.item(netuid) == MECH_STABLE,
            _rao(state.tao_reserve.item(netuid)), _rao(state.alpha_reserve.item(netuid)))


def _max_add(state: ChainState, netuid: int, limit_price: float) -> float:
    lim = check_amount(limit_price, "limit_price")
    return _tao_limit(max_amount_add_rao(*_pool_rao(state, netuid), _rao(lim)))


def _max_remove(state: ChainState, netuid: int, limit_price: float) -> float:
    lim = check_amount(limit_price, "limit_price")
    return _tao_limit(max_amount_remove_rao(*_pool_rao(state, netuid), _rao(lim)))


def get_max_amount_add(state: ChainState, netuid: int, limit_price: float) -> float:
    """TAO that can be staked into ``netuid`` at or below ``limit_price`` TAO/alpha (inf = no limit)."""
    return _max_add(state, state.check_subnet(netuid), limit_price)


def get_max_amount_remove(state: ChainState, netuid: int, limit_price: float) -> float:
    """Alpha that can be unstaked from ``netuid`` at or above ``limit_price`` TAO/alpha (inf = no limit)."""
    return _max_remove(state, state.check_subnet(netuid), limit_price)


def get_max_amount_move(state: ChainState, origin_netuid: int, destination_netuid: int, limit_price: float) -> float:
    """Origin alpha that can be moved while origin price / destination price stays >= ``limit_price``."""
    o = state.check_subnet(origin_netuid)
    d = state.check_subnet(destination_netuid)
    check_amount(limit_price, "limit_price")
    return _tao_limit(max_amount_move_rao(*_pool_rao(state, o), *_pool_rao(state, d), _rao(limit_price)))


# ------------------------------------------------------------------------------------ internals
def _stake_into_subnet(state: ChainState, coldkey: int, hotkey: int, netuid: int, tao: float, fee: float) -> float:
    """``stake_into_subnet``: swap ``tao - fee`` into the pool, credit the alpha to the position, credit
    the fee actually taken (``min(fee, tao)``) to ``SubnetTAO``.  A refused swap returns 0 and the
    staked TAO is lost, as on chain (accounted in ``tao_unowned``).  Returns the alpha credited."""
    staked = max(tao - fee, 0.0)
    actual_fee = tao - staked
    alpha = 0.0
    if staked > 0.0:
        try:  # a refused swap raises before touching the pool (root and stable pools never refuse)
            alpha = swap_tao_for_alpha(state, netuid, staked)
        except InsufficientLiquidity:
            state.tao_unowned += staked
        else:
            increase_stake_for_hotkey_and_coldkey_on_subnet(state, hotkey, coldkey, netuid, alpha)
    state.tao_reserve[netuid] = state.tao_reserve.item(netuid) + actual_fee
    state.total_stake += actual_fee
    state.flow_block[netuid] = state.flow_block.item(netuid) + tao
    return alpha


def _unstake_from_subnet(state: ChainState, coldkey: int, hotkey: int, netuid: int, alpha: float, fee: float) -> float:
    """``unstake_from_subnet``: remove ``alpha`` from the position, sell it, keep ``min(fee, tao)`` in
    ``SubnetTAO``; returns the TAO out net of the fee (not yet credited anywhere)."""
    removed = decrease_stake_for_hotkey_and_coldkey_on_subnet(state, coldkey, hotkey, netuid, alpha)
    tao = _sell_alpha(state, netuid, removed)
    fee = min(fee, tao)
    state.tao_reserve[netuid] = state.tao_reserve.item(netuid) + fee
    state.total_stake += fee
    state.flow_block[netuid] = state.flow_block.item(netuid) - tao
    return tao - fee


def _sell_alpha(state: ChainState, netuid: int, alpha: float) -> float:
    if netuid == ROOT:
        # root swaps 1:1; root dividends are not in SubnetTAO[0] (launch quirk), so a shortfall of the
        # ledger is paid from the off-ledger dividends instead of saturating (which would mint TAO).
        t0 = state.tao_reserve[ROOT]
        short = max(alpha - t0, 0.0)
        state.tao_reserve[ROOT] = t0 - (alpha - short)
        state.root_divs_off_ledger -= short
        state.alpha_reserve[ROOT] += alpha
        state.alpha_out[ROOT] = max(state.alpha_out[ROOT] - alpha, 0.0)
        state.total_stake = max(state.total_stake - alpha, 0.0)
        state.volume[ROOT] += alpha
        return alpha
    try:
        return swap_alpha_for_tao(state, netuid, alpha)
    except InsufficientLiquidity:  # raised before any change
        return 0.0  # the chain's swap returns 0 (validation normally prevents this)


def _tao_equivalent_ok(state: ChainState, netuid: int, alpha: float) -> float:
    """The chain's check that an unstake is worth more than ``DefaultMinStake`` (and is swappable);
    returns the TAO the sale of ``alpha`` would fetch."""
    tao = sim_swap_alpha_for_tao(state, netuid, alpha)
    if tao is None:
        raise InsufficientLiquidity(f"subnet {netuid} pool cannot pay for {alpha} alpha")
    if not tao > state.params.min_stake:
        raise AmountTooLow(f"unstake worth {tao} TAO is not above the minimum stake {state.params.min_stake} TAO")
    return tao


def _validate_add(state: ChainState, coldkey: object, hotkey: object, netuid: object, tao: object,
                  max_amount: float, allow_partial: bool) -> tuple[int, int, int, float]:
    """``validate_add_stake``, in the chain's order, on the full requested amount."""
    amt = check_amount(tao, "stake amount (TAO)")
    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    if amt < state.params.min_stake + state.params.staking_fee:
        raise AmountTooLow(f"stake of {amt} TAO is below the minimum {state.params.min_stake + state.params.staking_fee} TAO (min stake + fee)")
    if not allow_partial and amt > max_amount:
        raise SlippageTooHigh(f"staking {amt} TAO would pass the limit price; at most {max_amount} TAO fits")
    if state._balance.item(ck) < amt:
        raise NotEnoughBalanceToStake(f"coldkey {ck} has {state._balance[ck]} TAO, needs {amt}")
    hk = state.check_hotkey(hotkey)
    if sim_swap_tao_for_alpha(state, nu, amt) is None:
        raise InsufficientLiquidity(f"subnet {nu} pool cannot absorb {amt} TAO")
    return ck, hk, nu, amt


def _validate_remove(state: ChainState, coldkey: object, hotkey: object, netuid: object, alpha: object,
                     max_amount: float, allow_partial: bool) -> tuple[int, int, int, float, float | None]:
    """``validate_remove_stake``, in the chain's order, on the full requested amount.  Returns
    (coldkey, hotkey, netuid, alpha to remove = the request capped at the position, TAO quote of that
    alpha's sale, or None when the cap changed it)."""
    amt = check_amount(alpha, "unstake amount (alpha)")
    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    tao = _tao_equivalent_ok(state, nu, amt)
    if not allow_partial and amt > max_amount:
        raise SlippageTooHigh(f"unstaking {amt} alpha would pass the limit price; at most {max_amount} alpha fits")
    hk = state.check_hotkey(hotkey)
    held = state.position_value(ck, hk, nu)
    if held < amt * (1 - 1e-12):
        raise NotEnoughStakeToWithdraw(f"coldkey {ck} holds {held} alpha on hotkey {hk} subnet {nu}, asked {amt}")
    out = min(amt, held)
    return ck, hk, nu, out, (tao if out == amt else None)


# ------------------------------------------------------------------------------------ extrinsics
def add_stake(state: ChainState, coldkey: int, hotkey: int, netuid: int, tao: float) -> float:
    """``add_stake``: stake ``tao`` TAO from the coldkey's balance to ``hotkey`` on ``netuid``.

    The flat fee is taken from the amount and credited to the subnet's TAO reserve; the rest is
    swapped for alpha.  Returns the alpha received.  Errors (chain order): SubnetNotExists,
    AmountTooLow, NotEnoughBalanceToStake, HotKeyAccountNotExists, InsufficientLiquidity.
    """
    ck, hk, nu, amt = _validate_add(state, coldkey, hotkey, netuid, tao, NO_LIMIT, True)
    state._balance[ck] -= amt
    return _stake_into_subnet(state, ck, hk, nu, amt, state.params.staking_fee)


def add_stake_limit(state: ChainState, coldkey: int, hotkey: int, netuid: int, tao: float,
                    limit_price: float, allow_partial: bool = False) -> float:
    """``add_stake_limit``: stake ``min(tao, get_max_amount_add(limit_price))``.  Validation is on the
    full request (SlippageTooHigh if it passes the limit and ``allow_partial`` is False); a fill
    smaller than the fee is taken entirely as the fee, as on chain."""
    nu = state.check_subnet(netuid)
    mx = _max_add(state, nu, limit_price)
    ck, hk, nu, amt = _validate_add(state, coldkey, hotkey, nu, tao, mx, allow_partial)
    fill = min(amt, mx)
    state._balance[ck] = state._balance.item(ck) - fill
    return _stake_into_subnet(state, ck, hk, nu, fill, state.params.staking_fee)


def remove_stake(state: ChainState, coldkey: int, hotkey: int, netuid: int, alpha: float) -> float:
    """``remove_stake``: unstake ``alpha`` from (coldkey, hotkey, netuid), sell it, credit TAO to the balance.

    The unstake fee (dynamic since v2.0.9) is kept in the pool's TAO reserve.  Returns TAO credited.
    Errors (chain order): SubnetNotExists, InsufficientLiquidity, AmountTooLow (worth not above
    ``DefaultMinStake``), HotKeyAccountNotExists, NotEnoughStakeToWithdraw.
    """
    ck, hk, nu, amt, quote = _validate_remove(state, coldkey, hotkey, netuid, alpha, NO_LIMIT, True)
    fee = calculate_staking_fee(state, (hk, nu), None, amt, quote)
    tao = _unstake_from_subnet(state, ck, hk, nu, amt, fee)
    state._balance[ck] = state._balance.item(ck) + tao
    return tao


def remove_stake_limit(state: ChainState, coldkey: int, hotkey: int, netuid: int, alpha: float,
                       limit_price: float, allow_partial: bool = False) -> float:
    """``remove_stake_limit``: unstake ``min(alpha, get_max_amount_remove(limit_price))``.  Validation
    and the fee are on the full request, as on chain."""
    nu = state.check_subnet(netuid)
    mx = _max_remove(state, nu, limit_price)
    ck, hk, nu, amt, quote = _validate_remove(state, coldkey, hotkey, nu, alpha, mx, allow_partial)
    fee = calculate_staking_fee(state, (hk, nu), None, amt, quote)
    fill = min(amt, mx)
    if fill <= 0.0:
        return 0.0
    tao = _unstake_from_subnet(state, ck, hk, nu, fill, fee)
    state._balance[ck] = state._balance.item(ck) + tao
    return tao


def _transition_stake(state: ChainState, origin_coldkey: int, dest_coldkey: int, origin_hotkey: int,
                      dest_hotkey: int, origin_netuid: int, dest_netuid: int, alpha: float,
                      check_transfer: bool, limit_price: float | None = None,
                      allow_partial: bool | None = None) -> float:
    """``transition_stake_internal``: unstake from origin, route through TAO, stake into destination.

    Validates everything first (``validate_stake_transition`` order).  Fee = ``calculate_staking_fee/2``
    on the full request, charged on each leg.  Below ``DefaultMinStake + fee`` the TAO is neither
    restaked nor returned (chain edge case, accounted in ``tao_unowned``).  Returns alpha received.
    """
    amt = check_amount(alpha, "amount (alpha)")
    o = state.check_subnet(origin_netuid)
    d = state.check_subnet(dest_netuid)
    ohk = state.check_hotkey(origin_hotkey)
    dhk = state.check_hotkey(dest_hotkey)
    ock = state.check_coldkey(origin_coldkey)
    dck = state.check_coldkey(dest_coldkey)
    mx = get_max_amount_move(state, o, d, limit_price) if limit_price is not None else amt
    held = state.position_value(ock, ohk, o)
    if held < amt * (1 - 1e-12):
        raise NotEnoughStakeToWithdraw(f"coldkey {ock} holds {held} alpha on hotkey {ohk} subnet {o}, asked {amt}")
    amt = min(amt, held)
    quote = _tao_equivalent_ok(state, o, amt)
    if allow_partial is False and amt > mx:
        raise SlippageTooHigh(f"moving {amt} alpha would pass the limit price; at most {mx} fits")
    if check_transfer and (not state.hyper[o].transfers_enabled or not state.hyper[d].transfers_enabled):
        raise TransferDisallowed(f"stake transfers are disabled on subnet {o if not state.hyper[o].transfers_enabled else d}")
    move = min(amt, mx)
    fee = calculate_staking_fee(state, (ohk, o), d, amt, quote) / 2.0
    if move <= 0.0:
        return 0.0
    tao = _unstake_from_subnet(state, ock, ohk, o, move, fee)
    if tao >= state.params.min_stake + fee:
        return _stake_into_subnet(state, dck, dhk, d, tao, fee)
    state.tao_unowned += tao
    return 0.0


def move_stake(state: ChainState, coldkey: int, origin_hotkey: int, destination_hotkey: int,
               origin_netuid: int, destination_netuid: int, alpha: float) -> float:
    """``move_stake``: same coldkey, any hotkeys and subnets (two swaps, even on one subnet)."""
    return _transition_stake(state, coldkey, coldkey, origin_hotkey, destination_hotkey, origin_netuid,
                             destination_netuid, alpha, check_transfer=False)


def transfer_stake(state: ChainState, coldkey: int, destination_coldkey: int, hotkey: int,
                   origin_netuid: int, destination_netuid: int, alpha: float) -> float:
    """``transfer_stake``: give stake on ``hotkey`` to another coldkey (optionally to another subnet)."""
    return _transition_stake(state, coldkey, destination_coldkey, hotkey, hotkey, origin_netuid,
                             destination_netuid, alpha, check_transfer=True)


def swap_stake(state: ChainState, coldkey: int, hotkey: int, origin_netuid: int, destination_netuid: int,
               alpha: float) -> float:
    """``swap_stake``: same hotkey and coldkey, another subnet (v2.0.11 also executes a same-subnet swap)."""
    return _transition_stake(state, coldkey, coldkey, hotkey, hotkey, origin_netuid, destination_netuid,
                             alpha, check_transfer=False)


def swap_stake_limit(state: ChainState, coldkey: int, hotkey: int, origin_netuid: int, destination_netuid: int,
                     alpha: float, limit_price: float, allow_partial: bool = False) -> float:
    """``swap_stake_limit``: swap_stake of at most ``get_max_amount_move(limit_price)`` alpha, where the
    limit is origin price / destination price."""
    check_amount(limit_price, "limit_price")
    return _transition_stake(state, coldkey, coldkey, hotkey, hotkey, origin_netuid, destination_netuid,
                             alpha, check_transfer=False, limit_price=limit_price, allow_partial=allow_partial)


def _unstake_positions(state: ChainState, ck: int, hk: int, netuids: np.ndarray) -> float:
    """Sell every position of (ck, hk) on ``netuids`` that passes ``validate_remove_stake``, each with
    its unstake fee; returns the TAO out (not yet credited anywhere)."""
    total = 0.0
    for nu in netuids:
        nu = int(nu)
        v = state.position_value(ck, hk, nu)
        try:
            quote = _validate_remove(state, ck, hk, nu, v, v, False)[4]
        except ChainError:
            continue
        fee = calculate_staking_fee(state, (hk, nu), None, v, quote)
        if v > 0.0:
            total += _unstake_from_subnet(state, ck, hk, nu, v, fee)
    return total


def unstake_all(state: ChainState, coldkey: int, hotkey: int) -> float:
    """``unstake_all``: unstake every position of (coldkey, hotkey) on every subnet (root included) to
    the balance, each with its fee.  Positions that fail ``validate_remove_stake`` are skipped.
    Returns TAO credited."""
    hk = state.check_hotkey(hotkey)
    ck = state.check_coldkey(coldkey)
    total = _unstake_positions(state, ck, hk, state.netuids)
    state._balance[ck] += total
    return total


def unstake_all_alpha(state: ChainState, coldkey: int, hotkey: int) -> float:
    """``unstake_all_alpha``: sell every non-root position of (coldkey, hotkey), each with its unstake
    fee, and restake the total on root with no fee.  Returns TAO restaked on root."""
    hk = state.check_hotkey(hotkey)
    ck = state.check_coldkey(coldkey)
    total = _unstake_positions(state, ck, hk, state.subnet_netuids)
    if total > 0.0:
        _stake_into_subnet(state, ck, hk, ROOT, total, 0.0)
    return total


def transfer(state: ChainState, coldkey: int, destination_coldkey: int, tao: float) -> None:
    """``transfer_keep_alive``-like free-balance transfer between coldkeys (TAO)."""
    amt = check_amount(tao, "transfer amount (TAO)")
    ck = state.check_coldkey(coldkey)
    dck = state.check_coldkey(destination_coldkey)
    if state.balance[ck] < amt:
        raise NotEnoughBalance(f"coldkey {ck} has {state.balance[ck]} TAO, needs {amt}")
    state._balance[ck] -= amt
    state._balance[dck] += amt


def set_delegate_take(state: ChainState, coldkey: int, hotkey: int, take: float) -> None:
    """Set a hotkey's delegate take (its owner only; at most 18%)."""
    from dtao.chain.errors import DelegateTakeTooHigh

    t = check_amount(take, "take")
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    if state.hotkey_owner[hk] != ck:
        raise NonAssociatedColdKey(f"coldkey {ck} does not own hotkey {hk}")
    if t > 11796 / 65535 + 1e-12:
        raise DelegateTakeTooHigh(f"take {t} above the maximum 0.18")
    state._hotkey_take[hk] = t
