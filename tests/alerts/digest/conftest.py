"""Fixture cost data for the digest, written here from the cost-frame contract.

Rows are generated as plain dicts first, so tests can sum them independently of
pandas, then turned into a frame with the contract's dtypes.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from core.costframe import COLUMNS, pandas_dtypes

SUBS = {
    "11111111-1111-1111-1111-111111111111": "prod",
    "22222222-2222-2222-2222-222222222222": "dev",
}
RESOURCES = [
    # (sub, rg, service, name, base daily cost, tags)
    ("11111111-1111-1111-1111-111111111111", "rg-ml", "Azure Machine Learning", "ws1", 40.0, {"team": "ml"}),
    ("11111111-1111-1111-1111-111111111111", "rg-ml", "Virtual Machines", "gpu-vm", 120.0, {"team": "ml"}),
    ("11111111-1111-1111-1111-111111111111", "rg-web", "Storage", "webstore", 8.5, {"team": "web"}),
    ("22222222-2222-2222-2222-222222222222", "rg-dev", "Virtual Machines", "devbox", 15.25, {}),
    ("22222222-2222-2222-2222-222222222222", "rg-dev", "Storage", "devstore", 2.1, {"team": "web", "env": "dev"}),
]
START = date(2026, 8, 31)  # a Monday
DAYS = 84  # 12 weeks


def make_rows(seed: int = 7, *, spike_day: date | None = date(2026, 11, 18)) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        for sub, rg, service, name, base, tags in RESOURCES:
            cost = round(base * (1.0 + 0.1 * rnd.random()) * (0.6 if day.weekday() >= 5 else 1.0), 4)
            if spike_day and name == "gpu-vm" and day >= spike_day:
                cost *= 4
            rid = f"/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines/{name}"
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            rows.append(
                {
                    "ChargePeriodStart": start,
                    "ChargePeriodEnd": start + timedelta(days=1),
                    "BilledCost": cost,
                    "EffectiveCost": cost,
                    "BillingCurrency": "USD",
                    "SubAccountId": sub,
                    "SubAccountName": SUBS[sub],
                    "x_ResourceGroupName": rg,
                    "ResourceId": rid,
                    "ResourceName": name,
                    "ResourceType": "microsoft.compute/virtualmachines",
                    "ServiceName": service,
                    "ServiceCategory": "Compute",
                    "RegionId": "eastus",
                    "ChargeCategory": "Usage",
                    "PricingCategory": "Standard",
                    "ConsumedQuantity": 24.0,
                    "ConsumedUnit": "Hours",
                    "Tags": json.dumps(tags),
                    "CommitmentDiscountId": None,
                    "x_SourceRunId": "run-1",
                    "x_SourceFile": "fixture",
                }
            )
    # A few rows billed in another currency, which must not be mixed in.
    for i in range(0, DAYS, 7):
        day = START + timedelta(days=i)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        row = dict(rows[0])
        row.update(
            ChargePeriodStart=start,
            ChargePeriodEnd=start + timedelta(days=1),
            BilledCost=999.0,
            EffectiveCost=999.0,
            BillingCurrency="EUR",
        )
        rows.append(row)
    return rows


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in COLUMNS])
    return frame.astype(pandas_dtypes())


@pytest.fixture
def cost_rows() -> list[dict[str, Any]]:
    return make_rows()


@pytest.fixture
def cost_frame(cost_rows: list[dict[str, Any]]) -> pd.DataFrame:
    return to_frame(cost_rows)
