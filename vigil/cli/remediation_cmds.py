"""`vigil remediate plan` and `vigil remediation log`."""

from __future__ import annotations

import typer

remediate_app = typer.Typer(help="Plan remediation actions.", no_args_is_help=True)
remediation_app = typer.Typer(help="Inspect the remediation audit ledger.", no_args_is_help=True)
