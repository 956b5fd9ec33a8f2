"""The organisation's own Azure Policy assignments on the event path.

The Function's ``resource_events`` front door (``vigil.functions.resource_events``, the function
``function_app`` indexes; get_functions() may run once per process and tests/test_function_app.py
runs it) is called with real ``azure.functions.EventGridEvent`` objects over a real runtime on
Azurite. ARM (resources, policy assignments, exemptions, definitions, diagnostic settings) is
the project's local HTTPS test server, reached by the real SDK pipeline with the runtime's
credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from core.state.base import Namespace
from detectors.drift.loader import builtin_definitions
from ingest.policy_state import ASSIGNMENTS_API_VERSION, EXEMPTIONS_API_VERSION
from tests.support.azure_server import AzureTestServer, Request, Response, arm_error
from tests.support.azurite import host_settings
from vigil import runtime_azure
from vigil.handlers import events as event_handlers
from vigil.runtime_azure import AzureRuntime, reset_runtime
from vigil.simulate.policy import RESTRICT_NETWORK, RESTRICT_NETWORK_ID, policy_assignment, policy_exemption

SUB_ID = "6a1d2c3b-0000-4000-8000-0000000000c3"
SUB = f"/subscriptions/{SUB_ID}"
AUTH = f"{SUB}/providers/Microsoft.Authorization"
ML_SET = "/providers/Microsoft.Authorization/policySetDefinitions/vigil-azure-ml-security"
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
NOW = datetime.now(UTC)
MESSAGE = "Storage firewalls must deny by default (SEC-7)."


def _account(rg: str, name: str) -> dict[str, Any]:
    """A storage account whose firewall admits every network (the built-in's non-compliance)."""
    return {
        "id": f"{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}",
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"},
        },
    }


def _workspace(rg: str, name: str) -> dict[str, Any]:
    return {
        "id": f"{SUB}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {"publicNetworkAccess": "Enabled", "hbiWorkspace": False},
    }


NETWORK = policy_assignment(
    SUB,
    "restrict-network",
    RESTRICT_NETWORK_ID,
    displayName="Storage accounts should restrict network access (org)",
    notScopes=[f"{SUB}/resourceGroups/rg-legacy"],
    nonComplianceMessages=[{"message": MESSAGE}],
    enforcementMode="DoNotEnforce",
)
ML = policy_assignment(
    SUB,
    "ml-security",
    ML_SET,
    displayName="Azure ML security baseline",
    parameters={"effect": {"value": "Deny"}, "isolationMode": {"value": "AllowOnlyApprovedOutbound"}},
    nonComplianceMessages=[
        {
            "message": "ML workspaces must be private.",
            "policyDefinitionReferenceId": "ml_workspace_public_network_access",
        }
    ],
)


def _exemptions(now: datetime) -> list[dict[str, Any]]:
    return [
        policy_exemption(f"{SUB}/resourceGroups/rg-waived", "waived", NETWORK["id"], "Waiver"),
        policy_exemption(
            f"{SUB}/resourceGroups/rg-expired",
            "expired",
            NETWORK["id"],
            "Mitigated",
            (now - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        ),
    ]


def _event(n: int, resource_id: str, when: datetime) -> func.EventGridEvent:
    rtype = "/".join(resource_id.rsplit("/providers/", maxsplit=1)[-1].split("/")[0:2])
    return func.EventGridEvent(
        id=f"00000000-0000-4000-8000-{n:012d}",
        data={
            "operationName": f"{rtype}/write",
            "resourceUri": resource_id,
            "status": "Succeeded",
            "correlationId": f"corr-{n}",
            "claims": {"name": "Dana Ops"},
        },
        topic=SUB,
        subject=resource_id,
        event_type=WRITE,
        event_time=when,
        data_version="2",
    )


@pytest.fixture
def arm_env(azurite: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AzureTestServer]:
    """A runtime on Azurite without a tenant folder: ARM is the local HTTPS test server."""
    env = host_settings(azurite.connection_string)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VIGIL_TENANT_DIR", raising=False)
    (tmp_path / "vigil.yaml").write_text(f"scopes:\n  subscriptions: ['{SUB_ID}']\n", encoding="utf-8")
    monkeypatch.setenv("VIGIL_CONFIG", str(tmp_path / "vigil.yaml"))
    monkeypatch.setattr(event_handlers, "_ASSIGNMENTS", {})
    reset_runtime()
    with AzureTestServer() as server:
        rt = AzureRuntime.from_env(credential=server.credential(), azure_client_kwargs=server.client_kwargs())
        monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)
        yield server
    reset_runtime()


