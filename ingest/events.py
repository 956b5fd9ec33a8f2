"""Azure Resource Manager events from Event Grid, in either delivery schema.

Event Grid schema: ``id``, ``eventType``, ``subject``, ``eventTime``, ``data``,
``dataVersion``, ``metadataVersion``, ``topic``. CloudEvents 1.0 schema:
``id``, ``type``, ``source``, ``subject``, ``time``, ``data``, ``specversion``.

:func:`parse_events` turns a delivery (one event, an array, raw JSON bytes) into
:class:`ResourceEvent` objects. Types other than the three resource events are
counted as irrelevant and dropped before any validation; a malformed resource
event is quarantined with its reason and the batch continues.

Stdlib only: this sits on the drift event path, which must start fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.jsonsafe import load_untrusted_json
from core.timeutil import MAX_FUTURE_SKEW, parse_utc

MAX_DELIVERY_BYTES = 1024 * 1024  # Event Grid delivers at most 1 MB per batch

__all__ = [
    "RESOURCE_EVENT_TYPES",
    "EventBatch",
    "Quarantined",
    "ResourceEvent",
    "cap_event_times",
    "event_type_of",
    "parse_event",
    "parse_events",
]

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
ACTION = "Microsoft.Resources.ResourceActionSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
RESOURCE_EVENT_TYPES = frozenset({WRITE, ACTION, DELETE})
_RESOURCE_EVENT_TYPES_LOWER = {t.lower(): t for t in RESOURCE_EVENT_TYPES}

_UPN_CLAIMS = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "unique_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)


@dataclass(frozen=True, slots=True)
class ResourceEvent:
    id: str
    event_type: str  # full type, e.g. Microsoft.Resources.ResourceWriteSuccess
    resource_id: str  # data.resourceUri (or subject), as sent
    event_time: datetime  # timezone-aware
    schema: str  # "eventgrid" | "cloudevents"
    operation_name: str = ""
    correlation_id: str = ""
    caller: str = ""
    status: str = ""
    subscription_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """write | action | delete."""
        return {WRITE: "write", ACTION: "action", DELETE: "delete"}[self.event_type]

    @property
    def is_delete(self) -> bool:
        return self.event_type == DELETE

    @property
    def request_api_version(self) -> str | None:
        """The api-version of the ARM request behind the event (``data.httpRequest.url``), if given."""
        http = self.data.get("httpRequest") if isinstance(self.data, Mapping) else None
        url = http.get("url") if isinstance(http, Mapping) else None
        if not isinstance(url, str) or "?" not in url:
            return None
        from urllib.parse import parse_qs

        values = parse_qs(url.split("?", 1)[1]).get("api-version")
        return values[0] if values and values[0] else None


@dataclass(frozen=True, slots=True)
class Quarantined:
    event_id: str
    reason: str
    index: int
    raw: Any = None


@dataclass(slots=True)
class EventBatch:
    events: list[ResourceEvent] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    irrelevant: int = 0


def _shown(event_id: str) -> str:
    """An event id as a reason names it: as is when it is printable with no white space, else quoted
    (an untrusted id must not break the reason's shape or carry control characters into a log)."""
    return (
        event_id if event_id and event_id.isprintable() and not any(c.isspace() for c in event_id) else repr(event_id)
    )


def event_type_of(raw: Mapping[str, Any]) -> str:
    """The event type in either schema ('' when absent)."""
    t = raw.get("eventType")
    if t is None:
        t = raw.get("type")
    return t if isinstance(t, str) else ""


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value)  # Python 3.11 reads Z and Event Grid's 7 fractional digits
    except ValueError:
        return None


def _caller(data: Mapping[str, Any]) -> str:
    claims = data.get("claims")
    if isinstance(claims, Mapping):
        name = claims.get("name")
        for key in _UPN_CLAIMS:
            upn = claims.get(key)
            if isinstance(upn, str) and upn:
                return f"{name} <{upn}>" if isinstance(name, str) and name and name != upn else upn
        if isinstance(name, str) and name:
            return name
        appid = claims.get("appid")
        if isinstance(appid, str) and appid:
            return f"app:{appid}"
    caller = data.get("caller")
    if isinstance(caller, str) and caller:
        return caller
    auth = data.get("authorization")
    if isinstance(auth, Mapping):
        evidence = auth.get("evidence")
        if isinstance(evidence, Mapping) and isinstance(evidence.get("principalId"), str):
            return f"principal:{evidence['principalId']}"
    return ""


