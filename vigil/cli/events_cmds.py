"""`vigil events`: Replay Event Grid events through the function's handler."""

from __future__ import annotations

import typer

app = typer.Typer(help="Replay Event Grid events through the function's handler.", no_args_is_help=True)
