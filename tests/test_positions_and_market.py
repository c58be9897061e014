"""The agents' read paths (position book, market view) against plain per-item references, and the
scalar staking path's quotes against the compiled rule."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.agents import MarketView
from dtao.agents.base import PositionBook, Population, PopulationConfig, _pairwise, dust_floor, position_alpha
from dtao.bench.chain import bench_network
from dtao.chain.coinbase import run_blocks
from dtao.chain.errors import ChainError
from dtao.chain.staking import add_stake, remove_stake
from dtao.chain.state import MECH_STABLE, ROOT
from dtao.chain.swap import (
    alpha_for_tao_1,
    quote_alpha_for_tao,
    quote_tao_for_alpha,
    sim_swap_alpha_for_tao,
    sim_swap_tao_for_alpha,
    tao_for_alpha_1,
)


@pytest.fixture(scope="module")
def net():
    st_ = bench_network(6, 32, 4)
    run_blocks(st_, 300)
    return st_


def _staked_net(net, orders):
    st_ = net.copy()
    cks = st_.new_coldkeys(np.full(4, 1000.0))
    book = PositionBook()
    for who, nu, own, tao in orders:
        nr = st_.neurons[nu]
        hk = int(st_.owner_hotkey[nu]) if own else int(nr.hotkey[-1])
        ck = int(st_.hotkey_owner[hk]) if own else int(cks[who])
        try:
            add_stake(st_, ck, hk, nu, tao)
        except ChainError:
            pass
        book.add(ck, hk, nu)
    return st_, book


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6), st.booleans(), st.floats(0.5, 80.0)),
                min_size=1, max_size=15))
def test_position_book_reads_every_position_as_the_chain(net, orders) -> None:
    """Owner rows (dense shares) and nominator rows (the map), mixed or not, in insertion order."""
    st_, book = _staked_net(net, orders)
    cks, hks, nus = book.arrays()
    keys = [tuple(map(int, r)) for r in zip(cks, hks, nus)]
    assert len(book) == cks.size == len(set(keys))
    want = np.array([st_.position_value(int(c), int(h), int(n)) for c, h, n in zip(cks, hks, nus)])
    assert np.array_equal(book.alpha(st_), want)
    assert np.array_equal(book.alpha(st_), want)  # again, through the slots remembered by the first read
    assert np.array_equal(position_alpha(st_, cks, hks, nus), want)  # no slots known
    sub = np.flatnonzero(np.arange(cks.size) % 2 == 0)
    assert np.array_equal(position_alpha(st_, cks[sub], hks[sub], nus[sub]), want[sub])
    assert np.array_equal(book.alpha(st_, sub), want[sub])
    with pytest.raises(ValueError):
        cks[0] = 5  # the book's arrays are read-only views


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6), st.booleans(), st.floats(0.5, 80.0)),
                min_size=2, max_size=15), st.data())
def test_position_values_through_stale_slots(net, orders, data) -> None:
    """Slots remembered by one read, then positions closed and others opened (freed slots reused by
    other keys): the next read through the old slots still gives every position's value, and the
    slots are brought up to date."""
    st_, book = _staked_net(net, orders)
    cks, hks, nus = book.arrays()
    slots = np.full(cks.size, -1, np.int64)
    st_.position_values(cks, hks, nus, slots)
    close = data.draw(st.lists(st.integers(0, cks.size - 1), unique=True, max_size=cks.size))
    for r in close:
        a = st_.position_value(int(cks[r]), int(hks[r]), int(nus[r]))
        if a > 0:
            try:
                remove_stake(st_, int(cks[r]), int(hks[r]), int(nus[r]), a)
            except ChainError:
                pass
    extra = st_.new_coldkeys(np.full(3, 500.0))
    for i, r in enumerate(close[:4]):  # new positions take the freed slots: another coldkey on the same
        ck, hk, nu = int(cks[r]), int(hks[r]), int(nus[r])  # pool, or the same coldkey on the other hotkey
        owner_hk = int(st_.owner_hotkey[nu])
        other = int(st_.neurons[nu].hotkey[-1]) if hk == owner_hk else owner_hk
        ck, hk = (int(extra[i]), hk) if i < 2 else (ck, other)
        if int(st_.hotkey_owner[hk]) != ck:
            try:
                add_stake(st_, ck, hk, nu, 5.0)
            except ChainError:
                pass
    want = np.array([st_.position_value(int(c), int(h), int(n)) for c, h, n in zip(cks, hks, nus)])
    assert np.array_equal(st_.position_values(cks, hks, nus, slots), want)
    pm = st_.positions
    for i in range(cks.size):
        key = (int(cks[i]), int(hks[i]), int(nus[i]))
        if int(st_.hotkey_owner[hks[i]]) != key[0]:
            assert slots[i] == pm._slot.get(key, -1)
    assert np.array_equal(st_.position_values(cks, hks, nus, slots), want)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6), st.booleans(), st.floats(0.5, 80.0)),
                min_size=1, max_size=15), st.data())
def test_position_values_where_reads_only_the_masked_positions(net, orders, data) -> None:
    """``where``: the masked positions read as without it, the others read 0, keep their slots and are
    not checked (an unknown id there is no error); a mask of the wrong size is refused."""
    st_, book = _staked_net(net, orders)
    cks, hks, nus = (np.array(a) for a in book.arrays())
    want = np.array([st_.position_value(int(c), int(h), int(n)) for c, h, n in zip(cks, hks, nus)])
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=cks.size, max_size=cks.size)), bool)
    cks[~mask] = st_.n_coldkeys + 5  # unknown ids where not read
    slots = np.full(cks.size, -3, np.int64)
    slots[mask] = -1
    got = st_.position_values(cks, hks, nus, slots, where=mask)
    assert np.array_equal(got, np.where(mask, want, 0.0))
    assert (slots[~mask] == -3).all()
    assert np.array_equal(st_.position_values(cks, hks, nus, slots, where=mask), got)  # through the slots
    with pytest.raises(ValueError):
        st_.position_values(cks, hks, nus, slots, where=mask[:-1] if mask.size else np.ones(1, bool))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 30), st.integers(1, 12), st.integers(1, 400))
def test_prices_ago_match_their_array_definition(seed, samples, depth, tick) -> None:
    """The compiled look-back against the array expressions it replaces: the sample rint(blocks/tick)
    ticks back (half to even), clamped to the oldest kept, NaN (not sampled then) read as today's price."""
    rng = np.random.default_rng(seed)
    st_ = bench_network(2, 8, 2)
    m = MarketView(st_, tick, depth * tick)
    cap = m._hist.shape[1]
    for _ in range(samples):
        m._state = st_
        m._cache = {}
        row = rng.choice([0.5, 1.0, 2.0, np.nan], cap)
        m._hist[m._n % m.depth] = row
        m._n += 1
    m._cache = {"price": rng.choice([0.25, 3.0], cap)}
    blocks = np.concatenate([rng.integers(0, (m.depth + 3) * tick, 6), (np.arange(4) + 0.5) * tick]).astype(np.int64)
    got = m.prices_ago(blocks)
    price = m.price
    if m._n == 0:
        want = np.tile(price, (blocks.size, 1))
    else:
        k = np.minimum(np.maximum(np.rint(blocks / m.tick).astype(np.int64), 0), min(m._n, m.depth) - 1)
        rows = m._hist[(m._n - 1 - k) % m.depth]
        want = np.where(np.isnan(rows), price, rows)
    assert np.array_equal(got, want)


