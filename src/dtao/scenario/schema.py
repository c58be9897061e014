"""The scenario file schema: a typed, frozen, validated description of one simulated world.

A scenario says where the chain starts (``[initial]``), which mechanism and parameters it runs
(``[chain]``, any :class:`~dtao.chain.params.ChainParams` field), who acts on it (``[agents.NAME]``
tables, one per population, ``kind`` selecting the behaviour), what happens when (``[[events]]``),
for how long and how often it is recorded (``[horizon]``), the latent world (``[world]``) and the
seed.  Amounts are TAO (or alpha) units; times are days or blocks (7200 blocks per day).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dtao.agents.stakers import ApyChasersConfig, MomentumConfig, PanicSellersConfig, RootStakersConfig, ValueConfig
from dtao.agents.supply import BuybackConfig, EntrantsConfig, FoundersConfig, HoldToEarnConfig, MinersConfig, OwnersConfig
from dtao.agents.newsubnets import NewSubnetBuyersConfig, RegistrantsConfig, RootReturnersConfig
from dtao.agents.validators import FoundationConfig, HoldingsValidatorsConfig, RootValidatorsConfig, ValidatorsConfig
from dtao.chain.errors import InvalidParameter
from dtao.chain.params import ChainParams, SubnetHyper

_STRICT = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------------------------ initial state
class SubnetOverride(BaseModel):
    """Per-subnet settings of a synthetic network (``[[initial.subnets]]``)."""

    model_config = _STRICT
    netuid: int = Field(..., ge=1, description="which subnet")
    price: float | None = Field(None, gt=0.0, le=1.0, description="spot (and EMA) price, TAO/alpha")
    price_quantile: float | None = Field(None, ge=0.0, le=1.0,
                                         description="price set to this quantile of the other subnets' prices")
    pool_tao: float | None = Field(None, gt=0.0, description="TAO in the pool")
    quality: float | None = Field(None, gt=0.0, description="latent subnet quality")
    root_validators: bool = Field(True, description="root validators hold UIDs here (False: only the foundation)")

    @model_validator(mode="after")
    def _one_price(self) -> "SubnetOverride":
        if self.price is not None and self.price_quantile is not None:
            raise ValueError("give price or price_quantile, not both")
        return self


class _NetworkCommon(BaseModel):
    model_config = _STRICT
    n_uids: int = Field(32, ge=2, le=4096, description="UIDs per subnet at the start")
    max_uids: int = Field(256, ge=2, le=4096, description="MaxAllowedUids of each subnet")
    root_tao: float = Field(6_000_000.0, gt=0.0, description="TAO staked on root")
    root_validators: int = Field(16, ge=1, le=64, description="root validators (validate on every subnet)")
    foundation_root_share: float = Field(0.25, gt=0.0, lt=1.0, description="share of root stake on the largest (foundation) validator")
    validator_self_share: float = Field(0.1, ge=0.0, le=1.0, description="share of a root validator's stake its own coldkey holds")
    root_holders: int = Field(256, ge=1, description="nominator coldkeys holding the rest of the root stake")

    @model_validator(mode="after")
    def _uids(self) -> "_NetworkCommon":
        if self.n_uids > self.max_uids:
            raise ValueError(f"n_uids ({self.n_uids}) exceeds max_uids ({self.max_uids})")
        if self.n_uids < self.root_validators + 2:
            raise ValueError(f"n_uids ({self.n_uids}) must leave room for the owner, "
                             f"{self.root_validators} root validators and at least one miner")
        return self


class LaunchInitial(_NetworkCommon):
    """The dTAO launch state (2025-02-13, ``migrate_rao``): 64 subnets seeded 1 TAO + 1 alpha, EMA
    prices seeded with the pre-dTAO emission shares, ~6M TAO on root, ~8.38M TAO issued, tao_weight
    0.18 (figures from chain_params_at_launch.json)."""

    kind: Literal["launch-2025"] = Field("launch-2025", description="the dTAO launch state")
    n_subnets: int = Field(64, ge=1, description="subnets at launch (64 on mainnet)")
    total_issuance: float = Field(8_380_000.0, gt=0.0, description="TAO issued at launch; the TAO not staked or "
                                  "given to agents sits idle in one reserve wallet")
    emission_sigma: float = Field(1.0, ge=0.0, description="log-normal spread of the pre-dTAO emission shares")
    emission_quality_link: float = Field(0.5, ge=0.0, description="pre-dTAO share ~ quality**link x noise")
    launch_rank: dict[int, int] = Field(default_factory=dict, description="netuid = rank: give the subnet the launch "
                                        "standing (EMA price and latent quality) of the subnet ranked `rank` "
                                        "(1 = highest) by launch EMA price, by swapping the two subnets' draws")

    @model_validator(mode="after")
    def _ranks(self) -> "LaunchInitial":
        for nu, rank in self.launch_rank.items():
            if not 1 <= nu <= self.n_subnets:
                raise ValueError(f"launch_rank: netuid {nu} is not one of the {self.n_subnets} launch subnets")
            if not 1 <= rank <= self.n_subnets:
                raise ValueError(f"launch_rank: rank {rank} of netuid {nu} is outside 1..{self.n_subnets}")
        return self


class SyntheticInitial(_NetworkCommon):
    """A developed network some days after its subnets started: pools of given depth and price,
    alpha outstanding held by owners, validators and miners."""

    kind: Literal["synthetic"] = Field("synthetic", description="a developed synthetic network")
    n_subnets: int = Field(16, ge=1, le=1024, description="subnets besides root")
    price_median: float = Field(0.03, gt=0.0, le=1.0, description="median spot price, TAO/alpha")
    price_sigma: float = Field(0.8, ge=0.0, description="log-normal spread of prices")
    pool_tao: float = Field(2000.0, gt=0.0, description="median TAO in a pool")
    pool_sigma: float = Field(0.3, ge=0.0, description="log-normal spread of pool depth around price-proportional")
    root_proportion: float | None = Field(None, gt=0.0, lt=1.0,
                                          description="set each subnet's alpha issuance so its root proportion is this")
    alpha_out_ratio: float = Field(1.0, ge=0.0, description="alpha outstanding per alpha in the pool (when root_proportion is not set)")
    owner_alpha_share: float = Field(0.3, ge=0.0, le=1.0, description="share of alpha outstanding held by the owner")
    miner_alpha_share: float = Field(0.2, ge=0.0, le=1.0, description="share held by miners (the rest by validators)")
    start_day: float = Field(60.0, ge=0.0, description="days the subnets have been running (EMA ramp, block height)")
    free_tao: float = Field(0.0, ge=0.0, description="idle TAO in a reserve wallet")
    subnets: list[SubnetOverride] = Field(default_factory=list, description="per-subnet settings ([[initial.subnets]])")

    @model_validator(mode="after")
    def _shares(self) -> "SyntheticInitial":
        if self.owner_alpha_share + self.miner_alpha_share > 1.0:
            raise ValueError("owner_alpha_share + miner_alpha_share must be <= 1")
        seen = set()
        for s in self.subnets:
            if s.netuid > self.n_subnets:
                raise ValueError(f"subnets: netuid {s.netuid} > n_subnets ({self.n_subnets})")
            if s.netuid in seen:
                raise ValueError(f"subnets: netuid {s.netuid} listed twice")
            seen.add(s.netuid)
        return self


class SnapshotInitial(BaseModel):
    """A state saved with ``dtao.chain.snapshot.save`` (path relative to the scenario file)."""

    model_config = _STRICT
    kind: Literal["snapshot"] = Field("snapshot", description="a saved chain state")
    path: str = Field(..., min_length=1, description="snapshot JSON, relative to the scenario file")


Initial = Annotated[Union[LaunchInitial, SyntheticInitial, SnapshotInitial], Field(discriminator="kind")]

AgentConfig = Annotated[Union[
    ValidatorsConfig, HoldingsValidatorsConfig, FoundationConfig, MinersConfig, OwnersConfig, HoldToEarnConfig,
    BuybackConfig, FoundersConfig, RootStakersConfig, ApyChasersConfig, MomentumConfig, ValueConfig,
    PanicSellersConfig, RootValidatorsConfig, EntrantsConfig, RegistrantsConfig, NewSubnetBuyersConfig,
    RootReturnersConfig],
    Field(discriminator="kind")]


# ------------------------------------------------------------------------------------------ horizon
class Horizon(BaseModel):
    """How long to run and how often to record (exactly one of ``days`` and ``blocks``)."""

    model_config = _STRICT
    days: float | None = Field(None, gt=0.0, description="simulated days (7200 blocks each)")
    blocks: int | None = Field(None, ge=1, description="simulated blocks")
    record_every: int = Field(300, ge=1, description="blocks between recorded rows")

    @model_validator(mode="after")
    def _one(self) -> "Horizon":
        if (self.days is None) == (self.blocks is None):
            raise ValueError("give exactly one of days and blocks")
        return self

    @property
    def n_blocks(self) -> int:
        return int(self.blocks if self.blocks is not None else round(self.days * 7200))


class WorldSection(BaseModel):
    """The latent world: quality of subnets and miners, outside revenue."""

    model_config = _STRICT
    subnet_quality_sigma: float = Field(0.5, ge=0.0, description="log-normal spread of subnet quality (median 1)")
    miner_quality_sigma: float = Field(0.5, ge=0.0, description="log-normal spread of miner quality (median 1)")
    subnet_quality: dict[int, float] = Field(default_factory=dict, description="fixed quality per netuid")
    revenue_tao_per_day: dict[int, float] = Field(default_factory=dict, description="outside revenue per netuid, TAO/day")

    @field_validator("subnet_quality", "revenue_tao_per_day")
    @classmethod
    def _nonneg(cls, v: dict[int, float]) -> dict[int, float]:
        for k, x in v.items():
            if k < 1:
                raise ValueError(f"netuid {k} must be >= 1")
            if not (x >= 0) or x != x:
                raise ValueError(f"value for netuid {k} must be >= 0")
        return v


# ------------------------------------------------------------------------------------------- events
class Trigger(BaseModel):
    """Fire when a subnet's price condition holds (checked every tick from ``after_day``)."""

    model_config = _STRICT
    netuid: int = Field(..., ge=1, description="the subnet watched")
    price_ratio_above: float | None = Field(None, gt=0.0, description="spot price / its price at the start")
    rank_at_most: int | None = Field(None, ge=1, description="rank by spot price among subnets (1 = highest)")
    after_day: float = Field(0.0, ge=0.0, description="not before this day")

    @model_validator(mode="after")
    def _cond(self) -> "Trigger":
        if self.price_ratio_above is None and self.rank_at_most is None:
            raise ValueError("a trigger needs price_ratio_above and/or rank_at_most")
        return self


