"""``dtao query DIR "SQL"``: SQL over an experiment's catalog."""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from dtao.cli import app

_HELP_TABLES = ("tables: runs (one row per run: run_id, point_id, replication, status, seed, parameters, "
                "summary metrics, error, traceback), points, parameters, experiment; views over the runs' "
                "Parquet files: subnets, agents, events, network (each with run_id)")


@app.command("query", short_help="SQL over an experiment's catalog (runs, points, subnets, agents, events, network).")
def query(
    directory: Path = typer.Argument(..., help="experiment output folder (the --out of dtao sweep)"),
    sql: str = typer.Argument("SELECT run_id, status, seed, error FROM runs ORDER BY run_id",
                              help="SQL (DuckDB dialect). " + _HELP_TABLES),
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json | markdown"),
    max_rows: int = typer.Option(200, "--max-rows", help="rows shown in table format (csv/json print all)"),
) -> None:
    """Query the catalog of an experiment with SQL, e.g.
    dtao query runs/mechanisms "SELECT chain_emission_rule, avg(attacker_profit_tao) FROM runs GROUP BY 1"."""
    import duckdb

    from dtao.experiment import connect

    if fmt not in ("table", "csv", "json", "markdown"):
        typer.echo(f"error: --format must be table, csv, json or markdown, got {fmt!r}", err=True)
        raise typer.Exit(2)
    try:
        con = connect(directory)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    try:
        df = con.execute(sql).df()
    except duckdb.Error as exc:
        typer.echo(f"error: {exc}\n{_HELP_TABLES}", err=True)
        raise typer.Exit(2)
    finally:
        con.close()
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        typer.echo(df.to_json(orient="records", indent=1, default_handler=str))
    elif fmt == "markdown":
        typer.echo(_markdown(df))
    else:
        from rich.console import Console
        from rich.table import Table

        import shutil

        t = Table(show_lines=False)
        cells = [[_fmt(v) for v in row] for row in df.head(max_rows).itertuples(index=False)]
        widths = [max([len(str(c))] + [len(r[i]) for r in cells]) for i, c in enumerate(df.columns)]
        for c in df.columns:
            t.add_column(str(c), overflow="fold")
        for r in cells:
            t.add_row(*r)
        # as wide as the table needs (no folded numbers); a terminal narrower than that scrolls
        Console(width=max(shutil.get_terminal_size().columns, sum(widths) + 3 * len(widths) + 1)).print(t)
        if len(df) > max_rows:
            typer.echo(f"({len(df)} rows, {max_rows} shown; --max-rows or --format csv for all)")


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if v != v else f"{v:.6g}"
    return str(v)


def _markdown(df: "object") -> str:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    rows = ["| " + " | ".join(_fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])
