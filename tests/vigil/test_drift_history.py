"""The drift verdict history (``vigil.drift_history``) on both state backends: every verdict
change per resource and rule, idempotent under redelivery, in event-time order whatever the
delivery order, bounded by its retention."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from core.state.base import Namespace, StateStore, StateUnavailableError
from tests.core.state.conftest import backend, make_store, store  # noqa: F401 - fixtures: sqlite and Azurite Table
from tests.vigil.test_drift_path import RULES, T0, WS_DIAG, WS_ID, DictReader, eg_event, workspace
from vigil.drift_history import Retention, entry_key, history, record_entry
from vigil.drift_path import handle_events, handle_resources, verdict_key

RULE = "ml_workspace_public_network_access"


def _deliver(st: StateStore, reader: DictReader, eid: str, minutes: int, upn: str = "alice@contoso.com") -> Any:
    ev = eg_event(WS_ID, eid=eid, when=T0 + timedelta(minutes=minutes), upn=upn)
    return handle_events([ev], store=st, reader=reader, rules=RULES, now=T0 + timedelta(hours=1))


def _rule_history(st: StateStore) -> list[dict[str, Any]]:
    return history(st, verdict_key(WS_ID, ""))[RULE]


def _raw(st: StateStore) -> list[str]:
    return [r.key for r in st.query(Namespace.HISTORY, prefix=verdict_key(WS_ID, RULE) + "|")]


def test_every_change_is_kept_with_who_and_redeliveries_add_nothing(store: StateStore) -> None:  # noqa: F811
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    _deliver(store, reader, "e1", 0)  # first seen: non-compliant
    _deliver(store, reader, "e2", 1)  # still non-compliant: no entry
    reader.resources[WS_ID.lower()] = workspace("Disabled")
    _deliver(store, reader, "e3", 2, upn="bob@contoso.com")  # fixed
    reader.resources[WS_ID.lower()] = workspace("Enabled")
    _deliver(store, reader, "e4", 3, upn="mallory@contoso.com")  # broken again
    before = _raw(store)
    for eid, minutes in (("e3", 2), ("e4", 3), ("e1", 0)):  # at-least-once: every event again
        _deliver(store, reader, eid, minutes)
    assert _raw(store) == before
    got = _rule_history(store)
    assert [(e["event_id"], e["compliant"]) for e in got] == [("e1", False), ("e3", True), ("e4", False)]
    assert [e["who"] for e in got] == [
        "Alice <alice@contoso.com>",
        "Alice <bob@contoso.com>",
        "Alice <mallory@contoso.com>",
    ]
    assert got[0]["source"] == "event"
    assert got[0]["operation"] == "Microsoft.MachineLearningServices/workspaces/write"
    assert got[0]["event_time"] == T0.isoformat()
    # the last verdict is still the one record per rule
    assert store.get(Namespace.VERDICTS, verdict_key(WS_ID, RULE)).value["compliant"] is False  # type: ignore[union-attr]


def test_out_of_order_delivery_keeps_event_time_order(store: StateStore) -> None:  # noqa: F811
    reader = DictReader(workspace("Disabled"), WS_DIAG)
    _deliver(store, reader, "late-fix", 10)  # the newest event arrives first: compliant
    reader.resources[WS_ID.lower()] = workspace("Enabled")
    _deliver(store, reader, "early-break", 5)  # an older event arrives late (the read says non-compliant)
    got = _rule_history(store)
    assert [(e["event_id"], e["compliant"]) for e in got] == [("early-break", False), ("late-fix", True)]
    # the stored verdict is not regressed by the late event
    assert store.get(Namespace.VERDICTS, verdict_key(WS_ID, RULE)).value["compliant"] is True  # type: ignore[union-attr]


class _FailingHistory:
    """The store, with the first history write failing as a storage outage would."""

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.failed = False

    def add(self, namespace: Any, key: str, value: Mapping[str, Any]) -> bool:
        if namespace == Namespace.HISTORY and not self.failed:
            self.failed = True
            raise StateUnavailableError("table storage unreachable")
        return self.inner.add(namespace, key, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failure_between_verdict_and_history_is_repaired_by_the_redelivery(store: StateStore) -> None:  # noqa: F811
    reader = DictReader(workspace("Enabled"), WS_DIAG)
    flaky = _FailingHistory(store)
    with pytest.raises(StateUnavailableError):
        _deliver(flaky, reader, "e1", 0)  # type: ignore[arg-type]
    # the first rule's verdict was written, its history entry was not
    assert len(list(store.query(Namespace.VERDICTS, prefix=verdict_key(WS_ID, "")))) == 1
    assert list(store.query(Namespace.HISTORY)) == []
    _deliver(flaky, reader, "e1", 0)  # type: ignore[arg-type]  # the platform redelivers
    _deliver(flaky, reader, "e1", 0)  # type: ignore[arg-type]  # and once more
    verdicts = list(store.query(Namespace.VERDICTS, prefix=verdict_key(WS_ID, "")))
    by_rule = history(store, verdict_key(WS_ID, ""))
    assert len(verdicts) > 1
    assert sorted(by_rule) == sorted(str(v.value["rule"]) for v in verdicts)  # every rule has its entry
    assert all([e["event_id"] for e in entries] == ["e1"] for entries in by_rule.values())
    assert len(list(store.query(Namespace.HISTORY))) == len(verdicts)  # once each


def test_a_sweep_records_its_source(store: StateStore) -> None:  # noqa: F811
    handle_resources([workspace("Enabled")], store=store, rules=RULES, now=T0)
    handle_resources([workspace("Enabled")], store=store, rules=RULES, now=T0)  # the same sweep again
    handle_resources([workspace("Disabled")], store=store, rules=RULES, now=T0 + timedelta(hours=6))
    got = _rule_history(store)
    assert [(e["source"], e["compliant"], e.get("event_id")) for e in got] == [
        ("sweep", False, None),
        ("sweep", True, None),
    ]
    assert len(_raw(store)) == 2


def test_retention_bounds_entries_and_age_but_keeps_the_newest(store: StateStore) -> None:  # noqa: F811
    key = verdict_key(WS_ID, RULE)
    keep = Retention(days=30, entries=3)
    for i in range(6):
        when = T0 + timedelta(days=i)
        value = {"rule": RULE, "compliant": i % 2 == 0, "deleted": False, "event_time": when.isoformat()}
        record_entry(store, key, when, f"e{i}", value, now=when, retention=keep)
    assert _raw(store) == [entry_key(key, T0 + timedelta(days=i), f"e{i}") for i in (3, 4, 5)]
    # a year later, the next change expires everything older than 30 days but itself
    late = T0 + timedelta(days=400)
    value = {"rule": RULE, "compliant": False, "deleted": False, "event_time": late.isoformat()}
    record_entry(store, key, late, "late", value, now=late, retention=keep)
    assert _raw(store) == [entry_key(key, late, "late")]


def test_retention_comes_from_vigil_yaml_with_key_paths_on_errors() -> None:
    from vigil.config import ConfigError, parse_config
    from vigil.handlers.events import history_retention

    cfg = parse_config({"detectors": {"drift": {"history_days": 30, "history_entries": 5}}})
    assert history_retention(cfg) == Retention(days=30, entries=5)
    assert history_retention(parse_config({})) == Retention(days=180, entries=100)
    with pytest.raises(ConfigError, match=r"detectors\.drift\.history_entries"):
        parse_config({"detectors": {"drift": {"history_entries": 0}}})


def test_the_sweep_expires_history_of_resources_that_stopped_changing(store: StateStore) -> None:  # noqa: F811
    from vigil.drift_history import prune_expired

    keep = Retention(days=30, entries=100)
    quiet, busy = verdict_key(WS_ID, RULE), verdict_key(WS_ID, "other_rule")
    for key, days in ((quiet, (0, 1, 2)), (busy, (0, 1, 50))):
        for d in days:
            when = T0 + timedelta(days=d)
            value = {"rule": key.rsplit("|", 1)[1], "compliant": d % 2 == 0, "event_time": when.isoformat()}
            record_entry(store, key, when, f"e|{d}", value, now=T0, retention=keep)  # a "|" in an event id too
    assert prune_expired(store, now=T0 + timedelta(days=60), retention=keep) == 4
    left = [r.key for r in store.query(Namespace.HISTORY)]
    # the quiet rule keeps its newest entry (since when its verdict holds); the busy one its fresh one
    assert left == sorted(
        [entry_key(quiet, T0 + timedelta(days=2), "e|2"), entry_key(busy, T0 + timedelta(days=50), "e|50")]
    )
    assert prune_expired(store, now=T0 + timedelta(days=60), retention=keep) == 0
