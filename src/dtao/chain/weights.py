"""Weights: ``set_weights`` (per validator, with the chain's checks), a batched form for many
validators of one subnet at once and a packed form for the rows of many subnets in one compiled call
(same checks and rule, one implementation), plus root weights for the pre-dTAO
``root_vote`` rule.  Weight values are normalised by max-upscaling to u16 as on chain."""
from __future__ import annotations

import operator

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from dtao.chain.errors import (
    CanNotSetRootNetworkWeights,
    HotKeyNotRegisteredInSubNet,
    InvalidAmount,
    NeuronNoValidatorPermit,
    SettingWeightsTooFast,
    UidVecContainInvalidOne,
    WeightVecLengthIsLow,
    WeightVecNotEqualSize,
)
from dtao.chain.state import (
    _NK_NAMES,
    H_WEIGHTS_RATE,
    ROOT,
    ChainState,
    kernel_view,
    neuron_arrays,
    protect_weights,
    writable_weights,
)
from dtao.chain.threads import regions_pay
from dtao.chain.units import U16_MAX

#: positions in a kernel-view neuron tuple (``state.NEURON_KERNEL_FIELDS``)
_K_HOTKEY = _NK_NAMES.index("hotkey")
_K_LAST_UPDATE = _NK_NAMES.index("last_update")
_K_PERMIT = _NK_NAMES.index("validator_permit")
_K_WEIGHTS = _NK_NAMES.index("weights")


@njit(cache=True)
def upscale_row_u16(values: np.ndarray, out: np.ndarray) -> None:
    """Float weights to u16 as a wallet sends them: ``round(v*65535/max)`` (half to even, as the SDK's
    Python ``round``), clipped to [0, 65535], into ``out``; all zeros when the row's max is not
    positive.  (u16 rows go through :func:`upscale_row_u16_fixed`, the chain's own upscale.)"""
    n = values.size
    mx = values[0] if n else 0.0
    for j in range(n):
        mx = values[j] if values[j] > mx else mx
    for j in range(n):
        x = np.rint(values[j] * 65535.0 / mx) if mx > 0.0 else 0.0
        x = x if x > 0.0 else 0.0
        x = x if x < 65535.0 else 65535.0
        out[j] = np.int32(x)


@njit(cache=True)
def _upscale_rows(values: np.ndarray, cols: np.ndarray, out: np.ndarray) -> None:
    """Row ``i`` of ``values`` max-upscaled (:func:`upscale_row_u16`) into columns ``cols`` of
    ``out[i]``, the other columns of ``out[i]`` set to 0."""
    tmp = np.empty(values.shape[1], np.uint16)
    for i in range(values.shape[0]):
        upscale_row_u16(values[i], tmp)
        o = out[i]
        o[:] = 0
        for j in range(cols.size):
            o[cols[j]] = tmp[j]


def max_upscale_u16(values: np.ndarray, cols: np.ndarray | None = None, width: int | None = None) -> np.ndarray:
    """``vec_u16_max_upscale_to_u16`` along the last axis: scale so the max is 65535, rounded.

    With ``cols`` (distinct column indices, one per value of a row of 2-D ``values``; a repeated one
    keeps its last value) and ``width``:
    the (rows, ``width``) u16 rows a wallet sends when it weights only UIDs ``cols`` -- each row's
    values upscaled and placed at ``cols``, zero elsewhere (zeros do not change a non-negative row's
    max, so this equals upscaling the dense row)."""
    v = np.asarray(values, np.float64)
    flat = np.ascontiguousarray(v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1))
    if cols is None:
        out = np.empty(flat.shape, np.uint16)
        _upscale_rows(flat, np.arange(flat.shape[1], dtype=np.int64), out)
        return out.reshape(v.shape)
    cols = np.ascontiguousarray(cols, np.int64)
    if v.ndim != 2 or cols.shape != (v.shape[1],) or width is None or (cols.size and (
            cols.min() < 0 or cols.max() >= width)):
        raise ValueError(f"cols must be {v.shape[-1]} indices in 0..width-1 for 2-D values")
    out = np.empty((v.shape[0], int(width)), np.uint16)
    _upscale_rows(flat, cols, out)
    return out


