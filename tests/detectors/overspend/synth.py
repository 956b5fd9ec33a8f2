"""A small synthetic cost frame (core/costframe.py columns) for overspend tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"


def rid(sub: str, rg: str, name: str, kind: str = "Microsoft.Compute/virtualMachines") -> str:
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/{kind}/{name}".lower()


BASE_RESOURCES = [
    # (sub, rg, name, type, service, daily cost, weekend factor)
    (SUB_A, "web", "vm-web-1", "Microsoft.Compute/virtualMachines", "Virtual Machines", 120.0, 0.6),
    (SUB_A, "web", "vm-web-2", "Microsoft.Compute/virtualMachines", "Virtual Machines", 110.0, 0.6),
    (SUB_A, "data", "sqldb-main", "Microsoft.Sql/servers", "SQL Database", 200.0, 1.0),
    (SUB_A, "data", "stdata", "Microsoft.Storage/storageAccounts", "Storage", 40.0, 1.0),
    (SUB_B, "batch", "vm-batch-1", "Microsoft.Compute/virtualMachines", "Virtual Machines", 90.0, 0.3),
    (SUB_B, "batch", "kv-batch", "Microsoft.KeyVault/vaults", "Key Vault", 5.0, 1.0),
]


def frame(
    start: date,
    days: int,
    *,
    seed: int = 1,
    noise: float = 0.03,
    extra: list[tuple[str, str, str, str, str, date, int, float]] | None = None,
    purchases: bool = True,
    skip_days: set[date] | None = None,
) -> pd.DataFrame:
    """Daily rows per resource. ``extra``: (sub, rg, name, type, service, first day, n days, daily cost)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for i in range(days):
        day = start + timedelta(days=i)
        if skip_days and day in skip_days:
            continue
        weekend = day.weekday() >= 5
        for sub, rg, name, rtype, service, cost, wf in BASE_RESOURCES:
            c = cost * (wf if weekend else 1.0) * (1 + rng.normal(0, noise))
            rows.append(_row(day, sub, rg, name, rtype, service, c))
        for sub, rg, name, rtype, service, first, n, cost in extra or []:
            if first <= day < first + timedelta(days=n):
                rows.append(_row(day, sub, rg, name, rtype, service, cost))
        if purchases and day.day == 1:
            r = _row(day, SUB_A, "", "", "", "Reservations", 3000.0)
            r["ChargeCategory"] = "Purchase"
            r["ResourceId"] = None
            rows.append(r)
    return pd.DataFrame(rows)


def _row(day: date, sub: str, rg: str, name: str, rtype: str, service: str, cost: float) -> dict[str, object]:
    start = pd.Timestamp(day, tz="UTC")
    return {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + pd.Timedelta(days=1),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": "EUR",
        "SubAccountId": sub,
        "x_ResourceGroupName": rg,
        "ResourceId": rid(sub, rg, name, rtype) if name else None,
        "ResourceName": name,
        "ResourceType": rtype.lower(),
        "ServiceName": service,
        "ChargeCategory": "Usage",
        "Tags": '{"env": "prod"}' if sub == SUB_A else '{"env": "dev"}',
        "x_SourceRunId": "run-1",
        "x_SourceFile": "synthetic.csv",
    }
