"""dtao.agents: behaviours as vectorised populations that act on the chain only through extrinsics.

Each population kind has a pydantic ``Config`` (the ``[agents.NAME]`` table of a scenario file) and
a class implementing ``setup`` (genesis accounts) and ``act`` (one decision round).  ``KINDS`` maps
the ``kind`` string to the class.  See docs/agents.md.
"""
from __future__ import annotations

from dtao.agents.base import (
    BLOCKS_PER_YEAR,
    Event,
    MarketView,
    Population,
    PopulationConfig,
    PositionBook,
    Roles,
    SetupContext,
    Valuation,
    World,
    discover_roles,
    position_alpha,
)
from dtao.agents.newsubnets import NewSubnetBuyers, Registrants, RootReturners
from dtao.agents.stakers import ApyChasers, Momentum, PanicSellers, RootStakers, Value
from dtao.agents.supply import Buyback, Entrants, Founders, HoldToEarn, Miners, Owners
from dtao.agents.validators import Foundation, HoldingsValidators, RootValidators, Validators

KINDS: dict[str, type[Population]] = {cls.kind: cls for cls in (
    Validators, HoldingsValidators, Foundation, Miners, Owners, HoldToEarn, Buyback, Founders,
    RootStakers, ApyChasers, Momentum, Value, PanicSellers, RootValidators, Entrants, Registrants, NewSubnetBuyers,
    RootReturners)}

__all__ = ["KINDS", "BLOCKS_PER_YEAR", "Event", "MarketView", "Population", "PopulationConfig", "PositionBook",
           "Roles", "SetupContext", "Valuation", "World", "discover_roles", "position_alpha"]
