"""vigil.handlers over a LocalRuntime: the same handlers the Function App runs, end to end.

Delivery goes to a real local HTTP server (a webhook receiver); the tenant folder
stands in for ARM/Monitor through the VIGIL_TENANT_DIR setting.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.state import open_store
from core.state.base import StateStore
from tests.alerts.helpers import Endpoint, Reply, serve
from tests.support.azure_server import DEFAULT_TOKEN, AzureTestServer
from vigil import handlers
from vigil.config import ScopesConfig, VigilConfig, parse_config
from vigil.runtime_local import LocalRuntime
from vigil.simulate import DEFAULT_NOW, SimResult, simulate
from vigil.tenant import TenantFolder

INGEST, DETECT, ALERTS = "vigil-ingest", "vigil-detect", "vigil-alerts"
DETECT_SCOPE = "vigil-detect-scope"


def _detect(message: dict[str, Any], rt: LocalRuntime) -> dict[str, Any]:
    """``handle_detect`` and the detect-scope messages it fans out (batches, then the tenant step): the
    tenant step's result, or ``handle_detect``'s when it fanned nothing out."""
    first = handlers.handle_detect(message, rt)
    drained = rt.drain(DETECT_SCOPE, lambda m: handlers.handle_detect_scopes(m, rt))
    assert drained.failed == 0
    tenant = [r for r in drained.results if "findings" in r]
    assert len(tenant) <= 1
    return tenant[0] if tenant else first


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(tmp_path_factory.mktemp("handlers") / "tenant")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with serve() as ep:
        yield ep


def _config(url: str) -> VigilConfig:
    return parse_config(
        {
            "route": {"receiver": "hook", "group_by": ["alertname", "resource_id"], "group_wait": "0s"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": url, "max_retries": 0}]}],
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = open_store("sqlite", path=tmp_path / "state.db")
    yield s
    s.close()


def _rt(tmp_path: Path, store: StateStore, url: str, sim: SimResult | None) -> LocalRuntime:
    settings = {"VIGIL_TENANT_DIR": str(sim.root)} if sim else {}
    return LocalRuntime(_config(url), store, tmp_path / "blobs", settings=settings)


def _deliver_all(rt: LocalRuntime) -> list[dict[str, Any]]:
    res = rt.drain(ALERTS, lambda m: handlers.dispatch_alert(m, rt))
    assert res.failed == 0
    return list(res.results)


def test_resource_events_to_a_delivered_drift_alert(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    rt = _rt(tmp_path, store, endpoint.url, sim)
    events = list(TenantFolder(sim.root).events())
    out = handlers.handle_resource_events(events, rt)
    # the workspace (rule pack) and the storage account the organisation's assignment finds (tenant policy/)
    assert out["drift"]["firing"] == 2
    assert out["alerts"]["enqueued"] == 2  # grouped by alertname and resource
    msg, _other = rt.pending(ALERTS)
    delivered = _deliver_all(rt)
    assert all(d["sent"] for d in delivered)
    bodies = [req.json() for req in endpoint.accepted()]
    assert {b["status"] for b in bodies} == {"firing"}
    assert {b["alerts"][0]["labels"]["alertname"] for b in bodies} == {
        "ml_workspace_public_network_access",
        "assignment:restrict-storage-network",
    }

    # Event Grid delivers again: duplicates by event id, nothing new to send.
    again = handlers.handle_resource_events(events, rt)
    assert again["drift"]["duplicates"] > 0
    assert again["drift"]["duplicates"] + again["drift"]["irrelevant"] == len(events)
    assert again["drift"]["processed"] == 0
    assert "alerts" not in again
    assert rt.pending(ALERTS) == []
    # The queue delivers the same message twice: sent once.
    second = handlers.dispatch_alert(msg, rt)
    assert not second["sent"]
    assert len(endpoint.accepted()) == 2


def test_resource_event_path_does_not_import_pandas(sim: SimResult, tmp_path: Path) -> None:
    code = f"""
