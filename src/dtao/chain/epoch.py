"""Yuma consensus: one subnet's epoch, as subtensor runs it (``epoch/run_epoch.rs::epoch``).

The launch-era sparse epoch of v2.0.11 (spec section 5, steps 1-18), and per subnet the v3.1.0
Yuma3 variant (``EpochHyper.yuma3_on``).  The whole epoch is one numba-compiled kernel
(:func:`_epoch_core`) built from the helpers of :mod:`dtao.chain.epoch_math`;
:func:`epoch_batch` runs the kernel for many subnets in one call, in parallel over subnets
(the kernel releases the GIL).  Called from the main thread, the launch-era epoch of a large subnet
also works its matrices as two column blocks on two threads (:func:`_n_blocks`,
:mod:`dtao.chain.threads`); from any other thread, or while the block loop finds one thread cheaper,
it works the same blocks one after another.

Units: stake and emission are float64 TAO units (alpha is counted like TAO: 1 alpha = 1e9
alpha-rao); weights and bonds are the stored u16 integers; the stored per-UID vectors come out as
u16 integers, the emissions as float64 TAO units (the chain floors them to rao, we do not).

Work is done on the rows that can matter: UIDs holding the previous permit (only they have
weights that count), the new permit, or any stored bond.  Every other row has no weight, no
bond and no dividend, exactly as on chain.

Known, deliberate differences from the chain (all within the conformance tolerances):
* arithmetic is float64 rather than I32F32; the normalised stake and active stake are floored to
  the I32F32 grid (so permits and the weighted median decide ties exactly as on chain), the
  stored u16 values are floored/rounded as on chain, and the emissions are not floored to rao;
* in the Yuma3 path with liquid alpha on, the chain keeps a bond only where the bond weight has
  a stored entry; a dense ``weights`` array cannot say "stored zero", so a zero there counts as
  no entry.  Pass a ``csr_array`` with explicit zeros to model validators that store zeros.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, njit, prange

import dtao.chain.threads  # noqa: F401  (starts the kernels' thread pool)
from dtao.chain.epoch_math import (
    alpha_sigmoid,
    clip_1,
    col_inverse,
    ema_1,
    fixed_floor,
    interpolate,
    is_topk,
    is_topk_nonzero,
    topk_holds,
    liquid_alpha_columns,
    max_upscale_u16,
    normalize,
    u16_floor_1,
    upscale_1,
    weighted_median_col,
)

U16Matrix = Union[np.ndarray, sp.csr_array]


@dataclass(frozen=True)
class EpochHyper:
    """Per-subnet hyperparameters of the epoch, in chain units.

    * ``tempo``: blocks between epochs; bonds to UIDs registered after ``block - tempo`` are dropped.
    * ``kappa``: u16, consensus majority (Kappa/65535).
    * ``bonds_moving_average``: bond EMA keeps this/1e6 of the old bonds (a = 1 - value/1e6).
    * ``bonds_penalty``: u16, how much bond weights follow the clipped weights (BondsPenalty/65535).
    * ``max_allowed_validators``: number of validator permits (top stake).
    * ``activity_cutoff``: blocks after the last weight update before a validator is inactive.
    * ``liquid_alpha_on``, ``alpha_low``, ``alpha_high`` (u16 AlphaValues): liquid-alpha EMA.
    * ``yuma3_on``: v3.1.0 Yuma3 bonds (proportional bonds, per-entry liquid alpha).
    * ``alpha_sigmoid_steepness``: Yuma3 liquid-alpha steepness (AlphaSigmoidSteepness).
    * ``stake_threshold``: TAO; stake below it is zeroed before normalisation (v3.1.0 StakeThreshold).
    """

    tempo: int = 360
    kappa: int = 32767
    bonds_moving_average: int = 900_000
    bonds_penalty: int = 65535
    max_allowed_validators: int = 64
    activity_cutoff: int = 5000
    liquid_alpha_on: bool = False
    alpha_low: int = 45875
    alpha_high: int = 58982
    yuma3_on: bool = False
    alpha_sigmoid_steepness: float = 1000.0
    stake_threshold: float = 0.0


@dataclass
class EpochInput:
    """One subnet's epoch inputs (the chain's storage at the epoch block).

    * ``emission``: alpha distributed this epoch, TAO units (pending_alpha + pending_swapped).
    * ``stake``: float64 (n,) stake weight per UID, TAO units (inherited alpha + tao_weight x
      inherited root stake).
    * ``weights``: uint16 (n, n) stored weights, row = setter UID (ndarray or csr_array).
    * ``bonds``: uint16 (n, n) stored bonds, row = validator UID (ndarray or csr_array).
    * ``validator_permit``: bool (n,) the permits stored by the previous epoch.
    * ``last_update``: int64 (n,) block of each UID's last weight update.
    * ``block_at_registration``: int64 (n,) registration block of each UID.
    * ``owner_uid``: the subnet owner's UID (its self-weight is kept), -1 if none.
    * ``consensus``: optional uint16 (n,) stored consensus of the previous epoch.  The results do
      not depend on it; the consensus search starts there, which is faster when it moved little.
    """

    netuid: int
    block: int
    emission: float
    stake: np.ndarray
    weights: U16Matrix
    bonds: U16Matrix
    validator_permit: np.ndarray
    last_update: np.ndarray
    block_at_registration: np.ndarray
    owner_uid: int
    hyper: EpochHyper
    consensus: Optional[np.ndarray] = None


@dataclass
class EpochOutput:
    """One subnet's epoch results.

    * ``incentive``, ``dividends``, ``consensus``, ``trust``, ``validator_trust``, ``rank``,
      ``pruning_scores``: uint16 (n,) as stored (u16 proportions).
    * ``server_emission``: float64 (n,) miners' share of the emission, alpha in TAO units.
    * ``validator_emission``: float64 (n,) validators' share, alpha in TAO units.
    * ``bonds``: uint16 (n, n) new stored bonds, same kind (dense/csr) as the input bonds.
    * ``validator_permit``: bool (n,) new permits.
    """

    incentive: np.ndarray
    dividends: np.ndarray
    consensus: np.ndarray
    trust: np.ndarray
    validator_trust: np.ndarray
    rank: np.ndarray
    pruning_scores: np.ndarray
    server_emission: np.ndarray
    validator_emission: np.ndarray
    bonds: U16Matrix
    validator_permit: np.ndarray


# ----------------------------------------------------------------------------------------------
# kernel
# ----------------------------------------------------------------------------------------------

# integer parameter slots
_P_BLOCK, _P_TEMPO, _P_KAPPA, _P_BMA, _P_PENALTY, _P_MAXVAL, _P_CUTOFF, _P_LIQUID, _P_ALO, _P_AHI, \
    _P_YUMA3, _P_OWNER, _P_SERIAL, _P_NO_STRAY = range(14)
# float parameter slots
_F_EMISSION, _F_STEEP, _F_THRESHOLD = range(3)
# rows of the u16 output block
_O_INC, _O_DIV, _O_CONS, _O_TRUST, _O_VTRUST, _O_RANK, _O_PRUNE = range(7)


#: the launch-era epoch splits its matrices' columns into two blocks worked on in parallel (threads)
#: when a subnet has at least this many UIDs (and a multiple of 16, so the blocks stay aligned)
_SPLIT_MIN: int = 64


@njit(cache=True)
def _n_blocks(n: int, yuma3: bool) -> int:
    """Number of column blocks of the epoch's matrices for ``n`` UIDs: 2 for the launch-era epoch of a
    large subnet, else 1.  It depends on ``n`` only, never on the number of threads.  Every column's
    values are computed the same way in either block; each row's validator trust and dividend is the
    sum of one partial sum per block (left to right within a block), so two blocks can differ from
    one in the last bit of those sums."""
    return 2 if (not yuma3 and n >= _SPLIT_MIN and n % 16 == 0) else 1


@njit(cache=True)
def _row_scales(weights: np.ndarray, rows: np.ndarray, old_permit: np.ndarray, last_update: np.ndarray,
                reg_block: np.ndarray, reg_max: int, owner: int) -> np.ndarray:
    """Step 5's row normalisation: for each row ``rows[k]``, ``1/sum`` of its u16 weights that count (none
    older than the target's registration, no self-weight but the owner's), 1 for an all-zero row (it
    stays zero), 0 for a row without the previous permit (its weights do not count)."""
    r = rows.size
    n = weights.shape[1]
    inv = np.zeros(r)
    for k in range(r):
        i = rows[k]
        if not old_permit[i]:
            continue
        lu = last_update[i]
        tot = 0  # the row sum of u16 integers is exact in any order: summed as integers (vectorises)
        if lu > reg_max:  # set after every registration: no weight is dropped (no mask to apply)
            for j in range(n):
                tot += np.int64(weights[i, j])
        else:
            for j in range(n):  # branch-free so it vectorises
                tot += np.int64(weights[i, j]) * (lu > reg_block[j])
        if i != owner:
            tot -= np.int64(weights[i, i]) * (lu > reg_block[i])
        inv[k] = 1.0 / tot if tot > 0 else 1.0
    return inv


@njit(cache=True)
def _weights_block(weights: np.ndarray, rows: np.ndarray, last_update: np.ndarray, reg_block: np.ndarray,
                   reg_max: int, owner: int, inv: np.ndarray, j0: int, Wt: np.ndarray) -> None:
    """Step 5 on the columns ``j0 .. j0 + Wt.shape[1]``: ``Wt[k, j]`` = the counted u16 weight of row
    ``rows[k]`` on UID ``j0 + j`` times the row's ``inv[k]`` (:func:`_row_scales`)."""
    r, bw = Wt.shape
    reg = reg_block[j0:j0 + bw]
    for k in range(r):
        i = rows[k]
        lu = last_update[i]
        x = inv[k]
        w = weights[i][j0:j0 + bw]  # (a slice, indexed from 0: no negative-index check, so it vectorises)
        if lu > reg_max:
            for j in range(bw):
                Wt[k, j] = np.float64(w[j]) * x
        else:
            for j in range(bw):
                Wt[k, j] = (np.int64(w[j]) * (lu > reg[j])) * x
        if i != owner and j0 <= i < j0 + bw:
            Wt[k, i - j0] = 0.0