def test_validator_budget_and_quoted_apy_match_their_array_definition(net) -> None:
    """The market view's compiled validator budget and quoted APY against the array formulas (root
    proportion from :func:`root_proportion`, missing subnets 0, no stake 0), with and without an
    entrant's own alpha; the quote handed out is a copy."""
    from dtao.agents.base import BLOCKS_PER_YEAR
    from dtao.chain.coinbase import root_proportion

    st_ = net.copy()
    st_.exists[3] = False  # a missing subnet (the formulas only read the arrays)
    m = MarketView(st_, 100, 1000)
    m.update(st_)
    m._cache["vt"] = (m.delegate, np.where(np.arange(st_.n_subnets_cap) % 2 == 0, m.staked_alpha, 0.0))
    budget = st_.alpha_out_emission * (1.0 - st_.params.subnet_owner_cut) * 0.5 * (1.0 - root_proportion(st_))
    budget = np.where(st_.exists, budget, 0.0)
    assert np.array_equal(m.validator_alpha_per_block, budget)
    for entry in (0.0, 2.5, np.linspace(0.0, 3.0, st_.n_subnets_cap)):
        staked = m.staked_alpha + np.asarray(entry, np.float64)
        want = np.divide(budget * BLOCKS_PER_YEAR, staked, out=np.zeros_like(staked), where=staked > 0)
        assert np.array_equal(m.staking_apy(entry), want)
    a = m.staking_apy()
    a[:] = -1.0
    assert (m.staking_apy() >= 0).all()


