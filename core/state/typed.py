"""Small typed helpers on top of the generic StateStore protocol.

The protocol stays the contract; these only name common patterns so callers do
not re-implement retry loops or key conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from core.state.base import ConcurrencyError, Namespace, Record, StateStore

__all__ = [
    "UNCHANGED",
    "Unchanged",
    "get_checkpoint",
    "mark_event_processed",
    "prune",
    "set_checkpoint",
    "update",
]


class Unchanged:
    """The type of :data:`UNCHANGED`."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()  # returned by an update function: write nothing
Mutation = Callable[[Mapping[str, Any] | None], Mapping[str, Any] | Unchanged | None]


def update(
    store: StateStore,
    namespace: Namespace | str,
    key: str,
    fn: Mutation,
    *,
    attempts: int = 20,
) -> Record | None:
    """The one ETag read-modify-write: ``fn(current_value_or_None)`` returns the new value,
    None to delete, or :data:`UNCHANGED` to write nothing. Retries on
    :class:`ConcurrencyError` (and on a concurrent create) up to ``attempts`` times, so
    ``fn`` must be pure (it may run several times; report results through the value it
    saw last). Returns the written record (the current one for UNCHANGED), or None when
    the result is a deletion / nothing exists."""
    for _ in range(attempts):
        current = store.get(namespace, key)
        new = fn(None if current is None else current.value)
        if isinstance(new, Unchanged):
            return current
        try:
            if new is None:
                if current is not None:
                    store.delete(namespace, key, etag=current.etag)
                return None
            if current is None:
                if store.add(namespace, key, new):
                    return store.get(namespace, key)
                continue  # someone created it meanwhile: re-read and re-apply
            return store.put(namespace, key, new, etag=current.etag)
        except ConcurrencyError:
            continue
    raise ConcurrencyError(f"{namespace}/{key}: gave up after {attempts} conflicting attempts")


def mark_event_processed(
    store: StateStore, event_id: str, *, now: datetime | None = None, info: Mapping[str, Any] | None = None
) -> bool:
    """Record that event ``event_id`` was handled. True the first time, False for a duplicate
    delivery (at-least-once triggers call this before doing side effects)."""
    stamp = (now or datetime.now(UTC)).isoformat()
    return store.add(Namespace.EVENTS, event_id, {"processed_at": stamp, **(info or {})})


def get_checkpoint(store: StateStore, name: str) -> Record | None:
    """The checkpoint record ``name`` (value and ETag), or None before the first run."""
    return store.get(Namespace.CHECKPOINTS, name)


def set_checkpoint(store: StateStore, name: str, value: Mapping[str, Any], *, etag: str | None = None) -> Record:
    """Write checkpoint ``name``; pass the ETag from :func:`get_checkpoint` to detect a
    concurrent run (raises :class:`ConcurrencyError` if another run moved it)."""
    return store.put(Namespace.CHECKPOINTS, name, value, etag=etag)


def prune(store: StateStore, namespace: Namespace | str, *, field: str, before: datetime, prefix: str = "") -> int:
    """Delete records whose ISO-8601 timestamp ``value[field]`` is earlier than ``before``
    (e.g. processed event ids older than the redelivery window). Records without a
    parsable timestamp are kept; records rewritten meanwhile are kept (ETag-conditional).
    Returns how many were deleted."""
    if before.tzinfo is None:
        raise ValueError("prune: 'before' must be timezone-aware")
    deleted = 0
    for record in list(store.query(namespace, prefix)):
        stamp = record.value.get(field)
        try:
            when = datetime.fromisoformat(str(stamp))
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < before:
            try:
                deleted += store.delete(namespace, record.key, etag=record.etag)
            except ConcurrencyError:
                continue
    return deleted
