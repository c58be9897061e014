"""Agent behaviours: each acts only through extrinsics, decides as documented, counts rejections."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.agents import KINDS, MarketView
from dtao.agents.base import buy_limited, coldkey_holdings, miner_mask, owner_alpha, position_alpha
from dtao.agents.stakers import Momentum, PanicSellers, Value
from dtao.agents.supply import HoldToEarn, Miners
from dtao.agents.validators import Foundation, HoldingsValidators, Validators
from dtao.chain.coinbase import run_blocks
from dtao.chain.errors import ChainError
from dtao.chain.invariants import check_invariants
from dtao.chain.snapshot import to_dict
from dtao.chain.staking import add_stake
from dtao.scenario import load_scenario
from dtao.scenario.build import build

SMALL = {
    "initial": {"kind": "synthetic", "n_subnets": 4, "n_uids": 24, "root_validators": 4,
                "subnets": [{"netuid": 2, "price_quantile": 0.5, "root_validators": False}]},
    "horizon": {"days": 1.0, "record_every": 300},
    "events": [],
}


def small_world(agents: dict, seed: int = 1, **extra):
    sc = load_scenario("sn28", {**SMALL, "agents": agents, **extra})
    return build(sc, seed=seed)


def market(w, tick: int = 100) -> MarketView:
    m = MarketView(w.state, tick, 7200)
    m.update(w.state)
    return m


def test_every_kind_is_registered_and_documented() -> None:
    assert set(KINDS) == {"validators", "holdings_validators", "foundation", "miners", "owners", "hold_to_earn",
                          "buyback", "founders", "root_stakers", "apy_chasers", "momentum", "value", "panic_sellers",
                          "root_validators", "entrants", "registrants", "new_subnet_buyers", "root_returners"}
    for cls in KINDS.values():
        assert cls.__doc__ and cls.Config.model_fields["kind"].default == cls.kind


def test_rejected_orders_are_counted_and_change_nothing() -> None:
    w = small_world({"m": {"kind": "momentum", "count": 2, "budget_tao": 1.0}})
    pop = w.populations[0]
    before = to_dict(w.state)
    ck = int(pop.coldkeys[0])
    hk = int(w.state.owner_hotkey[1])
    assert pop.submit(w.state, add_stake, ck, hk, 1, 1e9) is None  # more than the balance
    assert pop.submit(w.state, add_stake, ck, hk, 99, 0.5) is None  # no such subnet
    assert pop.orders == 2 and sum(pop.rejected.values()) == 2 and pop.rejected["SubnetNotExists"] == 1
    assert any(k.startswith("NotEnoughBalance") for k in pop.rejected)
    assert to_dict(w.state) == before


def test_validators_weight_miners_by_quality() -> None:
    w = small_world({"v": {"kind": "validators", "noise": 0.0}})
    st_, v = w.state, w.populations[0]
    st_.block += 200  # past the weights rate limit of the genesis weights
    v.act(st_, market(w), w.world)
    nr = st_.neurons[1]
    uid = st_.uid_of(1, int(w.roles.root_validators[0]))
    row = nr.weights[uid].astype(float)
    miners = row > 0
    q = w.world.quality_of(nr.hotkey[miners])
    assert miners.sum() == nr.n - 1 - len(w.roles.root_validators)
    assert np.allclose(row[miners] / row[miners].max(), q / q.max(), atol=1e-4)
    # not on the subnet claimed by nobody but without root validators: only the owner validates there
    assert st_.uid_of(2, int(w.roles.root_validators[1])) is None
    check_invariants(st_)


def test_holdings_validators_and_foundation_switch() -> None:
    agents = {"h": {"kind": "hold_to_earn", "netuid": 2, "count": 6, "budget_tao": 50, "arrival_days": 0},
              "hv": {"kind": "holdings_validators", "netuid": 2},
              "f": {"kind": "foundation", "netuid": 2}}
    w = small_world(agents)
    st_ = w.state
    h, hv, f = w.populations
    assert isinstance(h, HoldToEarn) and isinstance(hv, HoldingsValidators) and isinstance(f, Foundation)
    m = market(w)
    h.act(st_, m, w.world)  # everybody buys (the projected yield is huge)
    held = coldkey_holdings(st_, 2, h.hotkeys)
    assert np.all(held > 0)
    st_.block += 200
    hv.act(st_, m, w.world)
    f.act(st_, m, w.world)
    nr = st_.neurons[2]
    u_hv, u_f = st_.uid_of(2, int(hv.hotkeys[0])), st_.uid_of(2, f.hotkey)
    uids = np.array([st_.uid_of(2, int(k)) for k in h.hotkeys])
    # the owner's validator and the copying foundation weight each miner by its coldkey's holdings
    for u in (u_hv, u_f):
        row = nr.weights[u, uids].astype(float)
        assert np.allclose(row / row.max(), held / held.max(), atol=1e-4)
    # the intervention: the foundation switches to quality
    from dtao.agents.base import Event

    st_.block += 200
    assert f.on_event(st_, Event(st_.block, "intervention", 2, {}), w.world)
    assert not f.on_event(st_, Event(st_.block, "intervention", 2, {}), w.world)  # only once
    row = nr.weights[u_f].astype(float)
    q = w.world.quality_of(nr.hotkey)
    miners = row > 0
    assert np.allclose(row[miners] / row[miners].max(), q[miners] / q[miners].max(), atol=1e-4)
    assert 0.5 < f.stake_share_at_switch < 1.0  # root stake x tao_weight dominates this young subnet
    assert f.notes[-1][1] == "intervention"


def test_hold_to_earn_yield_is_the_incentive_slope() -> None:
    agents = {"h": {"kind": "hold_to_earn", "netuid": 2, "count": 8, "budget_tao": 50, "arrival_days": 0},
              "hv": {"kind": "holdings_validators", "netuid": 2, "cadence_blocks": 100},
              "f": {"kind": "foundation", "netuid": 2, "cadence_blocks": 100}}  # copies the holdings rule
    w = small_world(agents)
    st_ = w.state
    h, hv, f = w.populations
    m = market(w)
    h.act(st_, m, w.world)
    assert h.holding_yield(st_) > 0  # before any income: the whole miner budget over their holdings
    for _ in range(8):  # let the holdings weights reach consensus and pay out
        run_blocks(st_, 100)
        hv.act(st_, m, w.world)
        f.act(st_, m, w.world)
    d = h.holding_yield(st_)
    held = coldkey_holdings(st_, 2, h.hotkeys)
    nr = st_.neurons[2]
    e = nr.emission[[st_.uid_of(2, int(k)) for k in h.hotkeys]] * 7200 / 361
    assert d > 0 and d == pytest.approx(e.sum() / held.sum(), rel=0.05)
    check_invariants(st_)


def test_miners_sell_only_new_incentive() -> None:
    w = small_world({"m": {"kind": "miners", "sell_fraction": 1.0}},
                    **{"initial.miner_alpha_share": 0.3})
    st_, mi = w.state, w.populations[0]
    assert isinstance(mi, Miners)
    genesis = owner_alpha(st_, mi.hotkeys, mi.home)
    assert genesis.sum() > 0
    mi.act(st_, market(w), w.world)
    assert mi.orders == 0  # nothing earned yet: genesis holdings are kept
    run_blocks(st_, 800)  # two epochs of incentive
    mi.act(st_, market(w), w.world)
    after = owner_alpha(st_, mi.hotkeys, mi.home)
    assert mi.orders > 0 and np.allclose(after, genesis, rtol=1e-6, atol=1e-6)
    check_invariants(st_)


def test_buy_limited_respects_the_limit_price() -> None:
    w = small_world({"m": {"kind": "momentum", "count": 1, "budget_tao": 1e5, "budget_sigma": 0}})
    st_, pop = w.state, w.populations[0]
    ck, hk = int(pop.coldkeys[0]), int(st_.owner_hotkey[1])
    p0 = st_.spot_price(1)
    spent = buy_limited(pop, st_, ck, hk, 1, 1e5, 0.05)
    assert 0 < spent < 1e5
    # get_max_amount_add measures the limit against the pre-trade alpha reserve ((T+x)/A <= L), so
    # the constant-product spot price ends at most (1+s)^2 above where it was
    assert p0 * 1.05 < st_.spot_price(1) <= p0 * 1.05 ** 2 * (1 + 1e-9)


def test_momentum_buys_the_riser_and_stops_out() -> None:
    w = small_world({"m": {"kind": "momentum", "count": 5, "budget_tao": 10, "threshold": 0.1,
                           "threshold_sigma": 0, "lookback_hours": 1, "lookback_sigma": 0, "cadence_blocks": 300,
                           "trailing_stop": 0.2}})
    st_, mo = w.state, w.populations[0]
    assert isinstance(mo, Momentum)
    m = MarketView(st_, 300, 7200)
    m.update(st_)
    # someone else pumps subnet 3 by ~30%
    big = float(st_.tao_reserve[3]) * 0.15
    whale = st_.new_coldkey(big)  # genesis wallet: minted into the initial issuance
    add_stake(st_, whale, int(st_.owner_hotkey[3]), 3, big)
    st_.block += 300
    m.update(st_)
    mo.act(st_, m, w.world)
    assert np.all(mo.pos_nu == 3)
    # the price then collapses: everybody stops out
    sell = st_.position_value(whale, int(st_.owner_hotkey[3]), 3)
    from dtao.chain.staking import remove_stake

    remove_stake(st_, whale, int(st_.owner_hotkey[3]), 3, sell)
    st_.block += 300
    m.update(st_)
    mo.act(st_, m, w.world)
    assert np.all(mo.pos_nu == -1)
    check_invariants(st_)


def test_value_investors_trade_around_fair_price() -> None:
    w = small_world({"v": {"kind": "value", "count": 20, "budget_tao": 50, "coverage": 4, "margin": 0.2,
                           "margin_sigma": 0}})
    st_, va = w.state, w.populations[0]
    assert isinstance(va, Value)
    m = market(w)
    fair = va.fair_price(st_, w.world, np.arange(st_.n_subnets_cap))
    ratio = np.asarray(st_.spot_price()) / np.where(fair > 0, fair, np.inf)
    va.act(st_, m, w.world)
    cks, hks, nus = va.book.arrays()
    assert nus.size and np.all(ratio[np.unique(nus)] < 0.8)  # bought only below fair*(1-margin)
    # the subnets they hold lose their quality: now far above fair value, they sell
    w.world.subnet_quality[np.unique(nus)] = 1e-6
    before = position_alpha(st_, cks, hks, nus).sum()
    st_.block += 1800
    m.update(st_)
    va.act(st_, m, w.world)
    assert position_alpha(st_, cks, hks, nus).sum() < before


def test_panic_sellers_sell_on_drawdown() -> None:
    w = small_world({"p": {"kind": "panic_sellers", "netuids": [2], "count": 10, "drawdown": 0.2,
                           "drawdown_sigma": 0, "window_hours": 24}})
    st_, ps = w.state, w.populations[0]
    assert isinstance(ps, PanicSellers)
    m = MarketView(st_, 300, 7200)
    m.update(st_)
    ps.act(st_, m, w.world)
    assert ps.orders == 0
    held = ps.book.alpha(st_).sum()
    assert held == pytest.approx(st_.alpha_reserve[2], rel=1e-9)  # alpha_multiple 1 x the pool's alpha
    st_.alpha_reserve[2] *= 1.5  # (test) a 33% lower spot price on the next sample
    st_.alpha_minted[2] += st_.alpha_reserve[2] / 3
    st_.block += 300
    m.update(st_)
    ps.act(st_, m, w.world)
    assert ps.orders == 10 and ps.book.alpha(st_).sum() < 1e-6 * held


def test_market_view_lookback() -> None:
    w = small_world({})
    st_ = w.state
    m = MarketView(st_, 100, 1000)
    prices = []
    for k in range(15):
        st_.tao_reserve[1] = 100.0 + k
        st_.block += 100
        m.update(st_)
        prices.append(st_.spot_price(1))
    assert m.price_ago(0)[1] == prices[-1]
    assert m.price_ago(300)[1] == prices[-4]
    assert m.price_ago(10_000)[1] == prices[-m.depth]  # the oldest kept
    assert m.max_over(500)[1] == max(prices[-6:])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4), st.floats(1.0, 50.0)), min_size=1, max_size=12))
def test_position_alpha_matches_the_chain(orders: list[tuple[int, int, float]]) -> None:
    w = small_world({"m": {"kind": "momentum", "count": 4, "budget_tao": 500, "budget_sigma": 0}})
    st_, pop = w.state, w.populations[0]
    for who, nu, tao in orders:
        hk = int(st_.owner_hotkey[nu]) if who % 2 else int(st_.neurons[nu].hotkey[-1])
        try:
            add_stake(st_, int(pop.coldkeys[who]), hk, nu, tao)
        except ChainError:
            pass
        pop.book.add(int(pop.coldkeys[who]), hk, nu)
    cks, hks, nus = pop.book.arrays()
    got = position_alpha(st_, cks, hks, nus)
    want = [st_.position_value(int(c), int(h), int(n)) for c, h, n in zip(cks, hks, nus)]
    assert np.allclose(got, want, rtol=1e-12, atol=0)


def test_populations_never_touch_state_directly() -> None:
    """A mixed run: conservation holds and every TAO an agent population has moved is accounted."""
    agents = {k: v for k, v in load_scenario("sn28").model_dump()["agents"].items()}
    agents["holders"]["netuid"] = agents["sn28_validator"]["netuid"] = agents["foundation"]["netuid"] = 2
    agents["early_holders"]["netuids"] = [2]
    agents["owners"]["exclude_netuids"] = [2]
    sc = load_scenario("sn28", {**SMALL, "agents": agents, "horizon": {"days": 0.5, "record_every": 300}})
    from dtao.sim import run_scenario

    r = run_scenario(sc, seed=2, record_plots=False)
    assert r.summary["conservation_ok"]
    assert r.summary["orders_total"] > 100
    check_invariants(r.state)


def test_quality_weights_cached_until_uids_change() -> None:
    w = small_world({"v": {"kind": "validators", "noise": 0.5, "noise_refresh_blocks": 100_000}})
    st_, v = w.state, w.populations[0]
    assert isinstance(v, Validators)
    st_.block += 200
    v.act(st_, market(w), w.world)
    plan1 = v._plans[1][1].copy()
    st_.block += 400
    v.act(st_, market(w), w.world)
    assert np.array_equal(v._plans[1][1], plan1)  # same persistent noise
    from dtao.chain.registration import burned_register

    ck = st_.new_coldkey(0.0)
    hk = st_.new_hotkey(ck)
    st_._balance[ck] = 0.0
    with pytest.raises(ChainError):
        burned_register(st_, ck, hk, 1)  # no TAO for the burn: nothing changes
    st_.block += 400
    v.act(st_, market(w), w.world)
    assert v._plans[1][1].shape == plan1.shape
    assert np.array_equal(v._plans[1][1], plan1)  # a refused registration changes no UID
    # a registration that takes a UID (replacing one, or appending) redraws that subnet's plan only
    others = {nu: v._plans[nu] for nu in v._plans if nu != 1}
    st_._balance[ck] = 1e6
    burned_register(st_, ck, hk, 1)
    st_.block += 400
    v.act(st_, market(w), w.world)
    assert not np.array_equal(v._plans[1][1], plan1)
    assert all(v._plans[nu] is p for nu, p in others.items())


def test_docs_list_every_parameter() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "agents.md").read_text()
    for kind, cls in KINDS.items():
        assert f"### `{kind}`" in doc, kind
        for field in cls.Config.model_fields:
            assert f"`{field}`" in doc, (kind, field)


def test_miner_mask_is_membership_of_the_validator_hotkeys() -> None:
    """Miners are the UIDs whose hotkey is neither among ``validator_hotkeys`` (any order, repeats
    allowed) nor the subnet owner's."""
    w = small_world({})
    s = w.state
    for nu in s.subnet_netuids:
        hk = s.neurons[nu].hotkey
        rng = np.random.default_rng(int(nu))
        for vals in (np.zeros(0, np.int64), rng.choice(hk, 3), np.concatenate([hk[::-2], hk[:2], [10**9]])):
            want = ~np.isin(hk, vals) & (hk != s.owner_hotkey[nu])
            assert np.array_equal(miner_mask(s, int(nu), vals), want)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 0.5, 1.0, 2.0, np.inf, np.nan]), min_size=1, max_size=12),
       st.integers(1, 6), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_value_investors_pick_the_cheapest_followed_subnet_as_argmin(ratio, k, n, seed) -> None:
    """The compiled pick of each investor's cheapest followed subnet is numpy's argmin along the rows
    (first of equal minima, first NaN), with the ratio it picked."""
    from dtao.agents.stakers import _cheapest_followed

    ratio = np.asarray(ratio)
    cover = np.random.default_rng(seed).integers(0, ratio.size, (n, k))
    best, best_r = np.empty(n, np.int64), np.empty(n)
    _cheapest_followed(ratio, cover, best, best_r)
    rc = ratio[cover]
    j = np.argmin(rc, axis=1)
    assert np.array_equal(best, cover[np.arange(n), j])
    assert np.array_equal(best_r, rc[np.arange(n), j], equal_nan=True)
    assert np.array_equal(np.signbit(best_r), np.signbit(rc[np.arange(n), j]))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(0, 6), st.booleans())