@njit(cache=True)
def _consensus_block(t: int, weights: np.ndarray, rows: np.ndarray, old_permit: np.ndarray,
                     last_update: np.ndarray, reg_block: np.ndarray, reg_max: int, owner: int, inv: np.ndarray,
                     SaR: np.ndarray, kappa: float, hint: np.ndarray, guess: np.ndarray, bonds: np.ndarray,
                     col_ok: np.ndarray, bond_sums: bool, W3: np.ndarray, Wc3: np.ndarray, C: np.ndarray,
                     prerank: np.ndarray, ranks: np.ndarray, sum_b: np.ndarray, vt_part: np.ndarray) -> None:
    """Steps 5-10 on column block ``t`` (columns ``t*bw .. (t+1)*bw``): its weights into ``W3[t]``, the
    consensus (stake-weighted median, the stored consensus ``hint`` as the search's start and ``guess``
    (float64 (n,), or empty) as each column's probable answer; the block's consensus is written back
    into ``guess`` for the next epoch), clipped
    weights into ``Wc3[t]``, preranks and ranks, each row's validator trust over the block's columns
    into ``vt_part[t]`` (a column with consensus 0 is clipped to 0), and with ``bond_sums`` the old
    bonds' column sums."""
    bw = W3.shape[2]
    j0 = t * bw
    j1 = j0 + bw
    Wt = W3[t]
    _weights_block(weights, rows, last_update, reg_block, reg_max, owner, inv, j0, Wt)
    Ct = weighted_median_col(SaR, Wt, kappa, hint[j0:j1] if hint.size > 0 else hint,
                             guess[j0:j1] if guess.size > 0 else guess)
    if guess.size > 0:
        guess[j0:j1] = Ct
    pre = np.zeros(bw)
    rk = np.zeros(bw)
    _clip_rank(Wt, Ct, SaR, Wc3[t], pre, rk)
    C[j0:j1] = Ct
    prerank[j0:j1] = pre
    ranks[j0:j1] = rk
    vt_part[t] = row_sums(Wc3[t], nonzero_columns(Ct))
    if bond_sums:
        sum_b[j0:j1] = _bond_col_sums(bonds, rows, col_ok[j0:j1], j0)


