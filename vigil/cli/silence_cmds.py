"""`vigil silence`: Create, list and expire silences."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create, list and expire silences.", no_args_is_help=True)
