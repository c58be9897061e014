"""Running an experiment: plan, validate, execute what is missing, record, and report progress.

``run_sweep`` is what ``dtao sweep`` calls.  It plans the experiment, checks every parameter point
against the scenario layer before anything runs (a typo fails in a second, not after an hour), takes
the output folder's lock, removes folders of runs that never finished, rebuilds the catalog from the
finished run folders, and executes only the runs that have no folder yet.  Each run streams to its
own folder as it finishes; the catalog gets its row right after.  Ctrl-C stops the workers and keeps
everything already finished; ``resume=True`` later completes the rest, with no run done twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from dtao.experiment import catalog as _catalog
from dtao.experiment.design import Plan, make_plan
from dtao.experiment.executors import Executor, make_executor
from dtao.experiment.runner import RunFn, RunOutcome, RunTask, validate_scenario
from dtao.experiment.spec import Experiment, ExperimentError, load_experiment
from dtao.experiment.store import Store, StoreError, check_compatible, scenario_info

ValidateFn = Callable[[str, Mapping[str, Any]], None]


@dataclass
class SweepResult:
    """What a sweep session did.  ``n_done``/``n_failed`` count all finished runs in the folder
    (this session and earlier ones); ``n_executed`` only this session's."""

    out: Path
    plan: Plan
    executor: str
    n_runs: int
    n_done: int = 0
    n_failed: int = 0
    n_executed: int = 0
    n_skipped: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    failed_ids: list[str] = field(default_factory=list)

    @property
    def n_missing(self) -> int:
        """Planned runs with no finished folder."""
        return self.n_runs - self.n_done - self.n_failed

    @property
    def complete(self) -> bool:
        """Every planned run finished (done or failed)."""
        return self.n_missing == 0


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``result`` says what was kept.  Resume with ``resume=True``."""

    def __init__(self, result: SweepResult) -> None:
        super().__init__(f"sweep interrupted: {result.n_done + result.n_failed}/{result.n_runs} runs finished")
        self.result = result


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(no varied parameters)"


def validate_plan(plan: Plan, validate_fn: ValidateFn) -> None:
    """Check each parameter point makes a valid scenario; raise :class:`ExperimentError` naming the
    first bad point and the scenario layer's message."""
    e = plan.experiment
    for p, params in enumerate(plan.points):
        try:
            validate_fn(e.scenario, {**e.overrides, **params})
        except Exception as exc:
            raise ExperimentError(f"point {p} ({_describe(params)}) does not make a valid scenario: "
                                  f"{type(exc).__name__}: {exc}") from None


def _resolve_experiment(experiment: Experiment | str | Path | None, store: Store, resume: bool) -> Experiment:
    if isinstance(experiment, Experiment):
        return experiment
    if experiment is not None:
        return load_experiment(experiment)
    if resume and store.exists():
        return store.read_plan().experiment
    raise ExperimentError("no experiment given (and no stored experiment to resume)")


def _progress_display(name: str, total: int, already: int) -> Any:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("runs  [red]{task.fields[failed]} failed[/]"),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TextColumn("left"),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    note = f"(+{already} finished before)" if already else ""
    task = prog.add_task(name, total=total, failed=0, note=note)
    return prog, task


