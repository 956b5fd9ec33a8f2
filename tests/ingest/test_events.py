"""Event Grid / CloudEvents parsing of Azure Resource Manager events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.events import Quarantined, ResourceEvent, parse_event, parse_events

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "eventgrid"


def _sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "kind", "schema"),
    [
        ("docs_ResourceWriteSuccess.eventgridschema.json", "write", "eventgrid"),
        ("docs_ResourceWriteSuccess.cloudeventschema.json", "write", "cloudevents"),
        ("docs_ResourceDeleteSuccess.eventgridschema.json", "delete", "eventgrid"),
        ("docs_ResourceDeleteSuccess.cloudeventschema.json", "delete", "cloudevents"),
        ("docs_ResourceActionSuccess.eventgridschema.json", "action", "eventgrid"),
    ],
)
def test_documented_resource_events_parse(name: str, kind: str, schema: str) -> None:
    batch = parse_events(_sample(name))
    assert batch.quarantined == []
    [ev] = batch.events
    assert (ev.kind, ev.schema) == (kind, schema)
    assert ev.resource_id.startswith("/subscriptions/{subscription-id}/")
    assert ev.correlation_id == "{ID}"
    assert ev.event_time.tzinfo is not None
    if kind == "action":
        # service principal: no name/upn claims -> the app id
        assert ev.caller == "app:{ID}"
        assert ev.operation_name.endswith("listKeys/action")
    else:
        assert ev.caller == "{full-name} <{user-name}>"


def test_write_event_time_keeps_microseconds() -> None:
    [ev] = parse_events(_sample("docs_ResourceWriteSuccess.eventgridschema.json")).events
    assert ev.event_time == datetime(2018, 7, 19, 18, 38, 4, 611735, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "docs_BlobCreated.eventgridschema.json",
        "docs_BlobCreated.cloudeventschema.json",
        "docs_SubscriptionValidationEvent.eventgridschema.json",
    ],
)
def test_other_event_types_are_irrelevant(name: str) -> None:
    batch = parse_events(_sample(name))
    assert (batch.events, batch.quarantined, batch.irrelevant) == ([], [], 1)


def _event(**over: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "id": "e1",
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "subject": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a",
        "eventTime": "2026-11-27T10:00:00.1234567Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "resourceUri": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a",
            "status": "Succeeded",
            "correlationId": "c",
            "claims": {"upn": "bob@x"},
        },
    }
    ev.update(over)
    return ev


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event(id=""), "'id'"),
        (_event(id=5), "'id'"),
        (_event(eventTime="not a time"), "eventTime"),
        (_event(eventTime=None), "eventTime"),
        (_event(data="x"), "'data'"),
        (_event(data={"resourceUri": "storageAccounts/a"}, subject="nope"), "ARM resource id"),
        (_event(data={"resourceUri": "/subscriptions/s/x", "status": "Failed"}), "not Succeeded"),
        ({"id": "x", "data": {}}, "no eventType"),
        (
            {
                "id": "c",
                "type": "Microsoft.Resources.ResourceWriteSuccess",
                "specversion": "0.3",
                "time": "2026-01-01T00:00:00Z",
                "data": {},
            },
            "specversion",
        ),
        ([1, 2], "not a JSON object"),
    ],
)
def test_malformed_events_are_quarantined_with_reason(event: Any, reason: str) -> None:
    out = parse_event(event, 3)
    assert isinstance(out, Quarantined)
    assert reason in out.reason


def test_batch_continues_after_bad_records_and_accepts_bytes() -> None:
    payload = json.dumps([_event(id="a"), _event(id="b", eventTime="bad"), _event(id="c")]).encode()
    batch = parse_events(payload)
    assert [e.id for e in batch.events] == ["a", "c"]
    assert [q.event_id for q in batch.quarantined] == ["b"]
    assert all(isinstance(e, ResourceEvent) for e in batch.events)
    assert batch.events[0].caller == "bob@x"


def test_event_type_match_is_case_insensitive_and_subject_fallback() -> None:
    ev = _event(eventType="microsoft.resources.resourcewritesuccess")
    del ev["data"]["resourceUri"]
    out = parse_event(ev)
    assert isinstance(out, ResourceEvent)
    assert out.event_type == "Microsoft.Resources.ResourceWriteSuccess"
    assert out.resource_id == ev["subject"]


def test_single_object_payload() -> None:
    assert len(parse_events(_event()).events) == 1