def _serve_policy(server: AzureTestServer, exemptions: list[dict[str, Any]]) -> None:
    server.add_list("GET", f"{AUTH}/policyAssignments", [NETWORK, ML], api_versions={ASSIGNMENTS_API_VERSION})
    server.add_list("GET", f"{AUTH}/policyExemptions", exemptions, api_versions={EXEMPTIONS_API_VERSION})
    definitions = {RESTRICT_NETWORK_ID: RESTRICT_NETWORK}
    for did, doc in definitions.items():
        server.route(
            "GET", re.escape(did), lambda _r, _m, d=doc: Response(200, d), api_versions={ASSIGNMENTS_API_VERSION}
        )


def _serve_resources(server: AzureTestServer, resources: list[dict[str, Any]]) -> None:
    for r in resources:
        version = "2024-10-01" if "MachineLearning" in r["type"] else "2023-05-01"
        server.add_resource(r, api_versions={version})
    server.add_list("GET", r".*/providers/Microsoft\.Insights/diagnosticSettings", [])


def _verdicts() -> dict[tuple[str, str], dict[str, Any]]:
    store = runtime_azure.get_runtime().store
    return {(v.value["resource_id"], v.value["rule"]): dict(v.value) for v in store.query(Namespace.VERDICTS)}


def _alerts() -> list[dict[str, Any]]:
    store = runtime_azure.get_runtime().store
    return [dict(a.value) for a in store.query(Namespace.ALERTS)]


def test_assignment_fires_within_the_event_handler_and_scopes_and_exemptions_suppress(
    arm_env: AzureTestServer,
) -> None:
    from vigil.functions import resource_events

    server = arm_env
    apps = _account("rg-apps", "stapps")
    legacy = _account("rg-legacy", "stlegacy")  # notScopes
    waived = _account("rg-waived", "stwaived")  # Waiver exemption, no expiry
    expired = _account("rg-expired", "stexpired")  # exemption expired yesterday: evaluated again
    _serve_policy(server, _exemptions(NOW))
    _serve_resources(server, [apps, legacy, waived, expired])
    when = NOW - timedelta(seconds=5)
    for n, r in enumerate([apps, legacy, waived, expired]):
        resource_events(_event(n, r["id"], when))

    rule = "assignment:restrict-network"
    verdicts = _verdicts()
    assert verdicts[(apps["id"].lower(), rule)]["compliant"] is False
    assert verdicts[(expired["id"].lower(), rule)]["compliant"] is False
    assert verdicts[(waived["id"].lower(), rule)]["compliant"] is True  # exempt
    assert (legacy["id"].lower(), rule) not in verdicts  # not in scope: not evaluated at all
    # the assignments were read once for the four events (cached for ASSIGNMENTS_REFRESH)
    assert len(server.requests_to(re.escape(f"{AUTH}/policyAssignments"), "GET")) == 1
    assert len(server.requests_to(re.escape(RESTRICT_NETWORK_ID), "GET")) == 1

    alerts = [a for a in _alerts() if rule in str(a)]
    fired = sorted(str(a) for a in alerts)
    assert len(alerts) == 2, fired
    text = " ".join(fired)
    assert "stapps" in text
    assert "stexpired" in text
    assert "stwaived" not in text
    assert "stlegacy" not in text
    for expected in (NETWORK["id"], "Storage accounts should restrict network access (org)", MESSAGE, "DoNotEnforce"):
        assert expected in text