def test_momentum_signals_match_their_array_definition(seed, n_groups, n_watch, with_nan) -> None:
    """The compiled momentum signals against the array formulas they replace: returns, each group's
    best watched subnet (argmax: first of equal maxima, first NaN), peaks and stops."""
    from dtao.agents.stakers import _momentum_signals

    rng = np.random.default_rng(seed)
    cap, n = 7, 40
    price = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], cap)
    then = rng.choice([0.0, 0.5, 1.0, 2.0, -1.0], (n_groups, cap))
    if with_nan:
        then[rng.random(then.shape) < 0.1] = np.nan
    watch = np.sort(rng.choice(cap, n_watch, replace=False)).astype(np.int64)
    inv = rng.integers(0, n_groups, n)
    pos_nu = np.where(rng.random(n) < 0.6, rng.integers(0, cap, n), -1)
    peak0 = rng.choice([0.0, 1.0, 2.5], n)
    threshold = rng.choice([0.1, 0.5, 1.0], n)
    # the array definition
    sig = np.divide(price, then, out=np.ones_like(then), where=then > 0) - 1.0
    held = pos_nu >= 0
    nu_h = np.where(held, pos_nu, 0)
    peak = np.where(held, np.maximum(peak0, price[nu_h]), 0.0)
    my_sig = sig[inv, nu_h]
    stop = held & ((price[nu_h] < 0.75 * peak) | (my_sig < -threshold))
    if watch.size:
        best_nu = watch[np.argmax(sig[:, watch], axis=1)][inv]
        best_sig = sig[inv, best_nu]
    else:
        best_nu, best_sig = np.full(n, -1), np.full(n, -np.inf)
    got = [np.empty(n), np.empty(n, bool), np.empty(n, np.int64), np.empty(n)]
    pk = peak0.copy()
    _momentum_signals(price, then, watch, inv, pos_nu, pk, threshold, 0.75, *got)
    assert np.array_equal(pk, peak) and np.array_equal(got[0], my_sig, equal_nan=True)
    assert np.array_equal(got[1], stop) and np.array_equal(got[2], best_nu)
    assert np.array_equal(got[3], best_sig, equal_nan=True)



