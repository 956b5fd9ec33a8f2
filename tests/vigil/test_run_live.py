"""`vigil run` without --tenant against a live tenant: the simulated tenant served by the local HTTPS test
server (ARM, Resource Graph, Monitor metrics, Azure Policy, Activity Log REST, Log Analytics) and by an
Azurite with HTTPS and OAuth (the cost export container), read with the real SDK clients and one bearer
token, gives the same alerts as `vigil run --tenant` over the same data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.state import open_store
from tests.support.azure_server import AzureTestServer, unsigned_jwt
from tests.support.live_tenant import oauth_azurite, serve_tenant, upload_exports
from vigil.cli.run_cmds import DEMO_CONFIG
from vigil.config import VigilConfig, parse_config
from vigil.pipeline import ALERTS_FILE, OUTBOX_DIR, STATE_FILE, RunSummary, run_live, run_tenant
from vigil.simulate import DEFAULT_NOW, SimResult, simulate
from vigil.simulate.activity import LAW_CUSTOMER_ID
from vigil.tenant import TenantFolder


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(tmp_path_factory.mktemp("live") / "tenant")


def _config(sim: SimResult, account_url: str | None) -> VigilConfig:
    raw = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    raw["scopes"] = {"subscriptions": list(sim.subscriptions)}
    raw["sources"] = {
        "activity": {
            "rest": [{"subscription_id": s} for s in sim.subscriptions],
            "log_analytics": [{"workspace_id": LAW_CUSTOMER_ID}],
            "initial_lookback_hours": 96,
            "max_window_hours": 24,
        },
    }
    if account_url:
        raw["sources"]["cost_exports"] = {"account_url": account_url}
    return parse_config(raw)


def _alerts(out: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (out / ALERTS_FILE).read_text(encoding="utf-8").splitlines()]
    return {a["fingerprint"]: a for a in rows}


def _tenant_run(sim: SimResult, config: VigilConfig, out: Path) -> RunSummary:
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        return run_tenant(sim.root, config=config, store=store, out_dir=out, now=DEFAULT_NOW, progress=False)
    finally:
        store.close()


@pytest.fixture
def fresh_assignments(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.handlers import events

    monkeypatch.setattr(events, "_ASSIGNMENTS", {})  # ARM assignments are cached per subscription set


def test_live_run_gives_the_same_alerts_as_the_tenant_run(
    sim: SimResult, tmp_path: Path, fresh_assignments: None
) -> None:
    from azure.storage.blob import ContainerClient

    token = unsigned_jwt()
    lines: list[str] = []
    with AzureTestServer(token=token) as server, oauth_azurite(server, tmp_path) as azurite:
        tenant = TenantFolder(sim.root)
        serve_tenant(server, tenant, workspace_id=LAW_CUSTOMER_ID)
        blob_kwargs = {"connection_verify": server.ca_path}
        container = ContainerClient(
            azurite.blob_endpoint, "cost-exports", credential=server.credential(), **blob_kwargs
        )
        assert upload_exports(tenant, container) > 0
        config = _config(sim, azurite.blob_endpoint)
        offline = _tenant_run(sim, config, tmp_path / "offline")
        out = tmp_path / "live"
        store = open_store("sqlite", path=out / STATE_FILE)
        try:
            summary = run_live(
                config=config,
                store=store,
                out_dir=out,
                now=DEFAULT_NOW,
                credential=server.credential(),
                azure_client_kwargs=server.client_kwargs(),
                metrics_options={"use_batch": False, "mgmt_base_url": server.url},
                blob_client_kwargs=blob_kwargs,
                logs_client_kwargs={"endpoint": server.url, **blob_kwargs, "retry_backoff_factor": 0.01},
                dry_run=True,
                progress=False,
                report=lines.append,
            )
        finally:
            store.close()
        graph = server.requests_to(r"/providers/Microsoft\.ResourceGraph/resources", "POST")
        metric_calls = server.requests_to(r"/providers/Microsoft\.Insights/metrics$", "GET")
        unauthorized = [r for r in server.requests if r.status == 401]

    assert summary.failed_sources() == [], summary.source_status
    assert not unauthorized
    assert graph  # the sweep and the idle timer read Azure, not a folder
    assert metric_calls
    assert summary.ingest["runs_ingested"] == offline.ingest["runs_ingested"] > 0  # from the blob container
    other_clouds = offline.ingest["other_clouds"]["rows"]  # the folder's focus/ files: no Azure export
    assert summary.sources["cost_rows"] == offline.sources["cost_rows"] - other_clouds
    # one line per source: what it reads and its counts, done
    assert [line.split(" (", 1)[0] for line in lines] == [
        "cost: export container, overspend",
        "idle: metrics timer",
        "drift: sweep timer",
        "activity log",
        "deliver",
    ]
    assert all(line.endswith("done") for line in lines), lines
    assert azurite.blob_endpoint in lines[0]

    live, tenant_alerts = _alerts(out), _alerts(tmp_path / "offline")
    names = sorted(a["labels"]["alertname"] for a in live.values())
    assert set(live) == set(tenant_alerts), (names, sorted(a["labels"]["alertname"] for a in tenant_alerts.values()))
    for fp, a in live.items():
        assert a["labels"] == tenant_alerts[fp]["labels"]
        assert a["status"] == tenant_alerts[fp]["status"]
    assert len(live) == 9
    assert sorted(p.name for p in (out / OUTBOX_DIR).iterdir()) == sorted(summary.outbox_files)
    assert len(summary.outbox_files) == len(offline.outbox_files)  # --dry-run: written, not sent
