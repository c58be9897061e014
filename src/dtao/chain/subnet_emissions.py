"""Rules that split the block's TAO emission among subnets (strategies chosen by ``emission_rule``).

* ``ema_price`` (launch, spec 3.1): share_i = moving_price_i / sum of moving prices.
* ``flow`` (TaoFlow, spec 8.3): an EMA of each subnet's net TAO staking flow S_i; shares proportional
  to ``max(S_i - L, 0)^p`` with ``L = max(cutoff, min_i min(S_i, 0))``.
* ``root_vote`` (pre-dTAO root epoch, spec 6): shares from the stake-weighted weights of the top
  root validators, ``normalize(sigmoid(rho*(trust - kappa)) * rank)``, recomputed every root tempo.

Each rule is a function ``(state, emit) -> shares`` over the emitting netuids ``emit``; shares sum to 1
or are all 0.  ``update_after_block`` advances the rule's own state once per block.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from dtao.chain.state import MECH_STABLE, ROOT, ChainState

#: rule codes of the compiled coinbase
RULE_CODES: dict[str, int] = {"ema_price": 0, "flow": 1, "root_vote": 2}


def _normalize(x: np.ndarray) -> np.ndarray:
    s = float(x.sum())
    return x / s if s > 0 else np.zeros_like(x)


@njit(cache=True)
def normalize_shares(x: np.ndarray) -> np.ndarray:
    """``x / sum(x)`` (summed in order), or zeros when the sum is not positive."""
    s = 0.0
    for i in range(x.size):
        s += x[i]
    if s > 0.0:
        return x / s
    return np.zeros_like(x)


@njit(cache=True)
def moving_price_of(moving_price: float, mechanism: int) -> float:
    """``get_moving_alpha_price``: the stored EMA price, 1 for stable subnets."""
    return 1.0 if mechanism == MECH_STABLE else moving_price


@njit(cache=True)
def ema_price_shares(moving_price: np.ndarray, mechanism: np.ndarray, emit: np.ndarray) -> np.ndarray:
    """Launch rule over the emitting netuids ``emit``: share proportional to ``max(EMA price, 0)``."""
    x = np.empty(emit.size)
    for k in range(emit.size):
        x[k] = max(moving_price_of(moving_price[emit[k]], mechanism[emit[k]]), 0.0)
    return normalize_shares(x)


@njit(cache=True)
def flow_shares(flow_ema: np.ndarray, emit: np.ndarray, cutoff: float, exponent: float) -> np.ndarray:
    """TaoFlow rule over ``emit``: share proportional to ``max(S - L, 0)^p`` of the net-flow EMA S
    (TAO/block), ``L = max(cutoff, min(min S, 0))``, z scaled so its max is 1 before the power."""
    m = emit.size
    z = np.zeros(m)
    if m == 0:
        return z
    smin = flow_ema[emit[0]]
    for k in range(m):
        smin = min(smin, flow_ema[emit[k]])
    lo = max(cutoff, min(smin, 0.0))
    zmax = 0.0
    for k in range(m):
        z[k] = max(flow_ema[emit[k]] - lo, 0.0)
        zmax = max(zmax, z[k])
    if not zmax > 0.0:
        return np.zeros(m)
    for k in range(m):
        z[k] = (z[k] / zmax) ** exponent
    return normalize_shares(z)


@njit(cache=True)
def root_vote_shares(root_vote_share: np.ndarray, emit: np.ndarray) -> np.ndarray:
    """Pre-dTAO rule over ``emit``: the last root epoch's emission values, normalised."""
    x = np.empty(emit.size)
    for k in range(emit.size):
        x[k] = max(root_vote_share[emit[k]], 0.0)
    return normalize_shares(x)


def moving_prices(state: ChainState, netuids: np.ndarray) -> np.ndarray:
    """``get_moving_alpha_price``: the stored EMA price, 1 for stable subnets."""
    mp = state.moving_price[netuids]
    return np.where(state.mechanism[netuids] == MECH_STABLE, 1.0, mp)


