"""Turn a Scenario into a runnable world: chain state, latent world, roles and agent populations.

Every random choice flows from the run's seed: ``stream(seed, tag)`` gives an independent
``numpy.random.Generator`` per purpose (``world``, ``initial``, each population by name, ``sim``), so
adding a population does not change the draws of the others.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from dtao.agents import KINDS, Population, Roles, SetupContext, World, discover_roles
from dtao.agents.newsubnets import Registrants
from dtao.agents.validators import Foundation
from dtao.chain.snapshot import SnapshotError, load
from dtao.chain.state import ChainState
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.scenario.loader import ScenarioError
from dtao.scenario.networks import launch_2025, pin_rank, synthetic_network
from dtao.scenario.schema import EventSpec, LaunchInitial, Scenario, SnapshotInitial, SyntheticInitial


def stream(seed: int, tag: str) -> np.random.Generator:
    """An independent generator for ``tag`` derived from the run seed (SeedSequence spawn key)."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(tag.encode("utf-8")),))
    return np.random.default_rng(ss)


@dataclass
class ScheduledEvent:
    """An event resolved to absolute blocks (``block`` None for a trigger not yet fired)."""

    index: int
    spec: EventSpec
    block: int | None
    deadline: int | None
    fired: bool = False


@dataclass
class World0:
    """Everything a run starts from."""

    scenario: Scenario
    seed: int
    state: ChainState
    world: World
    roles: Roles
    populations: list[Population]
    events: list[ScheduledEvent]
    start_block: int
    n_blocks: int
    reserve_coldkey: int | None = None
    notes: list[str] = field(default_factory=list)


def make_world(scenario: Scenario, seed: int, n_subnets: int) -> World:
    """Latent world: subnet quality log-normal (median 1) with the scenario's fixed values, revenue."""
    rng = stream(seed, "world")
    w = scenario.world
    cap = max(n_subnets + 1, max(list(w.subnet_quality) + list(w.revenue_tao_per_day) + [0]) + 1)
    q = np.exp(rng.normal(0.0, w.subnet_quality_sigma, cap))
    q[0] = 0.0
    rev = np.zeros(cap)
    for nu, v in w.subnet_quality.items():
        q[nu] = v
    for nu, v in w.revenue_tao_per_day.items():
        rev[nu] = v
    return World(rng=stream(seed, "world.miners"), subnet_quality=q, hotkey_quality=np.zeros(0),
                 subnet_revenue=rev, miner_quality_sigma=w.miner_quality_sigma)


def _in_firing_order(events: list[EventSpec]) -> list[EventSpec]:
    """Scheduled events in the order the driver fires them (by block, then by position in the file)."""
    def key(ev: EventSpec) -> int:
        return ev.at_block if ev.at_block is not None else int(round((ev.at_day or 0.0) * BLOCKS_PER_DAY))

    return sorted((ev for ev in events if ev.when is None), key=key)


def build(scenario: Scenario, *, seed: int | None = None, n_blocks: int | None = None) -> World0:
    """Build the initial state, world, roles, populations and event schedule of ``scenario``."""
    seed = scenario.seed if seed is None else int(seed)
    if seed < 0:
        raise ScenarioError(f"seed must be >= 0, got {seed}")
    n_blocks = scenario.horizon.n_blocks if n_blocks is None else int(n_blocks)
    if n_blocks < 1:
        raise ScenarioError(f"horizon must be at least one block, got {n_blocks}")
    params = scenario.chain_params()
    init = scenario.initial
    if isinstance(init, SnapshotInitial):
        try:
            state = load(init.path)
        except (OSError, SnapshotError) as exc:
            raise ScenarioError(f"initial.path: cannot load snapshot {init.path!r} ({exc})") from None
        if scenario.chain:
            state.params = state.params.with_(**dict(scenario.chain))
        world = make_world(scenario, seed, int(state.subnet_netuids.max()) if state.subnet_netuids.size else 1)
        roles = discover_roles(state)
        start_block, target = state.block, None
    else:
        world = make_world(scenario, seed, init.n_subnets)
        rng = stream(seed, "initial")
        if isinstance(init, LaunchInitial):
            net = launch_2025(init, params, world, rng)
            for nu, rank in init.launch_rank.items():
                pin_rank(net.state, world, int(nu), int(rank))
        elif isinstance(init, SyntheticInitial):
            net = synthetic_network(init, params, world, rng)
        else:  # pragma: no cover - the schema admits no other kind
            raise ScenarioError(f"initial.kind: unknown {init.kind!r}")
        state, roles, start_block, target = net.state, net.roles, net.start_block, net.target_issuance
    horizon_days = n_blocks / BLOCKS_PER_DAY
    ctx = SetupContext(state=state, world=world, roles=roles, start_block=start_block, horizon_days=horizon_days)
    pops: list[Population] = []
    for name, cfg in scenario.agents.items():
        cls = KINDS[cfg.kind]
        pop = cls(name, cfg, stream(seed, f"agents.{name}"))
        if isinstance(pop, Registrants):  # one founder per register_network event addressed to it
            pop.planned = [ev.params.get("lock_tao") for ev in _in_firing_order(scenario.events)
                           if ev.kind == "register_network" and ev.population == name]
        try:
            pop.setup(ctx)
        except (ValueError, KeyError) as exc:
            raise ScenarioError(f"agents.{name}: {exc}") from None
        pops.append(pop)
    for p in pops:
        if isinstance(p, Foundation):
            p.bind(pops)
    reserve = None
    if target is not None:
        gap = target - state.total_issuance
        if gap < -1e-6:
            raise ScenarioError(f"initial.total_issuance: {target} TAO is less than what the state and agents "
                                f"already hold ({state.total_issuance:.1f} TAO); lower agent budgets or raise it")
        reserve = int(state.new_coldkeys(np.array([max(gap, 0.0)]))[0])
    events = []
    for i, ev in enumerate(scenario.events):
        if ev.at_day is not None:
            blk: int | None = start_block + int(round(ev.at_day * BLOCKS_PER_DAY))
        elif ev.at_block is not None:
            blk = start_block + ev.at_block
        else:
            blk = None
        dl = None if ev.deadline_day is None else start_block + int(round(ev.deadline_day * BLOCKS_PER_DAY))
        if ev.netuid is not None and (ev.netuid >= state.n_subnets_cap or not state.exists[ev.netuid]):
            if ev.kind != "set_hyper" or blk is None:
                raise ScenarioError(f"events.{i}.netuid: subnet {ev.netuid} does not exist in the initial state")
        if ev.when is not None and (ev.when.netuid >= state.n_subnets_cap or not state.exists[ev.when.netuid]):
            raise ScenarioError(f"events.{i}.when.netuid: subnet {ev.when.netuid} does not exist in the initial state")
        events.append(ScheduledEvent(i, ev, blk, dl))
    return World0(scenario=scenario, seed=seed, state=state, world=world, roles=roles, populations=pops,
                  events=events, start_block=start_block, n_blocks=n_blocks, reserve_coldkey=reserve)
