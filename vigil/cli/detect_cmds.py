"""`vigil detect`: Run detectors offline: anomalies, overspend, idle."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run detectors offline: anomalies, overspend, idle.", no_args_is_help=True)
