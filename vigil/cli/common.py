"""What the CLI's commands share: error exits, ``--now``, the config and the state file.

Every command reports a bad argument, config or input as ``error: <message>`` on stderr and
exits with status 2 (:func:`fail`); nothing here imports more than the command needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from core.state.base import StateStore
    from vigil.config import VigilConfig

__all__ = ["DEFAULT_STATE", "STATE_HELP", "fail", "load_config_or_exit", "open_state", "parse_now"]

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


def open_state(state: Path) -> StateStore:
    """The SQLite state store at ``state`` (its folder is created)."""
    from core.state import open_store

    state.parent.mkdir(parents=True, exist_ok=True)
    return open_store("sqlite", path=state)
