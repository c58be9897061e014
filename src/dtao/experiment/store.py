"""The result store of an experiment: one folder that holds everything, rebuildable and resumable.

Layout::

    OUT/experiment.json        the experiment and its expanded plan (points, run ids, seeds)
    OUT/runs/<run_id>/         one folder per finished run: run.json (the record: status, seed,
                               parameters, summary metrics or traceback) + the run's files
                               (subnets.parquet, agents.parquet, events.parquet, summary.json, ...)
    OUT/runs/.tmp/             runs in progress (removed on resume: they never finished)
    OUT/catalog.duckdb         SQL catalog, rebuilt from the run folders at every (re)start
    OUT/sweeps.jsonl           one line per sweep session (executor, counts, wall time)
    OUT/.lock                  held (flock) while a sweep writes here

A run is finished exactly when ``runs/<run_id>/run.json`` exists: the folder is written elsewhere and
renamed into place in one step, so a crash leaves either a complete folder or none.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from dtao.experiment.design import PLAN_FORMAT, Plan, RunSpec
from dtao.experiment.runner import RECORD_FILE, TMP_DIR, commit_folder
from dtao.experiment.spec import Experiment, ExperimentError, experiment_from_json, scenario_fingerprint

STORE_FORMAT = "dtao-experiment-store/1"
EXPERIMENT_FILE = "experiment.json"
CATALOG_FILE = "catalog.duckdb"
SWEEPS_LOG = "sweeps.jsonl"


class StoreError(ExperimentError):
    """The output folder cannot be used as asked (exists, locked, holds a different plan)."""


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def plan_from_json(doc: Mapping[str, Any]) -> Plan:
    """Rebuild a :class:`Plan` from ``experiment.json``."""
    p = doc["plan"]
    if p.get("format") != PLAN_FORMAT:
        raise StoreError(f"experiment.json has plan format {p.get('format')!r}, expected {PLAN_FORMAT!r}")
    exp = experiment_from_json(doc["experiment"])
    runs = tuple(RunSpec(r["run_id"], r["point_id"], r["replication"], r["params"], r["seed"],
                         tuple(r["seed_spawn_key"])) for r in p["runs"])
    return Plan(experiment=exp, seed=p["seed"], points=tuple(p["points"]), runs=runs)


class Store:
    """An experiment's output folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._lock_fh: Any = None

    # ---- paths
    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def tmp_dir(self) -> Path:
        return self.runs_dir / TMP_DIR

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    @property
    def experiment_path(self) -> Path:
        return self.root / EXPERIMENT_FILE

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def exists(self) -> bool:
        """True when this folder already holds an experiment."""
        return self.experiment_path.is_file()

    # ---- lock
    def lock(self) -> None:
        """Take the writer lock (released by :meth:`unlock` or when the process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreError(f"another sweep is writing to {self.root}; wait for it or use another --out") \
                    from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def unlock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # ---- plan
    def read_plan(self) -> Plan:
        """The plan recorded in ``experiment.json``."""
        try:
            doc = json.loads(self.experiment_path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{self.root} holds no experiment (no {EXPERIMENT_FILE})") from None
        except json.JSONDecodeError as exc:
            raise StoreError(f"{self.experiment_path} is not valid JSON: {exc}") from None
        return plan_from_json(doc)

    def read_experiment_doc(self) -> dict[str, Any]:
        """``experiment.json`` as a dict."""
        return json.loads(self.experiment_path.read_text())

    def write_plan(self, plan: Plan, scenario: Mapping[str, Any], dtao_version: str) -> None:
        """Write ``experiment.json`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.runs_dir.mkdir(exist_ok=True)
        doc = {"format": STORE_FORMAT, "dtao_version": dtao_version, "experiment": plan.experiment.to_json(),
               "scenario": dict(scenario), "plan": plan.to_json()}
        _atomic_write_text(self.experiment_path, json.dumps(doc, indent=1))

    # ---- runs
    def clean_tmp(self) -> int:
        """Remove folders of runs that never finished; returns how many were removed."""
        if not self.tmp_dir.is_dir():
            return 0
        n = 0
        for p in self.tmp_dir.iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
        return n

    def finished_ids(self) -> list[str]:
        """Ids of runs whose folder is complete (has ``run.json``), sorted."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / RECORD_FILE).is_file())

    def read_record(self, run_id: str) -> dict[str, Any]:
        """The ``run.json`` record of a finished run."""
        return json.loads((self.run_dir(run_id) / RECORD_FILE).read_text())

    def records(self) -> Iterator[dict[str, Any]]:
        """Records of every finished run, in run-id order (read one at a time)."""
        for rid in self.finished_ids():
            yield self.read_record(rid)

    def discard_run(self, run_id: str) -> None:
        """Remove a finished run's folder (used to retry failed runs): renamed away first, so the run
        is unfinished from that instant, then deleted."""
        d = self.run_dir(run_id)
        if d.is_dir():
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            trash = Path(tempfile.mkdtemp(prefix=f"discard-{run_id}-", dir=self.tmp_dir))
            os.rename(d, trash / run_id)
            shutil.rmtree(trash, ignore_errors=True)

    def commit_files(self, run_id: str, files: Mapping[str, bytes]) -> bool:
        """Write a run's files shipped back by a remote worker, then commit the folder atomically."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{run_id}-", dir=self.tmp_dir))
        os.chmod(work, 0o755)
        root = work.resolve()
        for rel, data in files.items():
            dest = (work / rel).resolve()
            if root not in dest.parents:
                raise StoreError(f"run {run_id}: refusing to write {rel!r} outside its folder")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        return commit_folder(work, self.root, run_id)

    def append_log(self, entry: Mapping[str, Any]) -> None:
        """Append one sweep session's summary to ``sweeps.jsonl``."""
        with open(self.root / SWEEPS_LOG, "a") as fh:
            fh.write(json.dumps(entry) + "\n")


def check_compatible(stored: Plan, new: Plan, stored_scenario: Mapping[str, Any],
                     new_scenario: Mapping[str, Any]) -> None:
    """Raise :class:`StoreError` unless ``new`` only adds runs to ``stored`` (same scenario, overrides,
    horizon and seeds for every run they share)."""
    a, b = stored.experiment, new.experiment
    if stored_scenario.get("source") != new_scenario.get("source") or \
            stored_scenario.get("sha256") != new_scenario.get("sha256"):
        raise StoreError("the base scenario differs from the one this folder was started with "
                         f"({stored_scenario.get('source')}, sha256 {stored_scenario.get('sha256')}); "
                         "finished runs would mix two scenarios: use a new --out")
    for what, x, y in (("overrides", dict(a.overrides), dict(b.overrides)), ("days", a.days, b.days),
                       ("blocks", a.blocks, b.blocks), ("seed", stored.seed, new.seed),
                       ("seeding", a.seeding, b.seeding), ("record_plots", a.record_plots, b.record_plots)):
        if x != y:
            raise StoreError(f"{what} differs from the run this folder was started with ({x!r} there, {y!r} now); "
                             "resume with the same settings or use a new --out")
    new_by_id = {r.run_id: r for r in new.runs}
    for r in stored.runs:
        n = new_by_id.get(r.run_id)
        if n is None:
            raise StoreError(f"run {r.run_id} of the stored plan is not in the new plan (fewer points or "
                             "replications?); resume with at least the stored plan or use a new --out")
        if n.params != r.params or n.seed != r.seed:
            raise StoreError(f"run {r.run_id} differs from the stored plan (params {r.params} seed {r.seed} there, "
                             f"params {n.params} seed {n.seed} now); use a new --out")


def scenario_info(experiment: Experiment) -> dict[str, Any]:
    """Fingerprint of the experiment's base scenario (for ``experiment.json``)."""
    return scenario_fingerprint(experiment.scenario)
