"""Validator behaviours: weight setting through ``set_weights_rows`` / ``set_weights_batch``.

* ``validators``: the network's validators (root validators on every subnet they hold a UID on,
  and subnet owners' validators) weight miners by latent quality with multiplicative noise; a
  round sends every subnet's rows (u16, cached until the noise is redrawn or the UIDs change) in one
  ``set_weights_rows`` call.
* ``holdings_validators``: a hold-to-earn subnet's own validators weight each miner by how much of
  the subnet's alpha its coldkey holds (staked with the subnet's validators or on its own hotkey).
* ``foundation``: a root-stake-heavy validator registered on a target subnet.  Before its
  intervention it copies the holdings rule there (as weight copiers did) or sits idle; at the
  intervention it switches to its own quality weights.  Its stake weight there is
  ``tao_weight x root stake``; whether its weights decide consensus depends on whether that share of
  the active stake weight is above kappa.
* ``root_validators``: the largest root-stake hotkeys setting root weights over subnets by perceived
  quality (read only by the pre-dTAO ``root_vote`` emission rule).
"""
from __future__ import annotations

import operator
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from dtao.agents.base import (
    Event,
    MarketView,
    Population,
    PopulationConfig,
    SetupContext,
    World,
    coldkey_holdings,
    miner_mask,
    owner_alpha,
    standard_normal,
    uids_of_hotkeys,
)
from dtao.chain.state import ROOT, UID_CHANGES, ChainState
from dtao.chain.weights import (
    freeze,
    max_upscale_u16,
    set_root_weights,
    set_weights_batch,
    set_weights_rows,
    upscale_row_u16,
)

@njit(cache=True, inline="always")
def _quality_score_1(e: float, q: float) -> float:
    """One validator's score of one miner: its noise factor ``e`` = exp(noise x N(0,1)) times the miner's
    latent quality ``q``, at least 0 (``np.maximum(e * q, 0.0)``: NaN kept)."""
    x = e * q
    return x if (x >= 0.0 or x != x) else 0.0


@njit(cache=True)
def _apply_quality(score: np.ndarray, q: np.ndarray) -> None:
    """``score[i, j] = _quality_score_1(score[i, j], q[j])`` in place (float64 (r, m), q (m,))."""
    for i in range(score.shape[0]):
        for j in range(score.shape[1]):
            score[i, j] = _quality_score_1(score[i, j], q[j])


@njit(cache=True)
def _quality_rows_u16(e: np.ndarray, q: np.ndarray, cols: np.ndarray, out: np.ndarray) -> None:
    """:func:`quality_weights` with power 1 and then ``max_upscale_u16(scores, cols, width)`` in one pass
    per row, into ``out`` (uint16 (r, width)): ``e`` float64 (r, m) the noise factors (already
    ``exp``-ed), ``q`` (m,) the miners' qualities, ``cols`` (m,) their UIDs.  The same values as the two
    steps one after the other."""
    r, m = e.shape
    row = np.empty(m)
    up = np.empty(m, np.uint16)
    for i in range(r):
        for j in range(m):
            row[j] = _quality_score_1(e[i, j], q[j])
        upscale_row_u16(row, up)
        o = out[i]
        o[:] = 0
        for j in range(m):
            o[cols[j]] = up[j]


def quality_weights(world: World, miner_hotkeys: np.ndarray, n_setters: int, noise: float, power: float,
                    rng: np.random.Generator, draws: np.ndarray | None = None) -> np.ndarray:
    """Weights (n_setters, n_miners): each validator scores a miner by its latent quality times
    ``exp(noise * N(0,1))``, raised to ``power``.  ``draws``: the (n_setters, n_miners) products
    ``noise * N(0,1)`` already drawn from ``rng`` (overwritten), or None to draw them here."""
    q = world.quality_of(miner_hotkeys)
    if noise > 0 and q.size:
        score = standard_normal(rng, (n_setters, q.size), noise) if draws is None else draws
        np.exp(score, out=score)
    else:
        score = np.ones((n_setters, q.size))
    _apply_quality(score, q)
    return score if power == 1.0 else np.power(score, power, out=score)


