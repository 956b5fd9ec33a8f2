"""The drift verdict history: every verdict change per resource and rule, with when, from
what (event id or sweep) and who (the event's caller).

``Namespace.VERDICTS`` keeps only the last verdict per ``<resource id>|<rule>``; this keeps the
story in ``Namespace.HISTORY``, one record per observation worth remembering, keyed
``<resource id>|<rule>|<event time, UTC, fixed width>|<event id or "sweep">``. So

* a re-delivered event writes the same key, and ``add`` (insert if absent) ignores it
  (at-least-once delivery adds no duplicate);
* the order is the key order, i.e. event time, whatever the order of delivery: an event
  delivered after a newer one is kept at its own time;
* it is bounded per resource and rule (:class:`Retention`: ``detectors.drift.history_days``
  and ``history_entries`` in vigil.yaml): entries older than ``days`` go, and the oldest
  beyond ``entries``, except the newest, which says since when the current verdict holds;
  a new entry prunes its own resource and rule, and :func:`prune_expired` (the sweep timer)
  the entries of resources that stopped changing.

:func:`worth_recording` decides what is written: a first observation, a change of verdict,
an observation older than the stored one (out of order), and the repeat of the stored
observation itself (a redelivery after a crash between the verdict and its history entry:
``add`` makes it a no-op when the entry exists). Same-verdict neighbours that out-of-order
delivery can leave side by side are merged when read (:func:`history`).

Cold path (the drift event path writes it): standard library and ``core`` only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.state.base import ConcurrencyError, Namespace, StateStore

__all__ = [
    "DEFAULT_RETENTION",
    "Retention",
    "entry_key",
    "history",
    "merge_repeats",
    "prune_expired",
    "record_entry",
    "state_of",
    "worth_recording",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history is kept per resource and rule."""

    days: int = 180
    entries: int = 100


DEFAULT_RETENTION = Retention()


def state_of(value: Mapping[str, Any] | None) -> str:
    """``compliant``, ``non-compliant``, ``deleted`` or ``unknown`` for a verdict or history value."""
    if value is None:
        return "unknown"
    if value.get("deleted"):
        return "deleted"
    compliant = value.get("compliant")
    return "compliant" if compliant is True else "non-compliant" if compliant is False else "unknown"


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fixed width: key order is time order


def entry_key(verdict_key: str, when: datetime, source_id: str) -> str:
    return f"{verdict_key}|{_stamp(when)}|{source_id}"


def worth_recording(prev: Mapping[str, Any] | None, new: Mapping[str, Any], *, stale: bool) -> bool:
    """Whether an observation (``new``: its ``compliant``, ``deleted``, ``event_time``) goes into
    the history, given the stored verdict ``prev`` (see the module docstring)."""
    if state_of(new) == "unknown":
        return False
    if prev is None or stale:
        return True
    if state_of(prev) != state_of(new):
        return True
    return str(prev.get("event_time", "")) == str(new.get("event_time", ""))


def record_entry(
    store: StateStore,
    verdict_key: str,
    when: datetime,
    source_id: str,
    value: Mapping[str, Any],
    *,
    now: datetime,
    retention: Retention = DEFAULT_RETENTION,
    prune: bool = True,
) -> bool:
    """Add one history entry (idempotent by key); True when it was new. A new entry prunes the
    resource and rule's history to ``retention`` (``prune=False``: a first observation, which
    has nothing to prune)."""
    added = store.add(Namespace.HISTORY, entry_key(verdict_key, when, source_id), value)
    if added and prune:
        _prune(store, verdict_key, now=now, retention=retention)
    return added


def _prune(store: StateStore, verdict_key: str, *, now: datetime, retention: Retention) -> int:
    records = list(store.query(Namespace.HISTORY, prefix=verdict_key + "|"))
    if len(records) <= 1:
        return 0
    cutoff = _stamp(now - timedelta(days=retention.days))
    older = records[:-1]  # the newest stays, whatever its age
    drop = [r for r in older if r.key[len(verdict_key) + 1 :] < cutoff]
    kept = older[len(drop) :]  # keys are in time order: the expired ones come first
    excess = len(kept) + 1 - max(retention.entries, 1)
    if excess > 0:
        drop += kept[:excess]
    deleted = 0
    for rec in drop:
        try:
            deleted += store.delete(Namespace.HISTORY, rec.key, etag=rec.etag)
        except ConcurrencyError:  # history entries are never rewritten; someone pruned it first
            continue
    return deleted


_STAMP = re.compile(r"\|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|")


def prune_expired(store: StateStore, *, now: datetime, retention: Retention = DEFAULT_RETENTION) -> int:
    """Delete every history entry older than ``retention.days`` but the newest of its resource and
    rule: the age bound for resources that stopped changing (a new entry prunes only its own
    resource and rule). One scan of the namespace; the sweep timer runs it. Returns how many."""
    cutoff = _stamp(now - timedelta(days=retention.days))
    deleted = 0
    group: str | None = None
    expired: list[Any] = []  # older than the cutoff, in the current group, newest last

    def flush(keep_newest: bool) -> int:
        doomed = expired[:-1] if keep_newest else expired
        n = 0
        for rec in doomed:
            try:
                n += store.delete(Namespace.HISTORY, rec.key, etag=rec.etag)
            except ConcurrencyError:
                continue
        return n

    for rec in store.query(Namespace.HISTORY):
        m = _STAMP.search(rec.key)
        if m is None:
            continue
        vkey = rec.key[: m.start()]
        if vkey != group:
            deleted += flush(keep_newest=True)  # the group ended on an expired entry: it is the newest
            group, expired = vkey, []
        if m.group(1) < cutoff:
            expired.append(rec)
        else:
            deleted += flush(keep_newest=False)  # a newer entry exists: every expired one goes
            expired = []
    deleted += flush(keep_newest=True)
    return deleted


def merge_repeats(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Entries of one rule in time order with consecutive same-verdict entries merged into the first."""
    out: list[dict[str, Any]] = []
    for e in entries:
        if out and state_of(out[-1]) == state_of(e):
            continue
        out.append(dict(e))
    return out


def history(store: StateStore, resource_id_key: str) -> dict[str, list[dict[str, Any]]]:
    """Rule -> its verdict changes, oldest first, for one resource (``resource_id_key``: the
    ``verdict_key(resource_id, "")`` prefix)."""
    by_rule: dict[str, list[Mapping[str, Any]]] = {}
    for rec in store.query(Namespace.HISTORY, prefix=resource_id_key):
        rule = str(rec.value.get("rule") or rec.key[len(resource_id_key) :].split("|", 1)[0])
        by_rule.setdefault(rule, []).append(rec.value)
    return {rule: merge_repeats(items) for rule, items in by_rule.items()}
