"""Every Bicep file parses (pycep-parser), and the security-relevant shape of the templates holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import BICEP_FILES, INFRA, parse_bicep

# Built-in role definition ids Vigil assigns, with the role each must be. Sources: the Azure built-in
# roles reference, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
# (General, Monitor, Storage, Security and Management + governance pages).
BUILTIN_ROLES = {
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "72fafb9e-0641-4937-9268-a91bfd8191a3": "Cost Management Reader",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05": "Monitoring Reader",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
}
GUID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")


def _resource(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(doc["resources"][name]["config"])


def test_there_are_bicep_files() -> None:
    names = {str(p.relative_to(INFRA)) for p in BICEP_FILES}
    assert {"main.bicep", "modules/functionapp.bicep", "modules/storage.bicep", "modules/keyvault.bicep"} <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_bicep_file_parses(path: Path) -> None:
    doc = parse_bicep(path)
    assert doc["resources"] or doc.get("modules"), f"{path}: parsed to nothing"


def test_every_module_path_exists() -> None:
    for path in BICEP_FILES:
        for ref in re.findall(r"^module \w+ '([^']+)'", path.read_text(encoding="utf-8"), flags=re.M):
            assert (path.parent / ref).is_file(), f"{path.name}: module {ref} not found"


def test_role_ids_are_known_builtin_roles() -> None:
    used: set[str] = set()
    for path in BICEP_FILES:
        used |= set(GUID.findall(path.read_text(encoding="utf-8")))
    assert used, "no role definition ids found"
    assert used <= set(BUILTIN_ROLES), f"unknown role ids: {sorted(used - set(BUILTIN_ROLES))}"
    assert {"Reader", "Cost Management Reader", "Monitoring Reader"} <= {BUILTIN_ROLES[g] for g in used}


def test_storage_is_identity_only(bicep: dict[str, dict[str, Any]]) -> None:
    props = _resource(bicep["modules/storage.bicep"], "account")["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    assert props["supportsHttpsTrafficOnly"] is True


# The host storage roles "Connecting to host storage with an identity" names for an app whose
# AzureWebJobsStorage is identity-based and that uses queue triggers:
# https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
# (Storage Blob Data Owner for the host itself; Storage Queue Data Contributor for queue triggers; Storage Table
# Data Contributor for the host's diagnostic events, and Vigil's own state table).
HOST_STORAGE_ROLES = {"Storage Blob Data Owner", "Storage Queue Data Contributor", "Storage Table Data Contributor"}


def test_host_storage_roles_are_the_documented_ones(bicep: dict[str, dict[str, Any]]) -> None:
    variables = bicep["modules/storage.bicep"]["variables"]
    role_ids = [variables[name]["value"] for name in variables["appRoles"]["value"]]
    assert {BUILTIN_ROLES[role_id] for role_id in role_ids} == HOST_STORAGE_ROLES
    assignments = _resource(bicep["modules/storage.bicep"], "appRoleAssignments")
    assert assignments["loop_type"]["detail"]["array_name"] == "appRoles"
    assert assignments["config"]["scope"] == "account"


def test_key_vault_uses_rbac_with_purge_protection(bicep: dict[str, dict[str, Any]]) -> None:
    props = _resource(bicep["modules/keyvault.bicep"], "vault")["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True


def test_app_insights_has_local_auth_disabled_and_a_workspace(bicep: dict[str, dict[str, Any]]) -> None:
    doc = bicep["modules/monitoring.bicep"]
    props = _resource(doc, "appInsights")["properties"]
    assert props["DisableLocalAuth"] is True
    assert "workspace" in json.dumps(props["WorkspaceResourceId"])


def test_function_app_is_flex_consumption_python_311_with_user_identity(bicep: dict[str, dict[str, Any]]) -> None:
    doc = bicep["modules/functionapp.bicep"]
    plan = _resource(doc, "plan")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = _resource(doc, "site")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert props["keyVaultReferenceIdentity"] == "identityId"
    config = props["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert doc["parameters"]["pythonVersion"]["default"] == "3.11"
    auth = config["deployment"]["storage"]["authentication"]
    assert auth["type"] == "UserAssignedIdentity"
    assert "FUNCTIONS_WORKER_RUNTIME" not in json.dumps(props["siteConfig"])


def test_event_grid_system_topics(bicep: dict[str, dict[str, Any]]) -> None:
    topic = bicep["modules/system-topic.bicep"]
    allowed = topic["parameters"]["topicType"]["decorators"]
    assert "Microsoft.Resources.Subscriptions" in json.dumps(allowed)
    assert "Microsoft.Storage.StorageAccounts" in json.dumps(allowed)
    per_subscription = json.dumps(bicep["modules/monitored-subscription.bicep"]["modules"])
    assert "Microsoft.Resources.Subscriptions" in per_subscription
    assert "Microsoft.Storage.StorageAccounts" in json.dumps(bicep["main.bicep"]["modules"])


def test_cost_export_is_daily_and_switchable(bicep: dict[str, dict[str, Any]]) -> None:
    main = bicep["main.bicep"]["parameters"]
    assert main["costExportEnabled"]["type"] == "bool"
    assert main["costExportDataset"]["default"] == "FocusCost"
    export = bicep["modules/monitored-subscription.bicep"]["resources"]["export"]
    assert export["type"] == "Microsoft.CostManagement/exports"
    assert export["config"]["condition"] == "costExportEnabled"
    props = export["config"]["config"]["properties"]
    assert props["compressionMode"]["operator"]["type"] == "conditional"
    assert props["schedule"]["recurrence"] == "Daily"
    assert props["definition"]["dataSet"]["granularity"] == "Daily"
    assert props["deliveryInfo"]["destination"]["container"] == "exportsContainerName"


def test_parameters_file_matches_main_bicep(bicep: dict[str, dict[str, Any]]) -> None:
    params = bicep["main.bicep"]["parameters"]
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    given = document["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {sorted(set(given) - set(params))}"
    required = {name for name, p in params.items() if p.get("default") is None}
    assert required <= set(given), f"required parameters missing: {sorted(required - set(given))}"
    for name, entry in given.items():
        assert re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", entry["value"]), f"{name}: not an azd substitution"


def test_every_azd_setting_is_documented() -> None:
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    names = {re.sub(r"^\$\{([A-Z_]+).*$", r"\1", entry["value"]) for entry in document["parameters"].values()}
    guide = (INFRA.parent / "docs" / "deployment.md").read_text(encoding="utf-8")
    set_by_azd = {"AZURE_ENV_NAME", "AZURE_PRINCIPAL_ID"}
    undocumented = {n for n in names - set_by_azd if f"`{n}`" not in guide}
    assert not undocumented, f"add these to docs/deployment.md: {sorted(undocumented)}"


def test_cost_export_dataset_version_defaults_per_dataset(bicep: dict[str, dict[str, Any]]) -> None:
    """FOCUS exports are versioned 1.0, 1.0r2 ...; actual and amortized cost by date (2021-10-01)."""
    main = bicep["main.bicep"]
    assert main["parameters"]["costExportDatasetVersion"]["default"] == ""
    (allowed,) = [
        d["argument"] for d in main["parameters"]["costExportDataset"]["decorators"] if d["type"] == "allowed"
    ]
    defaults = main["variables"]["costExportDefaultVersions"]["value"]
    assert set(defaults) == set(allowed)
    assert defaults == {"FocusCost": "1.0", "ActualCost": "2021-10-01", "AmortizedCost": "2021-10-01"}
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert params["costExportDatasetVersion"]["value"] == "${VIGIL_COST_EXPORT_DATASET_VERSION=}"
    module = bicep["main.bicep"]["modules"]["monitoredSubscriptions"]["config"]["config"]
    assert module["params"]["costExportDatasetVersion"] == "costExportVersion"


def test_instance_memory_sizes_are_the_documented_flex_sizes(bicep: dict[str, dict[str, Any]]) -> None:
    """512, 2,048 and 4,096 MB: "Instance sizes", https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan."""
    param = bicep["modules/functionapp.bicep"]["parameters"]["instanceMemoryMB"]
    (allowed,) = [d["argument"] for d in param["decorators"] if d["type"] == "allowed"]
    assert allowed == [512, 2048, 4096]
    assert param["default"] == 2048 == bicep["main.bicep"]["parameters"]["instanceMemoryMB"]["default"]


def test_comments_name_the_hook_that_deploys_the_management_group_template() -> None:
    deployer = [
        p.name
        for p in sorted((INFRA.parent / "scripts").glob("*.sh"))
        if "infra/scopes/management-group.bicep" in p.read_text(encoding="utf-8")
    ]
    assert deployer == ["postprovision.sh"]
    for path in (INFRA / "scopes" / "management-group.bicep", INFRA / "main.bicep"):
        named = set(re.findall(r"scripts/(\w+\.sh)", path.read_text(encoding="utf-8")))
        assert named, path
        assert named <= {p.name for p in (INFRA.parent / "scripts").glob("*.sh")}, path
    mg = (INFRA / "scopes" / "management-group.bicep").read_text(encoding="utf-8")
    assert set(re.findall(r"scripts/(\w+\.sh)", mg)) == set(deployer)
    main = bicep_description("monitoredManagementGroupId")
    assert "scripts/postprovision.sh" in main


def bicep_description(param: str) -> str:
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    match = re.search(rf"@description\('([^\n]*)'\)\nparam {param} ", text)
    assert match is not None, param
    return match.group(1)