import sys, json
from pathlib import Path
from vigil import handlers
from vigil.config import parse_config
from vigil.runtime_local import LocalRuntime
from core.state import open_store
from vigil.tenant import TenantFolder
rt = LocalRuntime(parse_config({{}}), open_store("sqlite", path={str(tmp_path / "s.db")!r}), Path({str(tmp_path)!r}),
                  settings={{"VIGIL_TENANT_DIR": {str(sim.root)!r}}})
handlers.handle_resource_events(list(TenantFolder({str(sim.root)!r}).events()), rt)
heavy = [m for m in ("pandas", "sklearn", "pyarrow", "numpy") if m in sys.modules]
print(json.dumps(heavy))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def _upload_exports(rt: LocalRuntime, sim: SimResult) -> list[str]:
    exports = rt.blobs("cost-exports")
    root = TenantFolder(sim.root).exports_root
    manifests = []
    for f in sorted(root.rglob("*")):
        if f.is_file():
            name = f.relative_to(root).as_posix()
            exports.write(name, f.read_bytes())
            if f.name == "manifest.json":
                manifests.append(name)
    return manifests


def _blob_created(path: str, n: int) -> dict[str, Any]:
    return {
        "topic": "/subscriptions/x/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/stexports",
        "subject": f"/blobServices/default/containers/cost-exports/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-24T21:00:00Z",
        "id": f"blob-{n}",
        "data": {"api": "PutBlockList", "contentLength": 1, "blobType": "BlockBlob"},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def test_cost_path_blob_created_to_overspend_alerts(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    rt = _rt(tmp_path, store, endpoint.url, sim)
    manifests = _upload_exports(rt, sim)
    events = [_blob_created(m, i) for i, m in enumerate(manifests)]
    events.append({**_blob_created("costexports/readme.txt", 99)})  # not a manifest: ignored
    planned = handlers.handle_blob_created(events, rt)
    assert planned["skipped"] == 1
    parts = rt.pending(INGEST)
    assert len(parts) == planned["parts_enqueued"] > len(manifests)
    # Event Grid redelivers the same BlobCreated: the runs are not planned twice.
    assert handlers.handle_blob_created(events, rt)["parts_enqueued"] == 0

    ingest = rt.drain(INGEST, lambda m: handlers.handle_ingest_part(m, rt))
    assert ingest.failed == 0
    completed = [r for r in ingest.results if r.get("run_complete")]
    assert len(completed) == len(manifests)
    detect_msgs = rt.pending(DETECT)
    assert len(detect_msgs) == len(manifests)
    # Detection for the newest run (its last day is the spike day).
    latest = max(detect_msgs, key=lambda m: max(m["days"]))
    assert max(latest["days"]) == (DEFAULT_NOW - timedelta(days=1)).date().isoformat()
    result = _detect({**latest, "now": DEFAULT_NOW.isoformat()}, rt)
    assert result["findings"] > 0
    assert result["alerts"]["enqueued"] > 0
    delivered = _deliver_all(rt)
    assert all(d["ok"] for d in delivered)
    names = {json.loads(r.body)["alerts"][0]["labels"]["detector"] for r in endpoint.accepted()}
    assert names == {"overspend"}

    # Every other run covering the same days (the actual and FOCUS datasets of one month) is
    # skipped: nothing changed since those days were detected. A redelivery is skipped too.
    same_days = [m for m in detect_msgs if m["days"] == latest["days"]]
    assert len(same_days) == 2  # the actual and FOCUS exports of the newest month
    for msg in same_days:
        again = _detect({**msg, "now": DEFAULT_NOW.isoformat()}, rt)
        assert again == {"skipped": "already detected over the same cost runs", "run_id": msg["run_id"]}
    # Other days are detected.
    other = next(m for m in detect_msgs if m["days"] != latest["days"])
    assert "findings" in _detect(other, rt)
    # A run swapped in since (a re-export of the month) makes the same days detected again.
    from ingest.cost.store import CostStore

    costs = CostStore(rt.blobs("costs"))
    part, pointer = costs.partitions()[-1]
    assert costs.swap(part, pointer)  # the live run replaced (by itself: a new swapped_at)
    redo = _detect({**latest, "now": DEFAULT_NOW.isoformat()}, rt)
    assert redo["findings"] == result["findings"]
    assert redo["alerts"]["enqueued"] == 0  # the alerts are already notified: dedup, nothing sent twice


def test_metrics_timer_finds_the_idle_vm_and_ml_instance(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    rt = _rt(tmp_path, store, endpoint.url, sim)
    out = handlers.run_metrics(rt, DEFAULT_NOW)
    assert out["findings"] >= 2
    assert out["alerts"]["new"] == 2  # only the planted idle VM and ML instance fire; the others resolve nothing
    _deliver_all(rt)
    fired = {a["labels"]["resource_id"] for req in endpoint.accepted() for a in req.json()["alerts"]}
    assert fired == {sim.planted["idle_vm"].lower(), sim.planted["idle_ml_instance"].lower()}


def test_sweep_evaluates_every_resource(tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult) -> None:
    rt = _rt(tmp_path, store, endpoint.url, sim)
    out = handlers.run_sweep(rt, DEFAULT_NOW)
    firing = {(f["rule"], f["resource"]["name"]) for f in out["drift"]["findings"] if f["status"] == "firing"}
    assert ("ml_workspace_public_network_access", "mlw-research") in firing
    assert ("ml_compute_idle_shutdown", "ci-bob") in firing  # a compute instance without idle shutdown
    from core.state.base import Namespace

    old = (DEFAULT_NOW - timedelta(days=120)).isoformat()  # a kept change beyond the activity log's retention
    rt.store.put(Namespace.CHANGES, "stale", {"resource_id": "/subscriptions/x/rg/y", "time": old, "records": []})
    again = handlers.run_sweep(rt, DEFAULT_NOW + timedelta(minutes=30))
    assert again["drift"]["counts"]["firing"] == 0  # verdicts unchanged: no new transitions
    assert again["history_pruned"] == 0  # the sweep expires old verdict history; none is old yet
    assert again["changes_pruned"] == 1
    assert rt.store.get(Namespace.CHANGES, "stale") is None


def test_timers_without_a_source_say_what_is_missing(tmp_path: Path, store: StateStore, endpoint: Endpoint) -> None:
    rt = _rt(tmp_path, store, endpoint.url, None)
    assert "no metrics source" in handlers.run_metrics(rt, DEFAULT_NOW)["skipped"]
    assert "no Resource Graph source" in handlers.run_sweep(rt, DEFAULT_NOW)["skipped"]
    with pytest.raises(handlers.RetryableError, match="ARM resource reader"):
        handlers.handle_resource_events([], rt)


def test_retryable_delivery_failure_raises(tmp_path: Path, store: StateStore, sim: SimResult) -> None:
    with serve(lambda n, p, b: Reply(503, "busy") if n == 0 else Reply(202)) as ep:
        rt = _rt(tmp_path, store, ep.url, sim)
        handlers.run_metrics(rt, DEFAULT_NOW)
        msg, _other = rt.pending(ALERTS)  # the idle VM's and the idle ML instance's groups
        with pytest.raises(handlers.RetryableError, match="503"):
            handlers.dispatch_alert(msg, rt)
        assert handlers.dispatch_alert(msg, rt)["sent"]  # the platform's retry succeeds
        assert len(ep.accepted()) == 1


def test_flush_message_runs_the_alert_pipeline_only(tmp_path: Path, store: StateStore, endpoint: Endpoint) -> None:
    rt = _rt(tmp_path, store, endpoint.url, None)
    out = handlers.handle_detect({"type": "flush", "now": datetime(2026, 11, 25, tzinfo=UTC).isoformat()}, rt)
    assert out["alerts"]["enqueued"] == 0


def test_health(tmp_path: Path, store: StateStore, endpoint: Endpoint) -> None:
    rt = _rt(tmp_path, store, endpoint.url, None)
    out = handlers.health(rt)
    assert out["ok"] is True
    assert out["status"] == "ok"
    assert "vigil-alerts" in out["checks"]["queues"]
    store.close()  # a state store that cannot be used makes the app unhealthy (503), without raising
    bad = handlers.health(rt)
    assert bad["ok"] is False
    assert bad["status"] == "unhealthy"
    assert bad["checks"]["state"].startswith("unavailable")


def test_digest_timer_without_digests_does_nothing(tmp_path: Path, store: StateStore, endpoint: Endpoint) -> None:
    rt = _rt(tmp_path, store, endpoint.url, None)
    assert handlers.run_digest(rt, DEFAULT_NOW) == {"digests": 0, "skipped": "no digests configured"}


# --- live Azure path: the real SDK clients against the shared local HTTPS test server ------


class _AzureLikeRuntime(LocalRuntime):
    """A LocalRuntime that also offers what AzureRuntime offers: a credential (and client kwargs)."""

    def __init__(self, *args: Any, credential: Any, client_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credential = credential
        self.azure_client_kwargs = client_kwargs
        self.metrics_options: dict[str, Any] = {}


def _live_rt(tmp_path: Path, store: StateStore, url: str, server: AzureTestServer, sim: SimResult) -> _AzureLikeRuntime:
    cfg = _config(url).model_copy(update={"scopes": ScopesConfig(subscriptions=sim.subscriptions)})
    return _AzureLikeRuntime(
        cfg, store, tmp_path / "blobs", credential=server.credential(), client_kwargs=server.client_kwargs()
    )


def _serve_workspace(server: AzureTestServer, sim: SimResult) -> dict[str, Any]:
    tenant = TenantFolder(sim.root)
    ws = tenant.get(sim.planted["drift_workspace"])
    assert ws is not None
    server.add_resource(ws, api_versions={"2024-10-01"})
    diag = [r for r in tenant.list(["Microsoft.Insights/diagnosticSettings"]) if r["id"].startswith(ws["id"])]
    server.add_list("GET", re.escape(ws["id"]) + r"/providers/Microsoft\.Insights/diagnosticSettings", diag)
    return ws


def test_live_event_path_reads_the_resource_with_arm_get(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    with AzureTestServer() as server:
        ws = _serve_workspace(server, sim)
        rt = _live_rt(tmp_path, store, endpoint.url, server, sim)
        events = [e for e in TenantFolder(sim.root).events() if e["subject"] == ws["id"]]
        out = handlers.handle_resource_events(events, rt)
        assert out["drift"]["firing"] == 1
        gets = server.requests_to(re.escape(ws["id"]) + "$", "GET")
        assert len(gets) == 1
        assert gets[0].api_version == "2024-10-01"
        assert gets[0].headers["Authorization"] == f"Bearer {DEFAULT_TOKEN}"
    _deliver_all(rt)
    (req,) = endpoint.accepted()
    assert req.json()["alerts"][0]["labels"]["alertname"] == "ml_workspace_public_network_access"


def test_live_sweep_pages_through_resource_graph(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    tenant = TenantFolder(sim.root)
    with AzureTestServer() as server:
        ws = _serve_workspace(server, sim)
        computes = tenant.list(["Microsoft.MachineLearningServices/workspaces/computes"])
        bodies = server.add_resource_graph([ws, *computes], page_size=2)
        rt = _live_rt(tmp_path, store, endpoint.url, server, sim)
        out = handlers.run_sweep(rt, DEFAULT_NOW)
    assert len(bodies) >= 2  # paged with $skipToken
    assert set(bodies[0]["subscriptions"]) == set(sim.subscriptions)
    assert out["drift"]["counts"]["processed"] == 1 + len(computes)
    firing = {(f["rule"], f["resource"]["name"]) for f in out["drift"]["findings"] if f["status"] == "firing"}
    assert firing == {("ml_workspace_public_network_access", "mlw-research"), ("ml_compute_idle_shutdown", "ci-bob")}


def test_live_metrics_timer_reads_resource_graph_and_azure_monitor(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult
) -> None:
    tenant = TenantFolder(sim.root)
    idle_id = sim.planted["idle_vm"]
    busy = next(v for v in tenant.list(["Microsoft.Compute/virtualMachines"]) if v["name"] == "vm-web-01")
    vms = [tenant.get(idle_id), busy]
    with AzureTestServer() as server:
        server.add_resource_graph([v for v in vms if v is not None], page_size=1)
        for vm in vms:
            assert vm is not None
            body = json.loads(next((sim.root / "metrics").rglob(f"{vm['name']}.json")).read_text())
            server.route(
                "GET",
                re.escape(vm["id"]) + r"/providers/Microsoft\.Insights/metrics",
                lambda _req, _m, body=body: body,
            )
        rt = _live_rt(tmp_path, store, endpoint.url, server, sim)
        rt.metrics_options = {"use_batch": False, "mgmt_base_url": server.url}
        out = handlers.run_metrics(rt, DEFAULT_NOW)
        metric_calls = server.requests_to(r".*/providers/Microsoft\.Insights/metrics", "GET")
    assert out["resources"] == 2
    assert out["metric_resources"] == 2
    assert out["metric_failures"] == 0
    assert len(metric_calls) == 2
    assert out["alerts"]["new"] == 1
    _deliver_all(rt)
    (req,) = endpoint.accepted()
    assert req.json()["alerts"][0]["labels"]["resource_id"] == idle_id.lower()


def test_outbox_mirror_and_by_reference_messages(
    tmp_path: Path, store: StateStore, endpoint: Endpoint, sim: SimResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.outbox import entries as outbox_entries
    from core import runtime

    monkeypatch.setattr(runtime, "MAX_QUEUE_MESSAGE_BYTES", 200)  # a reference fits, an idle group does not
    rt = _rt(tmp_path, store, endpoint.url, sim)
    handlers.run_metrics(rt, DEFAULT_NOW)
    bodies = rt.pending(ALERTS)  # two groups: the idle VM and the idle ML instance
    assert len(bodies) == 2
    assert all(set(body) == {"ref", "attempts"} for body in bodies)  # too big for a queue message: by reference
    entries = outbox_entries(store)
    assert [e.state for e in entries] == ["pending", "pending"]
    assert {e.key for e in entries} == {body["ref"] for body in bodies}
    _deliver_all(rt)
    entries = outbox_entries(store)
    assert [(e.state, e.attempts) for e in entries] == [("sent", 1), ("sent", 1)]
    assert len(endpoint.accepted()) == 2


def test_busy_remediation_is_queued_again_later_not_retried_at_once(
    tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker holds the resource (a long LRO): the request comes back a minute later with a
    deferral count; past the limit it raises, so the platform's retry and poison queue take over."""
    from alerts.remediation.execute import RemediationBusyError
    from vigil import remediation_worker as worker

    def busy(message: Any, rt: Any, *, now: Any, arm: Any = None) -> dict[str, Any]:
        raise RemediationBusyError("deallocate_vm on /subscriptions/s/... is being executed by another worker")

    monkeypatch.setattr(worker, "handle_remediation", busy)
    rt = LocalRuntime(_config("http://127.0.0.1:9"), store, tmp_path / "blobs")
    message = {"kind": "remediation-approved", "fingerprint": "fp1", "nonce": "n1"}
    res = handlers.handle_remediation(message, rt)
    assert res["ok"] is False
    assert res["deferrals"] == 1
    (queued,) = rt.pending("vigil-remediation")
    assert queued == {**message, "deferrals": 1}
    assert rt.drain("vigil-remediation", lambda m: handlers.handle_remediation(m, rt)).results == [], "not visible yet"
    with pytest.raises(RemediationBusyError):
        handlers.handle_remediation({**message, "deferrals": handlers.REMEDIATION_MAX_DEFERRALS}, rt)