@njit(cache=True, parallel=True)
def _consensus_blocks(nb: int, weights: np.ndarray, rows: np.ndarray, old_permit: np.ndarray,
                      last_update: np.ndarray, reg_block: np.ndarray, reg_max: int, owner: int, inv: np.ndarray,
                      SaR: np.ndarray, kappa: float, hint: np.ndarray, guess: np.ndarray, bonds: np.ndarray,
                      col_ok: np.ndarray, bond_sums: bool, W3: np.ndarray, Wc3: np.ndarray, C: np.ndarray,
                      prerank: np.ndarray, ranks: np.ndarray, sum_b: np.ndarray, vt_part: np.ndarray) -> None:
    """:func:`_consensus_block` for the ``nb`` blocks in parallel (they write disjoint columns)."""
    for t in prange(nb):
        _consensus_block(t, weights, rows, old_permit, last_update, reg_block, reg_max, owner, inv, SaR, kappa,
                         hint, guess, bonds, col_ok, bond_sums, W3, Wc3, C, prerank, ranks, sum_b, vt_part)


@njit(cache=True)
def _sum_blocks(part: np.ndarray) -> np.ndarray:
    """Each row's sum over the column blocks of its per-block partial sums ``part`` (blocks, r), added
    in block order (one block: the partial sum itself)."""
    out = part[0].copy()
    for t in range(1, part.shape[0]):
        for k in range(out.size):
            out[k] += part[t, k]
    return out


@njit(cache=True)
def nonzero_columns(v: np.ndarray) -> np.ndarray:
    """Indices ``j`` with ``v[j] != 0`` in increasing order (int64): the columns a row sum or dot product
    must visit when every other column adds an exact +0.0 (which leaves a sum of non-negative terms
    unchanged, so skipping them gives the same floats)."""
    idx = np.empty(v.size, np.int64)
    m = 0
    for j in range(v.size):
        idx[m] = j
        m += v[j] != 0.0
    return idx[:m]


@njit(cache=True)
def _store_bonds_block(out_bonds: np.ndarray, rows: np.ndarray, new_permit: np.ndarray, old_permit: np.ndarray,
                       Et: np.ndarray, j0: int, scale: np.ndarray, up_max: np.ndarray, up_inv: np.ndarray) -> None:
    """Step 17's bonds on the columns ``j0 .. j0 + Et.shape[1]``: a validator with the new permit stores
    its EMA bonds ``Et[k]`` (:func:`_store_bond_row`), one that lost its permit stores none."""
    j1 = j0 + Et.shape[1]
    for k in range(rows.size):
        i = rows[k]
        if new_permit[i]:
            _store_bond_row(out_bonds[i][j0:j1], Et[k], scale, up_max, up_inv)
        elif old_permit[i]:
            out_bonds[i][j0:j1] = 0


@njit(cache=True)
def _bonds_block(t: int, bonds: np.ndarray, rows: np.ndarray, Wb3: np.ndarray, SaR: np.ndarray,
                 old_scale: np.ndarray, inv_d: np.ndarray, alpha: np.ndarray, incentive: np.ndarray,
                 new_permit: np.ndarray, old_permit: np.ndarray, E3: np.ndarray, div_part: np.ndarray,
                 out_bonds: np.ndarray) -> None:
    """Steps 13-15 and the bonds' storage on column block ``t`` (launch era): the EMA bonds into ``E3[t]``
    (:func:`_bond_ema`), their column normalisation and max-upscale, each row's dividend dot product over
    the block's columns into ``div_part[t]``, and the new bonds of the block's columns stored.

    E's column normalisation (x 1/sum) is applied where E is read: in the dot products and as the bonds
    are stored.  Scaling by a positive factor keeps the order of floats, so the column maximum of the
    normalised E is the normalised maximum."""
    bw = Wb3.shape[2]
    j0 = t * bw
    j1 = j0 + bw
    sum_e = np.zeros(bw)
    max_e = np.zeros(bw)
    Et = E3[t]
    _bond_ema(bonds, rows, j0, Wb3[t], SaR, old_scale[j0:j1], inv_d[j0:j1], alpha[j0:j1], Et, sum_e, max_e)
    e_scale = col_inverse(sum_e)
    div_part[t] = row_dots_scaled(Et, e_scale, incentive[j0:j1])
    up_max = max_e * e_scale
    _store_bonds_block(out_bonds, rows, new_permit, old_permit, Et, j0, e_scale, up_max, col_inverse(up_max))


@njit(cache=True, parallel=True)
def _bonds_blocks(nb: int, bonds: np.ndarray, rows: np.ndarray, Wb3: np.ndarray, SaR: np.ndarray,
                  old_scale: np.ndarray, inv_d: np.ndarray, alpha: np.ndarray, incentive: np.ndarray,
                  new_permit: np.ndarray, old_permit: np.ndarray, E3: np.ndarray, div_part: np.ndarray,
                  out_bonds: np.ndarray) -> None:
    """:func:`_bonds_block` for the ``nb`` blocks in parallel (they read and write disjoint columns)."""
    for t in prange(nb):
        _bonds_block(t, bonds, rows, Wb3, SaR, old_scale, inv_d, alpha, incentive, new_permit, old_permit, E3,
                     div_part, out_bonds)


