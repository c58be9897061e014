"""dtao.sim: the driver.  ``run_scenario`` advances the chain block by block, lets the agent
populations act at their cadence, applies events, records metrics and writes the run folder."""
from dtao.sim.driver import RUN_FILES, RunResult, run_scenario

__all__ = ["RunResult", "run_scenario", "RUN_FILES"]
