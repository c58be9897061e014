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

from dtao.chain.state import MECH_STABLE, ROOT, ChainState


def _normalize(x: np.ndarray) -> np.ndarray:
    s = float(x.sum())
    return x / s if s > 0 else np.zeros_like(x)


def moving_prices(state: ChainState, netuids: np.ndarray) -> np.ndarray:
    """``get_moving_alpha_price``: the stored EMA price, 1 for stable subnets."""
    mp = state.moving_price[netuids]
    return np.where(state.mechanism[netuids] == MECH_STABLE, 1.0, mp)


def shares_ema_price(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """Launch rule: TAO emission share proportional to the EMA (moving) alpha price."""
    return _normalize(np.maximum(moving_prices(state, emit), 0.0))


def shares_flow(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """TaoFlow rule: share proportional to ``max(S - L, 0)^p`` of the net-flow EMA S (TAO/block)."""
    s = state.flow_ema[emit]
    if s.size == 0:
        return s
    lo = max(state.params.flow_cutoff, float(min(s.min(), 0.0)))
    z = np.maximum(s - lo, 0.0)
    if z.max() <= 0:
        return np.zeros_like(z)
    z = z / z.max()  # scale so the max is 1 before the power, as the chain does
    return _normalize(z ** state.params.flow_norm_exponent)


def shares_root_vote(state: ChainState, emit: np.ndarray) -> np.ndarray:
    """Pre-dTAO rule: the last root epoch's ``EmissionValues`` restricted to emitting subnets
    (computed now if no root epoch has run yet)."""
    if not np.any(state.root_vote_share > 0):
        state.root_vote_share[:] = root_epoch_shares(state)
    return _normalize(np.maximum(state.root_vote_share[emit], 0.0))


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


def update_after_block(state: ChainState, emit: np.ndarray) -> None:
    """Advance the emission rule's own state at the end of a block (flow EMA; root epoch)."""
    f = state.params.flow_ema_smoothing
    if state.params.emission_rule == "flow" or np.any(state.flow_block != 0):
        init = state.flow_initialized[emit]
        if np.any(~init):
            new = emit[~init]
            state.flow_ema[new] = np.minimum(moving_prices(state, new), state.spot_price()[new])
            state.flow_initialized[new] = True
        state.flow_ema[emit] = (1.0 - f) * state.flow_ema[emit] + f * state.flow_block[emit]
        state.flow_block[:] = 0.0
    if state.params.emission_rule == "root_vote":
        t = state.params.root_vote_tempo
        if t > 0 and state.block % (t + 1) == 0:
            state.root_vote_share[:] = root_epoch_shares(state)
