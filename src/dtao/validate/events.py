"""What the real timeline did that a scenario file cannot say yet, as two populations that plug
into a built run (``dtao.scenario.build`` + ``dtao.sim.driver.Simulation``):

* :class:`HistoryEvents` replays the record: SN65-SN128 registered at their real blocks, each
  founder paying the recorded lock; the per-subnet side of the EMA slow-start releases (v2.0.6,
  v2.0.8, v2.0.10) and of the ``FirstEmissionBlockNumber`` migration (v2.0.9); ``start_call`` for
  subnets registered after v2.0.9, after the wait the record implies; founders selling part of
  their owner cut each day.  Global switches (EMA cap, slow start, start_call, EMA alpha, ...) are
  ``set_params`` events of the scenario file itself.
* :class:`HistoryProbe` observes (it submits nothing): at given blocks it samples the network
  figures the stylised facts are about (sum, top-10 share and effective N of prices below 1 TAO,
  subnet count, root proportion of the launch subnets, one watched subnet's price, rank and
  emission share).

Both follow the ``Population`` contract (``setup``/``act`` at a cadence), so the driver runs them
like any other population; they are attached by :func:`attach_history`, not declared in TOML.
All amounts are TAO (alpha for alpha amounts); blocks are simulated blocks.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dtao.agents.base import MarketView, Population, PopulationConfig, SetupContext, World, dust_floor, owner_alpha
from dtao.chain.coinbase import root_proportion
from dtao.chain.registration import network_lock_cost, register_network, start_call
from dtao.chain.state import ChainState
from dtao.chain.staking import remove_stake, transfer
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.validate.history import price_concentration

#: EMAPriceHalvingBlocks of the v2.0.6 slow start (constant 100,800) and of v2.0.8+ (201,600)
HALVING_V2_0_6: int = 100_800
HALVING_V2_0_8: int = 201_600


class Registration(BaseModel):
    """One recorded subnet registration: at ``at_block`` (blocks after the start) the founder pays
    ``lock_tao`` (TAO) and gets ``netuid``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_block: int = Field(..., ge=0)
    netuid: int = Field(..., ge=1)
    lock_tao: float = Field(..., gt=0.0)


class HistoryEventsConfig(PopulationConfig):
    """The replayed record (blocks are blocks after the start of the run)."""

    kind: Literal["history_events"] = "history_events"
    count: int = Field(0, ge=0, description="not used: one founder per registration")
    cadence_blocks: int = Field(60, ge=1, description="blocks between rounds (registrations land on this grid)")
    registrations: list[Registration] = Field(default_factory=list)
    lock_tolerance: float = Field(0.005, ge=0.0, description="relative gap between the chain's lock and the recorded one above which NetworkLastLockCost is aligned")
    slow_start_block: int | None = Field(None, ge=0, description="v2.0.6: slow start by blocks since registration, h = 100,800")
    halving_hyper_block: int | None = Field(None, ge=0, description="v2.0.8: EMAPriceHalvingBlocks = 201,600 for new subnets")
    first_emission_block: int | None = Field(None, ge=0, description="v2.0.9: FirstEmissionBlockNumber set for every subnet; later registrations must start_call")
    start_call_slow_start_block: int | None = Field(None, ge=0, description="v2.0.10: slow start counts from FirstEmissionBlockNumber")
    launch_netuids: int = Field(64, ge=0, description="subnets 1..launch_netuids existed before dTAO (registered long before)")
    start_wait_min_days: float = Field(7.0, ge=0.0, description="DurationOfStartCall, days")
    start_wait_mean_days: float = Field(7.0, ge=0.0, description="mean days from registration to start_call (from the record)")
    owner_sell_fraction: float = Field(0.5, ge=0.0, le=1.0, description="share of the owner's alpha sold per day once started")


