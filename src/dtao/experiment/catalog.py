"""The SQL catalog of an experiment (DuckDB, ``OUT/catalog.duckdb``).

Tables
------
``runs``        one row per planned run: ``run_id, point_id, replication, status`` ('done', 'failed'
                or 'pending'), ``seed, seed_entropy, seed_spawn_key``, one column per varied
                parameter (the dotted key with dots as underscores: ``chain.emission_rule`` ->
                ``chain_emission_rule``), ``params`` (JSON), one column per summary metric of the run
                (``attacker_profit_tao``, ``root_stakers_apy`` ...), ``wall_s, started_at, finished_at,
                executor, worker, error, traceback``.
``points``      one row per parameter point: ``point_id`` and the parameter columns.
``parameters``  one row per varied parameter: ``key`` (dotted) and ``column``.
``experiment``  one row: name, scenario, seed, replications, days, blocks, seeding, n_points, n_runs.

Views (made by :func:`connect`, over the run folders' Parquet files, each with a ``run_id`` column):
``subnets``, ``agents``, ``events``, ``network``.

The catalog is a cache: the run folders are the truth.  A sweep rebuilds it from them when it
(re)starts, then adds each run as it finishes; :func:`connect` rebuilds an in-memory copy when the
file is locked by a running sweep or missing.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Mapping

import duckdb
import pandas as pd

from dtao.experiment.design import Plan
from dtao.experiment.store import Store

FIXED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"), ("point_id", "BIGINT"), ("replication", "BIGINT"), ("status", "VARCHAR"),
    ("seed", "BIGINT"), ("seed_entropy", "BIGINT"), ("seed_spawn_key", "VARCHAR"),
)
TAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("params", "VARCHAR"), ("wall_s", "DOUBLE"), ("started_at", "VARCHAR"), ("finished_at", "VARCHAR"),
    ("executor", "VARCHAR"), ("worker", "VARCHAR"), ("error", "VARCHAR"), ("traceback", "VARCHAR"),
)
RUN_TABLES: tuple[str, ...] = ("subnets", "agents", "events", "network")
_RANK = {"BOOLEAN": 0, "BIGINT": 1, "DOUBLE": 2, "VARCHAR": 3}


def column_name(key: str) -> str:
    """SQL column for a dotted parameter key: non-alphanumerics become ``_``."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", key)
    return name if not name[:1].isdigit() else "_" + name


