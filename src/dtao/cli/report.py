"""``dtao report RUN_OR_EXPERIMENT_DIR [--out DIR]``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dtao.cli import app


@app.command("report", short_help="Write an HTML report (interactive, offline) and PNGs for a run or an experiment.")
def report(
    path: Path = typer.Argument(..., help="a run folder (dtao run --out) or an experiment folder (dtao sweep --out)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="where to write (default PATH/report)"),
) -> None:
    """Write a self-contained HTML report (interactive charts, opens offline) and PNGs.  For a run:
    price paths, emission shares, root proportion, population PnL and the headline table.  For an
    experiment: metrics against parameters with bands over seeds, and the emission rules compared."""
    from dtao.report import ReportError, write_report

    try:
        res = write_report(path, out)
    except (ReportError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{res.kind} report: {res.html} (+{len(res.pngs)} PNGs in {res.html.parent})")
