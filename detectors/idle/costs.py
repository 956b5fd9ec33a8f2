"""Join normalized cost rows (vigil/costframe.py columns) onto resources.

Monthly waste = the resource's own cost over the last ``window_days`` days before
``now`` (BilledCost, EffectiveCost where BilledCost is null), scaled to 30 days
from the number of days that actually have cost rows. Nothing is estimated: a
resource without cost rows gets no figure, and the finding says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["ResourceCost", "resource_costs"]


@dataclass(frozen=True, slots=True)
class ResourceCost:
    resource_id: str
    window_cost: float
    days_with_cost: int
    window_days: int
    currency: str

    @property
    def monthly(self) -> float:
        """Average daily cost over the days with cost rows, times 30."""
        return self.window_cost / self.days_with_cost * 30 if self.days_with_cost else 0.0

    def to_evidence(self) -> dict[str, Any]:
        return {
            "monthly_waste": round(self.monthly, 2),
            "currency": self.currency,
            "window_cost": round(self.window_cost, 2),
            "days_with_cost": self.days_with_cost,
            "window_days": self.window_days,
            "basis": "normalized cost rows joined on ResourceId (BilledCost, else EffectiveCost)",
        }


def resource_costs(costs: Any, resource_ids: Iterable[str], now: datetime, window_days: int) -> dict[str, ResourceCost]:
    """Per-resource cost over ``[now - window_days, now)`` from a cost frame (or None)."""
    wanted = {rid.lower() for rid in resource_ids}
    if costs is None or len(costs) == 0 or not wanted:
        return {}
    start = now - timedelta(days=window_days)
    ids = costs["ResourceId"].astype("string").str.lower()
    period = costs["ChargePeriodStart"]
    mask = ids.isin(wanted) & (period >= start) & (period < now)
    rows = costs.loc[mask]
    if len(rows) == 0:
        return {}
    amount = rows["BilledCost"].astype("float64")
    if "EffectiveCost" in rows:
        amount = amount.fillna(rows["EffectiveCost"].astype("float64"))
    frame = rows.assign(_rid=ids[mask], _amount=amount.fillna(0.0), _day=period[mask].dt.floor("D"))
    out: dict[str, ResourceCost] = {}
    for rid, group in frame.groupby("_rid", sort=True):
        currencies = group["BillingCurrency"].dropna().unique()
        out[str(rid)] = ResourceCost(
            resource_id=str(rid),
            window_cost=float(group["_amount"].sum()),
            days_with_cost=int(group["_day"].nunique()),
            window_days=window_days,
            currency=str(currencies[0]) if len(currencies) else "",
        )
    return out
