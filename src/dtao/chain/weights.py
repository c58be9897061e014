"""Weights: ``set_weights`` (per validator, with the chain's checks) and a batched form for many
validators of one subnet at once (same checks, vectorised), plus root weights for the pre-dTAO
``root_vote`` rule.  Weight values are normalised by max-upscaling to u16 as on chain."""
from __future__ import annotations

import numpy as np
from numba import njit

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
from dtao.chain.state import ROOT, ChainState
from dtao.chain.units import U16_MAX


@njit(cache=True)
def upscale_row_u16(values: np.ndarray, out: np.ndarray) -> None:
    """``vec_u16_max_upscale_to_u16`` of one row: ``round(v*65535/max)`` (half to even), clipped to
    [0, 65535], into ``out``; all zeros when the row's max is not positive."""
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
def _upscale_rows(values: np.ndarray, out: np.ndarray) -> None:
    for i in range(values.shape[0]):
        upscale_row_u16(values[i], out[i])


def max_upscale_u16(values: np.ndarray) -> np.ndarray:
    """``vec_u16_max_upscale_to_u16`` along the last axis: scale so the max is 65535, rounded."""
    v = np.asarray(values, np.float64)
    flat = np.ascontiguousarray(v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1))
    out = np.empty(flat.shape, np.uint16)
    _upscale_rows(flat, out)
    return out.reshape(v.shape)


def _check_values(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InvalidAmount("weights must be finite and non-negative")
    return v


@njit(cache=True)
def _set_rows(weights: np.ndarray, last_update: np.ndarray, permit: np.ndarray, setter_uids: np.ndarray,
              W: np.ndarray, block: int, limit: int, enforce: bool, ok: np.ndarray) -> bool:
    """The rule of :func:`set_weights_batch` once its shapes are checked: returns False (nothing
    changed) if any weight is negative or not finite; else decides every row against the state before
    any is written (permit unless only a self-weight, rate limit), then writes the accepted rows
    (max-upscaled to u16) and their ``LastUpdate`` in order."""
    r, n = W.shape
    bad = False
    for k in range(r):
        for j in range(n):
            x = W[k, j]
            bad |= not (x >= 0.0 and x < np.inf)
    if bad:
        return False
    for k in range(r):
        u = setter_uids[k]
        others = False
        for j in range(n):
            others |= (W[k, j] > 0.0) and j != u
        good = permit[u] or not others
        if enforce:
            lu = last_update[u]
            good = good and not (lu != 0 and block - lu < limit)
        ok[k] = good
    for k in range(r):
        if ok[k]:
            u = setter_uids[k]
            upscale_row_u16(W[k], weights[u])
            last_update[u] = block
    return True


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
    vals = _check_values(values)
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
    row = np.zeros(nr.n, np.float64)
    row[uids] = vals
    nr.weights[uid] = max_upscale_u16(row)
    nr.last_update[uid] = state.block


def set_weights_batch(state: ChainState, netuid: int, setter_uids: np.ndarray, weights: np.ndarray,
                      *, enforce_rate_limit: bool = True) -> np.ndarray:
    """Many validators of one subnet set dense weight rows at once (``set_weights`` per row).

    ``weights`` is (len(setter_uids), n) non-negative.  Rows whose setter lacks a permit (and sets
    weights on others) or is rate-limited are rejected individually, as the chain would reject each
    extrinsic; returns the boolean mask of rows applied.
    """
    nu = state.check_subnet(netuid)
    if nu == ROOT:
        raise CanNotSetRootNetworkWeights("set_weights on root is not allowed under dTAO")
    nr = state.neurons[nu]
    setter_uids = np.ascontiguousarray(setter_uids, np.int64).reshape(-1)
    W = np.asarray(weights, np.float64)
    if W.ndim != 2 or W.shape != (setter_uids.size, nr.n):
        _check_values(W)  # a bad value is reported first, as before
        raise WeightVecNotEqualSize(f"weights must be ({setter_uids.size}, {nr.n}), got {W.shape}")
    if setter_uids.size and (setter_uids.min() < 0 or setter_uids.max() >= nr.n):
        _check_values(W)
        raise UidVecContainInvalidOne("setter uid out of range")
    from dtao.chain.state import kernel_view

    kernel_view(state).sync_neurons(state, [nu])  # the stored arrays in the dtype/layout written in place
    ok = np.zeros(setter_uids.size, bool)
    if not _set_rows(nr.weights, nr.last_update, nr.validator_permit, setter_uids, np.ascontiguousarray(W),
                     int(state.block), int(state.hyper[nu].weights_set_rate_limit), bool(enforce_rate_limit), ok):
        raise InvalidAmount("weights must be finite and non-negative")
    return ok


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
