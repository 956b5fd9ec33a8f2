"""Planted control-plane operations in the activity log: an Owner grant to a guest, a deleted diagnostic
setting and a user listing a storage account's keys, with near misses (a managed identity listing keys,
a reader granted on one resource group).

Written two ways, as a tenant can hold them: Activity Log REST pages (``{"value": [...], "nextLink"}``,
the shape of the REST example GetActivityLogsFiltered.json) and a Log Analytics query answer over the
``AzureActivity`` table (``{"tables": [{"name", "columns", "rows"}]}``). The user's key listing is in
both, as when a tenant reads both sources: it must be read once (same ``eventDataId``).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.events import PEOPLE, claims_of
from vigil.simulate.model import TENANT_ID, Res, Sub, dump, iso7, new_uuid

__all__ = ["GUEST_OBJECT_ID", "write_security_activity"]

# The guest (B2B) user granted Owner: vigil/pipeline_demo.yaml lists it in detectors.activity.guest_principal_ids.
GUEST_OBJECT_ID = "6a1f3c2e-9b7d-4e8a-a5c4-2d0f9e8b7c61"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
LAW_CUSTOMER_ID = "0b9a8c7d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
_STATUS_LA = {"Started": "Start", "Succeeded": "Success", "Failed": "Failure"}


def _record(  # noqa: PLR0917 - private builder; every argument is a field of the record
    rng: random.Random,
    operation: str,
    resource_id: str,
    when: datetime,
    status: str,
    corr: str,
    caller: str,
    claims: dict[str, str],
    method: str,
    properties: dict[str, str],
) -> dict[str, Any]:
    sub_id = resource_id.split("/")[2]
    parts = resource_id.split("/")
    rg = parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""
    rp = operation.split("/", 1)[0]
    rtype = operation.rsplit("/", 1)[0]
    eid = new_uuid(rng)
    ticks = int(when.timestamp() * 10_000_000) + 621355968000000000
    begin = status == "Started"
    return {
        "authorization": {"action": operation, "scope": resource_id},
        "caller": caller,
        "channels": "Operation",
        "claims": claims,
        "correlationId": corr,
        "description": "",
        "eventDataId": eid,
        "eventName": {
            "value": "BeginRequest" if begin else "EndRequest",
            "localizedValue": "Begin request" if begin else "End request",
        },
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": {
            "clientRequestId": new_uuid(rng),
            "clientIpAddress": claims.get("ipaddr", ""),
            "method": method,
        },
        "id": f"{resource_id}/events/{eid}/ticks/{ticks}",
        "level": "Informational",
        "resourceGroupName": rg,
        "resourceProviderName": {"value": rp, "localizedValue": rp},
        "resourceId": resource_id,
        "resourceType": {"value": rtype, "localizedValue": rtype},
        "operationId": corr,
        "operationName": {"value": operation, "localizedValue": operation},
        "properties": properties,
        "status": {"value": status, "localizedValue": status},
        "subStatus": {"value": "" if begin else "OK", "localizedValue": "" if begin else "OK (HTTP Status Code: 200)"},
        "eventTimestamp": iso7(when),
        "submissionTimestamp": iso7(when + timedelta(seconds=rng.randint(5, 40))),
        "subscriptionId": sub_id,
        "tenantId": TENANT_ID,
    }


def _operation(  # noqa: PLR0917 - private builder
    rng: random.Random,
    operation: str,
    resource_id: str,
    when: datetime,
    caller: str,
    claims: dict[str, str],
    method: str,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Start (with the request body) and Succeeded (with the response body) records of one operation."""
    corr = new_uuid(rng)
    start_props = {"requestbody": json.dumps(request)} if request is not None else {}
    end_props = {"statusCode": "OK", **({"responseBody": json.dumps(response)} if response is not None else {})}
    return [
        _record(rng, operation, resource_id, when, "Started", corr, caller, claims, method, start_props),
        _record(
            rng,
            operation,
            resource_id,
            when + timedelta(seconds=1),
            "Succeeded",
            corr,
            caller,
            claims,
            method,
            end_props,
        ),
    ]


def _user(rng: random.Random, person: tuple[str, str], when: datetime) -> tuple[str, dict[str, str]]:
    return person[1], claims_of(rng, person, when)


def _la_row(e: dict[str, Any]) -> list[Any]:
    """An ``EventData`` record as an AzureActivity row, in the column order of :data:`LA_COLUMNS`."""
    row = {
        "TimeGenerated": e["eventTimestamp"],
        "EventSubmissionTimestamp": e["submissionTimestamp"],
        "EventDataId": e["eventDataId"],
        "CorrelationId": e["correlationId"],
        "OperationId": e["operationId"],
        "OperationNameValue": e["operationName"]["value"].upper(),
        "ActivityStatusValue": _STATUS_LA.get(e["status"]["value"], e["status"]["value"]),
        "ActivitySubstatusValue": e["subStatus"]["value"],
        "CategoryValue": e["category"]["value"],
        "Level": e["level"],
        "Caller": e["caller"],
        "CallerIpAddress": e["httpRequest"]["clientIpAddress"],
        "HTTPRequest": json.dumps(e["httpRequest"]),
        "_ResourceId": e["resourceId"].lower(),
        "ResourceProviderValue": e["resourceProviderName"]["value"].upper(),
        "ResourceGroup": e["resourceGroupName"].upper(),
        "SubscriptionId": e["subscriptionId"],
        "TenantId": LAW_CUSTOMER_ID,
        "Authorization_d": json.dumps(e["authorization"]),
        "Claims_d": json.dumps(e["claims"]),
        "Properties_d": json.dumps(e["properties"]),
        "Type": "AzureActivity",
    }
    return [row[name] for name, _t in LA_COLUMNS]


