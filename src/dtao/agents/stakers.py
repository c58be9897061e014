"""Demand-side behaviours: people who stake TAO into subnets or hold it on root.

* ``root_stakers``: nominators of root validators; a few move part of their root stake into a
  subnet when its quoted staking yield tempts them.
* ``apy_chasers``: put free TAO into the subnet with the highest quoted staking APY (alpha
  dividends over alpha staked), and leave when the APY falls or the position has lost too much
  TAO value: the APY trap, since a quoted alpha APY ignores the price falling under emission sales.
* ``momentum``: irrational, trend-following speculators buying what has risen over their look-back
  and selling on a trailing stop or a reversal.
* ``value``: quality-focused investors anchored to a fair price from a subnet's latent quality
  and/or outside revenue, buying below it and selling above it.
* ``panic_sellers``: early holders of a subnet's alpha who dump when its price falls far enough
  below its recent high.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from dtao.agents.base import (
    BudgetConfig,
    MarketView,
    Population,
    PopulationConfig,
    SetupContext,
    World,
    buy_limited,
    dust_floor,
    position_alpha,
)
from dtao.chain.migration import seed_stake
from dtao.chain.state import ROOT, ChainState
from dtao.chain.staking import move_stake, remove_stake
from dtao.chain.units import BLOCKS_PER_DAY


class _SinglePosition(Population):
    """Agents holding at most one subnet position each (netuid, hotkey), with its entry cost in TAO."""

    def _init_positions(self, n: int) -> None:
        self.pos_nu = np.full(n, -1, np.int64)
        self.pos_hk = np.full(n, -1, np.int64)
        self.pos_cost = np.zeros(n)
        self.pos_peak = np.zeros(n)
        self.pos_slot = np.full(n, -1, np.int64)  # the position's slot in the chain's nominator map, as last read

    def _held_alpha(self, state: ChainState, rows: np.ndarray | None = None) -> np.ndarray:
        """Alpha in each agent's position (0 for agents holding none); with ``rows`` (a mask over
        agents) only those agents' positions are read, the others reading 0.  One compiled pass over
        the agents' own arrays (``where`` = holding), the slots remembered in place."""
        held = self.pos_nu >= 0
        if rows is not None:
            held &= rows
        return state.position_values(self.coldkeys, self.pos_hk, self.pos_nu, self.pos_slot, where=held)

    def _buy(self, state: ChainState, i: int, nu: int, hk: int, tao: float) -> None:
        i, ck, hk, nu = int(i), self.coldkeys.item(i), int(hk), int(nu)
        spent = buy_limited(self, state, ck, hk, nu, float(tao), self.config.max_slippage)
        if spent is not None:
            if self.pos_nu[i] != nu or self.pos_hk[i] != hk:
                self.pos_nu[i], self.pos_hk[i], self.pos_cost[i] = nu, hk, 0.0
                self.pos_peak[i] = state.spot_price(nu)
            self.pos_cost[i] += spent
            self.book.add(ck, hk, nu)

    def _sell_all(self, state: ChainState, i: int, alpha: float) -> None:
        got = self.submit(state, remove_stake, int(self.coldkeys[i]), int(self.pos_hk[i]), int(self.pos_nu[i]), float(alpha))
        if got is not None:
            self.pos_nu[i], self.pos_hk[i], self.pos_cost[i] = -1, -1, 0.0


# ------------------------------------------------------------------------------------ root stakers
class RootStakersConfig(PopulationConfig):
    kind: Literal["root_stakers"] = "root_stakers"
    count: int = Field(0, ge=0, description="not used: adopts the root nominators of the initial state")
    cadence_blocks: int = Field(7200, ge=1, description="blocks between decisions")
    move_prob: float = Field(0.0, ge=0.0, le=1.0, description="chance per round that a staker moves some root stake into a subnet")
    move_fraction: float = Field(0.1, ge=0.0, le=1.0, description="share of its root stake a mover moves")
    min_apy: float = Field(0.5, ge=0.0, description="quoted staking APY a subnet must offer to attract a move")
    top_k: int = Field(5, ge=1, description="movers pick at random among the top_k subnets by quoted APY")