_VALUES = [0.0, -0.0, 0.25, 0.5, 1.0, 2.0, 7.0, np.inf, np.nan]


def _pick(rng: np.random.Generator, n: int, nan: bool) -> np.ndarray:
    v = rng.choice(_VALUES if nan else _VALUES[:-2], n)
    return v.astype(np.float64)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (inf x 0 in the references)
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(1, 6), st.booleans())
def test_apy_chasers_decisions_match_their_array_definition(seed, n, top_k, nan) -> None:
    """The APY chasers' compiled exits, entrants and picks against the array expressions they replace
    (leave on a low APY or a stop loss, walk away from dust, enter with enough free TAO, pick among the
    top ``k`` subnets beating the hurdle with one uniform draw)."""
    from dtao.agents.stakers import _apy_exits, _apy_picks

    rng = np.random.default_rng(seed)
    cap = 6
    pos_nu = np.where(rng.random(n) < 0.5, rng.integers(0, cap, n), -1).astype(np.int64)
    pos_hk = np.where(pos_nu >= 0, rng.integers(0, 50, n), -1).astype(np.int64)
    pos_cost, held_alpha = _pick(rng, n, nan), np.where(pos_nu >= 0, _pick(rng, n, nan), 0.0)
    price, apy = _pick(rng, cap, nan), _pick(rng, cap, nan)
    hurdle, free = rng.choice([0.5, 1.0, 2.0, 4.0], n), _pick(rng, n, nan)  # (ties with the APYs)
    exit_ratio, stop_loss, dust, bf = 0.5, 0.5, float(rng.choice([0.0, 0.5, 1.0])), 0.5
    # the array definition
    held = pos_nu >= 0
    nu_h = np.where(held, pos_nu, 0)
    value = held_alpha * price[nu_h]
    leave = held & ((apy[nu_h] < hurdle * exit_ratio) | (value < (1.0 - stop_loss) * pos_cost))
    walk = leave & (value <= dust)
    want_nu, want_hk, want_cost = pos_nu.copy(), pos_hk.copy(), pos_cost.copy()
    want_nu[walk], want_hk[walk], want_cost[walk] = -1, -1, 0.0
    want_sell = leave & ~walk
    want_enter = ~held & (free * bf > dust)
    sell, enter = np.empty(n, bool), np.empty(n, bool)
    m = _apy_exits(pos_nu, pos_hk, pos_cost, held_alpha, price, apy, hurdle, exit_ratio, stop_loss, dust, free, bf,
                   sell, enter)
    assert np.array_equal(sell, want_sell) and np.array_equal(enter, want_enter) and m == want_enter.sum()
    assert np.array_equal(pos_nu, want_nu) and np.array_equal(pos_hk, want_hk)
    assert np.array_equal(pos_cost, want_cost, equal_nan=True)
    cand = np.flatnonzero(rng.random(cap) < 0.7).astype(np.int64)
    if cand.size and m:
        ranked = cand[np.argsort(-apy[cand], kind="stable")]
        desc = apy[ranked]
        u = rng.random(n)
        who = np.flatnonzero(want_enter)
        k = np.minimum(np.searchsorted(-desc, -hurdle[who], side="left"), top_k)
        want_pick = np.full(n, -1, np.int64)
        want_pick[who] = np.where(k > 0, ranked[np.minimum((u[who] * k).astype(np.int64), ranked.size - 1)], -1)
        pick = np.full(n, -7, np.int64)
        _apy_picks(enter, np.minimum(np.searchsorted(-desc, -hurdle[enter], side="left"), top_k), ranked, u, pick)
        assert np.array_equal(pick, want_pick)
        assert np.array_equal(enter, want_enter & (want_pick >= 0))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (inf x 0 in the references)
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.booleans())
def test_momentum_orders_match_their_array_definition(seed, n, nan) -> None:
    """The momentum traders' compiled order masks against the array expressions they replace."""
    from dtao.agents.stakers import _momentum_orders

    rng = np.random.default_rng(seed)
    cap = 6
    pos_nu = np.where(rng.random(n) < 0.5, rng.integers(0, cap, n), -1).astype(np.int64)
    pos_hk = np.where(pos_nu >= 0, rng.integers(0, 50, n), -1).astype(np.int64)
    pos_cost = _pick(rng, n, nan)
    stop = (pos_nu >= 0) & (rng.random(n) < 0.5)
    held_alpha = np.where(stop, _pick(rng, n, nan), 0.0)
    price, free = _pick(rng, cap, nan), _pick(rng, n, nan)
    my_sig, best_sig, threshold = _pick(rng, n, nan) - 1.0, _pick(rng, n, nan) - 1.0, _pick(rng, n, False)
    best_nu = np.where(rng.random(n) < 0.8, rng.integers(0, cap, n), -1).astype(np.int64)
    dust, bf = float(rng.choice([0.0, 0.5, 1.0])), 0.3
    held = pos_nu >= 0
    nu_h = np.where(held, pos_nu, 0)
    value = held_alpha * price[nu_h]
    walk = stop & (value <= dust)
    want_nu, want_hk, want_cost = pos_nu.copy(), pos_hk.copy(), pos_cost.copy()
    want_nu[walk], want_hk[walk], want_cost[walk] = -1, -1, 0.0
    amt = free * bf
    can = ~stop & (amt > dust)
    want = [stop & ~walk, can & held & (my_sig > threshold), can & ~held & (best_nu >= 0) & (best_sig > threshold)]
    got = [np.empty(n, bool) for _ in range(3)]
    m = _momentum_orders(pos_nu, pos_hk, pos_cost, stop, held_alpha, price, free, bf, dust, my_sig, best_nu, best_sig,
                         threshold, *got)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert m == (want[0] | want[1] | want[2]).sum()
    assert np.array_equal(pos_nu, want_nu) and np.array_equal(pos_hk, want_hk)
    assert np.array_equal(pos_cost, want_cost, equal_nan=True)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (inf x 0 in the references)
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.booleans())
def test_value_investors_sell_and_buy_masks_match_their_array_definition(seed, n, nan) -> None:
    """The value investors' compiled rows to sell and buyers against the array expressions they replace."""
    from dtao.agents.stakers import _rich_rows, _value_buyers

    rng = np.random.default_rng(seed)
    cap, agents = 6, 9
    ratio, margin = _pick(rng, cap, nan), np.minimum(_pick(rng, agents, False), 0.95)
    nus = rng.integers(0, cap, n).astype(np.int64)
    agent = rng.integers(0, agents, n).astype(np.int64)
    rich = np.empty(n, np.int64)
    rich = rich[:_rich_rows(ratio, nus, agent, margin, rich)]
    assert np.array_equal(rich, np.flatnonzero(ratio[nus] > 1.0 + margin[agent]))
    best = rng.integers(0, cap, agents).astype(np.int64)
    best_r, free = _pick(rng, agents, nan), _pick(rng, agents, nan)
    delegate = np.where(rng.random(cap) < 0.7, rng.integers(0, 50, cap), -1).astype(np.int64)
    dust, bf = float(rng.choice([0.0, 0.5, 1.0])), 0.25
    buyers = np.empty(agents, np.int64)
    buyers = buyers[:_value_buyers(best_r, best, margin, free, bf, dust, delegate, buyers)]
    want = np.flatnonzero((best_r < 1.0 - margin) & (free * bf > dust) & (delegate[best] >= 0))
    assert np.array_equal(buyers, want)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(0, 70), cols=st.integers(0, 300),
       before=st.integers(0, 5), scale=st.sampled_from([1.0, 0.3, 2.5]))