def run_sweep(experiment: Experiment | str | Path | None, out: str | Path, *, executor: str | Executor = "processes",
              workers: int | None = None, scheduler: str | None = None, client: Any = None,
              resume: bool = False, retry_failed: bool = False, days: float | None = None,
              replications: int | None = None, progress: bool = False,
              run_fn: RunFn | None = None, validate_fn: ValidateFn | None = validate_scenario,
              on_outcome: Callable[[RunOutcome], None] | None = None) -> SweepResult:
    """Run (or resume) an experiment into the folder ``out``.

    ``experiment``: an :class:`Experiment`, a TOML path or a built-in name (None with ``resume``:
    the one stored in ``out``).  ``executor``: ``inprocess``, ``processes`` (``workers`` processes,
    default all cores) or ``dask`` (``scheduler`` address or ``client``), or an :class:`Executor`.
    ``days``/``replications`` override the experiment's.  ``resume``: continue a folder, running
    only runs without a finished folder (``retry_failed`` also reruns failed ones).
    ``run_fn``/``validate_fn`` replace the scenario layer (tests, custom models); they must be
    importable top-level functions for the process and Dask executors.  Raises
    :class:`SweepInterrupted` on Ctrl-C after stopping the workers and saving the catalog."""
    t_start = time.perf_counter()
    store = Store(out)
    if store.exists() and not resume:
        raise StoreError(f"{store.root} already holds an experiment; add --resume to complete it, "
                         "or choose another --out")
    if not store.exists() and store.root.is_dir() and any(p.name != ".lock" for p in store.root.iterdir()):
        raise StoreError(f"{store.root} exists and is not an experiment folder; choose an empty or new --out")
    exp = _resolve_experiment(experiment, store, resume)
    changes: dict[str, Any] = {}
    if days is not None:
        changes.update(days=days, blocks=None)
    if replications is not None:
        changes["replications"] = replications
    if store.exists() and exp.seed is None:
        changes["seed"] = store.read_plan().seed  # resuming an experiment whose seed came from the OS
    if changes:
        exp = exp.with_(**changes)
    plan = make_plan(exp)
    scen = scenario_info(plan.experiment)
    if validate_fn is not None:
        validate_plan(plan, validate_fn)
    ex = executor if isinstance(executor, Executor) else make_executor(executor, workers=workers,
                                                                        scheduler=scheduler, client=client)
    try:
        store.lock()
    except BaseException:
        ex.close()
        raise
    try:
        if store.exists():
            doc = store.read_experiment_doc()
            check_compatible(store.read_plan(), plan, doc.get("scenario", {}), scen)
        from dtao import __version__

        store.write_plan(plan, scen, __version__)
        store.clean_tmp()
        planned = {r.run_id for r in plan.runs}
        finished: dict[str, str] = {}
        for rid in store.finished_ids():
            if rid not in planned:
                continue
            rec = store.read_record(rid)
            spec = plan.by_id[rid]
            if rec.get("seed") != spec.seed or rec.get("params") != spec.params:
                raise StoreError(f"{store.run_dir(rid)} was made with seed {rec.get('seed')} and params "
                                 f"{rec.get('params')}, not the planned {spec.seed} / {spec.params}")
            if rec["status"] == "failed" and retry_failed:
                store.discard_run(rid)
                continue
            finished[rid] = rec["status"]
        builder = _catalog.rebuild(store, plan)
        writer = _catalog.CatalogWriter(store, builder)
        todo = [r for r in plan.runs if r.run_id not in finished]
        result = SweepResult(out=store.root, plan=plan, executor=ex.name, n_runs=plan.n_runs,
                             n_done=sum(s == "done" for s in finished.values()),
                             n_failed=sum(s == "failed" for s in finished.values()), n_skipped=len(finished),
                             failed_ids=sorted(r for r, s in finished.items() if s == "failed"))
        e = plan.experiment
        store_dir = str(store.root)

        def tasks() -> Iterator[RunTask]:
            for r in todo:
                yield RunTask(run_id=r.run_id, point_id=r.point_id, replication=r.replication, params=r.params,
                              overrides={**e.overrides, **r.params}, scenario=e.scenario, seed=r.seed,
                              seed_entropy=plan.seed, seed_spawn_key=r.seed_spawn_key, days=e.days,
                              blocks=e.blocks, record_plots=e.record_plots, store_dir=store_dir,
                              executor=ex.name, transfer=ex.transfer, run_fn=run_fn)

        prog = None
        if progress and todo:
            prog, ptask = _progress_display(e.name, len(todo), len(finished))
            prog.start()
        statuses: dict[str, str] = dict(finished)  # run id -> status of every finished run we know of
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        n_workers = ex_workers(ex)
        n_failed_now = 0
        try:
            with ex:
                for outcome in ex.run(tasks()):
                    if outcome.files is not None:
                        store.commit_files(outcome.run_id, outcome.files)
                        outcome.files = None
                    rec = outcome.record
                    writer.add(rec)
                    statuses[rec["run_id"]] = rec["status"]
                    n_failed_now += rec["status"] != "done"
                    if prog is not None:
                        prog.update(ptask, advance=1, failed=n_failed_now)
                    if on_outcome is not None:
                        on_outcome(outcome)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            if prog is not None:
                prog.stop()
            # the folders are the truth: runs a worker committed while being stopped, or whose outcome
            # an interrupt cut short, are finished too (cataloguing twice is harmless: rows are replaced)
            for rid in store.finished_ids():
                if rid in planned and rid not in statuses:
                    rec = store.read_record(rid)
                    writer.add(rec)
                    statuses[rid] = rec["status"]
            writer.flush()
            result.n_done = sum(st == "done" for st in statuses.values())
            result.n_failed = len(statuses) - result.n_done
            result.n_executed = len(statuses) - result.n_skipped
            result.failed_ids = sorted(r for r, st in statuses.items() if st != "done")
            result.wall_s = time.perf_counter() - t_start
            store.append_log({"started_at": started_at, "executor": ex.name, "workers": n_workers,
                              "planned": plan.n_runs, "skipped": result.n_skipped, "executed": result.n_executed,
                              "failed_total": result.n_failed, "interrupted": result.interrupted,
                              "wall_s": round(result.wall_s, 3)})
    finally:
        ex.close()  # idempotent: the normal path closed it already
        store.unlock()
    if result.interrupted:
        raise SweepInterrupted(result)
    return result


def ex_workers(ex: Executor) -> int | None:
    """Worker count of an executor, or None when it cannot tell (a closed Dask client)."""
    try:
        return ex.workers
    except Exception:
        return None
