"""Benchmarks of the runtime: the per-block coinbase (with epochs) and pool swap quotes."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from dtao.chain.coinbase import block_step, run_blocks
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
                   warmup: int = 400, step_blocks: int | None = None) -> dict[str, Any]:
    """Blocks per second at ``n_subnets`` subnets, every epoch included (no agents).

    ``blocks_per_second``: :func:`run_blocks` advancing ``blocks`` blocks in compiled code (how a
    simulation runs between agent actions); ``block_step_blocks_per_second``: one Python call per block
    (:func:`block_step`, which builds a report per block) over ``step_blocks`` blocks (default
    ``blocks // 10``).  Wall time; also the epochs run and the time per epoch."""
    state = bench_network(n_subnets, n_uids, n_validators)
    run_blocks(state, warmup)  # load/compile the kernels, fill the pending accumulators
    t0 = time.perf_counter()
    epochs = run_blocks(state, blocks)
    dt = time.perf_counter() - t0
    step_blocks = max(blocks // 10, 1) if step_blocks is None else step_blocks
    t0 = time.perf_counter()
    for _ in range(step_blocks):
        block_step(state)
    dt_step = time.perf_counter() - t0
    return {"benchmark": "coinbase", "blocks": blocks, "subnets": n_subnets, "uids": n_uids,
            "validators": n_validators, "epochs": epochs, "seconds": round(dt, 3),
            "blocks_per_second": round(blocks / dt, 1), "epochs_per_second": round(epochs / dt, 1),
            "year_seconds_chain_only": round(dt / blocks * 365 * 7200, 1),
            "block_step_blocks_per_second": round(step_blocks / dt_step, 1)}


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
