"""ingest.metrics with the REAL SDK clients (MetricsClient batch API, MonitorManagementClient.metrics.list)
against the shared local HTTPS test server; the same parser reads tenant files and SDK results identically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.sources import MetricSeries, parse_metrics_response
from ingest.metrics import BATCH_LIMIT, MetricQuery, MonitorMetrics, chunk, regional_endpoint
from tests.support.azure_server import AzureTestServer, Request, Response, arm_error

SUB = "00000000-0000-0000-0000-0000000000aa"
SUB2 = "00000000-0000-0000-0000-0000000000bb"
START = datetime(2026, 11, 18, tzinfo=UTC)
END = START + timedelta(hours=6)
API = {"2024-02-01"}
SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "api"
VM_TYPE = "Microsoft.Compute/virtualMachines"


def vm_id(name: str, sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/rg/providers/{VM_TYPE}/{name}"


def metric_body(rid: str, names: list[str], *, hours: int = 6, gaps: bool = True) -> dict[str, Any]:
    """A REST ``GET .../metrics`` body; every third hour is a point without values (as Azure sends)."""
    value = []
    for n, name in enumerate(names):
        data: list[dict[str, Any]] = []
        for h in range(hours):
            ts = (START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if gaps and h % 3 == 2:
                data.append({"timeStamp": ts})
            else:
                data.append({"timeStamp": ts, "average": 1.5 + h + n, "maximum": 3.25 + h, "total": 1000.0 * (h + 1)})
        value.append(
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name},
                "unit": "Percent",
                "displayDescription": name,
                "timeseries": [{"metadatavalues": [], "data": data}],
                "errorCode": "Success",
            }
        )
    return {
        "cost": 0,
        "timespan": f"{START:%Y-%m-%dT%H:%M:%SZ}/{END:%Y-%m-%dT%H:%M:%SZ}",
        "interval": "PT1H",
        "namespace": VM_TYPE,
        "resourceregion": "eastus",
        "value": value,
    }


class Monitor:
    """Registers the two Azure Monitor routes on the shared server and serves ``bodies`` by resource id."""

    def __init__(self, server: AzureTestServer) -> None:
        self.server = server
        self.bodies: dict[str, dict[str, Any]] = {}
        self.batch_status = 200
        server.route("POST", r"/subscriptions/(?P<sub>[^/]+)/metrics:getBatch", self.batch, api_versions=API)
        server.route(
            "GET", r"(?P<rid>/subscriptions/.+)/providers/microsoft\.insights/metrics", self.single, api_versions=API
        )

    def _body(self, rid: str, names: list[str]) -> dict[str, Any] | None:
        body = self.bodies.get(rid.lower())
        if body is None:
            return None
        kept = [m for m in body["value"] if m["name"]["value"] in names]
        return {**body, "value": kept}

    def batch(self, req: Request, m: Any) -> Response:
        if self.batch_status != 200:
            return arm_error(self.batch_status, "BadRequest", "batch unavailable")
        names = (req.param("metricnames") or "").split(",")
        assert req.param("interval") == "PT1H"
        assert req.param("starttime")
        assert req.param("endtime")
        values = []
        for rid in req.json()["resourceids"]:
            assert rid.lower().split("/")[2] == m["sub"].lower()  # one subscription per call
            body = self._body(rid, names)
            if body is not None:
                values.append(
                    {
                        "starttime": body["timespan"].split("/")[0],
                        "endtime": body["timespan"].split("/")[1],
                        "interval": body["interval"],
                        "namespace": body["namespace"],
                        "resourceregion": body["resourceregion"],
                        "resourceid": rid,
                        "value": body["value"],
                    }
                )
        return Response(200, {"values": values})

    def single(self, req: Request, m: Any) -> Response:
        body = self._body(m["rid"], (req.param("metricnames") or "").split(","))
        if body is None:
            return arm_error(404, "ResourceNotFound", m["rid"])
        return Response(200, body)


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


def reader(server: AzureTestServer, **kw: Any) -> MonitorMetrics:
    kwargs = {"connection_verify": server.ca_path, "retry_backoff_factor": 0.01}
    return MonitorMetrics(
        server.credential(),
        endpoint=lambda region: server.url,
        mgmt_base_url=server.url,
        client_kwargs=kwargs,
        queries={VM_TYPE.lower(): (MetricQuery(("Percentage CPU", "Network Out Total")),)},
        **kw,
    )


def vm(name: str, region: str = "eastus", sub: str = SUB) -> dict[str, Any]:
    return {"id": vm_id(name, sub), "type": VM_TYPE, "location": region}


def as_tuples(series: dict[str, list[MetricSeries]]) -> dict[str, Any]:
    return {
        rid: sorted((s.name, s.interval, tuple(s.dimensions.items()), s.points) for s in ss)
        for rid, ss in series.items()
    }


def test_chunks_and_regional_endpoint() -> None:
    ids = [str(i) for i in range(120)]
    assert [len(c) for c in chunk(ids)] == [50, 50, 20]
    assert BATCH_LIMIT == 50
    assert regional_endpoint("East US") == "https://eastus.metrics.monitor.azure.com"


def test_batch_client_reads_hourly_metrics_with_gaps(server: AzureTestServer) -> None:
    mon = Monitor(server)
    names = ["Percentage CPU", "Network Out Total"]
    for n in ("vm-1", "vm-2"):
        mon.bodies[vm_id(n).lower()] = metric_body(vm_id(n), names)
    r = reader(server)
    got = r.fetch([vm("vm-1"), vm("vm-2")], start=START, end=END)
    assert set(got) == {vm_id("vm-1").lower(), vm_id("vm-2").lower()}
    cpu = next(s for s in got[vm_id("vm-1").lower()] if s.name == "Percentage CPU")
    assert cpu.interval == "PT1H"
    assert len(cpu.points) == 6
    assert cpu.points[2].average is None
    assert cpu.points[2].maximum is None
    assert cpu.points[0].average == 1.5
    (call,) = server.requests_to("metrics:getBatch", "POST")
    assert call.headers["Authorization"] == "Bearer vigil-test-token"
    assert call.param("metricnamespace") == VM_TYPE.lower()
    assert call.param("aggregation") == "average,maximum,total"
    assert r.stats.batch_calls == 1
    assert r.stats.fallback_calls == 0


def test_batches_split_by_subscription_region_and_fifty_ids(server: AzureTestServer) -> None:
    mon = Monitor(server)
    res = [vm(f"vm-{i:03d}") for i in range(60)] + [vm("vm-west", "westeurope"), vm("vm-other", sub=SUB2)]
    for r in res:
        mon.bodies[r["id"].lower()] = metric_body(r["id"], ["Percentage CPU"], hours=2, gaps=False)
    got = reader(server).fetch(res, start=START, end=END)
    assert len(got) == 62
    calls = server.requests_to("metrics:getBatch", "POST")
    sizes = sorted(len(c.json()["resourceids"]) for c in calls)
    assert sizes == [1, 1, 10, 50]
    assert {c.path.split("/")[2] for c in calls} == {SUB, SUB2}


def test_throttled_batch_waits_retry_after_and_succeeds(server: AzureTestServer) -> None:
    mon = Monitor(server)
    mon.bodies[vm_id("vm-1").lower()] = metric_body(vm_id("vm-1"), ["Percentage CPU"])
    server.throttle(2, retry_after=1, pattern="metrics:getBatch")
    got = reader(server).fetch([vm("vm-1")], start=START, end=END)
    assert len(got[vm_id("vm-1").lower()][0].points) == 6
    statuses = [c.status for c in server.requests_to("metrics:getBatch", "POST")]
    assert statuses == [429, 429, 200]


def test_throttling_that_outlasts_the_sdk_is_retried_by_us(server: AzureTestServer) -> None:
    mon = Monitor(server)
    mon.bodies[vm_id("vm-1").lower()] = metric_body(vm_id("vm-1"), ["Percentage CPU"])
    server.throttle(2, retry_after=7, pattern="metrics:getBatch")
    waits: list[float] = []
    r = reader(server, sleep=waits.append)
    r._kwargs["retry_total"] = 0  # the SDK gives up at once: our loop honours Retry-After
    got = r.fetch([vm("vm-1")], start=START, end=END)
    assert waits == [7.0, 7.0]
    assert r.stats.throttled == 2
    assert len(got[vm_id("vm-1").lower()][0].points) == 6


def test_batch_failure_falls_back_to_mgmt_metrics_list_with_identical_series(server: AzureTestServer) -> None:
    mon = Monitor(server)
    names = ["Percentage CPU", "Network Out Total"]
    for n in ("vm-1", "vm-2"):
        mon.bodies[vm_id(n).lower()] = metric_body(vm_id(n), names)
    batch = reader(server).fetch([vm("vm-1"), vm("vm-2")], start=START, end=END)
    mon.batch_status = 400
    r = reader(server)
    fallback = r.fetch([vm("vm-1"), vm("vm-2")], start=START, end=END)
    assert r.stats.fallback_calls == 2
    gets = server.requests_to("providers/microsoft.insights/metrics", "GET")
    assert {g.param("interval") for g in gets} == {"PT1H"}
    assert {g.api_version for g in gets} == {"2024-02-01"}
    assert as_tuples(fallback) == as_tuples(batch)


def test_one_missing_resource_does_not_stop_the_others(server: AzureTestServer) -> None:
    mon = Monitor(server)
    mon.batch_status = 500
    mon.bodies[vm_id("vm-1").lower()] = metric_body(vm_id("vm-1"), ["Percentage CPU"])
    r = reader(server, use_batch=True)
    r._kwargs["retry_total"] = 0
    got = r.fetch([vm("vm-1"), vm("vm-gone")], start=START, end=END)
    assert set(got) == {vm_id("vm-1").lower()}
    assert r.stats.failed == [vm_id("vm-gone")]


def test_tenant_file_and_both_sdk_paths_parse_identically(server: AzureTestServer, tmp_path: Path) -> None:
    """The tenant folder's JSON (a REST body) and the two SDK results give the same MetricSeries."""
    rid = vm_id("vm-1")
    body = metric_body(rid, ["Percentage CPU", "Network Out Total"])
    path = tmp_path / "vm-1.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    from_file = {rid.lower(): parse_metrics_response(json.loads(path.read_text()), source=str(path))}
    mon = Monitor(server)
    mon.bodies[rid.lower()] = body
    via_batch = reader(server).fetch([vm("vm-1")], start=START, end=END)
    via_list = reader(server, use_batch=False).fetch([vm("vm-1")], start=START, end=END)
    assert as_tuples(via_batch) == as_tuples(from_file)
    assert as_tuples(via_list) == as_tuples(from_file)


