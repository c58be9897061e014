"""Weight setting: the packed many-subnet form ``set_weights_rows`` against the one-subnet
``set_weights_batch`` (one rule), u16 rows as the extrinsic carries them, its errors (state unchanged)
and rejected rows; and the ``validators`` population sending every subnet's rows in one call."""
from __future__ import annotations

import copy
import math
from fractions import Fraction

import numpy as np
import pytest

from dtao.chain.errors import (
    CanNotSetRootNetworkWeights,
    InvalidAmount,
    SubnetNotExists,
    UidVecContainInvalidOne,
    WeightVecNotEqualSize,
)
from dtao.chain.weights import max_upscale_u16, set_weights, set_weights_batch, set_weights_rows
from dtao.scenario.initial import synthetic

N_SUB, N_UID, N_VAL = 5, 12, 4


def _net(seed: int = 0):
    st = synthetic(np.random.default_rng(seed), n_subnets=N_SUB, n_uids=N_UID, n_validators=N_VAL)
    st.block += 1000
    return st


def _neuron_arrays(st) -> list[np.ndarray]:
    out = []
    for nr in st.neurons:
        if nr is not None:
            out += [nr.weights.copy(), nr.last_update.copy(), nr.validator_permit.copy()]
    return out


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


def _pack(batches: list[tuple[int, np.ndarray, np.ndarray]]):
    """(netuids, setters, values, offsets) of per-subnet (netuid, setter uids, rows) batches."""
    nets = np.concatenate([np.full(u.size, nu, np.int64) for nu, u, _ in batches])
    uids = np.concatenate([u for _, u, _ in batches]).astype(np.int64)
    vals = np.concatenate([W.reshape(-1) for _, _, W in batches])
    sizes = np.concatenate([np.full(u.size, W.shape[1], np.int64) for _, u, W in batches])
    return nets, uids, vals, np.concatenate([[0], np.cumsum(sizes)])


def _random_batches(st, rng, u16: bool):
    batches = []
    for nu in rng.permutation(np.arange(1, N_SUB + 1)):
        n = st.neurons[int(nu)].n
        uids = rng.choice(n, int(rng.integers(1, 6)), replace=True)  # a setter may repeat
        W = rng.random((uids.size, n))
        W[W < 0.4] = 0.0
        if rng.random() < 0.2:
            W[0] = 0.0
        if rng.random() < 0.2:  # only a self-weight
            W[-1] = 0.0
            W[-1, uids[-1]] = 1.0
        if u16:
            W = np.floor(W * float(rng.choice([65535, 30000, 7]))).astype(np.uint16)
        batches.append((int(nu), uids, W))
    return batches


def _scramble(st, rng) -> None:
    """Random permits and last updates so some rows are rejected (no permit, rate limit)."""
    for nu in range(1, N_SUB + 1):
        nr = st.neurons[nu]
        nr.validator_permit[:] = rng.random(nr.n) < 0.6
        nr.last_update[:] = np.where(rng.random(nr.n) < 0.5, st.block - rng.integers(0, 300, nr.n), 0)


