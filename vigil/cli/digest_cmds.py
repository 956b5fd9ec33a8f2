"""`vigil digest`: the weekly finance digest."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the ``digest`` command (filled in by the digest work)."""
    del app
