from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alerts.digest import DigestError, build_digest, load_findings, parse_scope, parse_week
from tests.alerts.digest.conftest import make_rows, to_frame

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK = parse_week("2026-W47")  # Monday 2026-11-16


def independent_sum(rows: list[dict[str, Any]], start: date, end: date, pred: Any) -> float:
    total = 0.0
    for r in rows:
        d = r["ChargePeriodStart"].date()
        if r["BillingCurrency"] == "USD" and start <= d < end and pred(r):
            total += r["BilledCost"]
    return total


SCOPES = {
    "all": lambda r: True,
    "subscription=11111111-1111-1111-1111-111111111111": lambda r: r["SubAccountId"].startswith("1111"),
    "resource-group=RG-DEV": lambda r: r["x_ResourceGroupName"] == "rg-dev",
    "service=Storage": lambda r: r["ServiceName"] == "Storage",
    "tag=team=web": lambda r: json.loads(r["Tags"]).get("team") == "web",
}


@pytest.mark.parametrize("scope_text", list(SCOPES))
def test_totals_equal_independent_sums_for_every_scope(scope_text: str) -> None:
    rows = make_rows()
    pred = SCOPES[scope_text]
    d = build_digest(to_frame(rows), [], week_start=WEEK, scopes=[parse_scope(scope_text)], now=NOW, currency="USD")
    assert d.has_data
    assert d.week_total == pytest.approx(independent_sum(rows, WEEK, WEEK + timedelta(days=7), pred), abs=1e-6)
    assert d.previous_week_total == pytest.approx(independent_sum(rows, WEEK - timedelta(days=7), WEEK, pred), abs=1e-6)
    lm = WEEK - timedelta(days=28)
    assert d.same_week_last_month_total == pytest.approx(
        independent_sum(rows, lm, lm + timedelta(days=7), pred), abs=1e-6
    )
    assert d.month_to_date == pytest.approx(
        independent_sum(rows, date(2026, 11, 1), WEEK + timedelta(days=7), pred), abs=1e-6
    )
    # The daily chart covers 8 weeks and adds up to the same data.
    assert len(d.daily) == 56
    chart_start = WEEK + timedelta(days=7) - timedelta(days=56)
    assert sum(v for _, v in d.daily) == pytest.approx(
        independent_sum(rows, chart_start, WEEK + timedelta(days=7), pred), abs=1e-6
    )


def test_union_of_scopes() -> None:
    rows = make_rows()
    scopes = [parse_scope("resource-group=rg-dev"), parse_scope("resource-group=rg-web")]
    d = build_digest(to_frame(rows), [], week_start=WEEK, scopes=scopes, now=NOW, currency="USD")
    expected = independent_sum(
        rows, WEEK, WEEK + timedelta(days=7), lambda r: r["x_ResourceGroupName"] in ("rg-dev", "rg-web")
    )
    assert d.week_total == pytest.approx(expected)
    assert str(d.scope) == "resource-group=rg-dev, resource-group=rg-web"


def test_dominant_currency_is_chosen_and_others_reported() -> None:
    d = build_digest(to_frame(make_rows()), [], week_start=WEEK, now=NOW)
    assert d.currency == "USD"
    assert d.other_currencies == ["EUR"]


def test_movers_ranked_by_week_over_week_change() -> None:
    d = build_digest(to_frame(make_rows()), [], week_start=WEEK, now=NOW, currency="USD")
    services = d.movers["service"]
    # The planted 4x spike on gpu-vm from Wednesday makes Virtual Machines the top mover.
    assert services[0].key == "Virtual Machines"
    assert services[0].change > 0
    changes = [abs(m.change) for m in services]
    assert changes == sorted(changes, reverse=True)
    assert d.movers["resource-group"][0].key == "rg-ml"
    assert len(d.movers["subscription"]) == 2


