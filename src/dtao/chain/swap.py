"""Launch-era constant-product pool math (``sim_swap_tao_for_alpha`` / ``sim_swap_alpha_for_tao``, spec 4.1).

Each dynamic subnet's pool holds ``SubnetTAO`` (T) and ``SubnetAlphaIn`` (A) with k = A*T.  There is no
fee inside the pool.  A swap is refused (``InsufficientLiquidity``) when the reserve paid out would fall
below ``DefaultMinimumPoolLiquidity``.  Stable subnets (mechanism 0, root) swap 1:1.

Functions come in two shapes that share one formula: ``quote_*`` work on numpy arrays (vectorised
across subnets or across many quotes), and ``swap_*`` apply one swap to a ChainState.  Both, and the
compiled coinbase, evaluate the one compiled scalar rule (``tao_for_alpha_1`` / ``alpha_for_tao_1``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from dtao.chain.errors import InsufficientLiquidity
from dtao.chain.state import MECH_STABLE, ChainState

#: relative slack on the refusal test so that a reserve landing exactly on the minimum (allowed on
#: chain, where the test is on integers) is not refused because of float64 rounding.
_EDGE_RTOL = 1e-12


@njit(cache=True)
def tao_for_alpha_1(tao_reserve: float, alpha_reserve: float, tao: float, stable: bool,
                    min_liquidity: float) -> tuple[float, bool]:
    """One quote of the rule below (compiled; the coinbase kernel calls it): alpha for ``tao`` TAO."""
    if stable:
        return tao, True
    denom = tao_reserve + tao
    ok = (alpha_reserve * tao_reserve >= min_liquidity * denom * (1.0 - _EDGE_RTOL)) and denom > 0.0
    return (alpha_reserve * tao / denom if ok else 0.0), ok


@njit(cache=True)
def alpha_for_tao_1(tao_reserve: float, alpha_reserve: float, alpha: float, stable: bool,
                    min_liquidity: float) -> tuple[float, bool]:
    """One quote of the rule below (compiled; the coinbase kernel calls it): TAO for ``alpha`` sold."""
    if stable:
        return alpha, True
    denom = alpha_reserve + alpha
    ok = (alpha_reserve * tao_reserve >= min_liquidity * denom * (1.0 - _EDGE_RTOL)) and denom > 0.0
    return (tao_reserve * alpha / denom if ok else 0.0), ok


# One scalar quote from Python runs the same rule's source uncompiled: a compiled call's dispatch costs
# several times the arithmetic (each staking extrinsic quotes two to four times).
_tao_for_alpha_py = tao_for_alpha_1.py_func
_alpha_for_tao_py = alpha_for_tao_1.py_func


@njit(cache=True)
def _quote_loop(T: np.ndarray, A: np.ndarray, x: np.ndarray, stable: np.ndarray, min_liquidity: float,
                tao_in: bool, out: np.ndarray, ok: np.ndarray) -> None:
    for i in range(T.size):
        if tao_in:
            out[i], ok[i] = tao_for_alpha_1(T[i], A[i], x[i], stable[i], min_liquidity)
        else:
            out[i], ok[i] = alpha_for_tao_1(T[i], A[i], x[i], stable[i], min_liquidity)


def _quote(T: object, A: object, x: object, stable: object, min_liquidity: float,
           tao_in: bool) -> tuple[np.ndarray, np.ndarray]:
    arrs = np.broadcast_arrays(np.asarray(T, np.float64), np.asarray(A, np.float64), np.asarray(x, np.float64),
                               np.asarray(stable, np.bool_))
    shape = arrs[0].shape
    flat = [np.array(a, copy=True).reshape(-1) for a in arrs]  # own copies: broadcast views are read-only
    out = np.empty(shape, np.float64)
    ok = np.empty(shape, np.bool_)
    _quote_loop(flat[0], flat[1], flat[2], flat[3], float(min_liquidity), tao_in, out.reshape(-1), ok.reshape(-1))
    return out, ok


def quote_tao_for_alpha(tao_reserve: np.ndarray | float, alpha_reserve: np.ndarray | float,
                        tao: np.ndarray | float, stable: np.ndarray | bool = False,
                        min_liquidity: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Alpha received for ``tao`` TAO put into pools (T, A); vectorised.

    Returns ``(alpha_out, ok)``: ok is False where the chain refuses the swap because the new alpha
    reserve ``A*T/(T+tao)`` would be below ``min_liquidity`` (alpha_out is 0 there).  Stable pools
    return ``tao`` 1:1.  All amounts in TAO/alpha units.
    """
    return _quote(tao_reserve, alpha_reserve, tao, stable, min_liquidity, True)


