"""Pure pieces: needs_update (Alertmanager's DedupStage table), inhibition, time intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import InhibitRule, TimeIntervalSpec
from alerts.inhibit import Inhibitor
from alerts.nflog import NflogEntry, needs_update
from alerts.timeintervals import compile_spec

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def E(
    firing: set[str], resolved: frozenset[str] | set[str] = frozenset(), ago: timedelta = timedelta(minutes=1)
) -> NflogEntry:
    return NflogEntry(frozenset(firing), frozenset(resolved), NOW - ago)


# (entry, firing, resolved, send_resolved, repeat, expected) following Alertmanager's TestDedupStageNeedsUpdate
DEDUP = [
    (None, {"1", "2"}, set(), False, 4 * H, True),  # never notified
    (None, set(), {"1"}, True, 4 * H, False),  # only resolved, never notified
    (E({"1", "2", "3"}), {"2", "3"}, {"1"}, False, 4 * H, False),  # firing is a subset, no send_resolved
    (E({"1", "2", "3"}), {"2", "3"}, {"1"}, True, 4 * H, True),  # ... with send_resolved: newly resolved
    (E({"1", "2"}, {"3"}), {"1", "2"}, {"3"}, True, 4 * H, False),  # resolved already notified
    (E({"1"}), {"1", "2"}, set(), False, 4 * H, True),  # new firing alert
    (E({"1", "2"}), set(), {"1", "2"}, False, 4 * H, True),  # all resolved: always, to clear the log
    (E(set(), {"1"}), set(), {"1"}, True, 4 * H, False),  # nothing firing, nothing notified
    (E({"1"}, ago=5 * H), {"1"}, set(), False, 4 * H, True),  # repeat interval elapsed
    (E({"1"}, ago=3 * H), {"1"}, set(), False, 4 * H, False),  # not yet
    (E({"1"}, ago=4 * H), {"1"}, set(), False, 4 * H, True),  # exactly at the repeat interval
]


@pytest.mark.parametrize(("entry", "firing", "resolved", "send_resolved", "repeat", "expected"), DEDUP)
def test_needs_update_table(
    entry: NflogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    repeat: timedelta,
    expected: bool,
) -> None:
    got, reason = needs_update(
        entry, frozenset(firing), frozenset(resolved), repeat_interval=repeat, send_resolved=send_resolved, now=NOW
    )
    assert got is expected, reason
    assert reason


def test_inhibition_rules() -> None:
    rule = InhibitRule(
        source_matchers=['severity="critical"'], target_matchers=['severity=~"critical|low"'], equal=["zone"]
    )
    firing = [
        ("src", {"severity": "critical", "zone": "a"}),
        ("nozone", {"severity": "critical"}),
    ]
    inh = Inhibitor([rule], firing)
    assert inh.inhibited_by("t1", {"severity": "low", "zone": "a"}) == ["src"]
    assert inh.inhibited_by("t2", {"severity": "low", "zone": "b"}) == []
    assert inh.inhibited_by("t3", {"severity": "low"}) == ["nozone"]  # missing on both counts as equal
    # an alert matching source and target does not inhibit itself
    assert inh.inhibited_by("src", {"severity": "critical", "zone": "a"}) == []
    assert inh.inhibited_by("t4", {"severity": "medium", "zone": "a"}) == []  # not a target


def spec(**kw: object) -> TimeIntervalSpec:
    return TimeIntervalSpec.model_validate(kw)


@pytest.mark.parametrize(
    ("kw", "when", "inside"),
    [
        ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2026-03-02T09:00", True),
        ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2026-03-02T17:00", False),  # end exclusive
        ({"weekdays": ["monday:friday"]}, "2026-03-07T12:00", False),  # Saturday
        ({"weekdays": ["saturday", "sunday"]}, "2026-03-08T12:00", True),
        ({"days_of_month": ["1:5"]}, "2026-03-05T00:00", True),
        ({"days_of_month": ["-3:-1"]}, "2026-02-26T00:00", True),  # last three days of February 2026
        ({"days_of_month": ["-3:-1"]}, "2026-02-25T23:59", False),
        ({"months": ["may:august"]}, "2026-06-15T00:00", True),
        ({"months": ["1:3"]}, "2026-04-01T00:00", False),
        ({"years": ["2025:2026"]}, "2026-12-31T23:59", True),
        ({"years": ["2020"]}, "2026-01-01T00:00", False),
        (  # 08:30 UTC is 09:30 in Amsterdam (CET)
            {"times": [{"start_time": "09:00", "end_time": "10:00"}], "location": "Europe/Amsterdam"},
            "2026-03-02T08:30",
            True,
        ),
    ],
)
def test_time_intervals(kw: dict[str, object], when: str, inside: bool) -> None:
    t = datetime.fromisoformat(when).replace(tzinfo=UTC)
    assert compile_spec(spec(**kw)).contains(t) is inside