@njit(cache=True)
def row_sums(m: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sum of each row of ``m`` (r, c) over the columns ``cols`` (increasing; every other entry of ``m``
    is +0.0, all entries >= 0), each row summed left to right; eight rows at a time so the eight
    sequential sums overlap (the same result as one row after another over all columns)."""
    r = m.shape[0]
    out = np.zeros(r)
    k = 0
    while k + 8 <= r:
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for t in range(cols.size):
            j = cols[t]
            a0 += m[k, j]
            a1 += m[k + 1, j]
            a2 += m[k + 2, j]
            a3 += m[k + 3, j]
            a4 += m[k + 4, j]
            a5 += m[k + 5, j]
            a6 += m[k + 6, j]
            a7 += m[k + 7, j]
        out[k], out[k + 1], out[k + 2], out[k + 3] = a0, a1, a2, a3
        out[k + 4], out[k + 5], out[k + 6], out[k + 7] = a4, a5, a6, a7
        k += 8
    while k < r:
        a0 = 0.0
        for t in range(cols.size):
            a0 += m[k, cols[t]]
        out[k] = a0
        k += 1
    return out


@njit(cache=True)
def row_dots_scaled(m: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(m * s) @ v`` (each column of ``m`` scaled by ``s[j]``, then dotted with ``v``; all entries >= 0):
    each row's sum of ``(m[k, j] * s[j]) * v[j]`` taken left to right, eight rows at a time so the eight
    sequential sums overlap (measured ~25% faster than four at 64x256: eight independent sums keep both
    adders busy; the same result as one row after another).  Columns with ``v[j] = 0`` add +0.0 and are
    skipped (:func:`nonzero_columns`)."""
    r = m.shape[0]
    cols = nonzero_columns(v)
    c = cols.size
    f = np.empty(c)
    x = np.empty(c)
    for t in range(c):
        f[t] = s[cols[t]]
        x[t] = v[cols[t]]
    out = np.zeros(r)
    k = 0
    while k + 8 <= r:
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for t in range(c):
            j = cols[t]
            ft = f[t]
            xt = x[t]
            a0 += (m[k, j] * ft) * xt
            a1 += (m[k + 1, j] * ft) * xt
            a2 += (m[k + 2, j] * ft) * xt
            a3 += (m[k + 3, j] * ft) * xt
            a4 += (m[k + 4, j] * ft) * xt
            a5 += (m[k + 5, j] * ft) * xt
            a6 += (m[k + 6, j] * ft) * xt
            a7 += (m[k + 7, j] * ft) * xt
        out[k], out[k + 1], out[k + 2], out[k + 3] = a0, a1, a2, a3
        out[k + 4], out[k + 5], out[k + 6], out[k + 7] = a4, a5, a6, a7
        k += 8
    while k < r:
        a0 = 0.0
        for t in range(c):
            a0 += (m[k, cols[t]] * f[t]) * x[t]
        out[k] = a0
        k += 1
    return out


@njit(cache=True)
def _clip_rank(W: np.ndarray, C: np.ndarray, SaR: np.ndarray, Wc: np.ndarray, prerank: np.ndarray,
               ranks: np.ndarray) -> None:
    """Steps 7-9: ``Wc = col_clip(W, C)``, ``prerank += SaR @ W`` and ``ranks += SaR @ Wc``.

    Four rows per sweep of the columns: each column sum still adds the rows one after another in
    row order (the same result as row by row), but is loaded and stored a quarter as often."""
    r, n = W.shape
    k = 0
    while k + 4 <= r:
        s0 = SaR[k]
        s1 = SaR[k + 1]
        s2 = SaR[k + 2]
        s3 = SaR[k + 3]
        for j in range(n):
            t = C[j]
            v0 = W[k, j]
            v1 = W[k + 1, j]
            v2 = W[k + 2, j]
            v3 = W[k + 3, j]
            c0 = clip_1(v0, t)
            c1 = clip_1(v1, t)
            c2 = clip_1(v2, t)
            c3 = clip_1(v3, t)
            Wc[k, j] = c0
            Wc[k + 1, j] = c1
            Wc[k + 2, j] = c2
            Wc[k + 3, j] = c3
            prerank[j] = (((prerank[j] + s0 * v0) + s1 * v1) + s2 * v2) + s3 * v3
            ranks[j] = (((ranks[j] + s0 * c0) + s1 * c1) + s2 * c2) + s3 * c3
        k += 4
    while k < r:
        sk = SaR[k]
        for j in range(n):
            v = W[k, j]
            wc = clip_1(v, C[j])
            Wc[k, j] = wc
            prerank[j] += sk * v
            ranks[j] += sk * wc
        k += 1


@njit(cache=True)
def _bond_col_sums(bonds: np.ndarray, rows: np.ndarray, col_ok: np.ndarray, j0: int) -> np.ndarray:
    """Column sums of the old bonds ``bonds[rows, j0:j0+w] * col_ok`` (u16 integers; float64 (w,), w =
    ``col_ok.size``).

    A sum of u16 integers is exact in any order, so the rows are added as integers (vectorised), four
    rows per sweep (1.3 -> 0.8 us at 64 x 256), and converted once: the same floats as adding the float
    entries row after row."""
    n = col_ok.size
    acc = np.zeros(n, np.int64)
    m = rows.size
    k = 0
    while k + 4 <= m:
        b0 = bonds[rows[k]][j0:j0 + n]  # (row slices indexed from 0: no negative-index check, so it vectorises)
        b1 = bonds[rows[k + 1]][j0:j0 + n]
        b2 = bonds[rows[k + 2]][j0:j0 + n]
        b3 = bonds[rows[k + 3]][j0:j0 + n]
        for j in range(n):
            acc[j] += (np.int64(b0[j]) + np.int64(b1[j])) + (np.int64(b2[j]) + np.int64(b3[j]))
        k += 4
    while k < m:
        b0 = bonds[rows[k]][j0:j0 + n]
        for j in range(n):
            acc[j] += b0[j]
        k += 1
    out = np.empty(n)
    for j in range(n):
        out[j] = acc[j] * col_ok[j]
    return out


@njit(cache=True)
def _bond_ema(bonds: np.ndarray, rows: np.ndarray, j0: int, Wb: np.ndarray, SaR: np.ndarray, old_scale: np.ndarray,
              inv_d: np.ndarray, alpha: np.ndarray, E: np.ndarray, sum_e: np.ndarray, max_e: np.ndarray) -> None:
    """Step 13 (launch era): ``E = ema(alpha, col_normalize(Wb * SaR), col_normalize(old bonds))`` entry by
    entry (``ema_1``), the column sums of ``E`` into ``sum_e`` and its column maxima into ``max_e``
    (both start at 0); the columns are ``Wb``'s, the old bonds' from ``j0`` on.  ``old_scale[j]`` is
    ``col_ok[j] / sum_b[j]`` (the old bond of a dropped column is 0 either way); ``inv_d`` the bonds delta's column factor.  Four rows per sweep, each sum added
    row after row in row order.  ``E`` may be ``Wb`` (each entry is read before it is written)."""
    r, n = Wb.shape
    k = 0
    while k + 4 <= r:
        b0 = bonds[rows[k]][j0:j0 + n]  # (row slices indexed from 0: no negative-index check, so it vectorises)
        b1 = bonds[rows[k + 1]][j0:j0 + n]
        b2 = bonds[rows[k + 2]][j0:j0 + n]
        b3 = bonds[rows[k + 3]][j0:j0 + n]
        s0 = SaR[k]
        s1 = SaR[k + 1]
        s2 = SaR[k + 2]
        s3 = SaR[k + 3]
        for j in range(n):
            al = alpha[j]
            d = inv_d[j]
            ob = old_scale[j]
            e0 = ema_1(al, (Wb[k, j] * s0) * d, b0[j] * ob)
            e1 = ema_1(al, (Wb[k + 1, j] * s1) * d, b1[j] * ob)
            e2 = ema_1(al, (Wb[k + 2, j] * s2) * d, b2[j] * ob)
            e3 = ema_1(al, (Wb[k + 3, j] * s3) * d, b3[j] * ob)
            E[k, j] = e0
            E[k + 1, j] = e1
            E[k + 2, j] = e2
            E[k + 3, j] = e3
            sum_e[j] = (((sum_e[j] + e0) + e1) + e2) + e3
            x01 = e0 if e0 > e1 else e1
            x23 = e2 if e2 > e3 else e3
            x = x01 if x01 > x23 else x23
            max_e[j] = x if x > max_e[j] else max_e[j]
        k += 4
    while k < r:
        b0 = bonds[rows[k]][j0:j0 + n]
        sk = SaR[k]
        for j in range(n):
            v = ema_1(alpha[j], (Wb[k, j] * sk) * inv_d[j], b0[j] * old_scale[j])
            E[k, j] = v
            sum_e[j] += v
            max_e[j] = v if v > max_e[j] else max_e[j]
        k += 1


@njit(cache=True)
def _store_bond_row(out: np.ndarray, e: np.ndarray, scale: np.ndarray, up_max: np.ndarray, up_inv: np.ndarray) -> None:
    """Store one validator's new bonds: ``out[j] = floor(upscale_1(e[j] * scale[j]) * 65535)`` saturated to
    u16 (truncation is the floor here: the value is >= 0).  ``e``: float64 (n,) EMA bonds, ``scale`` their
    column normalisation, ``up_max``/``up_inv`` the column max-upscale (-1/1: none); ``out`` uint16 (n,).
    Branch-free on row views, so it vectorises."""
    for j in range(e.size):
        x = upscale_1(e[j] * scale[j], up_max[j], up_inv[j]) * 65535.0
        x = min(max(x, 0.0), 65535.0)
        out[j] = np.int32(x)


@njit(cache=True, nogil=True)
def _epoch_core(pi: np.ndarray, pf: np.ndarray, stake: np.ndarray, weights: np.ndarray, wzero: np.ndarray,
                bonds: np.ndarray, old_permit: np.ndarray, last_update: np.ndarray, reg_block: np.ndarray,
                cons_hint: np.ndarray, cons_guess: np.ndarray, out_u16: np.ndarray, out_em: np.ndarray,
                out_bonds: np.ndarray, out_permit: np.ndarray) -> int:
    """One subnet's epoch, writing into the output buffers (spec 5, steps 1-18, and Yuma3).

    ``pi``: int64 parameters (slots ``_P_*``), ``pf``: float64 parameters (``_F_*``);
    ``weights``/``bonds``: uint16 (n, n) dense stored values; ``wzero``: bool (n, n) explicitly
    stored zero weights (or (0, 0) when none); ``cons_hint``: uint16 (n,) the stored consensus of the
    last epoch, or empty (where the median search starts; the results do not depend on it); ``cons_guess``:
    float64 (n,) the consensus the subnet's last epoch computed, or empty (each column's probable answer,
    checked in one sweep; overwritten with this epoch's consensus; the results do not depend on it);
    outputs: ``out_u16`` (7, n) stored vectors (uint16 or int64),
    ``out_em`` float64 (2, n) server/validator emission in TAO units, ``out_bonds`` uint16 (n, n),
    ``out_permit`` bool (n,).

    Returns the number of stray bond rows: rows of UIDs with neither the old nor the new permit that
    hold a bond (the epoch leaves them as they are).  Finding them scans every such row of ``bonds``;
    ``pi[_P_NO_STRAY]`` = 1 says the caller knows there are none (see ``drain.epoch_store``), and the
    scan is skipped (the results are the same either way when that is true).
    """
    n = stake.size
    block = pi[_P_BLOCK]
    yuma3 = pi[_P_YUMA3] != 0
    serial = pi[_P_SERIAL] != 0  # the column blocks one after another in this thread (no parallel region)
    liquid = pi[_P_LIQUID] != 0
    owner = pi[_P_OWNER]
    emission = pf[_F_EMISSION]
    alpha_low = pi[_P_ALO] / 65535.0
    alpha_high = pi[_P_AHI] / 65535.0
    moving_alpha = 1.0 - pi[_P_BMA] / 1_000_000.0
    kappa = fixed_floor(np.array([pi[_P_KAPPA] / 65535.0]))[0]
    beta = pi[_P_PENALTY] / 65535.0

    # 1. activity
    inactive = last_update + pi[_P_CUTOFF] < block

    # 2. stake: threshold (v3.1.0), normalise, floor to I32F32
    s = stake.copy()
    if pf[_F_THRESHOLD] > 0.0:
        thr_rao = np.floor(pf[_F_THRESHOLD] * 1e9 + 0.5)
        for i in range(n):
            if np.floor(s[i] * 1e9) < thr_rao:
                s[i] = 0.0
    S = fixed_floor(normalize(s))

    # 3. permits (the previous permits mask everything below); launch era: last epoch's permits when
    # they are still the top k (checked in one pass), else the selection
    if yuma3:
        new_permit = is_topk_nonzero(S, pi[_P_MAXVAL])
    elif topk_holds(S, pi[_P_MAXVAL], old_permit):
        new_permit = old_permit.copy()
    else:
        new_permit = is_topk(S, pi[_P_MAXVAL])

    # 4. active stake
    Sa = S.copy()
    for i in range(n):
        if inactive[i] or not old_permit[i]:
            Sa[i] = 0.0
    Sa = fixed_floor(normalize(Sa))

    # rows that can matter: previous permit, new permit, or a stored bond (a stray row)
    rows_buf = np.empty(n, dtype=np.int64)
    r = 0
    strays = 0
    scan = pi[_P_NO_STRAY] == 0
    for i in range(n):
        acc = np.uint16(0)
        if scan and not (old_permit[i] or new_permit[i]):
            for j in range(n):  # the row's largest bond (a u16 max vectorises 32 to a register; no early exit)
                x = bonds[i, j]
                acc = x if x > acc else acc
            strays += acc != 0
        if old_permit[i] or new_permit[i] or acc != 0:
            rows_buf[r] = i
            r += 1
    rows = rows_buf[:r]
    SaR = np.empty(r)
    for k in range(r):
        SaR[k] = Sa[rows[k]]

    # 5. weights: permitted rows, no self-weight (owner's kept), none older than j's registration
    has_zero = wzero.shape[0] > 0
    reg_max = reg_block.max() if n > 0 else 0
    inv = _row_scales(weights, rows, old_permit, last_update, reg_block, reg_max, owner)
    Z = np.zeros((r if has_zero else 0, n), dtype=np.bool_)
    if has_zero:
        for k in range(r):
            i = rows[k]
            if old_permit[i]:
                lu = last_update[i]
                for j in range(n):
                    Z[k, j] = wzero[i, j] and lu > reg_block[j] and (j != i or i == owner)

    # 12 (computed here: the column blocks below take the old bonds' column sums). Old bonds: columns of
    # UIDs registered since the last tempo dropped
    last_tempo = block - pi[_P_TEMPO]
    if last_tempo < 0:
        last_tempo = 0
    col_ok = np.empty(n)
    for j in range(n):
        col_ok[j] = 1.0 if last_tempo > reg_block[j] else 0.0

    # 6-10 per block of columns (in parallel): weights, consensus, clipped weights, preranks, ranks,
    # validator trust, and (launch era) the old bonds' column sums
    nb = _n_blocks(n, yuma3)
    bw = n // nb
    W3 = np.empty((nb, r, bw))
    Wc3 = np.empty((nb, r, bw))
    C = np.empty(n)
    prerank = np.zeros(n)
    ranks = np.zeros(n)
    sum_b = np.zeros(n)
    vt_part = np.empty((nb, r))
    if nb == 1 or serial:
        for t in range(nb):
            _consensus_block(t, weights, rows, old_permit, last_update, reg_block, reg_max, owner, inv, SaR, kappa,
                             cons_hint, cons_guess, bonds, col_ok, not yuma3, W3, Wc3, C, prerank, ranks, sum_b,
                             vt_part)
    else:
        _consensus_blocks(nb, weights, rows, old_permit, last_update, reg_block, reg_max, owner, inv, SaR, kappa,
                          cons_hint, cons_guess, bonds, col_ok, not yuma3, W3, Wc3, C, prerank, ranks, sum_b,
                          vt_part)
    vt_r = _sum_blocks(vt_part)
    vtrust = np.zeros(n)
    for k in range(r):
        vtrust[rows[k]] = vt_r[k]
    trust = np.zeros(n)
    for j in range(n):
        if prerank[j] != 0.0:
            trust[j] = ranks[j] / prerank[j]
    incentive = normalize(ranks)

    if out_bonds is not bonds:  # the rows the epoch does not write keep their bonds
        written = np.zeros(n, dtype=np.bool_)
        for k in range(r):
            written[rows[k]] = new_permit[rows[k]] or old_permit[rows[k]]
        for i in range(n):
            if not written[i]:
                for j in range(n):
                    out_bonds[i, j] = bonds[i, j]
    if not yuma3:
        # 11. bond weights
        Wb3 = interpolate(W3.reshape(nb * r, bw), Wc3.reshape(nb * r, bw), beta).reshape(nb, r, bw)
        # 12-15. launch era: normalised bonds, EMA with the normalised bonds delta, normalised, dividends,
        # max-upscaled.  Each column normalisation is fused into the pass that produces the column
        # (same operations and summation order as normalising in place).
        old_scale = col_inverse(sum_b)
        for j in range(n):
            old_scale[j] *= col_ok[j]
        # the bonds delta's column sums (Wb x stake, rows in order) are the ranks when Wb is the clipped
        # weights (penalty 1) and the preranks when Wb is the weights (penalty 0): the same sums
        if beta == 1.0:
            sum_d = ranks
        elif beta == 0.0:
            sum_d = prerank
        else:
            sum_d = np.zeros(n)
            for k in range(r):
                sk = SaR[k]
                for t in range(nb):
                    for j in range(bw):
                        sum_d[t * bw + j] += Wb3[t, k, j] * sk
        inv_d = col_inverse(sum_d)
        if liquid:
            alpha_cols = liquid_alpha_columns(C, alpha_low, alpha_high, moving_alpha)
        else:
            alpha_cols = np.full(n, moving_alpha)
        # 13-15 and the bonds' storage per block of columns (in parallel).  The old bonds (bonds x col_ok)
        # and the bonds delta (Wb x stake) are recomputed where needed rather than stored; the EMA goes
        # into W's buffer (W is not needed any more; where Wb is W, each entry is read before it is
        # overwritten)
        div_part = np.empty((nb, r))
        if nb == 1 or serial:
            for t in range(nb):
                _bonds_block(t, bonds, rows, Wb3, SaR, old_scale, inv_d, alpha_cols, incentive, new_permit,
                             old_permit, W3, div_part, out_bonds)
        else:
            _bonds_blocks(nb, bonds, rows, Wb3, SaR, old_scale, inv_d, alpha_cols, incentive, new_permit,
                          old_permit, W3, div_part, out_bonds)
        div_r = _sum_blocks(div_part)
    else:
        # (one block of columns: W3[0] is the whole matrix)
        W = W3[0]
        Wc = Wc3[0]
        # 11. bond weights
        Wb = interpolate(W, Wc, beta)
        # Yuma3 (v3.1.0): bonds are proportions, EMA straight on the bond weights
        # the column sums of E are taken top to bottom as E is produced; E's column normalisation is
        # applied inside the dividends' dot products ((E * 1/sum) * incentive, the same operations)
        sums = np.zeros(n)
        if liquid and np.any(C != 0.0):
            B = np.empty((r, n))
            for k in range(r):
                i = rows[k]
                for j in range(n):
                    B[k, j] = bonds[i, j] * col_ok[j] / 65535.0
            A = alpha_sigmoid(C, Wb, B, alpha_low, alpha_high, pf[_F_STEEP])
            keep_zero = has_zero and (beta == 0.0 or beta == 1.0)
            E = np.zeros((r, n))
            for k in range(r):
                for j in range(n):
                    wb = Wb[k, j]
                    if wb > 0.0 or (keep_zero and Z[k, j]):
                        a = A[k, j]
                        v = (1.0 - a) * B[k, j] + max(a * wb, 0.0)
                        v = min(v, 1.0)
                        if v > 0.0:
                            E[k, j] = v
                for j in range(n):
                    sums[j] += E[k, j]
        else:
            # mat_ema with one alpha, the old bonds (bonds x col_ok / 65535) read straight from storage
            E = np.empty((r, n))
            for k in range(r):
                i = rows[k]
                for j in range(n):
                    v = ema_1(moving_alpha, Wb[k, j], bonds[i, j] * col_ok[j] / 65535.0)
                    E[k, j] = v
                    sums[j] += v
        div_r = row_dots_scaled(E, col_inverse(sums), incentive)
        for k in range(r):
            div_r[k] = div_r[k] * SaR[k]
        # stored as they are (x 1.0 is exact; up_max -1: upscale_1(x, -1, 1) is x)
        _store_bonds_block(out_bonds, rows, new_permit, old_permit, E, 0, np.ones(n), np.full(n, -1.0), np.ones(n))
    dividends = np.zeros(n)
    for k in range(r):
        dividends[rows[k]] = div_r[k]
    dividends = normalize(dividends)

    # 16. emission shares
    esum = 0.0
    for j in range(n):
        esum += incentive[j] + dividends[j]
    # server share incentive/esum, validator share dividends/esum, each x emission; if nobody earns,
    # miners get their incentive (0) and validators are paid by active stake (or stake)
    if esum != 0.0:
        combined = normalize(incentive + dividends)
        for j in range(n):
            out_em[0, j] = (incentive[j] / esum) * emission
            out_em[1, j] = (dividends[j] / esum) * emission
    else:
        combined = S if Sa.sum() == 0.0 else Sa
        for j in range(n):
            out_em[0, j] = incentive[j] * emission
            out_em[1, j] = combined[j] * emission

    # 17. storage
    for j in range(n):
        out_u16[_O_INC, j] = u16_floor_1(incentive[j])
        out_u16[_O_DIV, j] = u16_floor_1(dividends[j])
        out_u16[_O_CONS, j] = u16_floor_1(C[j])
        out_u16[_O_TRUST, j] = u16_floor_1(trust[j])
        out_u16[_O_VTRUST, j] = u16_floor_1(vtrust[j])
        out_u16[_O_RANK, j] = u16_floor_1(incentive[j])
        out_permit[j] = new_permit[j]
    out_u16[_O_PRUNE, :] = max_upscale_u16(combined)
    return strays


# ----------------------------------------------------------------------------------------------
# conversions between the chain's sparse storage and dense buffers
# ----------------------------------------------------------------------------------------------

@njit(cache=True)
def _csr_to_dense(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int,
                  want_zero: bool) -> tuple[np.ndarray, np.ndarray]:
    """Dense uint16 (n, n) of a csr matrix, plus its explicitly stored zeros (bool, or (0, 0))."""
    dense = np.zeros((n, n), dtype=np.uint16)
    zero = np.zeros((n if want_zero else 0, n if want_zero else 0), dtype=np.bool_)
    for i in range(n):
        for t in range(indptr[i], indptr[i + 1]):
            j = indices[t]
            v = data[t]
            if v != 0:
                dense[i, j] = v
            elif want_zero:
                zero[i, j] = True
    return dense, zero


@njit(cache=True)
def _dense_to_csr(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) of the non-zero entries of a dense uint16 matrix."""
    n, c = dense.shape
    indptr = np.zeros(n + 1, dtype=np.int64)
    nnz = 0
    for i in range(n):
        row = 0
        for j in range(c):  # branch-free count, vectorised
            row += dense[i, j] != 0
        nnz += row
        indptr[i + 1] = nnz
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=np.uint16)
    t = 0
    for i in range(n):
        if indptr[i + 1] == indptr[i]:
            continue
        for j in range(c):
            if dense[i, j] != 0:
                indices[t] = j
                data[t] = dense[i, j]
                t += 1
    return indptr, indices, data


_NO_ZERO = np.zeros((0, 0), dtype=np.bool_)
_NO_HINT = np.zeros(0, dtype=np.uint16)
_U16 = np.dtype(np.uint16)


def _dense_u16(m: U16Matrix, n: int, want_zero: bool) -> tuple[np.ndarray, np.ndarray]:
    """A stored u16 matrix as a dense C-contiguous uint16 (n, n) array (+ explicit zeros if asked)."""
    if type(m) is np.ndarray and m.dtype is _U16 and m.shape == (n, n) and m.flags.c_contiguous:
        return m, _NO_ZERO  # already the kernel's layout
    if sp.issparse(m):
        csr = m if m.format == "csr" else sp.csr_array(m)
        if csr.shape != (n, n):
            raise ValueError(f"matrix shape {csr.shape} does not match n={n}")
        data = np.asarray(csr.data)
        wz = bool(want_zero and data.size and (data == 0).any())
        dense, zero = _csr_to_dense(csr.indptr, csr.indices, data, n, wz)
        return dense, (zero if wz else _NO_ZERO)
    a = np.asarray(m)
    if a.shape != (n, n):
        raise ValueError(f"matrix shape {a.shape} does not match n={n}")
    if a.dtype != np.uint16 or not a.flags.c_contiguous:
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError("stored weights/bonds must be u16 values in [0, 65535]")
        a = np.ascontiguousarray(a, dtype=np.uint16)
    return a, _NO_ZERO


#: the hyperparameter part of the kernel's parameter arrays, per EpochHyper object (a subnet keeps its
#: hyper object from epoch to epoch): id -> (hyper, int64 params, float64 params); bounded
_PARAM_CACHE: dict[int, tuple[EpochHyper, np.ndarray, np.ndarray]] = {}
_PARAM_CACHE_MAX: int = 4096


def _params(inp: EpochInput) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's int64 (slots ``_P_*``) and float64 (``_F_*``) parameter arrays of one input."""
    h = inp.hyper
    hit = _PARAM_CACHE.get(id(h))
    if hit is None or hit[0] is not h:
        hi = np.array([0, h.tempo, h.kappa, h.bonds_moving_average, h.bonds_penalty, h.max_allowed_validators,
                       h.activity_cutoff, int(h.liquid_alpha_on), h.alpha_low, h.alpha_high, int(h.yuma3_on), 0, 0,
                       0],
                      dtype=np.int64)
        hf = np.array([0.0, h.alpha_sigmoid_steepness, h.stake_threshold], dtype=np.float64)
        if len(_PARAM_CACHE) >= _PARAM_CACHE_MAX:
            _PARAM_CACHE.clear()
        hit = _PARAM_CACHE[id(h)] = (h, hi, hf)
    pi = hit[1].copy()
    pi[_P_BLOCK] = inp.block
    pi[_P_OWNER] = inp.owner_uid
    pi[_P_SERIAL] = not dtao.chain.threads.regions_pay()
    pf = hit[2].copy()
    pf[_F_EMISSION] = inp.emission
    return pi, pf


@njit(cache=True)
def _finite_non_negative(x: np.ndarray) -> bool:
    """Whether every entry of ``x`` is finite and >= 0 (one pass; NaN fails)."""
    ok = True
    for i in range(x.size):
        v = x[i]
        ok &= (v >= 0.0) & (v < np.inf)
    return ok


def _prepare(inp: EpochInput) -> tuple:
    """Validate and convert one subnet's inputs to the kernel's arrays."""
    stake = np.ascontiguousarray(inp.stake, dtype=np.float64)
    n = stake.shape[0]
    if stake.ndim != 1:
        raise ValueError("stake must be a vector")
    if not _finite_non_negative(stake):
        raise ValueError("stake must be finite and non-negative")
    if inp.owner_uid >= n:
        raise ValueError(f"owner_uid {inp.owner_uid} out of range for n={n}")
    weights, wzero = _dense_u16(inp.weights, n, want_zero=inp.hyper.yuma3_on and inp.hyper.liquid_alpha_on)
    bonds, _ = _dense_u16(inp.bonds, n, want_zero=False)
    permit = np.ascontiguousarray(inp.validator_permit, dtype=np.bool_)
    last_update = np.ascontiguousarray(inp.last_update, dtype=np.int64)
    reg = np.ascontiguousarray(inp.block_at_registration, dtype=np.int64)
    if permit.shape != stake.shape or last_update.shape != stake.shape or reg.shape != stake.shape:
        for name, v in (("validator_permit", permit), ("last_update", last_update), ("block_at_registration", reg)):
            if v.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    if inp.consensus is None:
        hint = _NO_HINT
    else:
        hint = np.asarray(inp.consensus)
        if hint.shape != (n,):
            raise ValueError(f"consensus must have shape ({n},), got {hint.shape}")
        if hint.dtype != np.uint16:
            if hint.size and not (np.all(hint >= 0) and np.all(hint <= 65535) and np.all(hint == np.floor(hint))):
                raise ValueError("consensus must be stored u16 values in [0, 65535]")
            hint = hint.astype(np.uint16)
        hint = np.ascontiguousarray(hint)
    pi, pf = _params(inp)
    return pi, pf, stake, weights, wzero, bonds, permit, last_update, reg, hint


def _finish(inp: EpochInput, out_u16: np.ndarray, out_em: np.ndarray, out_bonds: np.ndarray,
            out_permit: np.ndarray) -> EpochOutput:
    """Wrap the kernel's buffers as an :class:`EpochOutput` (bonds back to csr if given csr)."""
    u = out_u16 if out_u16.dtype is _U16 else out_u16.astype(np.uint16)
    if type(inp.bonds) is not np.ndarray and sp.issparse(inp.bonds):
        n = out_bonds.shape[0]
        indptr, indices, data = _dense_to_csr(out_bonds)
        bonds: U16Matrix = sp.csr_array((data, indices, indptr), shape=(n, n))
    else:
        bonds = out_bonds
    # positional, in field order (incentive, dividends, consensus, trust, validator_trust, rank, pruning_scores,
    # server_emission, validator_emission, bonds, validator_permit): keywords cost ~0.35 us a call
    return EpochOutput(u[_O_INC], u[_O_DIV], u[_O_CONS], u[_O_TRUST], u[_O_VTRUST], u[_O_RANK], u[_O_PRUNE],
                       out_em[0], out_em[1], bonds, out_permit)


#: no consensus guesses (a standalone epoch keeps none between calls)
_NO_GUESS = np.zeros(0)


def epoch(inp: EpochInput) -> EpochOutput:
    """Run one subnet's Yuma epoch (``run_epoch.rs::epoch``) and return what the chain stores and pays.

    ``inp.emission`` (TAO units) is split into ``server_emission`` (miners, by incentive) and
    ``validator_emission`` (validators, by dividends); if nobody earns incentive or dividends the
    whole emission goes to validators by active stake (or by stake if no stake is active).
    """
    pi, pf, stake, weights, wzero, bonds, permit, last_update, reg, hint = _prepare(inp)
    n = stake.shape[0]
    out_u16 = np.empty((7, n), dtype=np.uint16)
    out_em = np.empty((2, n))
    out_bonds = np.empty((n, n), dtype=np.uint16)
    out_permit = np.empty(n, dtype=np.bool_)
    _epoch_core(pi, pf, stake, weights, wzero, bonds, permit, last_update, reg, hint, _NO_GUESS, out_u16, out_em,
                out_bonds, out_permit)
    return _finish(inp, out_u16, out_em, out_bonds, out_permit)


def epoch_batch(inputs: Sequence[EpochInput]) -> list[EpochOutput]:
    """Run the epochs of all subnets that fire in one block in one call; same results as looping :func:`epoch`.

    The subnets may differ in size and hyperparameters.  The compiled kernel releases the GIL, so
    the batch is split into contiguous chunks run on ``numba.get_num_threads()`` threads (which work
    each epoch's column blocks one after another: only the main thread opens parallel regions).
    """
    m = len(inputs)
    workers = min(get_num_threads(), m)
    if workers <= 1:
        return [epoch(inp) for inp in inputs]
    bounds = np.linspace(0, m, workers + 1).astype(int)
    chunks = [inputs[bounds[w]:bounds[w + 1]] for w in range(workers)]
    results = list(_executor(workers).map(lambda chunk: [epoch(inp) for inp in chunk], chunks))
    return [out for chunk in results for out in chunk]


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


def _executor(workers: int) -> ThreadPoolExecutor:
    """A long-lived thread pool of ``workers`` threads (created on first use)."""
    ex = _EXECUTORS.get(workers)
    if ex is None:
        ex = _EXECUTORS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dtao-epoch")
    return ex