class _WeightSetter(Population):
    """Shared bookkeeping: submit one subnet's weight rows and count the rows the chain rejected."""

    def first_offset(self, state: ChainState) -> int:
        """First round after the weights-set rate limit has passed since the genesis weights."""
        lo = state.params.subnet_hyper.weights_set_rate_limit
        hi = max(self.config.cadence_blocks, lo + 1)
        return int(self.rng.integers(lo, hi))

    def _set_rows(self, state: ChainState, netuid: int, setter_uids: np.ndarray, W: np.ndarray) -> None:
        if setter_uids.size == 0:
            return
        self.orders += int(setter_uids.size)
        ok = set_weights_batch(state, netuid, setter_uids, W)
        bad = int((~ok).sum())
        if bad:
            self.rejected["WeightsRejected"] += bad


# ------------------------------------------------------------------------------ quality validators
class ValidatorsConfig(PopulationConfig):
    kind: Literal["validators"] = "validators"
    count: int = Field(0, ge=0, description="not used: the population adopts the state's validators")
    cadence_blocks: int = Field(360, ge=1, description="blocks between decisions")
    noise: float = Field(0.3, ge=0.0, description="log-normal noise on each validator's quality estimate")
    noise_refresh_blocks: int = Field(7200, ge=1, description="blocks between fresh noise draws (each validator's error persists meanwhile)")
    power: float = Field(1.0, gt=0.0, description="weights are score**power")
    include_owners: bool = Field(True, description="subnet owners' hotkeys validate too")
    sell_fraction: float = Field(0.0, ge=0.0, le=1.0, description="share of own alpha (take) sold per sale round")
    sell_every_blocks: int = Field(7200, ge=1, description="blocks between sale rounds")
    exclude_netuids: list[int] = Field(default_factory=list, description="subnets where they set no weights")


