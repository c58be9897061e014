"""Helpers of the Yuma epoch (``dtao.chain.epoch_math``): conformance cases and their rules."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dtao.conformance.kinds.epoch_kinds  # noqa: F401  (registers the adapters)
from dtao.chain import epoch_math as em
from dtao.conformance.registry import ADAPTERS
from dtao.conformance.runner import compare


def _conformance_dir() -> Path:
    return Path(os.environ.get("DTAO_CONFORMANCE_DIR",
                               Path(__file__).resolve().parents[2] / "shared" / "conformance"))


def _cases(kind_file: str) -> list[dict]:
    path = _conformance_dir() / "launch" / kind_file
    if not path.exists():
        pytest.fail(f"conformance file missing: {path} (set DTAO_CONFORMANCE_DIR)")
    return json.loads(path.read_text())["cases"]


def _case_ids() -> list[str]:
    path = _conformance_dir() / "launch" / "epoch_math.json"
    return [c["id"] for c in json.loads(path.read_text())["cases"]] if path.exists() else ["missing"]


@pytest.mark.parametrize("case_id", _case_ids())
def test_epoch_math_conformance(case_id: str) -> None:
    case = {c["id"]: c for c in _cases("epoch_math.json")}[case_id]
    got = ADAPTERS["epoch_math"](case["input"])
    errs = compare(got, case["expect"], case.get("tol", "exact"), [], in_epoch_math=True)
    assert not errs, errs


def _brute_median(stake: np.ndarray, score: np.ndarray, minority: float) -> float:
    """The definition: the smallest score whose cumulative stake (sorted by score) exceeds minority."""
    values = np.unique(score)
    for v in values:
        if stake[score <= v].sum() > minority:
            return float(v)
    return float(values[-1])


def _check_against_definition(stake: np.ndarray, w: np.ndarray, majority: float,
                              got: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Assert ``got`` (weighted_median_col's answer) column by column against the definition, on the
    rows with stake renormalised as the chain does; returns (staked-row mask, their stake, minority),
    or None when no row has stake (then every answer must be 0)."""
    pos = stake > 0
    if not pos.any():
        assert np.all(got == 0)
        return None
    use = em.fixed_floor(em.normalize(stake[pos]))
    minority = use.sum() - majority
    for j in range(w.shape[1]):
        assert got[j] == _brute_median(use, w[pos, j], minority)
    return pos, use, minority


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 6), st.integers(0, 2**32 - 1),
       st.sampled_from([0.0, 0.3, 0.5, 0.51, 0.99, 1.0, 1.5, -0.2]), st.booleans())
def test_weighted_median_col_matches_definition(r: int, c: int, seed: int, majority: float, coarse: bool) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random((r, c)) * (rng.random((r, c)) < 0.7)
    if coarse:  # many ties
        w = np.round(w * 3) / 3
    stake = rng.random(r) * (rng.random(r) < 0.8)
    got = em.weighted_median_col(stake, w, majority)
    checked = _check_against_definition(stake, w, majority, got)
    if checked is None:
        return
    pos, use, minority = checked
    for j in range(c):  # the scalar helper (the chain's partition search) agrees
        assert em.weighted_median(use, np.ascontiguousarray(w[pos, j]), minority, 0.0, use.sum()) == got[j]


def test_is_topk_ties_go_to_higher_uids() -> None:
    assert em.is_topk(np.array([1.0, 1.0, 1.0]), 1).tolist() == [False, False, True]
    assert em.is_topk(np.array([1.0, 2.0]), 3).tolist() == [True, True]
    assert em.is_topk_nonzero(np.array([0.0, 0.0, 1.0]), 2).tolist() == [False, False, True]
    assert em.is_topk_nonzero(np.array([0.0, 1.0]), 5).tolist() == [False, True]


