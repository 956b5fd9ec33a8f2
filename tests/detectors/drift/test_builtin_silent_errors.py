"""Built-ins that used to come out silently wrong, on real definitions and real ARM shapes.

Definitions come from ../shared/azure-policy (the tests skip when it is absent); resource
shapes are ARM GET bodies from the REST API specification examples (fixtures/arm/README.md).
Each test names the wrong verdict the engine gave before the alias catalogue, the related-
resource lookup and the other fixes of issue 18.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from detectors.drift.corpus import iter_definitions
from detectors.drift.engine import CompiledPolicy, EvalEnv, compile_policy

REPO = Path(__file__).resolve().parents[3]
TARBALL = REPO / ".." / "shared" / "azure-policy" / "builtin-policy-definitions.tar.gz"
SHAPES = Path(__file__).with_name("fixtures") / "arm"


@cache
def _corpus() -> dict[str, dict[str, Any]]:
    return {name.rsplit("/", 1)[-1]: d for name, d in iter_definitions(TARBALL)}


def builtin(file_name: str, **params: Any) -> CompiledPolicy:
    if not TARBALL.exists():
        pytest.skip(f"{TARBALL} not present (the shared Azure Policy corpus)")
    definition = _corpus()[file_name]
    return compile_policy(definition, source=file_name, parameters=params)


def shape(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SHAPES / f"{name}.json").read_text())
    return body


def tenant(*resources: Mapping[str, Any]) -> Any:
    """Related resources as the tenant folder gives them: every resource of the type under the scope."""

    def related(scope: Mapping[str, Any], rtype: str) -> Sequence[Mapping[str, Any]]:
        prefix = str(scope.get("id", "")).lower().rstrip("/") + "/"
        return [
            r
            for r in resources
            if str(r.get("type", "")).lower() == rtype.lower() and str(r.get("id", "")).lower().startswith(prefix)
        ]

    return related


# --- aliases --------------------------------------------------------------------------------


def test_fhir_private_link_reads_the_inner_properties_of_a_connection() -> None:
    # before: the alias dropped the connection's own `properties`, so Approved read as missing
    # and the FHIR service was non-compliant
    policy = builtin("HealthcareAPIs_PrivateLink_Audit.json")
    fhir = shape("fhir")
    assert policy.evaluate(fhir).compliant is True
    pending = copy.deepcopy(fhir)
    pending["properties"]["privateEndpointConnections"][0]["properties"]["privateLinkServiceConnectionState"][
        "status"
    ] = "Pending"
    assert policy.evaluate(pending).compliant is False


def test_allowed_vm_skus_reads_the_hardware_profile_vm_size() -> None:
    # before: sku.name was read as the top-level `sku`, missing on a VM, so every VM was denied
    vm = shape("vm")
    assert builtin("VMSkusAllowed_Deny.json", listOfAllowedSKUs=["Standard_DS3_v2"]).evaluate(vm).compliant is True
    assert builtin("VMSkusAllowed_Deny.json", listOfAllowedSKUs=["Standard_B2s"]).evaluate(vm).compliant is False


def test_nic_with_a_public_ip_is_caught() -> None:
    # before: ipconfigurations[*].publicIpAddress.id missed the ip configuration's `properties`,
    # so "Network interfaces should not have public IPs" never fired
    policy = builtin("NetworkPublicIPNic_Deny.json")
    nic = shape("nic")
    assert policy.evaluate(nic).compliant is False
    private = copy.deepcopy(nic)
    del private["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]
    assert policy.evaluate(private).compliant is True


def test_type_less_image_aliases_and_child_type_extensions() -> None:
    # before: Microsoft.Compute/imagePublisher (no resource type in the alias) resolved to
    # "missing", so the rule never applied; its related type is a child type of the VM
    policy = builtin("WindowsServers_AntiMalware_AINE.json")
    vm = shape("vm")
    extensions = vm["resources"]  # the VM GET lists its extensions: a custom script only
    verdict = policy.evaluate(vm, related=tenant(*extensions))
    assert verdict.compliant is False
    assert "Microsoft.Compute/virtualMachines/extensions" in verdict.reason
    antimalware = {
        "id": vm["id"] + "/extensions/IaaSAntimalware",
        "name": "IaaSAntimalware",
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "location": "westus",
        "properties": {"publisher": "Microsoft.Azure.Security", "type": "IaaSAntimalware", "typeHandlerVersion": "1.3"},
    }
    assert policy.evaluate(vm, related=tenant(*extensions, antimalware)).compliant is True
    linux = copy.deepcopy(vm)
    linux["properties"]["storageProfile"]["imageReference"]["publisher"] = "Canonical"
    assert policy.evaluate(linux, related=tenant()).compliant is True  # not a Windows Server image


SUB_ID = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23"
SUBSCRIPTION = {"id": SUB_ID, "type": "Microsoft.Resources/subscriptions"}

# --- requestContext, Manual ---------------------------------------------------------------------


def test_secure_transfer_on_a_scan_uses_the_latest_api_version() -> None:
    # before: requestContext().apiVersion was "", less than 2019-04-01, so an account without
    # the property (HTTPS-only by default since 2019-04-01) was reported non-compliant
    policy = builtin("Storage_AuditForHTTPSEnabled_Audit.json")
    account = shape("storage")
    assert policy.evaluate(account).compliant is False  # supportsHttpsTrafficOnly: false
    del account["properties"]["supportsHttpsTrafficOnly"]
    assert policy.evaluate(account).compliant is True  # a scan reads with the latest API version
    old_request = EvalEnv(api_version="2018-07-01")  # an event whose request used an old version
    assert policy.evaluate(account, env=old_request).compliant is False


def test_manual_definitions_report_their_default_state() -> None:
    # before: Manual was reported non-compliant; the built-ins declare defaultState Unknown
    policy = builtin("CMA_C1143.json")
    subscription = SUBSCRIPTION
    verdict = policy.evaluate(subscription)
    assert verdict.compliant is None
    assert "defaultState Unknown" in verdict.reason


# --- auditIfNotExists: related resources -------------------------------------------------------

SQL_SERVER = {
    "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/blobauditingtest-6852"
    "/providers/Microsoft.Sql/servers/blobauditingtest-2080",
    "name": "blobauditingtest-2080",
    "type": "Microsoft.Sql/servers",
    "kind": "v12.0",
    "location": "japaneast",
    "properties": {"administratorLogin": "dummylogin", "version": "12.0", "state": "Ready"},
}


def test_sql_auditing_reads_the_auditing_settings_child_resource() -> None:
    # before: only <id>/providers/... was searched and the type-less alias
    # Microsoft.Sql/auditingSettings.state read as missing: Enabled auditing was non-compliant
    policy = builtin("SqlServerAuditing_Audit.json")
    disabled = shape("sql_auditing_settings")  # state: Disabled
    assert policy.evaluate(SQL_SERVER, related=tenant(disabled)).compliant is False
    enabled = copy.deepcopy(disabled)
    enabled["properties"]["state"] = "Enabled"
    assert policy.evaluate(SQL_SERVER, related=tenant(enabled)).compliant is True
    other_name = dict(enabled, id=enabled["id"].rsplit("/", 1)[0] + "/other", name="other")
    assert policy.evaluate(SQL_SERVER, related=tenant(other_name)).compliant is False  # details.name is default
    assert policy.related_scope(SQL_SERVER) is not None
    assert policy.related_scope(SQL_SERVER).kind == "child"  # type: ignore[union-attr]


def test_existence_scope_subscription() -> None:
    policy = builtin("ASC_EnableAdvancedThreatProtectionOnVM_Audit.json")
    pricing = shape("defender_pricing")  # pricingTier: Standard, at /subscriptions/<id>/providers/...
    subscription = SUBSCRIPTION
    assert policy.evaluate(subscription, related=tenant(pricing)).compliant is True
    free = copy.deepcopy(pricing)
    free["properties"]["pricingTier"] = "Free"
    assert policy.evaluate(subscription, related=tenant(free)).compliant is False
    elsewhere = dict(pricing, id=pricing["id"].replace("20ff7fc3", "99ff7fc3"))
    assert policy.evaluate(subscription, related=tenant(elsewhere)).compliant is False  # another subscription


def test_resource_group_name_and_field_of_the_evaluated_resource() -> None:
    # NetworkWatcher_DINE: a network watcher in resource group networkWatcherRG with the
    # virtual network's location (existenceCondition field('location') is the evaluated VNet's)
    policy = builtin("NetworkWatcher_DINE.json")
    sub = "/subscriptions/subid"
    vnet = {
        "id": f"{sub}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet",
        "name": "test-vnet",
        "type": "Microsoft.Network/virtualNetworks",
        "location": "eastus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}},
    }

    def watcher(rg: str, location: str) -> dict[str, Any]:
        return {
            "id": f"{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkWatchers/NetworkWatcher_{location}",
            "name": f"NetworkWatcher_{location}",
            "type": "Microsoft.Network/networkWatchers",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }

    assert policy.evaluate(vnet, related=tenant(watcher("NetworkWatcherRG", "eastus"))).compliant is True
    assert policy.evaluate(vnet, related=tenant(watcher("NetworkWatcherRG", "westus"))).compliant is False
    assert policy.evaluate(vnet, related=tenant(watcher("rg1", "eastus"))).compliant is False


# --- contains(object, key) ------------------------------------------------------------------------


def test_contains_on_an_object_ignores_key_case() -> None:
    # AzUpdateMgmtCenter_ScheduledPatching_DINE asks contains(<object>, 'bypassPlatformSafetyChecksOnUserSchedule');
    # ARM property names are case-insensitive, so a differently cased key is still there
    text = json.dumps(_corpus_or_skip()["AzUpdateMgmtCenter_ScheduledPatching_DINE.json"])
    expr = (
        "[contains(field('Microsoft.Compute/virtualMachines/osProfile.windowsConfiguration.patchSettings."
        "automaticByPlatformSettings'), 'bypassPlatformSafetyChecksOnUserSchedule')]"
    )
    assert expr[1:-1] in text.replace("\\u0027", "'")
    rule = {"if": {"value": expr, "equals": True}, "then": {"effect": "audit"}}
    policy = compile_policy({"properties": {"mode": "All", "policyRule": rule}})
    vm = shape("vm")
    settings = vm["properties"]["osProfile"]["windowsConfiguration"]
    settings["patchSettings"] = {"automaticByPlatformSettings": {"BypassPlatformSafetyChecksOnUserSchedule": True}}
    assert policy.evaluate(vm).compliant is False  # the key is there: the condition holds
    settings["patchSettings"] = {"automaticByPlatformSettings": {"rebootSetting": "IfRequired"}}
    assert policy.evaluate(vm).compliant is True


def _corpus_or_skip() -> dict[str, dict[str, Any]]:
    if not TARBALL.exists():
        pytest.skip(f"{TARBALL} not present (the shared Azure Policy corpus)")
    return _corpus()


def test_related_resources_are_read_once_per_resource_for_all_rules() -> None:
    from detectors.drift.engine import evaluate_all

    if not TARBALL.exists():
        pytest.skip(f"{TARBALL} not present (the shared Azure Policy corpus)")
    # every SQL-server built-in that reads auditing settings shares one read of them
    policies = [
        builtin("SqlServerAuditing_Audit.json"),
        builtin("SqlServerAuditing_Audit.json", setting="disabled"),
    ]
    calls: list[tuple[str, str]] = []
    inner = tenant(shape("sql_auditing_settings"))

    def counting(scope: Mapping[str, Any], rtype: str) -> Sequence[Mapping[str, Any]]:
        calls.append((str(scope.get("id")), rtype))
        result: Sequence[Mapping[str, Any]] = inner(scope, rtype)
        return result

    got = [v.compliant for v in evaluate_all(policies, SQL_SERVER, related=counting)]
    assert got == [False, True]  # the real setting is Disabled
    assert calls == [(SQL_SERVER["id"], "Microsoft.Sql/servers/auditingSettings")]


def test_event_path_uses_the_request_api_version_of_the_event(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from core.state.sqlite import SQLiteStore
    from detectors.drift.loader import rules_from_policies
    from vigil.drift_path import handle_events

    policy = builtin("Storage_AuditForHTTPSEnabled_Audit.json")
    account = shape("storage")
    del account["properties"]["supportsHttpsTrafficOnly"]

    class Reader:
        def get(self, resource_id: str) -> dict[str, Any] | None:
            return copy.deepcopy(account) if resource_id.lower() == account["id"].lower() else None

    def event(eid: str, url: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"resourceUri": account["id"], "status": "Succeeded", "operationName": "write"}
        if url is not None:
            data["httpRequest"] = {"method": "PUT", "url": url}
        return {
            "id": eid,
            "subject": account["id"],
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "eventTime": "2026-12-07T01:00:00Z",
            "dataVersion": "2",
            "metadataVersion": "1",
            "topic": "/subscriptions/x",
            "data": data,
        }

    now = datetime(2026, 12, 7, 1, 0, 5, tzinfo=UTC)
    old_url = f"https://management.azure.com{account['id']}?api-version=2018-07-01"
    for eid, url, expected in (("e1", old_url, False), ("e2", None, True)):
        store = SQLiteStore(tmp_path / f"{eid}.db")
        try:
            result = handle_events(
                [event(eid, url)], store=store, reader=Reader(), rules=rules_from_policies([policy]), now=now
            )
        finally:
            store.close()
        (verdict,) = result.verdicts
        assert verdict.compliant is expected, (eid, verdict.reason)
