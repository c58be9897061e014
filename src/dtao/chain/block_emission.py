"""TAO and alpha block emission from issuance, with halvings (spec 2, ``block_emission.rs``).

One compiled rule (:func:`emission_rao`, exact integer arithmetic in rao) serves every caller: the
conformance adapter (integer rao), the Python API (TAO floats, scalar or vectorised) and the
compiled coinbase.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from dtao.chain.units import RAO_PER_TAO

_SUPPLY_RAO = 21_000_000 * 1_000_000_000
_DEFAULT_RAO = 1_000_000_000


@njit(cache=True)
def emission_rao(issuance_rao: int) -> int:
    """Exact integer rule in rao: ``floor(1e9 / 2^k)`` where k halvings have passed
    (``issuance >= 21e15 * (1 - 2^-k)``, i.e. ``21e15 - issuance <= 21e15 / 2^k``); 0 from 21e15 rao."""
    if issuance_rao >= _SUPPLY_RAO:
        return 0
    gap = _SUPPLY_RAO - issuance_rao
    k = 0
    while k < 63 and gap <= (_SUPPLY_RAO >> (k + 1)):
        k += 1
    return _DEFAULT_RAO >> k


@njit(cache=True)
def emission_tao(issuance: float) -> float:
    """Block emission (TAO units) for an issuance in TAO units: the issuance is rounded to whole rao
    (``int(issuance*1e9 + 0.5)``) and :func:`emission_rao` applied."""
    x = issuance * RAO_PER_TAO + 0.5
    if x >= _SUPPLY_RAO:
        return 0.0
    return emission_rao(np.int64(x)) / RAO_PER_TAO


@njit(cache=True)
def _emission_many(iss: np.ndarray, out: np.ndarray) -> None:
    for i in range(iss.size):
        out[i] = emission_tao(iss[i])


def block_emission_for_issuance_rao(issuance_rao: int) -> int:
    """Exact integer rule in rao (see :func:`emission_rao`); any Python int."""
    i = int(issuance_rao)
    if i >= _SUPPLY_RAO:
        return 0
    if i < -(2**62):
        return _DEFAULT_RAO  # far below any threshold
    return int(emission_rao(i))


def block_emission_for_issuance(issuance: np.ndarray | float) -> np.ndarray | float:
    """Emission per block for a given issuance (TAO units; the same rule gives a subnet's alpha
    emission from its alpha issuance).

    ``k`` halvings have passed when ``issuance >= 21M * (1 - 2^-k)``; emission is ``1 / 2^k`` TAO
    floored to the rao, and 0 from 21M.  Halvings fall at 10.5M, 15.75M, 18.375M, ...  The issuance
    is rounded to whole rao first, so the step is decided exactly in integer rao.  Vectorised.
    """
    if isinstance(issuance, float):
        return float(emission_tao(issuance))
    scalar = np.ndim(issuance) == 0
    iss = np.ascontiguousarray(np.atleast_1d(np.asarray(issuance, np.float64)).reshape(-1))
    out = np.empty(iss.shape, np.float64)
    _emission_many(iss, out)
    if scalar:
        return float(out[0])
    return out.reshape(np.shape(issuance))