def test_is_topk_is_the_chains_stable_sort_then_mark() -> None:
    """Permits equal the chain's definition: sort ascending stably, mark the first n-k False (many ties)."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(1, 80))
        k = int(rng.integers(0, 90))
        if rng.random() < 0.5:
            v = rng.integers(0, int(rng.integers(1, 6)), n) / 4.0
        else:
            v = em.fixed_floor(rng.random(n) / n)
        want = np.ones(n, dtype=bool)
        want_nz = v != 0.0
        if n >= k:
            lose = np.argsort(v, kind="stable")[:n - k]
            want[lose] = False
            want_nz[lose] = False
        assert em.is_topk(v, k).tolist() == want.tolist()
        assert em.is_topk_nonzero(v, k).tolist() == want_nz.tolist()


def test_max_upscale_rounds_ties_away_from_zero() -> None:
    assert em.max_upscale_u16(np.array([1.0, 2.0])).tolist() == [32768, 65535]
    assert em.max_upscale_u16(np.array([0.0, 0.0])).tolist() == [0, 0]


def test_safe_exp_overflow_reads_as_zero() -> None:
    assert em.safe_exp(1.0) == pytest.approx(math.e)
    assert em.safe_exp(21.0) == pytest.approx(math.exp(21.0))
    assert em.safe_exp(22.0) == 0.0
    assert em.safe_ln(0.0) == 0.0


def test_liquid_alpha_overflow_quirk_gives_alpha_high() -> None:
    # tight quantiles make the slope steep: at consensus 0 the exponent b - a*c exceeds ln(2^31),
    # the chain's exp fails (reads 0) and the alpha clamps to alpha_high instead of alpha_low
    consensus = np.array([0.0, 0.200, 0.201, 0.202, 0.203, 0.204, 0.205, 0.206])
    lo, hi = 45875 / 65535, 58982 / 65535
    c_high, c_low = em.quantile(consensus, 0.75), em.quantile(consensus, 0.25)
    a, b = em.logistic_params(hi, lo, c_high, c_low)
    assert b - a * 0.0 > em.LN_I32F32_MAX
    alphas = em.liquid_alpha_columns(consensus, lo, hi, 0.1)
    assert alphas[0] == hi
    assert 1.0 / (1.0 + math.exp(b)) < lo  # the exact logistic would have clamped to alpha_low
    assert np.all((alphas >= lo) & (alphas <= hi))


def test_liquid_alpha_falls_back_to_moving_average() -> None:
    assert em.liquid_alpha_columns(np.zeros(4), 0.7, 0.9, 0.1).tolist() == [0.1] * 4
    # >= 75% zeros: c_high = 0 and c_low = 0 -> the plain moving average
    assert em.liquid_alpha_columns(np.array([0.0, 0.0, 0.0, 0.0, 0.5]), 0.7, 0.9, 0.1).tolist() == [0.1] * 5
    # equal non-zero quantiles: logistic params (0, 0) -> 0.5 clamped up to alpha_low
    assert em.liquid_alpha_columns(np.full(4, 0.25), 0.7, 0.9, 0.1).tolist() == [0.7] * 4


def test_alpha_sigmoid_buy_sell_and_overflow() -> None:
    c = np.array([0.5, 0.5])
    w = np.array([[0.5, 0.2]])
    b = np.array([[0.0, 0.9]])
    # entry 0 buys with w - c = 0 -> d = 0; entry 1 sells with b - w = 0.7
    got = em.alpha_sigmoid(c, w, b, 0.1, 0.3, 10.0)
    assert got[0, 0] == pytest.approx(0.1 + 0.2 / (1 + math.exp(5.0)))
    assert got[0, 1] == pytest.approx(0.1 + 0.2 / (1 + math.exp(-2.0)))
    # steepness 1000: d = 0 gives exponent 500, the exp fails and the alpha reads alpha_high
    assert em.alpha_sigmoid(c, w, b, 0.1, 0.3, 1000.0)[0, 0] == 0.3


def test_mat_ema_and_interpolate_drop_non_positive() -> None:
    new = np.array([[1.0, 0.0]])
    old = np.array([[0.0, 2.0]])
    out = em.mat_ema(new, old, np.array([0.1, 0.5]), np.empty((1, 2)))
    assert out.tolist() == [[0.1, 1.0]]
    m1, m2 = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    assert em.interpolate(m1, m2, 0.0) is m1 and em.interpolate(m1, m2, 1.0) is m2
    assert em.interpolate(m1, m2, 0.25).tolist() == [[0.75, 0.0]]


def _score_matrix(rng: np.random.Generator, r: int, c: int, kind: str) -> np.ndarray:
    """Scores for the median tests: uniform (20% zeros), ties (quarters), pareto (row-normalised,
    heavy-tailed), or close (a few values a few ulps apart, which the mean cannot split)."""
    w = rng.random((r, c)) * (rng.random((r, c)) < 0.8)
    if kind == "ties":
        w = np.round(w * 4) / 4
    elif kind == "pareto":
        w = rng.pareto(1.5, (r, c)) * (rng.random((r, c)) < 0.8)
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    elif kind == "close":
        w = 0.25 + rng.integers(0, 3, (r, c)) * np.spacing(0.25)
    return w


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 70), st.integers(1, 40), st.integers(0, 2**32 - 1),
       st.sampled_from([0.3, 0.5, 32767 / 65535, 0.9]), st.sampled_from(["uniform", "ties", "pareto", "close"]))
def test_weighted_median_col_many_rows_matches_definition(r: int, c: int, seed: int, majority: float,
                                                          kind: str) -> None:
    """Validator-sized columns: the narrowing passes, the tied-value exit and the fallback search
    (scores one ulp apart, which the mean cannot split) all give the definition's answer."""
    rng = np.random.default_rng(seed)
    w = _score_matrix(rng, r, c, kind)
    stake = rng.random(r) * (rng.random(r) < 0.9)
    got = em.weighted_median_col(stake, w, majority)
    _check_against_definition(stake, w, majority, got)


