"""The alerts queue path against Azurite: ``alerts.outbox.QueueOutbox`` over ``AzureRuntime.enqueue``
(a real Storage Queue), read back by ``vigil.handlers.dispatch_alert`` as the queue trigger does.

Moved from the test-only Storage Queue outbox (deleted): dedup on enqueue, exactly-once delivery
on redelivery, and by-reference messages for groups too big for a queue message. Retries and
the poison queue now belong to the Functions host (host.json ``maxDequeueCount``); a retryable
failure makes ``dispatch_alert`` raise, which is what hands the message back to the host.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.outbox import QueueOutbox, entries
from alerts.pipeline import process
from alerts.testing import finding
from core.runtime import MAX_QUEUE_MESSAGE_BYTES
from tests.alerts.helpers import Endpoint, Reply, serve
from tests.support.azurite import host_settings
from vigil import handlers
from vigil.config import VigilConfig, parse_config
from vigil.runtime_azure import AzureRuntime

pytestmark = pytest.mark.azurite

SUB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines"


def _config(url: str, group_by: list[str]) -> VigilConfig:
    return parse_config(
        {
            "route": {"receiver": "hook", "group_by": group_by, "group_wait": "0s"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": url, "max_retries": 0}]}],
        }
    )


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with serve(max_bytes=64 * 1024 * 1024) as ep:
        yield ep


def _runtime(azurite: Any, config: VigilConfig) -> Iterator[AzureRuntime]:
    rt = AzureRuntime.from_env(host_settings(azurite.connection_string), config=config)
    try:
        yield rt
    finally:
        rt.close()


def _receive(rt: AzureRuntime, queue: str) -> list[dict[str, Any]]:
    """The queue's messages as the Functions host hands them over (base64 text holding JSON)."""
    from azure.storage.queue import QueueClient

    conn = rt.connection_string()
    assert conn is not None
    client = QueueClient.from_connection_string(conn, queue)
    return [json.loads(base64.b64decode(m.content)) for m in client.receive_messages(max_messages=32)]


def _outbox(rt: AzureRuntime) -> QueueOutbox:
    return QueueOutbox(rt, rt.store, rt.setting("ALERTS_QUEUE") or "vigil-alerts")


def test_enqueue_is_deduplicated_and_delivery_exactly_once(azurite: Any, endpoint: Endpoint) -> None:
    for rt in _runtime(azurite, _config(endpoint.url, ["resource_id"])):
        ob = _outbox(rt)
        now = datetime.now(UTC)
        fs = [finding(resource=f"{SUB}/vm{i}", observed_at=now) for i in range(5)]
        r1 = process(fs, config=rt.config, store=rt.store, outbox=ob, now=now)
        r2 = process(fs, config=rt.config, store=rt.store, outbox=ob, now=now)  # re-run before delivery
        assert len(r1.enqueued) == 5
        assert r2.enqueued == []
        assert r2.already_queued == 5
        bodies = _receive(rt, ob.queue)
        assert len(bodies) == 5
        for body in bodies + bodies:  # every message delivered twice (at-least-once)
            handlers.dispatch_alert(body, rt)
        assert len(endpoint.accepted()) == 5
        got = {a["fingerprint"] for r in endpoint.accepted() for a in r.json()["alerts"]}
        assert got == {f.fingerprint for f in fs}
        mirrored = entries(rt.store)
        assert {e.state for e in mirrored} == {"sent"}
        assert {e.attempts for e in mirrored} == {2}


def test_a_retryable_failure_raises_for_the_host_to_redeliver(azurite: Any) -> None:
    with serve(lambda _n, _p, _b: Reply(503)) as down:
        for rt in _runtime(azurite, _config(down.url, ["resource_id"])):
            now = datetime.now(UTC)
            process([finding(observed_at=now)], config=rt.config, store=rt.store, outbox=_outbox(rt), now=now)
            (body,) = _receive(rt, _outbox(rt).queue)
            with pytest.raises(handlers.RetryableError, match="503"):
                handlers.dispatch_alert(body, rt)
            (entry,) = entries(rt.store)
            assert (entry.state, entry.attempts) == ("pending", 1)
            assert "503" in entry.last_error


def test_huge_group_goes_by_reference(azurite: Any, endpoint: Endpoint) -> None:
    for rt in _runtime(azurite, _config(endpoint.url, ["alertname"])):
        ob = _outbox(rt)
        now = datetime.now(UTC)
        fs = [finding(resource=f"{SUB}/vm{i:05d}", observed_at=now) for i in range(4000)]
        (msg,) = process(fs, config=rt.config, store=rt.store, outbox=ob, now=now).messages
        assert len(json.dumps(msg)) > 64 * 1024 > MAX_QUEUE_MESSAGE_BYTES  # would not fit in a queue message
        (body,) = _receive(rt, ob.queue)
        assert body == {"ref": msg["key"], "attempts": 0}
        handlers.dispatch_alert(body, rt)
        (req,) = endpoint.accepted()
        assert len(req.json()["alerts"]) == 4000
