"""Reading what reports are made from: one run folder, or an experiment folder.

A run folder (written by ``dtao.sim.run_scenario`` or kept by a sweep under ``OUT/runs/<run_id>``)
holds ``summary.json``, ``metadata.json``, ``subnets.parquet`` (one row per subnet per recorded
block), ``agents.parquet`` (per population), ``events.parquet``.  Large tables are thinned to at
most ``max_points`` recorded blocks for charts (evenly spaced, first and last kept); the headline
numbers always come from ``summary.json``, computed by the simulator on the full data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


class ReportError(ValueError):
    """The folder cannot be reported on (not a run or experiment folder, or missing data)."""


@dataclass
class RunData:
    """One run's outputs, ready for charts."""

    path: Path
    summary: dict[str, Any]
    metadata: dict[str, Any]
    subnets: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    record: dict[str, Any] | None = None  # run.json when the run belongs to a sweep
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        name = self.metadata.get("scenario") or self.metadata.get("name") or self.path.name
        if isinstance(name, dict):
            name = name.get("name", self.path.name)
        return f"dtao run report: {name}"


@dataclass
class ExperimentData:
    """An experiment folder: its stored plan and the ``runs`` table of the catalog."""

    path: Path
    doc: dict[str, Any]
    runs: pd.DataFrame
    param_columns: dict[str, str]  # dotted key -> column

    @property
    def name(self) -> str:
        return str(self.doc["experiment"]["name"])

    @property
    def done(self) -> pd.DataFrame:
        return self.runs[self.runs.status == "done"]


def is_run_dir(path: Path) -> bool:
    """A run folder has ``summary.json`` or ``subnets.parquet``."""
    return (path / "summary.json").is_file() or (path / "subnets.parquet").is_file()


def is_experiment_dir(path: Path) -> bool:
    """An experiment folder has ``experiment.json``."""
    return (path / "experiment.json").is_file()


def _thin_blocks(blocks: np.ndarray, max_points: int) -> np.ndarray:
    u = np.unique(blocks)
    if len(u) <= max_points:
        return u
    idx = np.unique(np.linspace(0, len(u) - 1, max_points).round().astype(np.int64))
    return u[idx]


def _read_table(path: Path, max_points: int) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    t = pq.read_table(path)
    if "block" in t.column_names and t.num_rows:
        blocks = t.column("block").to_numpy()
        keep = _thin_blocks(blocks, max_points)
        if len(keep) < len(np.unique(blocks)):
            import pyarrow as pa
            import pyarrow.compute as pc

            t = t.filter(pc.is_in(t.column("block"), value_set=pa.array(keep)))
    return t.to_pandas()


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not valid JSON: {exc}") from None


def load_run(path: str | Path, *, max_points: int = 1500) -> RunData:
    """Load a run folder for reporting."""
    p = Path(path)
    if not is_run_dir(p):
        raise ReportError(f"{p} is not a run folder (no summary.json or subnets.parquet)")
    run = RunData(path=p, summary=_read_json(p / "summary.json"), metadata=_read_json(p / "metadata.json"),
                  subnets=_read_table(p / "subnets.parquet", max_points),
                  agents=_read_table(p / "agents.parquet", max_points),
                  events=_read_table(p / "events.parquet", 10**9),
                  record=_read_json(p / "run.json") or None)
    if run.subnets.empty:
        run.notes.append("no subnets.parquet: price, emission and root charts are left out")
    if "day" not in run.subnets.columns and "block" in run.subnets.columns:
        run.subnets["day"] = run.subnets["block"] / 7200.0
    if not run.agents.empty and "day" not in run.agents.columns and "block" in run.agents.columns:
        run.agents["day"] = run.agents["block"] / 7200.0
    return run


def load_experiment_dir(path: str | Path) -> ExperimentData:
    """Load an experiment folder's plan and its ``runs`` table (via the catalog)."""
    from dtao.experiment.catalog import connect

    p = Path(path)
    if not is_experiment_dir(p):
        raise ReportError(f"{p} is not an experiment folder (no experiment.json)")
    doc = _read_json(p / "experiment.json")
    con = connect(p)
    try:
        runs = con.execute("SELECT * FROM runs ORDER BY run_id").df()
        params = dict(con.execute('SELECT key, "column" FROM parameters').fetchall())
    finally:
        con.close()
    return ExperimentData(path=p, doc=doc, runs=runs, param_columns=params)
