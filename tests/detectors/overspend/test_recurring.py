"""Recurring charges on a cost frame: FOCUS ChargeFrequency keeps them out of the usage series."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from core.model import Status
from detectors.config import OverspendConfig
from detectors.overspend import detect
from tests.detectors.overspend.synth import SUB_A, _row, frame

START = date(2026, 3, 1)
DAYS = 240
NOW = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)


def _with_plan(amounts: dict[date, float]) -> pd.DataFrame:
    rows = []
    for day, amount in amounts.items():
        r = _row(day, SUB_A, "", "", "", "Marketplace", amount)
        r.update(ChargeCategory="Purchase", ChargeFrequency="Recurring", ResourceId=None)
        rows.append(r)
    return pd.concat([frame(START, DAYS, purchases=False), pd.DataFrame(rows)], ignore_index=True)


def _renewals() -> list[date]:
    return [d for d in (START + timedelta(days=i) for i in range(DAYS)) if d.day == 17]


def test_a_monthly_plan_is_never_a_usage_anomaly() -> None:
    costs = _with_plan(dict.fromkeys(_renewals(), 2500.0))
    days = [START + timedelta(days=i) for i in range(30, DAYS)]
    findings = detect(costs, config=OverspendConfig(), now=NOW, days=days)
    assert [f for f in findings if f.status is Status.FIRING] == []


def test_a_changed_recurring_amount_fires_once_and_resolves_at_the_next_billing() -> None:
    renewals = _renewals()
    amounts = {d: (2500.0 if i < 4 else 3100.0) for i, d in enumerate(renewals)}
    costs = _with_plan(amounts)
    days = [START + timedelta(days=i) for i in range(30, DAYS)]
    findings = [f for f in detect(costs, config=OverspendConfig(), now=NOW, days=days) if "recurring" in f.rule]
    assert [(f.status, f.evidence["day"]) for f in findings] == [
        (Status.FIRING, renewals[4].isoformat()),
        (Status.RESOLVED, renewals[5].isoformat()),
    ]
    assert findings[0].evidence["impact"] == 600.0
    assert "Marketplace" in findings[0].annotations["summary"]


def test_holiday_calendar_is_validated() -> None:
    import pytest
    from pydantic import ValidationError

    assert OverspendConfig(holidays="us+xmas").holidays == "us+xmas"
    assert OverspendConfig(holidays="none").holidays is None
    with pytest.raises(ValidationError, match="unknown holiday calendar 'XX'"):
        OverspendConfig(holidays="XX")