def parse_event(raw: Any, index: int = 0) -> ResourceEvent | Quarantined | None:
    """One event: a ResourceEvent, a Quarantined record, or None when irrelevant."""
    if not isinstance(raw, Mapping):
        return Quarantined("", f"event [{index}] is not a JSON object", index, raw)
    etype = event_type_of(raw)
    canonical = _RESOURCE_EVENT_TYPES_LOWER.get(etype.lower())
    if canonical is None:
        if not etype:
            eid = raw.get("id")
            return Quarantined(str(eid or ""), f"event [{index}] has no eventType/type", index, raw)
        return None
    eid = raw.get("id")
    if not isinstance(eid, str) or not eid.strip():
        return Quarantined("", f"event [{index}]: 'id' missing or not a string", index, raw)
    schema = "cloudevents" if "specversion" in raw else "eventgrid"
    if schema == "cloudevents" and raw.get("specversion") != "1.0":
        return Quarantined(
            eid, f"event {_shown(eid)}: unsupported CloudEvents specversion {raw.get('specversion')!r}", index, raw
        )
    time_key = "time" if schema == "cloudevents" else "eventTime"
    when = _parse_time(raw.get(time_key))
    if when is None:
        return Quarantined(eid, f"event {_shown(eid)}: '{time_key}' missing or not ISO 8601", index, raw)
    data = raw.get("data")
    if not isinstance(data, Mapping):
        return Quarantined(eid, f"event {_shown(eid)}: 'data' missing or not an object", index, raw)
    rid = data.get("resourceUri") or raw.get("subject")
    if not isinstance(rid, str) or not rid.lower().startswith(("/subscriptions/", "/providers/")):
        return Quarantined(
            eid, f"event {_shown(eid)}: 'data.resourceUri'/'subject' is not an ARM resource id", index, raw
        )
    status = data.get("status")
    if isinstance(status, str) and status and status.lower() != "succeeded":
        return Quarantined(eid, f"event {_shown(eid)}: status {status!r} is not Succeeded", index, raw)
    return ResourceEvent(
        id=eid,
        event_type=canonical,
        resource_id=rid,
        event_time=when,
        schema=schema,
        operation_name=str(data.get("operationName") or ""),
        correlation_id=str(data.get("correlationId") or ""),
        caller=_caller(data),
        status=str(status or ""),
        subscription_id=str(data.get("subscriptionId") or ""),
        data=data,
    )


def _as_items(payload: Any) -> Iterable[Any]:
    if isinstance(payload, bytes | bytearray | str):
        payload = load_untrusted_json(
            bytes(payload) if isinstance(payload, bytearray) else payload, max_bytes=MAX_DELIVERY_BYTES
        )
    if isinstance(payload, Mapping):
        return [payload]
    if isinstance(payload, list | tuple):
        return payload
    if payload is None or isinstance(payload, bool | int | float):
        return [payload]  # valid JSON but not an event: quarantined as "event [0] is not a JSON object"
    return list(payload)


def cap_event_times(batch: EventBatch, now: datetime) -> EventBatch:
    """Quarantine the events dated more than ``MAX_FUTURE_SKEW`` after ``now``.

    An event time is a claim: one dated 2099 would make every later sweep and real write look
    older than the verdict it recorded ("stale") and hide drift for good."""
    limit = now + MAX_FUTURE_SKEW
    kept: list[ResourceEvent] = []
    for e in batch.events:
        if e.event_time > limit:
            reason = (
                f"event {_shown(e.id)}: event time {e.event_time.isoformat()} is more than "
                f"{int(MAX_FUTURE_SKEW.total_seconds() // 60)} minutes ahead of {now.isoformat()}"
            )
            batch.quarantined.append(Quarantined(e.id, reason, -1))
        else:
            kept.append(e)
    batch.events = kept
    return batch


def parse_events(payload: Any) -> EventBatch:
    """Parse a delivery: raw JSON (bytes/str), one event object, or a sequence of them.

    Raises ValueError only when the payload itself is not JSON. The caller caps the event
    times against its clock with :func:`cap_event_times`.
    """
    batch = EventBatch()
    for i, raw in enumerate(_as_items(payload)):
        if isinstance(raw, ResourceEvent):
            batch.events.append(raw)
            continue
        parsed = parse_event(raw, i)
        if parsed is None:
            batch.irrelevant += 1
        elif isinstance(parsed, Quarantined):
            batch.quarantined.append(parsed)
        else:
            batch.events.append(parsed)
    return batch
