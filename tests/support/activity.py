"""Real-shaped activity-log records and local HTTPS routes for both activity-log APIs.

:func:`event` builds an Activity Log REST ``EventData`` object with the fields, nesting and value styles of
the REST API's documented example, Activity Logs - List, ``GetActivityLogsFiltered.json``
(Azure/azure-rest-api-specs, specification/monitor/resource-manager/Microsoft.Insights/stable/2015-04-01/
examples/GetActivityLogsFiltered.json; a copy is ../shared/samples/api/spec_monitor_2015-04-01_
GetActivityLogsFiltered.json): ``authorization{action,role,scope}``, the claims map, ``eventName``,
``httpRequest{clientRequestId,clientIpAddress,method}``, localized ``operationName``/``status``/
``subStatus``/``resourceProviderName``, ``properties`` as a string map, 7-digit fractional timestamps.

:func:`la_row` is the same record as a row of the ``AzureActivity`` table (column names from
https://learn.microsoft.com/azure/azure-monitor/reference/tables/azureactivity; status ``Success``/``Start``/
``Failure``; ``dynamic`` columns as JSON text), and :func:`add_log_analytics` serves them in the query API's
answer shape (``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}``,
with ``error.code == "PartialError"`` for a partial answer: https://learn.microsoft.com/azure/azure-monitor/
logs/api/response-format).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tests.support.azure_server import AzureTestServer, Request, Response, arm_error

SUB = "089bd33f-d4ec-47fe-8ba5-0753aa5c5b33"  # the example's subscription
TENANT = "1e8d8218-c5e7-4578-9acc-9abbd5d23315"
ACTIVITY_API = "2015-04-01"
UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def ts7(when: datetime) -> str:
    """``2015-01-21T22:14:26.9792776Z``: seven fractional digits, as the example has them."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def user_claims(upn: str = "admin@contoso.com", *, ip: str = "192.168.35.115") -> dict[str, str]:
    """The example's claims of a signed-in user (``upn``, ``name``, ``appidacr``, ``scope: user_impersonation``)."""
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "ver": "1.0",
        "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd",
        OID_CLAIM: "2468adf0-8211-44e3-95a1-85137af64708",
        UPN_CLAIM: upn,
        "name": "John Smith",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
        "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "appidacr": "2",
        "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
        "ipaddr": ip,
    }


def managed_identity_claims(
    mi_resource_id: str, object_id: str = "5f9a3bd4-7d2c-4d0e-9f61-3c1f1c2b9e10"
) -> dict[str, str]:
    """A managed identity's token: no upn, ``idtyp: app`` and ``xms_mirid`` naming the identity's resource."""
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
        OID_CLAIM: object_id,
        "appid": "8c2b5a71-1f4e-4c55-9d0b-0e7a2a6f3d11",
        "appidacr": "2",
        "idtyp": "app",
        "xms_mirid": mi_resource_id,
    }


def event(
    operation: str,
    resource_id: str,
    when: datetime,
    *,
    status: str = "Succeeded",
    caller: str = "admin@contoso.com",
    claims: Mapping[str, str] | None = None,
    properties: Mapping[str, Any] | None = None,
    ip: str = "192.168.35.115",
    method: str = "PUT",
    correlation_id: str | None = None,
    event_data_id: str | None = None,
    sub_status: str = "",
) -> dict[str, Any]:
    """One ``EventData`` record shaped like GetActivityLogsFiltered.json (``properties`` values are strings:
    a dict value is written as JSON text, as the API writes ``requestbody``/``responseBody``)."""
    eid = event_data_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{operation}|{resource_id}|{when.isoformat()}|{status}"))
    corr = correlation_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"corr|{operation}|{resource_id}|{when.isoformat()}"))
    parts = resource_id.split("/")
    rg = parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""
    provider = operation.split("/", maxsplit=1)[0]
    props = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (properties or {}).items()}
    props.setdefault("statusCode", {"Succeeded": "OK", "Started": "", "Failed": "Forbidden"}.get(status, ""))
    ticks = int(when.timestamp() * 10_000_000) + 621355968000000000
    rec: dict[str, Any] = {
        "authorization": {"action": operation, "scope": resource_id},
        "caller": caller,
        "channels": "Operation",
        "claims": dict(claims) if claims is not None else user_claims(caller, ip=ip),
        "correlationId": corr,
        "description": "",
        "eventDataId": eid,
        "eventName": {
            "value": "BeginRequest" if status == "Started" else "EndRequest",
            "localizedValue": "Begin request" if status == "Started" else "End request",
        },
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": {
            "clientRequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, eid)),
            "clientIpAddress": ip,
            "method": method,
        },
        "id": f"{resource_id}/events/{eid}/ticks/{ticks}",
        "level": "Error" if status == "Failed" else "Informational",
        "resourceGroupName": rg,
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "resourceId": resource_id,
        "resourceType": {
            "value": "/".join(operation.split("/")[:-1]),
            "localizedValue": "/".join(operation.split("/")[:-1]),
        },
        "operationId": corr,
        "operationName": {"value": operation, "localizedValue": operation},
        "properties": props,
        "status": {"value": status, "localizedValue": status},
        "subStatus": {"value": sub_status, "localizedValue": sub_status},
        "eventTimestamp": ts7(when),
        "submissionTimestamp": ts7(when + timedelta(seconds=13)),
        "subscriptionId": SUB,
        "tenantId": TENANT,
    }
    return rec