def test_initiative_assignment_with_parameters_on_the_event_path(arm_env: AzureTestServer) -> None:
    from vigil.functions import resource_events

    server = arm_env
    ws = _workspace("rg-ml", "mlw-public")
    _serve_policy(server, [])
    for did, doc in builtin_definitions().items():  # Vigil's initiative, deployed as custom definitions
        server.route(
            "GET", re.escape(did), lambda _r, _m, d=doc: Response(200, d), api_versions={ASSIGNMENTS_API_VERSION}
        )
    _serve_resources(server, [ws])
    resource_events(_event(1, ws["id"], NOW - timedelta(seconds=5)))

    rule = "assignment:ml-security/ml_workspace_public_network_access"
    v = _verdicts()[(ws["id"].lower(), rule)]
    assert v["compliant"] is False
    assert v["assignment_id"] == ML["id"]
    (alert,) = [a for a in _alerts() if rule in str(a)]
    text = str(alert)
    assert "ML workspaces must be private." in text  # the member's own nonComplianceMessage
    assert ML_SET in text
    assert "'effect': 'deny'" in text


def test_related_resources_are_read_once_per_scope_and_type_per_invocation(tmp_path: Path) -> None:
    """auditIfNotExists members of two assignments on one resource, and the pack's rule, share one read."""
    from core.state.sqlite import SQLiteStore
    from detectors.drift.assignments import AssignmentSet, PolicyDocuments
    from detectors.drift.loader import RuleSet, builtin_rules
    from vigil import drift_path

    docs = PolicyDocuments()
    for did, doc in builtin_definitions().items():
        docs.add(doc, did)
    docs.add(ML, "ml")
    docs.add({**ML, "id": ML["id"] + "-2", "name": "ml-security-2"}, "ml2")
    org = AssignmentSet.from_documents(docs)
    assert len(org) == 2
    assert not org.errors

    class Reader:
        def __init__(self) -> None:
            self.listed: list[tuple[str, str]] = []
            self.ws = [_workspace("rg-ml", "a"), _workspace("rg-ml", "b")]

        def get(self, rid: str) -> dict[str, Any] | None:
            return next((w for w in self.ws if w["id"].lower() == rid.lower()), None)

        def related(self, rid: str, rtype: str) -> list[dict[str, Any]]:
            self.listed.append((rid.lower(), rtype.lower()))
            return []

    reader = Reader()
    events = [
        {
            "id": f"e{i}",
            "topic": SUB,
            "subject": w["id"],
            "eventType": WRITE,
            "eventTime": (NOW - timedelta(seconds=10 - i)).isoformat(),
            "data": {"resourceUri": w["id"], "operationName": "x/write"},
            "dataVersion": "2",
            "metadataVersion": "1",
        }
        for i, w in enumerate(reader.ws * 2)  # each workspace twice in the batch
    ]
    result = drift_path.handle_events(
        events,
        store=SQLiteStore(tmp_path / "state.db"),
        reader=reader,
        rules=RuleSet(builtin_rules()),
        now=NOW,
        assignments=org,
    )
    assert result.processed == 4
    assert reader.listed, "the auditIfNotExists members read diagnostic settings"
    assert len(reader.listed) == len(set(reader.listed)) == 2  # one per workspace scope, for the whole batch
    assert result.related_reads == 2


