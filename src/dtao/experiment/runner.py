"""One run of an experiment, as executed on a worker.

:func:`execute_run` is the only function an executor ships to a worker (a top-level function, so it
pickles by reference for process pools and Dask).  It calls the run function (by default
:func:`scenario_run`: ``load_scenario`` + ``run_scenario``) into a private temporary folder, catches
any exception as a failed run with its traceback, writes ``run.json`` (the run's record) and then
either renames the folder into the store (``runs/<run_id>``, atomic on one filesystem) or, for
workers without the store's filesystem (a remote Dask cluster), returns the folder's files so the
driver commits them.  A run folder therefore exists only once complete.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

RECORD_FORMAT = "dtao-run-record/1"
RECORD_FILE = "run.json"
TMP_DIR = ".tmp"

#: signature of a run function: (scenario source, overrides, seed=, days=, blocks=, out_dir=,
#: record_plots=) -> summary dict (JSON-able scalars)
RunFn = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one planned run."""

    run_id: str
    point_id: int
    replication: int
    params: dict[str, Any]
    overrides: dict[str, Any]
    scenario: str
    seed: int
    seed_entropy: int
    seed_spawn_key: tuple[int, ...]
    days: float | None
    blocks: int | None
    record_plots: bool
    store_dir: str
    executor: str
    transfer: bool = False
    run_fn: RunFn | None = None


@dataclass
class RunOutcome:
    """What came back from a worker: the run's record and, when ``transfer`` was asked, its files
    (relative path -> bytes) for the driver to commit."""

    record: dict[str, Any]
    files: dict[str, bytes] | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def ok(self) -> bool:
        return self.record["status"] == "done"


def scenario_run(scenario: str, overrides: Mapping[str, Any], *, seed: int, days: float | None,
                 blocks: int | None, out_dir: Path, record_plots: bool) -> Mapping[str, Any]:
    """The default run function: ``load_scenario(scenario, overrides)`` then ``run_scenario`` writing
    its run folder into ``out_dir``; returns the run's summary metrics."""
    from dtao.scenario import load_scenario
    from dtao.sim import run_scenario

    sc = load_scenario(scenario, dict(overrides))
    result = run_scenario(sc, seed=seed, days=days, blocks=blocks, out_dir=out_dir, progress=False,
                          record_plots=record_plots)
    return result.summary


def validate_scenario(scenario: str, overrides: Mapping[str, Any]) -> None:
    """Raise the scenario layer's error when ``overrides`` do not make a valid scenario."""
    from dtao.scenario import load_scenario

    load_scenario(scenario, dict(overrides))


def jsonable(v: Any) -> Any:
    """A summary value as plain JSON: numpy scalars unwrapped, NaN/inf -> None, containers recursed."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [jsonable(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    return str(v)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def base_record(task: RunTask) -> dict[str, Any]:
    """The plan part of a run's record (identical whichever executor runs it)."""
    return {"format": RECORD_FORMAT, "run_id": task.run_id, "point_id": task.point_id,
            "replication": task.replication, "params": task.params, "seed": task.seed,
            "seed_entropy": task.seed_entropy, "seed_spawn_key": list(task.seed_spawn_key),
            "days": task.days, "blocks": task.blocks}


def failed_record(task: RunTask, error: str, tb: str, *, wall_s: float | None = None,
                  started_at: str | None = None) -> dict[str, Any]:
    """Record of a run that did not finish (an exception, or a worker that died)."""
    return {**base_record(task), "status": "failed", "error": error, "traceback": tb, "summary": {},
            "files": [RECORD_FILE], "started_at": started_at, "finished_at": _now(), "wall_s": wall_s,
            "executor": task.executor, "worker": f"{socket.gethostname()}:{os.getpid()}"}


def write_record(folder: Path, record: Mapping[str, Any]) -> None:
    """Write ``run.json`` into ``folder`` (flushed to disk before the folder is committed)."""
    path = folder / RECORD_FILE
    with open(path, "w") as fh:
        json.dump(record, fh, indent=1, sort_keys=False, allow_nan=False)
        fh.flush()
        os.fsync(fh.fileno())


def commit_folder(tmp: Path, store_dir: Path, run_id: str) -> bool:
    """Move a finished run folder into ``store_dir/runs/<run_id>`` with one atomic rename.  Returns
    False (and discards ``tmp``) when a complete folder for this run is already there."""
    final = store_dir / "runs" / run_id
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        if (final / RECORD_FILE).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise


def _files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _pack(folder: Path) -> dict[str, bytes]:
    return {rel: (folder / rel).read_bytes() for rel in _files_of(folder)}


def execute_run(task: RunTask) -> RunOutcome:
    """Run one planned run on this worker and commit (or return) its folder.  Never raises for a
    failure of the run itself: that becomes a ``failed`` record with the traceback."""
    store = Path(task.store_dir)
    if task.transfer:
        work = Path(tempfile.mkdtemp(prefix=f"dtao-{task.run_id}-"))
    else:
        tmp_root = store / "runs" / TMP_DIR
        tmp_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{task.run_id}-", dir=tmp_root))
        os.chmod(work, 0o755)  # mkdtemp makes it private; a run folder is as readable as its files
    started = _now()
    t0 = time.perf_counter()
    fn = task.run_fn or scenario_run
    try:
        summary = fn(task.scenario, task.overrides, seed=task.seed, days=task.days, blocks=task.blocks,
                     out_dir=work, record_plots=task.record_plots)
        record = {**base_record(task), "status": "done", "error": None, "traceback": None,
                  "summary": jsonable(dict(summary or {}))}
    except Exception as exc:  # the run failed: record it, the sweep goes on
        for p in list(work.iterdir()):  # partial outputs would mislead queries over runs/*/
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        record = {**base_record(task), "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "summary": {}}
    record.update({"files": sorted(set(_files_of(work)) | {RECORD_FILE}), "started_at": started,
                   "finished_at": _now(), "wall_s": round(time.perf_counter() - t0, 6),
                   "executor": task.executor, "worker": f"{socket.gethostname()}:{os.getpid()}"})
    write_record(work, record)
    if task.transfer:
        files = _pack(work)
        shutil.rmtree(work, ignore_errors=True)
        return RunOutcome(record, files)
    commit_folder(work, store, task.run_id)
    return RunOutcome(record)