class RegisterNetworkParams(BaseModel):
    """``params`` of a ``register_network`` event."""

    model_config = _STRICT
    lock_tao: float | None = Field(None, gt=0.0, description="the recorded lock, TAO (None: whatever the chain's rule charges)")
    netuid: int | None = Field(None, ge=1, description="the recorded netuid (logged beside the one the chain assigns)")
    lock_tolerance: float = Field(0.005, ge=0.0, description="relative gap between the chain's lock and lock_tao "
                                  "above which NetworkLastLockCost is aligned")


class EventSpec(BaseModel):
    """A scheduled change.  ``kind``:

    * ``intervention``: delivered to ``population`` (a ``foundation``), which switches its weights;
    * ``set_params``: chain parameters (``params`` = ChainParams fields), e.g. the emission rule;
    * ``set_hyper``: a subnet's hyperparameters (``params`` = SubnetHyper fields);
    * ``quality``: set (``params.value``) or scale (``params.factor``) a subnet's latent quality;
    * ``revenue``: set a subnet's outside revenue (``params.tao_per_day``);
    * ``register_network``: the next founder of ``population`` (a ``registrants`` population)
      registers a subnet (``params``: :class:`RegisterNetworkParams`, the recorded lock and netuid);
      where the chain's lock rule would charge more than ``lock_tolerance`` away from the recorded
      lock, ``NetworkLastLockCost`` (and if needed ``NetworkLastLockBlock``) is set first so that
      the rule charges it.  While the runtime has no start gate (``require_start_call`` false) the
      chain's ``register_network`` has the new subnet emit from its registration
      (``FirstEmissionBlockNumber`` = registration + 1, so the slow start counts blocks since
      registration, v2.0.6-v2.0.8);
    * ``first_emission_migration``: v2.0.9's ``migrate_set_first_emission_block_number``
      (:mod:`dtao.chain.migration`): every existing subnet's ``FirstEmissionBlockNumber`` = the
      current block (no params).

    ``set_hyper`` takes ``netuid`` (one subnet) or ``netuid_range = [lo, hi]`` (every subnet existing
    at that moment with lo <= netuid <= hi).
    """

    model_config = _STRICT
    kind: Literal["intervention", "set_params", "set_hyper", "quality", "revenue", "register_network",
                  "first_emission_migration"]
    at_day: float | None = Field(None, ge=0.0, description="days after the start")
    at_block: int | None = Field(None, ge=0, description="blocks after the start")
    when: Trigger | None = Field(None, description="fire when this condition holds")
    deadline_day: float | None = Field(None, ge=0.0, description="with a trigger: fire at this day at the latest")
    netuid: int | None = Field(None, ge=1, description="subnet concerned")
    netuid_range: tuple[int, int] | None = Field(None, description="set_hyper: [lo, hi], every subnet existing then in it")
    population: str | None = Field(None, description="agent population addressed (intervention)")
    params: dict[str, Any] = Field(default_factory=dict, description="what to set (see kind)")

    @model_validator(mode="after")
    def _timing(self) -> "EventSpec":
        n = sum(x is not None for x in (self.at_day, self.at_block, self.when))
        if n != 1:
            raise ValueError("give exactly one of at_day, at_block and when")
        if self.deadline_day is not None and self.when is None:
            raise ValueError("deadline_day only goes with a trigger (when)")
        if self.kind == "intervention" and not self.population:
            raise ValueError("an intervention names the population (a foundation) that intervenes")
        if self.netuid_range is not None:
            lo, hi = self.netuid_range
            if self.kind != "set_hyper":
                raise ValueError("netuid_range only goes with a set_hyper event")
            if self.netuid is not None:
                raise ValueError("give netuid or netuid_range, not both")
            if not 1 <= lo <= hi:
                raise ValueError(f"netuid_range: need 1 <= lo <= hi, got [{lo}, {hi}]")
        if self.kind == "set_hyper" and self.netuid is None and self.netuid_range is None and self.when is None:
            raise ValueError("a set_hyper event needs a netuid or a netuid_range")
        if self.kind in ("quality", "revenue") and self.netuid is None and self.when is None:
            raise ValueError(f"a {self.kind} event needs a netuid")
        if self.kind == "set_hyper":
            from dataclasses import fields

            known = {f.name for f in fields(SubnetHyper)}
            bad = sorted(set(self.params) - known)
            if bad:
                raise ValueError(f"params: {bad[0]!r} is not a subnet hyperparameter")
        if self.kind in ("register_network", "first_emission_migration"):
            if self.when is not None:
                raise ValueError(f"a {self.kind} event is scheduled (at_day or at_block), not triggered")
            if self.netuid is not None:
                raise ValueError(f"a {self.kind} event takes no netuid (the chain assigns it; "
                                 "the recorded one goes in params.netuid)")
        if self.kind == "register_network":
            if not self.population:
                raise ValueError("a register_network event names the registrants population that registers")
            try:
                RegisterNetworkParams.model_validate(dict(self.params))
            except ValidationError as exc:
                e = exc.errors()[0]
                where = ".".join(str(x) for x in e.get("loc", ()))
                raise ValueError(f"params.{where}: {e.get('msg', 'invalid').removeprefix('Value error, ')}") from None
        if self.kind == "first_emission_migration" and (self.params or self.population):
            raise ValueError("a first_emission_migration event takes no params and no population")
        if self.kind == "set_params":
            try:
                ChainParams().with_(**dict(self.params))
            except (InvalidParameter, TypeError) as exc:
                raise ValueError(f"params: {exc}") from None
        if self.kind == "quality" and not (("value" in self.params) ^ ("factor" in self.params)):
            raise ValueError("a quality event sets params.value or params.factor")
        if self.kind == "revenue" and "tao_per_day" not in self.params:
            raise ValueError("a revenue event sets params.tao_per_day")
        return self