def test_forecast_uses_weekday_means() -> None:
    rows = make_rows(spike_day=None)
    d = build_digest(to_frame(rows), [], week_start=WEEK, now=NOW, currency="USD", budget=10_000.0)
    assert d.month_forecast is not None
    # Forecast = MTD + 7 remaining days (23..30 Nov) of weekday means; bounded by plain run-rates.
    daily = [v for _, v in d.daily[-28:]]
    remaining_days = 7
    assert min(daily) * remaining_days <= d.month_forecast - d.month_to_date <= max(daily) * remaining_days


def test_empty_week_gives_reason_not_blank() -> None:
    d = build_digest(to_frame(make_rows()), [], week_start=parse_week("2027-W10"), now=NOW, currency="USD")
    assert not d.has_data
    assert "2027-W10" in d.empty_reason
    assert "latest data" in d.empty_reason
    d2 = build_digest(
        to_frame(make_rows()), [], week_start=WEEK, scopes=[parse_scope("service=Nope")], now=NOW, currency="USD"
    )
    assert not d2.has_data
    assert "service=Nope" in d2.empty_reason


def _finding_line(detector: str, rule: str, status: str, observed: datetime, **ann: str) -> str:
    return json.dumps(
        {
            "detector": detector,
            "rule": rule,
            "status": status,
            "severity": "high",
            "resource": {
                "id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg-ml/providers/"
                f"microsoft.compute/virtualmachines/{rule}",
                "type": "microsoft.compute/virtualmachines",
                "name": rule,
                "subscription_id": "11111111-1111-1111-1111-111111111111",
                "resource_group": "rg-ml",
                "location": "",
            },
            "observed_at": observed.isoformat(),
            "labels": {},
            "annotations": ann,
            "evidence": {},
        }
    )


def test_findings_sections() -> None:
    in_week = datetime(2026, 11, 18, 9, tzinfo=UTC)
    before = datetime(2026, 11, 2, 9, tzinfo=UTC)
    lines = [
        _finding_line("overspend", "cost_anomaly", "firing", in_week, summary="VM spend up 4x"),
        _finding_line("overspend", "old_anomaly", "firing", before),
        _finding_line("idle", "vm_a", "firing", before, monthly_waste="120.50"),
        _finding_line("idle", "vm_b", "firing", before, monthly_waste="300"),
        _finding_line("idle", "vm_c", "resolved", in_week, monthly_waste="999"),
        _finding_line("drift", "d1", "firing", in_week),
        _finding_line("drift", "d2", "firing", in_week),
        _finding_line("drift", "d3", "resolved", in_week),
    ]
    # An alert line (alerts.jsonl form) is accepted too.
    lines.append(
        json.dumps(
            {
                "status": "resolved",
                "labels": {"alertname": "d4", "detector": "drift", "resource_id": "/x"},
                "annotations": {},
                "startsAt": before.isoformat(),
                "endsAt": in_week.isoformat(),
            }
        )
    )
    findings = load_findings(lines)
    d = build_digest(to_frame(make_rows()), findings, week_start=WEEK, now=NOW, currency="USD")
    assert [a.rule for a in d.anomalies] == ["cost_anomaly"]
    assert [(f.rule, w) for f, w in d.idle] == [("vm_b", 300.0), ("vm_a", 120.5)]
    assert d.idle_total_monthly == pytest.approx(420.5)
    assert d.drift_opened == 2
    assert d.drift_resolved == 2


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(DigestError, match=r"f\.jsonl:2:"):
        load_findings(['{"detector": "x"}', "not json"], source="f.jsonl")
    with pytest.raises(DigestError, match="ISO week"):
        parse_week("2026-47")
    with pytest.raises(DigestError, match="KIND=VALUE"):
        parse_scope("subscription")
    with pytest.raises(DigestError, match="kind must be"):
        parse_scope("region=eastus")


