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
from tests.support.azure_server import AzureTestServer, Response, unsigned_jwt
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


def _config(sim: SimResult, account_url: str | None, *, activity: bool = True) -> VigilConfig:
    raw = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    raw["scopes"] = {"subscriptions": list(sim.subscriptions)}
    raw["sources"] = {
        "activity": {
            "rest": [{"subscription_id": s} for s in sim.subscriptions] if activity else [],
            "log_analytics": [{"workspace_id": LAW_CUSTOMER_ID}] if activity else [],
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


def _live_run(server: AzureTestServer, config: VigilConfig, out: Path, lines: list[str], **kwargs: Any) -> RunSummary:
    """`run_live` with `--dry-run`, the server's token and endpoints for ARM, Monitor and Log Analytics."""
    tls = {"connection_verify": server.ca_path}
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        return run_live(
            config=config,
            store=store,
            out_dir=out,
            now=DEFAULT_NOW,
            credential=server.credential(),
            azure_client_kwargs=server.client_kwargs(),
            metrics_options={"use_batch": False, "mgmt_base_url": server.url},
            logs_client_kwargs={"endpoint": server.url, **tls, "retry_backoff_factor": 0.01},
            blob_client_kwargs=tls,
            dry_run=True,
            progress=False,
            report=lines.append,
            **kwargs,
        )
    finally:
        store.close()


@pytest.fixture
def fresh_assignments(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.handlers import events

    monkeypatch.setattr(events, "_ASSIGNMENTS", {})  # ARM assignments are cached per subscription set


@pytest.fixture(scope="module")
def offline_run(sim: SimResult, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    """`vigil run --tenant` over the simulated tenant (the config's scopes and sources do not matter there)."""
    out = tmp_path_factory.mktemp("offline")
    return out, _tenant_run(sim, _config(sim, None), out)


def test_live_run_gives_the_same_alerts_as_the_tenant_run(
    sim: SimResult, offline_run: tuple[Path, RunSummary], tmp_path: Path, fresh_assignments: None
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
        offline_out, offline = offline_run
        out = tmp_path / "live"
        summary = _live_run(server, config, out, lines)
        again = _live_run(server, config, out, [])  # the same tenant again: nothing new
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
        "activity log",
        "idle: metrics timer",
        "drift: sweep timer",
        "deliver",
    ]
    assert all(line.endswith("done") for line in lines), lines
    assert azurite.blob_endpoint in lines[0]

    live, tenant_alerts = _alerts(out), _alerts(offline_out)
    names = sorted(a["labels"]["alertname"] for a in live.values())
    assert set(live) == set(tenant_alerts), (names, sorted(a["labels"]["alertname"] for a in tenant_alerts.values()))
    for fp, a in live.items():
        offline_alert = tenant_alerts[fp]
        assert a["labels"] == offline_alert["labels"]
        assert a["status"] == offline_alert["status"]
        if a["labels"]["detector"] != "drift" or a["annotations"].get("source") != "sweep":
            assert a["annotations"] == offline_alert["annotations"], a["labels"]["alertname"]
            continue
        # Event Grid pushes to the Function App, so live drift comes from the sweep, not from an event: the
        # caller is the latest change the activity timer kept (Namespace.CHANGES). The event path names the
        # caller of the write that made it non-compliant; for the storage account a later write (Ravi's,
        # still non-compliant) is the latest change, so only the workspace's caller is the same.
        if offline_alert["annotations"].get("changed_by"):
            assert a["annotations"]["changed_by_source"] == "activity log"
            assert a["annotations"]["changed_by"].endswith("@contoso.com")
        if a["labels"]["alertname"] == "ml_workspace_public_network_access":
            assert a["annotations"]["changed_by"] in offline_alert["annotations"]["changed_by"]
            assert a["annotations"]["changed_by"] == "dana.whitfield@contoso.com"
    assert len(live) == 9
    assert sorted(p.name for p in (out / OUTBOX_DIR).iterdir()) == sorted(summary.outbox_files)
    assert len(summary.outbox_files) == len(offline.outbox_files)  # --dry-run: written, not sent
    # a second run ingests no export run again, reads no activity record again and sends nothing again
    assert again.failed_sources() == []
    assert again.ingest["runs_ingested"] == 0
    assert again.ingest["runs_skipped"] == summary.ingest["export_runs"]
    assert again.sources["activity_records"] == 0
    assert again.outbox_files == []
    assert _alerts(out) == live


def _text(value: Any) -> str | None:
    """A label as the Query API writes it: null where the cost frame has none (a purchase's resource group)."""
    import pandas as pd

    return None if pd.isna(value) else str(value)


def _query_api(server: AzureTestServer, costs: Any, *, page_size: int) -> tuple[list[dict[str, Any]], list[int]]:
    """``POST /subscriptions/{id}/providers/Microsoft.CostManagement/query``: the tenant's daily cost by
    resource group and service within the body's timePeriod, in the API's columns/rows shape, paged with
    an absolute ``nextLink`` (same body POSTed to it). Returns the request bodies and the rows of each page."""
    from datetime import UTC, datetime

    daily = costs.assign(
        sub=costs["SubAccountId"].astype(str).str.lower().str.rsplit("/", n=1).str[-1],
        day=costs["ChargePeriodStart"].dt.strftime("%Y%m%d").astype(int),
    )
    grouped = daily.groupby(["sub", "day", "x_ResourceGroupName", "ServiceName", "BillingCurrency"], dropna=False)
    table = grouped["BilledCost"].sum().reset_index()
    bodies: list[dict[str, Any]] = []
    served: list[int] = []

    def handler(req: Any, m: Any) -> Response:
        body = req.json() or {}
        bodies.append(body)
        if len(bodies) == 2:  # once: throttled, with Cost Management's own retry-after header
            headers = {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "1"}
            return Response(429, {"error": {"code": "429", "message": "Too many requests."}}, headers)
        period = body["timePeriod"]
        lo, hi = (int(datetime.fromisoformat(period[k]).astimezone(UTC).strftime("%Y%m%d")) for k in ("from", "to"))
        hits = table[(table["sub"] == m["sub"].lower()) & (table["day"] >= lo) & (table["day"] <= hi)]
        rows = [
            [float(r.BilledCost), int(r.day), _text(r.x_ResourceGroupName), _text(r.ServiceName), r.BillingCurrency]
            for r in hits.itertuples()
        ]
        start = int(req.param("$skiptoken") or 0)
        props: dict[str, Any] = {
            "columns": [
                {"name": "Cost", "type": "Number"},
                {"name": "UsageDate", "type": "Number"},
                {"name": "ResourceGroupName", "type": "String"},
                {"name": "ServiceName", "type": "String"},
                {"name": "Currency", "type": "String"},
            ],
            "rows": rows[start : start + page_size],
            "nextLink": None,
        }
        if start + page_size < len(rows):
            props["nextLink"] = f"{server.url}{req.path}?api-version={req.api_version}&$skiptoken={start + page_size}"
        served.append(len(props["rows"]))
        return Response(
            200,
            {
                "id": f"{req.path}/query-1",
                "name": "query-1",
                "type": "Microsoft.CostManagement/query",
                "properties": props,
            },
        )

    server.route(
        "POST",
        r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.CostManagement/query",
        handler,
        api_versions={"2025-03-01", "2024-08-01", "2023-11-01", "2022-10-01", "2021-10-01"},
    )
    return bodies, served


def test_without_an_export_the_query_api_and_a_failing_source_is_named_while_the_others_run(
    sim: SimResult, offline_run: tuple[Path, RunSummary], tmp_path: Path, fresh_assignments: None
) -> None:
    """No ``account_url``: costs come from the Cost Management Query API (paged, one 429 waited out per its
    ``x-ms-ratelimit-*-retry-after`` header). Resource Graph refuses (403): the idle and sweep steps fail,
    naming what they read and the error; cost and delivery still run; the activity log has no source."""
    from ingest.cost import load_costs
    from tests.support.azure_server import arm_error

    offline_out, _offline = offline_run
    costs = load_costs(offline_out / "data" / "costs")
    costs = costs[costs["ProviderName"].astype(str) == "Microsoft"]  # Azure's own exports, not other clouds
    lines: list[str] = []
    with AzureTestServer() as server:
        bodies, served = _query_api(server, costs, page_size=400)
        server.route(
            "POST",
            r"/providers/Microsoft\.ResourceGraph/resources",
            lambda _r, _m: arm_error(
                403,
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read'.",
            ),
        )
        config = _config(sim, None, activity=False)
        out = tmp_path / "live"
        summary = _live_run(server, config, out, lines)
        throttled = [r for r in server.requests if r.status == 429]

    failed = {s["source"]: s for s in summary.failed_sources()}
    assert set(failed) == {"idle: metrics timer", "drift: sweep timer"}, summary.source_status
    for step in failed.values():
        assert "AuthorizationFailed" in step["error"]
        assert all(f"/subscriptions/{sub}" in step["reads"] for sub in sim.subscriptions)
    assert sum("FAILED: " in line and "AuthorizationFailed" in line for line in lines) == 2
    ok = {s["source"]: s for s in summary.source_status if s["ok"]}
    cost = ok["cost: Cost Management Query API, overspend"]["counts"]
    assert cost["scopes"] == len(sim.subscriptions)
    assert cost["pages"] > len(sim.subscriptions)  # nextLink pages
    assert cost["rows"] == sum(served) > 0  # every row of every page, once
    assert len(throttled) == 1
    assert len(bodies) == cost["pages"] + 1  # the throttled request was sent again
    assert all(b == bodies[0] for b in bodies if b["timePeriod"] == bodies[0]["timePeriod"])  # same body on nextLink
    assert ok["activity log"]["counts"]["skipped"].startswith("no activity-log source configured")
    assert "deliver" in ok
    assert summary.sources["cost_rows"] > 0
    overspend = [a for a in _alerts(out).values() if a["labels"]["detector"] == "overspend"]
    assert overspend, "the spike shows at resource-group/service level too"


def test_the_vigil_run_command_without_tenant_runs_live_and_exits_1_naming_a_failed_source(
    sim: SimResult,
    offline_run: tuple[Path, RunSummary],
    tmp_path: Path,
    fresh_assignments: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command itself, not only ``run_live``: ``vigil run --config vigil.yaml --dry-run`` (no --tenant)
    reads the configured scopes, prints one status line per source and the summary, writes the outbox and
    exits 1 because Resource Graph refused. The only test seam is where the endpoints and the token come
    from: the command calls ``vigil.pipeline.run_live``, which here gets the local server's."""
    import functools

    from typer.testing import CliRunner

    import vigil.pipeline
    from ingest.cost import load_costs
    from tests.support.azure_server import arm_error
    from vigil.cli.main import app

    offline_out, _offline = offline_run
    costs = load_costs(offline_out / "data" / "costs")
    costs = costs[costs["ProviderName"].astype(str) == "Microsoft"]
    raw = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    raw["scopes"] = {"subscriptions": list(sim.subscriptions)}
    config_path = tmp_path / "vigil.yaml"
    config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp_path / "live"
    with AzureTestServer() as server:
        _query_api(server, costs, page_size=400)
        server.route(
            "POST",
            r"/providers/Microsoft\.ResourceGraph/resources",
            lambda _r, _m: arm_error(403, "AuthorizationFailed", "no Microsoft.ResourceGraph/resources/read"),
        )
        seam = functools.partial(
            vigil.pipeline.run_live,
            credential=server.credential(),
            azure_client_kwargs=server.client_kwargs(),
            metrics_options={"use_batch": False, "mgmt_base_url": server.url},
        )
        monkeypatch.setattr(vigil.pipeline, "run_live", seam)
        args = ["run", "--config", str(config_path), "--out", str(out), "--dry-run"]
        result = CliRunner().invoke(app, [*args, "--now", "2026-11-25T00:00:00Z"])

    assert result.exit_code == 1, result.output
    text = result.output
    assert "cost: Cost Management Query API, overspend" in text
    # each failed source: its status line as it ends, then once in the summary, and nowhere else
    for source in ("idle: metrics timer", "drift: sweep timer"):
        assert sum(line.startswith(source) and "FAILED: " in line for line in text.splitlines()) == 1, text
        assert sum(line.startswith(f"FAILED:        {source}") for line in text.splitlines()) == 1, text
    assert text.count("Code: AuthorizationFailed") == 4, text  # nothing else repeats the two errors
    assert (out / ALERTS_FILE).exists()
    assert any(a["labels"]["detector"] == "overspend" for a in _alerts(out).values())
    assert list((out / OUTBOX_DIR).iterdir())  # --dry-run: written, not sent