def test_position_book_grows_and_keeps_order() -> None:
    book = PositionBook()
    for i in range(100):
        book.add(i, i + 1, i % 3)
    book.add(0, 1, 0)  # a repeat adds nothing
    cks, hks, nus = book.arrays()
    assert len(book) == 100 and np.array_equal(cks, np.arange(100)) and np.array_equal(hks, np.arange(1, 101))
    assert np.array_equal(nus, np.arange(100) % 3)


def _validator_table_reference(m: MarketView) -> tuple[np.ndarray, np.ndarray]:
    """The per-subnet rule written plainly: staked alpha on permit holders and the active permit
    holder (set weights within the activity cutoff) with the largest stake weight, first on ties."""
    st_ = m.state
    delegate = np.full(st_.n_subnets_cap, -1, np.int64)
    staked = np.zeros(st_.n_subnets_cap)
    for nu in st_.subnet_netuids:
        nr = st_.neurons[int(nu)]
        if nr is None or nr.n == 0:
            continue
        a = st_.hotkey_alpha[nr.hotkey, nu]
        permit = nr.validator_permit
        staked[nu] = float(a[permit].sum())
        active = permit & (nr.last_update + st_.hyper[int(nu)].activity_cutoff >= st_.block) & (nr.last_update > 0)
        if not active.any():
            active = permit
        if not active.any():
            continue
        w = np.where(active, a + st_.params.tao_weight * st_.hotkey_alpha[nr.hotkey, ROOT], -1.0)
        delegate[nu] = int(nr.hotkey[int(np.argmax(w))])
    return delegate, staked


def test_validator_table_matches_the_per_subnet_rule(net) -> None:
    st_ = net.copy()
    nus = [int(n) for n in st_.subnet_netuids]
    # subnet 1: nobody active (falls back to every permit holder); subnet 2: no permit holders at all;
    # subnet 3: one late validator active, and a tie in stake weight that the first UID wins
    st_.neurons[nus[0]].last_update[:] = 0
    st_.neurons[nus[1]].validator_permit[:] = False
    nr = st_.neurons[nus[2]]
    nr.last_update[:] = 0
    late = np.flatnonzero(nr.validator_permit)[-1]
    nr.last_update[late] = st_.block
    nr4 = st_.neurons[nus[3]]
    p = np.flatnonzero(nr4.validator_permit)[:2]
    st_.hotkey_alpha[nr4.hotkey[p[1]], nus[3]] = st_.hotkey_alpha[nr4.hotkey[p[0]], nus[3]]
    st_.hotkey_alpha[nr4.hotkey[p], ROOT] = 1e6
    m = MarketView(st_, 100, 1000)
    m.update(st_)
    want_d, want_s = _validator_table_reference(m)
    assert np.array_equal(m.delegate, want_d) and np.array_equal(m.staked_alpha, want_s)  # bit for bit
    assert m.delegate[nus[1]] == -1 and m.staked_alpha[nus[1]] == 0.0
    assert m.delegate[nus[2]] == nr.hotkey[late]
    assert m.delegate[nus[3]] == nr4.hotkey[p[0]]


def test_pairwise_sum_is_numpys_sum() -> None:
    """The validator table's compiled sum adds in numpy's pairwise order: bit for bit ``a.sum()``
    over lengths that cross the 8-lane, 128-block and split boundaries, and offsets into the array."""
    rng = np.random.default_rng(7)
    for n in list(range(0, 140)) + [255, 256, 257, 300, 513, 1000]:
        a = rng.standard_normal(n + 3) * np.exp(rng.normal(0.0, 6.0, n + 3))
        for lo in (0, 3):
            assert 0.0 + _pairwise(a, lo, n) == float(a[lo:lo + n].sum()), (n, lo)
    assert repr(0.0 + _pairwise(np.full(9, -0.0), 0, 9)) == repr(float(np.full(9, -0.0).sum()))


