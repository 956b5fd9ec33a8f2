"""Every Event Grid, queue and timer invocation emits one ``invocation`` log line naming its operation,
and the operation id travels with the queue messages from the event (or tick) to the notification.

With host.json in the default telemetry mode, the Functions host records each invocation as an
Application Insights request and stores the log records the Python worker forwards (the ``logging``
records asserted here) as its traces. The trigger plumbing is driven as the functions drive it, with the
real AzureRuntime.enqueue in front of a recording queue client (no Azure, no Azurite).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from vigil import functions, handlers, telemetry
from vigil.runtime_azure import AzureRuntime
from vigil.settings import Settings

EVENT_ID = "4db48cba-50a2-455a-93b4-de41a3b5b7f6"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class _Queue:
    def __init__(self, sent: list[tuple[str, str]], name: str) -> None:
        self.sent, self.name = sent, name

    def send_message(self, body: str, visibility_timeout: int | None = None) -> None:
        del visibility_timeout
        self.sent.append((self.name, body))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(queue, body) of every message the runtime sends; get_runtime() is that runtime."""
    messages: list[tuple[str, str]] = []
    rt = AzureRuntime(Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}), env={})
    monkeypatch.setattr(rt, "_queue_client", lambda queue: _Queue(messages, queue))
    monkeypatch.setattr(functions, "get_runtime", lambda: rt)
    return messages


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand-in handlers: event -> detect queue -> alerts queue -> notification; returns what they saw."""
    seen: list[dict[str, Any]] = []

    def handle_resource_events(events: list[dict[str, Any]], rt: AzureRuntime) -> dict[str, Any]:
        seen.append({"handler": "events", "input": events})
        rt.enqueue("vigil-detect", {"run_id": "r1"})
        return {}

    def handle_detect(message: dict[str, Any], rt: AzureRuntime) -> dict[str, Any]:
        seen.append({"handler": "detect", "input": message})
        rt.enqueue("vigil-alerts", {"alert": "a1"})
        return {}

    def dispatch_alert(message: dict[str, Any], rt: AzureRuntime) -> dict[str, Any]:
        del rt
        seen.append({"handler": "dispatch", "input": message})
        logging.getLogger("alerts.notify").info("notification sent for %s", message["alert"])
        return {"sent": True}

    def run_sweep(rt: AzureRuntime, now: datetime) -> dict[str, Any]:
        del now
        rt.enqueue("vigil-alerts", {"alert": "drift"})
        return {}

    for fn in (handle_resource_events, handle_detect, dispatch_alert, run_sweep):
        monkeypatch.setattr(handlers, fn.__name__, fn)  # raises if vigil.handlers has no such handler
    return seen


def _event(**extra: Any) -> func.EventGridEvent | func.CloudEvent:
    if "traceparent" in extra:
        return func.CloudEvent(
            id=EVENT_ID,
            source="/subscriptions/00000000-0000-0000-0000-000000000000",
            type="Microsoft.Resources.ResourceWriteSuccess",
            specversion="1.0",
            data={"resourceUri": "/subscriptions/x"},
            time=datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC),
            subject="/subscriptions/x",
            **extra,
        )
    return func.EventGridEvent(
        id=EVENT_ID,
        data={"resourceUri": "/subscriptions/x"},
        topic="/subscriptions/00000000-0000-0000-0000-000000000000",
        subject="/subscriptions/x",
        event_type="Microsoft.Resources.ResourceWriteSuccess",
        event_time=datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC),
        data_version="2",
    )


def _deliver(sent: list[tuple[str, str]], queue: str, setting: str, handler: str) -> None:
    (body,) = [b for q, b in sent if q == queue]
    # Front doors pass handlers by reference; looked up here, after the fixture replaced them.
    functions.run_queue_handler(
        func.QueueMessage(id=f"{queue}-1", body=body.encode()), setting, getattr(handlers, handler)
    )


def _invocations(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [
        (r.function, r.trigger, r.vigil_operation_id)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "vigil.invocation"
    ]


def test_one_operation_id_from_event_to_notification(
    sent: list[tuple[str, str]], pipeline: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    functions.run_event_handler(_event(), handlers.handle_resource_events)
    _deliver(sent, "vigil-detect", "DETECT_QUEUE", "handle_detect")
    _deliver(sent, "vigil-alerts", "ALERTS_QUEUE", "dispatch_alert")

    assert _invocations(caplog) == [
        ("handle_resource_events", "event Microsoft.Resources.ResourceWriteSuccess", EVENT_ID),
        ("handle_detect", "queue vigil-detect", EVENT_ID),
        ("dispatch_alert", "queue vigil-alerts", EVENT_ID),
    ]
    # The id is in the message text too: what the host stores in traces.message in any telemetry mode.
    lines = [r.getMessage() for r in caplog.records if r.name == "vigil.invocation"]
    assert all(line.endswith(f"operation={EVENT_ID}") for line in lines)
    # Every message carries it; no handler sees the key.
    assert [json.loads(body)[telemetry.OPERATION_KEY] for _, body in sent] == [EVENT_ID, EVENT_ID]
    assert [s["input"] for s in pipeline[1:]] == [{"run_id": "r1"}, {"alert": "a1"}]
    # The notification's own log record is emitted inside the operation that carries the event's id.
    (notified,) = [r for r in caplog.records if r.name == "alerts.notify"]
    handled = [r for r in caplog.records if r.getMessage().startswith("dispatch_alert handled message")]
    assert handled[0].vigil_operation_id == EVENT_ID  # type: ignore[attr-defined]
    assert notified.created <= handled[0].created


def test_a_cloud_event_with_trace_context_continues_that_trace(
    sent: list[tuple[str, str]], pipeline: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    event = _event(traceparent=f"00-{TRACE_ID}-b7ad6b7169203331-01")
    functions.run_event_handler(event, handlers.handle_resource_events)
    assert _invocations(caplog)[0][2] == TRACE_ID
    assert json.loads(sent[0][1])[telemetry.OPERATION_KEY] == TRACE_ID
    assert pipeline


def test_a_timer_tick_starts_an_operation_its_messages_carry(
    sent: list[tuple[str, str]], pipeline: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    functions.run_timer_handler(TimerRequest(past_due=False, schedule_status={}, schedule={}), handlers.run_sweep)
    ((function, trigger, operation_id),) = _invocations(caplog)
    assert (function, trigger) == ("run_sweep", "timer")
    assert re.fullmatch(r"[0-9a-f]{32}", operation_id)
    assert json.loads(sent[0][1])[telemetry.OPERATION_KEY] == operation_id
    del pipeline


def test_a_message_from_elsewhere_gets_a_new_operation(
    sent: list[tuple[str, str]], pipeline: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    functions.run_queue_handler(
        func.QueueMessage(id="m1", body=b'{"alert": "x"}'), "ALERTS_QUEUE", handlers.dispatch_alert
    )
    ((_, _, operation_id),) = _invocations(caplog)
    assert re.fullmatch(r"[0-9a-f]{32}", operation_id)
    assert pipeline[-1]["input"] == {"alert": "x"}
    assert sent == []


def test_nothing_is_stamped_outside_an_invocation(sent: list[tuple[str, str]]) -> None:
    functions.get_runtime().enqueue("vigil-detect", {"run_id": "r"})
    assert json.loads(sent[0][1]) == {"run_id": "r"}
    assert telemetry.current_operation() is None
