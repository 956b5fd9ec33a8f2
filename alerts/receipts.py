"""Local delivery receipts: what a channel accepted before the notification log knew.

The notification log lives in the shared state store (Azure Table in the Function
App). Between a channel's 2xx and the log write there is a window: if storage fails
there, the invocation fails, the queue redelivers it and the notification would go
out again. A :class:`ReceiptJournal` closes that window on the instance that sent:
it is a small SQLite file on local disk, written (synchronously, ``fsync``-ed)
right after the channel accepted and before any remote write. A redelivery on the
same instance finds the receipt, records the log entry and sends nothing.

What it does not cover, by nature: a process killed between the channel's answer
and the receipt write (microseconds), and a redelivery landing on another instance.
Those remain at-least-once; webhooks and email carry a stable idempotency key
(``Idempotency-Key``/``X-Vigil-Key``, ``Message-ID``) so a receiver can drop the repeat.

Receipts are forgotten once the log entry is written, and pruned after ``keep``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["ReceiptJournal"]

log = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS receipts (key TEXT PRIMARY KEY, value TEXT NOT NULL, at TEXT NOT NULL)"


class ReceiptJournal:
    """Per-instance receipts keyed by (receiver, integration, notification key).

    Every method swallows local I/O errors (logged): a receipt is an optimisation of
    the duplicate window, never a reason to fail or lose a delivery.
    """

    def __init__(self, path: Path, *, keep: timedelta = timedelta(days=7)) -> None:
        self.path = path
        self._keep = keep
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with self._lock:
                row = self._db().execute("SELECT value FROM receipts WHERE key = ?", (key,)).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("receipt journal unreadable: %s", exc, extra={"path": str(self.path)})
            return None
        return dict(json.loads(row[0])) if row else None

    def record(self, key: str, *, parts: list[str], done: bool, now: datetime) -> None:
        value = json.dumps({"parts": sorted(set(parts)), "done": done})
        try:
            with self._lock:
                self._db().execute(
                    "INSERT INTO receipts (key, value, at) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
                    (key, value, now.isoformat()),
                )
        except (sqlite3.Error, OSError) as exc:
            log.warning("receipt not recorded: %s", exc, extra={"path": str(self.path), "key": key})

    def forget(self, key: str) -> None:
        try:
            with self._lock:
                self._db().execute("DELETE FROM receipts WHERE key = ?", (key,))
        except (sqlite3.Error, OSError) as exc:
            log.warning("receipt not forgotten: %s", exc, extra={"path": str(self.path), "key": key})

    def prune(self, now: datetime) -> int:
        """Drop receipts older than ``keep`` (their message will not come back)."""
        try:
            with self._lock:
                cur = self._db().execute("DELETE FROM receipts WHERE at < ?", ((now - self._keep).isoformat(),))
                return int(cur.rowcount)
        except (sqlite3.Error, OSError) as exc:
            log.warning("receipts not pruned: %s", exc, extra={"path": str(self.path)})
            return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