# ----------------------------------------------------------------------------------------- scenario
class Scenario(BaseModel):
    """One scenario: initial state, mechanism, agents, events, horizon, seed (frozen once validated)."""

    model_config = _STRICT
    name: str = Field(..., min_length=1)
    description: str = ""
    seed: int = Field(0, ge=0)
    initial: Initial
    chain: dict[str, Any] = Field(default_factory=dict, description="ChainParams fields to change")
    horizon: Horizon
    world: WorldSection = Field(default_factory=WorldSection)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    events: list[EventSpec] = Field(default_factory=list)

    @field_validator("chain")
    @classmethod
    def _chain(cls, v: dict[str, Any]) -> dict[str, Any]:
        chain_params(v)
        return v

    @model_validator(mode="after")
    def _refs(self) -> "Scenario":
        for i, ev in enumerate(self.events):
            if ev.population is not None:
                if ev.population not in self.agents:
                    raise ValueError(f"events.{i}.population: no agent population named {ev.population!r}")
                if ev.kind == "intervention" and self.agents[ev.population].kind != "foundation":
                    raise ValueError(f"events.{i}.population: {ev.population!r} is not a foundation population")
                if ev.kind == "register_network" and self.agents[ev.population].kind != "registrants":
                    raise ValueError(f"events.{i}.population: {ev.population!r} is not a registrants population")
        return self

    def chain_params(self) -> ChainParams:
        """The chain parameters this scenario runs (defaults + ``[chain]``)."""
        return chain_params(self.chain)


def chain_params(changes: dict[str, Any]) -> ChainParams:
    """Launch-era defaults with ``changes`` applied; ValueError naming the bad field otherwise."""
    from dataclasses import fields

    known = {f.name for f in fields(ChainParams)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown chain parameter {unknown[0]!r}")
    try:
        return ChainParams().with_(**dict(changes))
    except InvalidParameter as exc:
        raise ValueError(exc.detail or str(exc)) from None
    except TypeError as exc:  # unknown subnet_hyper field
        raise ValueError(str(exc)) from None