class RootStakers(Population):
    """Root nominators (TAO on root validators); some drift into alpha when subnet yields tempt them."""

    kind = "root_stakers"
    Config = RootStakersConfig
    config: RootStakersConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        self.coldkeys = np.unique(np.asarray(ctx.roles.root_holders, np.int64))
        ck_set = set(self.coldkeys.tolist())
        for (ck, hk, nu) in list(st.positions):
            if ck in ck_set:
                self.book.add(ck, hk, nu)
        cks, hks, nus = self.book.arrays()
        self._root_rows = np.flatnonzero(nus == ROOT)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        if c.move_prob <= 0 or self.coldkeys.size == 0:
            return
        apy = market.staking_apy()
        started = market.started
        ok = started[(apy[started] >= c.min_apy) & (market.delegate[started] >= 0)]
        if ok.size == 0:
            return
        top = ok[np.argsort(-apy[ok], kind="stable")[: c.top_k]]
        cks, hks, nus = self.book.arrays()
        rows = self._root_rows
        alpha = position_alpha(state, cks[rows], hks[rows], nus[rows])
        movers = self.rng.random(rows.size) < c.move_prob
        amt = alpha * c.move_fraction
        for j in np.flatnonzero(movers & (amt > dust_floor(state))):
            nu = int(self.rng.choice(top))
            dhk = int(market.delegate[nu])
            ck = int(cks[rows[j]])
            if self.submit(state, move_stake, ck, int(hks[rows[j]]), dhk, ROOT, nu, float(amt[j])) is not None:
                self.book.add(ck, dhk, nu)


# ------------------------------------------------------------------------------------- APY chasers
class ApyChasersConfig(BudgetConfig):
    kind: Literal["apy_chasers"] = "apy_chasers"
    count: int = Field(50, ge=0, description="number of agents")
    cadence_blocks: int = Field(600, ge=1, description="blocks between decisions")
    min_apy: float = Field(1.0, ge=0.0, description="median quoted APY (1.0 = 100%/yr) they need to enter")
    apy_sigma: float = Field(0.5, ge=0.0, description="log-normal spread of min_apy across agents")
    buy_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of free TAO staked on entry")
    exit_ratio: float = Field(0.3, ge=0.0, le=1.0, description="leave when the quoted APY falls below min_apy*exit_ratio")
    stop_loss: float = Field(0.5, gt=0.0, le=1.0, description="leave when the position lost this share of its TAO cost")
    top_k: int = Field(3, ge=1, description="pick at random among the top_k subnets by quoted APY")
    max_slippage: float | None = Field(0.05, gt=0.0, description="buys are add_stake_limit at spot*(1+max_slippage), partial fills allowed (None: add_stake)")


@njit(cache=True)
def _apy_exits(pos_nu: np.ndarray, pos_hk: np.ndarray, pos_cost: np.ndarray, held_alpha: np.ndarray,
               price: np.ndarray, apy: np.ndarray, hurdle: np.ndarray, exit_ratio: float, stop_loss: float,
               dust: float, free: np.ndarray, buy_fraction: float, sell: np.ndarray, enter: np.ndarray) -> int:
    """The APY chasers' exits and would-be entrants in one pass over the agents.  A holder leaves when
    the quoted APY of its subnet is below ``hurdle * exit_ratio`` or its position's spot value
    (``held_alpha * price``, TAO) is below ``(1 - stop_loss) * pos_cost``; a leaver whose position is
    worth no more than ``dust`` walks away (its position is forgotten here, no order), any other
    leaver is marked in ``sell``.  An agent holding nothing enters if ``free * buy_fraction`` is above
    ``dust`` (``enter``; where to is picked after).  Returns the number of would-be entrants.  The same
    comparisons, in the same floating-point operations, as the population's array expressions."""
    m = 0
    for i in range(pos_nu.size):
        nu = pos_nu[i]
        if nu >= 0:
            value = held_alpha[i] * price[nu]
            leave = (apy[nu] < hurdle[i] * exit_ratio) or (value < (1.0 - stop_loss) * pos_cost[i])
            walk = leave and value <= dust
            if walk:
                pos_nu[i], pos_hk[i], pos_cost[i] = -1, -1, 0.0
            sell[i] = leave and not walk
            enter[i] = False
        else:
            sell[i] = False
            e = free[i] * buy_fraction > dust
            enter[i] = e
            m += e
    return m


