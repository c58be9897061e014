"""``dtao run SCENARIO [--days N | --blocks N] [--seed S] [--out DIR] [--set key=value ...]``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from dtao.cli import app


@app.command("run")
def run(
    scenario: str = typer.Argument(..., help="built-in scenario name (launch, sn28, ...) or path to a .toml file"),
    days: Optional[float] = typer.Option(None, "--days", help="simulated days (overrides the scenario's horizon)"),
    blocks: Optional[int] = typer.Option(None, "--blocks", help="simulated blocks (overrides the scenario's horizon)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default: runs/<scenario>-s<seed>)"),
    set_: List[str] = typer.Option([], "--set", help="override a scenario field: dotted.key=value (TOML value)"),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Run one scenario and write its run folder (metadata, Parquet tables, summary, plots).

    Exit status 2 for a bad scenario or option, 1 if the run breaks a conservation invariant."""
    from dtao.chain.invariants import InvariantViolation
    from dtao.scenario import ScenarioError, load_scenario, parse_value
    from dtao.sim import run_scenario

    if days is not None and blocks is not None:
        typer.echo("error: give --days or --blocks, not both", err=True)
        raise typer.Exit(2)
    overrides = {}
    for item in set_:
        if "=" not in item:
            typer.echo(f"error: --set {item!r}: expected dotted.key=value", err=True)
            raise typer.Exit(2)
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_value(value.strip())
    try:
        sc = load_scenario(scenario, overrides)
        s = sc.seed if seed is None else seed
        folder = out if out is not None else Path("runs") / f"{sc.name}-s{s}"
        result = run_scenario(sc, seed=s, days=days, blocks=blocks, out_dir=folder, progress=not quiet,
                              record_plots=not no_plots)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    except InvariantViolation as exc:
        typer.echo(f"error: conservation broken: {exc}", err=True)
        raise typer.Exit(1)
    summ = result.summary
    headline = {k: summ.get(k) for k in (
        "days", "seed", "n_subnets", "final_total_issuance", "sum_prices_final", "root_proportion_mean_final",
        "root_stakers_apy", "h2e_emission_share_max", "attacker_profit_tao", "quality_emission_corr",
        "price_peak_ratio", "price_drop_after_intervention", "conservation_ok", "wall_seconds")
        if summ.get(k) is not None}
    typer.echo(json.dumps(headline, indent=1))
    typer.echo(f"run folder: {result.out_dir}")