@pytest.mark.parametrize("u16", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_rows_equal_per_subnet_batches(seed: int, u16: bool) -> None:
    rng = np.random.default_rng(seed)
    st = _net(seed)
    _scramble(st, rng)
    ref = copy.deepcopy(st)
    batches = _random_batches(st, rng, u16)
    ok_ref = np.concatenate([set_weights_batch(ref, nu, u, W) for nu, u, W in batches])
    ok = set_weights_rows(st, *_pack(batches))
    assert ok.tolist() == ok_ref.tolist()
    assert 0 < ok.sum() < ok.size  # some applied, some rejected
    assert _same(_neuron_arrays(st), _neuron_arrays(ref))
    # a rejected row changed nothing of its setter
    nets, uids, _, _ = _pack(batches)
    for k in np.flatnonzero(~ok):
        nu, u = int(nets[k]), int(uids[k])
        if not ok[(nets == nu) & (uids == u)].any():
            assert st.neurons[nu].last_update[u] == ref.neurons[nu].last_update[u]


def test_u16_rows_are_stored_max_upscaled_as_on_chain() -> None:
    st = _net()
    n = st.neurons[1].n
    full = np.zeros(n, np.uint16)
    full[N_VAL:] = np.arange(n - N_VAL) * 1000 + 65535 - (n - N_VAL - 1) * 1000  # max 65535: kept as is
    low = np.zeros(n, np.uint16)
    low[N_VAL:] = np.arange(1, n - N_VAL + 1)  # max well below 65535: upscaled
    zero = np.zeros(n, np.uint16)
    W = np.stack([full, low, zero])
    ok = set_weights_batch(st, 1, np.arange(3), W)
    assert ok.all()
    w = st.neurons[1].weights
    assert np.array_equal(w[0], full)
    assert np.array_equal(w[1], max_upscale_u16(low.astype(np.float64)))
    assert w[1].max() == 65535 and np.array_equal(w[2], zero)
    # the same rows as floats give the same stored rows
    st2 = _net()
    set_weights_batch(st2, 1, np.arange(3), W.astype(np.float64))
    assert np.array_equal(st2.neurons[1].weights[:3], w[:3])
    # other integer types are read as u16 when in range
    st3 = _net()
    set_weights_batch(st3, 1, np.arange(3), W.astype(np.int64))
    assert np.array_equal(st3.neurons[1].weights[:3], w[:3])


def _bad_calls(st):
    """(error, packed arguments) for each bad input, every one after a valid first row."""
    n1, n2 = st.neurons[1].n, st.neurons[2].n
    good = np.full(n1, 1.0)
    base = (np.array([1, 2]), np.array([0, 1]), np.concatenate([good, np.full(n2, 2.0)]), np.array([0, n1, n1 + n2]))
    nan = base[2].copy()
    nan[-1] = np.nan
    neg = base[2].copy()
    neg[-1] = -1.0
    cap = st.n_subnets_cap
    return [
        (SubnetNotExists, (np.array([1, cap + 3]),) + base[1:]),
        (SubnetNotExists, (np.array([1, -1]),) + base[1:]),
        (CanNotSetRootNetworkWeights, (np.array([1, 0]),) + base[1:]),
        (InvalidAmount, base[:2] + (nan, base[3])),
        (InvalidAmount, base[:2] + (neg, base[3])),
        (InvalidAmount, base[:2] + (np.concatenate([np.ones(n1, np.int64), np.full(n2, 70000)]), base[3])),
        (InvalidAmount, base[:2] + (np.concatenate([np.ones(n1, np.int64), np.full(n2, -1)]), base[3])),
        (WeightVecNotEqualSize, base[:3] + (np.array([0, n1 - 1, n1 + n2]),)),  # row lengths wrong
        (WeightVecNotEqualSize, base[:3] + (np.array([0, n1]),)),  # offsets not rows + 1
        (WeightVecNotEqualSize, base[:3] + (np.array([0, n1, n1 + n2 - 1]),)),  # not ending at values.size
        (WeightVecNotEqualSize, base[:3] + (np.array([0, n1 + n2 + 5, n1 + n2]),)),  # descending offsets
        (WeightVecNotEqualSize, (base[0], np.array([0]), base[2], base[3])),  # setters not one per row
        (UidVecContainInvalidOne, (base[0], np.array([0, n2]), base[2], base[3])),
        (UidVecContainInvalidOne, (base[0], np.array([0, -1]), base[2], base[3])),
    ]


def test_bad_input_raises_typed_error_and_changes_nothing() -> None:
    st = _net()
    before = _neuron_arrays(st)
    for err, args in _bad_calls(st):
        with pytest.raises(err):
            set_weights_rows(st, *args)
        assert _same(_neuron_arrays(st), before), err
    n1 = st.neurons[1].n
    ok = set_weights_rows(st, np.array([1]), np.array([0]), np.full(n1, 1.0), np.array([0, n1]))
    assert ok.tolist() == [True] and np.all(st.neurons[1].weights[0] == 65535)


def test_batch_errors_unchanged() -> None:
    st = _net()
    before = _neuron_arrays(st)
    n = st.neurons[1].n
    for err, args in [
        (CanNotSetRootNetworkWeights, (0, np.array([0]), np.ones((1, st.neurons[0].n)))),
        (SubnetNotExists, (st.n_subnets_cap + 1, np.array([0]), np.ones((1, n)))),
        (WeightVecNotEqualSize, (1, np.array([0]), np.ones((1, n + 1)))),
        (InvalidAmount, (1, np.array([0]), np.full((1, n + 1), np.nan))),  # a bad value is reported first
        (UidVecContainInvalidOne, (1, np.array([n]), np.ones((1, n)))),
        (InvalidAmount, (1, np.array([0]), -np.ones((1, n)))),
    ]:
        with pytest.raises(err):
            set_weights_batch(st, *args)
        assert _same(_neuron_arrays(st), before), err


def test_empty_pack_is_a_no_op() -> None:
    st = _net()
    before = _neuron_arrays(st)
    ok = set_weights_rows(st, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint16), np.zeros(1, np.int64))
    assert ok.size == 0 and _same(_neuron_arrays(st), before)


