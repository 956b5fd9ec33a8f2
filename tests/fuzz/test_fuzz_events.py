"""Fuzzing the Event Grid / CloudEvents parsers and the drift event path.

Whatever arrives, ``parse_events`` returns a batch (only a payload that is not JSON at all
raises ``ValueError``), every rejected event is quarantined with a reason naming it (its
index or id and the field), and ``handle_events`` never raises on bad input.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.testing import MemoryStore
from ingest.events import EventBatch, parse_events

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
RID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.Storage/storageAccounts/sa1"
)
TYPES = st.sampled_from(
    [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
        "microsoft.resources.resourceactionsuccess",
        "Microsoft.Storage.BlobCreated",
        "",
    ]
)
TIMES = st.one_of(
    st.sampled_from(["2026-11-27T04:00:00.1234567Z", "2026-11-27T04:00:00+01:00", "2026-11-27", "not a time", ""]),
    st.text(max_size=30),
    JSON,
)


def _field(name: str, valid: Any, other: st.SearchStrategy[Any] = JSON) -> st.SearchStrategy[dict[str, Any]]:
    """{name: valid}, {name: garbage} or {} (field missing)."""
    return st.one_of(st.just({name: valid}), other.map(lambda v: {name: v}), st.just({}))


@st.composite
def near_valid_event(draw: st.DrawFn) -> dict[str, Any]:
    cloud = draw(st.booleans())
    event: dict[str, Any] = {}
    event |= draw(_field("id", "e-" + draw(st.text(min_size=1, max_size=8))))
    event |= draw(_field("type" if cloud else "eventType", draw(TYPES), TYPES | JSON))
    event |= draw(_field("time" if cloud else "eventTime", "2026-11-27T04:00:00.1234567Z", TIMES))
    data: dict[str, Any] = {}
    data |= draw(_field("resourceUri", RID, st.sampled_from(["", "/providers/x", "rg/sa", RID.upper()]) | JSON))
    data |= draw(_field("status", "Succeeded", st.sampled_from(["Failed", "succeeded", ""]) | JSON))
    data |= draw(_field("claims", {"name": "A", "upn": "a@example.com"}))
    data |= draw(_field("operationName", "Microsoft.Storage/storageAccounts/write"))
    event |= draw(_field("data", data))
    event |= draw(_field("subject", RID))
    if cloud:
        event |= draw(_field("specversion", "1.0", st.sampled_from(["0.3", "2.0"]) | JSON))
    return event


def _check_batch(batch: EventBatch, n: int) -> None:
    assert isinstance(batch, EventBatch)
    assert len(batch.events) + len(batch.quarantined) + batch.irrelevant == n
    for q in batch.quarantined:
        # the reason names the event (its index or id) and what is wrong with it
        assert re.match(r"^event (\[\d+\]|\S+)", q.reason), q.reason
        assert len(q.reason) > len("event [0]")
    for e in batch.events:
        assert e.event_time.tzinfo is not None
        assert e.resource_id.lower().startswith(("/subscriptions/", "/providers/"))


@settings(max_examples=60, deadline=None)
@given(st.lists(near_valid_event() | JSON, max_size=6))
def test_parse_events_never_raises_on_json_values(events: list[Any]) -> None:
    _check_batch(parse_events(events), len(events))


@settings(max_examples=40, deadline=None)
@given(st.lists(near_valid_event(), max_size=6))
def test_parse_events_from_raw_json_bytes(events: list[dict[str, Any]]) -> None:
    _check_batch(parse_events(json.dumps(events).encode()), len(events))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_raw_payload_that_is_not_a_delivery_raises_only_value_error(raw: bytes) -> None:
    try:
        batch: Any = parse_events(raw)
    except ValueError as exc:  # documented: the payload itself is not JSON
        batch = str(exc)
    assert isinstance(batch, EventBatch) or batch


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_any_json_document_is_a_batch(doc: Any) -> None:
    """A JSON scalar (number, null, bool) is valid JSON but not an event: it is quarantined."""
    batch = parse_events(json.dumps(doc))  # valid JSON: never raises
    assert isinstance(batch, EventBatch)


class _Reader:
    def get(self, resource_id: str) -> dict[str, Any] | None:
        return {
            "id": resource_id,
            "type": "Microsoft.Storage/storageAccounts",
            "name": "sa1",
            "location": "westeurope",
            "properties": {"allowBlobPublicAccess": True},
        }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(near_valid_event(), max_size=6))
def test_drift_event_path_never_raises_on_bad_events(events: list[dict[str, Any]]) -> None:
    from detectors.drift.loader import RuleSet, builtin_rules
    from vigil.drift_path import handle_events

    if not _RULES:
        _RULES.append(RuleSet(builtin_rules()))
    res = handle_events(events, store=MemoryStore(), reader=_Reader(), rules=_RULES[0], now=datetime.now(UTC))
    assert res.processed + res.duplicates + res.irrelevant + len(res.quarantined) <= len(events) + res.irrelevant
    for q in res.quarantined:
        assert q.reason.startswith("event")


_RULES: list[Any] = []


def test_an_event_id_with_white_space_or_control_characters_is_quoted_in_the_reason() -> None:
    """Found by Hypothesis: an id starting with a carriage return broke the reason's shape."""
    raw = {
        "id": "\rforged\nline",
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "subject": "/subscriptions/x",
        "eventTime": "not-a-time",
        "data": {},
        "dataVersion": "1",
        "topic": "t",
    }
    (q,) = parse_events(json.dumps([raw]).encode()).quarantined
    assert q.reason.startswith("event '\\rforged\\nline': ")
    assert "\r" not in q.reason
    assert "\n" not in q.reason
