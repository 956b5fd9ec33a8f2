"""Channel faults: 429 (header and body forms), 500/503, timeouts, connection refused and 413.

Each notification's first attempt meets a fault, then the endpoint goes away (connection
refused), then it recovers: every notification must arrive exactly once. A 413 on the
webhook channel must be recorded as failed with its reason (never silently dropped); the
Teams channel must split a large group below the size the endpoint accepts.
"""

from __future__ import annotations

from bench.faults.channels import FAULTS, channel_faults
from bench.faults.harness import fault_scale, scaled


def test_every_notification_is_delivered_once_after_recovery() -> None:
    n = scaled(200, fault_scale(), minimum=len(FAULTS) * 2)
    res = channel_faults(n, teams_alerts=60)
    figures = res.to_dict()
    assert set(res.faults) == set(FAULTS), figures  # each fault kind was really served
    assert sum(res.faults.values()) == n
    assert res.refused == n, figures  # pass 2: every attempt met a closed port
    assert res.delivered == n, figures
    assert res.lost == 0
    assert res.duplicate_deliveries == 0
    assert res.failed_outbox == 0
    assert res.oversize_recorded_failed == 1
    assert "413" in res.oversize_reason
    assert res.teams_413 == 0, figures
    assert res.teams_cards_delivered >= 2, "60 alerts do not fit one Teams card: the group must be split"
    assert res.teams_lost == 0
    assert res.ok
