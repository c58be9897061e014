"""The simulation driver: advances blocks through the chain's ``run_blocks`` (``block_step`` for each
block, compiled: coinbase every block, each subnet's epoch on its tempo), lets populations act at their cadence, applies scheduled and
triggered events, records every ``record_every`` blocks and writes the run folder.

Order at a block where something is due: scheduled events, then triggers, then the populations
due at this block (in a random order drawn from the run's seed), then the recording; then blocks
run until the next block where something is due.  Agents' orders are extrinsics "in" the current
block, applied before its coinbase.
"""
from __future__ import annotations

import gc
import json
import math
import os
import platform
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

import dtao
from dtao.agents import Event, MarketView, Population
from dtao.agents.newsubnets import Registrants
from dtao.agents.supply import Buyback, Founders, HoldToEarn
from dtao.agents.stakers import PanicSellers
from dtao.agents.validators import Foundation
from dtao.chain.coinbase import run_blocks
from dtao.chain.registration import network_lock_cost
from dtao.chain.invariants import InvariantViolation, check_invariants
from dtao.chain.migration import migrate_set_first_emission_block_number
from dtao.chain.state import ChainState
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.scenario.build import ScheduledEvent, World0, build, stream
from dtao.scenario.loader import ScenarioError
from dtao.scenario.schema import RegisterNetworkParams, Scenario
from dtao.sim.recorder import Recorder, events_table, write_parquet
from dtao.sim.summary import root_share_price, summarize

RUN_FILES = ("metadata.json", "summary.json", "subnets.parquet", "agents.parquet", "events.parquet",
             "network.parquet")


_GC_LOCK = threading.Lock()
_GC_DEPTH: list = [0, False]  # runs inside long_run_gc now; whether the first of them froze the heap


