"""The ``year`` benchmark: a full-network simulated year with agents, and its memory.

The world is a scenario built by :mod:`dtao.scenario` (``synthetic`` initial state): ``subnets``
subnets of ``uids`` UIDs, ``validators`` root validators holding a UID and a permit on every subnet
and setting weights through ``set_weights_batch`` every ``weights_cadence`` blocks (the
``validators`` population), and ``agents`` staking agents (APY chasers, momentum traders and value
investors in equal parts) deciding every ``agent_cadence`` blocks.  Every block runs the coinbase,
every subnet's epoch runs on its tempo.  The loop is the simulation driver's (populations act at
their cadence in a seeded random order; blocks advance in compiled code between ticks) without
recording, so the figure is the cost of the simulation itself.

With ``days`` a slice of the year is run and the year's cost extrapolated linearly (the work per
block is the same all year: every epoch fires once per tempo and every population acts at its
cadence); the result says so in ``extrapolated_from_days``.
"""
from __future__ import annotations

import math
import resource
import time
from collections import defaultdict
from typing import Any

import numpy as np

from dtao.chain.units import BLOCKS_PER_DAY

DAYS_PER_YEAR = 365
BLOCKS_PER_YEAR = DAYS_PER_YEAR * BLOCKS_PER_DAY


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (``getrusage`` ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def year_scenario(subnets: int = 128, uids: int = 256, validators: int = 64, agents: int = 10_000,
                  agent_cadence: int = 300, weights_cadence: int = 100, days: float = 1.0, seed: int = 0):
    """The benchmark world as a :class:`dtao.scenario.schema.Scenario`."""
    from dtao.agents.stakers import ApyChasersConfig, MomentumConfig, ValueConfig
    from dtao.agents.validators import ValidatorsConfig
    from dtao.scenario.schema import Horizon, Scenario, SyntheticInitial

    if agents < 0 or subnets < 1 or uids < validators + 2 or validators < 1 or validators > 64:
        raise ValueError("need subnets >= 1, 1 <= validators <= 64, uids >= validators + 2, agents >= 0")
    split = [agents // 3 + (1 if i < agents % 3 else 0) for i in range(3)]
    pops: dict[str, Any] = {"validators": ValidatorsConfig(cadence_blocks=weights_cadence, include_owners=False)}
    for name, cfg, k in (("apy_chasers", ApyChasersConfig, split[0]), ("momentum", MomentumConfig, split[1]),
                         ("value", ValueConfig, split[2])):
        if k:
            pops[name] = cfg(count=k, cadence_blocks=agent_cadence)
    return Scenario(
        name="bench-year", seed=seed,
        initial=SyntheticInitial(kind="synthetic", n_subnets=subnets, n_uids=uids, max_uids=uids,
                                 root_validators=validators),
        horizon=Horizon(days=days), agents=pops)


def bench_year(days: float | None = None, subnets: int = 128, uids: int = 256, validators: int = 64,
               agents: int = 10_000, agent_cadence: int = 300, weights_cadence: int = 100,
               seed: int = 0, progress: bool = False, profile_chain: bool = False) -> dict[str, Any]:
    """Run the year benchmark (or a ``days`` slice, extrapolated) and return its figures.

    Keys: ``year_seconds`` (wall seconds for 365 days, measured or extrapolated), ``blocks_per_second``,
    ``peak_rss_mb``, ``extrapolated_from_days`` (null when the whole year ran), ``seconds`` (wall
    seconds of the blocks run), ``setup_seconds`` (building the world), ``warmup_seconds`` (first
    compiled call: cache load or compilation), ``epochs``, ``agent_orders`` and ``time_split`` (share
    of the run's wall time in the chain's block loop, in each population's decisions and orders, and
    in the market view), ``epochs_on_one_thread`` (two-block epochs run on one thread because the block
    loop timed that cheaper, :mod:`dtao.chain.threads`; null when that learning is off).  ``progress``:
    a progress bar on stderr, updated every 1% of the blocks.
    ``profile_chain``: also ``chain_phases``, the block loop's time per phase read from the cycle
    counter (:mod:`dtao.chain.profile`; x86-64 only)."""
    from contextlib import nullcontext

    from dtao.agents import MarketView
    from dtao.chain.coinbase import run_blocks
    from dtao.chain.profile import chain_profile, cycles_available
    from dtao.chain.threads import A_OFF, A_ONE_THREAD, ADAPT
    from dtao.scenario.build import build, stream
    from dtao.sim.driver import BlockProgress, long_run_gc

    n_days = DAYS_PER_YEAR if days is None else float(days)
    if not (n_days > 0 and math.isfinite(n_days)):
        raise ValueError(f"days must be a positive number, got {days!r}")
    if profile_chain and not cycles_available():  # (before the world is built; chain_profile checks again)
        raise ValueError("--profile-chain reads the x86-64 cycle counter, which this machine does not have")
    n_blocks = max(int(round(n_days * BLOCKS_PER_DAY)), 1)
    scen = year_scenario(subnets, uids, validators, agents, agent_cadence, weights_cadence, n_days, seed)
    t0 = time.perf_counter()
    w = build(scen, seed=seed, n_blocks=n_blocks)
    setup = time.perf_counter() - t0
    st, pops = w.state, w.populations
    start, end = w.start_block, w.start_block + n_blocks
    tick = int(np.gcd.reduce(np.asarray([p.config.cadence_blocks for p in pops], np.int64)))
    history = max([tick * 4, BLOCKS_PER_DAY * 2] + [
        int(max(getattr(p, "lookback", np.zeros(1)).max(initial=0), 0)) + 2 * tick for p in pops])
    market = MarketView(st, tick, history)
    rng = stream(seed, "sim")
    # first compiled calls (numba cache load, or compilation on a cold cache) on a tiny network of the
    # same array types, so the timed run has only the simulation in it
    from dtao.bench.chain import bench_network

    t0 = time.perf_counter()
    probe = bench_network(2, 8, 2)
    run_blocks(probe, 400)
    del probe
    warmup = time.perf_counter() - t0
    spent: dict[str, float] = defaultdict(float)
    next_act = {id(p): start for p in pops}
    epochs = 0
    bar = BlockProgress(progress, n_blocks, "year" if days is None else f"{n_days:g} days", stderr=True)
    step = max(n_blocks // 100, 1)
    shown = start
    profiler = chain_profile() if profile_chain else nullcontext(None)
    one_thread0 = int(ADAPT[A_ONE_THREAD])
    with long_run_gc(), profiler as phases:
        t_run = time.perf_counter()
        b = start
        while b < end:
            if b - shown >= step:
                bar.update(b - start)
                shown = b
            if (b - start) % tick == 0:
                t = time.perf_counter()
                market.update(st)
                spent["market view"] += time.perf_counter() - t
            due = [p for p in pops if b >= next_act[id(p)]]
            for k in rng.permutation(len(due)):
                p = due[int(k)]
                next_act[id(p)] = b + p.config.cadence_blocks
                if p.active_at(b, start):
                    t = time.perf_counter()
                    p.act(st, market, w.world)
                    spent[f"agents: {p.name}"] += time.perf_counter() - t
            nxt = min(b - (b - start) % tick + tick, end)
            t = time.perf_counter()
            epochs += run_blocks(st, nxt - b)
            spent["chain: blocks (coinbase + epochs)"] += time.perf_counter() - t
            b = st.block
        wall = time.perf_counter() - t_run
    bar.update(n_blocks)
    bar.close()
    spent["other (loop)"] = max(wall - sum(spent.values()), 0.0)
    scale = DAYS_PER_YEAR / n_days
    return {
        "benchmark": "year",
        "subnets": subnets, "uids": uids, "validators": validators, "agents": agents,
        "agent_cadence": agent_cadence, "weights_cadence": weights_cadence, "seed": seed,
        "days_run": n_days, "blocks": n_blocks,
        "extrapolated_from_days": None if days is None else n_days,
        "seconds": round(wall, 3),
        "year_seconds": round(wall * scale, 1),
        "blocks_per_second": round(n_blocks / wall, 1),
        "epochs": int(epochs),
        "agent_orders": int(sum(p.orders for p in pops)),
        "agent_rejections": int(sum(sum(p.rejected.values()) for p in pops)),
        "setup_seconds": round(setup, 2),
        "warmup_seconds": round(warmup, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "time_split": {k: round(v / wall, 4) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])},
        **({"chain_phases": phases.summary()} if phases is not None else {}),
        # two-block epochs the block loop ran on one thread, having timed it cheaper (dtao.chain.threads)
        "epochs_on_one_thread": None if ADAPT[A_OFF] else int(ADAPT[A_ONE_THREAD]) - one_thread0,
    }


def bench_memory(days: float = 2.0, **kw: Any) -> dict[str, Any]:
    """Peak RSS of the ``year`` run, measured in a fresh process (so nothing else counts), with the
    size of the largest state arrays for comparison."""
    import json
    import subprocess
    import sys

    args = [sys.executable, "-m", "dtao", "bench", "year", "--days", str(days)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"year benchmark failed: {p.stderr.strip()[-2000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    return {"benchmark": "memory", "days_run": res["days_run"], "subnets": res["subnets"], "uids": res["uids"],
            "agents": res["agents"], "peak_rss_mb": res["peak_rss_mb"], "year_seconds": res["year_seconds"],
            "extrapolated_from_days": res["extrapolated_from_days"]}
