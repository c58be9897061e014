"""Helpers of subtensor's ``epoch/math.rs`` and of liquid alpha, as numba-compiled array code.

Every function here is one rule of the chain's Yuma epoch (v2.0.11, plus the v3.1.0 Yuma3
pieces), written once and used both by :mod:`dtao.chain.epoch` (inside its compiled kernel)
and by the ``epoch_math`` conformance kind (called from Python).

Conventions
-----------
* Amounts are float64.  Proportions (weights, bonds, stake shares, consensus, alpha) are plain
  floats in [0, 1]; the chain holds them as I32F32 (32 fractional bits).  We keep float64
  everywhere except where the chain's rounding decides an outcome: :func:`fixed_floor` emulates
  the I32F32 floor of a normalised stake, which makes every stake sum in the weighted median
  exact, so its comparisons (and so its ties) are decided exactly as on chain.
* "Sparse" semantics of the chain (a missing entry is a 0 and entries that come out <= 0 are
  dropped) are expressed on dense arrays: a dropped entry is stored as 0.
* Functions are compiled with ``numba.njit`` because measurements at 64 validators x 256 UIDs
  (best of repeated runs on the 2-core dev machine) showed numpy far slower: the consensus
  (weighted median per column) took ~640 us as a numpy argsort/cumsum version against ~55 us
  compiled (~33 us on data in cache and ~46 us cycling over 64 inputs after the sweeps were
  rewritten four rows at a time), and the launch-era bond section (column normalisations, EMA,
  dividends, max-upscale) ~110 us in numpy against ~28 us compiled.  The epoch kernel calls these
  same functions, so each rule has one implementation.
* Column sums over a matrix are swept four rows at a time (each column's running sum is loaded
  and stored once per four rows).  Where a sum is not exact, its four additions are still made
  one after another in row order, so the result is the same as row by row.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

#: 2^32: I32F32 has 32 fractional bits.
I32F32_ONE_BITS: float = 4294967296.0
#: ln(I32F32::MAX): the chain's fixed-point ``exp`` fails above this exponent (``safe_exp`` -> 0).
LN_I32F32_MAX: float = math.log(2.0**31 - 2.0**-32)
#: u16::MAX, the scale of stored u16 proportions.
U16_MAX_F: float = 65535.0


@njit(cache=True)
def fixed_floor(x: np.ndarray) -> np.ndarray:
    """Floor proportions to the I32F32 grid (multiples of 2^-32), as the chain's conversions do.

    ``x``: float64 vector of non-negative proportions.  Returns a new array (one pass, no temporaries).
    """
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = np.floor(x[i] * I32F32_ONE_BITS) / I32F32_ONE_BITS
    return out


@njit(cache=True)
def normalize(x: np.ndarray) -> np.ndarray:
    """``x / sum(x)``, or an unchanged copy when the sum is 0 (the chain's ``inplace_normalize``).

    ``x``: float64 vector of non-negative values (stake, ranks, dividends).  Returns a new array.
    """
    s = x.sum()
    if s == 0.0:
        return x.copy()
    return x / s


@njit(cache=True)
def _drop_lowest(values: np.ndarray, m: int, result: np.ndarray) -> None:
    """Set ``result`` False for the first ``m`` indices of ``values`` in stable ascending order (the
    ``m`` smallest values, equal values taken in index order), as the chain's sort-then-mark does.

    Without sorting: the m-th smallest value ``t`` is selected (``np.partition``); every value below
    ``t`` is dropped, and the first ``m - #below`` values equal to ``t`` in index order (measured
    1.9 us against 3.4 us for a radix sort of the 256 I32F32 stake keys)."""
    n = values.size
    if m > n:
        m = n
    if m <= 0:
        return
    t = np.partition(values, m - 1)[m - 1]
    ties = m
    for i in range(n):
        ties -= values[i] < t
    for i in range(n):
        v = values[i]
        if v < t:
            result[i] = False
        elif v == t and ties > 0:
            result[i] = False
            ties -= 1


@njit(cache=True)
def is_topk(values: np.ndarray, k: int) -> np.ndarray:
    """Validator permits: True for the ``k`` largest values (``math.rs::is_topk``).

    The chain sorts ascending (stably) and marks the first ``n-k`` indices False, so among equal
    values the lower UIDs lose.  If ``n < k`` every entry is True.  ``values``: float64 (normalised stake).
    """
    n = values.size
    result = np.ones(n, dtype=np.bool_)
    if n < k:
        return result
    _drop_lowest(values, n - k, result)
    return result


@njit(cache=True)
def topk_holds(values: np.ndarray, k: int, guess: np.ndarray) -> bool:
    """Whether ``guess`` (bool (n,)) is exactly what :func:`is_topk` ``(values, k)`` marks, in one pass:
    every entry when ``n < k``; else ``k`` entries whose smallest key (value, then UID) is above the
    largest key outside them (equal values: the higher UID ranks higher, as the chain's stable sort
    leaves it).  False on a NaN.  Lets an epoch keep last epoch's permits when the stakes kept their
    order (about 0.3 us against 3.7 us for :func:`is_topk` at 256 UIDs), with the same result."""
    n = values.size
    cnt = 0
    lo_v = np.inf
    lo_i = n
    hi_v = -np.inf
    hi_i = -1
    for i in range(n):
        v = values[i]
        if v != v:
            return False
        if guess[i]:
            cnt += 1
            if v < lo_v or (v == lo_v and i < lo_i):
                lo_v, lo_i = v, i
        elif v > hi_v or (v == hi_v and i > hi_i):
            hi_v, hi_i = v, i
    if n < k:
        return cnt == n
    if cnt != max(k, 0):  # (k < 0 marks nothing, as is_topk)
        return False
    if cnt == 0 or cnt == n:
        return True
    return lo_v > hi_v or (lo_v == hi_v and lo_i > hi_i)


@njit(cache=True)
def is_topk_nonzero(values: np.ndarray, k: int) -> np.ndarray:
    """v3.1.0 permits (``is_topk_nonzero``): like :func:`is_topk` but a zero value never holds one.

    ``values``: float64 (normalised stake).
    """
    n = values.size
    result = values != 0.0
    if n < k:
        return result
    _drop_lowest(values, n - k, result)
    return result


@njit(cache=True)
def _weighted_select(score: np.ndarray, stake: np.ndarray, minority: float, lo: float, hi: float,
                     idx: np.ndarray, tmp: np.ndarray) -> float:
    """The chain's stake-weighted median by mid-pivot partition (``math.rs::weighted_median``).

    Works on the first ``len(idx)`` entries of ``score``/``stake`` using the scratch buffers
    ``idx`` and ``tmp`` (int64, same length).  ``[lo, hi]`` is the stake interval of the partition
    and ``minority`` the stake quantile sought.  Equal scores are grouped (their stake is excluded
    from both sides), which is what decides ties.  Returns the median score (0 if empty).
    """
    cnt = idx.size
    for t in range(cnt):
        idx[t] = t
    a = idx
    b = tmp
    while True:
        if cnt == 0:
            return 0.0
        if cnt == 1:
            return score[a[0]]
        pivot = score[a[cnt // 2]]
        lo_stake = 0.0
        hi_stake = 0.0
        nl = 0
        nu = 0
        for t in range(cnt):
            k = a[t]
            s = score[k]
            if s < pivot:
                lo_stake += stake[k]
                b[nl] = k
                nl += 1
            elif s > pivot:
                hi_stake += stake[k]
                nu += 1
                b[cnt - nu] = k
        if lo + lo_stake <= minority and minority < hi - hi_stake:
            return pivot
        if minority < lo + lo_stake and nl > 0:
            hi = lo + lo_stake
            a, b = b, a
            cnt = nl
        elif hi - hi_stake <= minority and nu > 0:
            lo = hi - hi_stake
            # move the upper part (stored at the end of b) to the front
            for t in range(nu):
                b[t] = b[cnt - nu + t]
            a, b = b, a
            cnt = nu
        else:
            return pivot


@njit(cache=True)
def weighted_median(stake: np.ndarray, score: np.ndarray, minority: float, lo: float, hi: float) -> float:
    """Stake-weighted median of ``score`` (``math.rs::weighted_median``).

    ``stake``: float64 stake shares (normalised); ``score``: float64 scores (weights in [0, 1]);
    ``minority`` = stake sum - majority; ``[lo, hi]``: the stake interval, the chain always calls
    it with ``lo = 0, hi = sum(stake)``.  Returns the score at which the stake integral, sorted by
    score, crosses ``minority`` (the smallest score whose cumulative stake exceeds it).
    """
    n = score.size
    idx = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    return _weighted_select(score, stake, minority, lo, hi, idx, tmp)


#: most narrowing passes of :func:`weighted_median_col` (each about halves the scores inside an
#: interval; columns still holding several distinct scores after this fall back to the chain's search)
_MEDIAN_PASSES: int = 16


#: weight of one score in the packed sums of :func:`_count_below`: each staked row adds ``stake + 2``
#: below a threshold, so one float sum holds both the stake below (< 2, a multiple of 2^-32) and twice
#: the count; both parts are exact while the sum stays below 2^21 (52 significant bits)
_COUNT_UNIT: float = 2.0
#: most staked rows for the packed sums (2 x rows + 1 < 2^21); more fall back to the partition search
_PACK_MAX_ROWS: int = 1 << 19


@njit(cache=True, inline="always")
def _quad(rows: np.ndarray, packed: np.ndarray, t: int) -> tuple:
    """The four rows a sweep of the median handles from ``t`` on: their indices (rows past the end
    repeat the last), their packed stakes (0 past the end) and whether rows ``t+1..t+3`` exist."""
    m = rows.size
    k1 = t + 1 < m
    k2 = t + 2 < m
    k3 = t + 3 < m
    return (rows[t], rows[min(t + 1, m - 1)], rows[min(t + 2, m - 1)], rows[min(t + 3, m - 1)], packed[t],
            packed[t + 1] if k1 else 0.0, packed[t + 2] if k2 else 0.0, packed[t + 3] if k3 else 0.0, k1, k2, k3)


@njit(cache=True)
def _count_below(weights: np.ndarray, rows: np.ndarray, packed: np.ndarray, thr: np.ndarray, acc: np.ndarray,
                 sv: np.ndarray, total: np.ndarray, j0: int, j1: int) -> None:
    """One narrowing sweep of :func:`weighted_median_col`: for each column j, add to ``acc[j]`` the
    packed stake-and-count (``packed[t]`` = stake + :data:`_COUNT_UNIT`) and to ``sv[j]`` the sum of
    the scores ``weights[rows[t], j]`` below ``thr[j]``.  Four rows per sweep of the columns (the
    per-column sums are loaded and stored a quarter as often; rows past the end count with 0 and are
    never below a threshold of -1).  The order of the additions differs from row by row: the packed
    sums are exact in any order and the score sums only choose split points.  Only the columns
    ``j0 <= j < j1`` are swept (the others have nothing to count; the column index is unsigned, so
    the loop carries no negative-index check and still vectorises).  If ``total`` is not empty, the
    column sums of all the scores are added to it as well (the first sweep, over every column)."""
    if total.size > 0:
        _count_below_sum(weights, rows, packed, thr, acc, sv, total)
        return
    m = rows.size
    u0 = np.uint64(j0)
    width = np.uint64(j1 - j0)
    t = 0
    while t < m:
        i0, i1, i2, i3, s0, s1, s2, s3, k1, k2, k3 = _quad(rows, packed, t)
        for jj in range(width):
            j = u0 + jj
            th = thr[j]
            v0 = weights[i0, j]
            v1 = weights[i1, j]
            v2 = weights[i2, j]
            v3 = weights[i3, j]
            l0 = v0 < th
            l1 = (v1 < th) & k1
            l2 = (v2 < th) & k2
            l3 = (v3 < th) & k3
            acc[j] += ((s0 if l0 else 0.0) + (s1 if l1 else 0.0)) + ((s2 if l2 else 0.0) + (s3 if l3 else 0.0))
            sv[j] += ((v0 if l0 else 0.0) + (v1 if l1 else 0.0)) + ((v2 if l2 else 0.0) + (v3 if l3 else 0.0))
        t += 4


@njit(cache=True)
def _count_below_sum(weights: np.ndarray, rows: np.ndarray, packed: np.ndarray, thr: np.ndarray, acc: np.ndarray,
                     sv: np.ndarray, total: np.ndarray) -> None:
    """:func:`_count_below` that also adds each column's sum of all the scores to ``total``."""
    m = rows.size
    c = thr.size
    t = 0
    while t < m:
        i0, i1, i2, i3, s0, s1, s2, s3, k1, k2, k3 = _quad(rows, packed, t)
        for j in range(c):
            th = thr[j]
            v0 = weights[i0, j]
            v1 = weights[i1, j]
            v2 = weights[i2, j]
            v3 = weights[i3, j]
            l0 = v0 < th
            l1 = (v1 < th) & k1
            l2 = (v2 < th) & k2
            l3 = (v3 < th) & k3
            acc[j] += ((s0 if l0 else 0.0) + (s1 if l1 else 0.0)) + ((s2 if l2 else 0.0) + (s3 if l3 else 0.0))
            sv[j] += ((v0 if l0 else 0.0) + (v1 if l1 else 0.0)) + ((v2 if l2 else 0.0) + (v3 if l3 else 0.0))
            total[j] += (v0 + (v1 if k1 else 0.0)) + ((v2 if k2 else 0.0) + (v3 if k3 else 0.0))
        t += 4


