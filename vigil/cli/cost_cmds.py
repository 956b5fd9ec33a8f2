"""`vigil ingest cost` and `vigil costs summary`."""

from __future__ import annotations

import typer

ingest_app = typer.Typer(help="Ingest cost data into the normalized store.", no_args_is_help=True)
costs_app = typer.Typer(help="Read normalized cost data back.", no_args_is_help=True)