def test_standard_normal_is_numpys_draw(seed, rows, cols, before, scale) -> None:
    """The validators' compiled normal draw gives NumPy's values (times ``scale``) bit for bit and leaves
    the generator where NumPy would (so the draws after it are NumPy's too)."""
    from dtao.agents.base import standard_normal
    from dtao.scenario.build import stream

    a, b = stream(seed, "t"), stream(seed, "t")
    a.standard_normal(before)
    b.standard_normal(before)
    got = standard_normal(a, (rows, cols), scale)
    want = b.standard_normal((rows, cols))
    if scale != 1.0:
        want = want * scale
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()
    assert a.bit_generator.state == b.bit_generator.state
    assert a.standard_normal(3).tobytes() == b.standard_normal(3).tobytes()
    # into a kept buffer (as the validators' redraws do): the same values, the generator in step
    buf = np.full(rows * cols + 7, np.nan)
    out = standard_normal(a, (rows * cols,), scale, out=buf[:rows * cols])
    want = b.standard_normal(rows * cols)
    if scale != 1.0:
        want = want * scale
    assert out.base is buf or out is buf or out.size == 0
    assert buf[:rows * cols].tobytes() == want.tobytes() and np.isnan(buf[rows * cols:]).all()
    assert a.bit_generator.state == b.bit_generator.state