# ------------------------------------------------------------------ Activity Log REST

_FILTER = re.compile(
    r"eventTimestamp ge '(?P<ge>[^']+)' and eventTimestamp le '(?P<le>[^']+)'"
    r"(?: and resourceProvider eq '(?P<rp>[^']+)')?(?: and resourceUri eq '(?P<uri>[^']+)')?$"
)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def add_activity_log(server: AzureTestServer, events: list[dict[str, Any]], *, page_size: int = 2) -> list[str]:
    """``GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values`` (api 2015-04-01):
    applies the $filter (time window, resource provider or resource) to ``events`` (a list the test may grow between
    reads) and pages with ``nextLink``. Returns the filters received, for assertions."""
    filters: list[str] = []

    def handler(req: Request, m: re.Match[str]) -> Response:
        flt = req.param("$filter") or ""
        fm = _FILTER.match(flt)
        if fm is None:
            return arm_error(400, "BadRequest", f"unsupported $filter {flt!r}")
        if req.param("$skipToken") is None:
            filters.append(flt)
        lo, hi, rp, uri = _when(fm["ge"]), _when(fm["le"]), fm["rp"], fm["uri"]
        hits = [
            e
            for e in events
            if e["subscriptionId"].lower() == m["sub"].lower()
            and lo <= _when(e["eventTimestamp"]) <= hi
            and (rp is None or e["resourceProviderName"]["value"].lower() == rp.lower())
            and (uri is None or e["resourceId"].lower() == uri.lower())
        ]
        start = int(req.param("$skipToken") or 0)
        body: dict[str, Any] = {"value": hits[start : start + page_size]}
        if start + page_size < len(hits):
            body["nextLink"] = (
                f"{server.url}{req.path}?api-version={ACTIVITY_API}&$filter={quote(flt)}&$skipToken={start + page_size}"
            )
        return Response(200, body)

    server.route(
        "GET",
        r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Insights/eventtypes/management/values",
        handler,
        api_versions={ACTIVITY_API},
    )
    return filters


# ------------------------------------------------------------------ Log Analytics (AzureActivity)

LA_COLUMNS: list[tuple[str, str]] = [
    ("TenantId", "string"),
    ("SourceSystem", "string"),
    ("CallerIpAddress", "string"),
    ("CategoryValue", "string"),
    ("CorrelationId", "string"),
    ("Authorization", "string"),
    ("Authorization_d", "dynamic"),
    ("Claims", "string"),
    ("Claims_d", "dynamic"),
    ("Level", "string"),
    ("OperationNameValue", "string"),
    ("Properties", "string"),
    ("Properties_d", "dynamic"),
    ("Caller", "string"),
    ("EventDataId", "string"),
    ("EventSubmissionTimestamp", "datetime"),
    ("HTTPRequest", "string"),
    ("OperationId", "string"),
    ("ResourceGroup", "string"),
    ("ResourceProviderValue", "string"),
    ("ActivityStatusValue", "string"),
    ("ActivitySubstatusValue", "string"),
    ("TimeGenerated", "datetime"),
    ("SubscriptionId", "string"),
    ("_ResourceId", "string"),
    ("Type", "string"),
]
_LA_STATUS = {"Started": "Start", "Succeeded": "Success", "Failed": "Failure", "Accepted": "Accept"}


