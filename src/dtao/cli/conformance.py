"""``dtao conformance run FILE_OR_DIR... [--json]``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from dtao.cli import app

conformance_app = typer.Typer(no_args_is_help=True, help="Check the runtime against the conformance suite.")
app.add_typer(conformance_app, name="conformance")


@conformance_app.command("run")
def run(files: List[Path] = typer.Argument(..., help="conformance JSON files (schema dtao-conformance/1), or directories of them"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON result document")) -> None:
    """Run every case of every FILE (a directory: every *.json file under it); the last line reads 'conformance: N/M passed'; exit 1 on any failure."""
    from dtao.conformance.runner import ConformanceFileError, results_json, run_files

    try:
        results = run_files(files)
    except ConformanceFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    doc = results_json(results)
    if as_json:
        typer.echo(json.dumps(doc))
    else:
        for r in results:
            if r.status != "pass":
                typer.echo(f"{r.status.upper():5} {r.id}: {r.message}")
        by_kind: dict[str, list[int]] = {}
        for r in results:
            k = by_kind.setdefault(r.kind, [0, 0])
            k[0] += r.status == "pass"
            k[1] += 1
        for k, (p, t) in sorted(by_kind.items()):
            typer.echo(f"  {k:24} {p}/{t}")
        typer.echo(f"conformance: {doc['passed']}/{doc['total']} passed")
    if doc["passed"] != doc["total"]:
        raise typer.Exit(1)