def test_standard_normal_rejects_a_wrong_buffer() -> None:
    """A buffer of the wrong shape, dtype or layout is refused before anything is drawn."""
    from dtao.agents.base import standard_normal
    from dtao.scenario.build import stream

    a, b = stream(1, "t"), stream(1, "t")
    for bad in (np.empty(5), np.empty(4, np.float32), np.empty(8)[::2]):
        with pytest.raises(ValueError, match="out must be"):
            standard_normal(a, (4,), 1.0, out=bad)
    assert a.bit_generator.state == b.bit_generator.state


def test_validators_plan_rows_follow_registrations_and_owner() -> None:
    """The setters and miner mask kept between noise redraws are those a fresh look would find after a
    validator's UID is replaced, a UID appended, or the subnet's owner hotkey changed."""
    w = small_world({"v": {"kind": "validators", "noise": 0.5}})
    st_, v = w.state, w.populations[0]
    nu = 1

    def fresh():
        v._rows_for.pop(nu, None)
        return v._plan_rows(st_, nu)

    def same(a, b):
        return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])

    before = v._plan_rows(st_, nu)
    assert same(v._plan_rows(st_, nu), before) and before[0].size >= 2 and before[1].any()
    nr = st_.neurons[nu]
    uid = int(before[0][0])  # a validator's UID taken by a new hotkey: no longer a setter, now a miner
    nr.replace(uid, st_.new_hotkey(st_.new_coldkey(0.0)), st_.block)
    got = v._plan_rows(st_, nu)
    assert same(got, fresh()) and uid not in got[0] and got[1][uid]
    nr.append(st_.new_hotkey(st_.new_coldkey(0.0)), st_.block)
    got = v._plan_rows(st_, nu)
    assert same(got, fresh()) and got[1].size == nr.n
    owner = int(nr.hotkey[int(np.flatnonzero(got[1])[0])])  # a miner's hotkey becomes the owner's
    st_.owner_hotkey[nu] = owner
    got = v._plan_rows(st_, nu)
    assert same(got, fresh()) and not got[1][list(nr.hotkey).index(owner)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 20), m=st.integers(1, 40), extra=st.integers(0, 5),
       kind=st.sampled_from(["noise", "zeros", "ties"]))
def test_quality_rows_u16_is_quality_weights_then_upscale(seed, rows, m, extra, kind) -> None:
    """The validators' fused redraw pass gives the u16 rows that quality_weights (power 1) and then
    max_upscale_u16 give: scores exp(noise) x quality at least 0, upscaled into the miners' columns."""
    from dtao.agents.validators import _quality_rows_u16, quality_weights
    from dtao.chain.weights import max_upscale_u16

    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, 0.3, (rows, m))
    q = rng.lognormal(0.0, 1.0, m)
    if kind == "zeros":
        q[rng.random(m) < 0.5] = 0.0
    elif kind == "ties":
        q = np.round(q)

    class _World:
        def quality_of(self, hk):
            return q[np.asarray(hk) - 100]

    width = m + extra
    cols = np.sort(rng.choice(width, m, replace=False)).astype(np.int64)
    want = max_upscale_u16(quality_weights(_World(), np.arange(100, 100 + m), rows, 0.3, 1.0, None, e.copy()), cols,
                           width)
    got = np.empty((rows, width), np.uint16)
    _quality_rows_u16(np.exp(e), q, cols, got)
    assert np.array_equal(got, want)
