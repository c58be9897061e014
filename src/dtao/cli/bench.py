"""``dtao bench coinbase|swap|epoch|...``: benchmarks that print one JSON object each."""
from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import typer

from dtao.cli import app

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (each prints one JSON object).")
app.add_typer(bench_app, name="bench")

RESULTS = Path("benchmarks") / "results.jsonl"


def _machine() -> dict[str, Any]:
    import os

    import numpy as np

    return {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def emit(result: dict[str, Any], record: bool) -> None:
    """Print ``result`` as one JSON line; with ``record`` append it to benchmarks/results.jsonl
    together with the machine, the commit and the time."""
    typer.echo(json.dumps(result))
    if record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        row = {**result, **_machine(), "commit": _commit(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


RecordOpt = typer.Option(False, "--record", help="append the result to benchmarks/results.jsonl")


@bench_app.command("coinbase")
def coinbase(blocks: int = typer.Option(20_000, min=1, help="blocks to time"),
             subnets: int = typer.Option(128, min=1), uids: int = typer.Option(256, min=2),
             validators: int = typer.Option(64, min=1), record: bool = RecordOpt) -> None:
    """Blocks per second of the coinbase at SUBNETS subnets (epochs included, no agents)."""
    from dtao.bench.chain import bench_coinbase

    emit(bench_coinbase(blocks, subnets, uids, validators), record)


@bench_app.command("swap")
def swap(batch: int = typer.Option(1_000_000, min=1), scalar: int = typer.Option(20_000, min=4),
         record: bool = RecordOpt) -> None:
    """Swap quotes per second, vectorised batch and scalar."""
    from dtao.bench.chain import bench_swap

    emit(bench_swap(batch, scalar), record)


@bench_app.command("epoch")
def epoch(seconds: float = typer.Option(2.0, min=0.1, help="time per measurement"), record: bool = RecordOpt) -> None:
    """Yuma epochs per second at 64 validators x 256 UIDs: dense, 10% sparse, batched 128 subnets."""
    from dtao.bench.epoch import bench_epoch

    emit(bench_epoch(seconds), record)
