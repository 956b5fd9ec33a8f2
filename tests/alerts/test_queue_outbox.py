"""The Azure Storage Queue outbox against Azurite: backoff via visibility, poison queue with reason."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.dispatch import drain, handle_queue_message
from alerts.notify import NotifyResult
from alerts.outbox import QueueOutbox, RetryPolicy
from alerts.pipeline import process
from alerts.testing import MemoryStore, RecordingNotifier, finding
from vigil.config import parse_config

pytestmark = pytest.mark.azurite

CFG = parse_config(
    {
        "route": {"receiver": "teams", "group_by": ["resource_id"], "group_wait": "0s"},
        "receivers": [{"name": "teams", "msteamsv2_configs": [{"webhook_url": "http://unused"}]}],
    }
)
SUB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines"


def _outbox(azurite: Any, unique_name: Callable[[str], str], store: MemoryStore, **policy: Any) -> QueueOutbox:
    return QueueOutbox.from_connection_string(
        azurite.connection_string, unique_name("alerts"), store=store, policy=RetryPolicy(**policy)
    )


def test_enqueue_is_deduplicated_and_delivery_exactly_once(azurite: Any, unique_name: Any) -> None:
    store = MemoryStore()
    ob = _outbox(azurite, unique_name, store)
    now = datetime.now(UTC)
    fs = [finding(resource=f"{SUB}/vm{i}", observed_at=now) for i in range(5)]
    r1 = process(fs, config=CFG, store=store, outbox=ob, now=now)
    r2 = process(fs, config=CFG, store=store, outbox=ob, now=now)  # re-run before delivery
    assert len(r1.enqueued) == 5
    assert r2.enqueued == []
    assert r2.already_queued == 5
    rec = RecordingNotifier()
    d = drain(ob, config=CFG, store=store, notifiers={"msteams": rec})
    assert d.delivered == 5
    assert sorted(rec.fingerprints) == sorted(f.fingerprint for f in fs)
    assert ob.queue.get_queue_properties().approximate_message_count == 0
    assert {e.state for e in ob.entries()} == {"sent"}


def test_retry_backoff_then_poison_with_reason(azurite: Any, unique_name: Any) -> None:
    store = MemoryStore()
    ob = _outbox(azurite, unique_name, store, max_attempts=3, base=timedelta(seconds=1), cap=timedelta(seconds=1))
    now = datetime.now(UTC)
    process([finding(observed_at=now)], config=CFG, store=store, outbox=ob, now=now)
    rec = RecordingNotifier(script=[NotifyResult(False, True, "HTTP 429")] * 5)
    d = drain(ob, config=CFG, store=store, notifiers={"msteams": rec})
    assert d.retried == 1
    # invisible during the backoff
    assert drain(ob, config=CFG, store=store, notifiers={"msteams": rec}).retried == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not ob.entries(failed=True):
        time.sleep(0.3)
        drain(ob, config=CFG, store=store, notifiers={"msteams": rec})
    (failed,) = ob.entries(failed=True)
    assert failed.attempts == 3
    assert "gave up after 3 attempts: msteamsv2[0]: HTTP 429" in failed.last_error
    assert len(rec.calls) == 3
    (poison,) = ob.poison.peek_messages()
    body = json.loads(poison.content)
    assert body["reason"] == failed.last_error
    assert body["message"]["key"] == failed.key
    assert ob.queue.get_queue_properties().approximate_message_count == 0
    # without a store mirror, the poison queue itself answers `entries(failed=True)`
    bare = QueueOutbox(ob.queue, ob.poison)
    assert [e.key for e in bare.entries(failed=True)] == [failed.key]


def test_queue_trigger_handler_requeues_with_backoff(azurite: Any, unique_name: Any) -> None:
    store = MemoryStore()
    ob = _outbox(azurite, unique_name, store, max_attempts=2, base=timedelta(seconds=30))
    now = datetime.now(UTC)
    (msg,) = process([finding(observed_at=now)], config=CFG, store=store, outbox=ob, now=now).messages
    (lease,) = ob.receive(now=now)
    ob.queue.delete_message(lease.handle)  # the Functions host owns the triggering message
    flaky = RecordingNotifier(script=[NotifyResult(False, True, "HTTP 503")])
    res = handle_queue_message(
        {"message": msg, "attempts": 0}, outbox=ob, config=CFG, store=store, now=now, notifiers={"msteams": flaky}
    )
    assert res.retryable
    assert ob.receive(now=now) == []  # re-queued invisible for the backoff
    peek = ob.queue.peek_messages()
    assert peek == []
    # second attempt fails too -> poison with reason (max_attempts=2)
    handle_queue_message(
        {"message": msg, "attempts": 1},
        outbox=ob,
        config=CFG,
        store=store,
        now=now,
        notifiers={"msteams": RecordingNotifier(script=[NotifyResult(False, True, "HTTP 503")])},
    )
    (poison,) = ob.poison.peek_messages()
    assert "gave up after 2 attempts" in json.loads(poison.content)["reason"]
    # a retry of a successful delivery sends nothing twice
    ok = RecordingNotifier()
    handle_queue_message({"message": msg}, outbox=ob, config=CFG, store=store, now=now, notifiers={"msteams": ok})
    handle_queue_message({"message": msg}, outbox=ob, config=CFG, store=store, now=now, notifiers={"msteams": ok})
    assert len(ok.calls) == 1


def test_huge_group_goes_by_reference(azurite: Any, unique_name: Any) -> None:
    store = MemoryStore()
    ob = _outbox(azurite, unique_name, store)
    cfg = parse_config(
        {
            "route": {"receiver": "teams", "group_by": ["alertname"], "group_wait": "0s"},
            "receivers": [{"name": "teams", "msteamsv2_configs": [{"webhook_url": "http://unused"}]}],
        }
    )
    now = datetime.now(UTC)
    fs = [finding(resource=f"{SUB}/vm{i:05d}", observed_at=now) for i in range(4000)]
    (msg,) = process(fs, config=cfg, store=store, outbox=ob, now=now).messages
    assert len(json.dumps(msg)) > 64 * 1024  # would not fit in a queue message
    (peek,) = ob.queue.peek_messages()
    assert json.loads(peek.content) == {"ref": msg["key"], "attempts": 0}
    rec = RecordingNotifier()
    assert drain(ob, config=cfg, store=store, notifiers={"msteams": rec}).delivered == 1
    assert len(rec.calls[0].alerts) == 4000
