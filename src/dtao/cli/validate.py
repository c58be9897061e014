"""``dtao validate [--json] [--seeds N] [--out DIR] ...`` and ``dtao calibrate ...``: check the
simulator against the real 2025 record (see docs/validation.md, docs/calibration.md)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from dtao.cli import app


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _overrides(sets: List[str]) -> dict:
    from dtao.scenario import parse_value

    out = {}
    for s in sets:
        key, eq, val = s.partition("=")
        if not eq or not key.strip():
            _fail(f"--set {s!r}: expected KEY=VALUE")
        out[key.strip()] = parse_value(val.strip())
    return out


@app.command("validate", short_help="Run the 2025 history scenario for several seeds and check the stylised facts.")
def validate_cmd(
    as_json: bool = typer.Option(False, "--json", help="print the table as JSON: {\"facts\": [...]}"),
    seeds: int = typer.Option(3, "--seeds", "-n", help="number of seeds (spawned from --seed)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/validate)"),
    days: Optional[float] = typer.Option(None, "--days", help="horizon in days (default: the scenario's 300)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="worker processes (default: one per core, at most one per seed)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="root seed of the replications (default: the scenario's)"),
    set_: List[str] = typer.Option([], "--set", help="scenario override KEY=VALUE, e.g. agents.miners.sell_fraction=0.4"),
    history: Optional[Path] = typer.Option(None, "--history", help="folder of the history slices (default: the shipped copies)"),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the overlay plots"),
    keep_runs: bool = typer.Option(False, "--keep-runs", help="also write each seed's recorded tables under OUT/runs/"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 if a fact fails its band"),
) -> None:
    """Run the launch-2025-history scenario (the real timeline from 13 Feb 2025) for several seeds,
    measure each stylised fact of the record (S1, S2, S3, S5, S6, S8) and print: fact, real value,
    simulated median and range over seeds, band, pass/fail.  Writes validation.json/.csv/.md, each
    seed's probe samples and overlay plots into OUT.  Exit status 0 when the runs completed (failing
    facts are reported, not errors; --strict makes them exit 1), 2 on bad input."""
    from dtao.scenario import ScenarioError
    from dtao.validate import HistoryDataError, load_history, validate, write_outputs

    if seeds < 1:
        _fail(f"--seeds must be at least 1, got {seeds}")
    if days is not None and not days > 0:
        _fail(f"--days must be positive, got {days}")
    if jobs is not None and jobs < 1:
        _fail(f"--jobs must be at least 1, got {jobs}")
    if seed is not None and seed < 0:
        _fail(f"--seed must be >= 0, got {seed}")
    overrides = _overrides(set_)
    out = out or Path("runs") / "validate"
    try:
        hist = load_history(history)
        from dtao.validate.run import history_scenario

        history_scenario(overrides)  # bad overrides fail here, before any run
        v = validate(seeds=seeds, base_seed=seed, days=days, jobs=jobs, overrides=overrides, history_folder=history,
                     keep_runs=(out / "runs") if keep_runs else None)
        files = write_outputs(v, out, hist, plots=not no_plots)
    except (HistoryDataError, ScenarioError, ValueError) as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(v.to_json(), indent=2, allow_nan=False))
    else:
        _print_table(v)
        typer.echo(f"{v.n_pass} pass, {v.n_fail} fail, {len(v.results) - v.n_pass - v.n_fail} not reached; "
                   f"{len(v.seeds)} seed(s) x {v.days:g} days in {max(v.wall_seconds):.0f} s per seed "
                   f"-> {out} ({len(files)} files)")
    if strict and v.n_fail:
        raise typer.Exit(1)


def _print_table(v) -> None:
    from rich.console import Console
    from rich.table import Table

    from dtao.validate.table import fmt

    t = Table(title="dTAO 2025: simulated against the record", show_lines=False)
    for col in ("fact", "real", "simulated", "range", "band", "result"):
        t.add_column(col, justify="left" if col == "fact" else "right")
    for r in v.results:
        f = r.fact
        res = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[yellow]not reached[/]"}[r.passed]
        t.add_row(f"{f.id} {f.short}" + (" *" if f.fitted else ""), fmt(r.real), fmt(r.simulated),
                  f"{fmt(r.low)} - {fmt(r.high)}", f"{fmt(f.band[0])} - {fmt(f.band[1])}",
                  f"{res} {r.seeds_in_band}/{len(r.values)}")
    Console().print(t)
    typer.echo("* fitted by calibration; the others are only checked.  Definitions and bands: docs/validation.md")


@app.command("calibrate", short_help="Fit the history scenario's agent parameters to the record (scipy, seed-averaged).")
def calibrate_cmd(
    stage: str = typer.Option("all", "--stage", help="all | launch | sn28"),
    seeds: Optional[int] = typer.Option(None, "--seeds", "-n", help="seeds averaged per evaluation (default: the stage's)"),
    days: Optional[float] = typer.Option(None, "--days", help="horizon of each calibration run (default: the stage's)"),
    maxfev: Optional[int] = typer.Option(None, "--maxfev", help="objective evaluations per stage (default: the stage's)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="worker processes"),
    seed: int = typer.Option(7, "--seed", help="root seed of the calibration seeds (distinct from validation's 2025)"),
    start_from: Optional[Path] = typer.Option(None, "--start-from", help="calibration.json whose fitted values hold for the stages not run"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/calibrate)"),
) -> None:
    """Fit the calibrated parameters (docs/calibration.md): stage 'launch' (Nelder-Mead, S1, S2a,
    S3a, S3b on 46-day runs, 6 seeds, 40 evaluations), then stage 'sn28' (bounded scalar search, S6a
    on 12.5-day runs, 8 seeds, 12 evaluations); each minimises the mean over common seeds of the
    band-scaled squared errors.
    Writes calibration.json (fitted values, ranges, every evaluation) into OUT as it goes."""
    from dtao.validate.calibrate import STAGES, calibrate

    stages = {s.name: s for s in STAGES}
    if stage != "all" and stage not in stages:
        _fail(f"--stage must be all, {' or '.join(stages)}; got {stage!r}")
    if (seeds is not None and seeds < 1) or (maxfev is not None and maxfev < 1) or (days is not None and not days > 0):
        _fail("--seeds and --maxfev must be at least 1 and --days positive")
    start = None
    if start_from is not None:
        try:
            start = json.loads(Path(start_from).read_text())["fitted"]
        except (OSError, ValueError, KeyError) as exc:
            _fail(f"--start-from {start_from}: not a calibration.json ({exc})")
    out = out or Path("runs") / "calibrate"
    chosen = STAGES if stage == "all" else (stages[stage],)
    try:
        res = calibrate(stages=chosen, seeds=seeds, days=days, maxfev=maxfev, jobs=jobs, base_seed=seed, out=out,
                        start=start)
    except ValueError as exc:
        _fail(str(exc))
        return
    typer.echo(json.dumps({"fitted": res["fitted"], "ranges": res["ranges_within_1_of_best"],
                           "objective": res["objective"]}, indent=2))
    typer.echo(f"-> {out / 'calibration.json'}")
