"""Running the history scenario: one seed (:func:`run_history`) or several in parallel
(:func:`run_seeds`), each returning the probe's samples of the network figures.

A run is the built scenario (``dtao.scenario.build``), which carries the whole timeline (its
events and the ``registrants`` population), plus the observer :class:`~dtao.validate.events.HistoryProbe`,
driven by ``dtao.sim.driver.Simulation`` exactly as ``run_scenario`` drives any scenario: the
probe submits nothing and takes no part in the random order, so the run is the scenario's run.
Conservation invariants are checked at the end.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dtao.chain.invariants import InvariantViolation, check_invariants
from dtao.chain.threads import one_thread_env, restore_env
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.scenario import Scenario, load_scenario
from dtao.scenario.build import World0, build, stream
from dtao.sim.driver import Simulation
from dtao.sim.recorder import events_table, write_parquet
from dtao.sim.summary import summarize
from dtao.validate.events import PROBE_COLUMNS, HistoryProbe, HistoryProbeConfig
from dtao.validate.history import LAUNCH_BLOCK, History, load_history, offset_of_block

#: the validation scenario (built-in)
SCENARIO: str = "launch-2025-history"

#: mainnet dates of the launch-era upgrades (spec section 1 and timeline.csv); the scenario's
#: events sit at these dates (checked by tests/test_validate.py)
UPGRADES: dict[str, str] = {
    "v2.0.4": "2025-02-24",   # EMA input cap, double-count fix (mainnet deploy per timeline.csv)
    "v2.0.6": "2025-03-06",   # EMA slow start, h = 100,800 blocks since registration
    "v2.0.8": "2025-03-19",   # EMAPriceHalvingBlocks hyperparameter 201,600; owner incentive burn
    "v2.0.9": "2025-03-28",   # start_call / FirstEmissionBlockNumber migration
    "v2.0.10": "2025-04-04",  # slow start counted from FirstEmissionBlockNumber
}
#: the SN28 episode: the intervention (just after the 12:24 UTC peak) and the window sampled finely
SN28_NETUID: int = 28
INTERVENTION_TIME: str = "2025-02-25 12:30"
SN28_WINDOW: tuple[str, str] = ("2025-02-19", "2025-02-28")


class _Quiet:
    def update(self, done: int) -> None:  # the driver's progress interface
        pass


@dataclass
class SeedRun:
    """One seed of the history scenario: the probe's samples and what the run did."""

    seed: int
    days: float
    probe: pd.DataFrame
    wall_seconds: float
    registrations: int
    locks_aligned: int
    rejected: dict[str, int] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def sample_offsets(history: History, n_blocks: int, watch_every: int = 60) -> np.ndarray:
    """Blocks after the start at which the probe samples: every row of the daily table, every whole
    day since launch, and every ``watch_every`` blocks through the SN28 window (plus the 10-minute
    record's blocks); all within ``0..n_blocks``."""
    parts = [history.daily["block"].to_numpy() - LAUNCH_BLOCK,
             np.arange(0, n_blocks + 1, BLOCKS_PER_DAY),
             history.sn28["block"].to_numpy() - LAUNCH_BLOCK,
             history.sn28_daily["block"].to_numpy() - LAUNCH_BLOCK]
    lo = offset_of_block(history.block_of_date(SN28_WINDOW[0]))
    hi = offset_of_block(history.block_of_date(SN28_WINDOW[1]))
    parts.append(np.arange(lo, hi + 1, watch_every))
    off = np.unique(np.concatenate(parts).astype(np.int64))
    return off[(off >= 0) & (off <= n_blocks)]


def attach_probe(w: World0, history: History, n_blocks: int) -> HistoryProbe:
    """Add the HistoryProbe observer to a built run (before the Simulation is made); its random
    stream is tagged ``history.probe`` of the run seed (it draws nothing)."""
    from dtao.agents import SetupContext

    ctx = SetupContext(state=w.state, world=w.world, roles=w.roles, start_block=w.start_block,
                       horizon_days=n_blocks / BLOCKS_PER_DAY)
    n_launch = int(getattr(w.scenario.initial, "n_subnets", 64))
    probe = HistoryProbe("history_probe", HistoryProbeConfig(watch_netuid=SN28_NETUID, launch_netuids=n_launch),
                         stream(w.seed, "history.probe"), sample_offsets(history, n_blocks))
    probe.setup(ctx)
    w.populations.append(probe)
    return probe


def history_scenario(overrides: Mapping[str, Any] | None = None, source: str | Path = SCENARIO) -> Scenario:
    """The validation scenario with dotted-key overrides (``agents.miners.sell_fraction`` = 0.4)."""
    return load_scenario(source, dict(overrides or {}))


