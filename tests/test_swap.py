"""Constant-product pool math: exact values, refusal at the minimum reserve, monotone slippage."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.chain.swap import quote_alpha_for_tao, quote_tao_for_alpha

reserve = st.floats(0.02, 1e7, allow_nan=False, allow_infinity=False)
amount = st.floats(1e-9, 1e7, allow_nan=False, allow_infinity=False)


def test_constant_product_values():
    out, ok = quote_tao_for_alpha(1000.0, 1000.0, 1.0)
    assert ok and np.isclose(out, 1000.0 * 1.0 / 1001.0, rtol=1e-15)
    out, ok = quote_alpha_for_tao(1000.0, 1000.0, 1.0)
    assert ok and np.isclose(out, 1000.0 / 1001.0, rtol=1e-15)


def test_refused_below_minimum_liquidity_and_allowed_on_it():
    # new alpha reserve = 0.02*0.02/(0.02+0.02) = 0.01 exactly the minimum: allowed
    out, ok = quote_tao_for_alpha(0.02, 0.02, 0.02)
    assert ok and np.isclose(out, 0.01)
    out, ok = quote_tao_for_alpha(0.02, 0.02, 0.020000001)
    assert not ok and out == 0.0


def test_stable_pools_swap_one_to_one():
    out, ok = quote_tao_for_alpha(0.0, 0.0, 5.0, stable=True)
    assert ok and out == 5.0


@settings(max_examples=300, deadline=None)
@given(reserve, reserve, amount, amount)
def test_monotone_slippage_and_bounds(T, A, x1, x2):
    lo, hi = sorted((x1, x2))
    o1, ok1 = quote_tao_for_alpha(T, A, lo)
    o2, ok2 = quote_tao_for_alpha(T, A, hi)
    if ok1 and ok2:
        assert o2 >= o1 - 1e-12 * max(o1, 1)  # more in, at least as much out
        if lo > 0 and o1 > 0:
            assert o2 / hi <= o1 / lo * (1 + 1e-12)  # average price worsens with size
        assert o2 < A  # never drains the pool
        assert A - o2 >= 0.01 * (1 - 1e-9)  # reserve stays above the minimum
    if ok2:
        assert ok1  # a smaller swap is never refused when a larger one is accepted


@settings(max_examples=200, deadline=None)
@given(reserve, reserve, amount)
def test_round_trip_never_profits(T, A, x):
    a, ok = quote_tao_for_alpha(T, A, x)
    if not ok or a <= 0:
        return
    t, ok2 = quote_alpha_for_tao(T + x, A - a, a)
    if ok2:
        assert t <= x * (1 + 1e-9)
