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


_SizeOpts = dict(
    subnets=typer.Option(128, min=1, help="subnets"), uids=typer.Option(256, min=4, help="UIDs per subnet"),
    validators=typer.Option(64, min=1, max=64, help="root validators holding a permit on every subnet"),
    agents=typer.Option(10_000, min=0, help="staking agents (APY chasers, momentum, value in equal parts)"),
)


@bench_app.command("year")
def year(days: float = typer.Option(None, min=0.001, help="run this many days and extrapolate to 365 (default: the whole year)"),
         subnets: int = _SizeOpts["subnets"], uids: int = _SizeOpts["uids"], validators: int = _SizeOpts["validators"],
         agents: int = _SizeOpts["agents"],
         agent_cadence: int = typer.Option(300, min=1, help="blocks between the staking agents' decisions"),
         weights_cadence: int = typer.Option(100, min=1, help="blocks between the validators' weight updates"),
         seed: int = typer.Option(0, min=0), record: bool = RecordOpt,
         quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar (it goes to stderr)"),
         profile_chain: bool = typer.Option(False, "--profile-chain",
                                            help="add chain_phases: the block loop's time per phase (coinbase, "
                                                 "stake gathering, epochs, drain crediting), from the x86-64 cycle counter")) -> None:
    """A full-network simulated year: every block's coinbase, every epoch, validators setting weights and
    staking agents acting (wall seconds, blocks/s, peak RSS; --days N runs a slice and extrapolates)."""
    from dtao.bench.year import bench_year

    try:
        result = bench_year(days, subnets, uids, validators, agents, agent_cadence, weights_cadence, seed,
                            progress=not quiet, profile_chain=profile_chain)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        raise typer.BadParameter(str(exc)) from None
    emit(result, record)


@bench_app.command("memory")
def memory(days: float = typer.Option(2.0, min=0.001, help="days of the year run to measure"),
           subnets: int = _SizeOpts["subnets"], uids: int = _SizeOpts["uids"],
           validators: int = _SizeOpts["validators"], agents: int = _SizeOpts["agents"],
           record: bool = RecordOpt) -> None:
    """Peak RSS of the year run (in a fresh process)."""
    from dtao.bench.year import bench_memory, year_scenario

    try:
        year_scenario(subnets, uids, validators, agents)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    emit(bench_memory(days, subnets=subnets, uids=uids, validators=validators, agents=agents), record)


@bench_app.command("all")
def all_(days: float = typer.Option(1.0, min=0.001, help="days of the year run (extrapolated)"),
         record: bool = RecordOpt) -> None:
    """coinbase, epoch, swap, year (a DAYS slice) and memory, one JSON line each."""
    from dtao.bench.chain import bench_coinbase, bench_swap
    from dtao.bench.epoch import bench_epoch
    from dtao.bench.year import bench_memory, bench_year

    emit(bench_coinbase(), record)
    emit(bench_epoch(), record)
    emit(bench_swap(), record)
    emit(bench_year(days), record)
    emit(bench_memory(days), record)
