"""Launch-era constant-product pool math (``sim_swap_tao_for_alpha`` / ``sim_swap_alpha_for_tao``, spec 4.1).

Each dynamic subnet's pool holds ``SubnetTAO`` (T) and ``SubnetAlphaIn`` (A) with k = A*T.  There is no
fee inside the pool.  A swap is refused (``InsufficientLiquidity``) when the reserve paid out would fall
below ``DefaultMinimumPoolLiquidity``.  Stable subnets (mechanism 0, root) swap 1:1.

Functions come in two shapes that share one formula: ``quote_*`` work on numpy arrays (vectorised
across subnets or across many quotes), and ``swap_*`` apply one swap to a ChainState.
"""
from __future__ import annotations

import numpy as np

from dtao.chain.errors import InsufficientLiquidity
from dtao.chain.state import MECH_STABLE, ChainState

#: relative slack on the refusal test so that a reserve landing exactly on the minimum (allowed on
#: chain, where the test is on integers) is not refused because of float64 rounding.
_EDGE_RTOL = 1e-12


def quote_tao_for_alpha(tao_reserve: np.ndarray | float, alpha_reserve: np.ndarray | float,
                        tao: np.ndarray | float, stable: np.ndarray | bool = False,
                        min_liquidity: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Alpha received for ``tao`` TAO put into pools (T, A); vectorised.

    Returns ``(alpha_out, ok)``: ok is False where the chain refuses the swap because the new alpha
    reserve ``A*T/(T+tao)`` would be below ``min_liquidity`` (alpha_out is 0 there).  Stable pools
    return ``tao`` 1:1.  All amounts in TAO/alpha units.
    """
    T = np.asarray(tao_reserve, np.float64)
    A = np.asarray(alpha_reserve, np.float64)
    x = np.asarray(tao, np.float64)
    denom = T + x
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (A * T >= min_liquidity * denom * (1.0 - _EDGE_RTOL)) & (denom > 0)
        out = np.where(ok, A * x / np.where(denom > 0, denom, 1.0), 0.0)
    stable = np.asarray(stable, bool)
    out = np.where(stable, x, out)
    ok = np.where(stable, True, ok)
    return out, ok


def quote_alpha_for_tao(tao_reserve: np.ndarray | float, alpha_reserve: np.ndarray | float,
                        alpha: np.ndarray | float, stable: np.ndarray | bool = False,
                        min_liquidity: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """TAO received for ``alpha`` sold into pools (T, A); vectorised.

    Returns ``(tao_out, ok)``: ok is False where the new TAO reserve ``A*T/(A+alpha)`` would be below
    ``min_liquidity``.  Stable pools return ``alpha`` 1:1.
    """
    T = np.asarray(tao_reserve, np.float64)
    A = np.asarray(alpha_reserve, np.float64)
    y = np.asarray(alpha, np.float64)
    denom = A + y
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (A * T >= min_liquidity * denom * (1.0 - _EDGE_RTOL)) & (denom > 0)
        out = np.where(ok, T * y / np.where(denom > 0, denom, 1.0), 0.0)
    stable = np.asarray(stable, bool)
    out = np.where(stable, y, out)
    ok = np.where(stable, True, ok)
    return out, ok


def sim_swap_tao_for_alpha(state: ChainState, netuid: int, tao: float) -> float | None:
    """Alpha a swap of ``tao`` TAO into ``netuid``'s pool would give, or None if refused."""
    out, ok = quote_tao_for_alpha(state.tao_reserve[netuid], state.alpha_reserve[netuid], tao,
                                  state.mechanism[netuid] == MECH_STABLE, state.params.min_pool_liquidity)
    return float(out) if bool(ok) else None


def sim_swap_alpha_for_tao(state: ChainState, netuid: int, alpha: float) -> float | None:
    """TAO a sale of ``alpha`` into ``netuid``'s pool would give, or None if refused."""
    out, ok = quote_alpha_for_tao(state.tao_reserve[netuid], state.alpha_reserve[netuid], alpha,
                                  state.mechanism[netuid] == MECH_STABLE, state.params.min_pool_liquidity)
    return float(out) if bool(ok) else None


def swap_tao_for_alpha(state: ChainState, netuid: int, tao: float) -> float:
    """Put ``tao`` TAO into the pool and move the alpha bought from ``SubnetAlphaIn`` to ``SubnetAlphaOut``.

    Raises InsufficientLiquidity (state unchanged) if refused.  The TAO must already have left a
    wallet or pending accumulator; this function only moves pool ledgers (``SubnetTAO``,
    ``TotalStake``, ``SubnetVolume``).  Returns the alpha bought.
    """
    alpha = sim_swap_tao_for_alpha(state, netuid, tao)
    if alpha is None:
        raise InsufficientLiquidity(f"swap of {tao} TAO into subnet {netuid} would leave its alpha reserve below the minimum")
    state.alpha_reserve[netuid] = max(state.alpha_reserve[netuid] - alpha, 0.0)
    state.alpha_out[netuid] += alpha
    state.tao_reserve[netuid] += tao
    state.total_stake += tao
    state.volume[netuid] += tao
    return alpha


def swap_alpha_for_tao(state: ChainState, netuid: int, alpha: float) -> float:
    """Sell ``alpha`` into the pool: ``SubnetAlphaOut`` -> ``SubnetAlphaIn``, TAO leaves ``SubnetTAO``.

    Raises InsufficientLiquidity (state unchanged) if refused.  Returns the TAO received; the caller
    credits it somewhere (a wallet, ``PendingRootDivs``).
    """
    tao = sim_swap_alpha_for_tao(state, netuid, alpha)
    if tao is None:
        raise InsufficientLiquidity(f"sale of {alpha} alpha into subnet {netuid} would leave its TAO reserve below the minimum")
    state.alpha_reserve[netuid] += alpha
    state.alpha_out[netuid] = max(state.alpha_out[netuid] - alpha, 0.0)
    state.tao_reserve[netuid] = max(state.tao_reserve[netuid] - tao, 0.0)  # saturating, as on chain
    state.total_stake = max(state.total_stake - tao, 0.0)
    state.volume[netuid] += tao
    return tao
