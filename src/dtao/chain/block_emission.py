"""TAO and alpha block emission from issuance, with halvings (spec 2, ``block_emission.rs``)."""
from __future__ import annotations

import numpy as np

from dtao.chain.units import DEFAULT_BLOCK_EMISSION, RAO_PER_TAO, TOTAL_SUPPLY

_SUPPLY_RAO = 21_000_000 * 1_000_000_000
_DEFAULT_RAO = 1_000_000_000


def block_emission_for_issuance_rao(issuance_rao: int) -> int:
    """Exact integer rule in rao: ``floor(1e9 / 2^k)`` where k halvings have passed
    (``issuance >= 21e15 * (1 - 2^-k)``); 0 from 21e15 rao."""
    i = int(issuance_rao)
    if i >= _SUPPLY_RAO:
        return 0
    k = 0
    while k < 64 and i * 2 ** (k + 1) >= _SUPPLY_RAO * (2 ** (k + 1) - 1):
        k += 1
    return _DEFAULT_RAO >> k


def block_emission_for_issuance(issuance: np.ndarray | float) -> np.ndarray | float:
    """Emission per block for a given issuance (TAO units; the same rule gives a subnet's alpha
    emission from its alpha issuance).

    ``k = floor(log2(1 / (1 - I / 21M)))`` halvings have passed; emission is ``1 / 2^k`` TAO floored
    to the rao, and 0 from 21M.  Halvings fall at 10.5M, 15.75M, 18.375M, ...  Vectorised; the
    thresholds are tested on the issuance rounded to whole rao, so float64 TAO decides the step
    exactly except within ~2 rao of a threshold (float64 resolution at 1e7 TAO).
    """
    if isinstance(issuance, float):
        return block_emission_for_issuance_rao(int(issuance * RAO_PER_TAO + 0.5)) / RAO_PER_TAO
    scalar = np.ndim(issuance) == 0
    iss = np.atleast_1d(np.asarray(issuance, np.float64))
    rao = np.floor(iss * RAO_PER_TAO + 0.5)
    supply_rao = TOTAL_SUPPLY * RAO_PER_TAO
    frac = np.clip(rao / supply_rao, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        k = np.floor(-np.log2(np.where(frac < 1.0, 1.0 - frac, 1.0)))
    # correct log2 rounding at the thresholds: issuance >= 21e15 * (1 - 2^-k)
    k = np.where(rao >= supply_rao * (1.0 - 2.0 ** -(k + 1.0)), k + 1.0, k)
    k = np.where(rao < supply_rao * (1.0 - 2.0 ** -k), k - 1.0, k)
    k = np.clip(k, 0.0, 63.0)
    em = np.floor(DEFAULT_BLOCK_EMISSION * RAO_PER_TAO / 2.0**k) / RAO_PER_TAO
    em = np.where(rao >= supply_rao, 0.0, em)
    return float(em[0]) if scalar else em
