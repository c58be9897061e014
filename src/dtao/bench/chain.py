"""Benchmarks of the runtime: the per-block coinbase (with epochs) and pool swap quotes."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from dtao.chain.coinbase import block_step
from dtao.chain.params import ChainParams
from dtao.chain.staking import add_stake, remove_stake
from dtao.chain.swap import quote_tao_for_alpha, sim_swap_tao_for_alpha


def bench_network(n_subnets: int = 128, n_uids: int = 256, n_validators: int = 64, seed: int = 0):
    """The full-size network the benchmarks run on: ``n_subnets`` started subnets of ``n_uids`` UIDs,
    ``n_validators`` validators each with random weights.  Activity cutoff is raised so that the
    weights set once stay active for the whole benchmark (no agents re-set them)."""
    from dtao.scenario.initial import synthetic

    base = ChainParams()
    params = base.with_(subnet_hyper=replace(base.subnet_hyper, activity_cutoff=10**9))
    return synthetic(np.random.default_rng(seed), n_subnets=n_subnets, n_uids=n_uids, n_validators=n_validators,
                     params=params, root_tao=6_000_000.0)


def bench_coinbase(blocks: int = 20_000, n_subnets: int = 128, n_uids: int = 256, n_validators: int = 64,
                   warmup: int = 400) -> dict[str, Any]:
    """Blocks per second of ``block_step`` at ``n_subnets`` subnets, every epoch included (no agents)."""
    state = bench_network(n_subnets, n_uids, n_validators)
    for _ in range(warmup):  # compile kernels, fill pending accumulators
        block_step(state)
    epochs = 0
    t0 = time.perf_counter()
    for _ in range(blocks):
        epochs += len(block_step(state).drains)
    dt = time.perf_counter() - t0
    return {"benchmark": "coinbase", "blocks": blocks, "subnets": n_subnets, "uids": n_uids,
            "validators": n_validators, "epochs": epochs, "seconds": round(dt, 3),
            "blocks_per_second": round(blocks / dt, 1), "epochs_per_second": round(epochs / dt, 1)}


def bench_swap(n_batch: int = 1_000_000, n_scalar: int = 20_000) -> dict[str, Any]:
    """Swap quotes per second: vectorised (one call over ``n_batch`` pools/amounts) and scalar
    (``sim_swap_tao_for_alpha`` on a ChainState), plus full add+remove stake extrinsic round trips."""
    rng = np.random.default_rng(0)
    T = rng.uniform(10, 1e5, n_batch)
    A = T / rng.uniform(0.001, 1.0, n_batch)
    x = rng.uniform(0.01, 100, n_batch)
    quote_tao_for_alpha(T[:10], A[:10], x[:10])
    t0 = time.perf_counter()
    out, ok = quote_tao_for_alpha(T, A, x)
    dt_batch = time.perf_counter() - t0
    state = bench_network(4, 8, 2)
    t0 = time.perf_counter()
    for i in range(n_scalar):
        sim_swap_tao_for_alpha(state, 1 + (i & 3), 1.0)
    dt_scalar = time.perf_counter() - t0
    ck = state.new_coldkey(1e9)
    hk = int(state.neurons[1].hotkey[0])
    n_ext = n_scalar // 4
    t0 = time.perf_counter()
    for i in range(n_ext):
        a = add_stake(state, ck, hk, 1 + (i & 3), 1.0)
        remove_stake(state, ck, hk, 1 + (i & 3), a * 0.5)
    dt_ext = time.perf_counter() - t0
    return {"benchmark": "swap", "batch_quotes": n_batch, "batch_quotes_per_second": round(n_batch / dt_batch),
            "scalar_quotes": n_scalar, "scalar_quotes_per_second": round(n_scalar / dt_scalar),
            "batch_over_scalar": round((n_batch / dt_batch) / (n_scalar / dt_scalar), 1),
            "stake_round_trips_per_second": round(n_ext / dt_ext)}