def run_history(seed: int, *, days: float | None = None, overrides: Mapping[str, Any] | None = None,
                history: History | None = None, source: str | Path = SCENARIO,
                out_dir: Path | None = None) -> SeedRun:
    """Run the history scenario for one seed (``days`` defaults to the scenario's horizon) and
    return the probe's samples.  With ``out_dir`` the driver's recorded tables are written there
    too (subnets/agents/network/events parquet, summary.json).  Raises InvariantViolation if TAO or
    alpha conservation broke."""
    t0 = time.perf_counter()
    history = history or load_history()
    sc = history_scenario(overrides, source)
    n_blocks = sc.horizon.n_blocks if days is None else max(int(round(days * BLOCKS_PER_DAY)), 1)
    w = build(sc, seed=int(seed), n_blocks=n_blocks)
    probe = attach_probe(w, history, n_blocks)
    sim = Simulation(w, sc.horizon.record_every)
    sim.run(_Quiet())
    probe.flush(sim.state)
    try:
        check_invariants(sim.state)
    except InvariantViolation as exc:
        raise InvariantViolation(f"history run seed {seed}: {exc}") from None
    wall = time.perf_counter() - t0
    df = pd.DataFrame(probe.rows, columns=list(PROBE_COLUMNS))
    # the run's event log (scheduled events and every population's notes), as dicts
    notes = [{"block": b, "kind": k, "netuid": n, **json.loads(d)} for (b, k, n, d) in sim.events_log]
    rejected: dict[str, int] = {}
    for p in w.populations:
        for k, v in p.rejected.items():
            rejected[f"{p.name}.{k}"] = int(v)
    summary: dict[str, Any] = {}
    if out_dir is not None:
        has_int = any(e.kind == "intervention" for e in sc.events)
        summary = summarize(rec=sim.rec, state=sim.state, world=w.world, populations=w.populations, seed=int(seed),
                            n_blocks=n_blocks, start_block=w.start_block, root_sp0=sim.root_sp0,
                            interventions=sim.interventions, has_intervention=has_int, conservation_ok=True,
                            conservation_error=None, wall_seconds=wall, events_fired=sim.events_fired)
        summary["scenario"] = sc.name
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_parquet(sim.rec.subnets_table(), out / "subnets.parquet")
        write_parquet(sim.rec.agents_table(), out / "agents.parquet")
        write_parquet(sim.rec.network_table(), out / "network.parquet")
        write_parquet(events_table(sim.events_log, sim.start), out / "events.parquet")
        df.to_parquet(out / "probe.parquet", index=False)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False, default=str))
    return SeedRun(seed=int(seed), days=n_blocks / BLOCKS_PER_DAY, probe=df, wall_seconds=wall,
                   registrations=sim.registrations, locks_aligned=sim.locks_aligned, rejected=rejected,
                   notes=notes, summary=summary)


def replicate_seeds(base_seed: int, n: int) -> list[int]:
    """``n`` simulator seeds spawned from one SeedSequence(``base_seed``) (as dtao.experiment does)."""
    from dtao.experiment.design import run_seed

    if n < 1:
        raise ValueError(f"need at least one seed, got {n}")
    return [run_seed(int(base_seed), (i,)) for i in range(n)]


def _one(args: tuple[int, float | None, dict[str, Any], str | None, str, str | None]) -> SeedRun:
    seed, days, overrides, folder, source, out = args
    hist = load_history(folder) if folder else None
    return run_history(seed, days=days, overrides=overrides, history=hist, source=source,
                       out_dir=Path(out) if out else None)


def run_seeds(seeds: list[int], *, days: float | None = None, overrides: Mapping[str, Any] | None = None,
              jobs: int | None = None, history_folder: str | Path | None = None, source: str | Path = SCENARIO,
              out_dir: Path | None = None) -> list[SeedRun]:
    """Run the history scenario for each seed, ``jobs`` at a time in worker processes (default: one
    per CPU, at most one per seed); results come back in the order of ``seeds`` and do not depend
    on ``jobs``.  With ``out_dir`` each seed's tables go to ``out_dir/seed-<seed>``."""
    jobs = min(len(seeds), jobs or os.cpu_count() or 1)
    args = [(int(s), days, dict(overrides or {}), str(history_folder) if history_folder else None, str(source),
             str(Path(out_dir) / f"seed-{s}") if out_dir is not None else None) for s in seeds]
    if jobs <= 1:
        return [_one(a) for a in args]
    # spawned, not forked: the compiled kernels' thread pool (OpenMP) may not survive a fork; each worker
    # uses one thread, so ``jobs`` processes keep to ``jobs`` busy threads
    saved = one_thread_env()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            return list(ex.map(_one, args))
    finally:
        restore_env(saved)
