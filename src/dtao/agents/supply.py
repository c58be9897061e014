"""Supply-side behaviours: the people who earn emission or run subnets.

* ``miners``: sell part of the alpha their incentive piles up on their hotkey, at least enough to
  pay their off-chain operating costs.
* ``owners``: subnet owners selling part of their owner cut.
* ``hold_to_earn``: miners of a subnet whose validators score by holdings; they buy the subnet's
  alpha while the yield on holding it (plus recent momentum) beats their hurdle, and sell when it
  does not.
* ``buyback``: a subnet with outside revenue (the Bitcoin-mining thought experiment) spending it on
  its own alpha.
* ``founders``: register new subnets when the lock cost is within reach, then ``start_call``.
* ``entrants``: would-be miners of heterogeneous quality and cost who register with the burn when
  the incentive they expect beats their costs and are pruned by the chain (adverse selection when
  validators cannot tell copied outputs from work).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from dtao.agents.base import (
    BudgetConfig,
    MarketView,
    Population,
    buy_limited,
    PopulationConfig,
    SetupContext,
    World,
    coldkey_holdings,
    dust_floor,
    miner_mask,
    owner_alpha,
    position_alpha,
    uids_of_hotkeys,
)
from dtao.chain.block_emission import block_emission_for_issuance
from dtao.chain.registration import burned_register, network_lock_cost, register_network, register_neurons_genesis, start_call
from dtao.chain.state import ChainState
from dtao.chain.staking import add_stake, remove_stake
from dtao.chain.units import BLOCKS_PER_DAY


def _home_netuids(state: ChainState, hotkeys: np.ndarray) -> np.ndarray:
    """The first subnet each hotkey holds a UID on (-1 if none)."""
    home = np.full(hotkeys.size, -1, np.int64)
    pos = {int(h): i for i, h in enumerate(hotkeys)}
    for nu in state.subnet_netuids:
        nr = state.neurons[int(nu)]
        if nr is None:
            continue
        for h in nr.hotkey.tolist():
            i = pos.get(h)
            if i is not None and home[i] < 0:
                home[i] = int(nu)
    return home


# ------------------------------------------------------------------------------------------ miners
class MinersConfig(PopulationConfig):
    kind: Literal["miners"] = "miners"
    count: int = Field(0, ge=0, description="not used: adopts the miners of the initial state")
    cadence_blocks: int = Field(7200, ge=1, description="blocks between decisions")
    sell_fraction: float = Field(0.5, ge=0.0, le=1.0, description="share of the incentive earned since the last round that they sell")
    cost_tao_per_day: float = Field(0.0, ge=0.0, description="operating cost per miner, TAO/day (paid off-chain)")
    exclude_netuids: list[int] = Field(default_factory=list, description="subnets whose miners are left out")


class Miners(Population):
    """Miners selling incentive to pay operating costs (cost accounted off-chain, subtracted in PnL)."""

    kind = "miners"
    Config = MinersConfig
    config: MinersConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        hks = np.asarray(ctx.roles.miners, np.int64)
        home = _home_netuids(st, hks)
        keep = (home >= 0) & ~np.isin(home, self.config.exclude_netuids)
        self.hotkeys, self.home = hks[keep], home[keep]
        self.hk_coldkeys = st.hotkey_owner[self.hotkeys]
        self.coldkeys = np.unique(self.hk_coldkeys)
        self.book.add_many(self.hk_coldkeys, self.hotkeys, self.home)
        self._last = ctx.start_block
        self._kept = owner_alpha(st, self.hotkeys, self.home)  # genesis holdings are not for sale

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        dt_days = (state.block - self._last) / BLOCKS_PER_DAY
        self._last = state.block
        self.costs_tao += c.cost_tao_per_day * dt_days * self.hotkeys.size
        if self.hotkeys.size == 0:
            return
        a = owner_alpha(state, self.hotkeys, self.home)
        p = market.price[self.home]
        need = np.divide(c.cost_tao_per_day * dt_days, p, out=np.zeros_like(p), where=p > 0)
        earned = np.maximum(a - self._kept, 0.0)
        sale = np.minimum(a, np.maximum(c.sell_fraction * earned, need))
        self._kept = self.sell_alpha(state, self.hk_coldkeys, self.hotkeys, self.home, sale, p, a)


# ------------------------------------------------------------------------------------------ owners
class OwnersConfig(PopulationConfig):
    kind: Literal["owners"] = "owners"
    count: int = Field(0, ge=0, description="not used: adopts every subnet owner of the initial state")
    cadence_blocks: int = Field(7200, ge=1, description="blocks between decisions")
    sell_fraction: float = Field(0.5, ge=0.0, le=1.0, description="share of the owner cut received since the last round that they sell")
    exclude_netuids: list[int] = Field(default_factory=list, description="subnets whose owners are left out")


class Owners(Population):
    """Subnet owners selling part of the owner cut that accrues on their hotkey."""

    kind = "owners"
    Config = OwnersConfig
    config: OwnersConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        ids = np.array([nu for nu in st.subnet_netuids if st.owner_hotkey[nu] >= 0
                        and int(nu) not in self.config.exclude_netuids], np.int64)
        self.netuids = ids
        self.hotkeys = st.owner_hotkey[ids].astype(np.int64)
        self.hk_coldkeys = st.owner_coldkey[ids].astype(np.int64)
        self.coldkeys = np.unique(self.hk_coldkeys)
        self.book.add_many(self.hk_coldkeys, self.hotkeys, ids)
        self._kept = owner_alpha(st, self.hotkeys, ids)  # genesis holdings are not for sale

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        if self.netuids.size == 0:
            return
        a = owner_alpha(state, self.hotkeys, self.netuids)
        sale = np.maximum(a - self._kept, 0.0) * self.config.sell_fraction
        self._kept = self.sell_alpha(state, self.hk_coldkeys, self.hotkeys, self.netuids, sale,
                                     market.price[self.netuids], a)


# ------------------------------------------------------------------------------------ hold to earn
class HoldToEarnConfig(BudgetConfig):
    kind: Literal["hold_to_earn"] = "hold_to_earn"
    netuid: int = Field(..., ge=1, description="the hold-to-earn subnet")
    count: int = Field(40, ge=0, description="number of agents")
    quality: float = Field(0.3, gt=0.0, description="median latent quality of their miners (others' median is 1)")
    hurdle_daily: float = Field(0.01, gt=0.0, description="median daily return they require (alpha yield + momentum)")
    hurdle_sigma: float = Field(0.3, ge=0.0, description="log-normal spread of hurdles across agents")
    momentum_weight: float = Field(0.1, ge=0.0, description="weight of the recent daily price return in their score")
    momentum_hours: float = Field(24.0, gt=0.0, description="look-back of the price return they watch")
    buy_fraction: float = Field(0.2, gt=0.0, le=1.0, description="share of free TAO put in per round when buying")
    exit_ratio: float = Field(0.5, ge=0.0, le=1.0, description="they sell when their score falls below hurdle*exit_ratio")
    sell_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of holdings sold per round when exiting")
    arrival_days: float = Field(1.0, ge=0.0, description="agents start acting uniformly over this many days")
    max_slippage: float | None = Field(0.1, gt=0.0, description="buys are add_stake_limit at spot*(1+max_slippage), partial fills allowed (None: add_stake)")


class HoldToEarn(Population):
    """Hold-to-earn miners: each owns a miner UID on the subnet and holds its alpha staked with the
    subnet's validator; their incentive is their share of holdings while validators score holdings.

    Their yield on holding, ``d`` (alpha per alpha per day), is read from public data: the slope of
    their miners' incentive on their coldkeys' holdings at the last epoch (covariance / variance
    across the population's miners, who do the same non-work).  While consensus scores holdings it
    equals their incentive over their holdings; once consensus scores something else it falls to
    about zero.  Before their first incentive they expect the whole miner incentive budget shared
    over the holdings.
    Score = d + momentum_weight x recent daily price return; they buy when both d and the score
    beat their hurdle (momentum alone never makes them buy), and sell when either falls below
    hurdle x exit_ratio (momentum alone never makes them hold)."""

    kind = "hold_to_earn"
    Config = HoldToEarnConfig
    config: HoldToEarnConfig

    def setup(self, ctx: SetupContext) -> None:
        st, c = ctx.state, self.config
        nu = st.check_subnet(c.netuid)
        self.main_netuid = nu
        nr = st.neurons[nu]
        if nr.n + c.count > st.hyper[nu].max_allowed_uids:
            raise ValueError(f"subnet {nu} has {nr.n} of {st.hyper[nu].max_allowed_uids} UIDs; "
                             f"no room for {c.count} hold-to-earn miners")
        cks = self.new_coldkeys(st, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.hotkeys = st.new_hotkeys(cks)
        register_neurons_genesis(st, nu, self.hotkeys)
        ctx.world.set_quality(self.hotkeys, c.quality * np.exp(self.rng.normal(0.0, 0.3, c.count)))
        self.validator_hk = int(st.owner_hotkey[nu])
        self.book.add_many(cks, np.full(c.count, self.validator_hk), np.full(c.count, nu))
        self.book.add_many(cks, self.hotkeys, np.full(c.count, nu))
        self.hurdle = c.hurdle_daily * np.exp(self.rng.normal(0.0, c.hurdle_sigma, c.count))
        self.arrival = ctx.start_block + (self.rng.random(c.count) * c.arrival_days * BLOCKS_PER_DAY).astype(np.int64)
        self.seen_income = False
        self.last_yield = float("nan")

    def holdings(self, state: ChainState) -> tuple[np.ndarray, np.ndarray]:
        """(alpha staked with the validator, alpha on their own miner hotkey) per agent."""
        nu = self.main_netuid
        n = self.coldkeys.size
        deleg = position_alpha(state, self.coldkeys, np.full(n, self.validator_hk), np.full(n, nu))
        own = owner_alpha(state, self.hotkeys, nu)
        return deleg, own

    def holding_yield(self, state: ChainState) -> float:
        """Daily alpha yield of holding one more alpha (see class docstring)."""
        nu = self.main_netuid
        nr = state.neurons[nu]
        uids, hit = uids_of_hotkeys(state, nu, self.hotkeys)
        per_day = BLOCKS_PER_DAY / (state.tempo[nu] + 1)
        e = nr.emission[uids] * per_day
        h = coldkey_holdings(state, nu, self.hotkeys[hit])
        if e.sum() > 0:
            self.seen_income = True
        if self.seen_income:
            if h.size > 1 and np.var(h) > 0:
                return float(np.cov(e, h, bias=True)[0, 1] / np.var(h))
            return 0.0
        alpha_block = float(block_emission_for_issuance(float(state.alpha_issuance()[nu])))
        budget = alpha_block * (1.0 - state.params.subnet_owner_cut) * 0.5 * BLOCKS_PER_DAY
        return budget / max(float(h.sum()), 1.0)

    def incentive_share(self, state: ChainState) -> float:
        """Share of the subnet's miner incentive (last epoch) that went to this population's miners."""
        nr = state.neurons[self.main_netuid]
        uids, _ = uids_of_hotkeys(state, self.main_netuid, self.hotkeys)
        tot = float(nr.incentive.astype(np.float64).sum())
        return float(nr.incentive[uids].astype(np.float64).sum()) / tot if tot > 0 else 0.0

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c, nu = self.config, self.main_netuid
        n = self.coldkeys.size
        if n == 0:
            return
        deleg, own = self.holdings(state)
        h = deleg + own
        d = self.holding_yield(state)
        self.last_yield = d
        lb = c.momentum_hours * BLOCKS_PER_DAY / 24
        p_now, p_then = market.price[nu], market.price_ago(int(lb))[nu]
        mom = (p_now / p_then - 1.0) / (c.momentum_hours / 24) if p_then > 0 else 0.0
        score = d + c.momentum_weight * mom
        here = state.block >= self.arrival
        free = state.balance[self.coldkeys]
        dust = dust_floor(state)
        buy = here & (d > self.hurdle) & (score > self.hurdle) & (free * c.buy_fraction > dust)
        sell = here & (np.minimum(d, score) < self.hurdle * c.exit_ratio) & (h * p_now > dust)
        go = np.flatnonzero(buy | sell)
        for i in go[self.rng.permutation(go.size)]:
            if buy[i]:
                buy_limited(self, state, int(self.coldkeys[i]), self.validator_hk, nu, float(free[i] * c.buy_fraction),
                            c.max_slippage)
            elif sell[i]:
                if deleg[i] * c.sell_fraction * p_now > dust:
                    self.submit(state, remove_stake, int(self.coldkeys[i]), self.validator_hk, nu,
                                float(deleg[i] * c.sell_fraction))
                if own[i] * c.sell_fraction * p_now > dust:
                    self.submit(state, remove_stake, int(self.coldkeys[i]), int(self.hotkeys[i]), nu,
                                float(own[i] * c.sell_fraction))


# ---------------------------------------------------------------------------------------- buyback
class BuybackConfig(PopulationConfig):
    kind: Literal["buyback"] = "buyback"
    netuid: int = Field(..., ge=1, description="the subnet with outside revenue")
    count: int = Field(1, ge=1, description="treasury wallets (the revenue is split evenly)")
    cadence_blocks: int = Field(300, ge=1, description="blocks between decisions")
    revenue_tao_per_day: float = Field(200.0, gt=0.0, description="outside revenue spent on alpha, TAO/day")
    treasury_tao: float | None = Field(None, ge=0.0, description="TAO pre-funded for the buyback (default: revenue for the whole horizon)")


class Buyback(Population):
    """A subnet turning outside revenue into buy orders for its own alpha (held, staked with its owner)."""

    kind = "buyback"
    Config = BuybackConfig
    config: BuybackConfig

    def setup(self, ctx: SetupContext) -> None:
        st, c = ctx.state, self.config
        nu = st.check_subnet(c.netuid)
        self.main_netuid = nu
        treasury = c.treasury_tao if c.treasury_tao is not None else c.revenue_tao_per_day * ctx.horizon_days
        self.new_coldkeys(st, np.full(c.count, treasury / c.count))
        self.validator_hk = int(st.owner_hotkey[nu])
        self.book.add_many(self.coldkeys, np.full(c.count, self.validator_hk), np.full(c.count, nu))
        ctx.world.revenue(st.n_subnets_cap)[nu] = c.revenue_tao_per_day
        self.spent = 0.0

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        per = c.revenue_tao_per_day * c.cadence_blocks / BLOCKS_PER_DAY / c.count
        for ck in self.coldkeys:
            amt = min(per, float(state.balance[ck]))
            if amt > dust_floor(state):
                if self.submit(state, add_stake, int(ck), self.validator_hk, self.main_netuid, amt) is not None:
                    self.spent += amt


# --------------------------------------------------------------------------------------- founders
class FoundersConfig(BudgetConfig):
    kind: Literal["founders"] = "founders"
    count: int = Field(10, ge=0, description="would-be owners (one subnet each at most)")
    budget_tao: float = Field(3000.0, ge=0.0, description="median free TAO per founder")
    cadence_blocks: int = Field(1800, ge=1, description="blocks between decisions")
    max_lock_tao: float = Field(2000.0, ge=0.0, description="highest lock cost a founder pays")
    sell_fraction: float = Field(0.5, ge=0.0, le=1.0, description="share of the owner cut sold per day once running")


class Founders(Population):
    """Would-be subnet owners: register a subnet when the lock is affordable (one per founder), call
    ``start_call`` as soon as allowed, then sell part of their owner cut daily."""

    kind = "founders"
    Config = FoundersConfig
    config: FoundersConfig

    def setup(self, ctx: SetupContext) -> None:
        c = self.config
        self.new_coldkeys(ctx.state, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.netuid = np.full(c.count, -1, np.int64)
        self.hotkey = np.full(c.count, -1, np.int64)
        self.started = np.zeros(c.count, bool)
        self._last_sale = ctx.start_block

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        lock = network_lock_cost(state)
        if lock <= c.max_lock_tao and state.block - state.network_last_lock_block >= state.params.network_rate_limit:
            cand = np.flatnonzero((self.netuid < 0) & (state.balance[self.coldkeys] >= lock))
            if cand.size:
                i = int(self.rng.choice(cand))
                ck = int(self.coldkeys[i])
                hk = state.new_hotkey(ck)
                nu = self.submit(state, register_network, ck, hk)
                if nu is not None:
                    self.netuid[i], self.hotkey[i] = nu, hk
                    self.book.add(ck, hk, nu)
                    self.note(state.block, "register_network", nu, lock_tao=round(lock, 6), coldkey=ck)
        for i in np.flatnonzero((self.netuid >= 0) & ~self.started):
            nu = int(self.netuid[i])
            if state.block >= state.registered_block[nu] + state.params.duration_of_start_call:
                if self.submit(state, start_call, int(self.coldkeys[i]), nu) is not None or state.first_emission_block[nu] >= 0:
                    self.started[i] = True
                    self.note(state.block, "start_call", nu)
        if c.sell_fraction > 0 and state.block - self._last_sale >= BLOCKS_PER_DAY:
            self._last_sale = state.block
            run = np.flatnonzero(self.started)
            if run.size:
                held = owner_alpha(state, self.hotkey[run], self.netuid[run])
                self.sell_alpha(state, self.coldkeys[run], self.hotkey[run], self.netuid[run],
                                held * c.sell_fraction, market.price[self.netuid[run]], held)



# --------------------------------------------------------------------------------------- entrants
class EntrantsConfig(BudgetConfig):
    kind: Literal["entrants"] = "entrants"
    netuid: int = Field(..., ge=1, description="the subnet they mine")
    count: int = Field(100, ge=0, description="would-be miners")
    budget_tao: float = Field(20.0, ge=0.0, description="median free TAO per would-be miner (pays registration burns)")
    cadence_blocks: int = Field(120, ge=1, description="blocks between decisions")
    quality_sigma: float = Field(0.6, ge=0.0, description="log-normal spread of their true quality (median 1)")
    fixed_cost_tao_per_day: float = Field(0.5, ge=0.0, description="cost of running a miner at all, TAO/day (paid off-chain)")
    work_cost_tao_per_day: float = Field(0.5, ge=0.0, description="cost of the work per unit of true quality, TAO/day (paid off-chain)")
    copy_quality: float = Field(0.0, ge=0.0, description="score a miner gets by copying others' outputs where validators cannot tell copies from work (0: they can)")
    copy_below: float = Field(1.0, ge=0.0, description="miners of true quality below this copy (when copying scores higher); the others do their own work")
    payback_days: float = Field(5.0, gt=0.0, description="days of expected profit that must cover the registration burn")
    reentry_days: float = Field(1.0, ge=0.0, description="days a pruned miner waits before it considers registering again")
    sell_fraction: float = Field(1.0, ge=0.0, le=1.0, description="share of the alpha earned since the last sale that they sell")
    sell_every_blocks: int = Field(7200, ge=1, description="blocks between sales")


class Entrants(Population):
    """Would-be miners with heterogeneous true quality and costs who register (``burned_register``,
    paying the subnet's adjusting burn) when the incentive they expect beats their costs, and lose
    their UID when the chain prunes them (lowest pruning score once immune no more).

    A miner's *measured* score (what validators see, ``World.hotkey_quality``) is its true quality,
    unless validators cannot tell copied outputs from work (``copy_quality`` > 0): then a miner whose
    true quality is below ``copy_below`` (the low-quality type, who cannot do the work well) and
    below ``copy_quality`` copies the best outputs and is measured at ``copy_quality``, paying only
    the fixed cost.  Expected incentive, TAO/day: the subnet's miner budget
    ``alpha_out_emission x (1 - owner_cut) / 2 x 7200 x price`` times its measured score over the
    current miners' measured scores (the lowest replaced when the subnet is full: the leaderboard is
    public).  It registers when ``(expected income - cost) x payback_days`` exceeds the burn; one
    registration is tried per round (the chain allows one per block).  The test of the mechanism is
    who holds the UIDs and the incentive after registrations, pruning and Yuma have run."""

    kind = "entrants"
    Config = EntrantsConfig
    config: EntrantsConfig

    def setup(self, ctx: SetupContext) -> None:
        st, c = ctx.state, self.config
        nu = st.check_subnet(c.netuid)
        self.main_netuid = nu
        self.new_coldkeys(st, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.true_q = np.exp(self.rng.normal(0.0, c.quality_sigma, c.count)) if c.quality_sigma > 0 else np.ones(c.count)
        self.copies = (self.true_q < c.copy_below) & (self.true_q < c.copy_quality)
        self.measured = np.where(self.copies, c.copy_quality, self.true_q)
        self.cost = np.where(self.copies, c.fixed_cost_tao_per_day,
                             c.fixed_cost_tao_per_day + c.work_cost_tao_per_day * self.true_q)
        self.hotkey = np.full(c.count, -1, np.int64)
        self.free_at = np.full(c.count, ctx.start_block, np.int64)
        self.registrations = 0
        self.pruned = 0
        self._last_block = ctx.start_block
        self._last_sale = ctx.start_block
        self._kept = np.zeros(c.count)
        self._validators = ctx.roles.all_validator_hotkeys
        self._true_of: dict[int, float] = {}

    def true_quality(self, world: World, hotkeys: np.ndarray) -> np.ndarray:
        """True quality of miner ``hotkeys``: this population's own draw for its miners, the world's
        (measured = true) for everyone else."""
        q = world.quality_of(hotkeys).copy()
        for i, h in enumerate(np.asarray(hotkeys).tolist()):
            t = self._true_of.get(h)
            if t is not None:
                q[i] = t
        return q

    def quality_split(self, state: ChainState, world: World, threshold: float = 1.0) -> tuple[float, float, int]:
        """(share of last epoch's miner incentive going to miners of true quality > ``threshold``,
        share of miner UIDs they hold, number of miner UIDs) on the subnet."""
        nu = self.main_netuid
        nr = state.neurons[nu]
        m = np.flatnonzero(miner_mask(state, nu, self._validators))
        if m.size == 0:
            return float("nan"), float("nan"), 0
        good = self.true_quality(world, nr.hotkey[m]) > threshold
        inc = nr.incentive[m].astype(np.float64)
        share = float(inc[good].sum() / inc.sum()) if inc.sum() > 0 else float("nan")
        return share, float(good.mean()), int(m.size)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c, nu = self.config, self.main_netuid
        dt_days = (state.block - self._last_block) / BLOCKS_PER_DAY
        self._last_block = state.block
        reg = np.flatnonzero(self.hotkey >= 0)
        if reg.size:
            self.costs_tao += float(self.cost[reg].sum()) * dt_days
            _, hit = uids_of_hotkeys(state, nu, self.hotkey[reg])
            gone = reg[~hit]
            if gone.size:  # pruned by the chain
                self.pruned += int(gone.size)
                for i in gone:
                    self.note(state.block, "pruned", nu, hotkey=int(self.hotkey[i]), true_quality=round(float(self.true_q[i]), 4))
                self.hotkey[gone] = -1
                self._kept[gone] = 0.0
                self.free_at[gone] = state.block + int(c.reentry_days * BLOCKS_PER_DAY)
        if c.sell_fraction > 0 and state.block - self._last_sale >= c.sell_every_blocks:
            self._last_sale = state.block
            self._sell(state, market)
        # entry
        nr = state.neurons[nu]
        price = float(market.price[nu])
        budget = float(state.alpha_out_emission[nu]) * (1.0 - state.params.subnet_owner_cut) * 0.5 * BLOCKS_PER_DAY * price
        m = miner_mask(state, nu, self._validators)
        scores = world.quality_of(nr.hotkey[m]) if m.any() else np.zeros(0)
        total = float(scores.sum())
        if nr.n >= state.hyper[nu].max_allowed_uids and scores.size:
            total -= float(scores.min())
        exp_income = budget * self.measured / np.maximum(total + self.measured, 1e-12)
        burn = float(state.burn[nu])
        out = self.hotkey < 0
        want = out & (state.block >= self.free_at) & ((exp_income - self.cost) * c.payback_days > burn) \
            & (state.balance[self.coldkeys] >= burn + dust_floor(state))
        cand = np.flatnonzero(want)
        if cand.size == 0:
            return
        i = int(self.rng.choice(cand))
        ck = int(self.coldkeys[i])
        hk = state.new_hotkey(ck)
        if self.submit(state, burned_register, ck, hk, nu) is not None:
            self.hotkey[i] = hk
            self.registrations += 1
            world.set_quality(np.array([hk]), np.array([self.measured[i]]))
            self._true_of[hk] = float(self.true_q[i])
            self.book.add(ck, hk, nu)
            self._kept[i] = 0.0

    def _sell(self, state: ChainState, market: MarketView) -> None:
        nu = self.main_netuid
        reg = np.flatnonzero(self.hotkey >= 0)
        if reg.size == 0:
            return
        a = owner_alpha(state, self.hotkey[reg], nu)
        sale = np.maximum(a - self._kept[reg], 0.0) * self.config.sell_fraction
        p = float(market.price[nu])
        for j in np.flatnonzero(sale * p > dust_floor(state)):
            i = reg[j]
            if self.submit(state, remove_stake, int(self.coldkeys[i]), int(self.hotkey[i]), nu, float(sale[j])) is not None:
                a[j] -= sale[j]
        self._kept[reg] = a