def la_row(e: Mapping[str, Any]) -> dict[str, Any]:
    """The record as an AzureActivity row (column -> value as the query API sends it)."""
    props = json.dumps(e.get("properties") or {})
    return {
        "TenantId": "0b9a8c7d-1e2f-4a3b-8c9d-0e1f2a3b4c5d",  # the workspace id, as the table's TenantId column holds
        "SourceSystem": "Azure",
        "CallerIpAddress": e["httpRequest"]["clientIpAddress"],
        "CategoryValue": e["category"]["value"],
        "CorrelationId": e["correlationId"],
        "Authorization": json.dumps(e["authorization"]),
        "Authorization_d": json.dumps(e["authorization"]),
        "Claims": json.dumps(e["claims"]),
        "Claims_d": json.dumps(e["claims"]),
        "Level": e["level"],
        "OperationNameValue": e["operationName"]["value"].upper(),  # the table upper-cases it
        "Properties": props,
        "Properties_d": props,
        "Caller": e["caller"],
        "EventDataId": e["eventDataId"],
        "EventSubmissionTimestamp": e["submissionTimestamp"],
        "HTTPRequest": json.dumps(e["httpRequest"]),
        "OperationId": e["operationId"],
        "ResourceGroup": e["resourceGroupName"].upper(),
        "ResourceProviderValue": e["resourceProviderName"]["value"].upper(),
        "ActivityStatusValue": _LA_STATUS[e["status"]["value"]],
        "ActivitySubstatusValue": e["subStatus"]["value"],
        "TimeGenerated": e["eventTimestamp"],
        "SubscriptionId": e["subscriptionId"],
        "_ResourceId": e["resourceId"].lower(),
        "Type": "AzureActivity",
    }


def la_answer(rows: list[Mapping[str, Any]], *, partial: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [{"name": n, "type": t} for n, t in LA_COLUMNS],
                "rows": [[r.get(n) for n, _t in LA_COLUMNS] for r in rows],
            }
        ]
    }
    if partial:
        body["error"] = {
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [
                {"code": "EngineError", "message": partial, "innererror": {"code": "E_QUERY_RESULT_SET_TOO_LARGE"}}
            ],
        }
    return body


def add_log_analytics(
    server: AzureTestServer,
    workspace: str,
    rows: list[dict[str, Any]],
    *,
    partial: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``POST /v1/workspaces/{workspace}/query``: rows whose TimeGenerated is in the body's ``timespan``
    (``start/end``). ``partial`` (a dict the test may change): ``{"keep": n, "message": ...}`` answers with
    the first ``n`` rows and a PartialError. Returns the request bodies."""
    bodies: list[dict[str, Any]] = []

    def handler(req: Request, m: re.Match[str]) -> Response:
        body = req.json() or {}
        bodies.append(body)
        if not isinstance(body.get("query"), str) or "AzureActivity" not in body["query"]:
            return Response(400, {"error": {"code": "BadArgumentError", "message": "query must read AzureActivity"}})
        lo_s, _, hi_s = str(body.get("timespan") or "").partition("/")
        lo, hi = _when(lo_s), _when(hi_s)
        hits = [r for r in rows if lo <= _when(r["TimeGenerated"]) <= hi]
        if partial and partial.get("keep") is not None:
            return Response(200, la_answer(hits[: partial["keep"]], partial=str(partial.get("message", "too large"))))
        return Response(200, la_answer(hits))

    server.route("POST", rf"/v1/workspaces/{re.escape(workspace)}/query", handler)
    return bodies


def operation_records(
    operation: str,
    resource_id: str,
    when: datetime,
    *,
    request: Mapping[str, Any] | None = None,
    response: Mapping[str, Any] | None = None,
    final: str = "Succeeded",
    **kw: Any,
) -> list[dict[str, Any]]:
    """An ARM operation as the activity log records it: a ``Started`` record (``BeginRequest``, with
    ``properties.requestbody``) and the end record (``EndRequest``, ``final`` status, with
    ``properties.responseBody``), sharing one correlation id."""
    corr = kw.pop("correlation_id", None) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"op|{operation}|{resource_id}|{when}"))
    start = event(
        operation,
        resource_id,
        when,
        status="Started",
        correlation_id=corr,
        properties={"requestbody": request} if request is not None else {},
        **kw,
    )
    end = event(
        operation,
        resource_id,
        when + timedelta(seconds=2),
        status=final,
        correlation_id=corr,
        properties={"responseBody": response} if response is not None else {},
        **kw,
    )
    return [start, end]