def shares_ema_price(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """Launch rule: TAO emission share proportional to the EMA (moving) alpha price."""
    return ema_price_shares(state.moving_price, state.mechanism, np.asarray(emit, np.int64))


def shares_flow(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """TaoFlow rule: share proportional to ``max(S - L, 0)^p`` of the net-flow EMA S (TAO/block)."""
    return flow_shares(state.flow_ema, np.asarray(emit, np.int64), float(state.params.flow_cutoff),
                       float(state.params.flow_norm_exponent))


def shares_root_vote(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """Pre-dTAO rule: the last root epoch's ``EmissionValues`` restricted to emitting subnets
    (computed now if no root epoch has run yet)."""
    if not np.any(state.root_vote_share > 0):
        state.root_vote_share[:] = root_epoch_shares(state)
    return root_vote_shares(state.root_vote_share, np.asarray(emit, np.int64))


RULES: dict[str, Callable[[ChainState, np.ndarray], np.ndarray]] = {
    "ema_price": shares_ema_price,
    "flow": shares_flow,
    "root_vote": shares_root_vote,
}


def subnet_emission_shares(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """Shares of the block's TAO emission for the emitting subnets ``emit`` under the active rule."""
    return RULES[state.params.emission_rule](state, emit)


def root_epoch_shares(state: ChainState) -> np.ndarray:
    """Pre-dTAO ``root_epoch``: per-netuid emission values from root validators' weights.

    Validators are the hotkeys with root weights, the top ``max_root_validators`` by root stake.
    ``rank_j = sum_i stake_i * w_ij`` (rows normalised), ``trust_j`` = stake share of validators with a
    non-zero weight on j, result ``normalize(sigmoid(rho*(trust - kappa)) * rank)`` with rho = 10 and
    kappa = 0.5 (root's ``Rho``/``Kappa``).
    """
    cap = state.n_subnets_cap
    out = np.zeros(cap)
    if not state.root_weights:
        return out
    hks = np.array(sorted(state.root_weights), np.int64)
    stake = state.hotkey_alpha[hks, ROOT]
    k = state.params.max_root_validators
    if hks.size > k:
        order = np.argsort(-stake, kind="stable")[:k]
        hks, stake = hks[order], stake[order]
    W = np.zeros((hks.size, cap))
    for r, hk in enumerate(hks):
        w = state.root_weights[int(hk)]
        W[r, : min(cap, w.size)] = w[:cap]
    W[:, ~state.exists] = 0.0
    W[:, ROOT] = 0.0
    rs = W.sum(axis=1, keepdims=True)
    W = np.divide(W, rs, out=np.zeros_like(W), where=rs > 0)
    s = _normalize(stake)
    rank = s @ W
    trust = s @ (W > 0).astype(float)
    hyper0 = state.hyper[ROOT]
    rho = float(hyper0.rho) if hyper0 is not None else 10.0
    kappa = float(hyper0.kappa) / 65535 if hyper0 is not None else 0.5
    cons = 1.0 / (1.0 + np.exp(-rho * (trust - kappa)))
    return _normalize(cons * rank)


@njit(cache=True)
def flow_update(flow_ema: np.ndarray, flow_block: np.ndarray, flow_initialized: np.ndarray, moving_price: np.ndarray,
                mechanism: np.ndarray, spot: np.ndarray, emit: np.ndarray, smoothing: float, rule_is_flow: bool) -> None:
    """End-of-block flow EMA (``SubnetEmaTaoFlow``): when the flow rule is on or any flow was recorded,
    each emitting subnet's EMA starts at ``min(EMA price, spot price)`` and moves by ``smoothing``
    toward the block's net TAO flow (TAO); the block's flow accumulators are then cleared.
    ``spot`` is the spot price per emitting subnet (same order as ``emit``)."""
    active = rule_is_flow
    if not active:
        for i in range(flow_block.size):
            if flow_block[i] != 0.0:
                active = True
                break
    if not active:
        return
    for k in range(emit.size):
        nu = emit[k]
        if not flow_initialized[nu]:
            flow_ema[nu] = min(moving_price_of(moving_price[nu], mechanism[nu]), spot[k])
            flow_initialized[nu] = True
    for k in range(emit.size):
        nu = emit[k]
        flow_ema[nu] = (1.0 - smoothing) * flow_ema[nu] + smoothing * flow_block[nu]
    flow_block[:] = 0.0


def update_after_block(state: ChainState, emit: np.ndarray) -> None:
    """Advance the emission rule's own state at the end of a block (flow EMA; root epoch)."""
    emit = np.asarray(emit, np.int64)
    flow_update(state.flow_ema, state.flow_block, state.flow_initialized, state.moving_price, state.mechanism,
                np.asarray(state.spot_price(), np.float64)[emit], emit, float(state.params.flow_ema_smoothing),
                state.params.emission_rule == "flow")
    if state.params.emission_rule == "root_vote":
        t = state.params.root_vote_tempo
        if t > 0 and state.block % (t + 1) == 0:
            state.root_vote_share[:] = root_epoch_shares(state)
