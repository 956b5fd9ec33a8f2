"""Resource events (Event Grid schema) and the matching Activity Log entries."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.model import TENANT_ID, Res, Sub, dump, iso7, new_uuid

# ----------------------------------------------------------------------------- events and activity


PEOPLE = [
    ("Dana Whitfield", "dana.whitfield@contoso.com"),
    ("Ravi Menon", "ravi.menon@contoso.com"),
    ("Lena Okafor", "lena.okafor@contoso.com"),
]


def claims_of(rng: random.Random, who: tuple[str, str], when: datetime) -> dict[str, str]:
    name, upn = who
    given, _, surname = name.partition(" ")
    iat = int(when.timestamp()) - 600
    oid = new_uuid(rng)
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT_ID}/",
        "iat": str(iat),
        "nbf": str(iat),
        "exp": str(iat + 3900),
        "http://schemas.microsoft.com/claims/authnclassreference": "1",
        "aio": "E2ZgYJj" + f"{rng.getrandbits(64):x}",
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
        "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "appidacr": "2",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": surname,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": given,
        "ipaddr": f"203.0.113.{rng.randint(2, 250)}",
        "name": name,
        "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
        "puid": f"{rng.getrandbits(64):016X}",
        "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": f"{rng.getrandbits(128):032x}",
        "http://schemas.microsoft.com/identity/claims/tenantid": TENANT_ID,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
        "uti": f"{rng.getrandbits(96):x}",
        "ver": "1.0",
    }


@dataclass
class _Op:
    when: datetime
    kind: str  # Write, Delete, Action
    resource_id: str
    rtype: str
    operation: str
    who: tuple[str, str]


def _event(op: _Op, sub_id: str, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    corr = new_uuid(rng)
    claims = claims_of(rng, op.who, op.when)
    rp = op.rtype.split("/")[0]
    rg = op.resource_id.split("/")[4]
    method = {"Write": "PUT", "Delete": "DELETE", "Action": "POST"}[op.kind]
    client_request_id = new_uuid(rng)
    event: dict[str, Any] = {
        "subject": op.resource_id,
        "eventType": f"Microsoft.Resources.Resource{op.kind}Success",
        "eventTime": iso7(op.when),
        "id": new_uuid(rng),
        "data": {
            "authorization": {
                "scope": op.resource_id,
                "action": op.operation,
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": f"/subscriptions/{sub_id}",
                    "roleAssignmentId": f"{rng.getrandbits(128):032x}",
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                    "principalId": claims["http://schemas.microsoft.com/identity/claims/objectidentifier"],
                    "principalType": "User",
                },
            },
            "claims": claims,
            "correlationId": corr,
            "httpRequest": {
                "clientRequestId": client_request_id,
                "clientIpAddress": claims["ipaddr"],
                "method": method,
                "url": f"https://management.azure.com{op.resource_id}?api-version=2025-09-01",
            },
            "resourceProvider": rp,
            "resourceUri": op.resource_id,
            "operationName": op.operation,
            "status": "Succeeded",
            "subscriptionId": sub_id,
            "tenantId": TENANT_ID,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{sub_id}",
    }
    ticks = int(op.when.timestamp() * 10_000_000) + 621355968000000000  # .NET ticks, as the API writes them
    activity = {
        "authorization": {"action": op.operation, "role": "Contributor", "scope": op.resource_id},
        "caller": op.who[1],
        "channels": "Operation",
        "claims": claims,
        "correlationId": corr,
        "description": "",
        "eventDataId": new_uuid(rng),
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": {
            "clientRequestId": client_request_id,
            "clientIpAddress": claims["ipaddr"],
            "method": method,
        },
        "id": f"{op.resource_id}/events/{new_uuid(rng)}/ticks/{ticks}",
        "level": "Informational",
        "resourceGroupName": rg,
        "resourceProviderName": {"value": rp, "localizedValue": rp},
        "resourceId": op.resource_id,
        "resourceType": {"value": op.rtype, "localizedValue": op.rtype},
        "operationId": corr,
        "operationName": {"value": op.operation, "localizedValue": op.operation},
        "properties": {"statusCode": "OK" if op.kind != "Write" else "Created"},
        "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
        "subStatus": {"value": "OK", "localizedValue": "OK (HTTP Status Code: 200)"},
        "eventTimestamp": iso7(op.when),
        "submissionTimestamp": iso7(op.when + timedelta(seconds=rng.randint(5, 40))),
        "subscriptionId": sub_id,
        "tenantId": TENANT_ID,
    }
    return event, activity


def write_events(  # noqa: PLR0917 - private writer; every argument is required
    root: Path, subs: list[Sub], res: list[Res], now: datetime, rng: random.Random, planted: dict[str, str]
) -> int:
    by_id = {r.id: r for r in res}
    ops: list[_Op] = []
    # Background changes: storage, VMs, compliant workspace edits.
    for r in res:
        if r.type == "Microsoft.Storage/storageAccounts" and rng.random() < 0.5:
            ops.append(
                _Op(
                    now - timedelta(hours=rng.randint(6, 70)),
                    "Write",
                    r.id,
                    r.type,
                    f"{r.type}/write",
                    rng.choice(PEOPLE),
                )
            )
        if r.type == "Microsoft.Compute/virtualMachines" and r.profile == "dev" and rng.random() < 0.5:
            ops.append(
                _Op(
                    now - timedelta(hours=rng.randint(6, 70)),
                    "Action",
                    r.id,
                    r.type,
                    f"{r.type}/start/action",
                    rng.choice(PEOPLE),
                )
            )
    spike = by_id[planted["cost_spike"]]
    ops.append(
        _Op(now - timedelta(days=2, hours=-1), "Action", spike.id, spike.type, f"{spike.type}/start/action", PEOPLE[1])
    )
    ws_ok = next(r for r in res if r.name == "mlw-forecast")
    ops.append(_Op(now - timedelta(hours=20), "Write", ws_ok.id, ws_ok.type, f"{ws_ok.type}/write", PEOPLE[2]))
    gone = f"/subscriptions/{subs[2].id}/resourceGroups/rg-dev/providers/Microsoft.Compute/disks/vm-dev-99_OsDisk_1_old"
    ops.append(
        _Op(
            now - timedelta(hours=30),
            "Delete",
            gone,
            "Microsoft.Compute/disks",
            "Microsoft.Compute/disks/delete",
            PEOPLE[0],
        )
    )
    org = by_id.get(planted.get("org_policy_storage", ""))
    if org is not None:  # the storage firewall opened: the organisation's assignment finds it
        ops.append(_Op(now - timedelta(hours=1, minutes=42), "Write", org.id, org.type, f"{org.type}/write", PEOPLE[1]))
    drift = by_id[planted["drift_workspace"]]
    ops.append(
        _Op(now - timedelta(hours=3, minutes=17), "Write", drift.id, drift.type, f"{drift.type}/write", PEOPLE[0])
    )
    # The drifted workspace's ARM GET shows who changed it and when.
    drift.arm["systemData"].update(
        {"lastModifiedAt": iso7(ops[-1].when), "lastModifiedBy": PEOPLE[0][1], "lastModifiedByType": "User"}
    )
    ops.sort(key=lambda o: (o.when, o.resource_id))
    by_day: dict[str, list[dict[str, Any]]] = {}
    activity: dict[str, list[dict[str, Any]]] = {}
    sub_of = {s.id: s for s in subs}
    for op in ops:
        sub_id = op.resource_id.split("/")[2]
        ev, act = _event(op, sub_of[sub_id].id, rng)
        by_day.setdefault(op.when.strftime("%Y%m%d"), []).append(ev)
        activity.setdefault(sub_id, []).append(act)
    for day, evs in sorted(by_day.items()):
        dump(root / "events" / f"{day}.json", evs)
    for sub_id, acts in activity.items():
        acts.sort(key=lambda a: a["eventTimestamp"], reverse=True)  # the API returns newest first
        dump(root / "activity" / f"{sub_id}.json", {"value": acts})
    return len(ops)
