"""What the CLI's commands share: error exits, ``--now``, the config and the state file.

Every command reports a bad argument, config or input as ``error: <message>`` on stderr and
exits with status 2 (:func:`fail`); nothing here imports more than the command needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from core.text import shorten

if TYPE_CHECKING:
    from core.state.base import StateStore
    from vigil.config import VigilConfig

__all__ = [
    "DEFAULT_STATE",
    "STATE_HELP",
    "fail",
    "load_config_or_exit",
    "open_state",
    "parse_now",
    "shorten",
    "table",
]

STATE_HELP = "SQLite state store file."
DEFAULT_STATE = Path("out/state.db")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; ``raise fail(...)`` exits with ``code``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def parse_now(value: str | None, option: str = "--now") -> datetime | None:
    """An ISO 8601 option value as an aware UTC time (naive means UTC); None when not given."""
    if value is None or not value.strip():
        return None
    from core.timeutil import parse_utc

    try:
        return parse_utc(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-11-25T00:00:00Z)") from None


def now_or_clock(value: str | None, option: str = "--now") -> datetime:
    """:func:`parse_now`, else the current time."""
    return parse_now(value, option) or datetime.now(UTC)


def load_config_or_exit(path: Path | None) -> VigilConfig:
    """The config at ``path`` (None: the built-in defaults); a config error exits 2 naming the key path."""
    from vigil.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def open_state(state: Path, *, create: bool = False) -> StateStore:
    """The SQLite state store at ``state``. Only commands that write state (``run``, ``events replay``,
    ``silence add``) pass ``create``; any other command fails naming the path rather than creating an
    empty store at a typo'd path and reporting "no alerts"."""
    from core.state import open_store

    if not create:
        if state.is_dir():
            raise fail(f"--state {state}: is a folder, not a state file (e.g. out/state.db)")
        if not state.is_file():
            raise fail(f"--state {state}: no such file (`vigil demo` or `vigil run` creates it)")
    state.parent.mkdir(parents=True, exist_ok=True)
    return open_store("sqlite", path=state)


def table(headers: list[str], rows: list[list[str]], *, right: frozenset[int] = frozenset()) -> str:
    """A plain-text table: a header row, a rule, and columns aligned to their widest cell (the columns
    numbered in ``right``, figures, to the right)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