@njit(cache=True)
def _next_split(a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray, sa: np.ndarray, sb: np.ndarray,
                thr: np.ndarray, acc: np.ndarray, sv: np.ndarray) -> int:
    """Next split point of each column's interval ``[a, b)`` for :func:`weighted_median_col`: the mean
    score inside (``(sb - sa) / (cb - ca)``), or -1 (nothing to count) where the interval holds at most
    one score or the mean does not fall strictly inside; clears the sums of the next sweep.  Returns the
    number of columns still narrowing."""
    active = 0
    for j in range(a.size):  # branch-free, vectorised
        inside = cb[j] - ca[j]
        t = (sb[j] - sa[j]) / (inside if inside > 1.0 else 1.0)
        go = (inside > 1.0) & (t > a[j]) & (t < b[j])
        thr[j] = t if go else -1.0
        active += 1 if go else 0
        acc[j] = 0.0
        sv[j] = 0.0
    return active


#: half-width, in u16 steps, added on each side of the stored consensus when it brackets a column's
#: first two sweeps in :func:`weighted_median_col` (room for consensus that moved a little since)
_HINT_MARGIN: float = 0.5
#: the narrowing goes on over a compact copy of the columns still narrowing once they are at most
#: 1/_COMPACT of all
_COMPACT: int = 4


