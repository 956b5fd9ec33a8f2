"""Cost Management Query API source: the real azure-mgmt-costmanagement client against the shared local
HTTPS test server; daily cost by resource group and service, nextLink paging, and 429 handling that
honours the x-ms-ratelimit-microsoft.costmanagement-*-retry-after headers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.runtime import LocalBlobStore
from ingest.cost import load_costs
from ingest.cost.query_api import (
    QueryThrottledError,
    cost_client,
    fetch_daily_costs,
    ingest_query,
    retry_after_seconds,
    to_frame,
)
from tests.support.azure_server import AzureTestServer, Response
from tests.support.azure_server import azure_server as azure_server  # noqa: PLC0414 - pytest fixture

SUB = "00000000-0000-0000-0000-000000000000"
SCOPE = f"subscriptions/{SUB}"
QUERY = rf"/subscriptions/{SUB}/providers/Microsoft\.CostManagement/query"
API_SAMPLE = "spec_costmanagement_2025-03-01_SubscriptionQuery_Daily.json"


def _real_page(samples_dir: Path) -> dict[str, Any]:
    path = samples_dir / "api" / API_SAMPLE
    if not path.is_file():
        pytest.skip("Cost Management query sample absent")
    body: dict[str, Any] = json.loads(path.read_text())["responses"]["200"]["body"]
    return body


def _serve(server: AzureTestServer, pages: list[dict[str, Any]], throttles: dict[int, dict[str, str]]) -> list[int]:
    """Serve ``pages`` in order via nextLink (absolute, with another api-version, as the real API does);
    request numbers in ``throttles`` get a 429 with the given headers."""
    calls: list[int] = []

    def handler(req: Any, _m: Any) -> Response:
        calls.append(len(calls))
        if calls[-1] in throttles:
            return Response(429, {"error": {"code": "429", "message": "Too many requests."}}, throttles[calls[-1]])
        token = req.param("$skiptoken")
        i = int(token) if token else 0
        body = json.loads(json.dumps(pages[i]))
        nxt = None
        if i + 1 < len(pages):
            nxt = (
                f"{server.url}/subscriptions/{SUB}/providers/Microsoft.CostManagement/Query"
                f"?api-version=2021-10-01&$skiptoken={i + 1}"
            )
        body["properties"]["nextLink"] = nxt
        return Response(200, body)

    server.route("POST", QUERY, handler, api_versions={"2025-03-01", "2021-10-01"})
    return calls


def _pages(samples_dir: Path) -> list[dict[str, Any]]:
    real = _real_page(samples_dir)
    rows = real["properties"]["rows"]
    first = json.loads(json.dumps(real))
    second = json.loads(json.dumps(real))
    first["properties"]["rows"] = rows[:2]
    second["properties"]["rows"] = rows[2:]
    return [first, second]


def test_pages_through_next_link_and_honours_ratelimit_headers(
    azure_server: AzureTestServer,
    samples_dir: Path,
) -> None:
    pages = _pages(samples_dir)
    throttle = {
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "3",
        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "7",
        "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "5",
    }
    calls = _serve(
        azure_server, pages, {0: throttle, 2: {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "2"}}
    )
    slept: list[float] = []
    client = cost_client(azure_server.credential(), base_url=azure_server.url, connection_verify=azure_server.ca_path)
    columns, rows, n_pages = fetch_daily_costs(client, SCOPE, date(2018, 3, 1), date(2018, 4, 30), sleep=slept.append)
    assert slept == [7.0, 2.0]  # the longest costmanagement retry-after, for each 429
    assert len(calls) == 4
    assert n_pages == 2
    assert columns == ["PreTaxCost", "ResourceGroup", "UsageDate", "Currency"]
    assert rows == pages[0]["properties"]["rows"] + pages[1]["properties"]["rows"]

    posts = azure_server.requests_to(r"/providers/Microsoft\.CostManagement/query", "POST")
    body = posts[0].json()
    assert body["dataset"]["granularity"] == "Daily"
    assert [g["name"] for g in body["dataset"]["grouping"]] == ["ResourceGroupName", "ServiceName"]
    assert body["timePeriod"]["from"].startswith("2018-03-01")
    assert posts[-1].param("$skiptoken") == "1"
    assert posts[-1].json() == body  # the next page is asked with the same body
    assert all(p.headers.get("Authorization", "").startswith("Bearer ") for p in posts)


def test_gives_up_after_max_retries(azure_server: AzureTestServer, samples_dir: Path) -> None:
    pages = _pages(samples_dir)
    headers = {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "1"}
    _serve(azure_server, pages, dict.fromkeys(range(10), headers))
    client = cost_client(azure_server.credential(), base_url=azure_server.url, connection_verify=azure_server.ca_path)
    slept: list[float] = []
    with pytest.raises(QueryThrottledError, match="still throttled after 2 retries"):
        fetch_daily_costs(client, SCOPE, date(2018, 3, 1), date(2018, 3, 31), sleep=slept.append, max_retries=2)
    assert slept == [1.0, 1.0]


def test_ingest_query_stores_cost_frame(azure_server: AzureTestServer, samples_dir: Path, tmp_path: Path) -> None:
    pages = _pages(samples_dir)
    _serve(azure_server, pages, {})
    client = cost_client(azure_server.credential(), base_url=azure_server.url, connection_verify=azure_server.ca_path)
    out = ingest_query(
        client,
        SCOPE,
        date(2018, 3, 15),
        date(2018, 4, 20),
        LocalBlobStore(tmp_path),
        now=datetime(2018, 5, 1, tzinfo=UTC),
    )
    assert out["rows"] == 4
    assert [p["month"] for p in out["partitions"]] == ["2018-03", "2018-04"]
    df = load_costs(tmp_path)
    assert len(df) == 4
    assert set(df.SubAccountId) == {SUB}
    assert "ict_stratandplan_goldsprova_prod" in set(df.x_ResourceGroupName)
    assert df.EffectiveCost.isna().all()  # ActualCost query: amortized cost not invented
    expected = sum(Decimal(str(r[0])) for p in pages for r in p["properties"]["rows"])
    pointers = [json.loads(p.read_text()) for p in tmp_path.glob("scope=*/month=*/dataset=api-actual/_current.json")]
    assert sum(Decimal(p["billed_cost"]["USD"]) for p in pointers) == expected.quantize(Decimal(1).scaleb(-18))
    first_post = azure_server.requests_to(r"/query", "POST")[0].json()
    assert first_post["timePeriod"]["from"].startswith("2018-03-01")  # whole months: a run replaces the month
    assert first_post["timePeriod"]["to"].startswith("2018-04-30")


def test_to_frame_needs_a_date_column(samples_dir: Path) -> None:
    path = samples_dir / "api" / "c7n_costmanagement_query_by_ResourceGroupName.real.json"
    if not path.is_file():
        pytest.skip("recorded query sample absent")
    props = json.loads(path.read_text())["response_body"]["properties"]
    with pytest.raises(ValueError, match="no cost or date column"):
        to_frame([c["name"] for c in props["columns"]], props["rows"], scope=SCOPE, metric="ActualCost", run_id="r")


def test_retry_after_fallbacks() -> None:
    assert retry_after_seconds({"Retry-After": "4"}, 0) == 4.0
    assert retry_after_seconds({}, 3) == 8.0
    assert retry_after_seconds({"x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after": "11"}, 0) == 11.0
