"""`vigil drift`: Evaluate Azure Policy rules against ARM resources."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate Azure Policy rules against ARM resources.", no_args_is_help=True)