def test_prices_ago_rows_are_price_ago(net) -> None:
    st_ = net.copy()
    m = MarketView(st_, 100, 1500)
    looks = np.array([0, 49, 50, 150, 250, 300, 1000, 10_000])
    assert np.array_equal(m.prices_ago(looks), np.tile(m.price, (looks.size, 1)))  # no history yet
    for k in range(20):
        st_.tao_reserve[1] *= 1.01
        st_.block += 100
        m.update(st_)
        got = m.prices_ago(looks)
        for j, lb in enumerate(looks):
            assert np.array_equal(got[j], m.price_ago(int(lb)))
    assert m.price_ago(250)[1] == m.price_ago(200)[1]  # 2.5 cadences rounds half to even


class _Seller(Population):
    kind = "test_seller"


def test_sell_alpha_sells_above_dust_and_keeps_what_the_chain_refused(net) -> None:
    st_ = net.copy()
    nus = np.array([int(n) for n in st_.subnet_netuids[:3]], np.int64)
    hks = st_.owner_hotkey[nus].astype(np.int64)
    cks = st_.hotkey_owner[hks].astype(np.int64)
    price = np.asarray(st_.spot_price())[nus]
    held = np.array([st_.position_value(int(c), int(h), int(n)) for c, h, n in zip(cks, hks, nus)])
    assert (held > 0).all()
    dust = dust_floor(st_)
    sale = np.array([held[0] * 0.1, 0.5 * dust / price[1], held[2] * 10.0])  # ok, dust, more than held
    pop = _Seller("s", PopulationConfig(kind="test_seller"), np.random.default_rng(0))
    bal = st_.balance[cks].copy()
    left = pop.sell_alpha(st_, cks, hks, nus, sale, price, held.copy())
    assert pop.orders == 2 and sum(pop.rejected.values()) == 1  # the dust sale is never sent
    assert left[0] == held[0] - sale[0] and left[1] == held[1] and left[2] == held[2]
    assert st_.balance[cks[0]] > bal[0] and st_.balance[cks[2]] == bal[2]


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 1e9), st.floats(1e-6, 1e9), st.floats(0.0, 1e9), st.booleans())
def test_scalar_quotes_equal_the_compiled_rule(T, A, x, stable) -> None:
    """The Python-side scalar quote (the rule's source run uncompiled) is bit-identical to the
    compiled rule the coinbase and the vectorised quotes use."""
    st_ = bench_network(1, 8, 2)
    nu = 1
    st_.tao_reserve[nu], st_.alpha_reserve[nu] = T, A
    st_.mechanism[nu] = MECH_STABLE if stable else 1
    ml = st_.params.min_pool_liquidity
    for sim, one, quote in ((sim_swap_tao_for_alpha, tao_for_alpha_1, quote_tao_for_alpha),
                            (sim_swap_alpha_for_tao, alpha_for_tao_1, quote_alpha_for_tao)):
        out, ok = one(T, A, x, stable, ml)
        vo, vok = quote(np.array([T]), np.array([A]), np.array([x]), np.array([stable]), ml)
        assert (out, ok) == (float(vo[0]), bool(vok[0]))
        assert sim(st_, nu, x) == (out if ok else None)
    assert st_.spot_price(nu) == float(np.asarray(st_.spot_price())[nu])


def test_position_values_refuse_unknown_ids(net) -> None:
    """An id outside the state's coldkeys, hotkeys or netuid slots is a clear error, not a read out of
    bounds; the remembered slots are left as they were."""
    from dtao.chain.errors import HotKeyAccountNotExists, InvalidAmount, SubnetNotExists

    st_ = net.copy()
    ck, hk, nu = st_.n_coldkeys - 1, st_.n_hotkeys - 1, 1
    slots = np.full(2, -1, np.int64)
    cases = [
        (np.array([ck, st_.n_coldkeys]), np.array([hk, hk]), np.array([nu, nu]), InvalidAmount),
        (np.array([ck, -1]), np.array([hk, hk]), np.array([nu, nu]), InvalidAmount),
        (np.array([ck, ck]), np.array([hk, st_.n_hotkeys]), np.array([nu, nu]), HotKeyAccountNotExists),
        (np.array([ck, ck]), np.array([hk, hk]), np.array([nu, st_.n_subnets_cap]), SubnetNotExists),
    ]
    for cks, hks, nus, err in cases:
        with pytest.raises(err):
            st_.position_values(cks, hks, nus, slots)
        assert (slots == -1).all()
    with pytest.raises(ValueError):
        st_.position_values(np.array([ck]), np.array([hk, hk]), np.array([nu]))
    assert st_.position_values(np.array([ck]), np.array([hk]), np.array([nu]))[0] == st_.position_value(ck, hk, nu)
