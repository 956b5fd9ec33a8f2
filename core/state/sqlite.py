"""SQLite state backend: the embedded default for the CLI.

One database file in WAL mode, safe for several threads and processes writing at
once (each thread gets its own connection; SQLite's busy timeout serialises
writers). ETags are random tokens regenerated on every write; conditional writes
are single ``UPDATE ... WHERE etag = ?`` statements, so they are atomic.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from core.state._common import dump_value, ledger_id, load_value, ns_name
from core.state.base import ConcurrencyError, Namespace, Record, StateUnavailableError

__all__ = ["SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    ns    TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    etag  TEXT NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    ns    TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (ns, key)
);
CREATE INDEX IF NOT EXISTS ledger_by_ns ON ledger (ns, seq);
"""

_MAX_CODE_POINT = 0x10FFFF
_UPSERT = (
    "INSERT INTO records (ns, key, value, etag) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, etag = excluded.etag"
)
# Keys per SELECT in get_many: below SQLite's historical limit of 999 bound parameters (one is the namespace).
_KEYS_PER_SELECT = 500


def _new_etag() -> str:
    return uuid.uuid4().hex


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (code point order)."""
    last = ord(prefix[-1])
    if last >= _MAX_CODE_POINT or 0xD7FF <= last <= 0xDFFF:
        return None
    return prefix[:-1] + chr(last + 1)


class SQLiteStore:
    """StateStore on a SQLite file (``":memory:"`` gives a private in-process store)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._memory = self.path == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._initialise(self._conn())

    def _initialise(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs an exclusive lock and SQLite does not run the busy
        # handler for it, so several processes opening a new database at once retry here.
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.005
        while True:
            try:
                if not self._memory and conn.execute("PRAGMA journal_mode").fetchone() != ("wal",):
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StateUnavailableError(f"cannot open state database {self.path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise StateUnavailableError(f"state database {self.path} stayed locked: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            except sqlite3.Error as exc:
                raise StateUnavailableError(f"cannot open state database {self.path}: {exc}") from exc

    # -- connections ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit: every statement is its own transaction
                check_same_thread=False,
            )
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StateUnavailableError(f"cannot open state database {self.path}: {exc}") from exc
        with self._lock:
            self._conns.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StateUnavailableError(f"state store {self.path} is closed")
        if self._memory:
            with self._lock:
                if not self._conns:
                    self._connect()
                return self._conns[0]
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (the shared one, locked, for ``:memory:``); a locked or unreadable
        database surfaces as :class:`StateUnavailableError`."""
        conn = self._conn()
        try:
            with self._lock if self._memory else nullcontext():
                yield conn
        except sqlite3.OperationalError as exc:
            raise StateUnavailableError(f"state database {self.path}: {exc}") from exc

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._connection() as conn:
            return conn.execute(sql, params)

    def _fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._memory:
            with self._lock:
                return self._execute(sql, params).fetchall()
        return self._execute(sql, params).fetchall()

    # -- records -------------------------------------------------------------------
    def get(self, namespace: Namespace | str, key: str) -> Record | None:
        ns = ns_name(namespace)
        rows = self._fetchall("SELECT value, etag FROM records WHERE ns = ? AND key = ?", (ns, key))
        if not rows:
            return None
        value, etag = rows[0]
        return Record(ns, key, load_value(value), etag)

    def get_many(self, namespace: Namespace | str, keys: Iterable[str]) -> dict[str, Record]:
        ns = ns_name(namespace)
        wanted = sorted(set(keys))
        found: dict[str, Record] = {}
        for i in range(0, len(wanted), _KEYS_PER_SELECT):
            chunk = wanted[i : i + _KEYS_PER_SELECT]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT key, value, etag FROM records WHERE ns = ? AND key IN ({marks})"  # noqa: S608 (placeholders only)
            for key, value, etag in self._fetchall(sql, (ns, *chunk)):
                found[key] = Record(ns, key, load_value(value), etag)
        return found

    def put(
        self,
        namespace: Namespace | str,
        key: str,
        value: Mapping[str, Any],
        *,
        etag: str | None = None,
    ) -> Record:
        ns = ns_name(namespace)
        text = dump_value(value)
        new = _new_etag()
        if etag is None:
            self._execute(_UPSERT, (ns, key, text, new))
        else:
            cur = self._execute(
                "UPDATE records SET value = ?, etag = ? WHERE ns = ? AND key = ? AND etag = ?",
                (text, new, ns, key, etag),
            )
            if cur.rowcount != 1:
                raise ConcurrencyError(f"{ns}/{key}: record changed or vanished since ETag {etag}")
        return Record(ns, key, load_value(text), new)

    def put_many(self, namespace: Namespace | str, values: Mapping[str, Mapping[str, Any]]) -> None:
        ns = ns_name(namespace)
        rows = [(ns, key, dump_value(value), _new_etag()) for key, value in values.items()]
        if rows:
            with self._connection() as conn:
                conn.executemany(_UPSERT, rows)

    def add(self, namespace: Namespace | str, key: str, value: Mapping[str, Any]) -> bool:
        ns = ns_name(namespace)
        cur = self._execute(
            "INSERT INTO records (ns, key, value, etag) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
            (ns, key, dump_value(value), _new_etag()),
        )
        return cur.rowcount == 1

    def delete(self, namespace: Namespace | str, key: str, *, etag: str | None = None) -> bool:
        ns = ns_name(namespace)
        if etag is None:
            cur = self._execute("DELETE FROM records WHERE ns = ? AND key = ?", (ns, key))
            return cur.rowcount == 1
        cur = self._execute("DELETE FROM records WHERE ns = ? AND key = ? AND etag = ?", (ns, key, etag))
        if cur.rowcount == 1:
            return True
        if self.get(ns, key) is not None:
            raise ConcurrencyError(f"{ns}/{key}: record changed since ETag {etag}")
        return False

    def query(self, namespace: Namespace | str, prefix: str = "") -> Iterator[Record]:
        ns = ns_name(namespace)
        if not prefix:
            rows = self._fetchall("SELECT key, value, etag FROM records WHERE ns = ? ORDER BY key", (ns,))
        else:
            upper = _prefix_upper_bound(prefix)
            sql = "SELECT key, value, etag FROM records WHERE ns = ? AND key >= ? AND substr(key, 1, ?) = ?"
            params: tuple[Any, ...] = (ns, prefix, len(prefix), prefix)
            if upper is not None:
                sql += " AND key < ?"
                params += (upper,)
            rows = self._fetchall(sql + " ORDER BY key", params)
        for key, value, etag in rows:
            yield Record(ns, key, load_value(value), etag)

    # -- ledger --------------------------------------------------------------------
    def append(self, namespace: Namespace | str, entry: Mapping[str, Any], *, key: str | None = None) -> str:
        ns = ns_name(namespace)
        entry_key = ledger_id() if key is None else key
        self._execute(
            "INSERT INTO ledger (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
            (ns, entry_key, dump_value(entry)),
        )
        return entry_key

    def ledger(self, namespace: Namespace | str) -> Iterator[Record]:
        ns = ns_name(namespace)
        rows = self._fetchall("SELECT seq, key, value FROM ledger WHERE ns = ? ORDER BY seq", (ns,))
        for seq, key, value in rows:
            yield Record(ns, key, load_value(value), str(seq))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"