class HistoryEvents(Population):
    """Founders of SN65-SN128 and the per-subnet side of the launch-era runtime upgrades."""

    kind = "history_events"
    Config = HistoryEventsConfig
    config: HistoryEventsConfig

    def __init__(self, name: str, config: HistoryEventsConfig, rng: np.random.Generator,
                 reserve_coldkey: int | None = None) -> None:
        super().__init__(name, config, rng)
        self.reserve_coldkey = reserve_coldkey

    def first_offset(self, state: ChainState) -> int:
        return 0  # on the grid start + k*cadence, so recorded 7,200-block gaps stay 7,200 blocks

    def setup(self, ctx: SetupContext) -> None:
        c, st = self.config, ctx.state
        regs = sorted(c.registrations, key=lambda r: r.at_block)
        self.regs = regs
        self.start = ctx.start_block
        locks = np.array([r.lock_tao + 1.0 for r in regs])  # the lock and 1 TAO of fees/margin
        if self.reserve_coldkey is not None:
            # genesis transfer from the idle reserve: the initial issuance stays the scenario's
            self.coldkeys = st.new_coldkeys(np.zeros(len(regs)))
            for ck, amt in zip(self.coldkeys, locks):
                transfer(st, int(self.reserve_coldkey), int(ck), float(amt))
        else:
            self.new_coldkeys(st, locks)
        self.hotkey = np.full(len(regs), -1, np.int64)
        self.netuid = np.full(len(regs), -1, np.int64)
        self.start_at = np.full(len(regs), -1, np.int64)  # block its owner calls start_call (-1: none)
        self.started = np.zeros(len(regs), bool)
        self.next_reg = 0
        self.done: set[str] = set()
        self.aligned = 0
        self._last_sale = ctx.start_block
        self.main_netuid = None

    # ----------------------------------------------------------------------------- milestones
    def _at(self, key: str, offset: int | None, state: ChainState) -> bool:
        if offset is None or key in self.done or state.block < self.start + offset:
            return False
        self.done.add(key)
        return True

    def _set_halving(self, state: ChainState, netuids: np.ndarray, h: int) -> None:
        for nu in netuids:
            hy = state.hyper[int(nu)]
            if hy is not None and hy.ema_price_halving_blocks != h:
                state.set_hyper(int(nu), replace(hy, ema_price_halving_blocks=int(h)))

    def _milestones(self, state: ChainState) -> None:
        c = self.config
        ids = state.subnet_netuids
        launch = ids[ids <= c.launch_netuids]
        later = ids[ids > c.launch_netuids]
        if self._at("v2.0.6", c.slow_start_block, state):
            # b = blocks since registration: launch subnets were registered long before dTAO, so
            # their factor b/(b+h) is 1 (h = 0 here); later ones count from their registration
            self._set_halving(state, launch, 0)
            self._set_halving(state, later, HALVING_V2_0_6)
            self.note(state.block, "history_slow_start", None, halving_blocks=HALVING_V2_0_6)
        if self._at("v2.0.8", c.halving_hyper_block, state):
            self._set_halving(state, later, HALVING_V2_0_8)
            self.note(state.block, "history_halving_hyper", None, halving_blocks=HALVING_V2_0_8)
        if self._at("v2.0.9", c.first_emission_block, state):
            # migrate_set_first_emission_block_number: every subnet's FirstEmissionBlockNumber = now
            state.first_emission_block[ids] = state.block
            self.started[self.netuid >= 0] = True
            self.note(state.block, "history_first_emission_migration", None, subnets=int(ids.size))
        if self._at("v2.0.10", c.start_call_slow_start_block, state):
            self._set_halving(state, launch, HALVING_V2_0_8)
            self.note(state.block, "history_slow_start_from_start_call", None, halving_blocks=HALVING_V2_0_8)

    # ---------------------------------------------------------------------------- registrations
    def _align_lock(self, state: ChainState, lock: float) -> float:
        """Set NetworkLastLockCost (and, if needed, NetworkLastLockBlock within the rate limit) so
        that the chain's lock-cost rule charges the recorded ``lock``; returns the chain's lock then."""
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

    def _register(self, state: ChainState, i: int) -> None:
        r = self.regs[i]
        ck = int(self.coldkeys[i])
        chain_lock = network_lock_cost(state)
        if abs(chain_lock / r.lock_tao - 1.0) > self.config.lock_tolerance:
            new = self._align_lock(state, r.lock_tao)
            self.aligned += 1
            self.note(state.block, "history_lock_aligned", r.netuid, chain_lock=round(chain_lock, 6),
                      recorded_lock=r.lock_tao, lock=round(new, 6))
        hk = state.new_hotkey(ck)
        before = float(state.balance[ck])
        nu = self.submit(state, register_network, ck, hk)
        if nu is None:
            self.note(state.block, "history_registration_rejected", r.netuid,
                      errors=dict(self.rejected))
            return
        self.hotkey[i], self.netuid[i] = hk, nu
        self.book.add(ck, hk, nu)
        c = self.config
        era = c.first_emission_block
        if era is None or state.block < self.start + era:
            # before v2.0.9 a new subnet emitted from its registration (no start gate)
            state.first_emission_block[nu] = state.block + 1
            self.started[i] = True
            if c.slow_start_block is not None and state.block >= self.start + c.slow_start_block:
                h = HALVING_V2_0_8 if (c.halving_hyper_block is not None
                                       and state.block >= self.start + c.halving_hyper_block) else HALVING_V2_0_6
                self._set_halving(state, np.array([nu]), h)
        else:
            extra = max(c.start_wait_mean_days - c.start_wait_min_days, 0.0)
            wait = c.start_wait_min_days + (float(self.rng.exponential(extra)) if extra > 0 else 0.0)
            wait_blocks = max(int(round(wait * BLOCKS_PER_DAY)), state.params.duration_of_start_call)
            self.start_at[i] = state.block + wait_blocks
        self.note(state.block, "history_register_network", int(nu), recorded_netuid=r.netuid,
                  lock_tao=round(before - float(state.balance[ck]), 6), recorded_lock=r.lock_tao, coldkey=ck)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        self._milestones(state)
        while self.next_reg < len(self.regs) and state.block >= self.start + self.regs[self.next_reg].at_block:
            self._register(state, self.next_reg)
            self.next_reg += 1
        for i in np.flatnonzero((self.start_at >= 0) & ~self.started & (self.start_at <= state.block)):
            nu = int(self.netuid[i])
            self.submit(state, start_call, int(self.coldkeys[i]), nu)  # returns None; a refusal is counted
            if state.first_emission_block[nu] >= 0:
                self.started[i] = True
                self.note(state.block, "history_start_call", nu)
        if c.owner_sell_fraction > 0 and state.block - self._last_sale >= BLOCKS_PER_DAY:
            self._last_sale = state.block
            run = np.flatnonzero(self.started & (self.netuid >= 0))
            if run.size:
                a = owner_alpha(state, self.hotkey[run], self.netuid[run]) * c.owner_sell_fraction
                p = market.price
                for j, i in enumerate(run):
                    if a[j] * p[self.netuid[i]] > dust_floor(state):
                        self.submit(state, remove_stake, int(self.coldkeys[i]), int(self.hotkey[i]),
                                    int(self.netuid[i]), float(a[j]))


