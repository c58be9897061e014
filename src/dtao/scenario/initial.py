"""Initial chain states: the ``synthetic`` network builder (the ``launch-2025`` state lives beside it).

Every random choice comes from the ``numpy.random.Generator`` passed in, so a seed fixes the state.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dtao.chain.migration import genesis, seed_stake
from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.registration import register_neurons_genesis
from dtao.chain.state import MECH_DYNAMIC, ROOT, ChainState
from dtao.chain.weights import set_weights_batch


def synthetic(rng: np.random.Generator, *, n_subnets: int = 16, n_uids: int = 64, n_validators: int = 16,
              root_tao: float = 1_000_000.0, pool_tao: float = 1_000.0, price_sigma: float = 1.0,
              validator_alpha: float = 10_000.0, params: ChainParams | None = None,
              weights_density: float = 1.0, set_weights: bool = True) -> ChainState:
    """A running network: root plus ``n_subnets`` started dynamic subnets, each with ``n_uids`` UIDs
    of which the first ``n_validators`` hold stake (alpha on the subnet and TAO on root) and have set
    random weights on the miners.

    Pool prices are log-normal (median 0.05 TAO/alpha, ``price_sigma``); pools hold ``pool_tao`` TAO.
    Validators share ``root_tao`` of root stake and ``validator_alpha`` alpha per subnet (random
    Dirichlet splits).  Amounts in TAO/alpha units.
    """
    if n_validators > n_uids:
        raise ValueError(f"n_validators ({n_validators}) cannot exceed n_uids ({n_uids})")
    if n_subnets < 1 or n_uids < 1:
        raise ValueError("n_subnets and n_uids must be >= 1")
    params = params or ChainParams()
    hyper = replace(params.subnet_hyper, max_allowed_uids=max(n_uids, 1),
                    max_allowed_validators=min(64, n_validators) or 1)
    params = params.with_(subnet_hyper=hyper)
    state = genesis(params)
    n_keys = n_subnets * n_uids
    cks = state.new_coldkeys(np.full(n_keys, 10.0))
    hks = state.new_hotkeys(cks)
    prices = 0.05 * np.exp(rng.normal(0.0, price_sigma, n_subnets))
    prices = np.minimum(prices, 1.0)
    root_split = rng.dirichlet(np.ones(n_subnets * max(n_validators, 1))) * root_tao
    for s in range(n_subnets):
        nu = s + 1
        keys = hks[s * n_uids:(s + 1) * n_uids]
        alpha_res = pool_tao / prices[s]
        state.add_subnet(nu, mechanism=MECH_DYNAMIC, tao_reserve=pool_tao, alpha_reserve=alpha_res,
                         moving_price=float(prices[s]), owner_coldkey=int(cks[s * n_uids]),
                         owner_hotkey=int(keys[0]), hyper=hyper, first_emission_block=1)
        state.alpha_minted[nu] = alpha_res
        state.total_issuance += pool_tao
        state.initial_issuance += pool_tao
        state.total_stake += pool_tao
        state.block = 0
        register_neurons_genesis(state, nu, keys)
        state.block = 1  # weights set after the miners registered, so the epoch keeps them
        if n_validators:
            va = rng.dirichlet(np.ones(n_validators)) * validator_alpha
            for v in range(n_validators):
                seed_stake(state, int(cks[s * n_uids + v]), int(keys[v]), nu, float(va[v]))
                seed_stake(state, int(cks[s * n_uids + v]), int(keys[v]), ROOT,
                           float(root_split[s * n_validators + v]))
            nr = state.neurons[nu]
            nr.validator_permit[:n_validators] = True
            if set_weights and n_uids > n_validators:
                W = rng.random((n_validators, n_uids))
                W[:, :n_validators] = 0.0
                if weights_density < 1.0:
                    W *= rng.random(W.shape) < weights_density
                set_weights_batch(state, nu, np.arange(n_validators), W, enforce_rate_limit=False)
    state.block = 1
    return state
