"""Synthetic daily cost series of real billing, with known anomalies, as cost frames and as bare series.

Every series has the phenomena of real Azure cost data (issue 16):

- a level from a few dollars to tens of thousands a day (log-uniform, 5 to 50 000);
- weekly seasonality (a weekend factor, a weekday wobble) and a yearly trend;
- noise with a coefficient of variation of 3 % to 25 %, autocorrelated from day to day
  (AR(1) in log space, lag-one correlation 0.2 to 0.8);
- holidays: the US federal holidays and the Christmas to New Year period, when spend
  falls (by 10 % to 60 %, or to zero on a dev subscription);
- dev subscriptions (one series in five): near zero at weekends and shut down to zero
  for one to three weeks now and then, then back;
- recurring monthly charges (ChargeCategory Purchase, ChargeFrequency Recurring): a
  reservation on the 1st and, in half the series, a Marketplace plan on its
  anniversary day;
- one-off purchases (ChargeCategory Purchase, ChargeFrequency One-Time);
- the last 3 days of any export incomplete (``incomplete``: 60 %, 80 %, 95 % of the
  final cost, newest first), restated by later exports.

Injected anomalies of known start, kind and size: ``spike`` (one day), ``step``
(lasting), ``ramp`` (linear over 14 days, then lasting), ``new_resource`` (a new
resource id that keeps costing) and ``recurring_change`` (a recurring charge's
amount goes up and stays). Sizes are multiples of the noise standard deviation at the
anomaly's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from vigil.simulate.billing import INCOMPLETE, ar1_factors, billed_on, holidays_between, incomplete_share

__all__ = ["INCOMPLETE", "KINDS", "RAMP_DAYS", "Injected", "Series", "generate", "incomplete"]

KINDS = ("spike", "step", "ramp", "new_resource", "recurring_change")
RAMP_DAYS = 14


@dataclass(frozen=True)
class Injected:
    kind: str
    start: date
    size: float  # currency units per day at full size
    sigma: float  # noise standard deviation at the start, currency units
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
    daily_usage: np.ndarray  # usage charges only (no purchases), for the baseline
    daily_total: np.ndarray  # every charge: the bare series `vigil detect anomalies --profile cost` reads
    one_off_days: tuple[date, ...]  # days with a one-off purchase (news on a bare series, not an anomaly)
    dev: bool

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


def _ar1(rng: np.random.Generator, n: int, cv: float, phi: float) -> np.ndarray:
    """Multiplicative AR(1) noise of mean 1 and CV ``cv`` (vigil/simulate/billing.py, shared with the demo)."""
    first = float(rng.standard_normal())
    innovations = rng.standard_normal(n)  # innovations[0] unused: the draws of the series before the refactor
    return np.asarray(ar1_factors([first, *innovations[1:].tolist()], cv, phi))


def generate(seed: int, *, days: int = 730, start: date = date(2024, 1, 1), with_anomalies: bool = True) -> Series:
    rng = np.random.default_rng(seed)
    level = float(np.exp(rng.uniform(np.log(5), np.log(50_000))))
    dev = bool(rng.random() < 0.2)
    weekend = float(rng.uniform(0.0, 0.1) if dev else rng.uniform(0.35, 1.0))
    wobble = rng.normal(0, 0.03, 7)
    wobble[5:] = 0
    growth = float(rng.uniform(-0.1, 0.5))
    cv = float(rng.uniform(0.03, 0.25))
    phi = float(rng.uniform(0.2, 0.8))
    t = np.arange(days)
    dates = [start + timedelta(days=int(i)) for i in t]
    dow = np.array([d.weekday() for d in dates])
    season = np.where(dow >= 5, weekend, 1.0 + wobble[np.minimum(dow, 6)])
    trend = (1 + growth) ** (t / 365.0)
    expected = level * season * trend
    noise = _ar1(rng, days, cv, phi)
    usage = expected * noise
    hol = holidays_between(dates[0], dates[-1], "US")
    holiday = np.array([d in hol for d in dates])
    usage[holiday] *= 0.0 if dev else float(rng.uniform(0.4, 0.9))
    if dev:  # shut down now and then
        for s in rng.choice(np.arange(60, days - 30), size=int(rng.integers(0, 3)), replace=False).tolist():
            usage[s : s + int(rng.integers(7, 22))] = 0.0
    sigma = cv * expected
    anomalies: list[Injected] = []
    extra = np.zeros(days)
    new_res = np.zeros(days)
    # recurring monthly charges: a reservation on the 1st; maybe a Marketplace plan on its anniversary day
    reservation = level * float(rng.uniform(2, 20))
    anniversary = int(rng.integers(2, 29)) if rng.random() < 0.5 else 0
    plan = level * float(rng.uniform(0.5, 5))
    plan_amount = np.full(days, plan)
    if with_anomalies:
        n = int(rng.integers(1, 4))
        starts = sorted(rng.choice(np.arange(100, days - 40, 75), size=n, replace=False).tolist())
        for s in starts:
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            if kind == "recurring_change" and not anniversary:
                kind = "step"
            k = float(rng.uniform(2.0, 10.0))
            size = k * float(sigma[s] or cv * level) if rng.random() < 0.8 else float(rng.uniform(20, 80))
            sig = float(sigma[s] or cv * level)
            if kind == "spike":
                extra[s] += size
                anomalies.append(Injected(kind, dates[s], size, sig, 1))
            elif kind == "step":
                extra[s:] += size
                anomalies.append(Injected(kind, dates[s], size, sig, days - s))
            elif kind == "ramp":
                r = np.minimum((t[s:] - s + 1) / RAMP_DAYS, 1.0)
                extra[s:] += size * r
                anomalies.append(Injected(kind, dates[s], size, sig, days - s))
            elif kind == "new_resource":
                new_res[s:] += size * np.exp(rng.normal(0, 0.02, days - s))
                anomalies.append(Injected(kind, dates[s], size, sig, days - s))
            else:  # the plan's price goes up from its next renewal on
                first = next(i for i in range(s, days) if billed_on(dates[i], anniversary))
                plan_amount[first:] += size
                anomalies.append(Injected(kind, dates[first], size, sig, days - first))
    one_off = sorted(rng.choice(np.arange(30, days), size=int(rng.integers(0, 3)), replace=False).tolist())
    rows: list[dict[str, object]] = []
    sub = f"{seed:08d}-0000-0000-0000-000000000000"
    base_id = f"/subscriptions/{sub}/resourcegroups/app/providers/microsoft.compute/virtualmachinescalesets/vmss"
    new_id = f"/subscriptions/{sub}/resourcegroups/app/providers/microsoft.compute/virtualmachines/vm-new"
    for i, d in enumerate(dates):
        rows.append(_row(d, sub, base_id, "Virtual Machines", usage[i] * 0.7 + extra[i], "Usage", "Usage-Based"))
        rows.append(
            _row(d, sub, base_id.replace("vmss", "sql"), "SQL Database", usage[i] * 0.3, "Usage", "Usage-Based")
        )
        if new_res[i] > 0:
            rows.append(_row(d, sub, new_id, "Virtual Machines", new_res[i], "Usage", "Usage-Based"))
        if billed_on(d, 1):
            rows.append(_row(d, sub, "", "Reservations", reservation, "Purchase", "Recurring"))
        if anniversary and billed_on(d, anniversary):
            rows.append(_row(d, sub, "", "Marketplace", plan_amount[i], "Purchase", "Recurring"))
        if i in one_off:
            rows.append(_row(d, sub, "", "Reservations", level * float(rng.uniform(5, 30)), "Purchase", "One-Time"))
    frame = pd.DataFrame(rows)
    by_day = frame.groupby("day")["BilledCost"]
    total = by_day.sum().to_numpy()
    usage_only = frame[frame["ChargeCategory"] == "Usage"].groupby("day")["BilledCost"].sum().to_numpy()
    return Series(
        seed, start, days, frame.drop(columns=["day"]), tuple(anomalies), usage_only, total,
        tuple(dates[i] for i in one_off), dev,
    )  # fmt: skip


def incomplete(values: np.ndarray) -> np.ndarray:
    """``values`` as an export has them: the newest days still incomplete (``INCOMPLETE``)."""
    out = np.asarray(values, dtype=float).copy()
    for age in range(min(len(INCOMPLETE), len(out))):
        out[len(out) - 1 - age] *= incomplete_share(age)
    return out


def _row(d: date, sub: str, rid: str, service: str, cost: float, category: str, frequency: str) -> dict[str, object]:
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
        "ChargeFrequency": frequency,
        "x_SourceRunId": "bench",
        "x_SourceFile": "bench",
    }
