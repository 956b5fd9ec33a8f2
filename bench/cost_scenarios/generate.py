"""Synthetic daily cost series with known anomalies, as cost frames (core/costframe.py columns).

Each series: a level with weekly seasonality (weekend dip, weekday wobble), a
yearly trend, multiplicative noise, holiday dips, and month-start reservation
purchases (ChargeCategory Purchase). Anomalies of known start, kind and size are
injected: ``spike`` (one day), ``step`` (lasting), ``ramp`` (linear over 14 days,
then lasting) and ``new_resource`` (a new resource id that keeps costing).
Sizes are multiples of the residual standard deviation at the anomaly's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

KINDS = ("spike", "step", "ramp", "new_resource")
RAMP_DAYS = 14


@dataclass(frozen=True)
class Injected:
    kind: str
    start: date
    size: float  # currency units per day at full size
    sigma: float  # residual standard deviation at the start, currency units
    duration: int  # days the anomaly is active (spike 1; others until the series ends)

    @property
    def qualifies(self) -> bool:
        """In scope of the recall goal: at least 3 sigma and more than 50 currency units."""
        return self.size >= 3 * self.sigma and self.size > 50


@dataclass(frozen=True)
class Series:
    seed: int
    start: date
    days: int
    frame: pd.DataFrame
    anomalies: tuple[Injected, ...]
    daily_usage: np.ndarray  # clean view, for the baseline


def generate(seed: int, *, days: int = 730, start: date = date(2024, 1, 1), with_anomalies: bool = True) -> Series:
    rng = np.random.default_rng(seed)
    level = float(rng.uniform(150, 6000))
    weekend = float(rng.uniform(0.45, 1.0))
    wobble = rng.normal(0, 0.03, 7)
    wobble[5:] = 0
    growth = float(rng.uniform(-0.1, 0.5))
    noise = float(rng.uniform(0.02, 0.08))
    t = np.arange(days)
    dates = [start + timedelta(days=int(i)) for i in t]
    dow = np.array([d.weekday() for d in dates])
    season = np.where(dow >= 5, weekend, 1.0 + wobble[np.minimum(dow, 6)])
    trend = (1 + growth) ** (t / 365.0)
    expected = level * season * trend
    usage = expected * np.exp(rng.normal(0, noise, days) - noise**2 / 2)
    holiday = np.array([(d.month, d.day) in {(12, 25), (12, 26), (1, 1)} for d in dates])
    usage[holiday] *= 0.55
    sigma = noise * expected
    anomalies: list[Injected] = []
    extra = np.zeros(days)
    new_res = np.zeros(days)
    if with_anomalies:
        n = int(rng.integers(1, 4))
        starts = sorted(rng.choice(np.arange(100, days - 40, 75), size=n, replace=False).tolist())
        for s in starts:
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            k = float(rng.uniform(2.0, 10.0))
            size = k * float(sigma[s]) if rng.random() < 0.8 else float(rng.uniform(20, 80))
            if kind == "spike":
                extra[s] += size
                anomalies.append(Injected(kind, dates[s], size, float(sigma[s]), 1))
            elif kind == "step":
                extra[s:] += size
                anomalies.append(Injected(kind, dates[s], size, float(sigma[s]), days - s))
            elif kind == "ramp":
                r = np.minimum((t[s:] - s + 1) / RAMP_DAYS, 1.0)
                extra[s:] += size * r
                anomalies.append(Injected(kind, dates[s], size, float(sigma[s]), days - s))
            else:
                new_res[s:] += size * np.exp(rng.normal(0, 0.02, days - s))
                anomalies.append(Injected(kind, dates[s], size, float(sigma[s]), days - s))
    rows: list[dict[str, object]] = []
    sub = f"{seed:08d}-0000-0000-0000-000000000000"
    base_id = f"/subscriptions/{sub}/resourcegroups/app/providers/microsoft.compute/virtualmachinescalesets/vmss"
    new_id = f"/subscriptions/{sub}/resourcegroups/app/providers/microsoft.compute/virtualmachines/vm-new"
    purchase = level * float(rng.uniform(5, 30))
    for i, d in enumerate(dates):
        rows.append(_row(d, sub, base_id, "Virtual Machines", usage[i] * 0.7 + extra[i], "Usage"))
        rows.append(_row(d, sub, base_id.replace("vmss", "sql"), "SQL Database", usage[i] * 0.3, "Usage"))
        if new_res[i] > 0:
            rows.append(_row(d, sub, new_id, "Virtual Machines", new_res[i], "Usage"))
        if d.day == 1 and (d.month % 3 == 1 or rng.random() < 0.3):
            rows.append(_row(d, sub, "", "Reservations", purchase, "Purchase"))
    frame = pd.DataFrame(rows)
    total = frame.groupby("day")["BilledCost"].sum().to_numpy()
    return Series(seed, start, days, frame.drop(columns=["day"]), tuple(anomalies), total)


def _row(d: date, sub: str, rid: str, service: str, cost: float, category: str) -> dict[str, object]:
    ts = pd.Timestamp(d, tz="UTC")
    return {
        "day": d,
        "ChargePeriodStart": ts,
        "ChargePeriodEnd": ts + pd.Timedelta(days=1),
        "BilledCost": float(cost),
        "EffectiveCost": float(cost),
        "BillingCurrency": "USD",
        "SubAccountId": sub,
        "x_ResourceGroupName": "app" if rid else "",
        "ResourceId": rid or None,
        "ResourceName": rid.rsplit("/", 1)[-1] if rid else "",
        "ServiceName": service,
        "ChargeCategory": category,
        "x_SourceRunId": "bench",
        "x_SourceFile": "bench",
    }
