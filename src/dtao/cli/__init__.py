"""The ``dtao`` command line.  Each command group lives in its own module and registers itself on
``app``; this package only assembles them."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="dtao: simulate Bittensor's Dynamic TAO economy, faithful to subtensor v2.0.11.")

# command modules (each calls app.command / app.add_typer at import)
from dtao.cli import conformance as _conformance  # noqa: E402,F401
from dtao.cli import bench as _bench  # noqa: E402,F401
from dtao.cli import sweep as _sweep  # noqa: E402,F401
from dtao.cli import query as _query  # noqa: E402,F401
from dtao.cli import report as _report  # noqa: E402,F401
from dtao.cli import run as _run  # noqa: E402,F401
from dtao.cli import validate as _validate  # noqa: E402,F401


def main() -> None:
    """Entry point of the ``dtao`` console script."""
    app()
