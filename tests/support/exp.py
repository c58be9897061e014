"""Shared helpers for the experiment and report tests."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dtao.experiment import Experiment
from tests.support import hooks

RUN_FN = hooks.run
VALIDATE_FN = hooks.validate
#: a small synthetic network (4 subnets, a hold-to-earn subnet, validators, root stakers, traders)
SCENARIO = str(Path(__file__).with_name("tiny.toml"))
#: horizon of test runs (blocks)
BLOCKS = 360
BASE_OVERRIDES: dict[str, Any] = {"horizon.record_every": 60}

#: record fields that legitimately differ between executors and sessions (timing, place)
VOLATILE = {"started_at", "finished_at", "wall_s", "executor", "worker"}
#: summary/metadata keys that measure the run's wall time or when it ran
VOLATILE_SUMMARY = {"wall_seconds"}
VOLATILE_METADATA = {"created_utc", "wall_seconds"}


def small_experiment(**kw: Any) -> Experiment:
    """Two emission rules x two owner cuts, two replications: 8 short runs."""
    args: dict[str, Any] = dict(name="t", scenario=SCENARIO, seed=20250213, replications=2, blocks=BLOCKS,
                                overrides=dict(BASE_OVERRIDES),
                                grid={"chain.emission_rule": ("ema_price", "flow"),
                                      "chain.subnet_owner_cut": (0.1, 0.18)})
    args.update(kw)
    return Experiment(**args)


def _bits(v: Any) -> Any:
    """Floats by their exact bits (so NaN equals NaN and 0.1 + 0.2 != 0.3 shows)."""
    return v.hex() if isinstance(v, float) else v


def run_folder_content(run_dir: Path) -> dict[str, Any]:
    """Everything a run produced, minus timing/placement: the record, JSON files and Parquet tables."""
    out: dict[str, Any] = {}
    for p in sorted(run_dir.rglob("*")):
        if not p.is_file() or "report" in p.relative_to(run_dir).parts:
            continue
        rel = str(p.relative_to(run_dir))
        if rel == "run.json":
            rec = json.loads(p.read_text())
            rec = {k: v for k, v in rec.items() if k not in VOLATILE}
            rec["summary"] = {k: v for k, v in rec["summary"].items() if k not in VOLATILE_SUMMARY}
            out[rel] = rec
        elif p.suffix == ".parquet":
            out[rel] = {k: [_bits(v) for v in col] for k, col in pq.read_table(p).to_pydict().items()}
        elif rel == "summary.json":
            out[rel] = {k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE_SUMMARY}
        elif rel == "metadata.json":
            out[rel] = {k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE_METADATA}
        elif p.suffix == ".json":
            out[rel] = json.loads(p.read_text())
        else:
            out[rel] = p.read_bytes()
    return out


def store_content(out: Path) -> dict[str, dict[str, Any]]:
    """Content of every finished run folder of an experiment, by run id."""
    runs = out / "runs"
    return {d.name: run_folder_content(d) for d in sorted(runs.iterdir())
            if d.is_dir() and not d.name.startswith(".")}
