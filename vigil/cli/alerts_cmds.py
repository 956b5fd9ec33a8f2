"""`vigil alerts`: Triage alerts: list, acknowledge, inspect the outbox, test routes."""

from __future__ import annotations

import typer

app = typer.Typer(help="Triage alerts: list, acknowledge, inspect the outbox, test routes.", no_args_is_help=True)