def _sql_type(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "BOOLEAN"
    if isinstance(v, int):
        return "BIGINT" if -2**63 <= v < 2**63 else "DOUBLE"
    if isinstance(v, float):
        return "DOUBLE"
    return "VARCHAR"


def _merge(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if "VARCHAR" in (a, b) or "BOOLEAN" in (a, b):
        return "VARCHAR"
    return "DOUBLE"


def _flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in summary.items():
        key = f"{prefix}_{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten_summary(v, key))
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class CatalogBuilder:
    """Turns plan runs and run records into catalog rows with a stable column layout."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.param_cols: dict[str, str] = {}
        reserved = {c for c, _ in FIXED_COLUMNS + TAIL_COLUMNS}
        for key in plan.experiment.varied_keys:
            col = column_name(key)
            while col in reserved or col in self.param_cols.values():
                col = "param_" + col
            self.param_cols[key] = col
        self._reserved = reserved | set(self.param_cols.values())

    def metric_column(self, name: str) -> str:
        col = column_name(name)
        return col if col not in self._reserved else "metric_" + col

    def row(self, run_id: str, record: Mapping[str, Any] | None) -> dict[str, Any]:
        """The ``runs`` row of a planned run (``record`` None: still pending)."""
        spec = self.plan.run(run_id) if record is None else None
        src: Mapping[str, Any] = record if record is not None else spec.to_json()  # type: ignore[union-attr]
        params = src["params"]
        row: dict[str, Any] = {
            "run_id": run_id, "point_id": src["point_id"], "replication": src["replication"],
            "status": record["status"] if record is not None else "pending", "seed": src["seed"],
            "seed_entropy": self.plan.seed, "seed_spawn_key": ".".join(map(str, src["seed_spawn_key"])),
        }
        for key, col in self.param_cols.items():
            row[col] = params.get(key)
        row["params"] = json.dumps(params, sort_keys=True)
        if record is not None:
            for k, v in _flatten_summary(record.get("summary") or {}).items():
                row[self.metric_column(k)] = v
            for col in ("wall_s", "started_at", "finished_at", "executor", "worker", "error", "traceback"):
                row[col] = record.get(col)
        return row


def _create_runs(con: duckdb.DuckDBPyConnection, builder: CatalogBuilder, rows: list[dict[str, Any]]) -> None:
    types: dict[str, str | None] = {c: t for c, t in FIXED_COLUMNS}
    for col in builder.param_cols.values():
        types[col] = None
    metric_types: dict[str, str | None] = {}
    fixed = {c for c, _ in FIXED_COLUMNS + TAIL_COLUMNS} | set(builder.param_cols.values())
    for r in rows:
        for c, v in r.items():
            if c in builder.param_cols.values():
                types[c] = _merge(types[c], _sql_type(v))
            elif c not in fixed:
                metric_types[c] = _merge(metric_types.get(c), _sql_type(v))
    cols = list(types.items()) + sorted(metric_types.items()) + list(TAIL_COLUMNS)
    ddl = ", ".join(f"{_quote(c)} {t or 'DOUBLE'}" for c, t in cols)
    con.execute(f"CREATE OR REPLACE TABLE runs ({ddl})")
    _insert(con, rows, [c for c, _ in cols])


def _insert(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        return
    df = pd.DataFrame.from_records([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    df = df.astype(object).where(pd.notna(df), None)
    con.register("_new_rows", df)
    try:
        cols = ", ".join(_quote(c) for c in columns)
        con.execute(f"INSERT INTO runs ({cols}) SELECT {cols} FROM _new_rows")
    finally:
        con.unregister("_new_rows")


def _table_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'runs' "
        "ORDER BY ordinal_position").fetchall()}


def upsert_runs(con: duckdb.DuckDBPyConnection, builder: CatalogBuilder, rows: list[dict[str, Any]]) -> None:
    """Replace the rows of these runs, adding or widening metric columns as needed."""
    if not rows:
        return
    have = _table_types(con)
    want: dict[str, str | None] = {}
    for r in rows:
        for c, v in r.items():
            want[c] = _merge(want.get(c), _sql_type(v))
    for c, t in want.items():
        if t is None:
            continue
        cur = have.get(c)
        if cur is None:
            con.execute(f"ALTER TABLE runs ADD COLUMN {_quote(c)} {t}")
        elif cur in _RANK and _merge(cur, t) != cur:
            con.execute(f"ALTER TABLE runs ALTER {_quote(c)} TYPE {_merge(cur, t)}")
    ids = [r["run_id"] for r in rows]
    con.execute("DELETE FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    _insert(con, rows, list(_table_types(con)))


def build(con: duckdb.DuckDBPyConnection, store: Store, plan: Plan) -> CatalogBuilder:
    """Fill ``con`` with the catalog tables from the plan and the finished run folders."""
    builder = CatalogBuilder(plan)
    finished = set(store.finished_ids())
    rows = []
    for spec in plan.runs:
        rec = store.read_record(spec.run_id) if spec.run_id in finished else None
        rows.append(builder.row(spec.run_id, rec))
    _create_runs(con, builder, rows)
    pts = pd.DataFrame([{"point_id": i, **{builder.param_cols[k]: v for k, v in p.items()}}
                        for i, p in enumerate(plan.points)])
    pts = pts.astype(object).where(pd.notna(pts), None)
    con.register("_pts", pts)
    con.execute("CREATE OR REPLACE TABLE points AS SELECT * FROM _pts")
    con.unregister("_pts")
    par = pd.DataFrame({"key": list(builder.param_cols), "column": list(builder.param_cols.values())},
                       dtype=object)
    con.register("_par", par)
    con.execute("CREATE OR REPLACE TABLE parameters (key VARCHAR, \"column\" VARCHAR)")
    if len(par):
        con.execute("INSERT INTO parameters SELECT * FROM _par")
    con.unregister("_par")
    e = plan.experiment
    con.execute("CREATE OR REPLACE TABLE experiment (name VARCHAR, scenario VARCHAR, seed BIGINT, "
                "replications BIGINT, days DOUBLE, blocks BIGINT, seeding VARCHAR, n_points BIGINT, n_runs BIGINT)")
    con.execute("INSERT INTO experiment VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [e.name, e.scenario, plan.seed, e.replications, e.days, e.blocks, e.seeding, len(plan.points),
                 plan.n_runs])
    return builder


def rebuild(store: Store, plan: Plan) -> CatalogBuilder:
    """Delete and rebuild ``catalog.duckdb`` from the run folders (the catalog never is the truth)."""
    for p in (store.catalog_path, store.catalog_path.with_name(store.catalog_path.name + ".wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(store.catalog_path))
    try:
        return build(con, store, plan)
    finally:
        con.close()


class CatalogWriter:
    """Adds finished runs to ``catalog.duckdb`` in small batches (``batch`` runs, or whatever
    finished within ``max_delay_s``), opening the file only while writing so that readers
    (``dtao query``) can get in between."""

    def __init__(self, store: Store, builder: CatalogBuilder, batch: int = 16, max_delay_s: float = 2.0) -> None:
        self.store, self.builder, self.batch, self.max_delay_s = store, builder, batch, max_delay_s
        self.pending: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def add(self, record: Mapping[str, Any]) -> None:
        self.pending.append(self.builder.row(record["run_id"], record))
        if len(self.pending) >= self.batch or time.monotonic() - self._last >= self.max_delay_s:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self.pending:
            return
        con = duckdb.connect(str(self.store.catalog_path))
        try:
            upsert_runs(con, self.builder, self.pending)
        finally:
            con.close()
        self.pending = []


def _add_views(con: duckdb.DuckDBPyConnection, store: Store) -> list[str]:
    made = []
    for name in RUN_TABLES:
        if not any(store.runs_dir.glob(f"*/{name}.parquet")):
            continue
        pattern = str(store.runs_dir / "*" / f"{name}.parquet").replace("'", "''")
        rx = rf"([^/\\]+)[/\\]{name}\.parquet$"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT regexp_extract(filename, '{rx}', 1) AS run_id, "
                    f"* EXCLUDE (filename) FROM read_parquet('{pattern}', filename=true, union_by_name=true)")
        made.append(name)
    return made


def connect(out: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to an experiment's catalog, with the ``subnets``/``agents``/``events``
    views over its runs.  If the catalog file is missing or locked by a running sweep, an in-memory
    catalog is rebuilt from the run folders instead."""
    store = Store(out)
    if not store.exists():
        raise FileNotFoundError(f"{store.root} is not an experiment folder (no experiment.json)")
    con = None
    if store.catalog_path.is_file():
        try:
            con = duckdb.connect(str(store.catalog_path), read_only=True)
            con.execute("SELECT count(*) FROM runs").fetchone()
        except duckdb.Error:
            if con is not None:
                con.close()
            con = None
    if con is None:
        con = duckdb.connect()
        build(con, store, store.read_plan())
    _add_views(con, store)
    return con


def query(out: str | Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` against an experiment's catalog; returns a DataFrame."""
    con = connect(out)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def runs_frame(out: str | Path, where: str | None = None) -> pd.DataFrame:
    """The ``runs`` table as a DataFrame (optionally filtered by a SQL ``where`` clause)."""
    return query(out, "SELECT * FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY run_id")

