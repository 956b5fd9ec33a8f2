"""A small AWS account beside the Azure tenant: an AWS Data Exports "FOCUS 1.2 with AWS columns" export.

Written as AWS delivers it to S3, one gzip CSV per billing period:
``focus/aws/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.csv.gz`` (the 60 published columns,
``ingest/cost/focus_headers.py``). Two member accounts of one payer account, daily rows for the same
90 days as the Azure exports, in USD like them, so the demo's digest shows a second cloud. AWS's own
``-Manifest.json`` files under ``metadata/`` are not written: Vigil ingests the data files.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ingest.cost.focus_headers import AWS_FOCUS_1_2
from vigil.simulate.model import COST_DAYS, month_start, next_month

__all__ = ["AWS_EXPORT", "AWS_PAYER", "write_aws_focus"]

AWS_PAYER = "210987654321"
AWS_EXPORT = "contoso-focus-1-2"
_ISSUER = "Amazon Web Services, Inc."


@dataclass(frozen=True, slots=True)
class _AwsRes:
    account: str
    account_name: str
    arn: str
    service: str
    category: str
    service_code: str
    operation: str
    unit: str
    daily_qty: float
    price: float  # USD per unit
    region: str


_RESOURCES = (
    _AwsRes(
        "123456789012",
        "contoso-web-prod",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0c0ffee0c0ffee001",
        "Amazon Elastic Compute Cloud",
        "Compute",
        "AmazonEC2",
        "RunInstances",
        "Hrs",
        24.0,
        0.096,
        "us-east-1",
    ),
    _AwsRes(
        "123456789012",
        "contoso-web-prod",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0c0ffee0c0ffee002",
        "Amazon Elastic Compute Cloud",
        "Compute",
        "AmazonEC2",
        "RunInstances",
        "Hrs",
        24.0,
        0.096,
        "us-east-1",
    ),
    _AwsRes(
        "123456789012",
        "contoso-web-prod",
        "arn:aws:rds:us-east-1:123456789012:db:contoso-orders",
        "Amazon Relational Database Service",
        "Databases",
        "AmazonRDS",
        "CreateDBInstance:0002",
        "Hrs",
        24.0,
        0.068,
        "us-east-1",
    ),
    _AwsRes(
        "123456789012",
        "contoso-web-prod",
        "arn:aws:s3:::contoso-web-assets",
        "Amazon Simple Storage Service",
        "Storage",
        "AmazonS3",
        "StandardStorage",
        "GB-Mo",
        410.0 / 30,
        0.023,
        "us-east-1",
    ),
    _AwsRes(
        "345678901234",
        "contoso-analytics",
        "arn:aws:redshift:eu-west-1:345678901234:cluster:contoso-dw",
        "Amazon Redshift",
        "Analytics",
        "AmazonRedshift",
        "RunComputeNode:0001",
        "Hrs",
        24.0,
        1.086,
        "eu-west-1",
    ),
)


def _ts(d: date) -> str:
    return f"{d:%Y-%m-%d}T00:00:00.000Z"


def _record(day: date, r: _AwsRes, qty: float, cost: str, invoice: str) -> dict[str, str]:
    rec = dict.fromkeys(AWS_FOCUS_1_2, "")
    rec.update(
        {
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost,
            "ContractedCost": cost,
            "BillingAccountId": AWS_PAYER,
            "BillingAccountName": "contoso-payer",
            "BillingAccountType": "Billing Account",
            "BillingCurrency": "USD",
            "BillingPeriodStart": _ts(month_start(day)),
            "BillingPeriodEnd": _ts(next_month(day)),
            "ChargeCategory": "Usage",
            "ChargeDescription": f"{r.service} {r.operation}",
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodStart": _ts(day),
            "ChargePeriodEnd": _ts(day + timedelta(days=1)),
            "ConsumedQuantity": f"{qty:.6f}",
            "ConsumedUnit": r.unit,
            "InvoiceId": invoice,
            "InvoiceIssuerName": _ISSUER,
            "PricingCategory": "Standard",
            "PricingCurrency": "USD",
            "PricingCurrencyEffectiveCost": cost,
            "PricingQuantity": f"{qty:.6f}",
            "PricingUnit": r.unit,
            "ProviderName": "AWS",
            "PublisherName": "AWS",
            "RegionId": r.region,
            "RegionName": r.region,
            "ResourceId": r.arn,
            "ResourceName": r.arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1],
            "ServiceCategory": r.category,
            "ServiceName": r.service,
            "SkuMeter": r.operation,
            "SubAccountId": r.account,
            "SubAccountName": r.account_name,
            "SubAccountType": "Linked Account",
            "Tags": '{"user:app":"contoso"}',
            "x_Operation": r.operation,
            "x_ServiceCode": r.service_code,
        }
    )
    return rec


def write_aws_focus(root: Path, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Write the export under ``root/focus/aws``; returns (files, rows)."""
    last_day = (now - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=COST_DAYS - 1)
    by_month: dict[date, list[dict[str, str]]] = {}
    day = first_day
    while day <= last_day:
        month = month_start(day)
        invoice = f"EUINUS{month:%y%m}-{AWS_PAYER[-4:]}"
        for r in _RESOURCES:
            qty = r.daily_qty * rng.uniform(0.97, 1.03) if r.unit == "GB-Mo" else r.daily_qty
            cost = f"{qty * r.price:.10f}".rstrip("0").rstrip(".")
            by_month.setdefault(month, []).append(_record(day, r, qty, cost, invoice))
        day += timedelta(days=1)
    files = rows = 0
    for month, records in sorted(by_month.items()):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=AWS_FOCUS_1_2, lineterminator="\n")
        w.writeheader()
        w.writerows(records)
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(buf.getvalue().encode("utf-8"))
        path = root / "focus" / "aws" / AWS_EXPORT / "data" / f"BILLING_PERIOD={month:%Y-%m}"
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{AWS_EXPORT}-00001.csv.gz").write_bytes(out.getvalue())
        files += 1
        rows += len(records)
    return files, rows