def test_week_in_progress_compares_the_same_weekdays() -> None:
    rows = [r for r in make_rows() if r["ChargePeriodStart"].date() < date(2026, 11, 19)]  # data ends Wednesday
    d = build_digest(to_frame(rows), [], week_start=WEEK, now=NOW, currency="USD")
    assert d.days_covered == 3
    every = SCOPES["all"]
    assert d.week_total == pytest.approx(independent_sum(rows, WEEK, date(2026, 11, 19), every))
    prev = WEEK - timedelta(days=7)
    assert d.previous_week_total == pytest.approx(independent_sum(rows, prev, prev + timedelta(days=3), every))
    lm = WEEK - timedelta(days=28)
    assert d.same_week_last_month_total == pytest.approx(independent_sum(rows, lm, lm + timedelta(days=3), every))
    assert d.month_to_date == pytest.approx(independent_sum(rows, date(2026, 11, 1), date(2026, 11, 19), every))
    assert d.trace["week_total"]["to"] == "2026-11-19"
    from alerts.digest import render

    html = render(d).html_standalone
    assert "Week to date (3 of 7 days)" in html
    assert "same days last week" in html


def test_remediation_actions_come_from_the_ledger_for_the_week_and_scope() -> None:
    vms = "providers/microsoft.compute/virtualmachines"
    vm = f"/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg-ml/{vms}/gpu-vm"
    other = f"/subscriptions/22222222-2222-2222-2222-222222222222/resourcegroups/rg-dev/{vms}/devbox"
    log = [
        {"event": "remediation_approved", "at": "2026-11-18T10:00:00+00:00", "fingerprint": "x"},  # not an action
        {
            "at": "2026-11-18T10:05:00+00:00",
            "action": "deallocate_vm",
            "resource_id": vm,
            "result": "succeeded",
            "approved_by": "alice",
        },
        {
            "at": "2026-11-19T10:05:00+00:00",
            "action": "deallocate_vm",
            "resource_id": other,
            "result": "failed",
            "approved_by": "bob",
        },
        {
            "at": "2026-11-02T10:05:00+00:00",
            "action": "deallocate_vm",
            "resource_id": vm,
            "result": "succeeded",
            "approved_by": "carol",
        },  # an earlier week
    ]
    d = build_digest(to_frame(make_rows()), [], week_start=WEEK, now=NOW, currency="USD", remediation_log=log)
    assert [(r.resource_name, r.result, r.approved_by) for r in d.remediations] == [
        ("gpu-vm", "succeeded", "alice"),
        ("devbox", "failed", "bob"),
    ]
    scoped = build_digest(
        to_frame(make_rows()),
        [],
        week_start=WEEK,
        scopes=[parse_scope("resource-group=rg-ml")],
        now=NOW,
        currency="USD",
        remediation_log=log,
    )
    assert [r.approved_by for r in scoped.remediations] == ["alice"]
    from alerts.digest import render

    assert "deallocate_vm on gpu-vm: succeeded (by alice)" in render(scoped).html_standalone


@pytest.mark.parametrize("scope_text", list(SCOPES))
def test_a_categorical_frame_gives_the_same_digest(scope_text: str) -> None:
    """The digest's loads read text columns as categoricals (``load_costs(categorical=True)``, 1.4 GB instead
    of 3.0 GB at bench/scale's full size): every figure, mover and section equals the string frame's, with
    missing labels among the movers ("(none)") and tag scopes judged per distinct value."""
    rows = make_rows()
    rows += [{**r, "x_ResourceGroupName": None, "Tags": None} for r in rows[:: len(rows) // 40]]
    plain = to_frame(rows)
    text = [c for c in plain.columns if plain[c].dtype == object or str(plain[c].dtype) == "string"]
    assert "x_ResourceGroupName" in text
    categorical = plain.astype(dict.fromkeys(text, "category"))
    scopes = [parse_scope(scope_text)]
    a = build_digest(plain, [], week_start=WEEK, scopes=scopes, now=NOW, currency="USD")
    b = build_digest(categorical, [], week_start=WEEK, scopes=scopes, now=NOW, currency="USD")
    assert a.has_data
    assert b.to_dict() == a.to_dict()
    if scope_text == "all":  # the rows without a resource group are a mover of their own
        assert any(m.key == "(none)" for m in a.movers["resource-group"])
