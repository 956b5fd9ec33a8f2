"""Function triggers of the ``vigil`` package, and the trigger plumbing every blueprint shares.

Functions: ``resource_events`` (Event Grid: ResourceWrite/Action/DeleteSuccess -> drift),
``metrics`` and ``sweep`` (timers), ``detect`` (queue ``%DETECT_QUEUE%``), ``detect_scopes`` (queue
``%DETECT_SCOPE_QUEUE%``) and ``health``
(HTTP GET, function key).

Each body parses its trigger input into plain data, gets the cached runtime and calls one
handler from :mod:`vigil.handlers`, passed by reference (``handlers.handle_detect``, so mypy
checks the name). The handler package is imported inside the body, not here: indexing the
app must stay cheap (cold start), and a drift event must not pay for the cost-analysis
imports. A handler raises to make the platform retry (Event Grid redelivers, the queue
message becomes visible again, the timer retries).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

from core.runtime import MAX_QUEUE_MESSAGE_BYTES
from vigil import telemetry
from vigil.runtime_azure import get_runtime

if TYPE_CHECKING:
    from vigil.runtime import Runtime

QueueHandler = Callable[[dict[str, Any], "Runtime"], dict[str, Any]]
EventHandler = Callable[[list[dict[str, Any]], "Runtime"], dict[str, Any]]
TimerHandler = Callable[["Runtime", datetime], dict[str, Any]]

__all__ = [
    "MAX_BODY_BYTES",
    "MalformedMessageError",
    "RequestBodyError",
    "bp",
    "event_to_dict",
    "get_runtime",
    "json_response",
    "parse_queue_message",
    "quarantine_message",
    "read_json_body",
    "run_event_handler",
    "run_queue_handler",
    "run_timer_handler",
]

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]


# --- shared trigger plumbing ------------------------------------------------------------


class MalformedMessageError(ValueError):
    """A queue message body is not a JSON object. Retrying cannot fix it: it is quarantined."""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_to_dict(event: func.EventGridEvent | func.CloudEvent) -> dict[str, Any]:
    """The trigger's event as the JSON dict it arrived as.

    An :class:`~azure.functions.EventGridEvent` becomes an Event Grid schema dict (``id``,
    ``topic``, ``subject``, ``eventType``, ``eventTime``, ``data``, ``dataVersion``,
    ``metadataVersion``). The worker hands a :class:`~azure.functions.CloudEvent` to the same
    trigger when the subscription uses the CloudEvents schema; it becomes a CloudEvents dict.
    """
    if isinstance(event, func.CloudEvent):
        out: dict[str, Any] = {
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "time": _iso(event.time),
            "subject": event.subject,
            "data": event.get_json(),
        }
        if event.datacontenttype:
            out["datacontenttype"] = event.datacontenttype
        if event.dataschema:
            out["dataschema"] = event.dataschema
        out.update(event.extension_attrs)
        return out
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": _iso(event.event_time),
        "data": event.get_json(),
        "dataVersion": event.data_version,
        "metadataVersion": "1",
    }


def _event_type(event: dict[str, Any]) -> str:
    return str(event.get("eventType") or event.get("type") or "")


def parse_queue_message(msg: func.QueueMessage, queue: str) -> dict[str, Any]:
    """The message body as a JSON object; :class:`MalformedMessageError` naming queue, id and problem."""
    from core.jsonsafe import UntrustedJSONError, load_untrusted_json

    raw = msg.get_body()
    where = f"queue {queue!r} message {msg.id or '<no id>'}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessageError(f"{where}: body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise MalformedMessageError(f"{where}: body is empty; expected a JSON object")
    try:  # oversized or deeply nested bodies are quarantined too (RecursionError is no ValueError)
        body = load_untrusted_json(text, max_bytes=MAX_QUEUE_MESSAGE_BYTES)  # ours are never larger
    except UntrustedJSONError as exc:
        raise MalformedMessageError(f"{where}: body is {exc}") from None
    if not isinstance(body, dict):
        raise MalformedMessageError(f"{where}: expected a JSON object, got {type(body).__name__}")
    return body


def quarantine_message(msg: func.QueueMessage, queue: str, reason: str) -> str:
    """Keeps a malformed message in the dead-letter container; returns the blob path (idempotent)."""
    rt = get_runtime()
    raw = msg.get_body()
    ident = msg.id or hashlib.sha256(raw).hexdigest()[:32]
    path = f"queues/{queue}/{ident}.json"
    try:
        body: dict[str, Any] = {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(raw).decode("ascii")}
    record = {
        "queue": queue,
        "message_id": msg.id,
        "dequeue_count": getattr(msg, "dequeue_count", None),
        "reason": reason,
        "quarantined_at": _iso(datetime.now(UTC)),
        "body": body,
    }
    rt.blobs(rt.settings.deadletter_container).write(path, json.dumps(record, indent=2).encode("utf-8"))
    return path


def _name(handler: Callable[..., Any]) -> str:
    return str(getattr(handler, "__name__", handler))


def run_queue_handler(msg: func.QueueMessage, queue_setting: str, handler: QueueHandler) -> dict[str, Any] | None:
    """Parses ``msg`` (from the queue named by app setting ``queue_setting``), calls
    ``handler(message, rt)`` and logs the outcome.

    A malformed body is quarantined (not retried) and ``None`` returned; a handler error
    propagates so the host retries the message (then moves it to ``<queue>-poison``).
    """
    queue = get_runtime().setting(queue_setting) or queue_setting
    try:
        message = parse_queue_message(msg, queue)
    except MalformedMessageError as exc:
        path = quarantine_message(msg, queue, str(exc))
        logger.error(
            "quarantined malformed message: %s",
            exc,
            extra={"queue": queue, "message_id": msg.id, "deadletter_blob": path},
        )
        return None
    handler_name = _name(handler)
    # The operation the message belongs to (the event or tick that caused it): see vigil.telemetry.
    operation_id = telemetry.take_from_message(message)
    with telemetry.operation(operation_id):
        telemetry.log_invocation(handler_name, f"queue {queue}", operation_id, message_id=msg.id)
        result: dict[str, Any] = handler(message, get_runtime())
        logger.info(
            "%s handled message %s operation=%s",
            handler_name,
            msg.id,
            operation_id,
            extra={
                "queue": queue,
                "message_id": msg.id,
                "dequeue_count": getattr(msg, "dequeue_count", None),
                "handler": handler_name,
                "vigil_operation_id": operation_id,
            },
        )
    return result


def run_event_handler(event: func.EventGridEvent | func.CloudEvent, handler: EventHandler) -> dict[str, Any]:
    """Calls ``handler([event], rt)`` with the event as its JSON dict."""
    data = event_to_dict(event)
    handler_name = _name(handler)
    operation_id = telemetry.for_event(data)
    with telemetry.operation(operation_id):
        telemetry.log_invocation(handler_name, f"event {_event_type(data)}", operation_id, event_id=data["id"])
        result: dict[str, Any] = handler([data], get_runtime())
        logger.info(
            "%s handled event %s operation=%s",
            handler_name,
            data["id"],
            operation_id,
            extra={
                "event_id": data["id"],
                "event_type": _event_type(data),
                "subject": data.get("subject"),
                "handler": handler_name,
                "vigil_operation_id": operation_id,
            },
        )
    return result


def run_timer_handler(timer: func.TimerRequest, handler: TimerHandler) -> dict[str, Any]:
    """Calls ``handler(rt, now)`` for a timer tick."""
    rt = get_runtime()
    now = rt.now()
    handler_name = _name(handler)
    if timer.past_due:
        logger.warning("timer %s is past due", handler_name, extra={"handler": handler_name})
    operation_id = telemetry.new_operation_id()
    with telemetry.operation(operation_id):
        telemetry.log_invocation(handler_name, "timer", operation_id, past_due=bool(timer.past_due))
        result: dict[str, Any] = handler(rt, now)
        logger.info(
            "%s ran operation=%s",
            handler_name,
            operation_id,
            extra={"handler": handler_name, "now": now.isoformat(), "vigil_operation_id": operation_id},
        )
    return result


MAX_BODY_BYTES = 64 * 1024  # no Vigil API takes more; larger bodies are refused with 413


class RequestBodyError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_json_body(req: func.HttpRequest) -> Any:
    """The request's JSON body, refusing oversized (413) or malformed (400) ones."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise RequestBodyError(413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw:
        raise RequestBodyError(400, "request body is empty; expected a JSON object")
    from core.jsonsafe import UntrustedJSONError, load_untrusted_json

    try:
        return load_untrusted_json(raw, max_bytes=MAX_BODY_BYTES)
    except UntrustedJSONError as exc:
        raise RequestBodyError(400, f"request body is not JSON we can read: {exc}") from None