def test_weighted_median_col_beyond_packed_rows_matches_definition() -> None:
    """More staked rows than the packed stake-and-count sums hold exactly: the chain's partition
    search on each column still gives the definition's answer."""
    rng = np.random.default_rng(7)
    r = em._PACK_MAX_ROWS + 3
    w = np.round(rng.random((r, 2)) * 50) / 50
    w[:, 1] = rng.random(r)
    stake = rng.random(r)
    got = em.weighted_median_col(stake, w, 32767 / 65535)
    use = em.fixed_floor(em.normalize(stake))
    minority = use.sum() - 32767 / 65535
    for j in range(2):  # the definition, vectorised: cumulative stake up to each distinct score
        order = np.argsort(w[:, j], kind="stable")
        score = w[order, j]
        cum = np.cumsum(use[order])  # exact: multiples of 2^-32 summing to at most 1
        last = np.r_[score[1:] != score[:-1], True]  # the last entry of each distinct score
        above = np.nonzero(cum[last] > minority)[0]
        want = score[last][above[0]] if above.size else score[-1]
        assert got[j] == want


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 70), st.integers(1, 300), st.integers(0, 2**32 - 1),
       st.sampled_from([0.3, 0.5, 32767 / 65535, 0.9]), st.sampled_from(["uniform", "ties", "pareto", "close"]),
       st.sampled_from(["exact", "near", "drifted", "random", "zero"]))
