"""Staking extrinsics: checks, fees, share pools, limit orders; rejected calls change nothing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dtao.chain import errors as E
from dtao.chain import staking as S
from dtao.chain.stake_pool import increase_stake_for_hotkey_on_subnet
from dtao.chain.state import ROOT
from tests.conftest import snapshot_of


@pytest.fixture
def chain(small_chain):
    st = small_chain
    ck = st.new_coldkey(1000.0)
    hk = int(st.neurons[1].hotkey[0])
    return st, ck, hk


def test_add_stake_swaps_after_flat_fee(chain):
    st, ck, hk = chain
    T, A = st.tao_reserve[1], st.alpha_reserve[1]
    got = S.add_stake(st, ck, hk, 1, 10.0)
    x = 10.0 - 0.00005
    assert math.isclose(got, A * x / (T + x), rel_tol=1e-12)
    assert math.isclose(st.tao_reserve[1], T + 10.0, rel_tol=1e-15)  # swap input + fee both land in SubnetTAO
    assert st.balance[ck] == 990.0
    assert math.isclose(st.position_value(ck, hk, 1), got, rel_tol=1e-12)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "10", None, True])
def test_bad_amounts_rejected_without_change(chain, bad):
    st, ck, hk = chain
    before = snapshot_of(st)
    with pytest.raises(E.InvalidAmount):
        S.add_stake(st, ck, hk, 1, bad)
    with pytest.raises(E.InvalidAmount):
        S.remove_stake(st, ck, hk, 1, bad)
    assert snapshot_of(st) == before


@pytest.mark.parametrize("call,err", [
    (lambda st, ck, hk: S.add_stake(st, ck, hk, 99, 1.0), E.SubnetNotExists),
    (lambda st, ck, hk: S.add_stake(st, ck, hk, 1, 0.0001), E.AmountTooLow),
    (lambda st, ck, hk: S.add_stake(st, ck, hk, 1, 5000.0), E.NotEnoughBalance),
    (lambda st, ck, hk: S.add_stake(st, ck, 10**6, 1, 1.0), E.HotKeyAccountNotExists),
    (lambda st, ck, hk: S.remove_stake(st, ck, hk, 1, 1.0), E.NotEnoughStakeToWithdraw),
    (lambda st, ck, hk: S.move_stake(st, ck, hk, hk, 1, 2, 1.0), E.NotEnoughStakeToWithdraw),
    (lambda st, ck, hk: S.remove_stake(st, ck, hk, 1, 1e-9), E.AmountTooLow),
    (lambda st, ck, hk: S.add_stake_limit(st, ck, hk, 1, 10.0, st.spot_price(1) * 1.0001, False), E.SlippageTooHigh),
    (lambda st, ck, hk: S.transfer(st, ck, 0, 1e9), E.NotEnoughBalance),
])
def test_rejections_leave_state_unchanged(chain, call, err):
    st, ck, hk = chain
    before = snapshot_of(st)
    with pytest.raises(err):
        call(st, ck, hk)
    assert snapshot_of(st) == before


def test_insufficient_liquidity_rejected_cleanly():
    from dtao.chain.migration import genesis

    st = genesis()
    st.add_subnet(1, tao_reserve=0.02, alpha_reserve=0.02, first_emission_block=1)
    st.alpha_minted[1] = 0.02
    ck = st.new_coldkey(10.0)
    hk = st.new_hotkey(ck)
    before = snapshot_of(st)
    with pytest.raises(E.InsufficientLiquidity):
        S.add_stake(st, ck, hk, 1, 1.0)
    assert snapshot_of(st) == before


def test_remove_stake_dynamic_fee_and_balance(chain):
    st, ck, hk = chain
    a = S.add_stake(st, ck, hk, 1, 50.0)
    st._alpha_dividends_per_subnet[hk, 1] = 1.0
    st._hotkey_alpha_last_epoch[hk, 1] = 100.0
    tao_est = S.sim_swap_alpha_for_tao(st, 1, a)
    fee = S.calculate_staking_fee(st, (hk, 1), None, a)
    assert math.isclose(fee, max(tao_est * 0.01, tao_est * 5e-5, 5e-5))
    bal = st.balance[ck]
    got = S.remove_stake(st, ck, hk, 1, a)
    assert math.isclose(got, tao_est - fee, rel_tol=1e-9)
    assert math.isclose(st.balance[ck], bal + got)
    assert st.position_value(ck, hk, 1) == 0.0


def test_nominators_gain_pro_rata(chain):
    st, ck, hk = chain
    ck2 = st.new_coldkey(1000.0)
    S.add_stake(st, ck, hk, 1, 10.0)
    S.add_stake(st, ck2, hk, 1, 30.0)
    v1, v2 = st.position_value(ck, hk, 1), st.position_value(ck2, hk, 1)
    owner = int(st.hotkey_owner[hk])
    v0 = st.position_value(owner, hk, 1)
    total = st.hotkey_alpha[hk, 1]
    increase_stake_for_hotkey_on_subnet(st, hk, 1, 5.0)
    for c, v in ((ck, v1), (ck2, v2), (owner, v0)):
        assert math.isclose(st.position_value(c, hk, 1), v * (total + 5.0) / total, rel_tol=1e-12)


def test_dust_rule_removes_whole_position(chain):
    st, ck, hk = chain
    a = S.add_stake(st, ck, hk, 1, 10.0)
    S.remove_stake(st, ck, hk, 1, a * (1 - 1e-7))
    assert st.position_value(ck, hk, 1) == 0.0


@pytest.mark.parametrize("share", [0.25, 1 - 1e-7, 2.0])
@pytest.mark.parametrize("as_owner", [False, True])
def test_decrease_removes_what_plan_decrease_promised(chain, share, as_owner):
    """The unstake and its pure plan apply one dust rule: the shares and alpha removed are the plan's,
    for a nominator and for the hotkey's owner, with netuids and keys given as numpy integers."""
    from dtao.chain.stake_pool import decrease_stake_for_hotkey_and_coldkey_on_subnet, plan_decrease

    st, ck, hk = chain
    if as_owner:
        ck = int(st.hotkey_owner[hk])
        st.balance[ck] += 100.0
    S.add_stake(st, ck, hk, 1, 10.0)
    held = st.position_value(ck, hk, 1)
    s0, d0, v0 = st.position_shares(ck, hk, 1), st.hotkey_shares[hk, 1], st.hotkey_alpha[hk, 1]
    shares, alpha = plan_decrease(st, np.int64(ck), np.int64(hk), np.int64(1), held * share)
    got = decrease_stake_for_hotkey_and_coldkey_on_subnet(st, np.int64(ck), np.int64(hk), np.int64(1), held * share)
    assert got == alpha
    assert st.position_shares(ck, hk, 1) == max(s0 - shares, 0.0)
    assert st.hotkey_shares[hk, 1] == max(d0 - shares, 0.0)
    assert st.hotkey_alpha[hk, 1] == max(v0 - alpha, 0.0)
    if share >= 1 - 1e-7:  # the whole position goes (dust rule or more than held)
        assert st.position_value(ck, hk, 1) == 0.0 and alpha == held


