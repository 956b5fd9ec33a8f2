from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from core.model import Status
from detectors.config import BudgetConfig, OverspendConfig
from detectors.overspend import detect
from tests.detectors.overspend.synth import SUB_A, SUB_B, frame, rid

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
START = date(2026, 8, 1)
GPU = ("Microsoft.Compute/virtualMachines", "Virtual Machines")
GPU_ID = rid(SUB_A, "web", "vm-gpu-1", GPU[0])


def _spike_frame(first: date = date(2026, 11, 20), n: int = 1, cost: float = 900.0) -> pd.DataFrame:
    extra = [(SUB_A, "web", "vm-gpu-1", GPU[0], GPU[1], first, n, cost)]
    return frame(START, (NOW.date() - START).days, extra=extra)


def _firing(findings: list, kind: str) -> list:
    return [
        f
        for f in findings
        if f.status is Status.FIRING and f.rule == "overspend_cost_anomaly" and f.labels["scope_kind"] == kind
    ]


def test_planted_spike_found_with_top_contributor() -> None:
    findings = detect(_spike_frame(), config=OverspendConfig(), now=NOW, days=[date(2026, 11, 20)])
    subs = _firing(findings, "subscription")
    assert [f.labels["scope"] for f in subs] == [SUB_A]
    ev = subs[0].evidence
    assert ev["resources"][0]["id"] == GPU_ID
    assert ev["resources"][0]["delta"] == pytest.approx(900.0, abs=1)
    assert ev["new_resources"] == [GPU_ID]
    assert ev["first_day"] == "2026-11-20"
    assert ev["services"][0]["id"] == "Virtual Machines"
    assert ev["resource_groups"][0]["id"] == f"{SUB_A}/web"
    assert ev["impact"] > 800
    # identity carries no figure; figures are in evidence/annotations
    assert set(subs[0].labels) == {"scope_kind", "scope"}
    assert "vm-gpu-1" in subs[0].annotations["description"]
    rgs = _firing(findings, "resource_group")
    assert [f.labels["scope"] for f in rgs] == [f"{SUB_A}/web"]
    assert not _firing(findings, "subscription") or all(f.labels["scope"] != SUB_B for f in subs)


def test_spike_resolves_when_scope_returns_to_normal() -> None:
    findings = detect(_spike_frame(), config=OverspendConfig(), now=NOW, days=[date(2026, 11, 22)])
    resolved = [f for f in findings if f.status is Status.RESOLVED and f.labels["scope_kind"] == "subscription"]
    assert [f.labels["scope"] for f in resolved] == [SUB_A]
    assert not _firing(findings, "subscription")
    fire = detect(_spike_frame(), config=OverspendConfig(), now=NOW, days=[date(2026, 11, 20)])
    assert _firing(fire, "subscription")[0].fingerprint == resolved[0].fingerprint


def test_weekly_seasonality_and_month_start_purchases_not_flagged() -> None:
    df = frame(START, (NOW.date() - START).days)
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(57)]
    findings = detect(df, config=OverspendConfig(), now=NOW, days=days)
    assert [f for f in findings if f.status is Status.FIRING and f.rule == "overspend_cost_anomaly"] == []


def test_min_impact_gates_small_changes() -> None:
    df = _spike_frame(cost=40.0)  # +40 EUR: far above noise for the resource group, below min_impact
    cfg = OverspendConfig(min_impact=50)
    assert not _firing(detect(df, config=cfg, now=NOW, days=[date(2026, 11, 20)]), "resource_group")
    cfg = OverspendConfig(min_impact=10)
    assert _firing(detect(df, config=cfg, now=NOW, days=[date(2026, 11, 20)]), "resource_group")


def test_default_days_is_newest_day_and_future_rows_ignored() -> None:
    df = _spike_frame(first=date(2026, 11, 26))
    findings = detect(df, config=OverspendConfig(), now=NOW)
    assert _firing(findings, "subscription")[0].evidence["day"] == "2026-11-26"
    # the same data seen at an earlier `now` does not know about the spike
    earlier = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert not _firing(detect(df, config=OverspendConfig(), now=earlier), "subscription")


def test_step_change_first_day_and_short_history() -> None:
    df = _spike_frame(first=date(2026, 11, 18), n=30, cost=500.0)
    findings = detect(df, config=OverspendConfig(), now=NOW, days=[date(2026, 11, 19)])
    ev = _firing(findings, "subscription")[0].evidence
    assert ev["first_day"] == "2026-11-18"
    assert ev["resources"][0]["first_day"] == "2026-11-18"
    short = frame(date(2026, 11, 20), 7)
    assert detect(short, config=OverspendConfig(), now=NOW) == [] or not _firing(
        detect(short, config=OverspendConfig(), now=NOW), "subscription"
    )


