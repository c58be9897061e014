"""Chain parameters: global settings and per-subnet hyperparameter defaults (spec section 7).

Defaults are the mainnet launch era (subtensor v2.0.11 after ``migrate_rao``): ``TaoWeight`` 0.18,
``NetworkMinLockCost`` 1 TAO, and ``init_new_network`` overrides for new subnets.  Switches named
``*_fix``/era flags select behaviour that changed inside the launch era (spec section 1), so that a
scenario can replay the real timeline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from dtao.chain.errors import InvalidParameter
from dtao.chain.units import DEFAULT_MIN_STAKE, DEFAULT_STAKING_FEE, MIN_POOL_LIQUIDITY, U16_MAX

EmissionRule = Literal["ema_price", "flow", "root_vote"]
EMISSION_RULES: tuple[str, ...] = ("ema_price", "flow", "root_vote")


@dataclass(frozen=True)
class SubnetHyper:
    """Per-subnet hyperparameters given to a new subnet (``init_new_network`` values in chain units)."""

    tempo: int = 360
    kappa: int = 32767  # u16
    rho: int = 10
    bonds_moving_average: int = 900_000
    bonds_penalty: int = 65535  # u16, since v2.0.9
    max_allowed_validators: int = 64
    max_allowed_uids: int = 256
    immunity_period: int = 5000
    activity_cutoff: int = 5000
    liquid_alpha_on: bool = False
    alpha_low: int = 45875  # u16
    alpha_high: int = 58982  # u16
    yuma3_on: bool = False
    alpha_sigmoid_steepness: float = 1000.0
    stake_threshold: float = 0.0  # TAO
    ema_price_halving_blocks: int = 201_600
    registration_allowed: bool = True
    pow_registration_allowed: bool = True
    burn: float = 1.0  # TAO, initial neuron registration burn (adjusted every interval)
    min_burn: float = 0.0005  # TAO
    max_burn: float = 100.0  # TAO
    adjustment_interval: int = 360
    adjustment_alpha: float = 0.97
    weights_set_rate_limit: int = 100
    target_registrations_per_interval: int = 1
    max_registrations_per_block: int = 1
    transfers_enabled: bool = True

    def validate(self) -> None:
        """Raise InvalidParameter naming the first impossible value."""
        for name in ("kappa", "bonds_penalty", "alpha_low", "alpha_high"):
            v = getattr(self, name)
            if not (0 <= v <= U16_MAX):
                raise InvalidParameter(f"{name}={v} is not a u16 (0..65535)")
        if self.tempo < 0:
            raise InvalidParameter(f"tempo={self.tempo} must be >= 0")
        if not (0 <= self.bonds_moving_average <= 1_000_000):
            raise InvalidParameter(f"bonds_moving_average={self.bonds_moving_average} must be in 0..1_000_000")
        if self.max_allowed_uids < 1 or self.max_allowed_validators < 0:
            raise InvalidParameter("max_allowed_uids must be >= 1 and max_allowed_validators >= 0")
        if self.ema_price_halving_blocks < 0:
            raise InvalidParameter("ema_price_halving_blocks must be >= 0")
        if not (0.0 <= self.adjustment_alpha <= 1.0) or self.adjustment_interval < 1:
            raise InvalidParameter("adjustment_alpha must be in [0, 1] and adjustment_interval >= 1")
        if self.min_burn > self.max_burn:
            raise InvalidParameter(f"min_burn {self.min_burn} > max_burn {self.max_burn}")
        for name in ("burn", "stake_threshold", "alpha_sigmoid_steepness", "min_burn", "max_burn"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise InvalidParameter(f"{name}={v} must be a finite non-negative number")


@dataclass(frozen=True)
class ChainParams:
    """Global chain parameters (TAO amounts in TAO units, proportions as floats in [0, 1])."""

    #: ``TaoWeight``: weight of root stake in every subnet's consensus and in root_proportion.
    tao_weight: float = 3320413933267719290 / 18446744073709551615
    #: ``SubnetOwnerCut`` (11796/65535 ~ 0.18) of each block's alpha_out, paid to the owner.
    subnet_owner_cut: float = 11796 / 65535
    #: ``SubnetMovingAlpha``: EMA price smoothing per block.
    subnet_moving_alpha: float = 0.000003
    #: rule that splits the block's TAO among subnets.
    emission_rule: EmissionRule = "ema_price"
    #: v2.0.1: EMA price input capped at 1.0.
    ema_price_cap: bool = True
    #: v2.0.6+: EMA slow-start ramp ``alpha * b / (b + h)``.
    ema_slow_start: bool = True
    #: v2.0.9+: only subnets with ``FirstEmissionBlockNumber`` (start_call) emit.
    require_start_call: bool = True
    #: v2.0.4 double-count fix: validator alpha dividends are ``dividend - root_divs``.
    double_count_fix: bool = True
    #: v2.0.8+: miner incentive to the subnet owner's hotkey is burned.
    owner_incentive_burn: bool = True
    #: v2.0.9+: dynamic unstake fee (else flat ``DefaultStakingFee``).
    dynamic_unstake_fee: bool = True
    #: v3.1.6+: TAO dividends to root also raise ``SubnetTAO[0]`` (launch: they do not, a quirk).
    root_divs_to_subnet_tao: bool = False
    # flow rule (spec 8.3)
    flow_ema_smoothing: float = 29_597_889_189_277 / 9_223_372_036_854_775_807
    flow_norm_exponent: float = 1.0
    flow_cutoff: float = 0.0
    # root_vote rule (pre-dTAO root epoch)
    root_vote_tempo: int = 360
    max_root_validators: int = 64
    # staking
    min_stake: float = DEFAULT_MIN_STAKE
    staking_fee: float = DEFAULT_STAKING_FEE
    min_pool_liquidity: float = MIN_POOL_LIQUIDITY
    default_delegate_take: float = 11796 / 65535
    max_childkey_take: float = 11796 / 65535
    pending_childkey_cooldown: int = 7200
    # subnet registration (spec 4.6)
    network_min_lock_cost: float = 1.0
    network_lock_reduction_interval: int = 100_800
    network_rate_limit: int = 7200
    network_immunity_period: int = 50_400
    duration_of_start_call: int = 50_400
    #: maximum number of subnets besides root; ``None`` = no limit (launch era).
    subnet_limit: int | None = None
    #: when the limit is reached, prune the non-immune subnet with the lowest EMA price (2025-09+).
    subnet_pruning: bool = False
    #: defaults for new subnets
    subnet_hyper: SubnetHyper = field(default_factory=SubnetHyper)

    def validate(self) -> None:
        """Raise InvalidParameter naming the first impossible value."""
        for name in ("tao_weight", "subnet_owner_cut", "subnet_moving_alpha", "flow_ema_smoothing",
                     "default_delegate_take", "max_childkey_take"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or not (0.0 <= v <= 1.0):
                raise InvalidParameter(f"{name}={v!r} must be a number in [0, 1]")
        if self.emission_rule not in EMISSION_RULES:
            raise InvalidParameter(f"emission_rule={self.emission_rule!r}; expected one of {', '.join(EMISSION_RULES)}")
        if not isinstance(self.flow_cutoff, (int, float)) or not math.isfinite(self.flow_cutoff):
            raise InvalidParameter(f"flow_cutoff={self.flow_cutoff!r} must be a finite number (TAO/block, may be negative)")
        for name in ("min_stake", "staking_fee", "min_pool_liquidity", "network_min_lock_cost"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise InvalidParameter(f"{name}={v!r} must be a finite non-negative amount (TAO)")
        if not math.isfinite(self.flow_norm_exponent) or self.flow_norm_exponent <= 0:
            raise InvalidParameter("flow_norm_exponent must be > 0")
        for name in ("network_lock_reduction_interval", "network_rate_limit", "network_immunity_period",
                     "duration_of_start_call", "pending_childkey_cooldown", "root_vote_tempo", "max_root_validators"):
            if getattr(self, name) < 0:
                raise InvalidParameter(f"{name} must be >= 0")
        if self.network_lock_reduction_interval == 0:
            raise InvalidParameter("network_lock_reduction_interval must be > 0")
        if self.subnet_limit is not None and self.subnet_limit < 1:
            raise InvalidParameter("subnet_limit must be >= 1 or None")
        self.subnet_hyper.validate()

    def with_(self, **changes: Any) -> "ChainParams":
        """A copy with ``changes`` applied and validated (``subnet_hyper`` may be a dict of changes)."""
        sh = changes.pop("subnet_hyper", None)
        out = replace(self, **changes)
        if sh is not None:
            out = replace(out, subnet_hyper=sh if isinstance(sh, SubnetHyper) else replace(self.subnet_hyper, **sh))
        out.validate()
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChainParams":
        d = dict(d)
        sh = d.pop("subnet_hyper", {})
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidParameter(f"unknown chain parameter(s): {', '.join(sorted(unknown))}")
        known_sh = {f.name for f in fields(SubnetHyper)}
        unknown_sh = set(sh) - known_sh
        if unknown_sh:
            raise InvalidParameter(f"unknown subnet hyperparameter(s): {', '.join(sorted(unknown_sh))}")
        p = cls(**d, subnet_hyper=SubnetHyper(**sh))
        p.validate()
        return p
