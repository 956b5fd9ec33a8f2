"""Row 3: one future-dated event must not hide drift for good, and a delete needs ARM's 404.

The attack as the review ran it: a storage account with public blob access fires; a
ResourceDeleteSuccess event dated 2099 arrives; the alert resolved with no ARM read, and every
later sweep and real write was dropped as "stale". Here the events go through the real drift
path and the real ARM reader (Azure SDK) against the local HTTPS server: the 2099 event is
quarantined, a delete whose resource ARM still serves resolves nothing, and a verdict stored with
a future time (before this fix) no longer makes real observations stale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.model import Status
from core.state.base import Namespace
from core.state.sqlite import SQLiteStore
from detectors.drift.loader import RuleSet, builtin_rules
from detectors.drift.transitions import Action, Observation, decide
from ingest.arm import ArmReader
from tests.support.azure_server import AzureTestServer
from vigil.drift_path import acknowledge, handle_events, verdict_key

SUB = "00000000-0000-0000-0000-000000000001"
SA = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RULES = RuleSet(builtin_rules())
RULE = "storage_public_blob_access"


def _account(public: bool) -> dict[str, Any]:
    return {
        "id": SA,
        "name": "sa1",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "properties": {
            "allowBlobPublicAccess": public,
            "allowSharedKeyAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
        },
    }


def _event(eid: str, when: datetime, kind: str = "Write") -> dict[str, Any]:
    return {
        "id": eid,
        "subject": SA,
        "eventType": f"Microsoft.Resources.Resource{kind}Success",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {"resourceUri": SA, "status": "Succeeded", "subscriptionId": SUB, "operationName": "x"},
    }


@pytest.fixture
def reader(server: AzureTestServer) -> ArmReader:
    return ArmReader(server.credential(), SUB, **server.client_kwargs())


def _fire(store: SQLiteStore, server: AzureTestServer, reader: ArmReader) -> None:
    server.add_resource(_account(public=True))
    out = handle_events([_event("w1", NOW - timedelta(hours=1))], store=store, reader=reader, rules=RULES, now=NOW)
    assert [(f.rule, f.status) for f in out.findings] == [(RULE, Status.FIRING)]
    acknowledge(store, out.findings)


def test_a_delete_dated_2099_is_quarantined_and_later_drift_still_counts(
    store: SQLiteStore, server: AzureTestServer, reader: ArmReader
) -> None:
    _fire(store, server, reader)
    forged = handle_events(
        [_event("d2099", datetime(2099, 1, 1, tzinfo=UTC), kind="Delete")],
        store=store,
        reader=reader,
        rules=RULES,
        now=NOW,
    )
    assert forged.findings == []
    [q] = forged.quarantined
    assert "ahead of" in q.reason
    # A real fix minutes later is believed (not "stale"): the alert resolves.
    server.add_resource(_account(public=False))
    fixed = handle_events([_event("w2", NOW + timedelta(minutes=1))], store=store, reader=reader, rules=RULES, now=NOW)
    assert [(f.rule, f.status) for f in fixed.findings] == [(RULE, Status.RESOLVED)]
    assert fixed.stale == 0


def test_up_to_five_minutes_of_clock_skew_is_accepted(
    store: SQLiteStore, server: AzureTestServer, reader: ArmReader
) -> None:
    server.add_resource(_account(public=True))
    out = handle_events([_event("w1", NOW + timedelta(minutes=4))], store=store, reader=reader, rules=RULES, now=NOW)
    assert out.quarantined == []
    assert [f.status for f in out.findings] == [Status.FIRING]


def test_a_delete_event_for_a_resource_arm_still_serves_resolves_nothing(
    store: SQLiteStore, server: AzureTestServer, reader: ArmReader
) -> None:
    _fire(store, server, reader)
    before = reader.gets
    out = handle_events([_event("d1", NOW, kind="Delete")], store=store, reader=reader, rules=RULES, now=NOW)
    assert reader.gets == before + 1, "the delete was checked against ARM"
    assert out.findings == []
    assert store.get(Namespace.VERDICTS, verdict_key(SA, RULE)).value["compliant"] is False  # type: ignore[union-attr]
    # Once ARM answers 404 the same kind of event resolves the alert.
    server.remove_resource(SA)
    gone = handle_events(
        [_event("d2", NOW + timedelta(minutes=1), kind="Delete")], store=store, reader=reader, rules=RULES, now=NOW
    )
    assert (RULE, Status.RESOLVED) in [(f.rule, f.status) for f in gone.findings]


def test_a_future_dated_stored_verdict_does_not_make_real_observations_stale() -> None:
    """A verdict recorded from a 2099 event before times were capped is not believed."""
    prev = {"compliant": False, "deleted": True, "event_time": "2099-01-01T00:00:00+00:00"}
    obs = Observation(False, NOW, received_at=NOW)
    assert decide(prev, obs).action is Action.FIRE
    # Without our clock (callers that do not pass it) the old behaviour is kept, and a
    # reasonable stored time still orders observations.
    assert decide(prev, Observation(False, NOW)).action is Action.STALE
    recent = {**prev, "event_time": (NOW + timedelta(minutes=1)).isoformat()}
    assert decide(recent, obs).action is Action.STALE