def test_assignments_are_reread_after_the_refresh_interval_and_a_failed_read_keeps_the_pack(
    arm_env: AzureTestServer,
) -> None:
    from vigil.functions import resource_events

    server = arm_env
    state = {"status": 403}

    def assignments(_req: Request, _m: Any) -> Response:
        if state["status"] != 200:
            return arm_error(
                state["status"], "AuthorizationFailed", "no Microsoft.Authorization/policyAssignments/read"
            )
        return Response(200, {"value": [NETWORK]})

    server.route("GET", re.escape(f"{AUTH}/policyAssignments"), assignments, api_versions={ASSIGNMENTS_API_VERSION})
    server.add_list("GET", f"{AUTH}/policyExemptions", [], api_versions={EXEMPTIONS_API_VERSION})
    server.route(
        "GET",
        re.escape(RESTRICT_NETWORK_ID),
        lambda _r, _m: Response(200, RESTRICT_NETWORK),
        api_versions={ASSIGNMENTS_API_VERSION},
    )
    ws = _workspace("rg-ml", "mlw-public")
    account = _account("rg-apps", "stapps")
    _serve_resources(server, [ws, account])
    listed = lambda: len(server.requests_to(re.escape(f"{AUTH}/policyAssignments"), "GET"))  # noqa: E731

    # ARM refuses the assignments: the rule pack still evaluates the event.
    resource_events(_event(1, ws["id"], NOW - timedelta(seconds=5)))
    assert _verdicts()[(ws["id"].lower(), "ml_workspace_public_network_access")]["compliant"] is False
    assert listed() == 1

    rt = runtime_azure.get_runtime()
    t0 = rt.now()
    state["status"] = 200
    assert len(event_handlers.org_assignments(rt, t0 + timedelta(seconds=30))) == 0  # failure kept for a minute
    assert listed() == 1
    assert len(event_handlers.org_assignments(rt, t0 + event_handlers.ASSIGNMENTS_RETRY)) == 1  # retried
    assert listed() == 2
    later = t0 + event_handlers.ASSIGNMENTS_RETRY + event_handlers.ASSIGNMENTS_REFRESH
    assert len(event_handlers.org_assignments(rt, later - timedelta(seconds=1))) == 1  # cached
    assert listed() == 2
    assert len(event_handlers.org_assignments(rt, later)) == 1  # refreshed
    assert listed() == 3

    resource_events(_event(2, account["id"], NOW - timedelta(seconds=4)))
    assert _verdicts()[(account["id"].lower(), "assignment:restrict-network")]["compliant"] is False


def test_tenant_folder_assignment_that_does_not_compile_is_left_out_with_its_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulated tenant's policy/ plus a broken assignment: the broken one is logged with its
    file and JSON path and left out; the good one still fires; the rule pack still evaluates."""
    import json
    import logging
    import shutil

    from core.state import open_store
    from vigil.config import parse_config
    from vigil.handlers import handle_resource_events
    from vigil.runtime_local import LocalRuntime
    from vigil.simulate import simulate
    from vigil.tenant import TenantFolder

    sim = simulate(tmp_path / "sim")
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    broken = policy_assignment(SUB, "broken", "/providers/Microsoft.Authorization/policyDefinitions/nope")
    (tenant / "policy" / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    store = open_store("sqlite", path=tmp_path / "state.db")
    try:
        rt = LocalRuntime(parse_config({}), store, tmp_path / "blobs", settings={"VIGIL_TENANT_DIR": str(tenant)})
        with caplog.at_level(logging.WARNING, logger="vigil.handlers.events"):
            out = handle_resource_events(list(TenantFolder(tenant).events()), rt)
        verdicts = {(v.value["rule"], v.value["resource_id"]): v.value for v in store.query(Namespace.VERDICTS)}
    finally:
        store.close()
    assert out["drift"]["firing"] == 2
    assert (
        verdicts[("ml_workspace_public_network_access", sim.planted["drift_workspace"].lower())]["compliant"] is False
    )
    org = verdicts[("assignment:restrict-storage-network", sim.planted["org_policy_storage"].lower())]
    assert org["compliant"] is False
    assert not [k for k in verdicts if k[0].startswith("assignment:broken")]
    (warning,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "broken.json" in warning
    assert "$.properties.policyDefinitionId" in warning
