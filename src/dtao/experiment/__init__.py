"""dtao.experiment: many runs of a scenario.

Sweeps over parameters (Cartesian grid, or sampled: random, Latin hypercube, Sobol), Monte Carlo
replications with seeds spawned from one ``SeedSequence``, executors (in-process, local processes, a
Dask cluster) that give identical results, a result store that streams every run to its own folder
as it finishes, and a DuckDB catalog queryable with SQL.  A failing run is recorded with its
traceback and the rest go on; a crashed or interrupted sweep resumes where it stopped.

    >>> from dtao.experiment import run_sweep, query
    >>> res = run_sweep("mechanisms", "runs/mechanisms", executor="processes", days=10)
    >>> query("runs/mechanisms", "SELECT chain_emission_rule, avg(attacker_profit_tao) FROM runs GROUP BY 1")
"""
from dtao.experiment.catalog import connect, query, runs_frame
from dtao.experiment.design import Plan, RunSpec, make_plan, run_seed
from dtao.experiment.executors import (EXECUTORS, DaskExecutor, Executor, InProcessExecutor, ProcessExecutor,
                                       make_executor)
from dtao.experiment.runner import RunOutcome, RunTask, execute_run
from dtao.experiment.spec import (Experiment, ExperimentError, ParamRange, SampleSpec, builtin_experiments,
                                  experiment_from_flags, load_experiment)
from dtao.experiment.store import Store, StoreError
from dtao.experiment.sweep import SweepInterrupted, SweepResult, run_sweep

__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "Experiment", "ExperimentError", "InProcessExecutor", "ParamRange",
    "Plan", "ProcessExecutor", "RunOutcome", "RunSpec", "RunTask", "SampleSpec", "Store", "StoreError",
    "SweepInterrupted", "SweepResult", "builtin_experiments", "connect", "execute_run", "experiment_from_flags",
    "load_experiment", "make_executor", "make_plan", "query", "run_seed", "run_sweep", "runs_frame",
]
