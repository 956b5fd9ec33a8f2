"""``AzureActivity`` rows (Log Analytics) as Activity Log REST ``EventData`` objects.

Column names are those of the AzureActivity table reference
(https://learn.microsoft.com/azure/azure-monitor/reference/tables/azureactivity); the REST field names
are those of ``EventData`` (Activity Logs - List, api-version 2015-04-01). ``dynamic`` columns arrive as
JSON text in the query API's answer (https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format)
and are parsed here. The table's status values (``Start``, ``Success``, ``Failure``, ``Accept``) become
the REST ones (``Started``, ``Succeeded``, ``Failed``, ``Accepted``), so a detector reads one vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["COLUMNS", "row_to_event", "rows_of_table"]

# What the KQL projects (ingest.activity.loganalytics builds its query from this list).
COLUMNS = (
    "TimeGenerated",
    "EventSubmissionTimestamp",
    "EventDataId",
    "CorrelationId",
    "OperationId",
    "OperationNameValue",
    "ActivityStatusValue",
    "ActivitySubstatusValue",
    "CategoryValue",
    "Level",
    "Caller",
    "CallerIpAddress",
    "HTTPRequest",
    "_ResourceId",
    "ResourceProviderValue",
    "ResourceGroup",
    "SubscriptionId",
    "TenantId",
    "Authorization_d",
    "Claims_d",
    "Properties_d",
)

_STATUS = {"start": "Started", "success": "Succeeded", "failure": "Failed", "accept": "Accepted"}


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _dynamic(value: Any) -> Any:
    """A ``dynamic`` column: JSON text (as the query API sends it) or an already-parsed value."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _localized(value: Any) -> dict[str, str] | None:
    if value in (None, ""):
        return None
    text = str(value)
    return {"value": text, "localizedValue": text}


def _strings(value: Any) -> dict[str, Any] | None:
    """REST ``properties``/``claims`` are string maps; nested values stay JSON text, as in the REST answer."""
    value = _dynamic(value)
    if not isinstance(value, Mapping):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def row_to_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """One AzureActivity row (column name -> value) as an ``EventData`` object (absent fields left out)."""
    status = row.get("ActivityStatusValue")
    status_text = _STATUS.get(str(status).lower(), str(status)) if status not in (None, "") else None
    http = _dynamic(row.get("HTTPRequest"))
    http_request = dict(http) if isinstance(http, Mapping) else {}
    if row.get("CallerIpAddress") and not http_request.get("clientIpAddress"):
        http_request["clientIpAddress"] = row["CallerIpAddress"]
    auth = _dynamic(row.get("Authorization_d"))
    out: dict[str, Any] = {
        "eventDataId": row.get("EventDataId"),
        "correlationId": row.get("CorrelationId"),
        "operationId": row.get("OperationId"),
        "operationName": _localized(row.get("OperationNameValue")),
        "status": _localized(status_text),
        "subStatus": _localized(row.get("ActivitySubstatusValue")),
        "category": _localized(row.get("CategoryValue")),
        "level": row.get("Level"),
        "caller": row.get("Caller"),
        "httpRequest": http_request or None,
        "resourceId": row.get("_ResourceId") or row.get("ResourceId"),
        "resourceProviderName": _localized(row.get("ResourceProviderValue")),
        "resourceGroupName": row.get("ResourceGroup"),
        "subscriptionId": row.get("SubscriptionId"),
        "tenantId": row.get("TenantId"),
        "authorization": dict(auth) if isinstance(auth, Mapping) else None,
        "claims": _strings(row.get("Claims_d")),
        "properties": _strings(row.get("Properties_d")),
        "eventTimestamp": _iso(row.get("TimeGenerated")),
        "submissionTimestamp": _iso(row.get("EventSubmissionTimestamp")),
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


def rows_of_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of one result table (column names, row arrays) as ``EventData`` objects."""
    return [row_to_event(dict(zip(columns, row, strict=False))) for row in rows]
