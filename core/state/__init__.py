"""Durable state for Vigil: one generic protocol, two backends.

``open_store()`` picks the backend from settings:

* ``VIGIL_STATE=sqlite`` (default): :class:`~core.state.sqlite.SQLiteStore` at
  ``VIGIL_STATE_PATH`` (default ``out/state.db``). The CLI uses this.
* ``VIGIL_STATE=table``: :class:`~core.state.tables.TableStore` on Azure Table
  Storage (the Function App). Connection from ``AzureWebJobsStorage`` (a
  connection string, e.g. Azurite) or identity-based
  ``AzureWebJobsStorage__tableServiceUri`` (or ``__accountName``) with optional
  ``AzureWebJobsStorage__clientId`` for a user-assigned managed identity. Table
  name from ``VIGIL_STATE_TABLE`` (default ``vigilstate``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.state.base import (
    ConcurrencyError,
    Namespace,
    Record,
    StateError,
    StateStore,
    StateUnavailableError,
)
from core.state.typed import UNCHANGED, update

if TYPE_CHECKING:
    from core.state.sqlite import SQLiteStore
    from core.state.tables import TableStore

__all__ = [
    "DEFAULT_STATE_PATH",
    "DEFAULT_TABLE_NAME",
    "UNCHANGED",
    "ConcurrencyError",
    "Namespace",
    "Record",
    "SQLiteStore",
    "StateError",
    "StateStore",
    "StateUnavailableError",
    "TableStore",
    "open_store",
    "update",
]

DEFAULT_STATE_PATH = "out/state.db"
DEFAULT_TABLE_NAME = "vigilstate"
_BACKENDS = ("sqlite", "table")


def open_store(
    backend: str | None = None,
    *,
    path: str | Path | None = None,
    connection: str | None = None,
    env: Mapping[str, str] | None = None,
    table_name: str | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> StateStore:
    """Open the configured state store.

    Explicit arguments win over settings in ``env`` (default ``os.environ``).
    ``client_options`` are passed to the Azure Tables client (e.g.
    ``{"retry_total": 0, "connection_timeout": 1}``) and ignored for SQLite.
    """
    settings: Mapping[str, str] = os.environ if env is None else env
    chosen = (backend or settings.get("VIGIL_STATE") or "sqlite").strip().lower()
    if chosen == "sqlite":
        from core.state.sqlite import SQLiteStore

        return SQLiteStore(path if path is not None else settings.get("VIGIL_STATE_PATH") or DEFAULT_STATE_PATH)
    if chosen == "table":
        from core.state.tables import TableStore

        name = table_name or settings.get("VIGIL_STATE_TABLE") or DEFAULT_TABLE_NAME
        options = dict(client_options or {})
        conn = connection or settings.get("AzureWebJobsStorage")
        if conn:
            return TableStore.from_connection_string(conn, table_name=name, **options)
        endpoint = settings.get("AzureWebJobsStorage__tableServiceUri")
        account = settings.get("AzureWebJobsStorage__accountName")
        if not endpoint and account:
            endpoint = f"https://{account}.table.core.windows.net"
        if not endpoint:
            raise ValueError(
                "VIGIL_STATE=table needs AzureWebJobsStorage (connection string) or "
                "AzureWebJobsStorage__tableServiceUri (identity-based connection)"
            )
        return TableStore.from_endpoint(
            endpoint,
            table_name=name,
            client_id=settings.get("AzureWebJobsStorage__clientId") or None,
            **options,
        )
    raise ValueError(f"VIGIL_STATE must be one of {', '.join(_BACKENDS)}; got {chosen!r}")


def __getattr__(name: str) -> Any:
    # Lazy access to the backends so importing core.state stays cheap (cold start).
    if name == "SQLiteStore":
        from core.state.sqlite import SQLiteStore

        return SQLiteStore
    if name == "TableStore":
        from core.state.tables import TableStore

        return TableStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
