"""New subnets and the flows around them: who registers them on a schedule, who buys into them,
and root stake coming back from the subnets.

* ``registrants``: the owners of subnets a scenario registers at given blocks (``register_network``
  events, e.g. SN65-SN128 on their recorded 2025 dates).  One founder per scheduled registration,
  funded at genesis with the lock it will pay; it submits ``register_network`` when its event fires,
  calls ``start_call`` after a drawn wait once the runtime requires one, and sells a daily share
  of its owner cut once the subnet emits.
* ``new_subnet_buyers``: outside investors who stake into newly started subnets (the buyers real
  new subnets drew in 2025), see :class:`NewSubnetBuyers`.
* ``root_returners``: root nominators moving alpha positions back to root once the subnet's quoted
  yield no longer holds them (the way back of ``root_stakers``), see :class:`RootReturners`.

Amounts are TAO (alpha for alpha amounts); times are blocks (7200 a day) or days.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from dtao.agents.base import (
    BudgetConfig,
    Event,
    MarketView,
    Population,
    PopulationConfig,
    SetupContext,
    World,
    dust_floor,
    owner_alpha,
    position_alpha,
)
from dtao.chain.registration import register_network, start_call
from dtao.chain.state import ChainState
from dtao.chain.staking import add_stake_limit, move_stake, remove_stake
from dtao.chain.units import BLOCKS_PER_DAY


# ------------------------------------------------------------------------------------ registrants
class RegistrantsConfig(PopulationConfig):
    kind: Literal["registrants"] = "registrants"
    count: int = Field(0, ge=0, description="not used: one founder per register_network event addressed to it")
    cadence_blocks: int = Field(60, ge=1, description="blocks between rounds (start calls, daily sales)")
    budget_tao: float = Field(10_000.0, gt=0.0, description="TAO a founder holds for a registration event "
                              "that gives no recorded lock (with one, the lock plus 1 TAO)")
    start_wait_min_days: float = Field(7.0, ge=0.0, description="least days from registration to start_call "
                                       "(the chain's DurationOfStartCall applies on top)")
    start_wait_mean_days: float = Field(7.0, ge=0.0, description="mean days from registration to start_call: "
                                        "the minimum plus an exponential extra")
    sell_fraction: float = Field(0.5, ge=0.0, le=1.0, description="share of the owner's alpha sold per day once the subnet emits")


class Registrants(Population):
    """Founders of the subnets a scenario registers on a schedule.

    The scenario's ``register_network`` events name this population; :func:`dtao.scenario.build`
    hands it their planned locks (:attr:`planned`) before :meth:`setup`, so each founder is minted
    at genesis with its lock plus 1 TAO (the initial issuance of a launch state is a target: the idle
    reserve is smaller by as much).  When an event fires the driver calls :meth:`on_event` and the
    next founder submits ``register_network``.  Once the runtime requires ``start_call``
    (``require_start_call``) an owner whose subnet has no ``FirstEmissionBlockNumber`` calls it
    ``start_wait_min_days`` plus an exponential extra (mean ``start_wait_mean_days`` in all) after
    registration, never before ``DurationOfStartCall``; a refusal is counted and retried next
    round.  Every day each owner of an emitting subnet sells ``sell_fraction`` of its owner alpha."""

    kind = "registrants"
    Config = RegistrantsConfig
    config: RegistrantsConfig

    def __init__(self, name: str, config: RegistrantsConfig, rng: np.random.Generator) -> None:
        super().__init__(name, config, rng)
        #: TAO each founder needs (the recorded lock), one per register_network event, in firing order
        self.planned: list[float | None] = []

    def first_offset(self, state: ChainState) -> int:
        return 0

    def setup(self, ctx: SetupContext) -> None:
        c = self.config
        n = len(self.planned)
        need = np.array([c.budget_tao if lk is None else lk + 1.0 for lk in self.planned], np.float64)
        self.new_coldkeys(ctx.state, need)
        self.hotkey = np.full(n, -1, np.int64)
        self.netuid = np.full(n, -1, np.int64)
        self.start_at = np.full(n, -1, np.int64)  # block its owner calls start_call (-1: not drawn)
        self.next = 0
        self._last_sale = ctx.start_block

    @property
    def registered(self) -> int:
        """Subnets this population has registered so far."""
        return int((self.netuid >= 0).sum())

    def on_event(self, state: ChainState, event: Event, world: World) -> bool:
        """``register_network`` by the next founder (True if the chain took it; a refusal is counted)."""
        if event.kind != "register_network" or self.next >= self.coldkeys.size:
            return False
        i = self.next
        self.next += 1
        ck = int(self.coldkeys[i])
        hk = state.new_hotkey(ck)
        nu = self.submit(state, register_network, ck, hk)
        if nu is None:
            return False
        self.hotkey[i], self.netuid[i] = hk, int(nu)
        self.book.add(ck, hk, int(nu))
        return True

    def _draw_start(self, state: ChainState, i: int) -> None:
        c = self.config
        extra = max(c.start_wait_mean_days - c.start_wait_min_days, 0.0)
        wait = c.start_wait_min_days + (float(self.rng.exponential(extra)) if extra > 0 else 0.0)
        reg = int(state.registered_block[int(self.netuid[i])])
        self.start_at[i] = reg + max(int(round(wait * BLOCKS_PER_DAY)), state.params.duration_of_start_call)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        live = self.netuid >= 0
        if state.params.require_start_call and live.any():
            waiting = live & (state.first_emission_block[np.maximum(self.netuid, 0)] < 0)
            for i in np.flatnonzero(waiting):
                if self.start_at[i] < 0:
                    self._draw_start(state, int(i))
                if self.start_at[i] <= state.block:
                    nu = int(self.netuid[i])
                    self.submit(state, start_call, int(self.coldkeys[i]), nu)
                    if state.first_emission_block[nu] >= 0:
                        self.note(state.block, "start_call", nu)
        if c.sell_fraction > 0 and state.block - self._last_sale >= BLOCKS_PER_DAY:
            self._last_sale = state.block
            run = np.flatnonzero(live)
            if state.params.require_start_call and run.size:
                run = run[state.first_emission_block[self.netuid[run]] >= 0]
            if run.size:
                held = owner_alpha(state, self.hotkey[run], self.netuid[run])
                self.sell_alpha(state, self.coldkeys[run], self.hotkey[run], self.netuid[run],
                                held * c.sell_fraction, market.price[self.netuid[run]], held)


# ------------------------------------------------------------------------------ new-subnet buyers
class NewSubnetBuyersConfig(BudgetConfig):
    kind: Literal["new_subnet_buyers"] = "new_subnet_buyers"
    count: int = Field(100, ge=0, description="outside investors")
    budget_tao: float = Field(100.0, ge=0.0, description="median free TAO per investor at the start")
    cadence_blocks: int = Field(1800, ge=1, description="blocks between decisions")
    window_days: float = Field(30.0, gt=0.0, description="days after a new subnet starts emitting during which they buy into it")
    interest: float = Field(0.1, ge=0.0, le=1.0, description="chance that an investor takes an interest in a given new subnet")
    fair_multiple: float = Field(1.0, gt=0.0, description="fair price of a new subnet = this x its quality x the median "
                                 "spot price of the emitting subnets priced below 1 TAO/alpha")
    buy_fraction: float = Field(0.25, gt=0.0, le=1.0, description="share of free TAO put into one buy")
    sell_premium: float = Field(0.5, ge=0.0, description="sell when the price is above fair x (1 + this)")
    sell_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of a position sold then")


class NewSubnetBuyers(Population):
    """Outside investors who buy into subnets registered during the run once they emit.

    A subnet registered during the run, when it starts emitting (``FirstEmissionBlockNumber`` set,
    or at once where the runtime has no start gate), draws the interest of each investor with
    chance ``interest``.  For ``window_days`` after that, each round every interested investor with
    free TAO stakes ``buy_fraction`` of it on the subnet owner's hotkey with a limit at the fair
    price (``add_stake_limit``, partial fills allowed), so buying stops at the fair price.  The fair
    price of a new subnet is ``fair_multiple x quality x`` the median spot price of the emitting
    subnets priced below 1 TAO/alpha (an investor prices a new subnet like an ordinary one,
    scaled by its latent quality, median 1).  At any time an investor holding a new subnet's
    alpha sells ``sell_fraction`` of it when the price is above ``fair x (1 + sell_premium)``.
    Without these buyers a new subnet holds only its owner, who sells its cut into a 1 TAO pool."""

    kind = "new_subnet_buyers"
    Config = NewSubnetBuyersConfig
    config: NewSubnetBuyersConfig

    def setup(self, ctx: SetupContext) -> None:
        c = self.config
        self.new_coldkeys(ctx.state, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.start = ctx.start_block
        self.seen: dict[int, tuple[int, np.ndarray]] = {}  # netuid -> (block first seen emitting, interested agents)
        self.registered_at: dict[int, int] = {}

    def fair_price(self, state: ChainState, world: World, price: np.ndarray, netuids: np.ndarray) -> np.ndarray:
        """Fair price (TAO/alpha) of ``netuids`` (see the class docstring)."""
        ids = state.subnet_netuids
        emitting = ids if not state.params.require_start_call else ids[state.first_emission_block[ids] >= 0]
        p = price[emitting]
        p = p[(p > 0) & (p < 1.0)]
        anchor = float(np.median(p)) if p.size else 0.0
        q = world.subnet_q(state.n_subnets_cap)
        return self.config.fair_multiple * anchor * q[netuids]

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        ids = state.subnet_netuids
        new = ids[state.registered_block[ids] > self.start]
        # a netuid reused after pruning is a new subnet: forget what was seen of the old one
        for nu in list(self.seen):
            if nu not in new or state.registered_block[nu] != self.registered_at.get(nu):
                self.seen.pop(nu, None)
        if state.params.require_start_call:
            new = new[state.first_emission_block[new] >= 0]
        for nu in new:
            nu = int(nu)
            if nu not in self.seen:
                self.seen[nu] = (state.block, np.flatnonzero(self.rng.random(self.coldkeys.size) < c.interest))
                self.registered_at[nu] = int(state.registered_block[nu])
        if not self.seen:
            return
        price = np.asarray(market.price, np.float64)
        nus = np.array(sorted(self.seen), np.int64)
        fair = self.fair_price(state, world, price, nus)
        floor = dust_floor(state)
        # sales first (a position above its fair price), then buys (newest windows)
        cks, hks, pnus = self.book.arrays()
        if cks.size:
            held = position_alpha(state, cks, hks, pnus)
            f_of = dict(zip(nus.tolist(), fair.tolist()))
            for ck, hk, nu, a in zip(cks, hks, pnus, held):
                f = f_of.get(int(nu), 0.0)
                p = float(state.spot_price(int(nu))) if state.exists[int(nu)] else 0.0
                if f > 0 and p > f * (1.0 + c.sell_premium) and a * c.sell_fraction * p > floor:
                    self.submit(state, remove_stake, int(ck), int(hk), int(nu), float(a * c.sell_fraction))
        window = int(c.window_days * BLOCKS_PER_DAY)
        for nu, f in zip(nus.tolist(), fair.tolist()):
            first, agents = self.seen[nu]
            if state.block - first > window or agents.size == 0 or f <= 0:
                continue
            hk = int(state.owner_hotkey[nu])
            if hk < 0:
                continue
            for i in self.rng.permutation(agents):
                if state.spot_price(nu) >= f:
                    break
                ck = int(self.coldkeys[i])
                tao = float(state.balance[ck]) * c.buy_fraction
                if tao <= floor:
                    continue
                if self.submit(state, add_stake_limit, ck, hk, nu, tao, f, True) is not None:
                    self.book.add(ck, hk, nu)


# ---------------------------------------------------------------------------------- root returners
class RootReturnersConfig(PopulationConfig):
    kind: Literal["root_returners"] = "root_returners"
    count: int = Field(0, ge=0, description="not used: the root nominators of the initial state")
    cadence_blocks: int = Field(7200, ge=1, description="blocks between decisions")
    exit_apy: float = Field(0.5, ge=0.0, description="quoted staking APY (1.0 = 100%/yr) below which a subnet no longer holds them")
    return_prob: float = Field(0.05, ge=0.0, le=1.0, description="chance per round that a nominator holding such a position moves it")
    return_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of the position moved back to root then")


class RootReturners(Population):
    """The root nominators of the initial state (``roles.root_holders``) moving stake back to root.

    The ``root_stakers`` population moves part of these nominators' root stake into the subnets
    with the best quoted APY; this one is the same people's way back: each round every alpha
    position a root nominator holds (on any subnet) whose quoted staking APY has fallen below
    ``exit_apy`` is, with chance ``return_prob``, moved back to root by ``return_fraction``
    (``move_stake`` to the root validator it nominates most), the swap priced by the pool."""

    kind = "root_returners"
    Config = RootReturnersConfig
    config: RootReturnersConfig

    def first_offset(self, state: ChainState) -> int:
        return int(self.rng.integers(0, max(self.config.cadence_blocks, 1)))

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        holders = np.unique(np.asarray(ctx.roles.root_holders, np.int64))
        self.holders = set(holders.tolist())
        best: dict[int, tuple[float, int]] = {}
        for (ck, hk, nu), shares in st.positions.items():
            if nu == 0 and ck in self.holders and shares > best.get(ck, (-1.0, -1))[0]:
                best[ck] = (float(shares), int(hk))
        self.root_hotkey = {ck: hk for ck, (_, hk) in best.items()}

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        if c.return_prob <= 0 or not self.root_hotkey:
            return
        rows = [(ck, hk, nu) for (ck, hk, nu) in state.positions if nu != 0 and ck in self.root_hotkey]
        if not rows:
            return
        arr = np.array(rows, np.int64)
        apy = market.staking_apy()
        low = apy[arr[:, 2]] < c.exit_apy
        pick = low & (self.rng.random(arr.shape[0]) < c.return_prob)
        if not pick.any():
            return
        sel = arr[pick]
        alpha = position_alpha(state, sel[:, 0], sel[:, 1], sel[:, 2]) * c.return_fraction
        price = market.price
        for (ck, hk, nu), a in zip(sel.tolist(), alpha.tolist()):
            if a * price[nu] > dust_floor(state):
                self.book.add(ck, self.root_hotkey[ck], 0)
                self.submit(state, move_stake, ck, hk, self.root_hotkey[ck], nu, 0, float(a))
