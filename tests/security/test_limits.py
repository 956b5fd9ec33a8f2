"""Row 11 and the "also found" limits: deep JSON, nextLink hosts, silence authors and lengths.

* Deeply nested JSON raised an unhandled ``RecursionError`` (HTTP 500, or poison-queue retries):
  it is now a 400, a quarantined queue message, or a quarantined event delivery.
* ``nextLink`` was followed to any host with the ARM bearer token: a second HTTPS server plays the
  attacker's host, and it receives nothing.
* Silences took any ``createdBy`` and any end date (a match-all silence until 9999): the author is
  the authenticated identity and the end is bounded by ``silences.max_duration``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from alerts.actions import silences_response
from alerts.testing import MemoryStore
from ingest.arm import ArmReader
from ingest.cost.query_api import cost_client, fetch_daily_costs
from ingest.events import parse_events
from ingest.nextlink import ForeignNextLinkError
from tests.support.azure_server import AzureTestServer, Response
from vigil.config import parse_config
from vigil.functions import MalformedMessageError, RequestBodyError, parse_queue_message, read_json_body

SUB = "00000000-0000-0000-0000-000000000000"
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)
DEEP = ("[" * 20_000 + "]" * 20_000).encode()  # 40 KB: under the size limits, far beyond the recursion limit


# -- deeply nested and oversized JSON --------------------------------------------------------------


def test_a_deeply_nested_queue_message_is_quarantined_not_crashed_on() -> None:
    with pytest.raises(MalformedMessageError, match="nested too deeply"):
        parse_queue_message(func.QueueMessage(id="m1", body=DEEP), "vigil-detect")
    with pytest.raises(MalformedMessageError, match="the limit is"):
        parse_queue_message(func.QueueMessage(id="m2", body=b'{"a": "' + b"x" * 70_000 + b'"}'), "vigil-detect")


def test_a_deeply_nested_http_body_is_a_400() -> None:
    req = func.HttpRequest(method="POST", url="http://localhost/api/alerts/silences", body=DEEP)
    with pytest.raises(RequestBodyError, match="nested too deeply") as info:
        read_json_body(req)
    assert info.value.status == 400


def test_a_deeply_nested_event_delivery_is_refused_as_not_json() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_events(DEEP)


# -- nextLink ----------------------------------------------------------------------------------------


@pytest.fixture
def evil() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        s.route("GET", r".*", lambda _r, _m: {"value": []})
        s.route("POST", r".*", lambda _r, _m: {"properties": {"rows": [], "columns": []}})
        yield s


def test_arm_list_next_link_to_another_host_is_not_followed(server: AzureTestServer, evil: AzureTestServer) -> None:
    rid = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1"
    page = {
        "value": [{"id": f"{rid}/providers/Microsoft.Insights/diagnosticSettings/d1"}],
        "nextLink": f"{evil.url}{rid}/providers/Microsoft.Insights/diagnosticSettings?page=2",
    }
    server.route("GET", re.escape(rid) + r"/providers/Microsoft\.Insights/diagnosticSettings", lambda _r, _m: page)
    reader = ArmReader(server.credential(), SUB, **server.client_kwargs())
    assert reader.related(rid, "Microsoft.Insights/diagnosticSettings") is None  # unknown, not a partial list
    assert evil.requests == [], "the bearer token went to another host"


def test_arm_list_next_link_to_the_same_host_is_followed(server: AzureTestServer) -> None:
    """Not vacuous: a nextLink on the serving host is followed."""
    rid = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1"
    calls: list[int] = []

    def pages(_r: Any, _m: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            return {"value": [{"id": "a"}], "nextLink": f"{server.url}{rid}/providers/Microsoft.Insights/x?p=2"}
        return {"value": [{"id": "b"}]}

    server.route("GET", re.escape(rid) + r"/providers/Microsoft\.Insights/.*", pages)
    reader = ArmReader(server.credential(), SUB, **server.client_kwargs())
    assert [x["id"] for x in reader.related(rid, "Microsoft.Insights/diagnosticSettings") or []] == ["a", "b"]


def test_cost_query_next_link_to_another_host_fails_the_run(server: AzureTestServer, evil: AzureTestServer) -> None:
    page = {
        "properties": {
            "columns": [{"name": "Cost"}, {"name": "UsageDate"}],
            "rows": [[1.0, 20261101]],
            "nextLink": f"{evil.url}/subscriptions/{SUB}/providers/Microsoft.CostManagement/query?$skiptoken=1",
        }
    }
    server.route(
        "POST",
        rf"/subscriptions/{SUB}/providers/Microsoft\.CostManagement/query",
        lambda _r, _m: Response(200, page),
    )
    client = cost_client(server.credential(), base_url=server.url, connection_verify=server.ca_path)
    with pytest.raises(ForeignNextLinkError, match="not followed"):
        fetch_daily_costs(client, f"subscriptions/{SUB}", date(2026, 11, 1), date(2026, 11, 2))
    assert evil.requests == []


# -- silences ----------------------------------------------------------------------------------------


def _create(body: dict[str, Any], *, principal: str = "", max_days: int = 30) -> tuple[int, Any]:
    return silences_response(
        "POST",
        store=MemoryStore(),
        now=NOW,
        body={"matchers": ['alertname=~".+"'], "comment": "c", **body},
        principal=principal,
        max_duration=timedelta(days=max_days),
    )


def test_a_silence_takes_its_author_from_the_authenticated_identity() -> None:
    status, s = _create({"duration": "2h", "createdBy": "the CEO"}, principal="alice@example.com")
    assert status == 201
    assert s["created_by"] == "alice@example.com"
    assert "the CEO" in s["comment"]
    assert "unverified" in s["comment"]
    status, s = _create({"duration": "2h", "createdBy": "the CEO"})
    assert s["created_by"] == "function key"


def test_a_match_all_silence_until_9999_is_refused() -> None:
    for body in ({"endsAt": "9999-12-31T00:00:00Z"}, {"duration": "3000000d"}, {"duration": "31d"}):
        status, out = _create(body)
        assert status == 400, (body, out)
        assert "max_duration" in out["error"] or "9999" in out["error"]
    status, _ = _create({"duration": "30d"})
    assert status == 201


def test_the_maximum_duration_is_configurable() -> None:
    cfg = parse_config({"silences": {"max_duration": "2h"}})
    assert cfg.silences.max_delta == timedelta(hours=2)
    status, out = _create({"duration": "3h"}, max_days=0)
    assert status == 400
    assert json.dumps(out)
