"""The Bicep type check (scripts/bicepcheck) passes on infra/, and each of its checks fails on a copy of
infra/ broken on purpose: the compiler cannot run here, so this is what stands in for it.

The type definitions are Azure/bicep-types-az's, in ../shared/bicep-types; without them these tests skip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scripts.bicepcheck import Finding, check_templates, load_templates
from scripts.bicepcheck.flex import FLEX_DENIED_SITE_PROPERTIES
from scripts.bicepcheck.paths import bicep_types_dir
from scripts.bicepcheck.types import TypeIndex
from tests.infra.conftest import INFRA

FIXED_EVENTS_GROUPS = """var eventsResourceGroups = [
  for subscriptionId in monitored: (subscriptionId == subscription().subscriptionId) ? rgName : '${rgName}-events'
]"""
SITE_CONFIG = """    siteConfig: {
      minTlsVersion: '1.2'"""


@pytest.fixture(scope="module")
def types_dir() -> Path:
    path = bicep_types_dir()
    if not (path / "README.md").is_file():
        pytest.skip(f"Azure's Bicep type definitions are not at {path} (../shared/bicep-types beside the repository)")
    return path


def _check_copy(tmp_path: Path, types_dir: Path, edits: dict[str, tuple[str, str]]) -> list[Finding]:
    """Findings on a copy of infra/ with ``file -> (old, new)`` text replacements applied."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    for name, (old, new) in edits.items():
        path = copy / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{name}: the text to replace is not there exactly once: {old!r}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return check_templates(load_templates(copy), types_dir)


def _codes(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.file, f.code) for f in findings}


def test_infra_passes_the_type_check(types_dir: Path) -> None:
    templates = load_templates(INFRA)
    findings = check_templates(templates, types_dir)
    assert findings == [], "\n".join(map(str, findings))
    # Every resource type and API version the templates declare is published (else BCP081 above), and
    # the check saw them all.
    declared = {(r["type"], r["api_version"]) for t in templates for r in t.section("resources").values()}
    assert len(declared) >= 15


def test_row_1_a_variable_loop_reading_module_outputs_fails(tmp_path: Path, types_dir: Path) -> None:
    # The template as issue 25 found it.
    broken = (
        "var eventsResourceGroups = "
        "[for (subscriptionId, i) in monitored: monitoredSubscriptions[i].outputs.topicResourceGroup]"
    )
    findings = _check_copy(tmp_path, types_dir, {"main.bicep": (FIXED_EVENTS_GROUPS, broken)})
    (finding,) = findings
    assert (finding.code, finding.where) == ("BCP182", "variable eventsResourceGroups")
    assert "monitoredSubscriptions.outputs.topicResourceGroup" in finding.message


def test_row_2_ftps_state_on_a_flex_site_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {"modules/functionapp.bicep": (SITE_CONFIG, SITE_CONFIG + "\n      ftpsState: 'Disabled'")}
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "FLEX001"
    assert "properties.siteConfig.ftpsState" in finding.message
    assert "flex-consumption-plan-deprecations" in finding.message


def test_an_unknown_property_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {"modules/functionapp.bicep": ("    httpsOnly: true\n", "    httpsOnly: true\n    httpsOnlyy: true\n")}
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert (finding.code, finding.where) == ("BCP037", "resource site 'Microsoft.Web/sites@2024-04-01'")
    assert finding.message.startswith("properties.httpsOnlyy:")


def test_a_read_only_property_that_is_set_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {"modules/functionapp.bicep": ("    httpsOnly: true\n", "    httpsOnly: true\n    defaultHostName: name\n")}
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "BCP073"
    assert finding.message.startswith("properties.defaultHostName: read-only")


def test_a_value_outside_its_allowed_set_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {"modules/keyvault.bicep": ("      name: 'standard'\n", "      name: 'gold'\n")}
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "BCP088"
    assert finding.message == "properties.sku.name: expected 'standard' | 'premium', got 'gold'"


def test_a_parameter_whose_allowed_values_leave_the_allowed_set_fails(tmp_path: Path, types_dir: Path) -> None:
    param = "param name string\n\n@allowed([\n  'standard'\n  'basic'\n])\nparam vaultSku string = 'standard'\n"
    edits = {
        "modules/keyvault.bicep": ("param name string\n", param),
    }
    assert _check_copy(tmp_path / "declared", types_dir, edits) == []  # declared, not used yet
    text = (INFRA / "modules" / "keyvault.bicep").read_text(encoding="utf-8")
    broken = text.replace("param name string\n", param).replace("      name: 'standard'\n", "      name: vaultSku\n")
    (finding,) = _check_copy(tmp_path / "used", types_dir, {"modules/keyvault.bicep": (text, broken)})
    assert finding.code == "BCP088"
    assert finding.message == "properties.sku.name: expected 'standard' | 'premium', got 'basic'"