@njit(cache=True)
def _narrow(weights: np.ndarray, rows: np.ndarray, packed: np.ndarray, minority: float, a: np.ndarray,
            b: np.ndarray, ga: np.ndarray, ca: np.ndarray, cb: np.ndarray, sa: np.ndarray, sb: np.ndarray,
            thr: np.ndarray, acc: np.ndarray, sv: np.ndarray, hint: np.ndarray, p0: int, compact: bool) -> int:
    """The narrowing passes of :func:`weighted_median_col` from pass ``p0`` on (pass 0's sweep is
    already in ``acc``/``sv``): each pass moves each active column's interval to the side of its split
    that holds the answer and picks the next split (:func:`_next_split`; after pass 0, a column below a
    split taken from ``hint`` (u16 consensus, or empty) is next split just under the hint), then sweeps.
    Returns the next pass when ``compact`` and at most 1/:data:`_COMPACT` of the columns are still
    narrowing (the caller goes on over a compact copy), else :data:`_MEDIAN_PASSES`."""
    c = a.size
    active = c
    j0 = 0
    j1 = c
    for p in range(p0, _MEDIAN_PASSES):
        if active == 0:
            break
        if p > 0:  # (pass 0 was swept by the caller, with the column sums)
            _count_below(weights, rows, packed, thr, acc, sv, sv[:0], j0, j1)
        for j in range(c):  # branch-free: columns differ unpredictably
            act = thr[j] >= 0.0
            cnt = np.floor(acc[j] * (1.0 / _COUNT_UNIT))  # unpack: count, and the stake below (exact)
            g = acc[j] - _COUNT_UNIT * cnt
            up = act & (g > minority)
            down = act & ~up
            b[j] = thr[j] if up else b[j]
            cb[j] = cnt if up else cb[j]
            sb[j] = sv[j] if up else sb[j]
            a[j] = thr[j] if down else a[j]
            ga[j] = g if down else ga[j]
            ca[j] = cnt if down else ca[j]
            sa[j] = sv[j] if down else sa[j]
        active = _next_split(a, b, ca, cb, sa, sb, thr, acc, sv)
        if p == 0 and hint.size == c:
            for j in range(c):  # below the first split: the second one just under the stored consensus
                lo_h = (hint[j] - _HINT_MARGIN) * (1.0 / U16_MAX_F)
                go = (thr[j] >= 0.0) & (b[j] < np.inf) & (lo_h > a[j]) & (lo_h < b[j])
                thr[j] = lo_h if go else thr[j]
        if compact and 0 < active and _COMPACT * active <= c and p + 1 < _MEDIAN_PASSES:
            return p + 1
        # the next sweep covers the columns from the first to the last one still narrowing
        j0 = 0
        while j0 < c and thr[j0] < 0.0:
            j0 += 1
        j1 = c
        while j1 > j0 and thr[j1 - 1] < 0.0:
            j1 -= 1
    return _MEDIAN_PASSES