def test_gaps_in_the_export_are_not_zero_cost() -> None:
    skip = {date(2026, 11, 10) + timedelta(days=i) for i in range(3)}
    df = frame(START, (NOW.date() - START).days, skip_days=skip)
    days = [date(2026, 11, 8) + timedelta(days=i) for i in range(10)]
    findings = detect(df, config=OverspendConfig(), now=NOW, days=days)
    assert [f for f in findings if f.status is Status.FIRING] == []


def _budget(amount: float, **kw: object) -> BudgetConfig:
    data = {"name": "prod", "scope": {"kind": "subscription", "value": SUB_A}, "amount": amount, **kw}
    return BudgetConfig.model_validate(data)


def test_budget_actual_and_forecast_thresholds() -> None:
    df = frame(START, (NOW.date() - START).days, purchases=False)
    # SUB_A spends about 370/day on weekdays and 300/day on weekends: about 11 000 a month.
    nov = df[(df["SubAccountId"] == SUB_A) & (df["ChargePeriodStart"] >= pd.Timestamp("2026-11-01", tz="UTC"))]
    spent = float(nov["EffectiveCost"].sum())
    budget = _budget(
        spent / 0.9,
        thresholds=[
            {"percent": 50, "on": "actual"},
            {"percent": 100, "on": "actual"},
            {"percent": 100, "on": "forecast"},
            {"percent": 150, "on": "forecast"},
        ],
    )
    findings = detect(df, config=OverspendConfig(scopes=[]), budgets=[budget], now=NOW)
    state = {f.labels["threshold"]: f for f in findings}
    assert state["actual>=50%"].status is Status.FIRING
    assert state["actual>=100%"].status is Status.RESOLVED
    assert state["forecast>=100%"].status is Status.FIRING
    assert state["forecast>=150%"].status is Status.RESOLVED
    fc = state["forecast>=100%"].evidence["forecast"]
    assert fc["low"] < fc["total"] < fc["high"]
    # about 26 days spent, 4 to go: total near spent * 30/26
    assert fc["total"] == pytest.approx(spent * 30 / 26, rel=0.06)
    assert state["actual>=50%"].evidence["actual"] == pytest.approx(spent, rel=1e-6)


def test_budget_resolves_at_period_rollover() -> None:
    df = frame(START, (NOW.date() - START).days, purchases=False)
    budget = _budget(5000.0, thresholds=[{"percent": 100, "on": "actual"}])
    assert detect(df, config=OverspendConfig(scopes=[]), budgets=[budget], now=NOW)[0].status is Status.FIRING
    december = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    after = detect(df, config=OverspendConfig(scopes=[]), budgets=[budget], now=december)
    assert [f.status for f in after] == [Status.RESOLVED]
    assert after[0].evidence["period_start"] == "2026-12-01"


def test_budget_scopes_tag_service_resource_group_and_periods() -> None:
    df = frame(START, (NOW.date() - START).days, purchases=False)
    cfg = OverspendConfig.model_validate(
        {
            "scopes": [],
            "budgets": [
                {"name": "dev-tag", "scope": {"kind": "tag", "value": "env=dev"}, "amount": 1.0},
                {"name": "kv", "scope": {"kind": "service", "value": "key vault"}, "amount": 1e9},
                {"name": "rg", "scope": {"kind": "resource_group", "value": "batch"}, "amount": 1.0},
                {"name": "q", "scope": {"kind": "billing_account"}, "amount": 1.0, "period": "quarterly"},
                {"name": "y", "scope": {"kind": "billing_account"}, "amount": 1e9, "period": "annual"},
            ],
        }
    )
    findings = detect(df, config=cfg, now=NOW)
    by = {(f.labels["budget"], f.labels["threshold"]): f for f in findings}
    assert by[("dev-tag", "actual>=80%")].status is Status.FIRING
    assert by[("kv", "forecast>=100%")].status is Status.RESOLVED
    assert by[("rg", "actual>=100%")].status is Status.FIRING
    assert by[("q", "actual>=100%")].evidence["period_start"] == "2026-10-01"
    assert by[("y", "actual>=80%")].evidence["period_end"] == "2027-01-01"


def test_budget_config_validation() -> None:
    with pytest.raises(ValueError, match="needs a value"):
        BudgetConfig.model_validate({"name": "a", "scope": {"kind": "subscription"}, "amount": 1})
    with pytest.raises(ValueError, match="key=value"):
        BudgetConfig.model_validate({"name": "a", "scope": {"kind": "tag", "value": "env"}, "amount": 1})
    with pytest.raises(ValueError, match="unique"):
        OverspendConfig.model_validate(
            {"budgets": [{"name": "a", "scope": {"kind": "billing_account"}, "amount": 1}] * 2}
        )


def test_naive_now_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        detect(frame(START, 10), config=OverspendConfig(), now=datetime(2026, 11, 27))