def json_response(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str, sort_keys=True), status_code=status, mimetype="application/json"
    )


# --- functions ------------------------------------------------------------------------


_RESOURCE_EVENTS = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceActionSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
)


@bp.function_name("resource_events")
@bp.event_grid_trigger(arg_name="event")
def resource_events(event: func.EventGridEvent) -> None:
    """Drift evaluation for one resource event, seconds after the write."""
    data = event_to_dict(event)
    if _event_type(data) not in _RESOURCE_EVENTS:
        logger.info(
            "ignored event %s of type %s",
            data["id"],
            _event_type(data),
            extra={"event_id": data["id"], "event_type": _event_type(data)},
        )
        return
    from vigil import handlers

    run_event_handler(event, handlers.handle_resource_events)


@bp.function_name("metrics")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:10", maximum_interval="00:05:00")
@bp.timer_trigger(arg_name="timer", schedule="%METRICS_SCHEDULE%", run_on_startup=False, use_monitor=True)
def metrics(timer: func.TimerRequest) -> None:
    """Idle-compute detection over Azure Monitor metrics."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_metrics)


@bp.function_name("sweep")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:10", maximum_interval="00:05:00")
@bp.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=True)
def sweep(timer: func.TimerRequest) -> None:
    """Resource Graph sweep for drift the events missed."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_sweep)


