"""Template functions the built-ins use, with Azure's semantics (ARM template function reference)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from detectors.drift.engine import EvalEnv, PolicyLoadError, compile_policy
from detectors.drift.expr import unique_string

SUB = "/subscriptions/1b7a6c1e-0000-4000-8000-00000000abcd"
VM_ID = f"{SUB}/resourceGroups/Prod-RG/providers/Microsoft.Compute/virtualMachines/vm1"
VM = {
    "id": VM_ID,
    "name": "vm1",
    "type": "Microsoft.Compute/virtualMachines",
    "location": "westeurope",
    "tags": {"Env": "prod"},
    "identity": {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1": {}
        },
    },
    "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v5"}},
}
NOW = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)


def value(expr: str, *, resource: dict[str, Any] | None = None, env: EvalEnv | None = None, **params: Any) -> Any:
    """The value of ``expr`` for the resource, read back through an ``equals`` condition's evidence."""
    declared = {
        k: {"type": "Object" if isinstance(v, dict) else "Array" if isinstance(v, list) else "String"}
        for k, v in params.items()
    }
    definition = {
        "name": "t",
        "properties": {
            "mode": "All",
            "parameters": declared,
            "policyRule": {"if": {"value": expr, "equals": "\u0000never"}, "then": {"effect": "audit"}},
        },
    }
    policy = compile_policy(definition, parameters=params)
    verdict = policy.evaluate(resource or VM, env=env or EvalEnv(now=NOW))
    assert verdict.compliant is True, verdict.reason
    # evaluate once more through a `not` so the evidence carries the actual value
    negated = {**definition}
    negated["properties"] = {
        **definition["properties"],
        "policyRule": {"if": {"not": {"value": expr, "equals": "\u0000never"}}, "then": {"effect": "audit"}},
    }
    v2 = compile_policy(negated, parameters=params).evaluate(resource or VM, env=env or EvalEnv(now=NOW))
    assert v2.compliant is False, v2.reason
    return json.loads(v2.evidence[0][2])


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("[subscription().subscriptionId]", "1b7a6c1e-0000-4000-8000-00000000abcd"),
        ("[subscription().id]", "/subscriptions/1b7a6c1e-0000-4000-8000-00000000abcd"),
        ("[resourceGroup().name]", "Prod-RG"),
        ("[resourceGroup().id]", "/subscriptions/1b7a6c1e-0000-4000-8000-00000000abcd/resourceGroups/Prod-RG"),
        ("[utcNow()]", "2026-12-07T01:02:03.4567890Z"),
        ("[addDays(utcNow(), -1)]", "2026-12-06T01:02:03.4567890Z"),
        ("[addDays('2026-02-27T00:00:00Z', 2)]", "2026-03-01T00:00:00.0000000Z"),
        ("[ipRangeContains('10.0.0.0/16', '10.0.4.1')]", True),
        ("[ipRangeContains('10.0.0.0/16', '10.1.0.0/24')]", False),
        ("[ipRangeContains('192.168.0.1-192.168.0.9', '192.168.0.5')]", True),
        ("[intersection(createArray('a', 'b', 'c'), createArray('c', 'a'))]", ["a", "c"]),
        ("[intersection(createObject('a', 1, 'b', 2), createObject('b', 2, 'c', 3))]", {"b": 2}),
        ("[createObject('k', field('name'))]", {"k": "vm1"}),
        ("[array(field('name'))]", ["vm1"]),
        ("[add(2, mul(3, 4))]", 14),
        ("[tryGet(field('tags'), 'env')]", "prod"),
        ("[tryGet(field('tags'), 'missing')]", None),
        ("[base64(field('name'))]", "dm0x"),
        ("[uniqueString('test')]", "rbgf3xv4ufgzg"),
        ("[format('{0}-{1}', field('name'), 7)]", "vm1-7"),
        ("[max(3, 9, 4)]", 9),
        ("[max(createArray(1, 5))]", 5),
        ("[length(field('identity.userAssignedIdentities'))]", 1),
        ("[contains(field('tags'), 'ENV')]", True),
        ("[contains(field('name'), 'VM')]", False),  # strings: case-sensitive, as in ARM templates
        ("[policy().definitionId]", "/providers/Microsoft.Authorization/policyDefinitions/t"),
    ],
)
def test_function_values(expr: str, expected: Any) -> None:
    assert value(expr) == expected