def quote_alpha_for_tao(tao_reserve: np.ndarray | float, alpha_reserve: np.ndarray | float,
                        alpha: np.ndarray | float, stable: np.ndarray | bool = False,
                        min_liquidity: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """TAO received for ``alpha`` sold into pools (T, A); vectorised.

    Returns ``(tao_out, ok)``: ok is False where the new TAO reserve ``A*T/(A+alpha)`` would be below
    ``min_liquidity``.  Stable pools return ``alpha`` 1:1.
    """
    return _quote(tao_reserve, alpha_reserve, alpha, stable, min_liquidity, False)


def sim_swap_tao_for_alpha(state: ChainState, netuid: int, tao: float) -> float | None:
    """Alpha a swap of ``tao`` TAO into ``netuid``'s pool would give, or None if refused."""
    out, ok = _tao_for_alpha_py(state.tao_reserve.item(netuid), state.alpha_reserve.item(netuid), float(tao),
                                state.mechanism.item(netuid) == MECH_STABLE, state.params.min_pool_liquidity)
    return out if ok else None


def sim_swap_alpha_for_tao(state: ChainState, netuid: int, alpha: float) -> float | None:
    """TAO a sale of ``alpha`` into ``netuid``'s pool would give, or None if refused."""
    out, ok = _alpha_for_tao_py(state.tao_reserve.item(netuid), state.alpha_reserve.item(netuid), float(alpha),
                                state.mechanism.item(netuid) == MECH_STABLE, state.params.min_pool_liquidity)
    return out if ok else None


def swap_tao_for_alpha(state: ChainState, netuid: int, tao: float) -> float:
    """Put ``tao`` TAO into the pool and move the alpha bought from ``SubnetAlphaIn`` to ``SubnetAlphaOut``.

    Raises InsufficientLiquidity (state unchanged) if refused.  The TAO must already have left a
    wallet or pending accumulator; this function only moves pool ledgers (``SubnetTAO``,
    ``TotalStake``, ``SubnetVolume``).  Returns the alpha bought.
    """
    alpha = sim_swap_tao_for_alpha(state, netuid, tao)
    if alpha is None:
        raise InsufficientLiquidity(f"swap of {tao} TAO into subnet {netuid} would leave its alpha reserve below the minimum")
    state.alpha_reserve[netuid] = max(state.alpha_reserve.item(netuid) - alpha, 0.0)
    state.alpha_out[netuid] = state.alpha_out.item(netuid) + alpha
    state.tao_reserve[netuid] = state.tao_reserve.item(netuid) + tao
    state.total_stake += tao
    state.volume[netuid] = state.volume.item(netuid) + tao
    return alpha


def swap_alpha_for_tao(state: ChainState, netuid: int, alpha: float) -> float:
    """Sell ``alpha`` into the pool: ``SubnetAlphaOut`` -> ``SubnetAlphaIn``, TAO leaves ``SubnetTAO``.

    Raises InsufficientLiquidity (state unchanged) if refused.  Returns the TAO received; the caller
    credits it somewhere (a wallet, ``PendingRootDivs``).
    """
    tao = sim_swap_alpha_for_tao(state, netuid, alpha)
    if tao is None:
        raise InsufficientLiquidity(f"sale of {alpha} alpha into subnet {netuid} would leave its TAO reserve below the minimum")
    state.alpha_reserve[netuid] = state.alpha_reserve.item(netuid) + alpha
    state.alpha_out[netuid] = max(state.alpha_out.item(netuid) - alpha, 0.0)
    state.tao_reserve[netuid] = max(state.tao_reserve.item(netuid) - tao, 0.0)  # saturating, as on chain
    state.total_stake = max(state.total_stake - tao, 0.0)
    state.volume[netuid] = state.volume.item(netuid) + tao
    return tao