class Validators(_WeightSetter):
    """Root validators and subnet owners weighting miners by latent quality plus noise."""

    kind = "validators"
    Config = ValidatorsConfig
    config: ValidatorsConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        hks = [int(h) for h in ctx.roles.root_validators]
        hks += [int(h) for h in ctx.roles.subnet_validators]
        if self.config.include_owners:
            hks += [int(st.owner_hotkey[nu]) for nu in st.subnet_netuids if st.owner_hotkey[nu] >= 0]
        self.hotkeys = np.unique(np.asarray(hks, np.int64))
        self.coldkeys = np.unique(st.hotkey_owner[self.hotkeys]) if self.hotkeys.size else np.zeros(0, np.int64)
        for hk in self.hotkeys:
            ck = int(st.hotkey_owner[hk])
            self.book.add(ck, int(hk), ROOT)
            for nu in st.subnet_netuids:
                if st.uid_of(int(nu), int(hk)) is not None:
                    self.book.add(ck, int(hk), int(nu))
        self._claimed = ctx.roles.claimed  # (pairs are only ever added, by populations' setup)
        self._rows_for: dict[int, tuple] = {}  # netuid -> (its Neurons, key, _plan_rows' result)
        self._plans: dict[int, tuple | None] = {}  # netuid -> (setter uids, u16 rows), or None: nothing to set
        # per netuid, the UIDs its plan was drawn for: (their Neurons, its uid_changes then, its UID
        # count), or None (a Python list: read per subnet every round)
        self._drawn_for: list[tuple | None] = [None] * st.n_subnets_cap
        self._until = np.full(st.n_subnets_cap, -1, np.int64)  # block its noise is redrawn, per netuid
        self._packed: tuple | None = None  # this round's rows packed for set_weights_rows
        self._draw_buf: np.ndarray | None = None  # the redraws' normal draws, kept (see _new_plans)
        self._seen: tuple | None = None  # (UID_CHANGES, the state's Neurons objects) at the last full check
        self._nus = np.zeros(0, np.int64)  # the subnets of that check
        self._last_sale = ctx.start_block
        self._all_validators = ctx.roles.all_validator_hotkeys
        cks, hks, nus = self.book.arrays()
        self._kept = np.where(st.hotkey_owner[hks] == cks, owner_alpha(st, hks, nus), 0.0)

    def _plan_rows(self, state: ChainState, nu: int) -> tuple[np.ndarray, np.ndarray]:
        """Subnet ``nu``'s setters (UIDs of this population's unclaimed hotkeys) and miner mask, kept
        while its UIDs, owner and the claimed pairs stay the same (a noise redraw reuses them)."""
        nr = state.neurons[nu]
        key = (nr.uid_changes, nr.n, int(state.owner_hotkey[nu]), len(self._claimed))
        hit = self._rows_for.get(nu)
        if hit is not None and hit[0] is nr and hit[1] == key:
            return hit[2]
        uids, _ = uids_of_hotkeys(state, nu, self.hotkeys)
        if uids.size and self._claimed:
            keep = np.array([(int(h), nu) not in self._claimed for h in nr.hotkey[uids]], bool)
            uids = uids[keep]
        rows = (uids, miner_mask(state, nu, self._all_validators))
        self._rows_for[nu] = (nr, key, rows)
        return rows

    def _new_plans(self, state: ChainState, world: World, nus: list[int]) -> None:
        """:meth:`_new_plan` for the subnets ``nus`` in their order, the noise of all of them drawn in
        one compiled call (the same draws, in the same order, as one subnet after another)."""
        rows = [self._plan_rows(state, nu) for nu in nus]
        sizes = [u.size * int(m.sum()) if u.size and m.any() else 0 for u, m in rows]
        total = sum(sizes)
        draws = None
        if self.config.noise > 0:
            # one buffer for every redraw (about 12 MB a day at network scale): a fresh one would be
            # mapped and zeroed by the kernel each time (page faults measured at 6-26 ms a redraw)
            buf = self._draw_buf
            if buf is None or buf.size < total:
                buf = self._draw_buf = np.empty(total)
            draws = standard_normal(self.rng, (total,), self.config.noise, out=buf[:total])
        c = self.config
        if draws is not None and c.power == 1.0:
            # every subnet's noise factors at once, then each plan's scores and u16 rows in one compiled
            # pass (_quality_rows_u16: what quality_weights and max_upscale_u16 give one after the other)
            np.exp(draws, out=draws)
            at = 0
            for nu, (uids, miners), size in zip(nus, rows, sizes):
                plan = None
                if size:
                    nr = state.neurons[nu]
                    cols = np.flatnonzero(miners)
                    out = np.empty((uids.size, nr.n), np.uint16)
                    q = world.quality_of(nr.hotkey[cols])
                    _quality_rows_u16(draws[at:at + size].reshape(uids.size, -1), q, cols, out)
                    plan = (uids, out)
                    at += size
                self._set_plan(state, nu, plan)
            return
        at = 0
        for nu, r, size in zip(nus, rows, sizes):
            d = None if draws is None or size == 0 else draws[at:at + size].reshape(r[0].size, -1)
            at += size
            self._new_plan(state, world, nu, r, d)

    def _new_plan(self, state: ChainState, world: World, nu: int,
                  rows: tuple[np.ndarray, np.ndarray] | None = None,
                  draws: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Draw subnet ``nu``'s weight rows afresh: each of its validators weights the miners by latent
        quality times its own noise; the rows are sent as u16 (max-upscaled, as the extrinsic
        carries them).  The plan is kept until the subnet's UIDs change (a registration) or the
        noise is refreshed (``noise_refresh_blocks``).  ``rows``: :meth:`_plan_rows` if already
        taken; ``draws``: its standard normals if already drawn (see :meth:`_new_plans`)."""
        nr = state.neurons[nu]
        uids, miners = self._plan_rows(state, nu) if rows is None else rows
        plan = None
        if uids.size and miners.any():
            c = self.config
            scores = quality_weights(world, nr.hotkey[miners], uids.size, c.noise, c.power, self.rng, draws)
            plan = (uids, max_upscale_u16(scores, np.flatnonzero(miners), nr.n))  # zero off the miners
        self._set_plan(state, nu, plan)
        return plan

    def _set_plan(self, state: ChainState, nu: int, plan: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Keep ``plan`` as subnet ``nu``'s, drawn now for its present UIDs, until its noise expires."""
        nr = state.neurons[nu]
        self._plans[nu] = plan
        self._grow(state.n_subnets_cap)
        self._drawn_for[nu] = (nr, nr.uid_changes, nr.n)
        self._until[nu] = state.block + self.config.noise_refresh_blocks
        self._packed = None

    def _grow(self, cap: int) -> None:
        """Room for netuids below ``cap`` in the per-netuid plan keys (subnets may be added)."""
        if len(self._drawn_for) < cap:
            self._drawn_for.extend([None] * (cap - len(self._drawn_for)))
        if self._until.size < cap:
            self._until = np.concatenate([self._until, np.full(cap - self._until.size, -1, np.int64)])

    def _round(self, state: ChainState, world: World, nus: np.ndarray) -> tuple:
        """The packed rows of this round's subnets ``nus`` (see :func:`set_weights_rows`), redrawing
        only the plans of subnets whose UIDs changed or whose noise expired."""
        # nothing registered anywhere, the same Neurons and subnets as last round, no noise expired:
        # every plan holds (the per-subnet check below would find them all the same)
        p, seen, nrs = self._packed, self._seen, state.neurons
        if (p is not None and seen is not None and seen[0] == UID_CHANGES[0] and len(seen[1]) == len(nrs)
                and all(map(operator.is_, seen[1], nrs)) and np.array_equal(nus, self._nus)
                and not (nus.size and state.block >= self._until[nus].min())):
            return p
        self._seen, self._nus = (UID_CHANGES[0], tuple(nrs)), nus.copy()
        # a plan is redrawn when its subnet's UIDs changed since it was drawn (other Neurons, or a
        # UID registered into them) or its noise expired; subnets with fewer than 2 UIDs get none
        drawn = self._drawn_for
        same, n = [], []
        for nu in nus.tolist():
            nr, d = nrs[nu], drawn[nu]
            ok = d is not None and nr is d[0] and nr.uid_changes == d[1]
            same.append(ok)
            n.append(d[2] if ok else (0 if nr is None else nr.n))
        same = np.array(same, bool)
        live = np.array(n, np.int64) >= 2
        stale = live & (~same | (state.block >= self._until[nus]))
        if stale.any():  # ascending subnet order, as the draws were always made
            self._new_plans(state, world, nus[stale].tolist())
        key = nus[live]
        if self._packed is None or not np.array_equal(self._packed[0], key):
            nets = [int(nu) for nu in key if self._plans[int(nu)] is not None]
            plans = [self._plans[nu] for nu in nets]
            if plans:
                row_net = np.concatenate([np.full(p[0].size, nu, np.int64) for nu, p in zip(nets, plans)])
                row_uid = np.concatenate([p[0] for p in plans]).astype(np.int64)
                values = np.concatenate([p[1].reshape(-1) for p in plans])
                sizes = np.concatenate([np.full(p[0].size, p[1].shape[1], np.int64) for p in plans])
            else:
                row_net = row_uid = sizes = np.zeros(0, np.int64)
                values = np.zeros(0, np.uint16)
            offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            # frozen (read-only, in bytes): the chain knows the rows it stored from them when they come
            # again, and does not read them again (set_weights_rows)
            self._packed = (key, freeze(row_net), freeze(row_uid), freeze(values), freeze(offsets))
        return self._packed

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        c = self.config
        nus = np.asarray(market.subnets, np.int64)
        if c.exclude_netuids:
            nus = nus[~np.isin(nus, np.asarray(c.exclude_netuids, np.int64))]
        self._grow(state.n_subnets_cap)
        _, row_net, row_uid, values, offsets = self._round(state, world, nus)
        if row_uid.size:
            self.orders += int(row_uid.size)
            ok = set_weights_rows(state, row_net, row_uid, values, offsets)
            bad = int(row_uid.size - ok.sum())
            if bad:
                self.rejected["WeightsRejected"] += bad
        if c.sell_fraction > 0 and state.block - self._last_sale >= c.sell_every_blocks:
            self._last_sale = state.block
            self._sell_take(state, market)

    def _sell_take(self, state: ChainState, market: MarketView) -> None:
        """Sell ``sell_fraction`` of the alpha their own coldkeys gained since the last sale (take)."""
        cks, hks, nus = self.book.arrays()
        now = np.where(state.hotkey_owner[hks] == cks, owner_alpha(state, hks, nus), 0.0)
        sale = np.where(nus != ROOT, np.maximum(now - self._kept, 0.0) * self.config.sell_fraction, 0.0)
        self._kept = self.sell_alpha(state, cks, hks, nus, sale, market.price[nus], now)


# ------------------------------------------------------------------------- holdings validators
class HoldingsValidatorsConfig(PopulationConfig):
    kind: Literal["holdings_validators"] = "holdings_validators"
    netuid: int = Field(..., ge=1, description="the hold-to-earn subnet")
    count: int = Field(0, ge=0, description="not used: adopts the subnet owner's validator")
    cadence_blocks: int = Field(360, ge=1, description="blocks between decisions")
    power: float = Field(1.0, gt=0.0, description="weights are holdings**power")


class HoldingsValidators(_WeightSetter):
    """A subnet's own validators scoring each miner by its coldkey's alpha holdings on the subnet."""

    kind = "holdings_validators"
    Config = HoldingsValidatorsConfig
    config: HoldingsValidatorsConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        nu = st.check_subnet(self.config.netuid)
        self.main_netuid = nu
        hk = int(st.owner_hotkey[nu])
        if hk < 0 or st.uid_of(nu, hk) is None:
            raise ValueError(f"subnet {nu} has no owner validator to run holdings scoring")
        self.hotkeys = np.array([hk], np.int64)
        ck = int(st.hotkey_owner[hk])
        self.coldkeys = np.array([ck], np.int64)
        self.book.add(ck, hk, nu)
        ctx.roles.claimed.add((hk, nu))
        self._all_validators = ctx.roles.all_validator_hotkeys

    def weights_for(self, state: ChainState, n_rows: int) -> np.ndarray:
        """The holdings rule on the subnet: one row per setter over all UIDs."""
        nu = self.main_netuid
        nr = state.neurons[nu]
        miners = miner_mask(state, nu, np.concatenate([self._all_validators, self.hotkeys]))
        W = np.zeros((n_rows, nr.n))
        if miners.any():
            h = coldkey_holdings(state, nu, nr.hotkey[miners])
            W[:, miners] = np.power(np.maximum(h, 0.0), self.config.power)
        return W

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        uids, _ = uids_of_hotkeys(state, self.main_netuid, self.hotkeys)
        if uids.size:
            W = self.weights_for(state, uids.size)
            if W.any():
                self._set_rows(state, self.main_netuid, uids, W)


# -------------------------------------------------------------------------------------- foundation
class FoundationConfig(PopulationConfig):
    kind: Literal["foundation"] = "foundation"
    netuid: int = Field(..., ge=1, description="target subnet")
    count: int = Field(0, ge=0, description="not used: adopts the largest root validator")
    hotkey: int | None = Field(None, description="validator hotkey id (default: most root stake)")
    cadence_blocks: int = Field(360, ge=1, description="blocks between decisions")
    before: Literal["copy", "idle"] = Field("copy", description="before the switch: copy the holdings rule, or set no weights")
    noise: float = Field(0.0, ge=0.0, description="noise on its quality scores after the switch")


class Foundation(_WeightSetter):
    """The foundation's validator on one target subnet; switches to its own weights on ``intervention``."""

    kind = "foundation"
    Config = FoundationConfig
    config: FoundationConfig

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        nu = st.check_subnet(self.config.netuid)
        self.main_netuid = nu
        hk = self.config.hotkey if self.config.hotkey is not None else ctx.roles.foundation
        if hk is None or hk < 0:
            raise ValueError("no foundation hotkey: the initial state has no root validator")
        hk = st.check_hotkey(int(hk))
        if st.uid_of(nu, hk) is None:
            raise ValueError(f"foundation hotkey {hk} holds no UID on subnet {nu}")
        self.hotkey = hk
        self.hotkeys = np.array([hk], np.int64)
        ck = int(st.hotkey_owner[hk])
        self.coldkeys = np.array([ck], np.int64)
        self.book.add(ck, hk, ROOT)
        self.book.add(ck, hk, nu)
        ctx.roles.claimed.add((hk, nu))
        self.switched_at: int | None = None
        self.stake_share_at_switch: float | None = None
        self._all_validators = ctx.roles.all_validator_hotkeys
        self._copy_from: HoldingsValidators | None = None

    def bind(self, populations: list[Population]) -> None:
        """Find the holdings validators of the same subnet (whose rule it copies before the switch)."""
        for p in populations:
            if isinstance(p, HoldingsValidators) and p.main_netuid == self.main_netuid:
                self._copy_from = p

    def stake_share(self, state: ChainState) -> float:
        """The foundation's share of the active stake weight (alpha + tw*root over permit holders that
        set weights within the activity cutoff) on the target subnet."""
        nu = self.main_netuid
        nr = state.neurons[nu]
        tw = state.params.tao_weight
        S = state.hotkey_alpha[nr.hotkey, nu] + tw * state.hotkey_alpha[nr.hotkey, ROOT]
        active = nr.validator_permit & (nr.last_update + state.hyper[nu].activity_cutoff >= state.block)
        uid = state.uid_of(nu, self.hotkey)
        active[uid] = True  # it sets weights now
        tot = float(S[active].sum())
        return float(S[uid]) / tot if tot > 0 else 0.0

    def validator_trust(self, state: ChainState) -> float:
        """Its validator trust on the target at the last epoch (u16/65535): the share of its weight
        that survived clipping to consensus (1 = consensus follows it)."""
        uid = state.uid_of(self.main_netuid, self.hotkey)
        return float(state.neurons[self.main_netuid].validator_trust[uid]) / 65535 if uid is not None else 0.0

    def on_event(self, state: ChainState, event: Event, world: World) -> bool:
        if event.kind != "intervention" or self.switched_at is not None:
            return False
        self.switched_at = state.block
        self.stake_share_at_switch = self.stake_share(state)
        kappa = state.hyper[self.main_netuid].kappa / 65535
        self.note(state.block, "intervention", self.main_netuid, hotkey=self.hotkey,
                  stake_share=round(self.stake_share_at_switch, 6), kappa=round(kappa, 6))
        self._apply(state, world)
        return True

    def _apply(self, state: ChainState, world: World) -> None:
        nu = self.main_netuid
        uid = state.uid_of(nu, self.hotkey)
        if uid is None:
            return
        nr = state.neurons[nu]
        uids = np.array([uid], np.int64)
        if self.switched_at is None:
            if self.config.before == "idle" or self._copy_from is None:
                return
            W = self._copy_from.weights_for(state, 1)
        else:
            miners = miner_mask(state, nu, np.concatenate([self._all_validators, self.hotkeys]))
            W = np.zeros((1, nr.n))
            W[:, miners] = quality_weights(world, nr.hotkey[miners], 1, self.config.noise, 1.0, self.rng)
        if W.any():
            self._set_rows(state, nu, uids, W)

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        self._apply(state, world)


# -------------------------------------------------------------------------------- root validators
class RootValidatorsConfig(PopulationConfig):
    kind: Literal["root_validators"] = "root_validators"
    count: int = Field(0, ge=0, description="not used: adopts the root validators of the initial state")
    cadence_blocks: int = Field(360, ge=1, description="blocks between decisions (the root tempo is 360)")
    max_validators: int | None = Field(None, ge=1, description="how many of the largest root-stake hotkeys set root weights (default: the chain's max_root_validators)")
    noise: float = Field(0.3, ge=0.0, description="log-normal noise on each validator's estimate of a subnet's quality")
    noise_refresh_blocks: int = Field(7200, ge=1, description="blocks between fresh noise draws (each validator's error persists meanwhile)")
    price_weight: float = Field(0.0, ge=0.0, le=1.0, description="weight of the subnet's share of prices in its score (the rest: its share of perceived quality)")
    power: float = Field(1.0, gt=0.0, description="weights are score**power")


class RootValidators(Population):
    """Pre-dTAO root validators: the largest root-stake hotkeys set weights over subnets
    (``set_root_weights``), read only by the ``root_vote`` emission rule (a no-op on chain otherwise).

    Each validator scores a subnet by its perception of its value: latent quality times
    ``exp(noise x N(0,1))`` (an error that persists ``noise_refresh_blocks``), normalised over the
    existing subnets, optionally blended with the subnet's share of the sum of spot prices
    (``price_weight``), raised to ``power``.  Weights are set once at genesis (so a ``root_vote``
    world emits from its first block) and then every ``cadence_blocks``.

    The population touches nothing the dTAO market reads, so the driver runs it outside the random
    order and tick of the market populations and it draws only from its own seed stream: adding it
    leaves every ``ema_price``/``flow`` run bit-identical."""

    kind = "root_validators"
    Config = RootValidatorsConfig
    config: RootValidatorsConfig
    #: acts only on state the dTAO market does not read (see class docstring)
    market_neutral = True

    def setup(self, ctx: SetupContext) -> None:
        st = ctx.state
        k = self.config.max_validators or st.params.max_root_validators
        hks = np.asarray(ctx.roles.root_validators, np.int64)
        if hks.size == 0:
            raise ValueError("no root validators in the initial state to set root weights")
        stake = st.hotkey_alpha[hks, ROOT]
        order = np.argsort(-stake, kind="stable")[:k]
        self.hotkeys = hks[order]
        self._noise: np.ndarray | None = None
        self._noise_until = -1
        self.last_weights: np.ndarray | None = None  # (validators, netuids) rows set last round
        self.last_netuids = np.zeros(0, np.int64)
        self._set(st, None, ctx.world)

    def _quality(self, world: World, netuids: np.ndarray) -> np.ndarray:
        """Latent quality of ``netuids`` without drawing for unseen subnets (median 1 assumed)."""
        q = np.ones(netuids.size)
        have = netuids < world.subnet_quality.shape[0]
        q[have] = world.subnet_quality[netuids[have]]
        return q

    def scores(self, state: ChainState, world: World, price: np.ndarray | None,
               netuids: np.ndarray) -> np.ndarray:
        """Root weight rows (validators x ``netuids``): perceived quality share, blended with price share."""
        c = self.config
        n_v, n_s = self.hotkeys.size, netuids.size
        if self._noise is None or state.block >= self._noise_until or self._noise.shape[1] < int(netuids.max()) + 1:
            cap = max(int(netuids.max()) + 1, state.n_subnets_cap)
            self._noise = np.exp(c.noise * self.rng.standard_normal((n_v, cap))) if c.noise > 0 else np.ones((n_v, cap))
            self._noise_until = state.block + c.noise_refresh_blocks
        s = self._quality(world, netuids)[None, :] * self._noise[:, netuids]
        s = s / np.maximum(s.sum(axis=1, keepdims=True), 1e-300)
        if c.price_weight > 0 and price is not None:
            p = np.maximum(price[netuids], 0.0)
            if p.sum() > 0:
                s = (1.0 - c.price_weight) * s + c.price_weight * (p / p.sum())[None, :]
        return np.power(np.maximum(s, 0.0), c.power) if n_s else np.zeros((n_v, 0))

    def _set(self, state: ChainState, price: np.ndarray | None, world: World) -> None:
        nus = np.asarray(state.subnet_netuids, np.int64)
        if nus.size == 0:
            return
        W = self.scores(state, world, price, nus)
        for r, hk in enumerate(self.hotkeys):
            self.submit(state, set_root_weights, int(hk), nus, W[r])
        self.last_weights, self.last_netuids = W, nus

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        self._set(state, market.price, world)