@njit(cache=True)
def _apy_picks(enter: np.ndarray, k: np.ndarray, ranked: np.ndarray, u: np.ndarray, pick: np.ndarray) -> None:
    """Each entrant's subnet: ``k[t]`` = how many of the subnets ranked by quoted APY (``ranked``, best
    first) beat the ``t``-th entrant's hurdle, at most ``top_k``; it picks ``ranked[floor(u * k)]`` with
    its uniform draw ``u`` (-1 and no entry when ``k`` is 0).  ``pick`` is -1 for the others."""
    t = 0
    last = ranked.size - 1
    for i in range(enter.size):
        if enter[i]:
            kt = k[t]
            t += 1
            if kt > 0:
                pick[i] = ranked[min(np.int64(u[i] * kt), last)]
            else:
                pick[i] = -1
                enter[i] = False
        else:
            pick[i] = -1


class ApyChasers(_SinglePosition):
    """Stakers chasing the highest quoted APY (alpha dividends per alpha staked, price ignored)."""

    kind = "apy_chasers"
    Config = ApyChasersConfig
    config: ApyChasersConfig

    def setup(self, ctx: SetupContext) -> None:
        c = self.config
        self.new_coldkeys(ctx.state, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.hurdle = c.min_apy * np.exp(self.rng.normal(0.0, c.apy_sigma, c.count))
        self._init_positions(c.count)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        n = self.coldkeys.size
        if n == 0:
            return
        apy = market.staking_apy()
        price = market.price
        held_alpha = self._held_alpha(state)
        dust = dust_floor(state)
        free = state.balance[self.coldkeys]
        sell, enter = np.empty(n, bool), np.empty(n, bool)
        # leavers (sell, or walk away from worthless dust: the chain would refuse the sale) and entrants
        entrants = _apy_exits(self.pos_nu, self.pos_hk, self.pos_cost, held_alpha, price, apy, self.hurdle,
                              c.exit_ratio, c.stop_loss, dust, free, c.buy_fraction, sell, enter)
        started = market.started
        cand = started[market.delegate[started] >= 0]
        pick = np.full(n, -1, np.int64)
        if cand.size and entrants:
            ranked = cand[np.argsort(-apy[cand], kind="stable")]
            desc = apy[ranked]
            u = self.rng.random(n)  # one draw per agent, entering or not
            # candidates beating each entrant's hurdle are a prefix of the ranking
            k = np.minimum(np.searchsorted(-desc, -self.hurdle[enter], side="left"), c.top_k)
            _apy_picks(enter, k, ranked, u, pick)
        else:
            enter[:] = False
        go = sell | enter
        for i in np.flatnonzero(go)[self.rng.permutation(int(go.sum()))]:
            if sell[i]:
                self._sell_all(state, i, held_alpha[i])
            else:
                nu = int(pick[i])
                self._buy(state, i, nu, int(market.delegate[nu]), float(free[i] * c.buy_fraction))


# ---------------------------------------------------------------------------------------- momentum
class MomentumConfig(BudgetConfig):
    kind: Literal["momentum"] = "momentum"
    count: int = Field(50, ge=0, description="number of agents")
    cadence_blocks: int = Field(300, ge=1, description="blocks between decisions")
    lookback_hours: float = Field(12.0, gt=0.0, description="median look-back of the price return they watch")
    lookback_sigma: float = Field(0.5, ge=0.0, description="log-normal spread of look-backs across agents")
    threshold: float = Field(0.15, gt=0.0, description="median return over the look-back that makes them buy")
    threshold_sigma: float = Field(0.4, ge=0.0, description="log-normal spread of thresholds across agents")
    buy_fraction: float = Field(0.3, gt=0.0, le=1.0, description="share of free TAO put in per buy")
    trailing_stop: float = Field(0.25, gt=0.0, le=1.0, description="sell all when the price is this far below its high since entry")
    netuids: list[int] | None = Field(None, description="subnets they watch (default: all started)")
    max_slippage: float | None = Field(0.05, gt=0.0, description="buys are add_stake_limit at spot*(1+max_slippage), partial fills allowed (None: add_stake)")


@njit(cache=True, inline="always")
def _return(price: np.ndarray, then: np.ndarray, g: int, nu: int) -> float:
    """Price return of ``nu`` over look-back group ``g``: ``price / then - 1`` (0 where ``then`` is not
    positive)."""
    t = then[g, nu]
    return (price[nu] / t if t > 0 else 1.0) - 1.0


@njit(cache=True)
def _momentum_signals(price: np.ndarray, then: np.ndarray, watch: np.ndarray, inv: np.ndarray,
                      pos_nu: np.ndarray, pos_peak: np.ndarray, threshold: np.ndarray, stop_level: float,
                      my_sig: np.ndarray, stop: np.ndarray, best_nu: np.ndarray, best_sig: np.ndarray) -> None:
    """The momentum traders' signals in one pass (``then``: spot prices one row per look-back group,
    ``inv``: each trader's group).  Per group, the watched subnet with the strongest return (numpy's
    ``argmax`` along the row: the first of equal maxima, the first NaN); per trader, that subnet and its
    return (``best_nu`` -1 and ``best_sig`` -inf when nothing is watched), the return of the subnet
    held (of netuid 0 when none is: not read), the peak price since entry raised to today's (0 when
    nothing is held) and ``stop``: held and below ``stop_level`` x peak, or its return below
    ``-threshold``."""
    n_g = then.shape[0]
    g_nu = np.full(n_g, -1, np.int64)
    g_sig = np.full(n_g, -np.inf)
    if watch.size:
        for g in range(n_g):
            jb = 0
            vb = _return(price, then, g, watch[0])
            if not np.isnan(vb):
                for j in range(1, watch.size):
                    v = _return(price, then, g, watch[j])
                    if np.isnan(v):
                        jb, vb = j, v
                        break
                    if v > vb:
                        jb, vb = j, v
            g_nu[g] = watch[jb]
            g_sig[g] = vb
    for i in range(pos_nu.size):
        g = inv[i]
        best_nu[i] = g_nu[g]
        best_sig[i] = g_sig[g]
        nu = pos_nu[i]
        if nu >= 0:
            p = price[nu]
            a = pos_peak[i]
            pk = a if a >= p or np.isnan(a) else p  # np.maximum: NaN wins
            pk = p if np.isnan(p) else pk
            pos_peak[i] = pk
            my_sig[i] = _return(price, then, g, nu)
            stop[i] = p < stop_level * pk or my_sig[i] < -threshold[i]
        else:
            pos_peak[i] = 0.0
            my_sig[i] = _return(price, then, g, 0)
            stop[i] = False


@njit(cache=True)
def _momentum_orders(pos_nu: np.ndarray, pos_hk: np.ndarray, pos_cost: np.ndarray, stop: np.ndarray,
                     held_alpha: np.ndarray, price: np.ndarray, free: np.ndarray, buy_fraction: float, dust: float,
                     my_sig: np.ndarray, best_nu: np.ndarray, best_sig: np.ndarray, threshold: np.ndarray,
                     sell: np.ndarray, add: np.ndarray, enter: np.ndarray) -> int:
    """The momentum traders' orders from their signals (:func:`_momentum_signals`), one pass over the
    traders: a stopped position worth no more than ``dust`` (``held_alpha * price``, TAO) is walked
    away from (forgotten here, no order), any other stopped one is sold (``sell``); a trader not
    stopped whose buy (``free * buy_fraction`` TAO) is above ``dust`` adds to its position when its
    return beats its threshold (``add``) or, holding nothing, enters the strongest watched subnet when
    that return beats it (``enter``).  Returns the number of traders with an order.  The same
    comparisons, in the same floating-point operations, as the population's array expressions."""
    m = 0
    for i in range(pos_nu.size):
        nu = pos_nu[i]
        held = nu >= 0
        value = held_alpha[i] * price[nu if held else 0]
        s = stop[i]
        walk = s and value <= dust
        can = (not s) and free[i] * buy_fraction > dust
        a = can and held and my_sig[i] > threshold[i]
        e = can and (not held) and best_nu[i] >= 0 and best_sig[i] > threshold[i]
        if walk:
            pos_nu[i], pos_hk[i], pos_cost[i] = -1, -1, 0.0
        sell[i] = s and not walk
        add[i] = a
        enter[i] = e
        m += sell[i] or a or e
    return m


class Momentum(_SinglePosition):
    """Trend followers: buy the subnet with the strongest rise, sell on a trailing stop or reversal."""

    kind = "momentum"
    Config = MomentumConfig
    config: MomentumConfig

    def setup(self, ctx: SetupContext) -> None:
        c = self.config
        self.new_coldkeys(ctx.state, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        lb = c.lookback_hours * np.exp(self.rng.normal(0.0, c.lookback_sigma, c.count))
        # look-backs on a grid of whole cadences so agents can be grouped
        self.lookback = np.maximum(np.round(lb * BLOCKS_PER_DAY / 24 / c.cadence_blocks), 1).astype(np.int64) * c.cadence_blocks
        self.threshold = c.threshold * np.exp(self.rng.normal(0.0, c.threshold_sigma, c.count))
        self._init_positions(c.count)

    def _lookback_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct look-backs in blocks, group of each agent); fixed at setup, computed once."""
        if getattr(self, "_groups", None) is None:
            self._groups = np.unique(self.lookback, return_inverse=True)
        return self._groups

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        n = self.coldkeys.size
        if n == 0:
            return
        price = market.price
        watch = market.started if c.netuids is None else np.intersect1d(market.started, np.asarray(c.netuids))
        watch = watch[market.delegate[watch] >= 0]
        groups, inv = self._lookback_groups()
        then = market.prices_ago(groups)  # one row per look-back group
        if then.shape[1] != price.size or (watch.size and watch.max() >= then.shape[1]):  # (as the arrays would)
            raise ValueError(f"the market view samples {then.shape[1]} netuid slots but prices {price.size} and "
                             f"watches up to netuid {int(watch.max(initial=0))}: update it (MarketView.update)")
        my_sig, best_sig = np.empty(n), np.empty(n)
        stop, best_nu = np.empty(n, bool), np.empty(n, np.int64)
        _momentum_signals(price, then, np.ascontiguousarray(watch, np.int64), inv, self.pos_nu, self.pos_peak,
                          self.threshold, 1.0 - c.trailing_stop, my_sig, stop, best_nu, best_sig)
        held_alpha = self._held_alpha(state, stop)  # only a stopped position's size matters
        free = state.balance[self.coldkeys]
        sell, add, enter = np.empty(n, bool), np.empty(n, bool), np.empty(n, bool)
        # sells (or walking away from worthless dust), adds and entries
        m = _momentum_orders(self.pos_nu, self.pos_hk, self.pos_cost, stop, held_alpha, price, free, c.buy_fraction,
                             dust_floor(state), my_sig, best_nu, best_sig, self.threshold, sell, add, enter)
        go = np.flatnonzero(sell | add | enter) if m else np.zeros(0, np.int64)
        order = go[self.rng.permutation(go.size)]
        # the ordering agents' inputs as Python scalars (same values as the arrays' elements)
        for i, sell_i, add_i, amt_i, nu in zip(order.tolist(), sell[order].tolist(), add[order].tolist(),
                                               (free[order] * c.buy_fraction).tolist(), best_nu[order].tolist()):
            if sell_i:
                self._sell_all(state, i, held_alpha[i])
            elif add_i:
                self._buy(state, i, int(self.pos_nu[i]), int(self.pos_hk[i]), amt_i)
            else:
                self._buy(state, i, nu, int(market.delegate[nu]), amt_i)


# ------------------------------------------------------------------------------------------- value
@njit(cache=True)
def _cheapest_followed(ratio: np.ndarray, cover: np.ndarray, best: np.ndarray, best_r: np.ndarray) -> None:
    """Per investor (row of ``cover``, the netuids it follows): the followed subnet with the lowest
    price-to-fair ``ratio`` into ``best`` and that ratio into ``best_r`` -- numpy's ``argmin`` along
    the row (the first of equal minima; the first NaN if there is one)."""
    for i in range(cover.shape[0]):
        jb = 0
        vb = ratio[cover[i, 0]]
        if not np.isnan(vb):
            for j in range(1, cover.shape[1]):
                v = ratio[cover[i, j]]
                if np.isnan(v):
                    jb, vb = j, v
                    break
                if v < vb:
                    jb, vb = j, v
        best[i] = cover[i, jb]
        best_r[i] = vb


@njit(cache=True)
def _rich_rows(ratio: np.ndarray, nus: np.ndarray, agent: np.ndarray, margin: np.ndarray, out: np.ndarray) -> int:
    """Rows of the value investors' book whose subnet's price-to-fair ``ratio`` is above ``1 + margin``
    of the row's investor (``agent``), in row order, into ``out``; returns their count."""
    m = 0
    for r in range(nus.size):
        out[m] = r
        m += ratio[nus[r]] > 1.0 + margin[agent[r]]
    return m


@njit(cache=True)
def _value_buyers(best_r: np.ndarray, best: np.ndarray, margin: np.ndarray, free: np.ndarray, buy_fraction: float,
                  dust: float, delegate: np.ndarray, out: np.ndarray) -> int:
    """Value investors who buy now, in agent order, into ``out``: the cheapest subnet they follow is
    priced below ``1 - margin`` of fair (``best_r``), their buy (``free * buy_fraction`` TAO) is above
    ``dust`` and the subnet has a delegate to stake with; returns their count."""
    m = 0
    for i in range(best.size):
        out[m] = i
        m += (best_r[i] < 1.0 - margin[i]) and (free[i] * buy_fraction > dust) and (delegate[best[i]] >= 0)
    return m


class ValueConfig(BudgetConfig):
    kind: Literal["value"] = "value"
    count: int = Field(50, ge=0, description="number of agents")
    cadence_blocks: int = Field(1800, ge=1, description="blocks between decisions")
    anchor: Literal["quality", "revenue", "both"] = Field("quality", description="what their fair price rests on")
    fundamental_sum: float | None = Field(None, gt=0.0, description="TAO: sum over subnets of quality fair prices (default: the market's sum of prices at the start)")
    revenue_multiple_days: float = Field(365.0, gt=0.0, description="days of outside revenue a subnet's alpha is worth")
    margin: float = Field(0.3, gt=0.0, lt=1.0, description="median discount/premium to fair price that triggers a trade")
    margin_sigma: float = Field(0.3, ge=0.0, description="log-normal spread of margins across agents")
    coverage: int = Field(8, ge=1, description="subnets each investor follows")
    buy_fraction: float = Field(0.25, gt=0.0, le=1.0, description="share of free TAO put in per buy")
    sell_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of a position sold when above fair price")
    max_slippage: float | None = Field(0.05, gt=0.0, description="buys are add_stake_limit at spot*(1+max_slippage), partial fills allowed (None: add_stake)")


class Value(Population):
    """Quality-focused investors: buy a followed subnet below fair price, sell above it."""

    kind = "value"
    Config = ValueConfig
    config: ValueConfig

    def setup(self, ctx: SetupContext) -> None:
        c, st = self.config, ctx.state
        self.new_coldkeys(st, self.draw_budgets(c.count, c.budget_tao, c.budget_sigma))
        self.margin = np.minimum(c.margin * np.exp(self.rng.normal(0.0, c.margin_sigma, c.count)), 0.95)
        started = st.subnet_netuids[st.first_emission_block[st.subnet_netuids] >= 0]
        k = min(c.coverage, max(started.size, 1))
        self.cover = np.stack([self.rng.choice(started, size=k, replace=False) for _ in range(c.count)]) \
            if started.size and c.count else np.zeros((c.count, 0), np.int64)
        if c.fundamental_sum is not None:
            self.fsum = c.fundamental_sum
        else:
            self.fsum = float(np.asarray(st.spot_price())[started].sum()) if started.size else 1.0

    def _book_agents(self, cks: np.ndarray) -> np.ndarray:
        """Agent row of each position in the book (the book only grows: new rows are looked up once)."""
        have = getattr(self, "_agent_of_row", np.zeros(0, np.int64))
        if have.size < cks.size:
            have = np.concatenate([have, np.searchsorted(self.coldkeys, cks[have.size:])])
            self._agent_of_row = have
        return have

    def fair_price(self, state: ChainState, world: World, netuids: np.ndarray) -> np.ndarray:
        """Fair price (TAO/alpha) of ``netuids``: quality share of ``fundamental_sum`` and/or
        ``revenue * revenue_multiple_days / alpha issuance``."""
        c = self.config
        cap = state.n_subnets_cap
        f = np.zeros(cap)
        if c.anchor in ("quality", "both"):
            q = world.subnet_q(cap)
            started = state.subnet_netuids[state.first_emission_block[state.subnet_netuids] >= 0]
            tot = float(q[started].sum())
            if tot > 0:
                f[started] += self.fsum * q[started] / tot
        if c.anchor in ("revenue", "both"):
            iss = state.alpha_issuance()
            rev = world.revenue(cap)
            f += np.divide(rev * c.revenue_multiple_days, iss, out=np.zeros(cap), where=iss > 0)
        return f[netuids]

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        n = self.coldkeys.size
        if n == 0 or self.cover.size == 0:
            return
        cap = state.n_subnets_cap
        price = market.price
        fair = self.fair_price(state, world, np.arange(cap))
        ratio = np.divide(price, fair, out=np.full(cap, np.inf), where=fair > 0)
        ratio[~state.exists] = np.inf
        dust = dust_floor(state)
        # sells: positions priced above fair*(1+margin)
        cks, hks, nus = self.book.arrays()
        if cks.size:
            rich = np.empty(cks.size, np.int64)
            rich = rich[:_rich_rows(ratio, nus, self._book_agents(cks), self.margin, rich)]
            if rich.size:  # only positions priced above their sell level are read
                alpha = self.book.alpha(state, rich)
                ok = alpha * c.sell_fraction * price[nus[rich]] > dust
                for r, a in zip(rich[ok].tolist(), alpha[ok].tolist()):
                    self.submit(state, remove_stake, int(cks[r]), int(hks[r]), int(nus[r]), float(a * c.sell_fraction))
        # buys: the cheapest followed subnet, if below fair*(1-margin)
        best = np.empty(n, np.int64)
        best_r = np.empty(n)
        _cheapest_followed(ratio, self.cover, best, best_r)
        free = state.balance[self.coldkeys]
        buyers = np.empty(n, np.int64)
        buyers = buyers[:_value_buyers(best_r, best, self.margin, free, c.buy_fraction, dust, market.delegate, buyers)]
        order = buyers[self.rng.permutation(buyers.size)]
        # the buyers' inputs as Python scalars (same values as the arrays' elements)
        for ck, nu, hk, tao in zip(self.coldkeys[order].tolist(), best[order].tolist(),
                                   market.delegate[best[order]].tolist(), (free[order] * c.buy_fraction).tolist()):
            if buy_limited(self, state, ck, hk, nu, tao, c.max_slippage) is not None:
                self.book.add(ck, hk, nu)


# ------------------------------------------------------------------------------------ panic sellers
class PanicSellersConfig(PopulationConfig):
    kind: Literal["panic_sellers"] = "panic_sellers"
    netuids: list[int] = Field(..., min_length=1, description="subnets whose alpha they hold from the start")
    count: int = Field(30, ge=0, description="number of agents")
    cadence_blocks: int = Field(300, ge=1, description="blocks between decisions")
    alpha_multiple: float = Field(1.0, ge=0.0, description="their total genesis alpha per subnet, as a multiple of its pool's alpha reserve")
    drawdown: float = Field(0.3, gt=0.0, lt=1.0, description="median fall below the recent high that makes them sell")
    drawdown_sigma: float = Field(0.3, ge=0.0, description="log-normal spread of drawdown thresholds")
    window_hours: float = Field(24.0, gt=0.0, description="the recent high is taken over this window")
    sell_fraction: float = Field(1.0, gt=0.0, le=1.0, description="share of the position dumped when triggered")


class PanicSellers(Population):
    """Early holders (genesis alpha, staked with the subnet owner's validator) who dump on a drawdown."""

    kind = "panic_sellers"
    Config = PanicSellersConfig
    config: PanicSellersConfig

    def setup(self, ctx: SetupContext) -> None:
        c, st = self.config, ctx.state
        self.new_coldkeys(st, np.zeros(c.count))
        self.threshold = np.minimum(c.drawdown * np.exp(self.rng.normal(0.0, c.drawdown_sigma, c.count)), 0.95)
        for nu in c.netuids:
            nu = st.check_subnet(nu)
            hk = int(st.owner_hotkey[nu])
            if hk < 0:
                raise ValueError(f"subnet {nu} has no owner hotkey to stake with")
            if c.count == 0:
                continue
            amounts = self.rng.dirichlet(np.ones(c.count)) * c.alpha_multiple * float(st.alpha_reserve[nu])
            for ck, a in zip(self.coldkeys, amounts):
                if a > 0:
                    seed_stake(st, int(ck), hk, nu, float(a))
                    self.book.add(int(ck), hk, nu)
        if len(c.netuids) == 1:
            self.main_netuid = int(c.netuids[0])

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        cks, hks, nus = self.book.arrays()
        if cks.size == 0:
            return
        high = market.max_over(int(c.window_hours * BLOCKS_PER_DAY / 24))
        price = market.price
        dd = 1.0 - np.divide(price, high, out=np.ones_like(price), where=high > 0)
        agent = np.searchsorted(self.coldkeys, cks)
        alpha = position_alpha(state, cks, hks, nus)
        amt = alpha * c.sell_fraction
        go = (dd[nus] > self.threshold[agent]) & (amt * price[nus] > dust_floor(state))
        for r in np.flatnonzero(go)[self.rng.permutation(int(go.sum()))]:
            self.submit(state, remove_stake, int(cks[r]), int(hks[r]), int(nus[r]), float(amt[r]))
