"""Units and fixed constants of the chain.

Inside dtao every TAO and alpha amount is a float64 in TAO units (1 alpha unit = 1e9 alpha-rao,
like TAO).  Rao (1e-9 TAO) appears only at the edges: conformance cases and snapshots.
"""
from __future__ import annotations

import math

RAO_PER_TAO: float = 1e9
U16_MAX: int = 65535
U64_MAX: int = 18446744073709551615

#: Blocks per day at 12 s blocks (the runtime's own day).
BLOCKS_PER_DAY: int = 7200
#: Total supply cap of TAO and of each subnet's alpha (TAO units).
TOTAL_SUPPLY: float = 21_000_000.0
#: ``DefaultBlockEmission``: 1 TAO per block before any halving (TAO units).
DEFAULT_BLOCK_EMISSION: float = 1.0
#: ``DefaultMinimumPoolLiquidity`` = 10_000_000 rao (TAO units).
MIN_POOL_LIQUIDITY: float = 0.01
#: ``DefaultMinStake`` = 500_000 rao (TAO units).
DEFAULT_MIN_STAKE: float = 0.0005
#: ``DefaultStakingFee`` = 50_000 rao (TAO units), launch era until v3.1.6.
DEFAULT_STAKING_FEE: float = 0.00005


def to_rao(tao: float) -> int:
    """Convert a TAO amount to integer rao (floor, as the chain's ``to_num::<u64>``)."""
    if not math.isfinite(tao):
        raise ValueError(f"cannot convert non-finite amount {tao!r} to rao")
    return int(math.floor(tao * RAO_PER_TAO + 1e-6))


def from_rao(rao: int | float) -> float:
    """Convert an integer rao amount to TAO units (float64)."""
    return float(rao) / RAO_PER_TAO


def u16_to_float(v: int | float) -> float:
    """A stored u16 proportion (value/65535) as a float in [0, 1]."""
    return float(v) / U16_MAX


def u64_to_float(v: int | float) -> float:
    """A stored u64 proportion (value/u64::MAX) as a float in [0, 1]."""
    return float(v) / float(U64_MAX)