@bp.function_name("activity")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:10", maximum_interval="00:05:00")
@bp.timer_trigger(arg_name="timer", schedule="%ACTIVITY_SCHEDULE%", run_on_startup=False, use_monitor=True)
def activity(timer: func.TimerRequest) -> None:
    """Control-plane detections over the activity log (Activity Log REST or Log Analytics)."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_activity)


@bp.function_name("cost_query")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:10", maximum_interval="00:05:00")
@bp.timer_trigger(arg_name="timer", schedule="%COST_QUERY_SCHEDULE%", run_on_startup=False, use_monitor=True)
def cost_query(timer: func.TimerRequest) -> None:
    """Daily costs from the Cost Management Query API (sources.cost_query_api), for scopes without exports."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_cost_query)


@bp.function_name("detect")
@bp.queue_trigger(arg_name="msg", queue_name="%DETECT_QUEUE%", connection="AzureWebJobsStorage")
def detect(msg: func.QueueMessage) -> None:
    """Overspend detection for the days one completed ingest run covers: fans out by subscription."""
    from vigil import handlers

    run_queue_handler(msg, "DETECT_QUEUE", handlers.handle_detect)


@bp.function_name("detect_scopes")
@bp.queue_trigger(arg_name="msg", queue_name="%DETECT_SCOPE_QUEUE%", connection="AzureWebJobsStorage")
def detect_scopes(msg: func.QueueMessage) -> None:
    """Overspend detection for one batch of subscriptions, or the tenant step that merges and alerts."""
    from vigil import handlers

    run_queue_handler(msg, "DETECT_SCOPE_QUEUE", handlers.handle_detect_scopes)


@bp.function_name("health")
@bp.route(route="health", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness and configuration check: 200 when healthy, 503 otherwise."""
    del req
    try:
        from vigil import handlers

        result = handlers.health(get_runtime())
    except Exception as exc:
        logger.exception("health check failed", extra={"error_type": type(exc).__name__})
        result = {"ok": False, "error": type(exc).__name__}
    ok = result.get("ok") is True  # handlers.health: {"ok": bool, "status": ..., "checks": {...}}
    return json_response(200 if ok else 503, result)