def test_unstake_just_above_position_is_charged_on_the_position(chain):
    """A request above the position within the 1e-12 tolerance is capped at the position: the dynamic
    fee is quoted on the capped alpha (not on the request checked first), so the TAO out equals an
    unstake of exactly the position, bit for bit."""
    import copy

    st, ck, hk = chain
    S.add_stake(st, ck, hk, 1, 50.0)
    st._alpha_dividends_per_subnet[hk, 1] = 1.0
    st._hotkey_alpha_last_epoch[hk, 1] = 100.0
    held = st.position_value(ck, hk, 1)
    twin = copy.deepcopy(st)
    over = held * (1 + 5e-13)
    assert over > held
    assert S.calculate_staking_fee(st, (hk, 1), None, over) != S.calculate_staking_fee(st, (hk, 1), None, held)
    assert S.remove_stake(st, ck, hk, 1, over) == S.remove_stake(twin, ck, hk, 1, held)
    assert snapshot_of(st) == snapshot_of(twin)


def test_move_stake_routes_through_tao(chain):
    st, ck, hk = chain
    a = S.add_stake(st, ck, hk, 1, 20.0)
    hk2 = int(st.neurons[2].hotkey[0])
    T1, T2 = st.tao_reserve[1], st.tao_reserve[2]
    got = S.move_stake(st, ck, hk, hk2, 1, 2, a)
    assert got > 0 and st.position_value(ck, hk, 1) == 0.0
    assert math.isclose(st.position_value(ck, hk2, 2), got, rel_tol=1e-12)
    assert st.tao_reserve[1] < T1 and st.tao_reserve[2] > T2


