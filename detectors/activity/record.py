"""Pure readers of Activity Log ``EventData`` records, and operations built from them.

An ARM write is logged as two records sharing a ``correlationId``: ``Started`` (``BeginRequest``,
with ``properties.requestbody``) and ``Succeeded``/``Failed`` (``EndRequest``, with
``properties.responseBody`` when there is one). :func:`operations` folds them into one
:class:`Operation` whose ``status`` is the terminal one when it came, and whose ``body`` is the
response (the resource as written) when present, else the request. Field names are those of
``EventData`` (Activity Logs - List, api-version 2015-04-01); the ``AzureActivity`` table's rows
reach here in the same shape (``ingest.activity.records``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Operation",
    "caller_kind",
    "lower_keys",
    "operations",
    "record_time",
    "value_of",
]

UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TERMINAL = ("Failed", "Succeeded", "Accepted")  # precedence when several records of one operation disagree


def value_of(v: Any) -> str:
    """``{"value": "x", "localizedValue": ...}`` or ``"x"`` -> ``"x"``."""
    if isinstance(v, Mapping):
        v = v.get("value")
    return str(v) if v not in (None, "") else ""


def record_time(rec: Mapping[str, Any]) -> datetime | None:
    raw = rec.get("eventTimestamp")
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def lower_keys(v: Any) -> Any:
    """A JSON value with every object key lower-cased (request bodies use ``Properties``, responses ``properties``)."""
    if isinstance(v, Mapping):
        return {str(k).lower(): lower_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [lower_keys(x) for x in v]
    return v


def _json(v: Any) -> Any:
    if isinstance(v, str) and v.strip()[:1] in ("{", "["):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return None
    return v if isinstance(v, Mapping | list) else None


def _props(rec: Mapping[str, Any]) -> Mapping[str, Any]:
    p = rec.get("properties")
    return {str(k).lower(): v for k, v in p.items()} if isinstance(p, Mapping) else {}


def caller_kind(rec: Mapping[str, Any]) -> str:
    """``user``, ``managed_identity``, ``app`` (a service principal) or ``unknown``, from the token's claims.

    A managed identity's token carries ``xms_mirid`` (the identity's resource id); an app token has
    ``idtyp: app`` and no ``upn``; a user token has ``upn`` (or ``idtyp: user``), and its caller is the UPN.
    """
    claims = rec.get("claims")
    c = {str(k).lower(): v for k, v in claims.items()} if isinstance(claims, Mapping) else {}
    if c.get("xms_mirid"):
        return "managed_identity"
    if c.get(UPN) or str(c.get("idtyp", "")).lower() == "user":
        return "user"
    if str(c.get("idtyp", "")).lower() == "app":
        return "app"
    caller = str(rec.get("caller") or "")
    if "@" in caller:
        return "user"
    if _GUID.match(caller):
        return "app"
    return "unknown"


@dataclass(frozen=True, slots=True)
class Operation:
    """One control-plane operation: its records folded (see the module docstring)."""

    operation: str  # lower case, e.g. microsoft.authorization/roleassignments/write
    resource_id: str  # as logged (case kept)
    correlation_id: str
    status: str  # Succeeded | Failed | Accepted | Started | ...
    time: datetime  # the first record's eventTimestamp
    caller: str
    caller_ip: str
    caller_kind: str
    subscription_id: str
    body: Mapping[str, Any] | None  # lower-cased keys; the response when present, else the request
    request: Mapping[str, Any] | None
    event_data_ids: tuple[str, ...]
    records: tuple[Mapping[str, Any], ...] = field(repr=False)

    @property
    def succeeded_or_pending(self) -> bool:
        """Not failed: succeeded, accepted, or only started so far (its end record not read yet)."""
        return self.status not in ("Failed", "Canceled")

    @property
    def verb(self) -> str:
        return self.operation.rsplit("/", 1)[-1]

    def body_props(self) -> Mapping[str, Any]:
        p = (self.body or {}).get("properties")
        return p if isinstance(p, Mapping) else {}


def _ip(rec: Mapping[str, Any]) -> str:
    http = rec.get("httpRequest")
    if isinstance(http, Mapping) and http.get("clientIpAddress"):
        return str(http["clientIpAddress"])
    claims = rec.get("claims")
    return str(claims.get("ipaddr") or "") if isinstance(claims, Mapping) else ""


def _fold(key: tuple[str, str, str], recs: Sequence[Mapping[str, Any]]) -> Operation:
    recs = sorted(recs, key=lambda r: (record_time(r) or datetime.min.replace(tzinfo=UTC), str(r.get("eventDataId"))))
    statuses = [value_of(r.get("status")) for r in recs]
    status = next((s for s in _TERMINAL if s in statuses), statuses[-1] if statuses else "")
    request = response = None
    for r in recs:
        p = _props(r)
        request = request or _json(p.get("requestbody"))
        response = response or _json(p.get("responsebody"))
    who = next((r for r in recs if r.get("caller")), recs[0])
    request_l = lower_keys(request) if isinstance(request, Mapping) else None
    response_l = lower_keys(response) if isinstance(response, Mapping) else None
    first = recs[0]
    return Operation(
        operation=key[1],
        resource_id=str(first.get("resourceId") or (first.get("authorization") or {}).get("scope") or ""),
        correlation_id=key[0],
        status=status,
        time=record_time(first) or datetime.min.replace(tzinfo=UTC),
        caller=str(who.get("caller") or ""),
        caller_ip=next((ip for ip in map(_ip, recs) if ip), ""),
        caller_kind=caller_kind(who),
        subscription_id=str(first.get("subscriptionId") or ""),
        body=response_l or request_l,
        request=request_l,
        event_data_ids=tuple(str(r.get("eventDataId") or "") for r in recs),
        records=tuple(recs),
    )


def operations(records: Iterable[Mapping[str, Any]]) -> list[Operation]:
    """Records grouped by (correlation id, operation, resource), oldest first; records without a time are skipped."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for rec in records:
        if record_time(rec) is None:
            continue
        op = value_of(rec.get("operationName")).lower()
        rid = str(rec.get("resourceId") or (rec.get("authorization") or {}).get("scope") or "").lower()
        corr = str(rec.get("correlationId") or rec.get("eventDataId") or "")
        groups.setdefault((corr, op, rid), []).append(rec)
    out = [_fold(k, v) for k, v in groups.items()]
    out.sort(key=lambda o: (o.time, o.correlation_id, o.operation))
    return out


def parent_of_extension(resource_id: str) -> str:
    """``<parent>/providers/Microsoft.Insights/diagnosticSettings/x`` -> ``<parent>`` (an extension resource's
    parent; the id itself when it has no ``/providers/`` segment after its start)."""
    idx = resource_id.lower().rfind("/providers/")
    return resource_id[:idx] if idx > 0 else resource_id