def test_policy_function_carries_the_assignment() -> None:
    env = EvalEnv(now=NOW, assignment_id="/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a1")
    assert value("[policy().assignmentId]", env=env) == env.assignment_id


def test_resource_group_properties_come_from_the_scope_reader() -> None:
    rg_id = "/subscriptions/1b7a6c1e-0000-4000-8000-00000000abcd/resourceGroups/Prod-RG"
    seen: list[str] = []

    def reader(scope_id: str) -> dict[str, Any] | None:
        seen.append(scope_id)
        if scope_id.lower() == rg_id.lower():
            return {"id": rg_id, "name": "Prod-RG", "location": "northeurope", "managedBy": "databricks", "tags": {}}
        return None

    assert value("[resourceGroup().managedBy]", env=EvalEnv(now=NOW, scope_reader=reader)) == "databricks"
    assert rg_id in seen


def test_utcnow_without_a_now_is_an_evaluation_failure_not_a_guess() -> None:
    definition = {
        "properties": {
            "mode": "All",
            "policyRule": {"if": {"value": "[utcNow()]", "greater": "2020-01-01"}, "then": {"effect": "audit"}},
        }
    }
    verdict = compile_policy(definition).evaluate(VM)
    assert verdict.compliant is False
    assert "utcNow() needs the evaluation time" in verdict.reason


def test_uniquestring_matches_arm() -> None:
    # value ARM returned for this id (microsoft/commercial-marketplace-offer-deploy, ArmFunctionsTests)
    rid = (
        "/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/rg-modm201-20230913120256"
        "/providers/Microsoft.Compute/virtualMachines/bobjacmodm201"
    )
    assert unique_string(rid) == "yvjxno3je5on2"
    assert unique_string("hello", "world") == unique_string("hello-world")
    assert len({unique_string(str(i)) for i in range(1000)}) == 1000


def test_if_with_a_constant_condition_is_folded_into_a_field_name() -> None:
    # AzUpdateMgmtCenter_CRP_AutoAssessmentMode_Modify builds the alias with if() over a parameter
    field = (
        "[if(equals(tolower(parameters('osType')), 'windows'), "
        "'Microsoft.Compute/virtualMachines/osProfile.windowsConfiguration.patchSettings.assessmentMode', "
        "'Microsoft.Compute/virtualMachines/osProfile.linuxConfiguration.patchSettings.assessmentMode')]"
    )
    definition = {
        "properties": {
            "mode": "All",
            "parameters": {"osType": {"type": "String"}},
            "policyRule": {"if": {"field": field, "notEquals": "AutomaticByPlatform"}, "then": {"effect": "audit"}},
        }
    }
    vm = {
        **VM,
        "properties": {
            "osProfile": {"windowsConfiguration": {"patchSettings": {"assessmentMode": "AutomaticByPlatform"}}}
        },
    }
    assert compile_policy(definition, parameters={"osType": "Windows"}).evaluate(vm).compliant is True
    assert compile_policy(definition, parameters={"osType": "Linux"}).evaluate(vm).compliant is False


def test_tags_named_by_an_empty_parameter_is_the_missing_tag() -> None:
    definition = {
        "properties": {
            "mode": "All",
            "parameters": {"tagName": {"type": "String", "defaultValue": ""}},
            "policyRule": {
                "if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": False},
                "then": {"effect": "audit"},
            },
        }
    }
    assert compile_policy(definition).evaluate(VM).compliant is False
    assert compile_policy(definition, parameters={"tagName": "Env"}).evaluate(VM).compliant is True


def test_unknown_function_is_still_a_load_error() -> None:
    definition = {
        "properties": {
            "mode": "All",
            "policyRule": {
                "if": {"value": "[listKeys(field('id'), '2020-01-01')]", "exists": True},
                "then": {"effect": "audit"},
            },
        }
    }
    with pytest.raises(PolicyLoadError, match="unsupported template function 'listKeys'"):
        compile_policy(definition, source="f.json")
