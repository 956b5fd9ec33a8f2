"""The drift event path end to end: events -> reads -> verdicts -> transitions -> findings."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.model import Status
from core.state.base import Namespace
from core.state.sqlite import SQLiteStore
from detectors.drift.loader import RuleSet, builtin_rules
from vigil.drift_path import acknowledge, handle_events, has_pending, verdict_key

SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-rg"
WS_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-demo"
KV_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv1"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RULES = RuleSet(builtin_rules())


def workspace(pna: str = "Enabled") -> dict[str, Any]:
    return {
        "id": WS_ID,
        "name": "ws-demo",
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "properties": {
            "publicNetworkAccess": pna,
            "encryption": {"status": "Enabled"},
            "primaryUserAssignedIdentity": f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u",
            "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
            "privateEndpointConnections": [
                {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}
            ],
        },
    }


WS_DIAG = {
    "id": f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/to-law",
    "name": "to-law",
    "type": "Microsoft.Insights/diagnosticSettings",
    "properties": {"workspaceId": "/law", "logs": [{"categoryGroup": "allLogs", "enabled": True}]},
}


class DictReader:
    """A reader over a dict of resources; records every get."""

    def __init__(self, *resources: dict[str, Any]) -> None:
        self.resources = {r["id"].lower(): r for r in resources}
        self.gets: list[str] = []
        self.fail = False

    def get(self, resource_id: str) -> dict[str, Any] | None:
        self.gets.append(resource_id)
        if self.fail:
            raise ConnectionError("ARM unavailable")
        r = self.resources.get(resource_id.lower())
        return copy.deepcopy(r) if r is not None else None

    def related(self, resource_id: str, rtype: str) -> list[dict[str, Any]]:
        prefix = resource_id.lower() + "/providers/"
        return [r for k, r in self.resources.items() if k.startswith(prefix) and r["type"].lower() == rtype.lower()]


def eg_event(
    rid: str,
    *,
    eid: str,
    when: datetime,
    kind: str = "Write",
    upn: str = "alice@contoso.com",
    correlation: str = "corr-1",
) -> dict[str, Any]:
    return {
        "id": eid,
        "subject": rid,
        "eventType": f"Microsoft.Resources.Resource{kind}Success",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{SUB}",
        "data": {
            "claims": {"name": "Alice", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn},
            "correlationId": correlation,
            "resourceUri": rid,
            "operationName": "Microsoft.MachineLearningServices/workspaces/write",
            "status": "Succeeded",
            "subscriptionId": SUB,
        },
    }


def cloud_event(rid: str, *, eid: str, when: datetime, kind: str = "Write") -> dict[str, Any]:
    ev = eg_event(rid, eid=eid, when=when, kind=kind)
    return {
        "id": ev["id"],
        "source": f"/subscriptions/{SUB}/resourceGroups/ml-rg",
        "subject": rid,
        "type": ev["eventType"],
        "time": ev["eventTime"],
        "specversion": "1.0",
        "data": ev["data"],
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


def firing(result: Any, rule: str) -> list[Any]:
    return [f for f in result.findings if f.rule == rule and f.status is Status.FIRING]


def test_public_workspace_write_fires_with_who_and_correlation(store: SQLiteStore) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    res = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    [f] = firing(res, "ml_workspace_public_network_access")
    assert f.severity.value == "high"
    assert f.resource.id == WS_ID.lower()
    assert f.annotations["changed_by"] == "Alice <alice@contoso.com>"
    assert f.annotations["correlation_id"] == "corr-1"
    assert '"Enabled"' in f.annotations["actual"]
    assert f.annotations["expected"] == (
        "field 'Microsoft.MachineLearningServices/workspaces/publicNetworkAccess' equals \"Disabled\""
    )
    assert "notEquals" in f.annotations["violation"]
    assert f.annotations["builtin_policy_id"].endswith("438c38d2-3772-465a-a9cc-7a6666a275ce")
    assert res.counts()["processed"] == 1
    # the other ML workspace rules were evaluated too; the compliant ones do not fire
    assert {x.rule for x in res.findings} == {"ml_workspace_public_network_access"}
    assert res.evaluations == len(RULES.for_type("Microsoft.MachineLearningServices/workspaces"))


def test_transitions_fire_once_resolve_and_ignore_duplicates(store: SQLiteStore) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    rule = "ml_workspace_public_network_access"
    r1 = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert len(firing(r1, rule)) == 1
    assert acknowledge(store, r1.findings) == 1  # the alerts pipeline took it
    # duplicate delivery of the same event id
    r2 = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert (r2.duplicates, r2.findings) == (1, [])
    # another write, still non-compliant: no new finding
    r3 = handle_events(
        [eg_event(WS_ID, eid="e2", when=T0 + timedelta(minutes=1))], store=store, reader=reader, rules=RULES, now=T0
    )
    assert r3.findings == []
    # fixed: resolves
    reader.resources[WS_ID.lower()] = workspace("Disabled")
    r4 = handle_events(
        [eg_event(WS_ID, eid="e3", when=T0 + timedelta(minutes=2))], store=store, reader=reader, rules=RULES, now=T0
    )
    [f] = r4.findings
    assert (f.rule, f.status) == (rule, Status.RESOLVED)
    assert f.fingerprint == r1.findings[0].fingerprint
    acknowledge(store, r4.findings)
    # an older event delivered late is stale: no regression, no finding
    reader.resources[WS_ID.lower()] = workspace("Enabled")
    r5 = handle_events(
        [eg_event(WS_ID, eid="e0", when=T0 - timedelta(minutes=5))], store=store, reader=reader, rules=RULES, now=T0
    )
    assert r5.findings == []
    assert r5.stale >= 1
    rec = store.get(Namespace.VERDICTS, verdict_key(WS_ID, rule))
    assert rec is not None
    assert rec.value["compliant"] is True


def test_delete_event_and_404_resolve(store: SQLiteStore) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    ws = reader.resources.pop(WS_ID.lower())  # deleted: ARM answers 404
    deleted = handle_events(
        [cloud_event(WS_ID, eid="d1", when=T0 + timedelta(minutes=1), kind="Delete")],
        store=store,
        reader=reader,
        rules=RULES,
        now=T0,
    )
    assert [(f.rule, f.status) for f in deleted.findings] == [("ml_workspace_public_network_access", Status.RESOLVED)]
    assert deleted.reads == 1  # a delete is believed only once ARM answers 404 (tests/security/test_event_times.py)
    # re-created non-compliant: fires again; then a write whose GET returns 404 resolves
    reader.resources[WS_ID.lower()] = ws
    r = handle_events(
        [eg_event(WS_ID, eid="e2", when=T0 + timedelta(minutes=2))], store=store, reader=reader, rules=RULES, now=T0
    )
    assert len(r.findings) == 1
    reader.resources.clear()
    gone = handle_events(
        [eg_event(WS_ID, eid="e3", when=T0 + timedelta(minutes=3))], store=store, reader=reader, rules=RULES, now=T0
    )
    assert [f.status for f in gone.findings] == [Status.RESOLVED]


def test_cloudevents_schema(store: SQLiteStore) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    res = handle_events([cloud_event(WS_ID, eid="c1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert len(firing(res, "ml_workspace_public_network_access")) == 1


def test_irrelevant_and_malformed_events(store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    eh = f"{RG}/providers/Microsoft.EventHub/namespaces/ns1/AuthorizationRules/Root"
    blob = {
        "id": "b1",
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": "/blobServices/x",
        "data": {},
        "eventTime": T0.isoformat(),
        "dataVersion": "",
        "metadataVersion": "1",
        "topic": "t",
    }
    bad_time = eg_event(WS_ID, eid="bad1", when=T0)
    bad_time["eventTime"] = "yesterday"
    no_id = eg_event(WS_ID, eid="x", when=T0)
    del no_id["id"]
    batch = [blob, eg_event(eh, eid="a1", when=T0, kind="Action"), bad_time, no_id, eg_event(WS_ID, eid="ok", when=T0)]
    res = handle_events(batch, store=store, reader=reader, rules=RULES, now=T0)
    assert res.irrelevant == 2  # BlobCreated (event type) + EventHub rule (no rule for the type)
    assert [q.event_id for q in res.quarantined] == ["bad1", ""]
    assert "eventTime" in res.quarantined[0].reason
    assert "'id'" in res.quarantined[1].reason
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("quarantined event")]
    assert logged[1].startswith("quarantined event (without an id): ")  # not "quarantined event : ..."
    assert res.processed == 1
    assert reader.gets == [WS_ID]  # the irrelevant resource was never read
    assert len(firing(res, "ml_workspace_public_network_access")) == 1


def test_reader_failure_propagates_and_redelivery_is_processed(store: SQLiteStore) -> None:
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    reader.fail = True
    with pytest.raises(ConnectionError):
        handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    reader.fail = False
    res = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert res.duplicates == 0
    assert len(res.findings) == 1


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def test_role_assignment_write_fires_rbac_rule(store: SQLiteStore) -> None:
    ra_id = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra-1"
    ra = {
        "id": ra_id,
        "name": "ra-1",
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "scope": f"/subscriptions/{SUB}",
            "principalId": "p1",
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
        },
    }
    res = handle_events([eg_event(ra_id, eid="r1", when=T0)], store=store, reader=DictReader(ra), rules=RULES, now=T0)
    [f] = res.findings
    assert (f.rule, f.severity.value) == ("rbac_privileged_assignment", "critical")
    assert f.annotations["changed_by"] == "Alice <alice@contoso.com>"


def compliant_key_vault() -> dict[str, Any]:
    """A Key Vault no rule objects to (purge protection on, no public network access)."""
    return {
        "id": KV_ID,
        "name": "kv1",
        "type": "Microsoft.KeyVault/vaults",
        "location": "westeurope",
        "properties": {"enablePurgeProtection": True, "publicNetworkAccess": "Disabled"},
    }


def test_diagnostic_setting_delete_reevaluates_parent(store: SQLiteStore) -> None:
    kv = compliant_key_vault()
    ds_id = f"{KV_ID}/providers/Microsoft.Insights/diagnosticSettings/to-law"
    ds = {
        "id": ds_id,
        "name": "to-law",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {"workspaceId": "/law", "logs": [{"categoryGroup": "allLogs", "enabled": True}]},
    }
    reader = DictReader(kv, ds)
    first = handle_events([eg_event(KV_ID, eid="k1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert first.findings == []
    del reader.resources[ds_id.lower()]
    res = handle_events(
        [eg_event(ds_id, eid="k2", when=T0 + timedelta(minutes=1), kind="Delete")],
        store=store,
        reader=reader,
        rules=RULES,
        now=T0,
    )
    [f] = res.findings
    assert (f.rule, f.status) == ("diagnostic_settings_removed", Status.FIRING)
    assert f.resource.id == KV_ID.lower()


def test_concurrent_deliveries_fire_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    stores = [SQLiteStore(path) for _ in range(6)]
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    results: list[Any] = []
    barrier = threading.Barrier(len(stores))

    def work(i: int) -> None:
        barrier.wait()
        results.append(
            handle_events(
                [eg_event(WS_ID, eid=f"e{i}", when=T0 + timedelta(seconds=i))],
                store=stores[i],
                reader=reader,
                rules=RULES,
                now=T0,
            )
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = [f for r in results for f in r.findings if f.status is Status.FIRING]
    assert len(fired) == 1
    for s in stores:
        s.close()


def test_event_path_does_not_import_pandas_or_sklearn() -> None:
    code = (
        "import sys, vigil.drift_path, ingest.events, detectors.drift.loader;"
        "from detectors.drift.loader import builtin_rules; builtin_rules();"
        "bad = [m for m in ('pandas', 'sklearn', 'numpy', 'azure') if m in sys.modules];"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sweep_evaluates_and_resolves_resources_that_disappeared(store: SQLiteStore) -> None:
    from vigil.drift_path import handle_resources

    first = handle_resources([workspace("Enabled")], store=store, rules=RULES, now=T0)
    assert [f.rule for f in first.findings if f.status is Status.FIRING] == ["ml_workspace_public_network_access"]
    again = handle_resources([workspace("Enabled")], store=store, rules=RULES, now=T0 + timedelta(hours=1))
    assert again.findings == []
    # gone from a complete sweep: a missed delete event; resolves only when asked to
    partial = handle_resources([], store=store, rules=RULES, now=T0 + timedelta(hours=2))
    assert partial.findings == []
    full = handle_resources([], store=store, rules=RULES, now=T0 + timedelta(hours=3), resolve_missing=True)
    assert [(f.rule, f.status) for f in full.findings] == [("ml_workspace_public_network_access", Status.RESOLVED)]


SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "eventgrid"


def _sample(name: str) -> Any:
    import json

    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text(encoding="utf-8"))


def test_documented_eventgrid_samples_give_the_right_verdicts(store: SQLiteStore) -> None:
    # The documented events name a storage account; serve it, open to anonymous blob access.
    sa_id = (
        "/subscriptions/{subscription-id}/resourcegroups/{resource-group}"
        "/providers/Microsoft.Storage/storageAccounts/{storage-name}"
    )
    account = {
        "id": sa_id,
        "name": "{storage-name}",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "properties": {
            "allowBlobPublicAccess": True,
            "allowSharedKeyAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
        },
    }
    diag = {
        "id": f"{sa_id}/providers/Microsoft.Insights/diagnosticSettings/d",
        "name": "d",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {"logs": [{"categoryGroup": "allLogs", "enabled": True}]},
    }
    reader = DictReader(account, diag)
    write = handle_events(
        _sample("docs_ResourceWriteSuccess.eventgridschema.json"), store=store, reader=reader, rules=RULES, now=T0
    )
    [f] = write.findings
    assert (f.rule, f.status) == ("storage_public_blob_access", Status.FIRING)
    assert f.annotations["changed_by"] == "{full-name} <{user-name}>"
    assert f.annotations["correlation_id"] == "{ID}"
    acknowledge(store, write.findings)  # as the handler does once the alerts pipeline took them
    # the same event in the CloudEvents schema has the same id: a duplicate
    again = handle_events(
        _sample("docs_ResourceWriteSuccess.cloudeventschema.json"), store=store, reader=reader, rules=RULES, now=T0
    )
    assert (again.duplicates, again.findings) == (1, [])
    # the documented delete (later the same day) resolves it, once ARM answers 404
    reader.resources.pop(sa_id.lower())
    deleted = handle_events(
        _sample("docs_ResourceDeleteSuccess.cloudeventschema.json"), store=store, reader=reader, rules=RULES, now=T0
    )
    assert [(f.rule, f.status) for f in deleted.findings] == [("storage_public_blob_access", Status.RESOLVED)]
    # the action sample (an Event Hubs listKeys) is a type no rule covers
    action = handle_events(
        _sample("docs_ResourceActionSuccess.eventgridschema.json"), store=store, reader=reader, rules=RULES, now=T0
    )
    assert (action.irrelevant, action.processed, reader.gets.count(sa_id)) == (1, 0, 1)


def test_diagnostic_settings_rule_fires_on_the_change_only(store: SQLiteStore) -> None:
    kv = compliant_key_vault()
    reader = DictReader(kv)  # never had a diagnostic setting
    first = handle_events([eg_event(KV_ID, eid="k1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert first.findings == []
    rec = store.get(Namespace.VERDICTS, verdict_key(KV_ID, "diagnostic_settings_removed"))
    assert rec is not None
    assert rec.value["compliant"] is False  # recorded, not alerted


def test_diagnostic_setting_of_an_unmonitored_type_is_irrelevant(store: SQLiteStore) -> None:
    app_id = f"{RG}/providers/Microsoft.Web/sites/app1"
    reader = DictReader({"id": app_id, "name": "app1", "type": "Microsoft.Web/sites", "location": "westeurope"})
    ds = f"{app_id}/providers/Microsoft.Insights/diagnosticSettings/d"
    res = handle_events(
        [eg_event(ds, eid="x1", when=T0, kind="Delete")], store=store, reader=reader, rules=RULES, now=T0
    )
    assert (res.irrelevant, res.processed, reader.gets) == (1, 0, [])


def test_a_transition_stays_pending_until_the_alerts_pipeline_takes_it(store: SQLiteStore) -> None:
    """A failure between the verdict and the alert (storage outage, crash) must not lose the
    notification: the redelivered event re-reports the transition until it is acknowledged."""
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    rule = "ml_workspace_public_network_access"
    r1 = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert len(firing(r1, rule)) == 1
    # ... the alerts pipeline failed here, so nothing was acknowledged; the platform redelivers:
    r2 = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert r2.duplicates == 1
    assert [f.fingerprint for f in firing(r2, rule)] == [r1.findings[0].fingerprint]
    assert has_pending(store, WS_ID)
    # another event for the resource does not repeat it, and keeps it pending
    r3 = handle_events(
        [eg_event(WS_ID, eid="e2", when=T0 + timedelta(minutes=1))], store=store, reader=reader, rules=RULES, now=T0
    )
    assert r3.findings == []
    assert has_pending(store, WS_ID)
    r3b = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert [f.fingerprint for f in firing(r3b, rule)] == [r1.findings[0].fingerprint]
    assert acknowledge(store, r3b.findings) == 1
    assert not has_pending(store, WS_ID)
    r4 = handle_events([eg_event(WS_ID, eid="e1", when=T0)], store=store, reader=reader, rules=RULES, now=T0)
    assert (r4.duplicates, r4.findings) == (1, [])