def test_validators_send_every_subnet_in_one_round() -> None:
    """The population's round equals per-subnet ``set_weights_batch`` of its float quality rows."""
    from dtao.agents import MarketView
    from dtao.agents.validators import Validators
    from dtao.bench.year import year_scenario
    from dtao.scenario.build import build

    w = build(year_scenario(subnets=6, uids=24, validators=8, agents=0, days=0.2), seed=3, n_blocks=1440)
    st = w.state
    pop = next(p for p in w.populations if isinstance(p, Validators))
    market = MarketView(st, 100, 400)
    market.update(st)
    st.block += 200
    ref = copy.deepcopy(st)
    pop.act(st, market, w.world)
    assert pop.orders == 6 * 8 and not pop.rejected
    for nu in map(int, market.subnets):
        uids, W16 = pop._plans[nu]
        assert W16.dtype == np.uint16 and np.all(W16.max(axis=1) == 65535)
        assert set_weights_batch(ref, nu, uids, W16.astype(np.float64)).all()
    assert _same(_neuron_arrays(st), _neuron_arrays(ref))
    # the next round (same noise) writes the same rows again; the rate limit is kept
    st.block += 1
    pop.act(st, market, w.world)
    assert pop.rejected["WeightsRejected"] == 6 * 8
    st.block += 200
    pop.act(st, market, w.world)
    for nu in map(int, market.subnets):
        uids, W16 = pop._plans[nu]
        assert np.array_equal(st.neurons[nu].weights[uids], W16)
        assert np.all(st.neurons[nu].last_update[uids] == st.block)


def _chain_u16_upscale(row: list[int]) -> list[int]:
    """``vec_u16_max_upscale_to_u16`` written out with exact fractions: I32F32 keeps 32 fractional
    bits (division truncates), ``round`` goes half away from zero, the result saturates at 65535."""
    m = max(row)
    if m == 0:
        return [0] * len(row)
    one = 2 ** 32
    if m > 32768:
        ratio = Fraction(math.floor(Fraction(65535 * one, m)), one)
        vals = [e * ratio for e in row]
    else:
        vals = [Fraction(math.floor(Fraction(e * 65535 * one, m)), one) for e in row]
    return [min(math.floor(v + Fraction(1, 2)), 65535) for v in vals]


