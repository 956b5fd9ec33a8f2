"""Conformance of the policy engine with the Azure Policy documentation.

Each test cites the rule from "Azure Policy definition structure - policy rule"
or "Author policies for array properties" that it checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.drift.aliases import catalogue, use_catalogue
from detectors.drift.engine import PolicyLoadError, compile_policy, evaluate_all

ST = "Microsoft.Storage/storageAccounts"
NSG = "Microsoft.Network/networkSecurityGroups"

RESOURCE: dict[str, Any] = {
    "id": "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct1",
    "name": "acct1",
    "type": "Microsoft.Storage/storageAccounts",
    "location": "westeurope",
    "kind": "StorageV2",
    "tags": {"Env": "Prod", "CostCenter": "1234"},
    "identity": {"type": "SystemAssigned"},
    "sku": {"name": "Standard_LRS"},
    "properties": {
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "supportsHttpsTrafficOnly": True,
        "creationTime": "2024-01-15T10:00:00Z",
        "retentionDays": 30,
        "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "1.2.3.4"}, {"value": "5.6.7.8"}]},
        "emptyList": [],
        "nullValue": None,
        "encryption": {"services": {"blob": {"enabled": True}, "file": {"enabled": True}}},
    },
}


# The documentation's examples use aliases that are not in Azure's catalogue (the
# invented type Microsoft.Test/resourceType, and storage properties made up to test
# missing, null and empty values). They are added to the catalogue for these tests
# only; real definitions resolve aliases through the catalogue alone.
_DOC_ALIASES = {
    "Microsoft.Storage/storageAccounts": {
        f"{ST}/{name}": f"properties.{name}"
        for name in (
            "creationTime",
            "doesNotExist",
            "doesNotExist[*]",
            "emptyList[*]",
            "nosuch.deeper.path",
            "nullValue",
            "retentionDays",
            "networkAcls.ipRules[1].value",
        )
    },
    "Microsoft.Test/resourceType": {
        f"Microsoft.Test/resourceType/{name}": f"properties.{name}"
        for name in (
            "missingArray",
            "missingArray[*]",
            "missingArray[*].property",
            "stringArray",
            "stringArray[*]",
            "objectArray",
            "objectArray[*]",
            "objectArray[*].property",
            "objectArray[*].nestedArray",
            "objectArray[*].nestedArray[*]",
        )
    },
}


@pytest.fixture(autouse=True)
def _doc_aliases() -> Any:
    shipped = catalogue()
    use_catalogue(shipped.extended(_DOC_ALIASES, source="documentation examples"))
    yield
    use_catalogue(shipped)


def holds(cond: dict[str, Any], resource: dict[str, Any] | None = None, **params: Any) -> bool:
    """True when the `if` condition holds (the resource is non-compliant)."""
    declared = {k: {"type": "String" if isinstance(v, str) else "Array"} for k, v in params.items()}
    definition = {
        "properties": {
            "mode": "All",
            "parameters": declared,
            "policyRule": {"if": cond, "then": {"effect": "audit"}},
        }
    }
    verdict = compile_policy(definition, parameters=params).evaluate(resource or RESOURCE)
    assert verdict.compliant is not None
    return not verdict.compliant


def f(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, op: value}


# --- logical operators -------------------------------------------------------------


def test_allof_anyof_not() -> None:
    t = f("type", "equals", ST)
    no = f("name", "equals", "other")
    assert holds({"allOf": [t, t]})
    assert not holds({"allOf": [t, no]})
    assert holds({"anyOf": [no, t]})
    assert not holds({"anyOf": [no, no]})
    assert holds({"not": no})
    assert not holds({"not": t})
    assert holds({"allOf": [{"not": {"field": "tags", "containsKey": "application"}}, t]})


# --- conditions: string comparisons are case-insensitive ----------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("equals", "microsoft.storage/STORAGEACCOUNTS", True),
        ("equals", "Microsoft.Storage/other", False),
        ("notEquals", "MICROSOFT.STORAGE/storageaccounts", False),
        ("notEquals", "Microsoft.Web/sites", True),
        ("like", "Microsoft.Storage/*", True),
        ("like", "*/STORAGEaccounts", True),
        ("like", "Microsoft.Web/*", False),
        ("notLike", "Microsoft.Web/*", True),
        ("notLike", "microsoft.storage/*", False),
        ("contains", "STORAGE", True),
        ("contains", "compute", False),
        ("notContains", "compute", True),
        ("notContains", "storage", False),
        ("in", ["Microsoft.Web/sites", "microsoft.storage/storageaccounts"], True),
        ("in", ["Microsoft.Web/sites"], False),
        ("notIn", ["Microsoft.Web/sites"], True),
        ("notIn", ["MICROSOFT.STORAGE/STORAGEACCOUNTS"], False),
    ],
)
def test_string_conditions(op: str, value: Any, expected: bool) -> None:
    assert holds(f("type", op, value)) is expected


@pytest.mark.parametrize(
    ("op", "pattern", "expected"),
    [
        # '#' a digit, '?' a letter, '.' any character, others literal; match is case-sensitive.
        ("match", "acct#", True),
        ("match", "????#", True),
        ("match", "acc.1", True),
        ("match", "ACCT#", False),
        ("match", "acct", False),
        ("match", "acct##", False),
        ("matchInsensitively", "ACCT#", True),
        ("matchInsensitively", "AC???", False),
        ("notMatch", "ACCT#", True),
        ("notMatch", "acct#", False),
        ("notMatchInsensitively", "ACCT#", False),
        ("notMatchInsensitively", "####", True),
    ],
)
def test_match_conditions(op: str, pattern: str, expected: bool) -> None:
    assert holds(f("name", op, pattern)) is expected


def test_contains_key_is_case_insensitive() -> None:
    assert holds(f("tags", "containsKey", "env"))
    assert holds(f("tags", "containsKey", "COSTCENTER"))
    assert not holds(f("tags", "containsKey", "owner"))
    assert holds(f("tags", "notContainsKey", "owner"))
    assert not holds(f("tags", "notContainsKey", "ENV"))


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        # numbers compare numerically
        (f"{ST}/retentionDays", "less", 31, True),
        (f"{ST}/retentionDays", "less", 30, False),
        (f"{ST}/retentionDays", "lessOrEquals", 30, True),
        (f"{ST}/retentionDays", "greater", 29, True),
        (f"{ST}/retentionDays", "greater", 30, False),
        (f"{ST}/retentionDays", "greaterOrEquals", 30, True),
        (f"{ST}/retentionDays", "greaterOrEquals", "30", True),
        # dates compare as dates
        (f"{ST}/creationTime", "less", "2024-02-01T00:00:00Z", True),
        (f"{ST}/creationTime", "greater", "2024-02-01T00:00:00Z", False),
        # strings compare case-insensitively (TLS1_0 < TLS1_2)
        (f"{ST}/minimumTlsVersion", "less", "tls1_3", True),
        (f"{ST}/minimumTlsVersion", "less", "TLS1_2", False),
        (f"{ST}/minimumTlsVersion", "greaterOrEquals", "tls1_2", True),
    ],
)
def test_ordering_conditions(field: str, op: str, value: Any, expected: bool) -> None:
    assert holds(f(field, op, value)) is expected


def test_booleans_and_numbers_compare_by_text() -> None:
    assert holds(f(f"{ST}/supportsHttpsTrafficOnly", "equals", "true"))
    assert holds(f(f"{ST}/supportsHttpsTrafficOnly", "equals", True))
    assert holds(f(f"{ST}/allowBlobPublicAccess", "equals", "FALSE"))
    assert not holds(f(f"{ST}/allowBlobPublicAccess", "notEquals", False))
    assert holds(f(f"{ST}/retentionDays", "equals", "30"))
    assert holds(f(f"{ST}/retentionDays", "in", ["7", "30"]))


def test_exists_accepts_bool_and_string() -> None:
    assert holds(f(f"{ST}/minimumTlsVersion", "exists", True))
    assert holds(f(f"{ST}/minimumTlsVersion", "exists", "true"))
    assert not holds(f(f"{ST}/minimumTlsVersion", "exists", "false"))


# --- missing fields ----------------------------------------------------------------

MISSING_FIELD = f"{ST}/doesNotExist"


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("exists", False, True),
        ("exists", True, False),
        ("equals", "x", False),
        ("equals", "", False),
        ("notEquals", "x", True),
        ("like", "*", False),
        ("notLike", "*", True),
        ("match", "...", False),
        ("notMatch", "...", True),
        ("matchInsensitively", "...", False),
        ("notMatchInsensitively", "...", True),
        ("contains", "x", False),
        ("notContains", "x", True),
        ("in", ["x"], False),
        ("notIn", ["x"], True),
        ("containsKey", "x", False),
        ("notContainsKey", "x", True),
        ("less", 1, False),
        ("lessOrEquals", 1, False),
        ("greater", 1, False),
        ("greaterOrEquals", 1, False),
    ],
)
def test_missing_field(op: str, value: Any, expected: bool) -> None:
    assert holds(f(MISSING_FIELD, op, value)) is expected


def test_json_null_counts_as_missing() -> None:
    assert holds(f(f"{ST}/nullValue", "exists", False))
    assert holds(f(f"{ST}/nullValue", "notEquals", "x"))


def test_missing_tag_and_missing_nested_parent() -> None:
    assert holds(f("tags['owner']", "exists", False))
    assert holds(f(f"{ST}/nosuch.deeper.path", "notEquals", "x"))
    assert not holds(f(f"{ST}/nosuch.deeper.path", "equals", "x"))


def test_alias_of_another_type_is_missing() -> None:
    assert holds(f("Microsoft.KeyVault/vaults/enablePurgeProtection", "exists", False))


# --- fields ------------------------------------------------------------------------


def test_builtin_fields() -> None:
    assert holds(f("name", "equals", "ACCT1"))
    assert holds(f("location", "equals", "WestEurope"))
    assert holds(f("kind", "equals", "storagev2"))
    assert holds(f("id", "like", "/subscriptions/s1/*"))
    assert holds(f("identity.type", "equals", "systemassigned"))
    assert holds(f("fullName", "equals", "acct1"))
    assert holds(f("type", "equals", ST))


def test_full_name_of_child_resource() -> None:
    child = {
        "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1",
        "name": "c1",
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
    }
    assert holds(f("fullName", "equals", "ws/c1"), child)
    assert holds(f("name", "equals", "c1"), child)


def test_tag_syntaxes_are_case_insensitive_on_the_name() -> None:
    assert holds(f("tags['env']", "equals", "prod"))
    assert holds(f("tags[Env]", "equals", "PROD"))
    assert holds(f("tags.ENV", "equals", "Prod"))
    assert holds(f("tags", "containsKey", "costcenter"))


def test_alias_fallback_and_envelope_properties() -> None:
    # Unmapped alias: <type>/<path> -> properties.<path>; sku/identity/kind are top level.
    assert holds(f(f"{ST}/networkAcls.defaultAction", "equals", "deny"))
    assert holds(f(f"{ST}/encryption.services.blob.enabled", "equals", True))
    assert holds(f(f"{ST}/sku.name", "equals", "standard_lrs"))


def test_star_alias_outside_count_requires_every_member() -> None:
    assert holds(f(f"{ST}/networkAcls.ipRules[*].value", "like", "*.*.*.*"))
    assert not holds(f(f"{ST}/networkAcls.ipRules[*].value", "equals", "1.2.3.4"))
    assert holds(f(f"{ST}/networkAcls.ipRules[*].value", "notEquals", "9.9.9.9"))
    # An empty array has no member that violates the condition.
    assert holds(f(f"{ST}/emptyList[*]", "equals", "anything"))


def test_index_alias() -> None:
    assert holds(f(f"{ST}/networkAcls.ipRules[1].value", "equals", "5.6.7.8"))


# --- count -------------------------------------------------------------------------

NSG_RES: dict[str, Any] = {
    "id": "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg1",
    "name": "nsg1",
    "type": NSG,
    "location": "westeurope",
    "properties": {
        "securityRules": [
            {
                "name": "ssh",
                "properties": {
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefix": "*",
                    "destinationPortRange": "22",
                },
            },
            {
                "name": "web",
                "properties": {
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefix": "Internet",
                    "destinationPortRanges": ["80", "443"],
                },
            },
            {
                "name": "out",
                "properties": {"direction": "Outbound", "access": "Deny", "sourceAddressPrefix": "10.0.0.0/8"},
            },
        ]
    },
}
SR = f"{NSG}/securityRules[*]"


def test_field_count_without_where_counts_members() -> None:
    assert holds({"count": {"field": SR}, "equals": 3}, NSG_RES)
    assert holds({"count": {"field": f"{ST}/emptyList[*]"}, "equals": 0})
    assert holds({"count": {"field": f"{ST}/doesNotExist[*]"}, "equals": 0})


def test_field_count_with_where_uses_deeper_alias_paths() -> None:
    inbound = {"count": {"field": SR, "where": f(f"{SR}.direction", "equals", "inbound")}, "equals": 2}
    assert holds(inbound, NSG_RES)
    both = {
        "count": {
            "field": SR,
            "where": {
                "allOf": [f(f"{SR}.direction", "equals", "Inbound"), f(f"{SR}.destinationPortRange", "in", ["22"])]
            },
        },
        "equals": 1,
    }
    assert holds(both, NSG_RES)


def test_nested_count() -> None:
    nested = {
        "count": {
            "field": SR,
            "where": {
                "count": {
                    "field": f"{SR}.destinationPortRanges[*]",
                    "where": f(f"{SR}.destinationPortRanges[*]", "equals", "443"),
                },
                "greater": 0,
            },
        },
        "equals": 1,
    }
    assert holds(nested, NSG_RES)


def test_current_in_field_count() -> None:
    cond = {
        "count": {
            "field": SR,
            "where": {"value": f"[current('{SR}.direction')]", "equals": "Outbound"},
        },
        "equals": 1,
    }
    assert holds(cond, NSG_RES)


def test_value_count_with_name_and_current() -> None:
    cond = {
        "count": {
            "value": "[parameters('prefixes')]",
            "name": "prefix",
            "where": {"value": "[current('prefix')]", "in": ["*", "Internet"]},
        },
        "equals": 2,
    }
    assert holds(cond, NSG_RES, prefixes=["*", "Internet", "10.0.0.0/8"])
    literal_array = {"count": {"value": ["a", "b", "c"]}, "equals": 3}
    assert holds(literal_array)


def test_value_count_combined_with_field() -> None:
    # how many of the allowed locations equal the resource location
    cond = {
        "count": {
            "value": ["eastus", "westeurope"],
            "name": "loc",
            "where": {"value": "[current('loc')]", "equals": "[field('location')]"},
        },
        "equals": 1,
    }
    assert holds(cond)


# --- value and template functions ----------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("[concat('a', 'b', 'c')]", "abc"),
        ("[toLower('ABC')]", "abc"),
        ("[toUpper('abc')]", "ABC"),
        ("[length('abcd')]", 4),
        ("[length(split('a/b/c', '/'))]", 3),
        ("[if(equals(1, 1), 'yes', 'no')]", "yes"),
        ("[if(empty(''), 'empty', 'full')]", "empty"),
        ("[contains('abc', 'b')]", True),
        ("[split('a,b', ',')[1]]", "b"),
        ("[equals('a', 'a')]", True),
        ("[field('name')]", "acct1"),
        ("[field('tags')['Env']]", "Prod"),
        ("[length(field('Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]'))]", 2),
        ("[empty(field('Microsoft.Storage/storageAccounts/doesNotExist'))]", True),
        ("[concat(parameters('prefix'), '-', field('name'))]", "pre-acct1"),
        ("[requestContext().apiVersion]", "2023-05-01"),
        ("[[not an expression]", "[[not an expression]"),
    ],
)
def test_template_functions(expr: str, expected: Any) -> None:
    definition = {
        "properties": {
            "mode": "All",
            "parameters": {"prefix": {"type": "String", "defaultValue": "pre"}},
            "policyRule": {"if": {"value": expr, "equals": expected}, "then": {"effect": "audit"}},
        }
    }
    verdict = compile_policy(definition).evaluate(RESOURCE, api_version="2023-05-01")
    assert verdict.compliant is False, verdict.reason


def test_value_condition_on_missing_field() -> None:
    assert holds({"value": f"[field('{MISSING_FIELD}')]", "exists": False})


# --- parameters, effects, modes ----------------------------------------------------


def _def(
    cond: dict[str, Any], *, effect: Any = "[parameters('effect')]", mode: str = "All", **extra: Any
) -> dict[str, Any]:
    return {
        "id": "/providers/Microsoft.Authorization/policyDefinitions/test-def",
        "name": "test-def",
        "properties": {
            "displayName": "test",
            "mode": mode,
            "parameters": {
                "effect": {"type": "String", "defaultValue": "Audit", "allowedValues": ["Audit", "Deny", "Disabled"]},
                **extra,
            },
            "policyRule": {"if": cond, "then": {"effect": effect}},
        },
    }


def test_parameter_defaults_and_overrides() -> None:
    cond = f("location", "in", "[parameters('allowed')]")
    d = _def(cond, allowed={"type": "Array", "defaultValue": ["westeurope"]})
    assert compile_policy(d).evaluate(RESOURCE).compliant is False
    assert compile_policy(d, parameters={"allowed": ["eastus"]}).evaluate(RESOURCE).compliant is True
    # assignment style {"value": ...}
    assert compile_policy(d, parameters={"allowed": {"value": ["eastus"]}}).evaluate(RESOURCE).compliant is True


def test_effects_reported() -> None:
    cond = f("type", "equals", ST)
    v = compile_policy(_def(cond)).evaluate(RESOURCE)
    assert (v.compliant, v.effect) == (False, "audit")
    v = compile_policy(_def(cond), parameters={"effect": "Deny"}).evaluate(RESOURCE)
    assert (v.compliant, v.effect) == (False, "deny")
    v = compile_policy(_def(cond), parameters={"effect": "Disabled"}).evaluate(RESOURCE)
    assert (v.compliant, v.effect) == (True, "disabled")
    v = compile_policy(_def(cond, effect="modify")).evaluate(RESOURCE)
    assert (v.compliant, v.effect) == (False, "modify")


def test_audit_if_not_exists_uses_related_resources() -> None:
    ds = "Microsoft.Insights/diagnosticSettings"
    d = _def(f("type", "equals", ST), effect="auditIfNotExists")
    d["properties"]["policyRule"]["then"]["details"] = {
        "type": ds,
        "existenceCondition": {
            "allOf": [
                f(f"{ds}/logs.enabled", "equals", "true"),
                {"value": "[field('name')]", "equals": "acct1"},  # field() refers to the evaluated resource
            ]
        },
    }
    policy = compile_policy(d)
    enabled = {"type": ds, "name": "s1", "properties": {"logs": [{"category": "a", "enabled": True}]}}
    disabled = {"type": ds, "name": "s2", "properties": {"logs": [{"category": "a", "enabled": False}]}}
    assert policy.evaluate(RESOURCE, related=lambda _r, _t: [disabled, enabled]).compliant is True
    assert policy.evaluate(RESOURCE, related=lambda _r, _t: [disabled]).compliant is False
    assert policy.evaluate(RESOURCE, related=lambda _r, _t: []).compliant is False
    unknown = policy.evaluate(RESOURCE, related=None)
    assert unknown.compliant is None
    assert unknown.effect == "auditIfNotExists"


def test_deploy_if_not_exists_with_details_name() -> None:
    ds = "Microsoft.Insights/diagnosticSettings"
    d = _def(f("type", "equals", ST), effect="deployIfNotExists")
    d["properties"]["policyRule"]["then"]["details"] = {"type": ds, "name": "vigil"}
    policy = compile_policy(d)
    assert policy.evaluate(RESOURCE, related=lambda _r, _t: [{"type": ds, "name": "other"}]).compliant is False
    v = policy.evaluate(RESOURCE, related=lambda _r, _t: [{"type": ds, "name": "VIGIL"}])
    assert (v.compliant, v.effect) == (True, "deployIfNotExists")


def test_mode_indexed_skips_resources_without_location() -> None:
    cond = f("name", "equals", "ra1")
    ra = {
        "id": "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra1",
        "name": "ra1",
        "type": "Microsoft.Authorization/roleAssignments",
    }
    assert compile_policy(_def(cond, mode="Indexed")).evaluate(ra).compliant is True
    assert compile_policy(_def(cond, mode="All")).evaluate(ra).compliant is False


def test_reason_names_expected_and_actual() -> None:
    v = compile_policy(
        _def({"allOf": [f("type", "equals", ST), f(f"{ST}/minimumTlsVersion", "notEquals", "TLS1_3")]})
    ).evaluate(RESOURCE)
    assert v.compliant is False
    assert "minimumTlsVersion" in v.reason
    assert "TLS1_2" in v.reason
    assert v.evidence
    held, expected, actual = v.evidence[0]
    assert held == f"field '{ST}/minimumTlsVersion' notEquals \"TLS1_3\""
    assert expected == f"field '{ST}/minimumTlsVersion' equals \"TLS1_3\""
    assert actual == '"TLS1_2"'


def test_applies_only_to_types_in_the_if() -> None:
    p = compile_policy(_def({"allOf": [f("type", "in", [ST, NSG]), f("name", "equals", "x")]}))
    assert p.types == frozenset({ST.lower(), NSG.lower()})
    assert [v.rule for v in evaluate_all([p], RESOURCE)] == ["test-def"]
    kv = {"id": "/x", "type": "Microsoft.KeyVault/vaults", "name": "kv", "location": "x"}
    assert evaluate_all([p], kv) == []


# --- load errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "path_part", "message_part"),
    [
        ({"field": "type", "startsWith": "x"}, "policyRule.if.startsWith", "unsupported operator"),
        (
            {"allOf": [{"field": "type", "equals": "x"}, {"field": "name", "regex": "x"}]},
            "if.allOf[1].regex",
            "unsupported operator",
        ),
        ({"field": "type"}, "policyRule.if", "exactly one operator"),
        ({"equals": "x"}, "policyRule.if", "exactly one of"),
        ({"field": "properties.x", "equals": "x"}, "policyRule.if.field", "unsupported field"),
        ({"value": "[unknownFn('x')]", "equals": 1}, "policyRule.if.value", "unsupported template function"),
        ({"value": "[parameters('nope')]", "equals": 1}, "policyRule.if.value", "not defined"),
        ({"field": "type", "in": "notAnArray"}, "policyRule.if.in", "array"),
        ({"count": {"field": "Microsoft.Storage/storageAccounts/x"}, "equals": 1}, "if.count.field", "[*]"),
        ({"allOf": []}, "if.allOf", "non-empty"),
        ({"field": "type", "exists": "maybe"}, "if.exists", "true or false"),
    ],
)
def test_load_errors_name_the_json_path(cond: dict[str, Any], path_part: str, message_part: str) -> None:
    with pytest.raises(PolicyLoadError) as info:
        compile_policy(_def(cond), source="my-policy.json")
    err = info.value
    assert err.source == "my-policy.json"
    assert path_part in err.path, err.path
    assert message_part in err.message
    assert str(err).startswith("my-policy.json: $.properties.")


def test_load_errors_for_effect_mode_and_parameters() -> None:
    cond = f("type", "equals", ST)
    with pytest.raises(PolicyLoadError, match=r"then.effect: unsupported effect"):
        compile_policy(_def(cond, effect="explode"))
    with pytest.raises(PolicyLoadError, match=r"\$.properties.mode: unsupported mode"):
        compile_policy(_def(cond, mode="Microsoft.KeyVault.Data"))
    with pytest.raises(PolicyLoadError, match=r"parameters.effect: value 'Nope'"):
        compile_policy(_def(cond), parameters={"effect": "Nope"})
    with pytest.raises(PolicyLoadError, match=r"unknown parameter"):
        compile_policy(_def(cond), parameters={"typo": 1})
    with pytest.raises(PolicyLoadError, match=r"needs details.type"):
        compile_policy(_def(cond, effect="auditIfNotExists"))


# --- the selected-values tables of "Author policies for array properties" ------------

ARRAYS: dict[str, Any] = {
    "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Test/resourceType/t1",
    "name": "t1",
    "type": "Microsoft.Test/resourceType",
    "location": "westeurope",
    "tags": {"env": "prod"},
    "properties": {
        "stringArray": ["a", "b", "c"],
        "objectArray": [{"property": "value1", "nestedArray": [1, 2]}, {"property": "value2", "nestedArray": [3, 4]}],
    },
}
T = "Microsoft.Test/resourceType"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (f"[field('{T}/missingArray')]", ""),
        (f"[length(field('{T}/missingArray[*]'))]", 0),
        (f"[length(field('{T}/missingArray[*].property'))]", 0),
        (f"[field('{T}/stringArray')]", ["a", "b", "c"]),
        (f"[field('{T}/stringArray[*]')]", ["a", "b", "c"]),
        (f"[field('{T}/objectArray[*].property')]", ["value1", "value2"]),
        (f"[field('{T}/objectArray[*].nestedArray')]", [[1, 2], [3, 4]]),
        (f"[field('{T}/objectArray[*].nestedArray[*]')]", [1, 2, 3, 4]),
    ],
)
def test_field_function_selected_values(expr: str, expected: Any) -> None:
    cond = (
        {"value": expr, "equals": expected} if expected != "" else {"value": f"[empty({expr[1:-1]})]", "equals": True}
    )
    assert holds(cond, ARRAYS)


def test_missing_array_star_selects_an_empty_collection() -> None:
    # A condition over an empty collection has no member that fails it.
    assert holds(f(f"{T}/missingArray[*]", "equals", "x"), ARRAYS)
    assert holds(f(f"{T}/missingArray[*].property", "equals", "x"), ARRAYS)
    assert holds({"count": {"field": f"{T}/missingArray[*]"}, "equals": 0}, ARRAYS)
    assert holds(f(f"{T}/stringArray[*]", "in", ["a", "b", "c"]), ARRAYS)
    assert not holds(f(f"{T}/stringArray[*]", "equals", "a"), ARRAYS)


def test_count_examples_from_the_docs() -> None:
    assert holds({"count": {"field": f"{T}/stringArray[*]"}, "equals": 3}, ARRAYS)
    assert holds({"count": {"field": f"{T}/objectArray[*].nestedArray[*]"}, "greaterOrEquals": 4}, ARRAYS)
    one = {"count": {"field": f"{T}/stringArray[*]", "where": f(f"{T}/stringArray[*]", "equals", "a")}, "equals": 1}
    assert holds(one, ARRAYS)
    complex_where = {
        "count": {
            "field": f"{T}/objectArray[*]",
            "where": {
                "allOf": [
                    f(f"{T}/objectArray[*].property", "equals", "value2"),
                    f(f"{T}/objectArray[*].nestedArray[*]", "greater", 2),
                ]
            },
        },
        "equals": 1,
    }
    assert holds(complex_where, ARRAYS)
    outside = {"count": {"field": f"{T}/objectArray[*]", "where": f("tags.env", "equals", "prod")}, "equals": 2}
    assert holds(outside, ARRAYS)


def test_field_function_inside_where_returns_a_one_member_array() -> None:
    # Referencing the counted alias with field() inside `where` gives ["a"], not "a" ...
    as_array = {
        "count": {
            "field": f"{T}/stringArray[*]",
            "where": f(f"{T}/stringArray[*]", "equals", f"[field('{T}/stringArray[*]')]"),
        },
        "equals": 0,
    }
    assert holds(as_array, ARRAYS)
    # ... so first() gets the member.
    with_first = {
        "count": {
            "field": f"{T}/stringArray[*]",
            "where": f(f"{T}/stringArray[*]", "equals", f"[first(field('{T}/stringArray[*]'))]"),
        },
        "equals": 3,
    }
    assert holds(with_first, ARRAYS)


# --- documented details: errors, location, tag escapes, field expressions -------------


def test_ordering_type_mismatch_is_an_evaluation_error_reported_non_compliant() -> None:
    # "if the property type doesn't match the condition type, an error is thrown";
    # a failed evaluation is an implicit deny, so the verdict is non-compliant.
    v = compile_policy(_def(f(f"{ST}/minimumTlsVersion", "less", 5))).evaluate(RESOURCE)
    assert v.compliant is False
    assert v.reason.startswith("evaluation failed")


def test_template_function_error_is_an_evaluation_error() -> None:
    v = compile_policy(_def({"value": "[substring(field('name'), 0, 30)]", "equals": "x"})).evaluate(RESOURCE)
    assert v.compliant is False
    assert "evaluation failed" in v.reason
    # the documented if() guard avoids it
    guarded = {
        "value": "[if(greaterOrEquals(length(field('name')), 30), substring(field('name'), 0, 30), 'short')]",
        "equals": "short",
    }
    assert holds(guarded)


def test_location_is_normalised() -> None:
    assert holds(f("location", "equals", "West Europe"))
    assert holds(f("location", "in", ["East US 2", "West Europe"]))
    assert holds(f("location", "equals", "westeurope"), {**RESOURCE, "location": "West Europe"})


def test_tag_name_with_escaped_apostrophes() -> None:
    res = {**RESOURCE, "tags": {"'My.Apostrophe.Tag'": "yes", "Acct.CostCenter": "42"}}
    assert holds(f("tags['''My.Apostrophe.Tag''']", "equals", "yes"), res)
    assert holds(f("tags['Acct.CostCenter']", "equals", "42"), res)


def test_field_given_by_an_expression_over_parameters() -> None:
    cond = {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"}
    assert holds(cond, tagName="owner")
    assert not holds(cond, tagName="Env")


def test_value_count_default_name() -> None:
    cond = {"count": {"value": ["a", "b"], "where": {"value": "[current('default')]", "equals": "b"}}, "equals": 1}
    assert holds(cond)