@njit(cache=True)
def weighted_median_col(stake: np.ndarray, weights: np.ndarray, majority: float,
                        hint: np.ndarray | None = None, guess: np.ndarray | None = None) -> np.ndarray:
    """Consensus: stake-weighted median of each column (``weighted_median_col_sparse``).

    ``stake``: float64 (r,) active stake of the rows; ``weights``: float64 (r, c) row-normalised
    weights in [0, 1] (missing entries are 0); ``majority``: kappa (Kappa/65535).  Returns float64
    (c,) consensus weights (all 0 when no row has stake); see :func:`_median_cols` for the rule and
    the search, and for ``hint`` (the stored u16 consensus, where the search starts).

    ``guess`` (optional, float64 (c,), or empty): each column's probable answer exactly, such as the
    consensus the subnet's last epoch computed (the kernel view keeps it: weights that did not change
    since, with stakes that moved a little, mostly give the same answer).  It changes only the speed,
    never the answer: one sweep over the matrix (:func:`_count_at`) takes each column's stake below
    its guess and at or below it, and where the first is at most ``minority`` and the second exceeds
    it the guess is the answer by definition (it is then a score of the column with stake, and the
    smallest whose cumulative stake exceeds ``minority``).  The other columns (any guess that is not
    such a score: NaN, stale, out of range) are searched as without a guess, on a compact copy.
    """
    if guess is None:  # (numba prunes the branch not taken)
        return _median_cols(stake, weights, majority, hint)
    else:
        return _median_guessed(stake, weights, majority, hint, guess)


@njit(cache=True)
def _median_guessed(stake: np.ndarray, weights: np.ndarray, majority: float, hint: np.ndarray | None,
                    guess: np.ndarray) -> np.ndarray:
    """:func:`weighted_median_col` with guesses (``guess`` of another length than the columns: none)."""
    r, c = weights.shape
    if guess.size != c or c == 0:
        return _median_cols(stake, weights, majority, hint)
    rows, use = _staked(stake)
    m = rows.size
    total = use.sum()
    minority = total - majority
    if m == 0 or m >= _PACK_MAX_ROWS or not total > minority or minority < 0.0:
        return _median_cols(stake, weights, majority, hint)
    below = np.zeros(c)
    upto = np.zeros(c)
    _count_at(weights, rows, use + _COUNT_UNIT, guess, below, upto)
    med = np.empty(c)
    k = 0
    for j in range(c):  # (unpacked as in _narrow: the stake below is exact)
        g_below = below[j] - _COUNT_UNIT * np.floor(below[j] * (1.0 / _COUNT_UNIT))
        g_upto = upto[j] - _COUNT_UNIT * np.floor(upto[j] * (1.0 / _COUNT_UNIT))
        hit = (g_below <= minority) & (minority < g_upto)
        med[j] = guess[j] if hit else np.nan
        k += 0 if hit else 1
    if k == 0:
        return med
    cols = np.empty(k, np.int64)
    k = 0
    for j in range(c):
        if med[j] != med[j]:
            cols[k] = j
            k += 1
    wk = np.empty((r, k))
    for i in range(r):
        for q in range(k):
            wk[i, q] = weights[i, cols[q]]
    if hint is not None:
        sub = _median_cols(stake, wk, majority, hint[cols] if hint.size == c else hint)
    else:
        sub = _median_cols(stake, wk, majority, hint)
    for q in range(k):
        med[cols[q]] = sub[q]
    return med


@njit(cache=True)
def _count_at(weights: np.ndarray, rows: np.ndarray, packed: np.ndarray, guess: np.ndarray, below: np.ndarray,
              upto: np.ndarray) -> None:
    """The sweep of :func:`weighted_median_col` with guesses: for each column j, add to ``below[j]`` the
    packed stake-and-count (``packed[t]``, as in :func:`_count_below`) of the rows whose score is below
    ``guess[j]``, and to ``upto[j]`` of those at or below it (below the next float up).  Four rows per
    sweep of the columns; a NaN guess counts nothing."""
    m = rows.size
    c = guess.size
    nxt = np.empty(c)
    for j in range(c):
        nxt[j] = np.nextafter(guess[j], np.inf)
    t = 0
    while t < m:
        i0, i1, i2, i3, s0, s1, s2, s3, _, _, _ = _quad(rows, packed, t)
        for j in range(c):
            g = guess[j]
            x = nxt[j]
            v0 = weights[i0, j]
            v1 = weights[i1, j]
            v2 = weights[i2, j]
            v3 = weights[i3, j]
            below[j] += ((s0 if v0 < g else 0.0) + (s1 if v1 < g else 0.0)) + ((s2 if v2 < g else 0.0)
                                                                                + (s3 if v3 < g else 0.0))
            upto[j] += ((s0 if v0 < x else 0.0) + (s1 if v1 < x else 0.0)) + ((s2 if v2 < x else 0.0)
                                                                               + (s3 if v3 < x else 0.0))
        t += 4


