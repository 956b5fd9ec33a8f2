"""Initiatives, assignments (scope, notScopes, parameters, enforcementMode, nonComplianceMessages)
and exemptions (Waiver/Mitigated, expiry), with the Azure ML rule pack shipped as an initiative."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from detectors.drift.assignments import compile_assignment, load_policy_documents, parse_exemption
from detectors.drift.engine import EvalEnv, PolicyLoadError
from detectors.drift.loader import builtin_definitions

SUB = "/subscriptions/6a1d2c3b-0000-4000-8000-0000000000a1"
RG = f"{SUB}/resourceGroups/ml-prod"
ML_SET = "/providers/Microsoft.Authorization/policySetDefinitions/vigil-azure-ml-security"
ASSIGNMENT_ID = f"{SUB}/providers/Microsoft.Authorization/policyAssignments/ml-security"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

WORKSPACE = {
    "id": f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws1",
    "name": "ws1",
    "type": "Microsoft.MachineLearningServices/workspaces",
    "location": "westeurope",
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "publicNetworkAccess": "Enabled",
        "encryption": {"status": "Disabled"},
        "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
        "privateEndpointConnections": [],
    },
}


def assignment(**props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"policyDefinitionId": ML_SET, "scope": SUB}
    base.update(props)
    return {
        "id": ASSIGNMENT_ID,
        "name": "ml-security",
        "type": "Microsoft.Authorization/policyAssignments",
        "properties": base,
    }


def verdicts(a: Any, resource: dict[str, Any] = WORKSPACE, **kw: Any) -> dict[str, Any]:
    return {
        v.rule.split("/", 1)[1]: v for v in a.evaluate(resource, related=lambda _r, _t: [], env=EvalEnv(now=NOW), **kw)
    }


def test_ml_initiative_binds_set_parameters_to_its_members() -> None:
    a = compile_assignment(assignment(parameters={"effect": {"value": "Deny"}}), builtin_definitions())
    effects = {m.reference_id: m.policy.effect for m in a.members}
    assert len(effects) == 9
    assert effects["ml_workspace_public_network_access"] == "deny"
    assert effects["ml_workspace_private_link"] == "audit"  # auditEffect keeps its default
    assert effects["ml_workspace_diagnostic_logs"] == "auditifnotexists"
    got = verdicts(a)
    assert set(got) == {
        "ml_workspace_private_link",
        "ml_workspace_public_network_access",
        "ml_workspace_cmk",
        "ml_workspace_user_assigned_identity",
        "ml_workspace_managed_network_outbound",
        "ml_workspace_diagnostic_logs",
    }  # the compute rules do not apply to a workspace
    assert got["ml_workspace_public_network_access"].compliant is False
    assert got["ml_workspace_public_network_access"].rule == "ml-security/ml_workspace_public_network_access"
    assert got["ml_workspace_managed_network_outbound"].compliant is True


def test_a_parameter_outside_the_allowed_values_is_a_load_error() -> None:
    with pytest.raises(PolicyLoadError, match=r"parameters.auditEffect: value 'Deny' is not one of"):
        compile_assignment(
            assignment(parameters={"auditEffect": {"value": "Deny"}}), builtin_definitions(), source="a.json"
        )


def test_scope_and_not_scopes() -> None:
    a = compile_assignment(assignment(notScopes=[RG]), builtin_definitions())
    assert a.evaluate(WORKSPACE) == []
    other = compile_assignment(assignment(scope="/subscriptions/another"), builtin_definitions())
    assert other.evaluate(WORKSPACE) == []
    rg_scoped = compile_assignment(assignment(scope=RG.upper()), builtin_definitions())
    assert rg_scoped.evaluate(WORKSPACE, env=EvalEnv(now=NOW), related=lambda _r, _t: [])


def test_non_compliance_messages_and_enforcement_mode() -> None:
    messages = [
        {"message": "Workspaces must follow the ML security baseline."},
        {
            "message": "Disable public network access.",
            "policyDefinitionReferenceId": "ml_workspace_public_network_access",
        },
    ]
    a = compile_assignment(
        assignment(nonComplianceMessages=messages, enforcementMode="DoNotEnforce"), builtin_definitions()
    )
    got = verdicts(a)
    assert got["ml_workspace_public_network_access"].reason.startswith("Disable public network access. (")
    assert got["ml_workspace_cmk"].reason.startswith("Workspaces must follow the ML security baseline. (")
    assert "enforcementMode DoNotEnforce" in got["ml_workspace_cmk"].reason
    assert "Workspaces must" not in got["ml_workspace_managed_network_outbound"].reason  # compliant: no message


def _exemption(**props: Any) -> Any:
    base = {"policyAssignmentId": ASSIGNMENT_ID, "exemptionCategory": "Waiver"}
    base.update(props)
    doc = {"id": f"{RG}/providers/Microsoft.Authorization/policyExemptions/ex1", "name": "ex1", "properties": base}
    return parse_exemption(doc)


def test_exemptions_waiver_mitigated_and_expiry() -> None:
    a = compile_assignment(assignment(), builtin_definitions())
    waiver = _exemption(policyDefinitionReferenceIds=["ml_workspace_cmk"], expiresOn="2027-01-01T00:00:00Z")
    got = verdicts(a, exemptions=[waiver])
    assert got["ml_workspace_cmk"].compliant is True
    assert got["ml_workspace_cmk"].reason.startswith("exempt (Waiver) by ")
    assert got["ml_workspace_public_network_access"].compliant is False  # not listed in the exemption
    expired = _exemption(policyDefinitionReferenceIds=["ml_workspace_cmk"], expiresOn="2026-12-01T00:00:00Z")
    assert verdicts(a, exemptions=[expired])["ml_workspace_cmk"].compliant is False
    mitigated = _exemption(exemptionCategory="Mitigated")
    assert all(v.compliant is True and "Mitigated" in v.reason for v in verdicts(a, exemptions=[mitigated]).values())
    other_rg = parse_exemption(
        {
            "id": f"{SUB}/resourceGroups/other/providers/Microsoft.Authorization/policyExemptions/ex2",
            "properties": {"policyAssignmentId": ASSIGNMENT_ID, "exemptionCategory": "Waiver"},
        }
    )
    assert verdicts(a, exemptions=[other_rg])["ml_workspace_cmk"].compliant is False
    with pytest.raises(PolicyLoadError, match="exemptionCategory: must be Waiver or Mitigated"):
        _exemption(exemptionCategory="Forever")


def test_policy_function_sees_the_assignment_and_reference() -> None:
    definition = {
        "id": f"{SUB}/providers/Microsoft.Authorization/policyDefinitions/who",
        "name": "who",
        "properties": {
            "mode": "All",
            "policyRule": {
                "if": {"value": "[concat(policy().assignmentId, '|', policy().definitionReferenceId)]", "like": "*|*"},
                "then": {"effect": "audit"},
            },
        },
    }
    a = compile_assignment(
        {"id": ASSIGNMENT_ID, "name": "who", "properties": {"policyDefinitionId": definition["id"], "scope": SUB}},
        {definition["id"]: definition},
    )
    (v,) = a.evaluate(WORKSPACE)
    assert v.compliant is False
    assert ASSIGNMENT_ID in v.reason


def test_tenant_folder_with_assignments_exemptions_and_custom_definitions(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "assignments.json").write_text(
        json.dumps({"value": [assignment(parameters={"effect": {"value": "Deny"}})]})
    )
    (folder / "exemptions.json").write_text(
        json.dumps([{**_exemption_doc(), "type": "Microsoft.Authorization/policyExemptions"}])
    )
    docs = load_policy_documents([folder])
    (a,) = docs.compile(builtin_definitions())
    assert a.members[1].policy.effect == "deny"
    got = {
        v.rule: v
        for v in a.evaluate(WORKSPACE, exemptions=docs.exemptions, env=EvalEnv(now=NOW), related=lambda _r, _t: [])
    }
    assert got["ml-security/ml_workspace_cmk"].reason.startswith("exempt (Waiver)")
    (folder / "bad.json").write_text(json.dumps({"properties": {"policyDefinitionId": "/providers/x/none"}}))
    with pytest.raises(PolicyLoadError, match=r"bad.json: \$.properties.policyDefinitionId: unknown definition or set"):
        load_policy_documents([folder]).compile(builtin_definitions())


def _exemption_doc() -> dict[str, Any]:
    return {
        "id": f"{RG}/providers/Microsoft.Authorization/policyExemptions/cmk-waiver",
        "name": "cmk-waiver",
        "properties": {
            "policyAssignmentId": ASSIGNMENT_ID,
            "exemptionCategory": "Waiver",
            "policyDefinitionReferenceIds": ["ml_workspace_cmk"],
        },
    }


def test_cli_evaluates_assignments_with_exemptions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigil.cli.main import app

    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "assignments.json").write_text(json.dumps([assignment(), _exemption_doc()]))
    (tmp_path / "ws.json").write_text(json.dumps(WORKSPACE))
    result = CliRunner().invoke(
        app,
        [
            "drift",
            "evaluate",
            "--resources",
            str(tmp_path / "ws.json"),
            "--assignments",
            str(tmp_path / "policy"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["rule"]: r for r in (json.loads(line) for line in result.stdout.splitlines())}
    assert rows["ml-security/ml_workspace_public_network_access"]["compliant"] is False
    assert rows["ml-security/ml_workspace_cmk"]["reason"].startswith("exempt (Waiver)")
    assert "ml_workspace_cmk" not in rows  # the built-in pack is not evaluated on its own with --assignments
