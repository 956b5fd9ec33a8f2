"""The digest across clouds: a "By cloud" section when a second provider is present, provider and
invoice-issuer scopes, and provider names escaped like any other text. Expected figures are summed
here from the plain rows, not through the digest code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alerts.digest import build_digest, parse_week, render
from alerts.digest.data import DigestError, parse_scope
from tests.alerts.digest.conftest import make_rows, to_frame

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK = parse_week("2026-W47")  # 2026-11-16 .. 2026-11-22
AWS_ACCOUNT = "111122223333"
ISSUER = "Example <b>Partner</b> & Co"


def _rows() -> list[dict[str, Any]]:
    rows = make_rows()
    for r in rows:
        r.update(ProviderName="Microsoft", ServiceProviderName="Microsoft", InvoiceIssuerName="Microsoft")
    start = date(2026, 8, 31)
    for i in range(84):
        day = start + timedelta(days=i)
        ts = datetime(day.year, day.month, day.day, tzinfo=UTC)
        cost = 30.0 + (15.0 if day >= date(2026, 11, 16) else 0.0)  # AWS grows in the digest week
        rows.append(
            {
                **dict.fromkeys(rows[0]),
                "ChargePeriodStart": ts,
                "ChargePeriodEnd": ts + timedelta(days=1),
                "BilledCost": cost,
                "EffectiveCost": cost,
                "BillingCurrency": "USD",
                "SubAccountId": AWS_ACCOUNT,
                "SubAccountName": "shop-prod",
                "ResourceId": "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60718",
                "ServiceName": "Amazon Elastic Compute Cloud",
                "ChargeCategory": "Usage",
                "Tags": "{}",
                "ProviderName": "AWS",
                "ServiceProviderName": "AWS",
                "InvoiceIssuerName": ISSUER,
                "x_SourceRunId": "run-aws",
                "x_SourceFile": "aws_focus.csv.gz",
            }
        )
    return rows


def _week_sum(rows: list[dict[str, Any]], start: date, **match: str) -> float:
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = lo + timedelta(days=7)
    return sum(
        r["BilledCost"]
        for r in rows
        if r["BillingCurrency"] == "USD"
        and lo <= r["ChargePeriodStart"] < hi
        and all(r[k] == v for k, v in match.items())
    )


def test_by_cloud_section_sums_each_provider() -> None:
    rows = _rows()
    d = build_digest(to_frame(rows), [], week_start=WEEK, now=NOW, currency="USD")
    assert list(d.movers)[:2] == ["provider", "invoice-issuer"]
    got = {m.key: (m.this_week, m.previous_week) for m in d.movers["provider"]}
    prev = WEEK - timedelta(days=7)
    for provider in ("AWS", "Microsoft"):
        expected = (_week_sum(rows, WEEK, ProviderName=provider), _week_sum(rows, prev, ProviderName=provider))
        assert got[provider] == pytest.approx(expected)
    # across providers: the headline is the sum of both clouds
    assert d.week_total == pytest.approx(_week_sum(rows, WEEK))
    # the AWS account is a "subscription" mover like any Azure subscription
    assert AWS_ACCOUNT in {m.key for m in d.movers["subscription"]}


def test_provider_and_invoice_issuer_scopes() -> None:
    rows = _rows()
    frame = to_frame(rows)
    aws = build_digest(frame, [], week_start=WEEK, now=NOW, currency="USD", scopes=[parse_scope("provider=aws")])
    assert aws.week_total == pytest.approx(_week_sum(rows, WEEK, ProviderName="AWS"))
    assert "provider" not in aws.movers  # one cloud in scope: no one-row "By cloud" table
    ms = build_digest(
        frame, [], week_start=WEEK, now=NOW, currency="USD", scopes=[parse_scope("invoice-issuer=Microsoft")]
    )
    assert ms.week_total == pytest.approx(_week_sum(rows, WEEK, ProviderName="Microsoft"))
    with pytest.raises(DigestError, match="provider"):
        parse_scope("cloud=aws")


def test_single_cloud_digest_has_no_provider_section() -> None:
    d = build_digest(to_frame(make_rows()), [], week_start=WEEK, now=NOW, currency="USD")
    assert list(d.movers) == ["service", "resource-group", "subscription"]


def test_rendered_digest_shows_the_second_cloud_escaped() -> None:
    out = render(build_digest(to_frame(_rows()), [], week_start=WEEK, now=NOW, currency="USD"))
    assert "Cloud (ProviderName)" in out.text
    assert "AWS" in out.text
    assert "Subscription / account / project" in out.html_standalone
    assert "<b>Partner</b>" not in out.html_standalone
    assert "&lt;b&gt;Partner&lt;/b&gt;" in out.html_standalone


def test_resource_group_section_is_azure_only_when_clouds_mix() -> None:
    d = build_digest(to_frame(_rows()), [], week_start=WEEK, now=NOW, currency="USD")
    rg = {m.key: m.this_week for m in d.movers["resource-group"]}
    assert "(none)" not in rg  # the AWS rows have no resource group and are not listed as one
    azure_only = [r for r in _rows() if r["ProviderName"] == "Microsoft"]
    assert sum(rg.values()) == pytest.approx(_week_sum(azure_only, WEEK))
