"""The state store protocol: everything Vigil must remember between invocations.

One small, generic protocol (namespaced records with ETags, plus an append-only
ledger) backs every piece of durable state: ingest checkpoints, processed event
ids, last verdicts, the notification log, silences, acknowledgements
and the audit ledger. Two backends implement it (SQLite for the CLI, Azure Table
Storage for the Function App) and pass one shared contract suite
(``tests/core/state/test_contract.py``).

Semantics every backend must honour:

* ``put(..., etag=E)`` writes only if the stored record still has ETag ``E``;
  otherwise it raises :class:`ConcurrencyError` (optimistic concurrency).
* ``put(..., etag=None)`` is an unconditional upsert (last writer wins);
  writing the same value twice is a no-op in effect (idempotent).
* ``add(...)`` inserts only if absent and returns False when the key exists:
  the primitive behind "have I processed event X?".
* ``append(...)`` adds to an append-only ledger; entries are never updated or
  deleted, and are read back in insertion order. With ``key`` given, a second
  append with the same key is ignored (idempotent retries).
* Values are JSON-serialisable dicts.
* ``delete(..., etag=E)`` raises :class:`ConcurrencyError` when the record exists
  with another ETag and returns False when it is absent (as does an unconditional
  delete of an absent key).
* Keys are arbitrary strings (``/``, ``#``, ``?``, unicode, control characters);
  ``query(prefix)`` returns the namespace's records whose key starts with
  ``prefix``, ordered by key (code point order). Ledger entries never appear in
  ``query`` and records never appear in ``ledger``.
* ``append`` returns the entry's key: the given ``key`` or a generated unique,
  time-ordered id. ``ledger`` yields Records whose ``key`` is that entry key.
* Size: the Azure Table backend holds values up to about 450,000 characters of
  JSON (entity limit); larger values raise ValueError. Keep big blobs in Blob storage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ConcurrencyError",
    "Namespace",
    "Record",
    "StateError",
    "StateStore",
    "StateUnavailableError",
]


class Namespace(enum.StrEnum):
    """The kinds of state Vigil keeps. Backends store each in its own partition."""

    CHECKPOINTS = "checkpoints"  # ingest checkpoints: export runs, metric windows
    EVENTS = "events"  # processed Event Grid event ids (dedup)
    VERDICTS = "verdicts"  # last verdict per resource and rule (drift transitions)
    HISTORY = "history"  # every verdict change per resource and rule (vigil.drift_history)
    NFLOG = "nflog"  # notification log (what was sent to whom, when)
    SILENCES = "silences"
    ACKS = "acks"  # acknowledgements
    AUDIT = "audit"  # append-only remediation audit ledger
    OUTBOX = "outbox"  # CLI outbox (the Function App uses a Storage Queue)
    ALERTS = "alerts"  # current alert state per fingerprint
    NONCES = "nonces"  # single-use tokens for signed links
    CHANGES = "changes"  # the latest attributed change per resource, from the activity log (live attribution)


class StateError(Exception):
    """Base class for state store errors."""


class ConcurrencyError(StateError):
    """An ETag-conditional write lost the race: re-read and retry."""


class StateUnavailableError(StateError):
    """The backend cannot be reached. Function handlers let this propagate so
    the platform retries the invocation."""


@dataclass(frozen=True, slots=True)
class Record:
    namespace: str
    key: str
    value: Mapping[str, Any]
    etag: str


@runtime_checkable
class StateStore(Protocol):
    def get(self, namespace: Namespace | str, key: str) -> Record | None: ...

    def get_many(self, namespace: Namespace | str, keys: Iterable[str]) -> dict[str, Record]:
        """The records of ``keys`` that exist, by key: what ``get`` gives for each, in few round trips."""
        ...

    def put(
        self,
        namespace: Namespace | str,
        key: str,
        value: Mapping[str, Any],
        *,
        etag: str | None = None,
    ) -> Record: ...

    def put_many(self, namespace: Namespace | str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Unconditional ``put`` of each key's value, in few round trips (not one transaction: on an error,
        some may be written; each write is idempotent, so the caller retries the lot)."""
        ...

    def add(self, namespace: Namespace | str, key: str, value: Mapping[str, Any]) -> bool: ...

    def delete(self, namespace: Namespace | str, key: str, *, etag: str | None = None) -> bool: ...

    def query(self, namespace: Namespace | str, prefix: str = "") -> Iterator[Record]: ...

    def append(self, namespace: Namespace | str, entry: Mapping[str, Any], *, key: str | None = None) -> str: ...

    def ledger(self, namespace: Namespace | str) -> Iterator[Record]: ...

    def close(self) -> None: ...