@contextmanager
def long_run_gc() -> Iterator[None]:
    """Keep Python's cyclic garbage collector's full collections out of a long simulation's way.

    A world holds some 10^5 Python objects (positions, books, populations) that live for the whole run,
    and each full collection walked all of them: 48 ms for 144,287 objects, measured in the year
    benchmark's world, every few simulated days (the walk also evicts the chain's arrays from the
    caches).  Here the garbage already there is collected once and the objects that exist are moved out
    of the collector's generations (``gc.freeze``): they are still freed by reference counting, and are
    in the collector's care again after the run.  Nested and concurrent runs share one freeze, which the
    last to finish undoes; a program that froze objects itself keeps its own arrangement."""
    with _GC_LOCK:
        if _GC_DEPTH[0] == 0:
            _GC_DEPTH[1] = gc.get_freeze_count() == 0
            if _GC_DEPTH[1]:
                gc.collect()
                gc.freeze()
        _GC_DEPTH[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_DEPTH[0] -= 1
            if _GC_DEPTH[0] == 0 and _GC_DEPTH[1]:
                gc.unfreeze()


@dataclass
class RunResult:
    """One finished run: where it was written (None if not), its summary and metadata, final state."""

    out_dir: Path | None
    summary: dict[str, Any]
    metadata: dict[str, Any]
    state: ChainState


def _horizon(scenario: Scenario, days: float | None, blocks: int | None) -> int:
    if days is not None and blocks is not None:
        raise ScenarioError("give days or blocks, not both")
    if blocks is not None:
        if isinstance(blocks, bool) or int(blocks) != blocks or blocks < 1:
            raise ScenarioError(f"blocks must be a positive integer, got {blocks!r}")
        return int(blocks)
    if days is not None:
        if not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
            raise ScenarioError(f"days must be a positive number, got {days!r}")
        return max(int(round(days * BLOCKS_PER_DAY)), 1)
    return scenario.horizon.n_blocks


def align_lock_cost(state: ChainState, lock: float) -> float:
    """Set ``NetworkLastLockCost`` (and, where the last lock is too old or missing, also
    ``NetworkLastLockBlock``, kept outside the network rate limit) so that the chain's lock rule
    ``lock = last * (2 - dt / interval)`` charges ``lock`` TAO now; returns the chain's lock then.
    Used to replay a recorded lock the rule alone does not reproduce (e.g. the first one after
    ``migrate_rao``, which left no previous lock)."""
    p = state.params
    interval = p.network_lock_reduction_interval
    dt = state.block - state.network_last_lock_block
    if state.network_last_lock_block == 0 or not (0 < 2.0 - dt / interval):
        dt = max(p.network_rate_limit, min(dt, interval // 2))
        state.network_last_lock_block = state.block - dt
    k = 2.0 - dt / interval
    state.network_last_lock_cost = lock / k
    for _ in range(3):  # the chain floors the per-block decay to whole rao: correct for it
        state.network_last_lock_cost += (lock - network_lock_cost(state)) / k
    return network_lock_cost(state)


class BlockProgress:
    """A rich progress bar over ``total`` blocks (nothing when not ``enabled``); on stderr if asked, so
    that a command printing JSON keeps its standard output clean."""

    def __init__(self, enabled: bool, total: int, label: str, stderr: bool = False) -> None:
        self.p = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn

            self.p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("blocks"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                              transient=False, console=Console(stderr=True) if stderr else None)
            self.p.start()
            self.task = self.p.add_task(label, total=total)

    def update(self, done: int) -> None:
        if self.p is not None:
            self.p.update(self.task, completed=done)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()


class Simulation:
    """One run in progress (state, world, populations, recorder)."""

    def __init__(self, w: World0, record_every: int) -> None:
        self.w = w
        self.state = w.state
        self.start = w.start_block
        self.end = w.start_block + w.n_blocks
        self.record_every = int(record_every)
        # market-neutral populations (root weights) act on the market's ticks but neither set the
        # tick nor take part in the random order, so adding one changes no other draw
        self.market_pops = [p for p in w.populations if not p.market_neutral]
        self.neutral_pops = [p for p in w.populations if p.market_neutral]
        cadences = [p.config.cadence_blocks for p in self.market_pops] + [self.record_every]
        self.tick = int(np.gcd.reduce(np.asarray(cadences, np.int64)))
        history = max([self.tick * 4, BLOCKS_PER_DAY * 2] + [
            int(getattr(p.config, "window_hours", 0) * 300) + 2 * self.tick for p in w.populations] + [
            int(max(getattr(p, "lookback", np.zeros(1)).max(initial=0), 0)) + 2 * self.tick for p in w.populations])
        self.market = MarketView(self.state, self.tick, history)
        self.rng = stream(w.seed, "sim")
        n_rows = w.n_blocks // self.record_every + 2
        headroom = sum(p.config.count for p in w.populations if isinstance(p, Founders)) + \
            sum(len(p.planned) for p in w.populations if isinstance(p, Registrants))
        self.rec = Recorder(self.state, w.populations, n_rows, self.start, headroom=headroom)
        self.events_log: list[tuple[int, str, int | None, str]] = []
        self.interventions: list[tuple[int, int]] = []
        self.h2e_share_at_intervention: dict[str, float] = {}
        self.events_fired = 0
        self.registrations = 0
        self.locks_aligned = 0
        self.price0 = np.asarray(self.state.spot_price(), np.float64).copy()
        self.next_act = {id(p): self.start + p.first_offset(self.state) for p in w.populations}

    # ---------------------------------------------------------------------------------- events
    def _log(self, block: int, kind: str, netuid: int | None, detail: dict[str, Any]) -> None:
        self.events_log.append((int(block), kind, None if netuid is None else int(netuid),
                                json.dumps(detail, sort_keys=True, default=str)))

    def _fire(self, ev: ScheduledEvent, reason: str) -> None:
        st, spec = self.state, ev.spec
        ev.fired = True
        self.events_fired += 1
        nu = spec.netuid if spec.netuid is not None else (spec.when.netuid if spec.when is not None else None)
        detail: dict[str, Any] = {"event": ev.index, "reason": reason, **{k: v for k, v in spec.params.items()}}
        if spec.kind == "intervention":
            pop = next(p for p in self.w.populations if p.name == spec.population)
            target = getattr(pop, "main_netuid", nu)
            for h in self.w.populations:
                if isinstance(h, HoldToEarn) and h.name not in self.h2e_share_at_intervention:
                    self.h2e_share_at_intervention[h.name] = h.incentive_share(st)
            applied = pop.on_event(st, Event(st.block, "intervention", target, dict(spec.params)), self.w.world)
            if applied:
                self.interventions.append((st.block, int(target)))
                return  # the population logs its own event (with its stake share)
            self._log(st.block, "intervention_ignored", target, detail)
            return
        if spec.kind == "register_network":
            self._register(ev, detail)
            return
        if spec.kind == "set_params":
            st.params = st.params.with_(**dict(spec.params))
        elif spec.kind == "set_hyper" and spec.netuid_range is not None:
            lo, hi = spec.netuid_range
            ids = st.subnet_netuids
            ids = ids[(ids >= lo) & (ids <= hi)]
            for k in ids:
                st.set_hyper(int(k), replace(st.hyper[int(k)], **dict(spec.params)))
            detail["netuid_range"] = [lo, hi]
            detail["subnets"] = int(ids.size)
        elif spec.kind == "set_hyper":
            st.set_hyper(int(nu), replace(st.hyper[int(nu)], **dict(spec.params)))
        elif spec.kind == "first_emission_migration":
            detail["subnets"] = int(migrate_set_first_emission_block_number(st).size)
        elif spec.kind == "quality":
            q = self.w.world.subnet_q(st.n_subnets_cap)
            q[int(nu)] = float(spec.params["value"]) if "value" in spec.params else q[int(nu)] * float(spec.params["factor"])
            detail["quality"] = float(q[int(nu)])
        elif spec.kind == "revenue":
            self.w.world.revenue(st.n_subnets_cap)[int(nu)] = float(spec.params["tao_per_day"])
        self._log(st.block, spec.kind, nu, detail)

    def _register(self, ev: ScheduledEvent, detail: dict[str, Any]) -> None:
        """A ``register_network`` event: align the lock to the recorded one where the chain's rule
        is off by more than the tolerance, then the population's next founder registers (before the
        start gate the chain has the subnet emit from its registration)."""
        st, spec = self.state, ev.spec
        p = RegisterNetworkParams.model_validate(dict(spec.params))
        pop = next(x for x in self.w.populations if x.name == spec.population)
        chain_lock = network_lock_cost(st)
        if p.lock_tao is not None and abs(chain_lock / p.lock_tao - 1.0) > p.lock_tolerance:
            new = align_lock_cost(st, p.lock_tao)
            self.locks_aligned += 1
            self._log(st.block, "lock_aligned", p.netuid, {**detail, "chain_lock": round(chain_lock, 6),
                                                          "lock": round(new, 6)})
        lock = network_lock_cost(st)
        before = int(st.subnet_netuids.size)
        ok = pop.on_event(st, Event(st.block, "register_network", p.netuid, dict(spec.params)), self.w.world)
        if not ok or st.subnet_netuids.size == before:
            self._log(st.block, "register_network_rejected", p.netuid,
                      {**detail, "population": pop.name, "errors": dict(pop.rejected)})
            return
        nu = int(pop.netuid[pop.next - 1])  # type: ignore[attr-defined]
        self.registrations += 1
        self._log(st.block, "register_network", nu, {**detail, "population": pop.name,
                                                     "recorded_netuid": p.netuid, "recorded_lock": p.lock_tao,
                                                     "lock_tao": round(lock, 6)})

    def _check_events(self) -> None:
        b = self.state.block
        for ev in self.w.events:
            if ev.fired:
                continue
            if ev.block is not None:
                if b >= ev.block:
                    self._fire(ev, "scheduled")
                continue
            tr = ev.spec.when
            if b < self.start + tr.after_day * BLOCKS_PER_DAY:
                if ev.deadline is not None and b >= ev.deadline:
                    self._fire(ev, "deadline")
                continue
            price = self.market.price
            ok = True
            if tr.price_ratio_above is not None:
                p0 = self.price0[tr.netuid] if tr.netuid < self.price0.size else 0.0
                ok &= p0 > 0 and price[tr.netuid] / p0 >= tr.price_ratio_above
            if tr.rank_at_most is not None:
                ids = self.market.subnets
                rank = 1 + int((price[ids] > price[tr.netuid]).sum())
                ok &= rank <= tr.rank_at_most
            if ok:
                self._fire(ev, "trigger")
            elif ev.deadline is not None and b >= ev.deadline:
                self._fire(ev, "deadline")

    def _next_event_block(self) -> int:
        blocks = [ev.block for ev in self.w.events if not ev.fired and ev.block is not None]
        blocks += [ev.deadline for ev in self.w.events if not ev.fired and ev.deadline is not None]
        return min([b for b in blocks if b > self.state.block], default=self.end)

    # ------------------------------------------------------------------------------------ loop
    def run(self, progress: BlockProgress) -> None:
        """Run the blocks to the horizon: the agents act on their ticks, events fire, the recorder
        samples; Python's collector is kept out of the way meanwhile (:func:`long_run_gc`)."""
        with long_run_gc():
            self._run(progress)

    def _run(self, progress: BlockProgress) -> None:
        st = self.state
        pops = self.w.populations
        for p in pops:  # starting values for PnL
            price = np.asarray(st.spot_price(), np.float64)
            price[0] = 1.0
            v = p.valuation(st, price)
            p.initial_value, p.initial_liquid = v.value_tao, v.liquid_value_tao
        self.root_sp0 = root_share_price(st)
        while True:
            b = st.block
            on_tick = (b - self.start) % self.tick == 0
            if on_tick:
                self.market.update(st)
            self._check_events()
            if on_tick and b < self.end:
                due = [p for p in self.market_pops if b >= self.next_act[id(p)]]
                for k in self.rng.permutation(len(due)):
                    p = due[int(k)]
                    self.next_act[id(p)] = b + p.config.cadence_blocks
                    if p.active_at(b, self.start):
                        p.act(st, self.market, self.w.world)
                for p in self.neutral_pops:
                    if b >= self.next_act[id(p)]:
                        self.next_act[id(p)] = b + p.config.cadence_blocks
                        if p.active_at(b, self.start):
                            p.act(st, self.market, self.w.world)
            if (b - self.start) % self.record_every == 0 or b >= self.end:
                self.rec.record(st, self.w.world)
            if b >= self.end:
                break
            nxt = min(b - (b - self.start) % self.tick + self.tick, self._next_event_block(), self.end)
            run_blocks(st, nxt - b)
            progress.update(st.block - self.start)
        for p in pops:
            for blk, kind, nu, detail in p.notes:
                self._log(blk, kind, nu, {"population": p.name, **detail})
        self.events_log.sort(key=lambda e: e[0])


def _metadata(scenario: Scenario, seed: int, n_blocks: int, start_block: int, wall: float,
              record_every: int, files: list[str]) -> dict[str, Any]:
    return {
        "schema": "dtao-run/1",
        "dtao_version": dtao.__version__,
        "scenario": scenario.model_dump(mode="json"),
        "scenario_name": scenario.name,
        "seed": int(seed),
        "blocks": int(n_blocks),
        "days": n_blocks / BLOCKS_PER_DAY,
        "start_block": int(start_block),
        "record_every": int(record_every),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "files": files,
        "units": "TAO and alpha amounts in TAO units (1 TAO = 1e9 rao); prices TAO per alpha; 7200 blocks per day",
    }


def run_scenario(scenario: Scenario, *, seed: int | None = None, days: float | None = None,
                 blocks: int | None = None, out_dir: Path | None = None, progress: bool = False,
                 record_plots: bool = True) -> RunResult:
    """Run ``scenario`` (seed, horizon overridable) and, with ``out_dir``, write the run folder:
    metadata.json, summary.json, subnets/agents/events/network.parquet and PNG plots.

    Conservation invariants are checked at the end; a breach is written to the summary
    (``conservation_ok`` false) and then raised as ``InvariantViolation``."""
    t0 = time.perf_counter()
    if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
    n_blocks = _horizon(scenario, days, blocks)
    seed = scenario.seed if seed is None else int(seed)
    w = build(scenario, seed=seed, n_blocks=n_blocks)
    sim = Simulation(w, scenario.horizon.record_every)
    prog = BlockProgress(progress, n_blocks, scenario.name)
    try:
        sim.run(prog)
    finally:
        prog.close()
    conservation_ok, err = True, None
    try:
        check_invariants(sim.state)
    except InvariantViolation as exc:
        conservation_ok, err = False, str(exc)
    wall = time.perf_counter() - t0
    has_int = any(e.kind == "intervention" for e in scenario.events)
    summary = summarize(rec=sim.rec, state=sim.state, world=w.world, populations=w.populations, seed=seed,
                        n_blocks=n_blocks, start_block=w.start_block, root_sp0=sim.root_sp0,
                        interventions=sim.interventions, has_intervention=has_int, conservation_ok=conservation_ok,
                        conservation_error=err, wall_seconds=wall, events_fired=sim.events_fired,
                        h2e_share_at_intervention=sim.h2e_share_at_intervention)
    summary["scenario"] = scenario.name
    files = list(RUN_FILES)
    meta = _metadata(scenario, seed, n_blocks, w.start_block, wall, scenario.horizon.record_every, files)
    written = None
    if out_dir is not None:
        written = _write(Path(out_dir), sim, summary, meta, record_plots, w.populations)
        meta = json.loads((written / "metadata.json").read_text())
    if not conservation_ok:
        raise InvariantViolation(f"run {scenario.name!r} seed {seed}: {err}")
    return RunResult(out_dir=written, summary=summary, metadata=meta, state=sim.state)


def _highlights(pops: list[Population]) -> dict[int, str]:
    hl: dict[int, str] = {}
    for p in pops:
        if isinstance(p, HoldToEarn):
            hl[p.main_netuid] = "hold-to-earn"
        elif isinstance(p, Buyback):
            hl.setdefault(p.main_netuid, "buyback")
        elif isinstance(p, Foundation):
            hl.setdefault(p.main_netuid, "intervention target")
        elif isinstance(p, PanicSellers) and p.main_netuid is not None:
            hl.setdefault(p.main_netuid, "panic holders")
    return hl


def _write(out: Path, sim: Simulation, summary: dict[str, Any], meta: dict[str, Any], plots: bool,
           pops: list[Population]) -> Path:
    """Write the run folder atomically: into a sibling temp folder, then renamed over ``out``."""
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        write_parquet(sim.rec.subnets_table(), tmp / "subnets.parquet")
        write_parquet(sim.rec.agents_table(), tmp / "agents.parquet")
        write_parquet(sim.rec.network_table(), tmp / "network.parquet")
        write_parquet(events_table(sim.events_log, sim.start), tmp / "events.parquet")
        if plots:
            meta["files"] = meta["files"] + plot_files(sim, tmp, summary, pops)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False, allow_nan=False))
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, allow_nan=False))
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def plot_files(sim: Simulation, folder: Path, summary: dict[str, Any], pops: list[Population]) -> list[str]:
    from dtao.sim.plots import plot_all

    title = f"{summary['scenario']} (seed {summary['seed']})"
    return plot_all(sim.rec, folder, title, _highlights(pops), sim.interventions)
