"""Overspend per provider and across providers: an AWS account beside Azure subscriptions.

The AWS rows are shaped as Vigil's FOCUS ingest leaves them (tests/ingest/cost/test_cost_multicloud.py):
ProviderName "AWS", SubAccountId the 12-digit account, no resource group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from core.model import Status
from detectors.config import OverspendConfig
from detectors.overspend import detect
from tests.detectors.overspend.synth import frame

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
START = date(2026, 8, 1)
SPIKE = date(2026, 11, 20)
AWS_PROD, AWS_DEV = "111122223333", "444455556666"
ARN = "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60718"


def _aws_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range((NOW.date() - START).days):
        day = START + timedelta(days=i)
        ts = pd.Timestamp(day, tz="UTC")
        for account, cost in ((AWS_PROD, 150.0), (AWS_DEV, 60.0)):
            c = cost * (0.8 if day.weekday() >= 5 else 1.0) * (1 + 0.02 * ((i * 7 + len(account)) % 5 - 2))
            if account == AWS_PROD and day == SPIKE:
                c += 1200.0
            rows.append(
                {
                    "ChargePeriodStart": ts,
                    "ChargePeriodEnd": ts + pd.Timedelta(days=1),
                    "BilledCost": c,
                    "EffectiveCost": c,
                    "BillingCurrency": "EUR",
                    "SubAccountId": account,
                    "x_ResourceGroupName": None,
                    "ResourceId": ARN if account == AWS_PROD else None,
                    "ResourceName": "i-0a1b2c3d4e5f60718" if account == AWS_PROD else None,
                    "ServiceName": "Amazon Elastic Compute Cloud",
                    "ChargeCategory": "Usage",
                    "Tags": "{}",
                    "ProviderName": "AWS",
                    "x_SourceRunId": "run-aws",
                    "x_SourceFile": "aws_focus_1.2.parquet",
                }
            )
    return rows


def _frame() -> pd.DataFrame:
    azure = frame(START, (NOW.date() - START).days).assign(ProviderName="Microsoft")
    return pd.concat([azure, pd.DataFrame(_aws_rows())], ignore_index=True)


def _firing(findings: list, kind: str) -> dict[str, object]:
    return {
        f.labels["scope"]: f
        for f in findings
        if f.status is Status.FIRING and f.rule == "overspend_cost_anomaly" and f.labels["scope_kind"] == kind
    }


def test_anomaly_per_provider_per_account_and_across_providers() -> None:
    cfg = OverspendConfig(scopes=["billing_account", "provider", "subscription", "resource_group", "service"])
    findings = detect(_frame(), config=cfg, now=NOW, days=[SPIKE])
    assert set(_firing(findings, "provider")) == {"AWS"}  # the AWS series, not Azure's
    assert set(_firing(findings, "subscription")) == {AWS_PROD}  # the AWS account is a subscription scope
    assert set(_firing(findings, "billing_account")) == {"all"}  # across providers
    assert not _firing(findings, "resource_group")  # AWS has no resource groups; Azure did not move
    aws = _firing(findings, "provider")["AWS"]
    assert aws.resource.type == "vigil/provider"
    assert aws.evidence["resources"][0]["id"] == ARN.lower()


def test_budget_on_one_provider() -> None:
    df = _frame()
    month = df[(df["ChargePeriodStart"] >= pd.Timestamp("2026-11-01", tz="UTC"))]
    aws_mtd = float(month.loc[month["ProviderName"] == "AWS", "BilledCost"].sum())
    all_mtd = float(month["BilledCost"].sum())
    cfg = OverspendConfig.model_validate(
        {
            "scopes": [],
            "budgets": [
                {
                    "name": "aws",
                    "scope": {"kind": "provider", "value": "aws"},
                    "amount": aws_mtd / 0.9,  # 90% used: the 80% threshold fires, the 100% one does not
                    "thresholds": [{"percent": 80, "on": "actual"}, {"percent": 100, "on": "actual"}],
                }
            ],
        }
    )
    assert all_mtd > aws_mtd / 0.9  # the whole bill would cross 100%: the scope really filters
    by = {f.labels["threshold"]: f for f in detect(df, config=cfg, now=NOW)}
    assert by["actual>=80%"].status is Status.FIRING
    assert by["actual>=100%"].status is Status.RESOLVED
    assert by["actual>=80%"].evidence["actual"] == pytest.approx(aws_mtd, abs=0.01)
