"""``dtao sweep EXPERIMENT [--executor ...] [--scheduler ADDRESS] [--days N] [--replications N] [--out DIR] [--resume]``."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dtao.cli import app


@app.command("sweep", short_help="Run an experiment (grid/sampled parameters x replications) into a result store.")
def sweep(
    experiment: Optional[str] = typer.Argument(
        None, help="experiment TOML file or built-in name (e.g. 'mechanisms'); optional with --resume or --scenario"),
    executor: str = typer.Option("processes", "--executor", "-e", help="inprocess | processes | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (implies --executor dask)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="worker processes (default: all cores)"),
    days: Optional[float] = typer.Option(None, "--days", help="horizon of every run, in days (7200 blocks a day)"),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", help="runs per parameter point"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/<experiment name>)"),
    resume: bool = typer.Option(False, "--resume", help="complete an interrupted sweep in --out: run only what is missing"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="with --resume, also rerun failed runs"),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="base scenario (built-in name or TOML path)"),
    set_: List[str] = typer.Option([], "--set", help="fixed override KEY=VALUE (repeatable)"),
    grid: List[str] = typer.Option([], "--grid", help="grid axis KEY=V1,V2,... (repeatable)"),
    sample: Optional[str] = typer.Option(None, "--sample", help="sampled design METHOD:N (random, lhs, sobol)"),
    range_: List[str] = typer.Option([], "--range", help="sampled parameter KEY=LOW:HIGH[:log][:int] or KEY=a|b|c"),
    seed: Optional[int] = typer.Option(None, "--seed", help="experiment seed (root of every run's seed)"),
    seeding: Optional[str] = typer.Option(None, "--seeding", help="independent | common (same seeds at every point)"),
    name: Optional[str] = typer.Option(None, "--name", help="experiment name"),
    plan_only: bool = typer.Option(False, "--plan", help="print the plan (points, runs, seeds) and exit"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress display"),
) -> None:
    """Run an experiment: every parameter point times every replication, each run streamed to its own
    folder under OUT/runs/ and catalogued in OUT/catalog.duckdb (query it with `dtao query OUT "SQL"`).
    Ctrl-C keeps what finished; rerun with --resume to complete.  Exit status: 0 all runs done, 1 some
    failed (their tracebacks are in the catalog), 2 bad input, 130 interrupted."""
    from dtao.experiment import (ExperimentError, Store, SweepInterrupted, experiment_from_flags, load_experiment,
                                 make_plan, run_sweep)

    def fail(msg: str) -> None:
        typer.echo(f"error: {msg}", err=True)
        raise typer.Exit(2)

    if scheduler is not None:
        executor = "dask"
    if executor not in ("inprocess", "processes", "dask"):
        fail(f"--executor must be inprocess, processes or dask, got {executor!r}")
    if executor == "dask" and scheduler is None:
        fail("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    try:
        base = None
        if experiment is not None:
            base = load_experiment(experiment)
        elif resume and out is not None and Store(out).exists():
            base = Store(out).read_plan().experiment
        flags_given = scenario or set_ or grid or sample or range_ or seed is not None or seeding or name
        exp = experiment_from_flags(base, scenario=scenario, sets=set_, grids=grid, sample=sample, ranges=range_,
                                    seed=seed, name=name, seeding=seeding) if (flags_given or base is None) else base
        if out is None:
            out = Path("runs") / exp.name
        if plan_only:
            if replications is not None:
                exp = exp.with_(replications=replications)
            if days is not None:
                exp = exp.with_(days=days, blocks=None)
            plan = make_plan(exp)
            typer.echo(f"experiment {exp.name}: scenario {exp.scenario}, seed {plan.seed}, "
                       f"{len(plan.points)} points x {exp.replications} replications = {plan.n_runs} runs")
            for r in plan.runs:
                typer.echo(f"  {r.run_id}  seed {r.seed:>20}  {r.params}")
            return
        result = run_sweep(exp, out, executor=executor, workers=workers, scheduler=scheduler, resume=resume,
                           retry_failed=retry_failed, days=days, replications=replications, progress=not quiet)
    except SweepInterrupted as exc:
        r = exc.result
        typer.echo(f"interrupted: {r.n_done} done, {r.n_failed} failed, {r.n_missing} not run, of {r.n_runs}; "
                   f"complete it with: dtao sweep --resume --out {r.out}", err=True)
        raise typer.Exit(130)
    except (ExperimentError, ConnectionError, ValueError) as exc:
        fail(str(exc))
        return
    typer.echo(f"{result.plan.experiment.name}: {result.n_done} done, {result.n_failed} failed of {result.n_runs} runs "
               f"({result.n_executed} run now, {result.n_skipped} already finished) in {result.wall_s:.1f} s "
               f"on {result.executor} -> {result.out}")
    if result.n_failed:
        ids = ", ".join(result.failed_ids[:5]) + (" ..." if len(result.failed_ids) > 5 else "")
        typer.echo(f"failed runs: {ids}; see: dtao query {result.out} "
                   "\"SELECT run_id, error FROM runs WHERE status = 'failed'\"", err=True)
        raise typer.Exit(1)