def test_real_recorded_sample_reads_the_same_through_both_sdks(server: AzureTestServer) -> None:
    path = SAMPLE / "c7n_vm_metrics_PercentageCPU_P1D.real.json"
    if not path.exists():
        pytest.skip("shared samples not present")
    body = json.loads(path.read_text(encoding="utf-8"))["response_body"]
    rid = body["value"][0]["id"].split("/providers/Microsoft.Insights/")[0]
    # Add a point without values, as Azure returns for hours without data.
    body["value"][0]["timeseries"][0]["data"].append({"timeStamp": "2019-05-02T23:59:00Z"})
    expected = parse_metrics_response(body, source=str(path))
    mon = Monitor(server)
    mon.bodies[rid.lower()] = body
    res = [{"id": rid, "type": VM_TYPE, "location": body["resourceregion"]}]
    day = datetime(2019, 5, 1, tzinfo=UTC)
    for use_batch in (True, False):
        got = reader(server, use_batch=use_batch).fetch(res, start=day, end=day + timedelta(days=2))
        assert as_tuples(got) == as_tuples({rid.lower(): expected})
    (series,) = expected
    assert series.points[0].average == pytest.approx(3.1704730617608408)
    assert series.points[1].average is None


def test_workspace_metrics_are_split_by_compute_and_cluster(server: AzureTestServer) -> None:
    """Default queries: ML utilisation split by ComputeName/RunId, node counts by ClusterName, top raised."""
    Monitor(server)
    ws = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw"
    r = MonitorMetrics(
        server.credential(),
        endpoint=lambda region: server.url,
        client_kwargs={"connection_verify": server.ca_path, "retry_backoff_factor": 0.01},
    )
    r.fetch(
        [{"id": ws, "type": "Microsoft.MachineLearningServices/workspaces", "location": "eastus2"}],
        start=START,
        end=END,
    )
    calls = server.requests_to("metrics:getBatch", "POST")
    got = {c.param("metricnames"): (c.param("filter"), c.param("top")) for c in calls}
    assert got == {
        "CpuUtilizationPercentage,GpuUtilizationPercentage": ("ComputeName eq '*' and RunId eq '*'", "1000"),
        "Idle Nodes,Active Nodes": ("ClusterName eq '*'", "1000"),
    }