def test_a_value_of_the_wrong_type_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {"modules/functionapp.bicep": ("    httpsOnly: true\n", "    httpsOnly: 'yes'\n")}
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "BCP036"
    assert finding.message == "properties.httpsOnly: expected bool, got 'yes'"


def test_a_missing_required_property_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {
        "modules/identity.bicep": ("  name: eventsIdentityName\n  location: location\n", "  name: eventsIdentityName\n")
    }
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "BCP035"
    assert finding.message == "<body>: missing required properties ['location']"


def test_an_unpublished_api_version_fails(tmp_path: Path, types_dir: Path) -> None:
    edits = {
        "modules/identity.bicep": (
            "resource eventsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31'",
            "resource eventsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2099-01-01'",
        )
    }
    (finding,) = _check_copy(tmp_path, types_dir, edits)
    assert finding.code == "BCP081"
    assert "2023-01-31" in finding.message


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        # BCP120: a module name reading another module's output
        ("  name: 'vigil-export-writers'\n", "  name: 'vigil-export-writers-${storage.outputs.name}'\n", "BCP120"),
        # BCP177: a condition reading a module output
        (
            "module exportWriters 'modules/container-access.bicep' = if (costExportEnabled) {",
            "module exportWriters 'modules/container-access.bicep' = if (!empty(storage.outputs.name)) {",
            "BCP177",
        ),
        # BCP178: a loop over a module output
        (
            "  for (subscriptionId, i) in monitored: {",
            "  for (subscriptionId, i) in split(storage.outputs.name, ','): {",
            "BCP178",
        ),
        # BCP179: a looped module whose name ignores the loop variable
        (
            "    name: 'vigil-monitored-${take(uniqueString(subscriptionId, environmentName), 8)}'",
            "    name: 'vigil-monitored'",
            "BCP179",
        ),
    ],
    ids=["BCP120-name", "BCP177-condition", "BCP178-loop-source", "BCP179-loop-name"],
)
def test_deploy_time_constant_rules_fail_on_runtime_values(
    tmp_path: Path, types_dir: Path, old: str, new: str, code: str
) -> None:
    findings = _check_copy(tmp_path, types_dir, {"main.bicep": (old, new)})
    assert {f.code for f in findings} == {code}, "\n".join(map(str, findings))


def test_a_runtime_value_reaching_a_loop_body_through_a_variable_fails(tmp_path: Path, types_dir: Path) -> None:
    broken = FIXED_EVENTS_GROUPS.replace("rgName : ", "storageName : ") + "\nvar storageName = storage.outputs.name"
    (finding,) = _check_copy(tmp_path, types_dir, {"main.bicep": (FIXED_EVENTS_GROUPS, broken)})
    assert finding.code == "BCP182"
    assert "storage.outputs.name (through variable storageName)" in finding.message


def test_module_params_are_checked_against_the_module(tmp_path: Path, types_dir: Path) -> None:
    old = "    instanceMemoryMB: instanceMemoryMB\n"
    findings = _check_copy(
        tmp_path, types_dir, {"main.bicep": (old, "    instanceMemoryMB: 1024\n    instanceMemory: 2048\n")}
    )
    assert _codes(findings) == {("main.bicep", "BCP088"), ("main.bicep", "BCP037")}, "\n".join(map(str, findings))


def test_every_flex_denied_property_is_a_real_site_property(types_dir: Path) -> None:
    """The deny-list names ARM paths; each must exist in Microsoft.Web/sites, or it could never match."""
    site = TypeIndex(types_dir).resource("Microsoft.Web/sites", "2024-04-01")
    assert site is not None
    for path in FLEX_DENIED_SITE_PROPERTIES:
        node = site
        for part in path.split("."):
            properties = node.data.get("properties") or {}
            assert part in properties, f"{path}: {part} is not a property of {node.describe()}"
            node = node.resolve(properties[part]["type"])
    assert "properties.siteConfig.ftpsState" in FLEX_DENIED_SITE_PROPERTIES


def test_the_type_definitions_are_the_ones_the_templates_use(types_dir: Path) -> None:
    readme = (types_dir / "README.md").read_text(encoding="utf-8")
    for template in load_templates(INFRA):
        for resource in template.section("resources").values():
            namespace = str(resource["type"]).split("/")[0].lower()
            assert (types_dir / namespace / str(resource["api_version"]) / "types.json").is_file(), resource["type"]
            assert namespace in readme
    assert json.loads((types_dir / "microsoft.web" / "2024-04-01" / "types.json").read_text(encoding="utf-8"))
