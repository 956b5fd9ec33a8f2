"""Both activity-log sources through the REAL SDK clients (``MonitorManagementClient.activity_logs.list`` and
``LogsQueryClient.query_workspace``) against the local HTTPS test server (TLS, bearer token, nextLink paging,
429 with Retry-After, PartialError), read by the incremental reader over a real SQLite state store.

Records are built by tests.support.activity.event in the shape of the REST API's documented example
(GetActivityLogsFiltered.json, cited there)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.state import ConcurrencyError, Namespace
from core.state.sqlite import SQLiteStore
from ingest.activity.loganalytics import LogAnalyticsActivitySource, activity_query
from ingest.activity.reader import ActivityReader
from ingest.activity.records import row_to_event
from ingest.activity.rest import RestActivitySource, activity_filter
from tests.support.activity import SUB, add_activity_log, add_log_analytics, event, la_row
from tests.support.azure_server import AzureTestServer

WS = "0b9a8c7d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=20)
SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "api"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers"


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


def rest(server: AzureTestServer, providers: tuple[str, ...] = ()) -> RestActivitySource:
    return RestActivitySource.connect(server.credential(), SUB, providers, **server.client_kwargs())


def la(server: AzureTestServer) -> LogAnalyticsActivitySource:
    return LogAnalyticsActivitySource.connect(
        server.credential(),
        WS,
        [SUB],
        endpoint=server.url,
        connection_verify=server.ca_path,
        retry_backoff_factor=0.01,
    )


def reader(store: SQLiteStore, *sources: Any) -> ActivityReader:
    return ActivityReader(
        store, sources, overlap=OVERLAP, initial_lookback=timedelta(hours=2), max_window=timedelta(hours=6)
    )


def ops(n: int, start: datetime, step: timedelta = timedelta(minutes=10)) -> list[dict[str, Any]]:
    return [
        event(
            "Microsoft.Compute/virtualMachines/write",
            f"{RG}/Microsoft.Compute/virtualMachines/vm-{i}",
            start + i * step,
        )
        for i in range(n)
    ]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["eventDataId"] for r in records]


# ------------------------------------------------------------------ REST


def test_rest_source_pages_with_next_link_and_filters_on_time_and_provider(server: AzureTestServer) -> None:
    events = ops(5, NOW - timedelta(hours=1))
    events.append(
        event(
            "Microsoft.Storage/storageAccounts/listKeys/action",
            f"{RG}/Microsoft.Storage/storageAccounts/st1",
            NOW - timedelta(minutes=5),
            method="POST",
        )
    )
    events.append(
        event(
            "Microsoft.Compute/virtualMachines/write",
            f"{RG}/Microsoft.Compute/virtualMachines/old",
            NOW - timedelta(days=2),
        )
    )
    filters = add_activity_log(server, events, page_size=2)
    got = rest(server).fetch(NOW - timedelta(hours=2), NOW)
    assert sorted(ids(list(got.records))) == sorted(ids(events[:6]))  # the two-day-old one is outside the window
    pages = server.requests_to(r"/eventtypes/management/values$", "GET")
    assert len(pages) == 3
    assert all(p.status == 200 for p in pages)
    assert all(p.headers.get("Authorization") == f"Bearer {server.token}" for p in pages)
    assert filters == [activity_filter(NOW - timedelta(hours=2), NOW)]
    assert filters[0] == "eventTimestamp ge '2026-12-01T10:00:00Z' and eventTimestamp le '2026-12-01T12:00:00Z'"
    # the SDK's EventData comes back as the REST JSON: same fields as the record served
    first = next(r for r in got.records if r["eventDataId"] == events[0]["eventDataId"])
    assert first["operationName"]["value"] == "Microsoft.Compute/virtualMachines/write"
    assert first["httpRequest"]["clientIpAddress"] == "192.168.35.115"
    assert first["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] == "admin@contoso.com"

    only = rest(server, ("Microsoft.Storage",)).fetch(NOW - timedelta(hours=2), NOW)
    assert ids(list(only.records)) == [events[5]["eventDataId"]]
    assert filters[-1].endswith(" and resourceProvider eq 'Microsoft.Storage'")


def test_rest_source_reads_the_documented_example(server: AzureTestServer) -> None:
    path = SAMPLE / "spec_monitor_2015-04-01_GetActivityLogsFiltered.json"
    if not path.exists():
        pytest.skip(f"shared sample {path} is absent")
    example = json.loads(path.read_text(encoding="utf-8"))["responses"]["200"]["body"]["value"]
    add_activity_log(server, example)
    got = rest(server).fetch(datetime(2015, 1, 21, 20, tzinfo=UTC), datetime(2015, 1, 23, 20, tzinfo=UTC))
    (rec,) = got.records
    assert rec["eventDataId"] == "44ade6b4-3813-45e6-ae27-7420a95fa2f8"
    assert rec["caller"] == "admin@contoso.com"
    assert rec["httpRequest"]["clientIpAddress"] == "192.168.35.115"
    assert rec["status"]["value"] == "Succeeded"


def test_rest_throttled_request_is_retried_after_retry_after(server: AzureTestServer) -> None:
    events = ops(3, NOW - timedelta(minutes=50))
    add_activity_log(server, events)
    server.throttle(1, retry_after=1, pattern=r"/eventtypes/management/values$")
    t0 = time.monotonic()
    got = rest(server).fetch(NOW - timedelta(hours=1), NOW)
    waited = time.monotonic() - t0
    assert sorted(ids(list(got.records))) == sorted(ids(events))
    statuses = [r.status for r in server.requests_to(r"/eventtypes/management/values$")]
    assert statuses[0] == 429
    assert statuses.count(429) == 1
    assert statuses[-1] == 200
    assert waited >= 0.9  # the SDK waited the Retry-After second before asking again


# ------------------------------------------------------------------ exactly once


def test_exactly_once_across_overlap_window_late_record_and_restart(server: AzureTestServer, tmp_path: Path) -> None:
    events = ops(4, NOW - timedelta(minutes=80), timedelta(minutes=20))  # 10:40 .. 11:40
    filters = add_activity_log(server, events)
    db = tmp_path / "state.db"

    store = SQLiteStore(db)
    first = reader(store, rest(server)).read(NOW)
    assert ids(first.records) == ids(events)  # oldest first
    first.commit()
    store.close()

    # a record of 11:50 arrives late (after the first read), plus new ones after NOW
    late = event(
        "Microsoft.Network/networkSecurityGroups/write",
        f"{RG}/Microsoft.Network/networkSecurityGroups/nsg",
        NOW - timedelta(minutes=10),
    )
    newer = ops(2, NOW + timedelta(minutes=5))
    events += [late, *newer]

    store = SQLiteStore(db)  # a restart: a new process on the same state
    second = reader(store, rest(server)).read(NOW + timedelta(minutes=30))
    # the window re-read the overlap (from 11:40), so the late record is found and the 11:40 one is not repeated
    assert filters[-1].startswith("eventTimestamp ge '2026-12-01T11:40:00Z'")
    assert ids(second.records) == ids([late, *newer])
    assert second.progress[f"rest/{SUB}"].duplicates == 1
    # not committed yet: a crash now delivers the same records again (at-least-once until the commit)
    again = reader(store, rest(server)).read(NOW + timedelta(minutes=31))
    assert ids(again.records) == ids(second.records)
    again.commit()
    with pytest.raises(ConcurrencyError):  # the stale read cannot move the checkpoint another run moved
        second.commit()
    store.close()

    store = SQLiteStore(db)
    third = reader(store, rest(server)).read(NOW + timedelta(minutes=40))
    assert third.records == []
    third.commit()
    cp = store.get(Namespace.CHECKPOINTS, f"activity/rest/{SUB}")
    assert cp is not None
    assert cp.value["end"] == "2026-12-01T12:40:00Z"
    # read ids no window can reach again (older than 12:40 - overlap - 1 h margin = 11:20) are pruned
    kept = {r.key.removeprefix("activity/") for r in store.query(Namespace.EVENTS, "activity/")}
    assert kept == set(ids(events[2:]))
    store.close()


def test_same_event_from_both_sources_is_delivered_once(server: AzureTestServer, tmp_path: Path) -> None:
    events = ops(3, NOW - timedelta(minutes=30))
    add_activity_log(server, events)
    add_log_analytics(server, WS, [la_row(e) for e in events])
    store = SQLiteStore(tmp_path / "s.db")
    batch = reader(store, rest(server), la(server)).read(NOW)
    assert sorted(ids(batch.records)) == sorted(ids(events))
    assert batch.progress[f"log_analytics/{WS}"].duplicates == 3
    store.close()


def test_bad_records_are_quarantined_with_source_window_and_field(server: AzureTestServer, tmp_path: Path) -> None:
    events = ops(3, NOW - timedelta(minutes=30))
    broken = dict(events[1])
    del broken["eventDataId"]
    add_activity_log(server, [events[0], broken, events[2]])
    store = SQLiteStore(tmp_path / "s.db")
    batch = reader(store, rest(server)).read(NOW)
    assert ids(batch.records) == [events[0]["eventDataId"], events[2]["eventDataId"]]
    (q,) = batch.quarantined
    assert (q.source, q.field, q.index) == (f"rest/{SUB}", "eventDataId", 1)
    assert q.window == "2026-12-01T10:00:00Z/2026-12-01T12:00:00Z"
    assert q.record["correlationId"] == events[1]["correlationId"]
    store.close()


# ------------------------------------------------------------------ Log Analytics


def test_log_analytics_rows_become_rest_shaped_records(server: AzureTestServer, tmp_path: Path) -> None:
    start = event(
        "Microsoft.Authorization/roleAssignments/write",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra-1",
        NOW - timedelta(minutes=12),
        status="Started",
        properties={"requestbody": {"Properties": {"RoleDefinitionId": "x", "Scope": f"/subscriptions/{SUB}"}}},
    )
    done = event(
        "Microsoft.Authorization/roleAssignments/write",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra-1",
        NOW - timedelta(minutes=11),
        correlation_id=start["correlationId"],
    )
    bodies = add_log_analytics(server, WS, [la_row(start), la_row(done)])
    store = SQLiteStore(tmp_path / "s.db")
    batch = reader(store, la(server)).read(NOW)
    assert ids(batch.records) == [start["eventDataId"], done["eventDataId"]]
    got = batch.records[0]
    assert got["status"]["value"] == "Started"  # the table's "Start", in the REST vocabulary
    assert batch.records[1]["status"]["value"] == "Succeeded"
    assert got["operationName"]["value"].lower() == "microsoft.authorization/roleassignments/write"
    assert got["httpRequest"]["clientIpAddress"] == "192.168.35.115"
    assert got["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] == "admin@contoso.com"
    assert json.loads(got["properties"]["requestbody"])["Properties"]["Scope"] == f"/subscriptions/{SUB}"
    assert got["correlationId"] == start["correlationId"]
    assert got["eventTimestamp"].startswith("2026-12-01T11:48:00")
    (body,) = bodies
    assert body["query"] == activity_query(NOW - timedelta(hours=2), NOW, [SUB])
    assert f"'{SUB}'" in body["query"]
    assert "| project " in body["query"]
    assert body["timespan"].startswith("2026-12-01T10:00:00")
    requests = server.requests_to(rf"/v1/workspaces/{WS}/query$", "POST")
    assert requests
    assert requests[0].headers.get("Authorization") == f"Bearer {server.token}"
    store.close()


def test_log_analytics_partial_result_keeps_the_checkpoint_and_is_completed_next_time(
    server: AzureTestServer, tmp_path: Path
) -> None:
    events = ops(4, NOW - timedelta(minutes=50))
    partial: dict[str, Any] = {"keep": 2, "message": "Query result set has exceeded the internal limit"}
    add_log_analytics(server, WS, [la_row(e) for e in events], partial=partial)
    db = tmp_path / "s.db"
    store = SQLiteStore(db)
    first = reader(store, la(server)).read(NOW)
    assert ids(first.records) == ids(events[:2])  # the rows that came are delivered...
    prog = first.progress[f"log_analytics/{WS}"]
    assert prog.checkpoint == ""
    assert any("PartialError" in p for p in prog.problems)
    first.commit()
    assert store.get(Namespace.CHECKPOINTS, f"activity/log_analytics/{WS}") is None

    partial["keep"] = None  # the service answers in full now
    second = reader(store, la(server)).read(NOW + timedelta(minutes=5))
    assert ids(second.records) == ids(events[2:])  # the rest, and nothing twice
    assert second.progress[f"log_analytics/{WS}"].duplicates == 2
    second.commit()
    cp = store.get(Namespace.CHECKPOINTS, f"activity/log_analytics/{WS}")
    assert cp is not None
    assert cp.value["end"] == "2026-12-01T12:05:00Z"
    store.close()


def test_log_analytics_throttled_query_is_retried_after_retry_after(server: AzureTestServer, tmp_path: Path) -> None:
    events = ops(2, NOW - timedelta(minutes=30))
    add_log_analytics(server, WS, [la_row(e) for e in events])
    server.throttle(1, retry_after=1, pattern=r"/query$")
    t0 = time.monotonic()
    got = la(server).fetch(NOW - timedelta(hours=1), NOW)
    waited = time.monotonic() - t0
    assert got.complete
    assert ids(list(got.records)) == ids(events)
    assert [r.status for r in server.requests_to(r"/query$")] == [429, 200]
    assert waited >= 0.9


def test_a_failing_source_keeps_its_checkpoint_and_does_not_stop_the_others(
    server: AzureTestServer, tmp_path: Path
) -> None:
    events = ops(2, NOW - timedelta(minutes=30))
    add_activity_log(server, events)  # no Log Analytics route: the workspace answers 404
    store = SQLiteStore(tmp_path / "s.db")
    batch = reader(store, la(server), rest(server)).read(NOW)
    assert ids(batch.records) == ids(events)
    assert batch.progress[f"log_analytics/{WS}"].problems
    assert batch.progress[f"log_analytics/{WS}"].checkpoint == ""
    assert batch.progress[f"rest/{SUB}"].checkpoint == "2026-12-01T12:00:00Z"
    store.close()


def test_row_to_event_reads_parsed_and_text_dynamic_columns() -> None:
    e = ops(1, NOW)[0]
    row = la_row(e)
    as_text = row_to_event(row)
    parsed = dict(row, Claims_d=json.loads(row["Claims_d"]), HTTPRequest=json.loads(row["HTTPRequest"]))
    assert row_to_event(parsed)["claims"] == as_text["claims"] == e["claims"]
    assert as_text["httpRequest"] == e["httpRequest"]


def test_a_checkpoint_older_than_the_retention_resumes_at_the_retention_and_says_so(
    server: AzureTestServer, tmp_path: Path
) -> None:
    filters = add_activity_log(server, ops(1, NOW - timedelta(minutes=5)))
    store = SQLiteStore(tmp_path / "s.db")
    store.put(Namespace.CHECKPOINTS, f"activity/rest/{SUB}", {"end": "2026-06-01T00:00:00Z"})
    r = ActivityReader(
        store, [rest(server)], overlap=OVERLAP, max_window=timedelta(days=30), retention=timedelta(days=89)
    )
    batch = r.read(NOW)
    assert len(batch.records) == 1
    assert filters[0].startswith("eventTimestamp ge '2026-09-03T12:00:00Z'")  # NOW - 89 days
    (problem,) = batch.progress[f"rest/{SUB}"].problems
    assert "beyond the activity log's retention" in problem
    assert problem.startswith("2026-05-31T23:40:00Z/2026-09-03T12:00:00Z")
    store.close()