@njit(cache=True)
def _staked(stake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows with stake (int64) and their stake renormalised and floored to I32F32, as the chain's
    median takes them."""
    r = stake.size
    m = 0
    for i in range(r):
        if stake[i] > 0.0:
            m += 1
    rows = np.empty(m, dtype=np.int64)
    use = np.empty(m)
    k = 0
    for i in range(r):
        if stake[i] > 0.0:
            rows[k] = i
            use[k] = stake[i]
            k += 1
    return rows, fixed_floor(normalize(use))


@njit(cache=True)
def _median_cols(stake: np.ndarray, weights: np.ndarray, majority: float, hint: np.ndarray | None) -> np.ndarray:
    """:func:`weighted_median_col` without a guess (the search itself).

    ``stake``: float64 (r,) active stake of the rows; ``weights``: float64 (r, c) row-normalised
    weights in [0, 1] (missing entries are 0); ``majority``: kappa (Kappa/65535).  Rows with zero
    stake are dropped, the remaining stake is renormalised (floored to I32F32) and ``minority =
    sum - majority``.  Returns float64 (c,) consensus weights (all 0 when no row has stake).

    ``hint`` (optional, (c,) integers, or empty): where the answer probably lies, as stored u16
    consensus (the subnet's ``Consensus`` from its last epoch).  It changes only the speed, never the
    answer: the first two sweeps split each column just above and just below ``hint/65535`` (with
    :data:`_HINT_MARGIN`), which brackets the answer at once when the consensus moved little.

    The chain's partition search returns the smallest score whose cumulative stake (scores sorted
    ascending, equal scores together) exceeds ``minority``, or the largest score if none does.  Every
    stake sum here is exact (stakes are multiples of 2^-32 summing to at most 1), so that answer is
    found exactly by any method; this one suits all columns at once and branch predictors that see a
    different subnet every call: per column an interval ``[a, b)`` of scores with
    ``G(a) <= minority < G(b)`` (G(x): stake of the scores below x) is narrowed by branch-free passes
    over the matrix (:func:`_count_below`, four rows per sweep; the stake and the count below a split are
    one packed sum) that split it at the mean score inside it (the first sweep at one common point, or
    at the hint, taking the column sums as it goes), until it holds one score or one tied value (or
    stops shrinking); once at most 1/:data:`_COMPACT` of the columns are still narrowing, the passes go
    on over a compact copy of those columns (:func:`_narrow`).  One more pass (:func:`_inside_range`)
    finds that value, which is the answer since ``G(b) = G(a) + its stake``.
    A column whose interval still holds several distinct scores (the mean could not split them, or
    the pass limit) gets the chain's partition search (:func:`_weighted_select`) on those scores.
    """
    r, c = weights.shape
    med = np.zeros(c)
    rows, use = _staked(stake)
    m = rows.size
    if m == 0:
        return med
    total = use.sum()
    minority = total - majority
    if c == 0:
        return med
    if not total > minority or minority < 0.0:
        # no score's cumulative stake exceeds the minority: the largest; every score's does: the smallest
        largest = not total > minority
        for j in range(c):
            v = weights[rows[0], j]
            for t in range(1, m):
                x = weights[rows[t], j]
                v = (x if x > v else v) if largest else (x if x < v else v)
            med[j] = v
        return med
    if m >= _PACK_MAX_ROWS:  # too many rows for the packed sums (never on chain: UIDs are u16): the chain's search
        col = np.empty(m)
        idx = np.empty(m, dtype=np.int64)
        tmp = np.empty(m, dtype=np.int64)
        for j in range(c):
            for t in range(m):
                col[t] = weights[rows[t], j]
            med[j] = _weighted_select(col, use, minority, 0.0, total, idx, tmp)
        return med
    # the interval [a, b) of each column: stake below a (ga), counts and score sums below a and b
    a = np.zeros(c)
    b = np.full(c, np.inf)
    ga = np.zeros(c)
    ca = np.zeros(c)  # counts as floats (exact): the loops vectorise better
    cb = np.full(c, float(m))
    sa = np.zeros(c)
    sb = np.zeros(c)  # score sums below b (b = inf: the column sums, taken by the first sweep)
    # the first sweep splits every column at one point, the mean score of the first staked row (about
    # every column's mean when rows are normalised; any split point gives the same answer)
    t0 = 0.0
    for j in range(c):
        t0 += weights[rows[0], j]
    thr = np.full(c, t0 / c)
    h = np.zeros(0)
    if hint is not None:  # (numba prunes this block when no hint is given)
        if hint.size == c and hint.max() > 0:  # (all zero: nothing stored yet)
            h = hint.astype(np.float64)
            for j in range(c):  # the first sweep just above the stored consensus, the second just under it
                thr[j] = (h[j] + 1.0 + _HINT_MARGIN) * (1.0 / U16_MAX_F)
    acc = np.zeros(c)
    sv = np.zeros(c)
    packed = use + _COUNT_UNIT
    _count_below(weights, rows, packed, thr, acc, sv, sb, 0, c)
    p = _narrow(weights, rows, packed, minority, a, b, ga, ca, cb, sa, sb, thr, acc, sv, h, 0, True)
    if p < _MEDIAN_PASSES:
        # at most 1/_COMPACT of the columns are still narrowing: the passes go on over a compact copy of
        # those columns (``cols``), whose intervals are copied back
        cols = np.flatnonzero(thr >= 0.0)
        k = cols.size
        wk = np.empty((m, k))
        for t in range(m):
            i = rows[t]
            for q in range(k):
                wk[t, q] = weights[i, cols[q]]
        ak, bk, gak = a[cols], b[cols], ga[cols]
        _narrow(wk, np.arange(m), packed, minority, ak, bk, gak, ca[cols], cb[cols], sa[cols], sb[cols], thr[cols],
                np.zeros(k), np.zeros(k), h[:0], p, False)
        for q in range(k):
            a[cols[q]] = ak[q]
            b[cols[q]] = bk[q]
            ga[cols[q]] = gak[q]
    # the smallest and largest score left inside each interval: where they are equal (one score, or
    # one tied value), that value is the answer, as G(a) <= minority < G(b) = G(a) + its stake
    lo = np.full(c, np.inf)
    hi = np.full(c, -np.inf)
    _inside_range(weights, rows, a, b, lo, hi)
    sub_score = np.empty(m)
    sub_stake = np.empty(m)
    idx = np.empty(m, dtype=np.int64)
    tmp = np.empty(m, dtype=np.int64)
    for j in range(c):
        if lo[j] == hi[j]:  # (an all-zero column ends here with 0)
            med[j] = lo[j]
            continue
        # the narrowing stopped early (scores too close for the mean to split, or the pass limit): the
        # chain's partition search on the scores inside
        k = 0
        tot = ga[j]
        for t in range(m):
            v = weights[rows[t], j]
            if v >= a[j] and v < b[j]:
                sub_score[k] = v
                sub_stake[k] = use[t]
                tot += use[t]
                k += 1
        med[j] = _weighted_select(sub_score[:k], sub_stake[:k], minority, ga[j], tot, idx[:k], tmp[:k])
    return med


@njit(cache=True)
def _inside_range(weights: np.ndarray, rows: np.ndarray, a: np.ndarray, b: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray) -> None:
    """For each column j, lower ``lo[j]`` to the smallest and raise ``hi[j]`` to the largest score
    ``weights[rows[t], j]`` inside ``[a[j], b[j])``; four rows per sweep of the columns (rows past the
    end repeat the last row, which changes no minimum or maximum)."""
    m = rows.size
    c = a.size
    t = 0
    while t < m:
        i0 = rows[t]
        i1 = rows[min(t + 1, m - 1)]
        i2 = rows[min(t + 2, m - 1)]
        i3 = rows[min(t + 3, m - 1)]
        for j in range(c):
            aj = a[j]
            bj = b[j]
            v0 = weights[i0, j]
            v1 = weights[i1, j]
            v2 = weights[i2, j]
            v3 = weights[i3, j]
            n0 = v0 if (v0 >= aj) & (v0 < bj) else np.inf
            n1 = v1 if (v1 >= aj) & (v1 < bj) else np.inf
            n2 = v2 if (v2 >= aj) & (v2 < bj) else np.inf
            n3 = v3 if (v3 >= aj) & (v3 < bj) else np.inf
            x0 = v0 if (v0 >= aj) & (v0 < bj) else -np.inf
            x1 = v1 if (v1 >= aj) & (v1 < bj) else -np.inf
            x2 = v2 if (v2 >= aj) & (v2 < bj) else -np.inf
            x3 = v3 if (v3 >= aj) & (v3 < bj) else -np.inf
            n01 = n0 if n0 < n1 else n1
            n23 = n2 if n2 < n3 else n3
            n = n01 if n01 < n23 else n23
            x01 = x0 if x0 > x1 else x1
            x23 = x2 if x2 > x3 else x3
            x = x01 if x01 > x23 else x23
            lo[j] = n if n < lo[j] else lo[j]
            hi[j] = x if x > hi[j] else hi[j]
        t += 4


@njit(cache=True)
def clip_1(value: float, threshold: float) -> float:
    """One entry of :func:`col_clip`: ``min(value, threshold)``, 0 if the threshold is not positive."""
    if threshold < value:
        return threshold if threshold > 0.0 else 0.0
    return value


@njit(cache=True)
def col_clip(matrix: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Clip each column at its consensus (``col_clip_sparse``): ``min(w_ij, c_j)``; 0 if ``c_j = 0``.

    ``matrix``: float64 (r, c) weights; ``threshold``: float64 (c,) consensus.  Returns a new array.
    """
    r, c = matrix.shape
    out = np.empty((r, c))
    for i in range(r):
        for j in range(c):
            out[i, j] = clip_1(matrix[i, j], threshold[j])
    return out


@njit(cache=True)
def interpolate(mat1: np.ndarray, mat2: np.ndarray, ratio: float) -> np.ndarray:
    """``mat1 + ratio*(mat2 - mat1)`` (``interpolate_sparse``), entries <= 0 dropped.

    Used for bond weights with ``ratio`` = BondsPenalty/65535: ratio 0 returns ``mat1`` (the
    weights), ratio 1 returns ``mat2`` (the clipped weights) itself, not a copy.  float64 (r, c).
    """
    if ratio == 0.0:
        return mat1
    if ratio == 1.0:
        return mat2
    out = mat1 + ratio * (mat2 - mat1)
    r, c = out.shape
    for i in range(r):
        for j in range(c):
            if out[i, j] <= 0.0:
                out[i, j] = 0.0
    return out


@njit(cache=True)
def ema_1(alpha: float, new: float, old: float) -> float:
    """One entry of :func:`mat_ema`: ``alpha*new + (1-alpha)*old``, dropped (0) if not positive."""
    v = alpha * new + (1.0 - alpha) * old
    return v if v > 0.0 else 0.0


@njit(cache=True)
def mat_ema(new: np.ndarray, old: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Bond EMA ``alpha_j*new_ij + (1-alpha_j)*old_ij`` with one alpha per column, entries <= 0 dropped.

    (``mat_ema_sparse`` with a scalar alpha broadcast, ``mat_ema_alpha_vec_sparse`` with liquid
    alpha.)  ``new``: float64 (r, c) bond deltas; ``old``: float64 (r, c) old bonds;
    ``alpha``: float64 (c,) in [0, 1]; ``out``: float64 (r, c) result buffer (may be ``new`` or
    ``old``), returned.
    """
    r, c = new.shape
    for i in range(r):
        for j in range(c):
            out[i, j] = ema_1(alpha[j], new[i, j], old[i, j])
    return out


@njit(cache=True)
def quantile(data: np.ndarray, q: float) -> float:
    """Quantile with linear interpolation at position ``q*(n-1)`` of the sorted data (``math.rs::quantile``).

    ``data``: float64 (consensus); returns 0 for empty data.
    """
    return quantile_sorted(np.sort(data), q)


@njit(cache=True)
def quantile_sorted(s: np.ndarray, q: float) -> float:
    """:func:`quantile` of data already sorted ascending (``s``), so several quantiles share one sort."""
    n = s.size
    if n == 0:
        return 0.0
    pos = q * (n - 1)
    low = int(math.floor(pos))
    high = int(math.ceil(pos))
    if low == high:
        return s[low]
    return s[low] + (s[high] - s[low]) * (pos - low)


@njit(cache=True)
def round_half_away(x: np.ndarray) -> np.ndarray:
    """I32F32 ``round()`` for non-negative values (an array or one float): ties away from zero."""
    return np.floor(x + 0.5)


@njit(cache=True)
def max_upscale_u16(values: np.ndarray) -> np.ndarray:
    """Scale so the maximum becomes 65535 and round to u16 (``vec_max_upscale_to_u16``), e.g. PruningScores.

    ``values``: float64 (n,) non-negative.  If the max is 0 the values are floored at x*65535; if
    the max exceeds 32768, ``round(x*(65535/max))``; else ``round(x*65535/max)``.  Returns int64
    u16 values (one pass per case, no temporaries).
    """
    n = values.size
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    mx = values.max()
    if mx == 0.0:
        for i in range(n):
            out[i] = np.int64(min(max(np.floor(values[i] * U16_MAX_F), 0.0), U16_MAX_F))
    elif mx > 32768.0:
        f = U16_MAX_F / mx
        for i in range(n):
            out[i] = np.int64(min(max(round_half_away(values[i] * f), 0.0), U16_MAX_F))
    else:
        for i in range(n):
            out[i] = np.int64(min(max(round_half_away(values[i] * U16_MAX_F / mx), 0.0), U16_MAX_F))
    return out


@njit(cache=True)
def u16_floor_1(x: float) -> int:
    """Store one proportion as u16: ``floor(x*65535)`` saturated to [0, 65535] (``fixed_proportion_to_u16``)."""
    return np.int64(min(max(np.floor(x * U16_MAX_F), 0.0), U16_MAX_F))


@njit(cache=True)
def safe_exp(x: float) -> float:
    """The chain's ``safe_exp``: ``exp(x)``, except 0 where the fixed-point exp overflows I32F32.

    This is the liquid-alpha overflow quirk: an exponent above ln(2^31) reads as 0, so the
    logistic ``1/(1+exp)`` becomes 1 and the alpha clamps to ``alpha_high``.
    """
    if x > LN_I32F32_MAX:
        return 0.0
    return math.exp(x)


@njit(cache=True)
def safe_ln(x: float) -> float:
    """The chain's ``safe_ln``: ``ln(x)`` for x > 0, else 0."""
    if x > 0.0:
        return math.log(x)
    return 0.0


@njit(cache=True)
def logistic_params(alpha_high: float, alpha_low: float, consensus_high: float,
                    consensus_low: float) -> tuple[float, float]:
    """Liquid-alpha logistic slope ``a`` and intercept ``b`` (``calculate_logistic_params``).

    ``a = (ln(1/alpha_high-1) - ln(1/alpha_low-1)) / (consensus_low - consensus_high)``,
    ``b = ln(1/alpha_low-1) + a*consensus_low``; (0, 0) if ``consensus_high <= consensus_low``
    or either alpha is 0.  All arguments are proportions (floats).
    """
    if consensus_high <= consensus_low or alpha_low == 0.0 or alpha_high == 0.0:
        return 0.0, 0.0
    ln_lo = safe_ln(1.0 / alpha_low - 1.0)
    a = (safe_ln(1.0 / alpha_high - 1.0) - ln_lo) / (consensus_low - consensus_high)
    b = ln_lo + a * consensus_low
    return a, b


@njit(cache=True)
def alpha_values(consensus: np.ndarray, a: float, b: float) -> np.ndarray:
    """Per-column liquid alpha ``1/(1+safe_exp(b - a*c_j))`` (``compute_alpha_values``).

    ``consensus``: float64 (n,); returns float64 (n,) EMA coefficients before clamping.
    """
    n = consensus.size
    out = np.empty(n)
    for j in range(n):
        out[j] = 1.0 / (1.0 + safe_exp(b - a * consensus[j]))
    return out


@njit(cache=True)
def clamp_alpha(alpha: np.ndarray, alpha_high: float, alpha_low: float) -> np.ndarray:
    """Clamp liquid alphas: ``max(min(a, alpha_high), alpha_low)`` (``clamp_alpha_values``)."""
    return np.maximum(np.minimum(alpha, alpha_high), alpha_low)


@njit(cache=True)
def liquid_alpha_columns(consensus: np.ndarray, alpha_low: float, alpha_high: float,
                         moving_alpha: float) -> np.ndarray:
    """Per-column EMA coefficient of the launch-era bonds (``compute_ema_bonds_sparse``).

    With liquid alpha on and some consensus non-zero: the logistic of the consensus through its
    0.25/0.75 quantiles, clamped to ``[alpha_low, alpha_high]`` (used when ``c_high > c_low`` or
    ``c_high != 0``); otherwise ``moving_alpha`` (= 1 - BondsMovingAverage/1e6) for every column.
    Call it only when liquid alpha is on.  Returns float64 (n,).
    """
    n = consensus.size
    if n > 0 and np.any(consensus != 0.0):
        s = np.sort(consensus)
        c_high = quantile_sorted(s, 0.75)
        c_low = quantile_sorted(s, 0.25)
        if c_high > c_low or c_high != 0.0 or c_low < 0.0:
            a, b = logistic_params(alpha_high, alpha_low, c_high, c_low)
            return clamp_alpha(alpha_values(consensus, a, b), alpha_high, alpha_low)
    return np.full(n, moving_alpha)


@njit(cache=True)
def _sigmoid_exponent(w: float, bo: float, cj: float, steepness: float) -> float:
    """One entry's exponent in :func:`alpha_sigmoid`: ``-steepness*(d - 0.5)`` with ``d = clamp(w - c_j, 0, 1)``
    when buying (``w >= b``) or ``clamp(b - w, 0, 1)`` when selling."""
    if w >= bo:
        d = min(max(w - cj, 0.0), 1.0)
    else:
        d = min(max(bo - w, 0.0), 1.0)
    return -(steepness * (d - 0.5))


@njit(cache=True)
def _sigmoid_alpha(x: float, alpha_low: float, alpha_high: float) -> float:
    """One entry's alpha in :func:`alpha_sigmoid` from its exponent ``x``: ``alpha_low + sigmoid*(alpha_high
    - alpha_low)`` with ``sigmoid = 1/(1 + safe_exp(x))``, clamped to the bounds."""
    sig = 1.0 / (1.0 + safe_exp(x))
    al = alpha_low + sig * (alpha_high - alpha_low)
    return max(min(al, alpha_high), alpha_low)


@njit(cache=True)
def alpha_sigmoid(consensus: np.ndarray, weights: np.ndarray, bonds: np.ndarray, alpha_low: float,
                  alpha_high: float, steepness: float) -> np.ndarray:
    """Yuma3 per-entry liquid alpha (v3.1.0 ``alpha_sigmoid``).

    For each (validator i, miner j): ``d = clamp(w - c_j, 0, 1)`` when buying (``w >= b``) or
    ``clamp(b - w, 0, 1)`` when selling; ``alpha = alpha_low + sigmoid*(alpha_high - alpha_low)``
    with ``sigmoid = 1/(1 + safe_exp(-steepness*(d - 0.5)))``, clamped to the bounds (the
    ``safe_exp`` overflow reads as alpha_high).  ``weights``/``bonds``: float64 (r, c) bond
    weights and old bonds (proportions); ``consensus``: float64 (c,).  Returns float64 (r, c).

    With a steep sigmoid (the default 1000) most exponents overflow, and every such entry has the
    same alpha; those are written in one pass that collects the others, and ``exp`` runs only for
    them (a select in one loop calls ``exp`` for every entry: 108 against 22 us at 64 x 256).  When
    no exponent can overflow (``|steepness|/2 <= LN_I32F32_MAX``) one loop does every entry.
    """
    r, c = weights.shape
    out = np.empty((r, c))
    if abs(steepness) * 0.5 <= LN_I32F32_MAX:
        for i in range(r):
            for j in range(c):
                out[i, j] = _sigmoid_alpha(_sigmoid_exponent(weights[i, j], bonds[i, j], consensus[j], steepness),
                                           alpha_low, alpha_high)
        return out
    top = _sigmoid_alpha(np.inf, alpha_low, alpha_high)  # safe_exp overflows: sigmoid 1
    need = np.empty(r * c, np.int64)
    m = 0
    for i in range(r):
        for j in range(c):
            x = _sigmoid_exponent(weights[i, j], bonds[i, j], consensus[j], steepness)
            out[i, j] = top
            need[m] = i * c + j
            m += not (x > LN_I32F32_MAX)  # branch-free: the entry is kept when its exp does not overflow
    for t in range(m):
        i = need[t] // c
        j = need[t] - i * c
        out[i, j] = _sigmoid_alpha(_sigmoid_exponent(weights[i, j], bonds[i, j], consensus[j], steepness),
                                   alpha_low, alpha_high)
    return out


@njit(cache=True)
def col_inverse(sums: np.ndarray) -> np.ndarray:
    """Per-column factor of the in-place column normalisations: ``1/sum`` (multiplying by the
    reciprocal; a division per entry costs ~10x more), or 1 where the sum (or max) is 0."""
    out = np.empty(sums.size)
    for j in range(sums.size):
        out[j] = 1.0 / sums[j] if sums[j] != 0.0 else 1.0
    return out


@njit(cache=True)
def col_normalize(matrix: np.ndarray) -> None:
    """Normalise each column to sum 1 in place, leaving all-zero columns (``inplace_col_normalize_sparse``).

    Column sums are taken top to bottom; each entry is multiplied by :func:`col_inverse`."""
    r, c = matrix.shape
    sums = np.zeros(c)
    for i in range(r):
        for j in range(c):
            sums[j] += matrix[i, j]
    inv = col_inverse(sums)
    for i in range(r):
        for j in range(c):
            matrix[i, j] *= inv[j]


@njit(cache=True)
def upscale_1(x: float, col_max: float, inv_max: float) -> float:
    """One entry of :func:`col_max_upscale`: ``x * inv_max``, the column maximum itself exactly 1."""
    return 1.0 if (x == col_max) & (x != 0.0) else x * inv_max  # & not `and`: a select, no branch


@njit(cache=True)
def col_max_upscale(matrix: np.ndarray) -> None:
    """Divide each column by its maximum in place, leaving all-zero columns (``inplace_col_max_upscale_sparse``)."""
    r, c = matrix.shape
    mx = np.zeros(c)
    for i in range(r):
        for j in range(c):
            if matrix[i, j] > mx[j]:
                mx[j] = matrix[i, j]
    inv = col_inverse(mx)
    for i in range(r):
        for j in range(c):
            matrix[i, j] = upscale_1(matrix[i, j], mx[j], inv[j])