# ------------------------------------------------------------------------------------- the probe
PROBE_COLUMNS: tuple[str, ...] = (
    "target", "block", "day", "sum_lt1", "top10_share", "effective_n", "n_lt1", "n_subnets", "root_prop_launch",
    "root_tao", "total_issuance", "pool_tao", "watch_price", "watch_share", "watch_moving_price", "watch_rank")


class HistoryProbeConfig(PopulationConfig):
    kind: Literal["history_probe"] = "history_probe"
    count: int = Field(0, ge=0)
    cadence_blocks: int = Field(60, ge=1, description="blocks between looks (a sample lands within one cadence after its block)")
    watch_netuid: int = Field(28, ge=1, description="the subnet whose price, rank and emission share are sampled")
    launch_netuids: int = Field(64, ge=1, description="root proportion is averaged over netuids 1..launch_netuids")


class HistoryProbe(Population):
    """An observer: at each requested block (blocks after the start) it samples the network figures
    of the stylised facts.  Submits no extrinsic and holds nothing."""

    kind = "history_probe"
    Config = HistoryProbeConfig
    config: HistoryProbeConfig
    #: it only reads: the driver keeps it out of the market's random order, so attaching it
    #: changes no other population's draws
    market_neutral = True

    def __init__(self, name: str, config: HistoryProbeConfig, rng: np.random.Generator,
                 sample_offsets: np.ndarray) -> None:
        super().__init__(name, config, rng)
        self.offsets = np.unique(np.asarray(sample_offsets, np.int64))
        self.rows: list[tuple[float, ...]] = []
        self.i = 0

    def first_offset(self, state: ChainState) -> int:
        return 0

    def setup(self, ctx: SetupContext) -> None:
        self.start = ctx.start_block

    def sample(self, state: ChainState) -> tuple[float, ...]:
        """The figures now (:data:`PROBE_COLUMNS` after ``target``, the requested block; prices
        TAO/alpha, amounts TAO)."""
        c = self.config
        ids = state.subnet_netuids
        price = np.asarray(state.spot_price(), np.float64)
        tot, top, eff, n_lt1 = price_concentration(price[ids])
        launch = ids[ids <= c.launch_netuids]
        rp = root_proportion(state, launch)
        w = c.watch_netuid
        if w < state.n_subnets_cap and state.exists[w]:
            wp, ws, wm = float(price[w]), float(state.emission_share[w]), float(state.moving_price[w])
            wr = float(1 + int((price[ids] > wp).sum()))
        else:
            wp = ws = wm = wr = float("nan")
        return (float(state.block - self.start), (state.block - self.start) / BLOCKS_PER_DAY, tot, top, eff,
                float(n_lt1), float(ids.size), float(rp.mean()) if rp.size else float("nan"),
                float(state.tao_reserve[0]), float(state.total_issuance), float(state.tao_reserve[ids].sum()),
                wp, ws, wm, wr)

    def flush(self, state: ChainState) -> None:
        """Take the samples due by now that no round reached (those within the run's last cadence)."""
        self.act(state, None, None)  # type: ignore[arg-type]

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        due = self.start + self.offsets
        while self.i < due.size and due[self.i] <= state.block:
            self.rows.append((float(self.offsets[self.i]),) + self.sample(state))
            self.i += 1