def test_u16_upscale_is_the_chains_fixed_point_rule() -> None:
    """u16 rows get the chain's I32F32 upscale (ties away from zero); float rows the wallet's rounding."""
    tie = [1, 6]  # 65535/6 = 10922.5: the chain rounds to 10923 (half to even would give 10922)
    assert _chain_u16_upscale(tie) == [10923, 65535]
    rng = np.random.default_rng(7)
    rows = [tie, [0, 0, 0], [65535, 3, 0], [32768, 1, 16384], [32769, 1, 16385], [2, 1, 1]]
    rows += [list(rng.integers(0, hi, 9)) for hi in (3, 40, 5000, 32769, 40000, 65536) for _ in range(20)]
    for row in rows:
        st = _net()
        n = st.neurons[1].n
        vals = np.zeros(n, np.int64)
        vals[:len(row)] = row
        set_weights_batch(st, 1, np.array([0]), vals[None, :])
        expect = _chain_u16_upscale([int(x) for x in vals])
        assert st.neurons[1].weights[0].tolist() == expect, row
        # the single-row extrinsic stores the same row
        st2 = _net()
        hk = int(st2.neurons[1].hotkey[0])
        set_weights(st2, hk, 1, np.arange(n), vals)
        assert st2.neurons[1].weights[0].tolist() == expect, row
    # float weights: scaled to a max of 65535 and rounded half to even, as a wallet sends them
    st = _net()
    set_weights_batch(st, 1, np.array([0]), np.array([[1.0, 6.0] + [0.0] * (st.neurons[1].n - 2)]))
    assert st.neurons[1].weights[0][:2].tolist() == [10922, 65535]


def _reference_rows(st, nets, uids, vals, offs, enforce: bool = True) -> np.ndarray:
    """The rule written out in numpy, row by row: decide every row on the state before any write
    (permit unless only a self-weight; rate limit), then store ``rint(v*65535/max)`` rows in order."""
    ok = np.zeros(nets.size, bool)
    for k in range(nets.size):
        nr = st.neurons[int(nets[k])]
        u = int(uids[k])
        row = vals[offs[k]:offs[k + 1]].astype(np.float64)
        others = bool(np.any(np.delete(row, u) > 0))
        good = bool(nr.validator_permit[u]) or not others
        lu = int(nr.last_update[u])
        limit = st.hyper[int(nets[k])].weights_set_rate_limit
        ok[k] = good and not (enforce and lu != 0 and st.block - lu < limit)
    for k in np.flatnonzero(ok):
        nr = st.neurons[int(nets[k])]
        raw = vals[offs[k]:offs[k + 1]]
        if np.issubdtype(raw.dtype, np.integer):
            nr.weights[int(uids[k])] = _chain_u16_upscale([int(x) for x in raw])
            nr.last_update[int(uids[k])] = st.block
            continue
        row = raw.astype(np.float64)
        mx = row.max()
        nr.weights[int(uids[k])] = np.clip(np.rint(row * 65535.0 / mx), 0, 65535) if mx > 0 else 0
        nr.last_update[int(uids[k])] = st.block
    return ok


@pytest.mark.parametrize("u16", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_rows_follow_the_rule_written_out(seed: int, u16: bool) -> None:
    rng = np.random.default_rng(50 + seed)
    st = _net(seed)
    _scramble(st, rng)
    ref = copy.deepcopy(st)
    packed = _pack(_random_batches(st, rng, u16))
    enforce = bool(seed % 2)
    ok = set_weights_rows(st, *packed, enforce_rate_limit=enforce)
    assert ok.tolist() == _reference_rows(ref, *packed, enforce=enforce).tolist()
    assert _same(_neuron_arrays(st), _neuron_arrays(ref))


def test_max_upscale_at_columns_equals_the_dense_rows() -> None:
    """Upscaling rows over a subset of columns and scattering them equals upscaling the dense rows
    (zeros elsewhere), the form the validators send."""
    rng = np.random.default_rng(3)
    v = rng.random((4, 6)) * 10.0
    v[1] = 0.0  # an all-zero row stays zero
    cols = np.array([5, 0, 2, 3, 7, 9])
    dense = np.zeros((4, 10))
    dense[:, cols] = v
    assert np.array_equal(max_upscale_u16(v, cols, 10), max_upscale_u16(dense))
    for bad in (np.array([5, 0, 2, 3, 7, 10]), np.array([5, 0, 2, 3, 7, -1]), cols[:5]):
        with pytest.raises(ValueError):
            max_upscale_u16(v, bad, 10)
