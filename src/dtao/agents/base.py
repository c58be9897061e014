"""Shared machinery of agent populations: the latent world, the public market view, position books,
order submission with rejection counting, and the Population base class.

A population is a set of agents stored as arrays (one row per agent).  At its cadence it looks at
public chain state (prices, reserves, stakes, last epoch's dividends) and at the latent world it
believes in (subnet and miner quality, outside revenue), decides vectorised, and only the agents
whose decision is non-zero submit an extrinsic.  Orders go through :mod:`dtao.chain.staking` and
:mod:`dtao.chain.weights` exactly as a wallet's would; a rejected call (a ``ChainError``) leaves the
chain state unchanged and is counted by error name.

Units: TAO and alpha amounts are float64 in TAO units; prices are TAO per alpha; time is blocks
(7200 per day).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dtao.chain.coinbase import root_proportion, root_proportion_1
from dtao.chain.errors import ChainError
from dtao.chain.state import _NK_NAMES, H_CUTOFF, MECH_STABLE, ROOT, ChainState, kernel_view, neuron_arrays
from dtao.chain.staking import add_stake, add_stake_limit, remove_stake
from dtao.chain.swap import quote_alpha_for_tao
from dtao.chain.units import BLOCKS_PER_DAY

#: blocks per (365-day) year, used to annualise yields
BLOCKS_PER_YEAR: int = 365 * BLOCKS_PER_DAY


# ------------------------------------------------------------------------------------ the world
@dataclass
class World:
    """Latent facts outside the chain that agents act on (drawn once per run from the seed).

    * ``subnet_quality``: per netuid, a positive score of how useful the subnet's output is
      (dimensionless, median 1).  Value investors anchor fair prices to it.
    * ``hotkey_quality``: per hotkey, the latent quality of the miner behind it (dimensionless,
      median 1; validators weight miners by it plus noise).  Hotkeys created later get a draw from
      ``miner_quality_sigma`` when first looked at.
    * ``subnet_revenue``: per netuid, outside revenue in TAO per day (0 for most subnets).
    """

    rng: np.random.Generator
    subnet_quality: np.ndarray
    hotkey_quality: np.ndarray
    subnet_revenue: np.ndarray
    miner_quality_sigma: float = 0.5

    def _grow_subnets(self, cap: int) -> None:
        if self.subnet_quality.shape[0] < cap:
            k = cap - self.subnet_quality.shape[0]
            self.subnet_quality = np.concatenate([self.subnet_quality, np.exp(self.rng.normal(0.0, 0.5, k))])
            self.subnet_revenue = np.concatenate([self.subnet_revenue, np.zeros(k)])

    def subnet_q(self, cap: int) -> np.ndarray:
        """Subnet quality for netuids ``0..cap-1`` (new netuids get a draw)."""
        self._grow_subnets(cap)
        return self.subnet_quality[:cap]

    def revenue(self, cap: int) -> np.ndarray:
        """Outside revenue per netuid, TAO/day, for netuids ``0..cap-1``."""
        self._grow_subnets(cap)
        return self.subnet_revenue[:cap]

    def quality_of(self, hotkeys: np.ndarray) -> np.ndarray:
        """Latent miner quality of ``hotkeys``; hotkeys never seen get a log-normal draw."""
        hotkeys = np.asarray(hotkeys, np.int64)
        need = int(hotkeys.max()) + 1 if hotkeys.size else 0
        if need > self.hotkey_quality.shape[0]:
            old = self.hotkey_quality.shape[0]
            grow = np.full(max(need, 2 * old) - old, np.nan)
            self.hotkey_quality = np.concatenate([self.hotkey_quality, grow])
        q = self.hotkey_quality[hotkeys]
        miss = np.isnan(q)
        if miss.any():
            for hk in np.unique(hotkeys[miss]):  # sorted order: deterministic draws
                self.hotkey_quality[hk] = float(np.exp(self.rng.normal(0.0, self.miner_quality_sigma)))
            q = self.hotkey_quality[hotkeys]
        return q

    def set_quality(self, hotkeys: np.ndarray, quality: np.ndarray) -> None:
        """Fix the latent quality of ``hotkeys`` (used when a population creates its own miners)."""
        hotkeys = np.asarray(hotkeys, np.int64)
        self.quality_of(hotkeys)  # grow
        self.hotkey_quality[hotkeys] = quality


# ------------------------------------------------------------------------------- roles and claims
@dataclass
class Roles:
    """Who is who in the initial state (hints from the builder; discovered from state for snapshots).

    * ``root_validators``: hotkeys holding root stake that validate on subnets, largest first.
    * ``foundation``: the hotkey with the most root stake (the foundation's validator), or -1.
    * ``root_holders``: coldkeys that nominate root stake to root validators (root stakers).
    * ``subnet_validators``: other validator hotkeys (subnet-specific validators with alpha stake).
    * ``miners``: miner hotkeys present in the initial state.
    * ``claimed``: (hotkey, netuid) pairs whose weights a special population sets; the ordinary
      validators population leaves those alone.
    """

    root_validators: np.ndarray
    foundation: int
    root_holders: np.ndarray
    subnet_validators: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    miners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    claimed: set[tuple[int, int]] = field(default_factory=set)
    all_validator_hotkeys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def finalize(self, state: ChainState) -> "Roles":
        """Fill ``all_validator_hotkeys``: root validators, subnet validators and subnet owners' hotkeys."""
        owners = state.owner_hotkey[state.subnet_netuids]
        self.all_validator_hotkeys = np.unique(np.concatenate([
            self.root_validators, self.subnet_validators, owners[owners >= 0]]).astype(np.int64))
        return self


def discover_roles(state: ChainState) -> Roles:
    """Roles read from a state alone: root validators are hotkeys with root stake that hold a UID on
    some subnet; root holders are coldkeys with root positions on them that do not own them."""
    root = state.hotkey_alpha[:, ROOT]
    on_subnet = np.zeros(state.n_hotkeys, bool)
    for nu in state.subnet_netuids:
        nr = state.neurons[int(nu)]
        if nr is not None and nr.n:
            on_subnet[nr.hotkey] = True
    rv = np.flatnonzero((root > 0) & on_subnet)
    rv = rv[np.argsort(-root[rv], kind="stable")]
    holders = sorted({ck for (ck, hk, nu) in state.positions if nu == ROOT})
    sub_v: list[int] = []
    miners: list[int] = []
    for nu in state.subnet_netuids:
        nr = state.neurons[int(nu)]
        if nr is None or nr.n == 0:
            continue
        staked = nr.validator_permit & (state.hotkey_alpha[nr.hotkey, int(nu)] > 0)
        sub_v += [int(h) for h in nr.hotkey[staked]]
        miners += [int(h) for h in nr.hotkey[~nr.validator_permit | ~staked]]
    sub_v_arr = np.setdiff1d(np.asarray(sub_v, np.int64), rv)
    owners = state.owner_hotkey[state.subnet_netuids]
    miners_arr = np.setdiff1d(np.asarray(miners, np.int64), np.concatenate([rv, sub_v_arr, owners]))
    return Roles(root_validators=rv.astype(np.int64), foundation=int(rv[0]) if rv.size else -1,
                 root_holders=np.asarray(holders, np.int64), subnet_validators=sub_v_arr,
                 miners=miners_arr).finalize(state)


# ----------------------------------------------------------------------------------- random draws
@njit(cache=True)
def _fill_standard_normal(rng: np.random.Generator, out: np.ndarray, scale: float) -> None:
    if scale == 1.0:
        for i in range(out.size):
            out[i] = rng.standard_normal()
    else:
        for i in range(out.size):
            out[i] = rng.standard_normal() * scale


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0,
                    out: np.ndarray | None = None) -> np.ndarray:
    """``rng.standard_normal(shape) * scale`` (``scale`` 1: no product), the same values bit for bit and
    the generator left in the same state, drawn by numba's port of NumPy's ziggurat (about 3x faster
    here: NumPy's build branches on each draw's sign).  Used where an agent draws millions of normals
    (validators' noise).  ``out``: a C-contiguous float64 array of ``shape`` to fill (and return)
    instead of a new one; a caller that draws the same large size again and again keeps one, so that
    the memory is not mapped and zeroed by the kernel afresh each time."""
    if out is None:
        out = np.empty(shape)
    elif out.shape != tuple(shape) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape {tuple(shape)}")
    if out.size:
        _fill_standard_normal(rng, out.reshape(-1), float(scale))
    return out