def test_transfer_stake_changes_owner(chain):
    st, ck, hk = chain
    ck2 = st.new_coldkey(0.0)
    a = S.add_stake(st, ck, hk, 1, 20.0)
    got = S.transfer_stake(st, ck, ck2, hk, 1, 1, a)
    assert st.position_value(ck, hk, 1) == 0.0 and math.isclose(st.position_value(ck2, hk, 1), got, rel_tol=1e-12)


def test_limit_orders(chain):
    st, ck, hk = chain
    p = st.spot_price(1)
    mx = S.get_max_amount_add(st, 1, p * 1.1)
    assert 0 < mx < math.inf
    with pytest.raises(E.SlippageTooHigh):
        S.add_stake_limit(st, ck, hk, 1, mx * 2, p * 1.1, allow_partial=False)
    before = st.balance[ck]
    S.add_stake_limit(st, ck, hk, 1, mx * 2, p * 1.1, allow_partial=True)
    assert math.isclose(before - st.balance[ck], mx, rel_tol=1e-9)
    assert S.get_max_amount_add(st, ROOT, 1.0) == math.inf
    # a limit above the price allows no unstake: partial -> a no-op, not partial -> SlippageTooHigh
    a = st.position_value(ck, hk, 1)
    assert S.remove_stake_limit(st, ck, hk, 1, a / 2, st.spot_price(1) * 2, allow_partial=True) == 0.0
    assert st.position_value(ck, hk, 1) == a
    with pytest.raises(E.SlippageTooHigh):
        S.remove_stake_limit(st, ck, hk, 1, a / 2, st.spot_price(1) * 2, allow_partial=False)


def test_limit_fill_below_fee_is_all_fee(chain):
    st, ck, hk = chain
    p = st.spot_price(1)
    mx = S.get_max_amount_add(st, 1, p * (1 + 1e-9))
    assert 0 < mx < 0.00005
    T = st.tao_reserve[1]
    got = S.add_stake_limit(st, ck, hk, 1, 1.0, p * (1 + 1e-9), allow_partial=True)
    assert got == 0.0 and math.isclose(st.tao_reserve[1], T + mx, rel_tol=1e-15)


def test_same_subnet_swap_executes_with_two_fees(chain):
    st, ck, hk = chain
    a = S.add_stake(st, ck, hk, 1, 20.0)
    got = S.swap_stake(st, ck, hk, 1, 1, a)
    assert 0 < got < a


def test_unstake_all_and_unstake_all_alpha(chain):
    st, ck, hk = chain
    S.add_stake(st, ck, hk, 1, 20.0)
    S.add_stake(st, ck, hk, 2, 20.0)
    root_before = st.position_value(ck, hk, ROOT)
    st._alpha_dividends_per_subnet[hk, 1] = 1.0
    st._hotkey_alpha_last_epoch[hk, 1] = 10.0
    v1, v2 = st.position_value(ck, hk, 1), st.position_value(ck, hk, 2)
    f1 = S.calculate_staking_fee(st, (hk, 1), None, v1)
    f2 = S.calculate_staking_fee(st, (hk, 2), None, v2)
    gross = S.sim_swap_alpha_for_tao(st, 1, v1) + S.sim_swap_alpha_for_tao(st, 2, v2)
    got = S.unstake_all_alpha(st, ck, hk)
    assert math.isclose(got, gross - f1 - f2, rel_tol=1e-9)  # each sale pays its unstake fee
    assert got > 0 and st.position_value(ck, hk, 1) == 0.0 and st.position_value(ck, hk, 2) == 0.0
    assert math.isclose(st.position_value(ck, hk, ROOT), root_before + got, rel_tol=1e-12)
    bal = st.balance[ck]
    got2 = S.unstake_all(st, ck, hk)
    assert st.position_value(ck, hk, ROOT) == 0.0 and math.isclose(st.balance[ck], bal + got2)