LA_COLUMNS = [
    ("TimeGenerated", "datetime"),
    ("EventSubmissionTimestamp", "datetime"),
    ("EventDataId", "string"),
    ("CorrelationId", "string"),
    ("OperationId", "string"),
    ("OperationNameValue", "string"),
    ("ActivityStatusValue", "string"),
    ("ActivitySubstatusValue", "string"),
    ("CategoryValue", "string"),
    ("Level", "string"),
    ("Caller", "string"),
    ("CallerIpAddress", "string"),
    ("HTTPRequest", "string"),
    ("_ResourceId", "string"),
    ("ResourceProviderValue", "string"),
    ("ResourceGroup", "string"),
    ("SubscriptionId", "string"),
    ("TenantId", "string"),
    ("Authorization_d", "dynamic"),
    ("Claims_d", "dynamic"),
    ("Properties_d", "dynamic"),
    ("Type", "string"),
]


def _role_assignment(
    sub: Sub, scope: str, role: str, principal: str, rng: random.Random
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    name = new_uuid(rng)
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    role_id = f"/subscriptions/{sub.id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    request = {
        "Id": name,
        "Properties": {
            "PrincipalId": principal,
            "PrincipalType": "User",
            "RoleDefinitionId": role_id,
            "Scope": scope,
            "Condition": None,
        },
    }
    response = {
        "properties": {"roleDefinitionId": role_id, "principalId": principal, "principalType": "User", "scope": scope},
        "id": rid,
        "type": "Microsoft.Authorization/roleAssignments",
        "name": name,
    }
    return rid, request, response


def write_security_activity(  # noqa: PLR0917 - private writer; every argument is required
    root: Path, subs: list[Sub], res: list[Res], now: datetime, rng: random.Random, planted: dict[str, str]
) -> int:
    prod = subs[0]
    storages = [r for r in res if r.type == "Microsoft.Storage/storageAccounts" and r.sub.id == prod.id]
    st_keys, st_diag = storages[0], storages[-1]
    lena, ravi = PEOPLE[2], PEOPLE[1]

    rest: list[dict[str, Any]] = []
    # 1. Owner on the whole production subscription, granted to a guest.
    t1 = now - timedelta(hours=5, minutes=12)
    ra, request, response = _role_assignment(prod, f"/subscriptions/{prod.id}", OWNER_ROLE, GUEST_OBJECT_ID, rng)
    rest += _operation(
        rng, "Microsoft.Authorization/roleAssignments/write", ra, t1, *_user(rng, lena, t1), "PUT", request, response
    )
    planted["guest_owner_grant"] = ra
    # near miss: Reader on one resource group to a member
    rg_scope = f"/subscriptions/{prod.id}/resourceGroups/{st_keys.rg}"
    t2 = now - timedelta(hours=9)
    ra2, request2, response2 = _role_assignment(prod, rg_scope, READER_ROLE, new_uuid(rng), rng)
    rest += _operation(
        rng, "Microsoft.Authorization/roleAssignments/write", ra2, t2, *_user(rng, ravi, t2), "PUT", request2, response2
    )
    # 2. The SIEM export of a storage account's logs deleted (its send-to-law setting stays).
    diag = f"{st_diag.id}/providers/Microsoft.Insights/diagnosticSettings/export-to-siem"
    t3 = now - timedelta(hours=4, minutes=31)
    rest += _operation(rng, "Microsoft.Insights/diagnosticSettings/delete", diag, t3, *_user(rng, lena, t3), "DELETE")
    planted["diagnostic_setting_deleted"] = st_diag.id

    # 3. A user lists a storage account's keys; a workload's managed identity does the same (near miss).
    t4 = now - timedelta(hours=2, minutes=3)
    keys = _operation(
        rng, "Microsoft.Storage/storageAccounts/listKeys/action", st_keys.id, t4, *_user(rng, ravi, t4), "POST"
    )
    planted["storage_keys_listed"] = st_keys.id
    mi = f"{rg_scope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-etl"
    mi_claims = {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT_ID}/",
        "http://schemas.microsoft.com/identity/claims/tenantid": TENANT_ID,
        "http://schemas.microsoft.com/identity/claims/objectidentifier": new_uuid(rng),
        "appid": new_uuid(rng),
        "appidacr": "2",
        "idtyp": "app",
        "xms_mirid": mi,
        "ipaddr": "20.42.0.17",
    }
    mi_oid = mi_claims["http://schemas.microsoft.com/identity/claims/objectidentifier"]
    t5 = now - timedelta(hours=1)
    mi_keys = _operation(
        rng, "Microsoft.Storage/storageAccounts/listKeys/action", st_keys.id, t5, mi_oid, mi_claims, "POST"
    )
    rest += keys  # the user's listing is in both sources

    rest.sort(key=lambda a: a["eventTimestamp"], reverse=True)  # the API returns newest first
    half = len(rest) // 2
    base = f"https://management.azure.com/subscriptions/{prod.id}/providers/Microsoft.Insights/eventtypes/management/values"
    dump(
        root / "activity" / f"{prod.id}-security-page1.json",
        {"value": rest[:half], "nextLink": f"{base}?api-version=2015-04-01&$skiptoken=page2"},
    )
    dump(root / "activity" / f"{prod.id}-security-page2.json", {"value": rest[half:]})
    la = keys + mi_keys
    dump(
        root / "activity" / f"law-central-{LAW_CUSTOMER_ID}.json",
        {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in LA_COLUMNS],
                    "rows": [_la_row(e) for e in la],
                }
            ]
        },
    )
    return len(rest) + len(mi_keys)
