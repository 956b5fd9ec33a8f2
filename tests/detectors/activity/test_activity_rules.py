"""Each activity rule fires on a real-shaped Activity Log record and not on its near miss.

Records come from tests.support.activity (the shape of the REST API's documented example
GetActivityLogsFiltered.json, cited there). Request/response bodies follow the REST API of each
resource: Role Assignments - Create (``Properties.RoleDefinitionId/PrincipalId/PrincipalType/Scope``),
Security Rules - Create Or Update, Vaults - Update Access Policy, Workspaces - Create Or Update.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.model import Finding, Severity, Status
from detectors.activity.detect import RULES, SHARED_DRIFT_RULES, detect
from detectors.base import load_meta
from detectors.config import ActivityConfig, DetectorsConfig
from detectors.registry import all_rules, family_folders
from tests.support.activity import SUB, event, managed_identity_claims, operation_records

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
T = NOW - timedelta(hours=1)
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
GUEST = "f1e2d3c4-b5a6-4789-9abc-def012345678"


def run(records: list[dict[str, Any]], **cfg: Any) -> list[Finding]:
    return detect(records=records, config=ActivityConfig(**cfg), now=NOW)


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def role_assignment(role: str, scope: str, principal: str = "1c6a3b1e-7d7a-4b59-9a60-3e0cbd4e1d11", **kw: Any):
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/2b7c4a9e-3e6f-4a0d-8f62-9d1f0c7e5a44"
    role_id = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    request = {
        "Id": rid.rsplit("/", 1)[-1],
        "Properties": {
            "PrincipalId": principal,
            "PrincipalType": "User",
            "RoleDefinitionId": role_id,
            "Scope": scope,
            "Condition": None,
        },
    }
    response = {
        "properties": {
            "roleDefinitionId": role_id,
            "principalId": principal,
            "principalType": "User",
            "scope": scope,
            "createdBy": None,
        },
        "id": rid,
        "type": "Microsoft.Authorization/roleAssignments",
        "name": rid.rsplit("/", 1)[-1],
    }
    return operation_records(
        "Microsoft.Authorization/roleAssignments/write", rid, T, request=request, response=response, **kw
    )


# ------------------------------------------------------------------ registry


def test_every_listed_rule_has_metadata_a_check_and_a_test() -> None:
    folders = family_folders("activity")
    assert {f.name for f in folders} == set(RULES)
    tested = {name.removeprefix("test_").split("__")[0] for name in globals() if name.startswith("test_")}
    for folder in folders:
        meta = load_meta(folder, "activity")
        assert meta.extra.get("source"), meta.id
        assert meta.extra.get("operations"), meta.id
        assert "mitre_attack" in meta.extra, meta.id  # a technique, or null when none applies
        mitre = meta.extra["mitre_attack"]
        if mitre is not None:
            assert isinstance(mitre, dict), meta.id
            assert str(mitre["technique"]).startswith("T"), meta.id
        keys = meta.extra.get("config_keys") or []
        assert isinstance(keys, list), meta.id
        for key in keys:
            assert key in ActivityConfig.model_fields, (meta.id, key)
        assert (folder / "check.py").is_file()
        assert meta.id in tested, f"no fires/near-miss test for {meta.id}"
    assert {m.id for m in all_rules() if m.family == "activity"} == set(RULES)
    assert set(SHARED_DRIFT_RULES) <= {f.name for f in family_folders("drift")}


# ------------------------------------------------------------------ privileged_role_assignment


def test_privileged_role_assignment__fires_on_owner_at_subscription_scope() -> None:
    (f,) = only(run(role_assignment(OWNER, f"/subscriptions/{SUB}")), "privileged_role_assignment")
    assert f.status is Status.FIRING
    assert f.severity is Severity.CRITICAL
    assert f.annotations["changed_by"] == "admin@contoso.com"
    assert f.annotations["caller_ip"] == "192.168.35.115"
    assert f.annotations["mitre_technique"].startswith("T1098.003")
    assert f.evidence["scope"] == f"/subscriptions/{SUB}"
    assert f.resource.type == "microsoft.authorization/roleassignments"
    assert len(f.evidence["event_data_ids"]) == 2  # Start and End: one operation, one finding


def test_privileged_role_assignment__fires_from_the_request_alone_and_at_management_group_scope() -> None:
    start = role_assignment(OWNER, "/providers/Microsoft.Management/managementGroups/mg-prod")[:1]  # End not read yet
    (f,) = only(run(start), "privileged_role_assignment")
    assert f.annotations["operation_status"] == "Started"


def test_privileged_role_assignment__fires_for_any_role_to_a_guest() -> None:
    recs = role_assignment(READER, f"/subscriptions/{SUB}/resourceGroups/rg-app", principal=GUEST)
    assert only(run(recs), "privileged_role_assignment") == []  # not known as a guest: a reader on one RG is fine
    (f,) = only(run(recs, guest_principal_ids=[GUEST.upper()]), "privileged_role_assignment")
    assert "guest" in f.annotations["reason"]


@pytest.mark.parametrize(
    ("role", "scope", "final"),
    [
        (OWNER, f"/subscriptions/{SUB}/resourceGroups/rg-app", "Succeeded"),  # resource-group scope
        (READER, f"/subscriptions/{SUB}", "Succeeded"),  # not a privileged role
        (OWNER, f"/subscriptions/{SUB}", "Failed"),  # the grant failed
    ],
)
def test_privileged_role_assignment__near_misses(role: str, scope: str, final: str) -> None:
    assert only(run(role_assignment(role, scope, final=final)), "privileged_role_assignment") == []


# ------------------------------------------------------------------ policy_assignment_deleted


def test_policy_assignment_deleted__fires_on_assignment_and_exemption_deletes() -> None:
    pa = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/require-tags"
    ex = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyExemptions/waiver-1"
    recs = operation_records("Microsoft.Authorization/policyAssignments/delete", pa, T, method="DELETE")
    recs += operation_records("Microsoft.Authorization/policyExemptions/delete", ex, T, method="DELETE")
    found = only(run(recs), "policy_assignment_deleted")
    assert sorted(f.resource.name for f in found) == ["require-tags", "waiver-1"]


def test_policy_assignment_deleted__near_miss_write_or_failed_delete() -> None:
    pa = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/require-tags"
    recs = operation_records("Microsoft.Authorization/policyAssignments/write", pa, T)
    recs += operation_records(
        "Microsoft.Authorization/policyAssignments/delete", pa, T, final="Failed", method="DELETE"
    )
    assert only(run(recs), "policy_assignment_deleted") == []


# ------------------------------------------------------------------ diagnostic_settings_deleted

KV = f"{RG}/Microsoft.KeyVault/vaults/kv-prod"
DIAG = f"{KV}/providers/Microsoft.Insights/diagnosticSettings/send-to-law"


def test_diagnostic_settings_deleted__fires_on_the_parent_resource() -> None:
    (f,) = only(
        run(operation_records("Microsoft.Insights/diagnosticSettings/delete", DIAG, T, method="DELETE")),
        "diagnostic_settings_deleted",
    )
    assert f.resource.id == KV.lower()
    assert f.evidence["setting_id"] == DIAG
    assert f.annotations["mitre_technique"].startswith("T1562.008")


def test_diagnostic_settings_deleted__near_miss_write() -> None:
    assert (
        only(
            run(operation_records("Microsoft.Insights/diagnosticSettings/write", DIAG, T)),
            "diagnostic_settings_deleted",
        )
        == []
    )


# ------------------------------------------------------------------ storage_keys_listed_by_user

ST = f"{RG}/Microsoft.Storage/storageAccounts/stprod"


def test_storage_keys_listed_by_user__fires_for_a_user_listing_or_regenerating() -> None:
    recs = [event("Microsoft.Storage/storageAccounts/listKeys/action", ST, T, method="POST")]
    recs.append(
        event("Microsoft.Storage/storageAccounts/regenerateKey/action", ST, T + timedelta(minutes=1), method="POST")
    )
    found = only(run(recs), "storage_keys_listed_by_user")
    assert [f.resource.id for f in found] == [ST.lower(), ST.lower()]
    assert found[0].annotations["caller_kind"] == "user"


def test_storage_keys_listed_by_user__near_miss_managed_identity() -> None:
    mi = f"{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/id-app"
    rec = event(
        "Microsoft.Storage/storageAccounts/listKeys/action",
        ST,
        T,
        method="POST",
        caller="5f9a3bd4-7d2c-4d0e-9f61-3c1f1c2b9e10",
        claims=managed_identity_claims(mi),
    )
    assert only(run([rec]), "storage_keys_listed_by_user") == []


# ------------------------------------------------------------------ keyvault_access_opened


def test_keyvault_access_opened__fires_on_access_policy_add_and_open_network_rules() -> None:
    add = f"{KV}/accessPolicies/add"
    grant = {
        "properties": {
            "accessPolicies": [{"tenantId": "t", "objectId": GUEST, "permissions": {"secrets": ["get", "list"]}}]
        }
    }
    recs = operation_records("Microsoft.KeyVault/vaults/accessPolicies/write", add, T, request=grant, response=grant)
    vault = {
        "properties": {
            "publicNetworkAccess": "Enabled",
            "networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"},
        }
    }
    recs += operation_records(
        "Microsoft.KeyVault/vaults/write", KV, T + timedelta(minutes=5), request=vault, response=vault
    )
    found = only(run(recs), "keyvault_access_opened")
    assert [f.resource.id for f in found] == [KV.lower(), KV.lower()]
    assert GUEST in found[0].annotations["reason"]
    assert "Allow" in found[1].annotations["reason"]


def test_keyvault_access_opened__near_misses_remove_and_deny_by_default() -> None:
    remove = f"{KV}/accessPolicies/remove"
    grant = {"properties": {"accessPolicies": [{"tenantId": "t", "objectId": GUEST, "permissions": {}}]}}
    recs = operation_records("Microsoft.KeyVault/vaults/accessPolicies/write", remove, T, request=grant)
    closed = {"properties": {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Deny"}}}
    recs += operation_records("Microsoft.KeyVault/vaults/write", KV, T, request=closed, response=closed)
    off = {"properties": {"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Allow"}}}
    recs += operation_records(
        "Microsoft.KeyVault/vaults/write", KV, T + timedelta(minutes=3), request=off, response=off
    )
    assert only(run(recs), "keyvault_access_opened") == []


# ------------------------------------------------------------------ nsg_management_port_opened

NSG = f"{RG}/Microsoft.Network/networkSecurityGroups/nsg-web"


def nsg_rule(source: str, port: str) -> list[dict[str, Any]]:
    body = {
        "properties": {
            "protocol": "Tcp",
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "destinationPortRange": port,
            "sourcePortRange": "*",
            "priority": 100,
            "direction": "Inbound",
        }
    }
    return operation_records(
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        f"{NSG}/securityRules/allow-mgmt",
        T,
        request=body,
        response=body,
    )


def test_nsg_management_port_opened__fires_on_rdp_from_the_internet() -> None:
    (f,) = only(run(nsg_rule("*", "3389")), "nsg_management_port_opened")
    assert f.resource.id == NSG.lower()
    assert "allow-mgmt" in f.annotations["reason"]


@pytest.mark.parametrize(("source", "port"), [("10.0.0.0/8", "3389"), ("Internet", "443")])
def test_nsg_management_port_opened__near_misses(source: str, port: str) -> None:
    assert only(run(nsg_rule(source, port)), "nsg_management_port_opened") == []


def test_nsg_management_port_opened__uses_the_drift_rules_parameters() -> None:
    params = {"nsg_management_ports_open": {"ports": ["22", "3389", "443"]}}
    found = detect(records=nsg_rule("Internet", "443"), config=ActivityConfig(), now=NOW, drift_parameters=params)
    assert len(only(found, "nsg_management_port_opened")) == 1


# ------------------------------------------------------------------ ml_workspace_public_access_enabled

WS = f"{RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod"


def ws_write(access: str | None) -> list[dict[str, Any]]:
    props: dict[str, Any] = {"friendlyName": "mlw-prod"}
    if access is not None:
        props["publicNetworkAccess"] = access
    body = {"location": "eastus", "properties": props}
    return operation_records("Microsoft.MachineLearningServices/workspaces/write", WS, T, request=body)


def test_ml_workspace_public_access_enabled__fires_when_enabled() -> None:
    (f,) = only(run(ws_write("Enabled")), "ml_workspace_public_access_enabled")
    assert f.resource.id == WS.lower()


@pytest.mark.parametrize("access", ["Disabled", None])
def test_ml_workspace_public_access_enabled__near_misses(access: str | None) -> None:
    assert only(run(ws_write(access)), "ml_workspace_public_access_enabled") == []


# ------------------------------------------------------------------ failed_write_burst


def failures(
    n: int, caller: str = "intruder@contoso.com", step: timedelta = timedelta(seconds=30)
) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        rid = f"{RG}/Microsoft.Compute/virtualMachines/vm-{i}"
        verb = "delete" if i % 2 else "write"
        out.append(
            event(
                f"Microsoft.Compute/virtualMachines/{verb}",
                rid,
                T + i * step,
                status="Failed",
                caller=caller,
                sub_status="Forbidden",
            )
        )
    return out


def test_failed_write_burst__fires_once_per_burst() -> None:
    (f,) = only(run(failures(12)), "failed_write_burst")
    assert f.labels["caller"] == "intruder@contoso.com"
    assert f.evidence["failures"] == 12
    assert f.resource.id == f"/subscriptions/{SUB}"


def test_failed_write_burst__near_misses_too_few_too_slow_or_several_callers() -> None:
    assert only(run(failures(9)), "failed_write_burst") == []
    assert only(run(failures(10, step=timedelta(minutes=2))), "failed_write_burst") == []
    mixed = failures(5, "a@contoso.com") + failures(5, "b@contoso.com")
    assert only(run(mixed), "failed_write_burst") == []


# ------------------------------------------------------------------ the whole detector


def test_same_operation_read_twice_gives_the_same_fingerprint_and_nothing_in_the_future() -> None:
    recs = role_assignment(OWNER, f"/subscriptions/{SUB}")
    once = run(recs)
    (a,) = once
    (b,) = run(recs[:1])  # only the Start record (a later window gives the End record)
    assert a.fingerprint == b.fingerprint
    future = event("Microsoft.Insights/diagnosticSettings/delete", DIAG, NOW + timedelta(hours=1))
    assert run([future]) == []
    assert run(recs, enabled=False) == []


def test_activity_config_rejects_unknown_keys_with_their_path() -> None:
    with pytest.raises(ValueError, match=r"activity\.burst_min_failure"):
        DetectorsConfig.model_validate({"activity": {"burst_min_failure": 3}})


def test_properties_as_text_or_objects_read_the_same() -> None:
    recs = role_assignment(OWNER, f"/subscriptions/{SUB}")
    as_objects = [
        dict(r, properties={k: json.loads(v) if v.startswith("{") else v for k, v in r["properties"].items()})
        for r in recs
    ]
    assert [f.fingerprint for f in run(as_objects)] == [f.fingerprint for f in run(recs)]
