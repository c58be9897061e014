"""Conformance adapters for the case kinds ``epoch`` and ``epoch_math`` (chain units in and out)."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from dtao.chain import epoch_math as em
from dtao.chain.epoch import EpochHyper, EpochInput, epoch
from dtao.chain.units import RAO_PER_TAO, U64_MAX
from dtao.conformance.registry import kind


def _sparse_rows_to_csr(rows: list[list[list[int]]], n: int) -> sp.csr_array:
    """The chain's stored rows ``[[uid, u16], ...]`` per UID as a uint16 csr matrix (explicit zeros kept)."""
    indptr = [0]
    indices: list[int] = []
    data: list[int] = []
    for row in rows[:n]:
        for uid, val in row:
            if int(uid) < n:
                indices.append(int(uid))
                data.append(int(val))
        indptr.append(len(indices))
    while len(indptr) < n + 1:
        indptr.append(len(indices))
    return sp.csr_array((np.array(data, dtype=np.uint16), np.array(indices, dtype=np.int32),
                         np.array(indptr, dtype=np.int64)), shape=(n, n))


def _csr_to_sparse_rows(m: sp.csr_array) -> list[list[list[int]]]:
    """A uint16 csr matrix as the chain's stored rows (non-zero entries only)."""
    out: list[list[list[int]]] = []
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        out.append([[int(j), int(v)] for j, v in zip(m.indices[lo:hi], m.data[lo:hi]) if v != 0])
    return out


@kind("epoch")
def epoch_case(inp: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`dtao.chain.epoch.epoch` on a case; emissions come back as floored rao like the chain."""
    alpha = np.asarray(inp["alpha_stake"], dtype=np.float64)
    root = np.asarray(inp["root_stake"], dtype=np.float64)
    n = alpha.shape[0]
    tao_weight = int(inp.get("TaoWeight", 0)) / float(U64_MAX)
    stake = (alpha + tao_weight * root) / RAO_PER_TAO
    rao_emission = int(inp["rao_emission"])
    low, high = inp.get("AlphaValues", [45875, 58982])
    hyper = EpochHyper(
        tempo=int(inp["Tempo"]),
        kappa=int(inp.get("Kappa", 32767)),
        bonds_moving_average=int(inp.get("BondsMovingAverage", 900_000)),
        bonds_penalty=int(inp.get("BondsPenalty", 65535)),
        max_allowed_validators=int(inp.get("MaxAllowedValidators", 64)),
        activity_cutoff=int(inp.get("ActivityCutoff", 5000)),
        liquid_alpha_on=bool(inp.get("LiquidAlphaOn", False)),
        alpha_low=int(low),
        alpha_high=int(high),
    )
    owner = inp.get("owner_uid")
    ei = EpochInput(
        netuid=int(inp.get("netuid", 1)),
        block=int(inp["block"]),
        emission=rao_emission / RAO_PER_TAO,
        stake=stake,
        weights=_sparse_rows_to_csr(inp["Weights"], n),
        bonds=_sparse_rows_to_csr(inp["Bonds"], n),
        validator_permit=np.asarray(inp["ValidatorPermit"], dtype=bool),
        last_update=np.asarray(inp["LastUpdate"], dtype=np.int64),
        block_at_registration=np.asarray(inp["BlockAtRegistration"], dtype=np.int64),
        owner_uid=-1 if owner is None else int(owner),
        hyper=hyper,
    )
    out = epoch(ei)
    server = np.floor(out.server_emission * RAO_PER_TAO + 1e-6).astype(np.int64)
    validator = np.floor(out.validator_emission * RAO_PER_TAO + 1e-6).astype(np.int64)
    combined = np.floor((out.server_emission + out.validator_emission) * RAO_PER_TAO + 1e-6).astype(np.int64)
    return {
        "Incentive": out.incentive.tolist(),
        "Dividends": out.dividends.tolist(),
        "Consensus": out.consensus.tolist(),
        "Trust": out.trust.tolist(),
        "ValidatorTrust": out.validator_trust.tolist(),
        "Rank": out.rank.tolist(),
        "PruningScores": out.pruning_scores.tolist(),
        "Emission": combined.tolist(),
        "server_emission": server.tolist(),
        "validator_emission": validator.tolist(),
        "Bonds": _csr_to_sparse_rows(out.bonds),
        "ValidatorPermit": [bool(x) for x in out.validator_permit],
    }


def _f(x: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64))


@kind("epoch_math")
def epoch_math_case(inp: dict[str, Any]) -> dict[str, Any]:
    """Run one helper of :mod:`dtao.chain.epoch_math` named by ``inp["fn"]``."""
    fn = inp["fn"]
    if fn == "weighted_median":
        stake = _f(inp["stake"])
        lo = float(inp.get("lo", 0.0))
        hi = float(inp.get("hi", lo + float(stake.sum())))
        return {"median": float(em.weighted_median(stake, _f(inp["score"]), float(inp["minority"]), lo, hi))}
    if fn == "weighted_median_col":
        return {"medians": em.weighted_median_col(_f(inp["stake"]), _f(inp["weights"]), float(inp["majority"])).tolist()}
    if fn == "col_clip":
        return {"matrix": em.col_clip(_f(inp["matrix"]), _f(inp["threshold"])).tolist()}
    if fn == "mat_ema":
        new = _f(inp["new"])
        alpha = np.broadcast_to(_f(inp["alpha"]), (new.shape[1],)).copy()
        return {"matrix": em.mat_ema(new, _f(inp["old"]), alpha, np.empty_like(new)).tolist()}
    if fn == "interpolate":
        return {"matrix": em.interpolate(_f(inp["mat1"]), _f(inp["mat2"]), float(inp["ratio"])).tolist()}
    if fn == "quantile":
        return {"quantile": float(em.quantile(_f(inp["data"]), float(inp["q"])))}
    if fn == "is_topk":
        return {"topk": [bool(x) for x in em.is_topk(_f(inp["values"]), int(inp["k"]))]}
    if fn == "max_upscale_u16":
        return {"u16": [int(x) for x in em.max_upscale_u16(_f(inp["values"]))]}
    if fn == "logistic_params":
        a, b = em.logistic_params(float(inp["alpha_high"]), float(inp["alpha_low"]), float(inp["consensus_high"]),
                                  float(inp["consensus_low"]))
        return {"a": float(a), "b": float(b)}
    if fn == "alpha_values":
        return {"alpha_values": em.alpha_values(_f(inp["consensus"]), float(inp["a"]), float(inp["b"])).tolist()}
    if fn == "clamp_alpha":
        return {"clamped": em.clamp_alpha(_f(inp["alpha_values"]), float(inp["alpha_high"]),
                                          float(inp["alpha_low"])).tolist()}
    raise ValueError(f"unknown epoch_math fn {fn!r}")
