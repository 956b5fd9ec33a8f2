"""The built-in drift rule pack: registry, metadata, and a verdict per rule."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from detectors.drift.loader import builtin_rules, load_policies
from detectors.registry import family_folders

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
RG = f"{SUB}/resourceGroups/rg1"
ML = "Microsoft.MachineLearningServices/workspaces"

RULES = {r.id: r for r in builtin_rules()}


def test_pack_has_the_issue_table() -> None:
    ml = [r for r in RULES if r.startswith("ml_")]
    assert len(ml) == 9
    assert len([r for r in RULES if r.startswith("storage_")]) == 4
    assert len([r for r in RULES if r.startswith("keyvault_")]) == 2
    assert {
        "acr_admin_user",
        "nsg_management_ports_open",
        "rbac_privileged_assignment",
        "diagnostic_settings_removed",
    } <= set(RULES)


@pytest.mark.parametrize("folder", family_folders("drift"), ids=lambda p: p.name)
def test_rule_folder_is_complete(folder: Path) -> None:
    meta = json.loads((folder / f"{folder.name}.metadata.json").read_text())
    assert meta["id"] == folder.name
    assert meta["severity"] in {"critical", "high", "medium", "low", "info"}
    assert set(meta["remediation"]) == {"cli", "bicep"}
    assert "builtin_policy_id" in meta
    if meta["builtin_policy_id"] is not None:
        assert re.fullmatch(
            r"/providers/Microsoft\.Authorization/policyDefinitions/[0-9a-f-]{36}", meta["builtin_policy_id"]
        )
    definition = json.loads((folder / f"{folder.name}.policy.json").read_text())
    # exactly the shape `az policy definition show` prints
    assert set(definition) >= {"id", "name", "properties"}
    assert set(definition["properties"]) >= {"displayName", "mode", "parameters", "policyRule"}
    rule = RULES[folder.name]
    assert rule.meta is not None
    assert rule.meta.id == folder.name
    assert rule.policy.types, "every pack rule names the types it applies to"


def test_pack_loads_as_user_definitions_too() -> None:
    root = Path(__file__).resolve().parents[3] / "detectors" / "drift" / "rules"
    policies = load_policies([root])
    assert len(policies) == len(RULES)


def _ws(**props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"{RG}/providers/{ML}/ws1",
        "name": "ws1",
        "type": ML,
        "location": "westeurope",
        "identity": {"type": "UserAssigned"},
        "properties": {
            "publicNetworkAccess": "Disabled",
            "encryption": {"status": "Enabled"},
            "primaryUserAssignedIdentity": f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai",
            "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
            "privateEndpointConnections": [
                {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}
            ],
        },
    }
    base["properties"].update(props)
    return base


def _compute(compute_type: str = "ComputeInstance", **inner: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "vmSize": "STANDARD_DS3_V2",
        "subnet": {"id": f"{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s"},
        "idleTimeBeforeShutdown": "PT60M",
    }
    props.update(inner)
    return {
        "id": f"{RG}/providers/{ML}/ws1/computes/c1",
        "name": "c1",
        "type": f"{ML}/computes",
        "location": "westeurope",
        "properties": {"computeType": compute_type, "disableLocalAuth": True, "properties": props},
    }


def _storage(**props: Any) -> dict[str, Any]:
    p = {
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "supportsHttpsTrafficOnly": True,
    }
    p.update(props)
    return {
        "id": f"{RG}/providers/Microsoft.Storage/storageAccounts/sa1",
        "name": "sa1",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "properties": p,
    }


def _kv(**props: Any) -> dict[str, Any]:
    p = {"enablePurgeProtection": True, "publicNetworkAccess": "Disabled"}
    p.update(props)
    return {
        "id": f"{RG}/providers/Microsoft.KeyVault/vaults/kv1",
        "name": "kv1",
        "type": "Microsoft.KeyVault/vaults",
        "location": "westeurope",
        "properties": p,
    }


def _acr(admin: bool) -> dict[str, Any]:
    return {
        "id": f"{RG}/providers/Microsoft.ContainerRegistry/registries/acr1",
        "name": "acr1",
        "type": "Microsoft.ContainerRegistry/registries",
        "location": "westeurope",
        "properties": {"adminUserEnabled": admin},
    }


def _nsg(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg1",
        "name": "nsg1",
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "properties": {"securityRules": [{"name": f"r{i}", "properties": r} for i, r in enumerate(rules)]},
    }


def _inbound(
    src: str = "*", port: str | None = "22", ports: list[str] | None = None, access: str = "Allow"
) -> dict[str, Any]:
    r: dict[str, Any] = {"direction": "Inbound", "access": access, "protocol": "Tcp", "sourceAddressPrefix": src}
    if port is not None:
        r["destinationPortRange"] = port
    if ports is not None:
        r["destinationPortRanges"] = ports
    return r


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _ra(scope: str, role: str) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/ra1",
        "name": "ra1",
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "scope": scope,
            "principalId": "p1",
            "principalType": "User",
            "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        },
    }


CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("ml_workspace_private_link", _ws(), True),
    ("ml_workspace_private_link", _ws(privateEndpointConnections=[]), False),
    (
        "ml_workspace_private_link",
        _ws(privateEndpointConnections=[{"properties": {"privateLinkServiceConnectionState": {"status": "Pending"}}}]),
        False,
    ),
    ("ml_workspace_public_network_access", _ws(), True),
    ("ml_workspace_public_network_access", _ws(publicNetworkAccess="Enabled"), False),
    ("ml_workspace_public_network_access", _ws(publicNetworkAccess=None), False),
    ("ml_workspace_cmk", _ws(), True),
    ("ml_workspace_cmk", _ws(encryption=None), False),
    ("ml_compute_local_auth", _compute(), True),
    ("ml_compute_vnet", _compute(), True),
    ("ml_compute_vnet", _compute(subnet=None), False),
    ("ml_compute_vnet", _compute(subnet={"id": ""}), False),
    ("ml_compute_vnet", _compute("Kubernetes", subnet=None), True),
    ("ml_compute_idle_shutdown", _compute(), True),
    ("ml_compute_idle_shutdown", _compute(idleTimeBeforeShutdown=None), False),
    ("ml_compute_idle_shutdown", _compute("AmlCompute", idleTimeBeforeShutdown=None), True),
    ("ml_workspace_user_assigned_identity", _ws(), True),
    ("ml_workspace_user_assigned_identity", _ws(primaryUserAssignedIdentity=""), False),
    ("ml_workspace_managed_network_outbound", _ws(), True),
    ("ml_workspace_managed_network_outbound", _ws(managedNetwork={"isolationMode": "AllowInternetOutbound"}), False),
    ("ml_workspace_managed_network_outbound", _ws(managedNetwork=None), False),
    ("storage_public_blob_access", _storage(), True),
    ("storage_public_blob_access", _storage(allowBlobPublicAccess=True), False),
    ("storage_public_blob_access", _storage(allowBlobPublicAccess=None), False),
    ("storage_shared_key_access", _storage(), True),
    ("storage_shared_key_access", _storage(allowSharedKeyAccess=None), False),
    ("storage_min_tls", _storage(), True),
    ("storage_min_tls", _storage(minimumTlsVersion="TLS1_0"), False),
    ("storage_min_tls", _storage(minimumTlsVersion=None), False),
    ("storage_https_only", _storage(), True),
    ("storage_https_only", _storage(supportsHttpsTrafficOnly=False), False),
    ("keyvault_purge_protection", _kv(), True),
    ("keyvault_purge_protection", _kv(enablePurgeProtection=None), False),
    ("keyvault_public_network_access", _kv(), True),
    ("keyvault_public_network_access", _kv(publicNetworkAccess="Enabled"), False),
    ("acr_admin_user", _acr(False), True),
    ("acr_admin_user", _acr(True), False),
    ("nsg_management_ports_open", _nsg(_inbound(src="10.0.0.0/8")), True),
    ("nsg_management_ports_open", _nsg(_inbound(port="443")), True),
    ("nsg_management_ports_open", _nsg(_inbound(access="Deny")), True),
    ("nsg_management_ports_open", _nsg(_inbound()), False),
    ("nsg_management_ports_open", _nsg(_inbound(src="0.0.0.0/0", port="3389")), False),
    ("nsg_management_ports_open", _nsg(_inbound(src="Internet", port=None, ports=["443", "3389"])), False),
    ("nsg_management_ports_open", _nsg(_inbound(src="Internet", port="*")), False),
    ("rbac_privileged_assignment", _ra(SUB, OWNER), False),
    ("rbac_privileged_assignment", _ra("/providers/Microsoft.Management/managementGroups/mg1", OWNER), False),
    ("rbac_privileged_assignment", _ra(RG, OWNER), True),
    ("rbac_privileged_assignment", _ra(SUB, READER), True),
]


def _strip_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_strip_none(v) for v in obj]
    return obj


@pytest.mark.parametrize(("rule", "resource", "compliant"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_verdict(rule: str, resource: dict[str, Any], compliant: bool) -> None:
    verdict = RULES[rule].policy.evaluate(_strip_none(copy.deepcopy(resource)))
    assert verdict.compliant is compliant, verdict.reason


def test_every_rule_has_a_verdict_case() -> None:
    covered = {c[0] for c in CASES} | {"ml_workspace_diagnostic_logs", "diagnostic_settings_removed"}
    assert covered == set(RULES)


def _diag(enabled: bool) -> dict[str, Any]:
    return {
        "type": "Microsoft.Insights/diagnosticSettings",
        "name": "d",
        "properties": {"workspaceId": "/law", "logs": [{"categoryGroup": "allLogs", "enabled": enabled}]},
    }


@pytest.mark.parametrize(
    ("rule", "resource"), [("ml_workspace_diagnostic_logs", _ws()), ("diagnostic_settings_removed", _kv())]
)
def test_diagnostic_rules_use_related_settings(rule: str, resource: dict[str, Any]) -> None:
    policy = RULES[rule].policy
    assert policy.evaluate(resource, related=lambda _r, _t: [_diag(True)]).compliant is True
    assert policy.evaluate(resource, related=lambda _r, _t: [_diag(False)]).compliant is False
    assert policy.evaluate(resource, related=lambda _r, _t: []).compliant is False


# --- real samples ------------------------------------------------------------------


def _sample(name: str) -> dict[str, Any]:
    path = SAMPLES / "arm" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    body: dict[str, Any] = json.loads(path.read_text())["responses"]["200"]["body"]
    return body


def test_sample_workspace_verdicts() -> None:
    ws = _sample("spec_ml_2025-09-01_Workspace_get.json")
    got = {r: RULES[r].policy.evaluate(ws).compliant for r in RULES if RULES[r].policy.applies_to(ws["type"])}
    assert got == {
        "ml_workspace_private_link": True,  # one Approved connection, one `properties` level deeper
        "ml_workspace_public_network_access": True,  # Disabled
        "ml_workspace_cmk": True,  # encryption.status Enabled
        "ml_workspace_user_assigned_identity": False,  # no primaryUserAssignedIdentity in the sample
        "ml_workspace_managed_network_outbound": False,  # no managedNetwork in the sample
        "ml_workspace_diagnostic_logs": None,  # needs related diagnostic settings
    }


def test_sample_workspace_with_public_access_fires() -> None:
    ws = _sample("spec_ml_2025-09-01_Workspace_get.json")
    ws["properties"]["publicNetworkAccess"] = "Enabled"
    v = RULES["ml_workspace_public_network_access"].policy.evaluate(ws)
    assert v.compliant is False
    assert '"Enabled"' in v.reason
    ws["properties"]["privateEndpointConnections"][0]["properties"]["privateLinkServiceConnectionState"]["status"] = (
        "Rejected"
    )
    assert RULES["ml_workspace_private_link"].policy.evaluate(ws).compliant is False


def test_sample_compute_instance_verdicts() -> None:
    ci = _sample("spec_ml_2025-09-01_Compute_get_ComputeInstance.json")
    got = {r: RULES[r].policy.evaluate(ci).compliant for r in RULES if RULES[r].policy.applies_to(ci["type"])}
    assert got == {
        "ml_compute_vnet": True,  # properties.properties.subnet.id is set
        "ml_compute_idle_shutdown": False,  # no properties.properties.idleTimeBeforeShutdown
        "ml_compute_local_auth": False,  # disableLocalAuth absent
    }


def test_evidence_states_what_compliance_needs() -> None:
    v = RULES["ml_workspace_cmk"].policy.evaluate(_ws(encryption={"status": "Disabled"}))
    # every condition of the allOf held (kind is not 'project', encryption not Enabled)
    assert len(v.evidence) == 2
    held, expected, actual = v.evidence[-1]
    assert held.startswith("not (")
    assert expected == f"field '{ML}/encryption.status' equals \"Enabled\""
    assert actual == '"Disabled"'
    v = RULES["ml_workspace_private_link"].policy.evaluate(_ws(privateEndpointConnections=[]))
    [(held, expected, actual)] = v.evidence
    assert expected == f"count of {ML}/privateEndpointConnections[*] greaterOrEquals 1"
    assert actual == "0"
