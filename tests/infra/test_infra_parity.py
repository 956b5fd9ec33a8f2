"""One set of names everywhere: the settings model, infra/app-settings.json (what Bicep deploys),
local.settings.sample.json and the %SETTING% references in the function bindings; and one list of
remediation permissions: infra/remediation-permissions.json == the custom role's actions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scripts import gen_app_settings, gen_remediation_permissions
from tests.infra.conftest import INFRA, REPO
from vigil.settings import describe_settings

SETTING_REF = re.compile(r"%([A-Za-z0-9_]+)%")
ACTION = re.compile(r"^[A-Za-z0-9.]+(/[A-Za-z0-9.*]+)+$")


def _bicep_setting_names(doc: dict[str, Any]) -> set[str]:
    return {entry["name"] for entry in doc["settings"]}


def test_app_settings_json_is_up_to_date() -> None:
    committed = (INFRA / "app-settings.json").read_text(encoding="utf-8")
    assert committed == gen_app_settings.dumps(gen_app_settings.render()), (
        "infra/app-settings.json drifted from vigil/settings.py: run `.venv/bin/python scripts/gen_app_settings.py`"
    )


def test_bicep_app_settings_equal_the_model(app_settings_doc: dict[str, Any]) -> None:
    model = {s.name for s in describe_settings()}
    azure = {s.name for s in describe_settings() if s.where != "local"} - gen_app_settings.FLEX_FORBIDDEN
    bicep = _bicep_setting_names(app_settings_doc)
    infra_only = set(gen_app_settings.INFRA_ONLY) - model
    assert bicep == azure | infra_only
    # The only documented differences: local-only settings, settings Flex Consumption forbids, and the
    # infra-only settings the model does not declare yet (see scripts/gen_app_settings.py).
    assert model - bicep == {s.name for s in describe_settings() if s.where == "local"} | (
        gen_app_settings.FLEX_FORBIDDEN & model
    )


def test_local_sample_names_equal_the_model() -> None:
    values = json.loads((REPO / "local.settings.sample.json").read_text(encoding="utf-8"))["Values"]
    assert set(values) == {s.name for s in describe_settings()}


def test_secrets_become_key_vault_references(app_settings_doc: dict[str, Any]) -> None:
    secrets = {s.name for s in describe_settings() if s.is_secret and s.where != "local"}
    entries = {e["name"]: e for e in app_settings_doc["settings"]}
    for name in secrets:
        assert entries[name]["secret"] is True
        assert re.fullmatch(r"[0-9A-Za-z-]{1,127}", entries[name]["secretName"]), name
        assert entries[name]["value"] == "", f"{name}: a secret must not carry a value in the repo"
    text = (INFRA / "modules" / "functionapp.bicep").read_text(encoding="utf-8")
    assert "@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${setting.secretName}/)" in text


def test_infra_values_cover_exactly_the_infra_settings(
    bicep: dict[str, dict[str, Any]], app_settings_doc: dict[str, Any]
) -> None:
    infra_values = bicep["modules/functionapp.bicep"]["variables"]["infraValues"]["value"]
    flagged = {e["name"] for e in app_settings_doc["settings"] if e["infra"]}
    assert set(infra_values) == flagged
    assert infra_values["AzureWebJobsStorage__credential"] == "managedidentity"


def test_every_trigger_setting_reference_is_a_bicep_app_setting(
    function_index: list[dict[str, Any]], app_settings_doc: dict[str, Any]
) -> None:
    refs: set[str] = set()
    for fn in function_index:
        for binding in fn["bindings"]:
            refs |= set(SETTING_REF.findall(json.dumps(binding)))
    assert {"METRICS_SCHEDULE", "SWEEP_SCHEDULE", "DIGEST_SCHEDULE", "INGEST_QUEUE", "DETECT_QUEUE"} <= refs
    missing = refs - _bicep_setting_names(app_settings_doc)
    assert not missing, f"settings referenced by triggers but not deployed: {sorted(missing)}"


def test_storage_resources_are_the_settings_defaults(app_settings_doc: dict[str, Any]) -> None:
    defaults = {s.name: s.default for s in describe_settings()}
    storage = app_settings_doc["storage"]
    for suffix, kind in (("_QUEUE", "queues"), ("_CONTAINER", "containers"), ("_TABLE", "tables")):
        expected = sorted({v for k, v in defaults.items() if k.endswith(suffix) and v})
        assert storage[kind] == expected, kind
    assert all(storage[kind] for kind in ("queues", "containers", "tables"))
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    for kind in ("queues", "containers", "tables"):
        assert f"settingsSpec.storage.{kind}" in main


# --- remediation permissions --------------------------------------------------------------------

PERMISSIONS_FILE = INFRA / "remediation-permissions.json"


def _permissions() -> dict[str, Any]:
    return dict(json.loads(PERMISSIONS_FILE.read_text(encoding="utf-8")))


def test_remediation_permissions_file_is_well_formed() -> None:
    doc = _permissions()
    for key in ("actions", "dataActions"):
        values = doc[key]
        assert isinstance(values, list), key
        assert values == sorted(set(values), key=str.lower), f"{key}: keep it sorted and without duplicates"
        for action in values:
            assert ACTION.match(action), f"{key}: {action!r} is not an ARM operation"
            assert not action.endswith("*"), f"{action}: wildcards defeat least privilege"


@pytest.mark.parametrize(
    ("path", "resource"),
    [("modules/remediation-role.bicep", "role"), ("scopes/management-group.bicep", "remediationRole")],
)
def test_custom_role_actions_are_the_permissions_file(
    bicep: dict[str, dict[str, Any]], path: str, resource: str
) -> None:
    doc = bicep[path]
    loaded = doc["variables"]["permissions"]["value"]["function"]
    assert loaded["type"] == "load_json_content"
    assert (INFRA / path).parent.joinpath(loaded["parameters"]["file_path"]).resolve() == PERMISSIONS_FILE
    config = doc["resources"][resource]["config"]
    config = config.get("config", config)  # conditional resources nest their body
    (permission,) = config["properties"]["permissions"]
    for key in ("actions", "dataActions"):
        accessor = permission[key]["operator"]
        assert accessor["type"] == "property_accessor"
        assert accessor["operands"] == {"operand_1": "permissions", "operand_2": key}
    assert permission["notActions"] == []
    assert permission["notDataActions"] == []


def test_remediation_permissions_are_the_union_declared_by_the_actions() -> None:
    """infra/remediation-permissions.json == union of the permissions the remediation actions declare."""
    from alerts.remediation import ACTIONS, all_permissions

    declared = {p for a in ACTIONS for p in a.permissions}
    assert set(_permissions()["actions"]) == declared, (
        "infra/remediation-permissions.json drifted from the remediation actions: "
        "run `.venv/bin/python scripts/gen_remediation_permissions.py`"
    )
    assert _permissions()["dataActions"] == []
    committed = PERMISSIONS_FILE.read_text(encoding="utf-8")
    assert committed == gen_remediation_permissions.dumps(gen_remediation_permissions.render())
    assert list(all_permissions()) == _permissions()["actions"]
