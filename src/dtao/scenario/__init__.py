"""dtao.scenario: scenario files (TOML) parsed into typed, validated, frozen objects, and the
initial states they start from.

``load_scenario(source, overrides)`` reads a built-in scenario by name or a TOML file;
``build(scenario, seed, ...)`` turns it into a chain state, the latent world and agent populations.
"""
from dtao.scenario.loader import ScenarioError, apply_overrides, builtin_names, load_scenario, parse_value
from dtao.scenario.schema import EventSpec, Horizon, Scenario

__all__ = ["Scenario", "ScenarioError", "EventSpec", "Horizon", "load_scenario", "apply_overrides", "builtin_names",
           "parse_value"]