# ----------------------------------------------------------------------------------- market view
_K_HOTKEY = _NK_NAMES.index("hotkey")
_K_LAST_UPDATE = _NK_NAMES.index("last_update")
_K_PERMIT = _NK_NAMES.index("validator_permit")


@njit(cache=True)
def _pairwise_block(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise float64 sum of ``a[lo:lo+n]`` for ``n <= 128`` (one block: fewer than 8 added
    in order; else eight interleaved lanes, combined pairwise, then the tail in order)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise float64 sum of ``a[lo:lo+n]`` (``pairwise_sum_DOUBLE``): runs of more than 128
    are split in two at half the length rounded down to a multiple of 8 and the halves' sums added;
    evaluated with an explicit stack (numba cannot cache a recursive function).  ``float(a.sum())`` is
    ``0.0 + _pairwise(a, 0, a.size)`` bit for bit."""
    if n <= 128:
        return _pairwise_block(a, lo, n)
    todo = np.empty((128, 3), np.int64)  # (lo, n, children done) in post order; depth < 2 * 64
    vals = np.empty(128)
    top, nv = 0, 0
    todo[0, 0], todo[0, 1], todo[0, 2] = lo, n, 0
    while top >= 0:
        s_lo, s_n, done = todo[top, 0], todo[top, 1], todo[top, 2]
        if s_n <= 128:
            vals[nv] = _pairwise_block(a, s_lo, s_n)
            nv += 1
            top -= 1
        elif done:
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
        else:
            n2 = s_n // 2
            n2 -= n2 % 8
            todo[top, 2] = 1
            todo[top + 1, 0], todo[top + 1, 1], todo[top + 1, 2] = s_lo + n2, s_n - n2, 0  # right, after
            todo[top + 2, 0], todo[top + 2, 1], todo[top + 2, 2] = s_lo, n2, 0  # left, first
            top += 2
    return vals[0]


@njit(cache=True)
def _validator_table_kernel(ptrs: np.ndarray, sizes: np.ndarray, nus: np.ndarray, cutoff: np.ndarray,
                            hotkey_alpha: np.ndarray, tao_weight: float, block: int, delegate: np.ndarray,
                            staked: np.ndarray) -> None:
    """:meth:`MarketView._validator_table` for the subnets ``nus`` (kernel-view ``ptrs``/``sizes``,
    ``cutoff`` = each netuid's ``ActivityCutoff`` in blocks, ``hotkey_alpha`` the (hotkey, netuid)
    alpha stakes): ``staked[nu]`` = alpha on the subnet's permit holders, summed in UID order as numpy
    sums it; ``delegate[nu]`` = the first permit holder (in UID order) with the largest stake weight
    ``alpha + tao_weight * root stake`` among those whose ``LastUpdate`` is positive and within the
    cutoff (every permit holder when none is); subnets without permit holders are left as given."""
    a = np.empty(0)
    for nu in nus:
        t = neuron_arrays(ptrs, sizes, nu)
        hk, last, permit = t[_K_HOTKEY], t[_K_LAST_UPDATE], t[_K_PERMIT]
        if a.size < hk.size:
            a = np.empty(hk.size)
        m = 0
        any_active = False
        for u in range(hk.size):
            if permit[u]:
                a[m] = hotkey_alpha[hk[u], nu]
                m += 1
                any_active |= last[u] + cutoff[nu] >= block and last[u] > 0
        if m == 0:
            continue
        staked[nu] = 0.0 + _pairwise(a, 0, m)
        best = -1.0
        first = -1
        for u in range(hk.size):
            if permit[u]:
                if not any_active or (last[u] + cutoff[nu] >= block and last[u] > 0):
                    w = hotkey_alpha[hk[u], nu] + tao_weight * hotkey_alpha[hk[u], ROOT]
                else:
                    w = -1.0
                if first < 0 or w > best:
                    best, first = w, hk[u]
        delegate[nu] = first


@njit(cache=True)
def _prices_ago(hist: np.ndarray, n: int, tick: int, blocks: np.ndarray, price: np.ndarray, out: np.ndarray) -> None:
    """The market view's samples about ``blocks[g]`` blocks ago into ``out[g]`` (spot prices per netuid,
    TAO/alpha): the sample ``rint(blocks[g] / tick)`` ticks back (half to even, as Python's ``round``),
    at least 0 and at most the oldest kept, from the ring buffer ``hist`` (depth, netuids) of which
    ``n`` samples were ever written; a netuid not sampled then (NaN) reads today's ``price``."""
    depth = hist.shape[0]
    oldest = min(n, depth) - 1
    for g in range(blocks.size):
        k = np.int64(np.rint(blocks[g] / tick))
        k = min(max(k, 0), oldest)
        row = hist[(n - 1 - k) % depth]
        o = out[g]
        for j in range(price.size):
            v = row[j]
            o[j] = price[j] if np.isnan(v) else v


@njit(cache=True)
def _validator_budget(alpha_out_emission: np.ndarray, exists: np.ndarray, owner_cut: float, t0: float,
                      alpha_reserve: np.ndarray, alpha_out: np.ndarray, out: np.ndarray) -> None:
    """Per netuid, alpha paid to validators' alpha stakers per block (v2.0.9 budget) into ``out``:
    ``alpha_out_emission * (1 - owner_cut) * 0.5 * (1 - root_proportion)``, 0 for missing subnets;
    ``t0`` = tao_weight x SubnetTAO[0] (the root proportion's numerator, :func:`root_proportion_1`)."""
    keep = 1.0 - owner_cut
    for j in range(out.size):
        rp = root_proportion_1(t0, alpha_reserve[j] + alpha_out[j])
        out[j] = alpha_out_emission[j] * keep * 0.5 * (1.0 - rp) if exists[j] else 0.0


@njit(cache=True)
def _quoted_apy(budget: np.ndarray, staked: np.ndarray, out: np.ndarray) -> None:
    """Quoted staking APY per netuid into ``out``: ``budget * BLOCKS_PER_YEAR / staked`` (0 where nothing is
    staked)."""
    for j in range(out.size):
        s = staked[j]
        out[j] = budget[j] * BLOCKS_PER_YEAR / s if s > 0 else 0.0


class MarketView:
    """Public market data at the current tick, shared by every population (computed lazily, once).

    Keeps a ring buffer of spot prices sampled every tick so that agents can look back (momentum,
    drawdowns).  Everything here is derivable from public chain storage.
    """

    def __init__(self, state: ChainState, tick_blocks: int, history_blocks: int) -> None:
        self.tick = int(tick_blocks)
        self.depth = max(int(history_blocks // self.tick) + 2, 4)
        self._cap = state.n_subnets_cap
        self._hist = np.full((self.depth, self._cap), np.nan)
        self._hist_block = np.full(self.depth, -1, np.int64)
        self._n = 0
        self.block = state.block
        self._state = state
        self._cache: dict[str, Any] = {}

    # -- sampling
    def update(self, state: ChainState) -> None:
        """Sample the current spot prices (call once per tick, after the block's coinbase)."""
        self._state = state
        self.block = state.block
        self._cache = {}
        if state.n_subnets_cap > self._cap:
            grow = np.full((self.depth, state.n_subnets_cap - self._cap), np.nan)
            self._hist = np.concatenate([self._hist, grow], axis=1)
            self._cap = state.n_subnets_cap
        i = self._n % self.depth
        self._hist[i] = self.price
        self._hist_block[i] = state.block
        self._n += 1

    @property
    def state(self) -> ChainState:
        return self._state

    def _cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def price(self) -> np.ndarray:
        """Spot price per netuid, TAO/alpha (0 for missing subnets, 1 for root)."""
        return self._cached("price", lambda: np.asarray(self._state.spot_price(), np.float64).copy())

    @property
    def subnets(self) -> np.ndarray:
        """Existing netuids except root."""
        return self._cached("subnets", lambda: self._state.subnet_netuids.copy())

    @property
    def started(self) -> np.ndarray:
        """Existing, started (emitting) netuids except root."""
        def f() -> np.ndarray:
            ids = self.subnets
            return ids[self._state.first_emission_block[ids] >= 0]
        return self._cached("started", f)

    def price_ago(self, blocks: int) -> np.ndarray:
        """Spot prices about ``blocks`` ago (the oldest sample kept if history is shorter); per netuid."""
        return self.prices_ago(np.asarray([blocks]))[0]

    def prices_ago(self, blocks: np.ndarray) -> np.ndarray:
        """:meth:`price_ago` for several look-backs at once: one row of spot prices per entry of
        ``blocks`` (shape ``(len(blocks), netuids)``); a netuid not sampled then reads today's price."""
        blocks = np.asarray(blocks).reshape(-1)
        price = self.price
        if self._n == 0:
            return np.tile(price, (blocks.size, 1))
        out = np.empty((blocks.size, price.size))
        _prices_ago(self._hist, self._n, self.tick, np.ascontiguousarray(blocks, np.float64), price, out)
        return out

    def max_over(self, blocks: int) -> np.ndarray:
        """Highest sampled spot price over the last ``blocks`` blocks, per netuid."""
        k = min(max(int(round(blocks / self.tick)), 0) + 1, min(self._n, self.depth))
        if k <= 0:
            return self.price
        idx = (self._n - 1 - np.arange(k)) % self.depth
        return np.fmax(np.nanmax(self._hist[idx], axis=0), self.price)

    @property
    def root_prop(self) -> np.ndarray:
        """Root proportion per netuid (``tw*R / (tw*R + alpha issuance)``)."""
        return self._cached("rp", lambda: root_proportion(self._state))

    def _validator_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Per netuid: the delegate hotkey (permit holder with the largest stake weight that set
        weights within the activity cutoff; -1 if none) and the alpha staked on permit holders
        (one compiled pass over every subnet's permit holders, :func:`_validator_table_kernel`)."""
        st = self._state
        delegate = np.full(st.n_subnets_cap, -1, np.int64)
        staked = np.zeros(st.n_subnets_cap)
        nus = self.subnets
        if nus.size:
            view = kernel_view(st)
            view.sync_neurons(st, nus)
            _validator_table_kernel(view.ptrs, view.sizes, nus, view.hyp_i[:, H_CUTOFF], st.hotkey_alpha,
                                    float(st.params.tao_weight), int(st.block), delegate, staked)
        return delegate, staked

    @property
    def delegate(self) -> np.ndarray:
        """Per netuid, the hotkey nominators stake to: the active permit holder with most stake weight."""
        return self._cached("vt", self._validator_table)[0]

    @property
    def staked_alpha(self) -> np.ndarray:
        """Per netuid, alpha staked on validator-permit holders (alpha units)."""
        return self._cached("vt", self._validator_table)[1]

    @property
    def validator_alpha_per_block(self) -> np.ndarray:
        """Per netuid, alpha paid to validators' alpha stakers per block (v2.0.9 budget):
        ``alpha_out * (1 - owner_cut) / 2 * (1 - root_proportion)``."""
        def f() -> np.ndarray:
            st = self._state
            out = np.empty(st.n_subnets_cap)
            _validator_budget(st.alpha_out_emission, st.exists, float(st.params.subnet_owner_cut),
                              float(st.params.tao_weight * st.tao_reserve[ROOT]), st.alpha_reserve, st.alpha_out, out)
            return out
        return self._cached("vapb", f)

    def staking_apy(self, entry_alpha: np.ndarray | float = 0.0) -> np.ndarray:
        """Quoted alpha staking APY per netuid (simple annual rate, alpha per alpha): the validators'
        alpha budget per block over the alpha already staked plus ``entry_alpha`` (the entrant's own).

        This is the yield a dashboard quotes; it ignores price changes, which is the trap."""
        if isinstance(entry_alpha, float) and entry_alpha == 0.0:  # the quote every agent sees: once a tick
            return self._cached("apy", lambda: self._quote(self.staked_alpha)).copy()
        return self._quote(self.staked_alpha + np.asarray(entry_alpha, np.float64))

    def _quote(self, staked: np.ndarray) -> np.ndarray:
        """:func:`_quoted_apy` of the validators' budget over ``staked`` (alpha; broadcast with the
        per-netuid budget)."""
        budget = np.broadcast_to(self.validator_alpha_per_block, staked.shape)
        out = np.empty(staked.shape)
        _quoted_apy(np.ascontiguousarray(budget).reshape(-1), np.ascontiguousarray(staked).reshape(-1),
                    out.reshape(-1))
        return out


# ---------------------------------------------------------------------------------- position book
class PositionBook:
    """The stake positions (coldkey, hotkey, netuid) a population may hold, valued vectorised.

    A position whose coldkey owns the hotkey is read from the dense owner-share matrix; any other
    from the chain's nominator map.  Value in alpha = pool value * shares / pool shares.  Rows are
    kept in the order they were first added (append only), as int64 arrays grown in place, with each
    position's last known slot in the chain's nominator map (:meth:`PositionMap.shares_of`), so
    reading every position costs one vectorised pass.
    """

    def __init__(self) -> None:
        self._index: dict[tuple[int, int, int], int] = {}
        self._buf = np.full((4, 16), -1, np.int64)  # coldkey, hotkey, netuid, slot (-1: not known)

    def add(self, ck: int, hk: int, nu: int) -> None:
        key = (int(ck), int(hk), int(nu))
        if key not in self._index:
            n = len(self._index)
            if n == self._buf.shape[1]:
                self._buf = np.concatenate([self._buf, np.full_like(self._buf, -1)], axis=1)
            self._buf[0, n], self._buf[1, n], self._buf[2, n] = key
            self._index[key] = n

    def add_many(self, cks: np.ndarray, hks: np.ndarray, nus: np.ndarray) -> None:
        for c, h, n in zip(np.asarray(cks).tolist(), np.asarray(hks).tolist(), np.asarray(nus).tolist()):
            self.add(c, h, n)

    def __len__(self) -> int:
        return len(self._index)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(coldkeys, hotkeys, netuids) of every tracked position (read-only views, in row order)."""
        n = len(self._index)
        out = []
        for j in range(3):
            v = self._buf[j, :n]
            v.flags.writeable = False
            out.append(v)
        return out[0], out[1], out[2]

    def alpha(self, state: ChainState, rows: np.ndarray | None = None) -> np.ndarray:
        """Alpha (TAO on root) held now in each tracked position, or in the positions ``rows``
        (indices into the book's rows)."""
        cks, hks, nus = self.arrays()
        if rows is None:
            return position_alpha(state, cks, hks, nus, slots=self._buf[3, : len(self._index)])
        slots = self._buf[3, rows]
        out = position_alpha(state, cks[rows], hks[rows], nus[rows], slots=slots)
        self._buf[3, rows] = slots
        return out


def position_alpha(state: ChainState, cks: np.ndarray, hks: np.ndarray, nus: np.ndarray,
                   slots: np.ndarray | None = None) -> np.ndarray:
    """Vectorised ``position_value``: alpha owned by each (coldkey, hotkey, netuid) (TAO on root), as
    the chain reads it (:meth:`ChainState.position_values`).

    ``slots``, when given (int64, one per position, -1 where not known), are the positions' slots in
    the chain's nominator map as last read; they are updated in place, so the next read of the same
    positions is one compiled pass."""
    return state.position_values(cks, hks, nus, slots)


@dataclass
class Valuation:
    """A population's holdings valued in TAO (spot: alpha x spot price; liquid: each position sold
    alone into its pool now, the TAO it would really fetch)."""

    free_tao: float
    root_tao: float
    alpha_value_tao: float
    liquid_alpha_tao: float
    main_alpha: float

    @property
    def value_tao(self) -> float:
        return self.free_tao + self.root_tao + self.alpha_value_tao

    @property
    def liquid_value_tao(self) -> float:
        return self.free_tao + self.root_tao + self.liquid_alpha_tao


# ------------------------------------------------------------------------------------ config base
class PopulationConfig(BaseModel):
    """Parameters every population has.  Amounts in TAO, times in blocks or days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    count: int = Field(10, ge=0, description="number of agents")
    cadence_blocks: int = Field(300, ge=1, description="blocks between decisions")
    start_day: float = Field(0.0, ge=0.0, description="first day the population acts")
    stop_day: float | None = Field(None, ge=0.0, description="last day it acts (None: to the end)")

    @model_validator(mode="after")
    def _window(self) -> "PopulationConfig":
        if self.stop_day is not None and self.stop_day < self.start_day:
            raise ValueError(f"stop_day ({self.stop_day}) is before start_day ({self.start_day})")
        return self


class BudgetConfig(PopulationConfig):
    """A population funded at genesis with free TAO per agent (log-normal around ``budget_tao``)."""

    budget_tao: float = Field(100.0, ge=0.0, description="median free TAO per agent at the start")
    budget_sigma: float = Field(0.5, ge=0.0, description="log-normal spread of budgets")


# --------------------------------------------------------------------------------------- contexts
@dataclass
class SetupContext:
    """What a population sees while the initial state is being built (genesis: accounts may be minted)."""

    state: ChainState
    world: World
    roles: Roles
    start_block: int
    horizon_days: float


@dataclass
class Event:
    """A scheduled or triggered event delivered to populations (``kind`` e.g. ``intervention``)."""

    block: int
    kind: str
    netuid: int | None
    params: dict[str, Any]


# --------------------------------------------------------------------------------------- base class
class Population:
    """Base class of agent populations.  Subclasses set ``kind`` and ``Config`` and implement
    :meth:`setup` (create or adopt accounts at genesis) and :meth:`act` (one decision round)."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[PopulationConfig]] = PopulationConfig
    #: True for a population that only writes state the dTAO market never reads (root weights): the
    #: driver runs it outside the market populations' random order and tick, so adding it leaves
    #: every other draw and every ema_price/flow result unchanged
    market_neutral: ClassVar[bool] = False

    def __init__(self, name: str, config: PopulationConfig, rng: np.random.Generator) -> None:
        self.name = name
        self.config = config
        self.rng = rng
        self.coldkeys = np.zeros(0, np.int64)
        self.book = PositionBook()
        self.orders = 0
        self.rejected: Counter[str] = Counter()
        self.initial_value: float | None = None
        self.initial_liquid: float | None = None
        self.costs_tao = 0.0  # TAO spent off-chain (operating costs), subtracted in PnL
        self.external_in_tao = 0.0  # TAO that came from outside during the run (revenue), subtracted in PnL
        self.main_netuid: int | None = None
        self.notes: list[tuple[int, str, int | None, dict[str, Any]]] = []  # (block, kind, netuid, detail)

    # -- lifecycle
    def setup(self, ctx: SetupContext) -> None:
        """Create or adopt this population's accounts (genesis)."""

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        """One decision round at the current block."""

    def on_event(self, state: ChainState, event: Event, world: World) -> bool:
        """Handle a scheduled/triggered event addressed to this population; True if it applied."""
        return False

    def first_offset(self, state: ChainState) -> int:
        """Blocks after the start before this population's first round: uniform over one cadence,
        so that populations do not all act in the same block."""
        return int(self.rng.integers(0, max(self.config.cadence_blocks, 1)))

    def active_at(self, block: int, start_block: int) -> bool:
        day = (block - start_block) / BLOCKS_PER_DAY
        c = self.config
        return day >= c.start_day and (c.stop_day is None or day <= c.stop_day)

    # -- orders
    def submit(self, state: ChainState, fn: Callable[..., Any], *args: Any) -> Any:
        """Submit one extrinsic ``fn(state, *args)``; a ChainError is counted and None returned."""
        self.orders += 1
        try:
            return fn(state, *args)
        except ChainError as exc:
            self.rejected[type(exc).__name__] += 1
            return None

    def sell_alpha(self, state: ChainState, cks: np.ndarray, hks: np.ndarray, nus: np.ndarray, sale: np.ndarray,
                   price: np.ndarray, held: np.ndarray) -> np.ndarray:
        """Unstake ``sale[i]`` alpha from each position ``(cks[i], hks[i], nus[i])`` whose worth
        ``sale[i] * price[i]`` (TAO, ``price`` in TAO/alpha) is above the dust floor, in row order, one
        ``remove_stake`` each.  Returns ``held`` (alpha per position) less what the chain accepted,
        updated in place: the "sell a share of what accrued since the last round" step of miners,
        owners and validators selling incentive, owner cut or take."""
        for i in np.flatnonzero(sale * price > dust_floor(state)):
            if self.submit(state, remove_stake, int(cks[i]), int(hks[i]), int(nus[i]), float(sale[i])) is not None:
                held[i] -= sale[i]
        return held

    def note(self, block: int, kind: str, netuid: int | None, **detail: Any) -> None:
        """Log a notable action to the run's events table."""
        self.notes.append((int(block), kind, None if netuid is None else int(netuid), detail))

    # -- valuation
    def new_coldkeys(self, state: ChainState, budgets: np.ndarray) -> np.ndarray:
        """Mint genesis wallets for this population (they count in the initial issuance)."""
        cks = state.new_coldkeys(np.asarray(budgets, np.float64))
        self.coldkeys = np.concatenate([self.coldkeys, cks])
        return cks

    def draw_budgets(self, n: int, median: float, sigma: float) -> np.ndarray:
        """Log-normal budgets (TAO) around ``median``."""
        if n == 0:
            return np.zeros(0)
        return median * np.exp(self.rng.normal(0.0, sigma, n)) if sigma > 0 else np.full(n, float(median))

    def valuation(self, state: ChainState, price: np.ndarray) -> Valuation:
        """Holdings of the whole population valued in TAO."""
        free = float(state.balance[self.coldkeys].sum()) if self.coldkeys.size else 0.0
        cks, hks, nus = self.book.arrays()
        alpha = self.book.alpha(state)
        on_root = (nus == ROOT) | (state.mechanism[nus] == MECH_STABLE)
        root = float(alpha[on_root].sum())
        dyn = ~on_root & (alpha > 0)
        a, n = alpha[dyn], nus[dyn]
        spot = float((a * price[n]).sum())
        tao_out, ok = quote_alpha_for_tao(state.tao_reserve[n], state.alpha_reserve[n], a, False,
                                          state.params.min_pool_liquidity)
        liquid = float(np.where(ok, tao_out, 0.0).sum())
        main = float(alpha[nus == self.main_netuid].sum()) if self.main_netuid is not None else float("nan")
        return Valuation(free, root, spot, liquid, main)

    def pnl(self, v: Valuation) -> tuple[float, float]:
        """(spot PnL, liquid PnL) in TAO since the start: value now - value at start - outside money
        brought in - off-chain costs paid."""
        base = (self.initial_value or 0.0) + self.external_in_tao + self.costs_tao
        lbase = (self.initial_liquid or 0.0) + self.external_in_tao + self.costs_tao
        return v.value_tao - base, v.liquid_value_tao - lbase


# ------------------------------------------------------------------------------------ helpers
def uids_of_hotkeys(state: ChainState, netuid: int, hotkeys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uids, mask into hotkeys) of the ``hotkeys`` that hold a UID on ``netuid``."""
    nr = state.neurons[netuid]
    if nr is None or nr.n == 0 or hotkeys.size == 0:
        return np.zeros(0, np.int64), np.zeros(hotkeys.shape, bool)
    order = np.argsort(nr.hotkey, kind="stable")
    sorted_hk = nr.hotkey[order]
    pos = np.searchsorted(sorted_hk, hotkeys)
    pos_c = np.minimum(pos, sorted_hk.size - 1)
    hit = sorted_hk[pos_c] == hotkeys
    return order[pos_c[hit]].astype(np.int64), hit


def owner_alpha(state: ChainState, hotkeys: np.ndarray, netuid: int | np.ndarray) -> np.ndarray:
    """Alpha held by each hotkey's own coldkey on ``netuid`` (incentive, take, owner cut land here)."""
    hotkeys = np.asarray(hotkeys, np.int64)
    V = state.hotkey_alpha[hotkeys, netuid]
    D = state.hotkey_shares[hotkeys, netuid]
    S = state.owner_shares[hotkeys, netuid]
    return np.divide(V * S, D, out=np.zeros_like(V), where=D > 0)


def buy_limited(pop: "Population", state: ChainState, ck: int, hk: int, netuid: int, tao: float,
                max_slippage: float | None) -> float | None:
    """Stake ``tao`` with a limit price ``spot * (1 + max_slippage)`` (``add_stake_limit``, partial
    fills allowed), or a plain ``add_stake`` when ``max_slippage`` is None.  The chain measures the
    limit against the pre-trade alpha reserve, so the spot price can end up to ``(1+s)**2`` higher.
    Returns the TAO actually spent, or None if the chain rejected the order."""
    before = state._balance.item(ck)
    if max_slippage is None:
        got = pop.submit(state, add_stake, ck, hk, netuid, tao)
    else:
        limit = state.spot_price(netuid) * (1.0 + max_slippage)
        got = pop.submit(state, add_stake_limit, ck, hk, netuid, tao, limit, True)
    if got is None:
        return None
    return before - state._balance.item(ck)


def miner_mask(state: ChainState, netuid: int, validator_hotkeys: np.ndarray) -> np.ndarray:
    """UIDs of ``netuid`` that are miners: neither a known validator hotkey nor the subnet owner."""
    nr = state.neurons[netuid]
    v = np.sort(np.asarray(validator_hotkeys, np.int64).reshape(-1))
    if v.size:  # membership by binary search in the sorted hotkeys
        m = v[np.minimum(np.searchsorted(v, nr.hotkey), v.size - 1)] != nr.hotkey
    else:
        m = np.ones(nr.hotkey.shape, bool)
    m &= nr.hotkey != state.owner_hotkey[netuid]
    return m


def coldkey_holdings(state: ChainState, netuid: int, miner_hotkeys: np.ndarray) -> np.ndarray:
    """Alpha on ``netuid`` held by each miner's coldkey: staked with any validator-permit holder of
    the subnet plus what sits on the miner's own hotkey."""
    nr = state.neurons[netuid]
    owners = state.hotkey_owner[miner_hotkeys]
    vals = nr.hotkey[nr.validator_permit]
    vals = vals[~np.isin(vals, miner_hotkeys)]
    total = owner_alpha(state, miner_hotkeys, netuid)
    if vals.size and miner_hotkeys.size:
        cks = np.repeat(owners, vals.size)
        hks = np.tile(vals, owners.size)
        nus = np.full(cks.size, netuid, np.int64)
        total = total + position_alpha(state, cks, hks, nus).reshape(owners.size, vals.size).sum(axis=1)
    return total


def dust_floor(state: ChainState) -> float:
    """Smallest order worth submitting (TAO): the chain's minimum stake plus fee, with margin."""
    return 2.0 * (state.params.min_stake + state.params.staking_fee)
