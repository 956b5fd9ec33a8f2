"""Event storm: duplicates and shuffled order through the real drift path, alerts and webhook.

Full size (10,000 events, 30 % duplicates) runs in ``make bench`` (bench/faults);
here it is scaled by ``VIGIL_FAULT_SCALE`` (default 0.05: 500 events).
"""

from __future__ import annotations

from bench.faults.harness import Answer, Request, fault_scale, scaled
from bench.faults.storm import event_storm


def test_each_transition_notifies_exactly_once() -> None:
    n = scaled(10_000, fault_scale(), minimum=200)
    res = event_storm(n, duplicate_ratio=0.3, seed=11)
    figures = res.to_dict()
    assert res.events == n
    assert res.duplicates_injected == n - round(n * 0.7)
    assert res.duplicates_dropped == res.duplicates_injected, figures
    assert res.processed == res.unique_events, figures
    assert res.quarantined == 0
    assert res.transitions_expected > 0
    assert res.lost == 0, res.details
    assert res.unexpected == 0, res.details
    assert res.duplicate_notifications == 0, figures
    assert res.notifications_sent == res.transitions_expected, figures
    assert res.failed_outbox == 0


def test_storm_with_a_flaky_receiver_still_notifies_each_transition_once() -> None:
    """Every 3rd request is answered 500: the outbox retries; nothing lost, nothing twice."""

    def flaky(n: int, req: Request) -> Answer:
        return Answer(500, "flaky") if n % 3 == 0 else Answer(202)

    res = event_storm(scaled(2_000, fault_scale(), minimum=120), seed=5, phases=3, script=flaky)
    assert res.lost == 0, res.details
    assert res.failed_outbox == 0
    assert res.duplicate_notifications == 0
    assert res.unexpected == 0, res.details
    assert res.notifications_sent == res.transitions_expected


def test_the_checker_detects_a_lost_notification() -> None:
    """The harness can fail: a receiver that swallows (drops) one request is reported as a loss.

    One phase and no settling: the queue redelivers a dropped message at its next drain (a later
    phase would deliver it), so the run ends with that message still queued, never delivered."""

    def drop_first(n: int, req: Request) -> Answer:
        return Answer(drop=True) if n == 0 else Answer(202)

    res = event_storm(300, seed=3, phases=1, script=drop_first, settle_rounds=0)
    assert res.failed_outbox + res.lost >= 1
    assert not res.ok
