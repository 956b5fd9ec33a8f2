"""Typed helpers over the protocol, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from core.state.base import ConcurrencyError, Namespace, Record, StateStore
from core.state.typed import UNCHANGED, get_checkpoint, mark_event_processed, prune, set_checkpoint, update


def test_mark_event_processed_once(store: StateStore) -> None:
    now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    assert mark_event_processed(store, "evt-1", now=now, info={"type": "Microsoft.Resources.ResourceWriteSuccess"})
    assert not mark_event_processed(store, "evt-1", now=now)
    got = store.get(Namespace.EVENTS, "evt-1")
    assert got is not None
    assert got.value == {
        "processed_at": "2026-11-27T04:00:00+00:00",
        "type": "Microsoft.Resources.ResourceWriteSuccess",
    }


def test_checkpoint_detects_concurrent_run(store: StateStore) -> None:
    assert get_checkpoint(store, "cost/export") is None
    first = set_checkpoint(store, "cost/export", {"run": "r1"})
    seen = get_checkpoint(store, "cost/export")
    assert seen == first
    set_checkpoint(store, "cost/export", {"run": "r2"}, etag=first.etag)
    with pytest.raises(ConcurrencyError):
        set_checkpoint(store, "cost/export", {"run": "r2-other"}, etag=first.etag)


def test_update_create_update_delete(store: StateStore) -> None:
    def bump(current: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return {"n": (current or {"n": 0})["n"] + 1}

    created = update(store, "ns", "c", bump)
    assert isinstance(created, Record)
    assert created.value == {"n": 1}
    updated = update(store, "ns", "c", bump)
    assert updated is not None
    assert updated.value == {"n": 2}
    assert update(store, "ns", "c", lambda _: None) is None
    assert store.get("ns", "c") is None


def test_update_unchanged_writes_nothing(store: StateStore) -> None:
    written = store.put("ns", "c", {"n": 1})
    same = update(store, "ns", "c", lambda _: UNCHANGED)
    assert same is not None
    assert same.etag == written.etag  # no write: the ETag did not move
    assert update(store, "ns", "missing", lambda _: UNCHANGED) is None
    assert store.get("ns", "missing") is None


def test_update_concurrent_increments_exact(make_store: Callable[[], StateStore]) -> None:
    def bump(current: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return {"n": (current or {"n": 0})["n"] + 1}

    def worker() -> None:
        store = make_store()
        for _ in range(5):
            update(store, "ns", "c", bump, attempts=200)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    final = make_store().get("ns", "c")
    assert final is not None
    assert final.value == {"n": 25}


def test_update_gives_up(store: StateStore) -> None:
    store.put("ns", "c", {"n": 0})

    def sabotage(current: Mapping[str, Any] | None) -> Mapping[str, Any]:
        store.put("ns", "c", {"n": -1})  # a rival writer wins every race
        return {"n": 1}

    with pytest.raises(ConcurrencyError, match="gave up after 3"):
        update(store, "ns", "c", sabotage, attempts=3)


def test_prune_old_events(store: StateStore) -> None:
    base = datetime(2026, 11, 20, tzinfo=UTC)
    for day in range(1, 6):
        mark_event_processed(store, f"evt-{day}", now=base.replace(day=20 + day))
    store.put(Namespace.EVENTS, "no-stamp", {"note": "kept"})
    cutoff = datetime(2026, 11, 24, tzinfo=UTC)
    assert prune(store, Namespace.EVENTS, field="processed_at", before=cutoff) == 3
    assert [r.key for r in store.query(Namespace.EVENTS)] == ["evt-4", "evt-5", "no-stamp"]
    assert prune(store, Namespace.EVENTS, field="processed_at", before=cutoff) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        prune(store, Namespace.EVENTS, field="processed_at", before=datetime(2026, 1, 1))