def test_weighted_median_col_hint_never_changes_the_answer(r: int, c: int, seed: int, majority: float, kind: str,
                                                           hint_kind: str) -> None:
    """The stored consensus given as a hint only moves where the search starts: with the last answer,
    one a step off, a fifth of the columns far off, random u16 values or nothing stored, the answer
    is the definition's (and the same as without a hint).  Up to 300 columns, so the narrowing also
    goes on over a compact copy of the columns still open."""
    rng = np.random.default_rng(seed)
    w = _score_matrix(rng, r, c, kind)
    stake = rng.random(r) * (rng.random(r) < 0.9)
    plain = em.weighted_median_col(stake, w, majority)
    h = np.floor(plain * 65535.0)
    if hint_kind == "near":
        h = h + rng.integers(-1, 2, c)
    elif hint_kind == "drifted":
        h = h + (rng.random(c) < 0.2) * rng.integers(-300, 300, c)
    elif hint_kind == "random":
        h = rng.integers(0, 65536, c)
    elif hint_kind == "zero":
        h = np.zeros(c)
    hint = np.clip(h, 0, 65535).astype(np.uint16)
    got = em.weighted_median_col(stake, w, majority, hint)
    assert np.array_equal(got, plain)
    _check_against_definition(stake, w, majority, got)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.integers(1, 300), st.integers(0, 2**32 - 1),
       st.sampled_from([0.3, 0.5, 32767 / 65535, 0.9, 1.0, 1.5, -0.2]),
       st.sampled_from(["uniform", "ties", "pareto", "close"]),
       st.sampled_from(["last", "restaked", "entries", "random", "nan", "inf", "negative", "length"]),
       st.booleans())
def test_weighted_median_col_guess_never_changes_the_answer(r: int, c: int, seed: int, majority: float, kind: str,
                                                            guess_kind: str, with_hint: bool) -> None:
    """Guesses (the consensus the last epoch computed) only decide which columns are searched: the
    exact last answer, the last answer after the stakes moved, some other score of each column, random
    floats, NaN, infinity, negative values or a guess of the wrong length all give the definition's
    answer, the same as without a guess (with and without the u16 hint)."""
    rng = np.random.default_rng(seed)
    w = _score_matrix(rng, r, c, kind)
    stake = rng.random(r) * (rng.random(r) < 0.9)
    plain = em.weighted_median_col(stake, w, majority)
    g = plain.copy()
    if guess_kind == "restaked":  # the answer for other stakes: some columns' answers moved
        g = em.weighted_median_col(stake * rng.uniform(0.5, 1.5, r), w, majority)
    elif guess_kind == "entries":
        g = w[rng.integers(0, r, c), np.arange(c)]
    elif guess_kind == "random":
        g = rng.random(c) * 1.2 - 0.1
    elif guess_kind == "nan":
        g[rng.random(c) < 0.5] = np.nan
    elif guess_kind == "inf":
        g[rng.random(c) < 0.5] = np.inf
    elif guess_kind == "negative":
        g = -g - 1e-3
    elif guess_kind == "length":
        g = g[: c - 1]
    hint = np.clip(np.floor(plain * 65535.0), 0, 65535).astype(np.uint16) if with_hint else None
    got = em.weighted_median_col(stake, w, majority, hint, np.ascontiguousarray(g))
    assert np.array_equal(got, plain)
    _check_against_definition(stake, w, majority, got)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(-2, 45),
       st.sampled_from(["exact", "swapped", "random", "ties", "all", "none"]))
def test_topk_holds_only_for_the_chains_permits(seed: int, n: int, k: int, kind: str) -> None:
    """topk_holds(values, k, guess) is True exactly when guess is what is_topk marks: for the right
    set, the set with one member swapped for a non-member, random sets, heavy ties (the higher UID wins
    among equal values), and every entry or none."""
    rng = np.random.default_rng(seed)
    values = rng.random(n)
    if kind == "ties":
        values = np.round(values * 3) / 3
    want = em.is_topk(values, k)
    guess = want.copy()
    if kind == "swapped" and guess.any() and not guess.all():
        guess[rng.choice(np.flatnonzero(guess))] = False
        guess[rng.choice(np.flatnonzero(~want))] = True
    elif kind == "random":
        guess = rng.random(n) < 0.5
    elif kind == "all":
        guess = np.ones(n, bool)
    elif kind == "none":
        guess = np.zeros(n, bool)
    assert em.topk_holds(values, k, guess) == bool(np.array_equal(guess, want))
    if n:
        values[rng.integers(0, n)] = np.nan
        assert not em.topk_holds(values, k, em.is_topk(np.nan_to_num(values), k))
