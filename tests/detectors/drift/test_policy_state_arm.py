"""An organisation's own Azure Policy assignments, read from ARM with the real SDK pipeline
(local HTTPS ARM test server) and evaluated by the drift engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detectors.drift.assignments import PolicyDocuments
from detectors.drift.engine import EvalEnv
from detectors.drift.loader import builtin_definitions
from ingest.policy_state import ASSIGNMENTS_API_VERSION, EXEMPTIONS_API_VERSION, read_policy_documents
from tests.support.azure_server import AzureTestServer, Request, Response

SUB_ID = "6a1d2c3b-0000-4000-8000-0000000000b2"
SUB = f"/subscriptions/{SUB_ID}"
AUTH = f"{SUB}/providers/Microsoft.Authorization"
ML_SET = "/providers/Microsoft.Authorization/policySetDefinitions/vigil-azure-ml-security"
STORAGE_HTTPS = "/providers/Microsoft.Authorization/policyDefinitions/vigil-storage_https_only"


def _assignment(name: str, definition_id: str, **props: Any) -> dict[str, Any]:
    return {
        "id": f"{AUTH}/policyAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policyAssignments",
        "location": "westeurope",
        "properties": {"policyDefinitionId": definition_id, "scope": SUB, "enforcementMode": "Default", **props},
    }


def test_assignments_exemptions_and_their_definitions_from_arm() -> None:
    definitions = builtin_definitions()  # served by ARM as if deployed as custom definitions
    assignments = [
        _assignment("ml-security", ML_SET, parameters={"effect": {"value": "Deny"}}),
        _assignment("https-only", STORAGE_HTTPS, notScopes=[f"{SUB}/resourceGroups/legacy"]),
    ]
    exemption = {
        "id": f"{SUB}/resourceGroups/ml/providers/Microsoft.Authorization/policyExemptions/cmk",
        "name": "cmk",
        "type": "Microsoft.Authorization/policyExemptions",
        "properties": {
            "policyAssignmentId": assignments[0]["id"],
            "policyDefinitionReferenceIds": ["ml_workspace_cmk"],
            "exemptionCategory": "Mitigated",
            "expiresOn": "2027-06-30T00:00:00Z",
        },
    }
    with AzureTestServer() as server:

        def page(items: list[dict[str, Any]]) -> Any:
            def handler(req: Request, _m: Any) -> Response:
                i = int(req.param("page") or 0)
                body: dict[str, Any] = {"value": items[i : i + 1]}
                if i + 1 < len(items):
                    body["nextLink"] = f"{server.url}{req.path}?api-version={req.api_version}&page={i + 1}"
                return Response(200, body)

            return handler

        server.route("GET", rf"{AUTH}/policyAssignments", page(assignments), api_versions={ASSIGNMENTS_API_VERSION})
        server.route("GET", rf"{AUTH}/policyExemptions", page([exemption]), api_versions={EXEMPTIONS_API_VERSION})
        for did, doc in definitions.items():
            server.route(
                "GET",
                did.replace(".", r"\."),
                lambda _r, _m, d=doc: Response(200, d),
                api_versions={ASSIGNMENTS_API_VERSION},
            )
        docs = read_policy_documents(server.credential(), SUB_ID, **server.client_kwargs())
        fetched = [
            r.path for r in server.requests if "policyDefinitions/" in r.path or "policySetDefinitions/" in r.path
        ]

    # the set, its 9 members, and the storage definition were fetched once each
    assert len(fetched) == 11
    assert len(set(fetched)) == 11
    pd = PolicyDocuments()
    for d in docs:
        pd.add(d, "arm")
    compiled = {a.name: a for a in pd.compile()}
    assert set(compiled) == {"ml-security", "https-only"}
    env = EvalEnv(now=datetime(2026, 12, 7, tzinfo=UTC))
    ws = {
        "id": f"{SUB}/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/ws",
        "name": "ws",
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "properties": {"publicNetworkAccess": "Enabled", "encryption": {"status": "Disabled"}},
    }
    got = {v.rule: v for v in compiled["ml-security"].evaluate(ws, env=env, exemptions=pd.exemptions)}
    assert got["ml-security/ml_workspace_public_network_access"].compliant is False
    assert got["ml-security/ml_workspace_public_network_access"].effect == "deny"
    assert got["ml-security/ml_workspace_cmk"].reason.startswith("exempt (Mitigated)")
    account = {
        "id": f"{SUB}/resourceGroups/legacy/providers/Microsoft.Storage/storageAccounts/old",
        "name": "old",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "properties": {"supportsHttpsTrafficOnly": False},
    }
    assert compiled["https-only"].evaluate(account, env=env) == []  # notScopes
    moved = {**account, "id": account["id"].replace("/legacy/", "/apps/")}
    (v,) = compiled["https-only"].evaluate(moved, env=env)
    assert v.compliant is False


def test_definitions_the_caller_knows_are_not_fetched() -> None:
    with AzureTestServer() as server:
        server.add_list(
            "GET",
            f"{AUTH}/policyAssignments",
            [_assignment("https-only", STORAGE_HTTPS)],
            api_versions={ASSIGNMENTS_API_VERSION},
        )
        server.add_list("GET", f"{AUTH}/policyExemptions", [], api_versions={EXEMPTIONS_API_VERSION})
        docs = read_policy_documents(
            server.credential(), SUB_ID, known_definitions=[STORAGE_HTTPS.upper()], **server.client_kwargs()
        )
        assert not server.requests_to(r".*/policyDefinitions/.*")
    assert [d["name"] for d in docs] == ["https-only"]