def _check_values(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InvalidAmount("weights must be finite and non-negative")
    return v


def _integer_rows(values: np.ndarray) -> bool:
    """True when ``values`` holds integers (u16 weights as the extrinsic carries them)."""
    return bool(np.issubdtype(np.asarray(values).dtype, np.integer))


@overload(_integer_rows)
def _ov_integer_rows(values):  # noqa: ANN001, ANN202 - compile-time constant per array type
    flag = isinstance(values.dtype, types.Integer)
    return lambda values: flag


@njit(cache=True)
def upscale_row_u16_fixed(values: np.ndarray, out: np.ndarray) -> None:
    """``vec_u16_max_upscale_to_u16`` of one row of u16 weights, in the chain's I32F32 arithmetic.

    With ``m`` the row's max: all zeros if ``m == 0``; if ``m > 32768``, ``round(e * (65535 / m))``
    with the ratio truncated to 32 fractional bits; else ``round((e * 65535) / m)`` with the quotient
    truncated to 32 fractional bits; ``round`` is half away from zero and the result saturates at
    65535.  Computed exactly in integers (``values`` and ``out`` integer arrays)."""
    n = values.size
    mx = np.int64(0)
    for j in range(n):
        mx = max(mx, np.int64(values[j]))
    half = np.int64(1) << 31
    if mx == 0:
        for j in range(n):
            out[j] = 0
    elif mx > 32768:
        ratio = (np.int64(65535) << 32) // mx  # I32F32 division (truncated)
        for j in range(n):
            x = (np.int64(values[j]) * ratio + half) >> 32  # the product is exact; round half up
            out[j] = x if x < 65535 else 65535
    else:
        for j in range(n):
            num = np.int64(values[j]) * 65535
            q = num // mx
            frac = ((num - q * mx) << 32) // mx  # the quotient's fraction, 32 bits, truncated
            x = q + (1 if frac >= half else 0)
            out[j] = x if x < 65535 else 65535


@njit(cache=True, inline="always")
def _store_row(values: np.ndarray, out: np.ndarray) -> None:
    """Store one accepted weight row ``values`` into ``out`` (a row of ``Weights``).

    u16 rows (as the ``set_weights`` extrinsic carries them) get the chain's
    ``vec_u16_max_upscale_to_u16`` exactly (:func:`upscale_row_u16_fixed`; a row whose max is already
    65535 is stored as it is, the upscale being the identity there).  Float rows (a convenience of
    this API, like the SDK's conversion of float weights before sending) are scaled to a max of 65535
    and rounded (:func:`upscale_row_u16`), which the chain's upscale then leaves unchanged."""
    if _integer_rows(values):
        if values.size == 0:
            return
        mx = values[0]
        same = True
        for j in range(values.size):  # find the max and compare with the stored row (one pass, reads only)
            v = values[j]
            mx = max(mx, v)
            same &= out[j] == v
        if mx != 65535:
            upscale_row_u16_fixed(values, out)
        elif not same:  # a row resent unchanged is not written again (the stored values are the same)
            for j in range(values.size):
                out[j] = values[j]
        return
    upscale_row_u16(values, out)  # overwrites the whole row


@njit(cache=True)
def _row_subnets(row_net: np.ndarray) -> np.ndarray:
    """The distinct netuids of ``row_net``, ascending: the first of each run when the rows come grouped
    by subnet in ascending order (one pass), else sorted."""
    if row_net.size == 0:
        return row_net[:0].copy()
    heads = 1
    for r in range(1, row_net.size):
        if row_net[r] < row_net[r - 1]:
            return np.unique(row_net)
        heads += row_net[r] != row_net[r - 1]
    out = np.empty(heads, np.int64)
    out[0] = row_net[0]
    k = 1
    for r in range(1, row_net.size):
        if row_net[r] != row_net[r - 1]:
            out[k] = row_net[r]
            k += 1
    return out


@njit(cache=True)
def _run_end(row_net: np.ndarray, r: int) -> int:
    """End (exclusive) of the run of rows from ``r`` that name the same subnet."""
    e = r + 1
    while e < row_net.size and row_net[e] == row_net[r]:
        e += 1
    return e


@njit(cache=True)
def _weights_on_others(values: np.ndarray, offsets: np.ndarray, k: int, u: int) -> bool:
    """Whether row ``k`` (set by UID ``u``) puts a positive weight on a UID other than ``u``."""
    for j in range(offsets[k + 1] - offsets[k]):
        if j != u and values[offsets[k] + j] > 0:
            return True
    return False


@njit(cache=True)
def _decide_run(permit: np.ndarray, last_update: np.ndarray, row_uid: np.ndarray, values: np.ndarray,
                offsets: np.ndarray, r: int, e: int, block: int, limit: int, enforce: bool,
                ok: np.ndarray, on_others: np.ndarray) -> None:
    """Decide rows ``r..e`` of one subnet against its state: a setter without a validator permit may
    set only a self-weight; with ``enforce``, a setter whose ``LastUpdate`` is non-zero and less than
    ``WeightsSetRateLimit`` blocks ago is rejected (``SettingWeightsTooFast``).  ``on_others``: each
    row's :func:`_weights_on_others`, when a frozen round's record holds it (else empty)."""
    for k in range(r, e):
        u = row_uid[k]
        good = permit[u]
        if not good:  # without a permit only a self-weight is allowed
            good = not (on_others[k] if on_others.size else _weights_on_others(values, offsets, k, u))
        if enforce:
            lu = last_update[u]
            good = good and not (lu != 0 and block - lu < limit)
        ok[k] = good


@njit(cache=True, inline="always")
def _store_run(weights: np.ndarray, last_update: np.ndarray, row_uid: np.ndarray, values: np.ndarray,
               offsets: np.ndarray, r: int, e: int, block: int, ok: np.ndarray) -> None:
    """Write the accepted rows of ``r..e`` (one subnet) and their ``LastUpdate``, in row order."""
    for k in range(r, e):
        if ok[k]:
            _store_row(values[offsets[k]:offsets[k + 1]], weights[row_uid[k]])
            last_update[row_uid[k]] = block


@njit(cache=True)
def _recordable(ptrs: np.ndarray, sizes: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray) -> bool:
    """Whether a round's rows can be recorded (:class:`_RowsRecord`): every subnet's rows in one run,
    subnets ascending, and no setter twice in a subnet (a stored row is then one row's alone)."""
    r = 0
    while r < row_net.size:
        e = _run_end(row_net, r)
        if r > 0 and row_net[r] <= row_net[r - 1]:
            return False
        seen = np.zeros(sizes[row_net[r]], np.bool_)
        for k in range(r, e):
            if seen[row_uid[k]]:
                return False
            seen[row_uid[k]] = True
        r = e
    return True


@njit(cache=True)
def _set_rows(ptrs: np.ndarray, sizes: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray,
              values: np.ndarray,
              offsets: np.ndarray, limits: np.ndarray, block: int, enforce: bool,
              ok: np.ndarray, parallel: bool, rec: np.ndarray, done: np.ndarray, on_others: np.ndarray,
              at: np.ndarray, writes: np.ndarray, fresh: np.ndarray) -> tuple[int, int]:
    """The rule of :func:`set_weights_rows` (and so of :func:`set_weights_batch`) once the subnets are
    checked.  Row ``r`` is ``values[offsets[r]:offsets[r+1]]``, the dense weight row of UID ``row_uid[r]``
    on subnet ``row_net[r]`` (``ptrs``/``sizes``: the kernel view's per-subnet arrays, read with
    ``state.neuron_arrays``).

    Returns ``(status, row)``: status 1 if any weight is negative or not finite, 2 if row ``row``'s
    length is not the subnet's UID count, 3 if its setter UID is out of range; nothing is changed
    then.  Status 0: every row was decided against the state before any is written (permit unless
    only a self-weight, ``WeightsSetRateLimit``), then the accepted rows (``ok``) were stored
    max-upscaled to u16 with their ``LastUpdate`` = ``block``, in row order (``parallel``: one subnet's
    rows per thread when every subnet's rows come in one run).

    A frozen round (``rec[0]`` >= 0; see :class:`_RowsRecord`): ``done[k]`` says that row ``k`` is
    stored as this round would store it, and nothing else has written the subnet's weights since
    (``at[nu] == writes[nu]``); such a row is not read or written again, only its ``LastUpdate`` is
    set.  ``rec[0]``: 0 a new record (checked with :func:`_recordable` and each row's
    :func:`_weights_on_others` taken, then 1), 1 in use, 2 not recordable (the rows as usual).
    ``fresh[nu]`` is set for the subnets whose rows were recorded afresh.  Rows stored otherwise count
    as writes: ``writes[nu]`` of their subnet is raised."""
    r_n = row_net.size
    if r_n == 0:
        return 0, -1
    if not _integer_rows(values):
        bad = False
        for j in range(offsets[r_n]):
            x = values[j]
            bad |= not (x >= 0.0 and x < np.inf)
        if bad:
            return 1, -1
    if rec.size and rec[0] == 1 and _all_current(row_net, at, writes):
        # a recorded round again, no subnet's arrays replaced or written since its rows were recorded:
        # its rows passed the checks below then (the frozen rows and the subnets' UID counts are the
        # same), so each subnet is decided and written in one pass
        _resend_recorded(ptrs, sizes, row_net, row_uid, values, offsets, limits, block, enforce, ok, done, on_others)
        return 0, -1
    # rows come in runs of one subnet; each run's arrays are taken from the typed list once a pass.
    # First pass: check every run and decide its rows against the state (nothing is written before
    # every run has passed its checks; ``ok`` is the caller's scratch)
    others = on_others if rec.size and rec[0] == 1 else on_others[:0]
    r = 0
    while r < r_n:
        e = _run_end(row_net, r)
        t = neuron_arrays(ptrs, sizes, row_net[r])
        n = t[_K_HOTKEY].size
        for k in range(r, e):
            if offsets[k + 1] - offsets[k] != n:
                return 2, k
            if row_uid[k] < 0 or row_uid[k] >= n:
                return 3, k
        _decide_run(t[_K_PERMIT], t[_K_LAST_UPDATE], row_uid, values, offsets, r, e, block,
                    limits[row_net[r]], enforce, ok, others)
        r = e
    if rec.size and rec[0] == 0:  # a new frozen round: can it be recorded, and whose rows weight others
        rec[0] = 1 if _recordable(ptrs, sizes, row_net, row_uid) else 2
        if rec[0] == 1:
            for k in range(r_n):
                on_others[k] = _weights_on_others(values, offsets, k, row_uid[k])
    if rec.size and rec[0] == 1:
        _store_recorded(ptrs, sizes, row_net, row_uid, values, offsets, block, ok, done, at, writes, fresh)
        return 0, -1
    starts = np.empty(r_n + 1, np.int64)
    n_runs = 0
    grouped = True  # every subnet's rows in one run (netuids ascending): the runs write distinct arrays
    r = 0
    while r < r_n:
        starts[n_runs] = r
        n_runs += 1
        grouped &= r == 0 or row_net[r] > row_net[r - 1]
        e = _run_end(row_net, r)
        for k in range(r, e):
            if ok[k]:
                writes[row_net[r]] += 1  # (any stored row: nothing recorded of this subnet holds)
                break
        r = e
    starts[n_runs] = r_n
    if grouped and parallel:  # the runs are stored in parallel, each run's rows in order
        _store_runs(ptrs, sizes, row_net, row_uid, values, offsets, starts[:n_runs + 1], block, ok)
    else:  # a subnet's rows come back later: every row in order
        for q in range(n_runs):
            t = neuron_arrays(ptrs, sizes, row_net[starts[q]])
            _store_run(t[_K_WEIGHTS], t[_K_LAST_UPDATE], row_uid, values, offsets, starts[q], starts[q + 1],
                       block, ok)
    return 0, -1


@njit(cache=True, inline="always")
def _store_recorded_run(weights: np.ndarray, last_update: np.ndarray, row_uid: np.ndarray, values: np.ndarray,
                        offsets: np.ndarray, r: int, e: int, block: int, ok: np.ndarray, done: np.ndarray) -> None:
    """A recorded round's rows ``r..e`` (one subnet): each accepted row not yet stored as sent is stored
    and marked ``done``, and every accepted row's ``LastUpdate`` set to ``block``."""
    for k in range(r, e):
        if ok[k]:
            if not done[k]:
                _store_row(values[offsets[k]:offsets[k + 1]], weights[row_uid[k]])
                done[k] = True
            last_update[row_uid[k]] = block


@njit(cache=True)
def _all_current(row_net: np.ndarray, at: np.ndarray, writes: np.ndarray) -> bool:
    """Whether every subnet of a recorded round has had no write or new arrays since its rows were
    recorded (``at[nu] == writes[nu]``; see :func:`_store_recorded`)."""
    r = 0
    while r < row_net.size:
        nu = row_net[r]
        if at[nu] != writes[nu]:
            return False
        r = _run_end(row_net, r)
    return True


@njit(cache=True)
def _resend_recorded(ptrs: np.ndarray, sizes: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray,
                     values: np.ndarray,
                     offsets: np.ndarray, limits: np.ndarray, block: int, enforce: bool, ok: np.ndarray,
                     done: np.ndarray, on_others: np.ndarray) -> None:
    """A recorded round whose subnets are all current (:func:`_all_current`): each subnet's rows
    decided (:func:`_decide_run`) and then its accepted rows written as :func:`_store_recorded` writes
    them, one subnet at a time.  The same as deciding every subnet first: a subnet's decisions read
    only its own arrays, and each setter comes once in its subnet (:func:`_recordable`)."""
    r = 0
    while r < row_net.size:
        e = _run_end(row_net, r)
        nu = row_net[r]
        t = neuron_arrays(ptrs, sizes, nu)
        lu = t[_K_LAST_UPDATE]
        _decide_run(t[_K_PERMIT], lu, row_uid, values, offsets, r, e, block, limits[nu], enforce, ok, on_others)
        _store_recorded_run(t[_K_WEIGHTS], lu, row_uid, values, offsets, r, e, block, ok, done)
        r = e


@njit(cache=True)
def _store_recorded(ptrs: np.ndarray, sizes: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray,
                    values: np.ndarray,
                    offsets: np.ndarray, block: int, ok: np.ndarray, done: np.ndarray, at: np.ndarray,
                    writes: np.ndarray, fresh: np.ndarray) -> None:
    """Store a recorded frozen round's accepted rows (see :func:`_set_rows`): a subnet written by
    anything else since its rows were recorded (``at[nu] != writes[nu]``) has them recorded afresh;
    an accepted row not yet stored as sent is stored and marked ``done``; every accepted row's
    ``LastUpdate`` is set.  (The rows are grouped by subnet, each setter once: :func:`_recordable`.)"""
    r_n = row_net.size
    r = 0
    while r < r_n:
        e = _run_end(row_net, r)
        nu = row_net[r]
        if at[nu] != writes[nu]:
            for k in range(r, e):
                done[k] = False
            at[nu] = writes[nu]
            fresh[nu] = True
        t = neuron_arrays(ptrs, sizes, nu)
        _store_recorded_run(t[_K_WEIGHTS], t[_K_LAST_UPDATE], row_uid, values, offsets, r, e, block, ok, done)
        r = e


@njit(cache=True, parallel=True)
def _store_runs(ptrs: np.ndarray, sizes: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray,
                values: np.ndarray,
                offsets: np.ndarray, starts: np.ndarray, block: int, ok: np.ndarray) -> None:
    """:func:`_store_run` for each run ``starts[q]..starts[q+1]``, the runs in parallel: each names one
    subnet and no two the same subnet, so they write distinct arrays (the order does not matter)."""
    for q in prange(starts.size - 1):
        r = starts[q]
        t = neuron_arrays(ptrs, sizes, row_net[r])
        _store_run(t[_K_WEIGHTS], t[_K_LAST_UPDATE], row_uid, values, offsets, r, starts[q + 1], block, ok)


def set_weights(state: ChainState, hotkey: int, netuid: int, uids: list[int] | np.ndarray,
                values: list[float] | np.ndarray) -> None:
    """``set_weights``: the neuron of ``hotkey`` on ``netuid`` sets its weight row (previous row replaced).

    Errors: SubnetNotExists, HotKeyAccountNotExists, HotKeyNotRegisteredInSubNet, WeightVecNotEqualSize,
    UidVecContainInvalidOne, NeuronNoValidatorPermit (weights on others without a permit),
    SettingWeightsTooFast (``WeightsSetRateLimit``).
    """
    nu = state.check_subnet(netuid)
    if nu == ROOT:
        raise CanNotSetRootNetworkWeights("set_weights on root is not allowed under dTAO")
    hk = state.check_hotkey(hotkey)
    uid = state.uid_of(nu, hk)
    if uid is None:
        raise HotKeyNotRegisteredInSubNet(f"hotkey {hk} has no UID on subnet {nu}")
    uids = np.asarray(uids, np.int64)
    raw = _row_values(values)  # integers are u16 weights as the extrinsic carries them
    vals = _check_values(raw)
    if uids.shape != vals.shape or uids.ndim != 1:
        raise WeightVecNotEqualSize(f"{uids.size} uids but {vals.size} weights")
    if uids.size == 0:
        raise WeightVecLengthIsLow("empty weight vector")
    nr = state.neurons[nu]
    if uids.size and (uids.min() < 0 or uids.max() >= nr.n or np.unique(uids).size != uids.size):
        raise UidVecContainInvalidOne(f"uids must be distinct and in 0..{nr.n - 1}")
    self_only = uids.size == 1 and uids[0] == uid
    if not self_only and not nr.validator_permit[uid]:
        raise NeuronNoValidatorPermit(f"uid {uid} on subnet {nu} has no validator permit")
    limit = state.hyper[nu].weights_set_rate_limit
    # check_rate_limit: only a UID that never set weights (LastUpdate 0) is exempt; registration
    # stores LastUpdate = block, so a new neuron waits WeightsSetRateLimit blocks
    if nr.last_update[uid] != 0 and state.block - nr.last_update[uid] < limit:
        raise SettingWeightsTooFast(f"uid {uid} set weights at block {nr.last_update[uid]}; rate limit {limit}")
    row = np.zeros(nr.n, raw.dtype)
    row[uids] = raw
    stored = np.empty(nr.n, np.uint16)
    _store_row(row, stored)
    with writable_weights(nr) as w:
        w[uid] = stored
    view = kernel_view(state)
    view.sync_neurons(state, [nu])
    view.weights_writes[nu] += 1  # (a write the frozen rounds' record did not make)
    nr.last_update[uid] = state.block


def _row_values(values: np.ndarray) -> np.ndarray:
    """Weight values as the kernel reads them: u16 rows kept as u16 (other integers checked to lie in
    0..65535), anything else as float64 (checked in the kernel)."""
    v = np.asarray(values)
    if v.dtype == np.uint16:
        return v
    if np.issubdtype(v.dtype, np.integer):
        if v.size and (v.min() < 0 or v.max() > U16_MAX):
            raise InvalidAmount("integer weights must lie in 0..65535 (u16)")
        return v.astype(np.uint16)
    return np.asarray(v, np.float64)


#: an empty record argument of :func:`_set_rows` (no frozen round)
_NO_REC = np.zeros(0, np.int64)
_NO_ROWS = np.zeros(0, np.bool_)


def freeze(a: np.ndarray) -> np.ndarray:
    """A read-only copy of ``a`` whose memory no one can write (it lies in an immutable ``bytes``).

    :func:`set_weights_rows` given the same frozen arrays again (the same objects, or views of the same
    bytes) knows the rows are the ones it stored last time, and skips reading and comparing them;
    build a round's packed rows once with this and resend them unchanged."""
    c = np.ascontiguousarray(a)
    return np.frombuffer(c.tobytes(), c.dtype).reshape(c.shape)


def _frozen(a: object) -> tuple | None:
    """For an array no one can write -- read-only, its memory in ``bytes`` (:func:`freeze`) -- its place
    in those bytes (the bytes' identity, address, size, dtype, shape; valid while the array lives);
    else None."""
    if type(a) is not np.ndarray or a.flags.writeable:
        return None
    root = a
    while isinstance(root, np.ndarray):
        root = root.base
    if type(root) is not bytes:
        return None
    return id(root), a.ctypes.data, a.nbytes, a.dtype.str, a.shape


class _RowsRecord:
    """What the chain stored from the last frozen round of :func:`set_weights_rows` (kept on the
    state's kernel view, never copied or saved): the round's arrays (held, so their bytes and the
    identities in ``key`` stay theirs), per row whether it is stored as sent (``done``) and whether it weights
    UIDs other than its setter (``on_others``), and per netuid the subnet's ``weights_writes`` when its
    rows were recorded (``at``; -1: not recorded).  Valid because the frozen arrays cannot change
    and the stored weights change only through the chain's writers, which count their writes
    (``KernelView.weights_writes``); recorded subnets' weights are made read-only to Python
    (:func:`~dtao.chain.state.protect_weights`)."""

    def __init__(self, arrays: tuple, key: tuple, rows: int) -> None:
        self.arrays = arrays  # (the round's array objects themselves: the same objects again need no key)
        self.nus: np.ndarray | None = None  # the distinct netuids of the rows
        self.key = key
        self.rec = np.zeros(1, np.int64)  # 0 new, 1 in use, 2 not recordable (see _set_rows)
        self.done = np.zeros(rows, np.bool_)
        self.on_others = np.zeros(rows, np.bool_)
        self.at = np.zeros(0, np.int64)
        self.fresh = np.zeros(0, np.bool_)

    def fit(self, cap: int) -> None:
        """Room for netuids below ``cap``."""
        if self.at.size < cap:
            k = cap - self.at.size
            self.at = np.concatenate([self.at, np.full(k, -1, np.int64)])
            self.fresh = np.concatenate([self.fresh, np.zeros(k, np.bool_)])


def _record_for(state: ChainState, arrays: tuple) -> _RowsRecord | None:
    """The record of this round if its arrays (netuids, setters, values, offsets) are all frozen and
    its values are u16 (a new one when they are not the last frozen round's), else None."""
    view = kernel_view(state)
    rec = view.rows_record
    if isinstance(rec, _RowsRecord) and all(map(operator.is_, arrays, rec.arrays)):
        return rec  # the same frozen objects as the record's
    key = tuple(_frozen(a) for a in arrays)
    if any(k is None for k in key) or arrays[2].dtype != np.uint16:
        return None
    if not (isinstance(rec, _RowsRecord) and rec.key == key):
        rec = view.rows_record = _RowsRecord(arrays, key, int(arrays[1].size))
    return rec


def _apply_rows(state: ChainState, netuids: np.ndarray, row_net: np.ndarray, row_uid: np.ndarray,
                values: np.ndarray, offsets: np.ndarray, enforce_rate_limit: bool,
                rec: _RowsRecord | None = None) -> np.ndarray:
    """Run :func:`_set_rows` on checked subnets ``netuids`` (those ``row_net`` names) and map its
    status to the chain's errors; ``rec``: the record of a frozen round."""
    view = kernel_view(state)
    view.sync_neurons(state, netuids)  # the stored arrays in the dtype/layout written in place
    limits = np.ascontiguousarray(view.hyp_i[:, H_WEIGHTS_RATE])  # WeightsSetRateLimit per netuid
    ok = np.zeros(row_uid.size, bool)
    writes = view.weights_writes
    if rec is not None:
        rec.fit(writes.size)
    rec_args = (_NO_REC, _NO_ROWS, _NO_ROWS, _NO_REC) if rec is None else (rec.rec, rec.done, rec.on_others, rec.at)
    status, r = _set_rows(view.ptrs, view.sizes, row_net, row_uid, values, offsets, limits, int(state.block),
                          bool(enforce_rate_limit), ok, regions_pay(), *rec_args, writes,
                          _NO_ROWS if rec is None else rec.fresh)
    if rec is not None and status == 0 and rec.rec[0] == 1:
        for nu in np.flatnonzero(rec.fresh):  # subnets recorded afresh: their weights made read-only
            rec.fresh[nu] = False
            protect_weights(state.neurons[nu])  # (a view is replaced by a copy: recorded afresh next time)
    if status == 1:
        raise InvalidAmount("weights must be finite and non-negative")
    if status == 2:
        raise WeightVecNotEqualSize(f"row {r}: {offsets[r + 1] - offsets[r]} weights but subnet "
                                    f"{row_net[r]} has {state.neurons[row_net[r]].n} UIDs")
    if status == 3:
        raise UidVecContainInvalidOne(f"row {r}: setter uid {row_uid[r]} out of range on subnet {row_net[r]}")
    return ok


def set_weights_batch(state: ChainState, netuid: int, setter_uids: np.ndarray, weights: np.ndarray,
                      *, enforce_rate_limit: bool = True) -> np.ndarray:
    """Many validators of one subnet set dense weight rows at once (``set_weights`` per row).

    ``weights`` is (len(setter_uids), n) non-negative: float weights, or u16 weights as the extrinsic
    carries them; each accepted row is stored max-upscaled to u16 (``vec_u16_max_upscale_to_u16``).
    Rows whose setter lacks a permit (and sets weights on others) or is rate-limited are rejected
    individually, as the chain would reject each extrinsic; returns the boolean mask of rows applied.
    Errors (nothing changed): SubnetNotExists, CanNotSetRootNetworkWeights, InvalidAmount (a weight
    negative or not finite), WeightVecNotEqualSize, UidVecContainInvalidOne.
    """
    nu = state.check_subnet(netuid)
    if nu == ROOT:
        raise CanNotSetRootNetworkWeights("set_weights on root is not allowed under dTAO")
    nr = state.neurons[nu]
    setter_uids = np.ascontiguousarray(setter_uids, np.int64).reshape(-1)
    W = _row_values(weights)
    if W.ndim != 2 or W.shape != (setter_uids.size, nr.n):
        _check_values(W)  # a bad value is reported first
        raise WeightVecNotEqualSize(f"weights must be ({setter_uids.size}, {nr.n}), got {W.shape}")
    if setter_uids.size and (setter_uids.min() < 0 or setter_uids.max() >= nr.n):
        _check_values(W)
        raise UidVecContainInvalidOne("setter uid out of range")
    r = setter_uids.size
    return _apply_rows(state, np.array([nu], np.int64), np.full(r, nu, np.int64), setter_uids,
                       np.ascontiguousarray(W).reshape(-1), np.arange(r + 1, dtype=np.int64) * nr.n,
                       enforce_rate_limit)


def set_weights_rows(state: ChainState, netuids: np.ndarray, setter_uids: np.ndarray, values: np.ndarray,
                     offsets: np.ndarray, *, enforce_rate_limit: bool = True) -> np.ndarray:
    """Weight rows of many subnets in one call: :func:`set_weights_batch`'s rule (one implementation)
    over rows packed end to end, so a round of every subnet's validators costs one compiled call.

    Row ``r`` is the dense weight row ``values[offsets[r]:offsets[r+1]]`` (one value per UID of subnet
    ``netuids[r]``) of its UID ``setter_uids[r]``.  ``values`` are u16 weights as the ``set_weights``
    extrinsic carries them (stored max-upscaled, so a row whose max is 65535 is stored as given) or
    non-negative floats (max-upscaled to u16).  Every row is decided against the state before any is
    written (permit unless only a self-weight, ``WeightsSetRateLimit``); rejected rows change nothing;
    returns the boolean mask of rows applied.

    Errors (nothing changed): SubnetNotExists, CanNotSetRootNetworkWeights, InvalidAmount (a weight
    negative, not finite, or an integer outside u16), WeightVecNotEqualSize (a row's length is not its
    subnet's UID count, or the packing is inconsistent), UidVecContainInvalidOne (setter out of range).
    """
    rec = _record_for(state, (netuids, setter_uids, values, offsets))
    row_net = np.ascontiguousarray(netuids, np.int64).reshape(-1)
    row_uid = np.ascontiguousarray(setter_uids, np.int64).reshape(-1)
    vals = np.ascontiguousarray(_row_values(values)).reshape(-1)
    offs = np.ascontiguousarray(offsets, np.int64).reshape(-1)
    nus = rec.nus if rec is not None and rec.nus is not None else _row_subnets(row_net)
    if rec is not None:
        rec.nus = nus  # (a function of the frozen netuids)
    if nus.size and (nus[0] < 0 or nus[-1] >= state.n_subnets_cap or not state.exists[nus].all()):
        for nu in nus:
            state.check_subnet(int(nu))  # raises SubnetNotExists for the first missing one
    if nus.size and nus[0] == ROOT:
        raise CanNotSetRootNetworkWeights("set_weights on root is not allowed under dTAO")
    # descending offsets need no pass here: each row's length must equal its subnet's UID count (>= 0),
    # which the kernel checks before it reads a row
    if row_uid.size != row_net.size or offs.size != row_net.size + 1 or offs[0] != 0 or offs[-1] != vals.size:
        _check_values(vals)
        raise WeightVecNotEqualSize(f"{row_net.size} netuids, {row_uid.size} setters, {offs.size} offsets "
                                    f"(need rows + 1, from 0 to {vals.size}, ascending)")
    return _apply_rows(state, nus, row_net, row_uid, vals, offs, enforce_rate_limit, rec)


def set_root_weights(state: ChainState, hotkey: int, netuids: list[int] | np.ndarray,
                     values: list[float] | np.ndarray) -> None:
    """Root validator weights over subnets.  A no-op on chain under dTAO; read by the ``root_vote`` rule."""
    hk = state.check_hotkey(hotkey)
    ids = np.asarray(netuids, np.int64)
    vals = _check_values(values)
    if ids.shape != vals.shape:
        raise WeightVecNotEqualSize(f"{ids.size} netuids but {vals.size} weights")
    for nu in ids:
        state.check_subnet(int(nu))
    w = np.zeros(state.n_subnets_cap)
    w[ids] = vals
    w[ROOT] = 0.0
    state.root_weights[hk] = w
