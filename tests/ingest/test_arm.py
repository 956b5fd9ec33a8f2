"""ARM GET and Resource Graph readers, with the real SDK clients against the local HTTPS server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient

from core.state.sqlite import SQLiteStore
from detectors.drift.loader import RuleSet, builtin_rules
from ingest.arm import ArmReader, resource_graph_query, resource_graph_sweep, type_of
from tests.support.azure_server import AzureTestServer, StaticTokenCredential
from vigil.drift_path import handle_events, handle_resources

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
WS_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws1"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "arm"


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


def _ws(pna: str = "Enabled") -> dict[str, Any]:
    return {
        "id": WS_ID,
        "name": "ws1",
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "properties": {"publicNetworkAccess": pna},
    }


def _reader(server: AzureTestServer) -> ArmReader:
    return ArmReader(server.credential(), SUB, **server.client_kwargs())


def test_type_of() -> None:
    assert type_of(WS_ID + "/computes/c1") == "microsoft.machinelearningservices/workspaces/computes"
    assert (
        type_of(f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/d") == "microsoft.insights/diagnosticsettings"
    )
    assert type_of(f"/subscriptions/{SUB}") == "microsoft.resources/subscriptions"


def test_get_by_id_uses_type_api_version_and_bearer(server: AzureTestServer) -> None:
    server.add_resource(_ws(), api_versions={"2024-10-01"})
    reader = _reader(server)
    got = reader.get(WS_ID)
    assert got == _ws()  # raw ARM JSON, camelCase kept
    [req] = server.requests_to("workspaces/ws1")
    assert req.api_version == "2024-10-01"
    assert req.headers["Authorization"] == f"Bearer {server.token}"


def test_404_means_deleted(server: AzureTestServer) -> None:
    assert _reader(server).get(WS_ID) is None


def test_wrong_api_version_is_rejected_by_the_server(server: AzureTestServer) -> None:
    server.add_resource(_ws(), api_versions={"2099-01-01"})
    with pytest.raises(HttpResponseError) as info:
        _reader(server).get(WS_ID)
    assert info.value.status_code == 400
    assert "InvalidApiVersionParameter" in str(info.value)


def test_unknown_type_api_version_comes_from_provider_and_is_cached(server: AzureTestServer) -> None:
    rid = f"{RG}/providers/Microsoft.Web/sites/app1"
    server.add_resource({"id": rid, "name": "app1", "type": "Microsoft.Web/sites"}, api_versions={"2023-12-01"})
    provider = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Web",
        "namespace": "Microsoft.Web",
        "resourceTypes": [
            {"resourceType": "sites", "apiVersions": ["2024-01-01-preview", "2023-12-01", "2022-03-01"]},
            {"resourceType": "serverFarms", "apiVersions": ["2023-01-01"]},
        ],
    }
    server.route(
        "GET", rf"/subscriptions/{SUB}/providers/Microsoft\.Web", lambda _r, _m: provider, api_versions={"2021-04-01"}
    )
    reader = ArmReader(server.credential(), **server.client_kwargs())  # no subscription: taken from the id
    assert reader.get(rid) is not None
    assert reader.get(rid) is not None
    assert len(server.requests_to(r"/providers/Microsoft\.Web$")) == 1  # cached
    assert [r.api_version for r in server.requests_to("sites/app1")] == ["2023-12-01", "2023-12-01"]


def test_429_with_retry_after_is_retried(server: AzureTestServer) -> None:
    server.add_resource(_ws())
    server.throttle(1, retry_after=1, pattern="workspaces/ws1")
    assert _reader(server).get(WS_ID) is not None
    statuses = [r.status for r in server.requests_to("workspaces/ws1")]
    assert statuses == [429, 200]


def test_bad_token_is_rejected(server: AzureTestServer) -> None:
    server.add_resource(_ws())
    client = ResourceManagementClient(StaticTokenCredential("wrong"), SUB, **server.client_kwargs())
    with pytest.raises(ClientAuthenticationError):
        ArmReader(client=client).get(WS_ID)


def test_related_diagnostic_settings_are_listed_with_paging(server: AzureTestServer) -> None:
    settings = [
        {
            "id": f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/d{i}",
            "name": f"d{i}",
            "type": "Microsoft.Insights/diagnosticSettings",
            "properties": {"logs": []},
        }
        for i in range(3)
    ]
    server.add_list(
        "GET",
        rf"{WS_ID}/providers/Microsoft\.Insights/diagnosticSettings",
        settings,
        page_size=2,
        api_versions={"2021-05-01-preview"},
    )
    got = _reader(server).related(WS_ID, "Microsoft.Insights/diagnosticSettings")
    assert [s["name"] for s in got or []] == ["d0", "d1", "d2"]
    assert len(server.requests_to("diagnosticSettings")) == 2


def test_list_by_resource_group_pages_with_skip_token(server: AzureTestServer) -> None:
    items = [_ws() | {"name": f"ws{i}"} for i in range(5)]
    server.add_list(
        "GET", rf"/subscriptions/{SUB}/resourceGroups/rg/resources", items, page_size=2, api_versions={"2025-04-01"}
    )
    client = ResourceManagementClient(server.credential(), SUB, **server.client_kwargs())
    names = [r.name for r in client.resources.list_by_resource_group("rg")]
    assert names == [f"ws{i}" for i in range(5)]
    reqs = server.requests_to("/resources$")
    assert [r.param("$skipToken") for r in reqs] == [None, "2", "4"]


def test_long_running_delete_polls_until_done(server: AzureTestServer) -> None:
    ops = server.add_lro("DELETE", rf"{RG}/providers/Microsoft\.Web/sites/app1", polls=2, api_versions={"2023-12-01"})
    client = ResourceManagementClient(server.credential(), SUB, polling_interval=0, **server.client_kwargs())
    client.resources.begin_delete_by_id(f"{RG}/providers/Microsoft.Web/sites/app1", api_version="2023-12-01").result()
    assert len(ops) == 1
    assert len(server.requests_to("/vigil-test/operations/")) == 3


def test_resource_graph_sweep_pages_across_scopes(server: AzureTestServer) -> None:
    rows = [_ws() | {"id": f"{WS_ID}{i}", "name": f"ws1{i}"} for i in range(5)]
    bodies = server.add_resource_graph(rows, page_size=2)
    server.throttle(1, retry_after=1, pattern="ResourceGraph")
    got = list(
        resource_graph_sweep(
            server.credential(),
            query="resources | where type =~ 'microsoft.machinelearningservices/workspaces'",
            subscriptions=[SUB],
            management_groups=["mg1"],
            page_size=100,
            **server.client_kwargs(),
        )
    )
    assert [r["name"] for r in got] == [f"ws1{i}" for i in range(5)]
    assert [b["options"].get("$skipToken") for b in bodies] == [None, "2", "4"]
    assert bodies[0]["subscriptions"] == [SUB]
    assert bodies[0]["managementGroups"] == ["mg1"]
    assert server.requests_to("ResourceGraph")[0].status == 429


def test_resource_graph_query_per_table() -> None:
    q = resource_graph_query(["Microsoft.Storage/storageAccounts", "Microsoft.Authorization/roleAssignments"])
    assert set(q) == {"resources", "authorizationresources"}
    assert "'microsoft.storage/storageaccounts'" in q["resources"]


def _event(rid: str, eid: str) -> dict[str, Any]:
    return {
        "id": eid,
        "subject": rid,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": "2026-11-27T09:00:00Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "resourceUri": rid,
            "correlationId": "c1",
            "claims": {"upn": "eve@contoso.com"},
            "status": "Succeeded",
        },
    }


def test_event_path_reads_through_arm(server: AzureTestServer, tmp_path: Path) -> None:
    server.add_resource(_ws("Enabled"), api_versions={"2024-10-01"})
    server.add_list(
        "GET", rf"{WS_ID}/providers/Microsoft\.Insights/diagnosticSettings", [], api_versions={"2021-05-01-preview"}
    )
    store = SQLiteStore(tmp_path / "s.db")
    now = datetime(2026, 11, 27, 9, 0, 5, tzinfo=UTC)
    res = handle_events(
        [_event(WS_ID, "e1")], store=store, reader=_reader(server), rules=RuleSet(builtin_rules()), now=now
    )
    fired = {f.rule for f in res.findings}
    assert "ml_workspace_public_network_access" in fired
    assert "ml_workspace_diagnostic_logs" in fired  # the ARM list of diagnostic settings was empty
    store.close()


def test_sweep_path_over_resource_graph(server: AzureTestServer, tmp_path: Path) -> None:
    if not (SAMPLES / "spec_ml_2025-09-01_Workspace_get.json").exists():
        pytest.skip("samples absent")
    ws = json.loads((SAMPLES / "spec_ml_2025-09-01_Workspace_get.json").read_text())["responses"]["200"]["body"]
    ci = json.loads((SAMPLES / "spec_ml_2025-09-01_Compute_get_ComputeInstance.json").read_text())["responses"]["200"][
        "body"
    ]
    server.add_resource_graph([ws, ci], page_size=1)
    rules = RuleSet(builtin_rules())
    rows = resource_graph_sweep(
        server.credential(),
        query=resource_graph_query(["x/y"])["resources"],
        subscriptions=[SUB],
        **server.client_kwargs(),
    )
    store = SQLiteStore(tmp_path / "s.db")
    res = handle_resources(rows, store=store, rules=rules, now=datetime(2026, 11, 27, tzinfo=UTC))
    fired = sorted(f.rule for f in res.findings)
    assert fired == [
        "ml_compute_idle_shutdown",
        "ml_compute_local_auth",
        "ml_workspace_managed_network_outbound",
        "ml_workspace_user_assigned_identity",
    ]
    store.close()


def test_long_running_operation_with_location_header(server: AzureTestServer) -> None:
    rid = f"{RG}/providers/Microsoft.Web/sites/app2"
    server.add_lro("DELETE", rf"{rid}", polls=1, header="Location", api_versions={"2023-12-01"})
    client = ResourceManagementClient(server.credential(), SUB, polling_interval=0, **server.client_kwargs())
    client.resources.begin_delete_by_id(rid, api_version="2023-12-01").result()
    assert [r.status for r in server.requests_to("/vigil-test/operations/")] == [202, 200]


def test_unregistered_route_and_missing_api_version(server: AzureTestServer) -> None:
    server.add_resource(_ws(), api_versions={"2024-10-01"})
    client = ResourceManagementClient(server.credential(), SUB, **server.client_kwargs())
    from azure.core.rest import HttpRequest

    missing = client.send_request(HttpRequest("GET", WS_ID))
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    nowhere = client.send_request(HttpRequest("POST", "/nowhere", params={"api-version": "1"}))
    assert nowhere.status_code == 404


def test_forbidden_read_quarantines_the_event(server: AzureTestServer, tmp_path: Path) -> None:
    from tests.support.azure_server import arm_error

    server.route("GET", re.escape(WS_ID), lambda _r, _m: arm_error(403, "AuthorizationFailed", "no read"))
    store = SQLiteStore(tmp_path / "s.db")
    res = handle_events(
        [_event(WS_ID, "e1")],
        store=store,
        reader=_reader(server),
        rules=RuleSet(builtin_rules()),
        now=datetime(2026, 11, 27, 9, tzinfo=UTC),
    )
    [q] = res.quarantined
    assert q.event_id == "e1"
    assert "403" in q.reason
    assert res.findings == []
    store.close()


def test_request_context_api_version_is_the_one_read_with(server: AzureTestServer, tmp_path: Path) -> None:
    from detectors.drift.engine import compile_policy
    from detectors.drift.loader import DriftRule

    server.add_resource(_ws("Disabled"), api_versions={"2024-10-01"})
    policy = compile_policy(
        {
            "name": "api-version-check",
            "properties": {
                "mode": "All",
                "policyRule": {
                    "if": {
                        "allOf": [
                            {"field": "type", "equals": "Microsoft.MachineLearningServices/workspaces"},
                            {"value": "[requestContext().apiVersion]", "equals": "2024-10-01"},
                        ]
                    },
                    "then": {"effect": "audit"},
                },
            },
        }
    )
    store = SQLiteStore(tmp_path / "s.db")
    res = handle_events(
        [_event(WS_ID, "e1")],
        store=store,
        reader=_reader(server),
        rules=[DriftRule(policy=policy)],
        now=datetime(2026, 11, 27, 9, tzinfo=UTC),
    )
    assert [f.rule for f in res.findings] == ["api-version-check"]
    store.close()


def test_sdk_trusts_the_server_through_requests_ca_bundle(
    server: AzureTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in server.ca_env().items():
        monkeypatch.setenv(k, v)
    server.add_resource(_ws())
    kwargs = {k: v for k, v in server.client_kwargs().items() if k != "connection_verify"}
    client = ResourceManagementClient(server.credential(), SUB, **kwargs)
    assert ArmReader(client=client).get(WS_ID) is not None
