"""Join normalized cost rows (core/costframe.py columns) onto resources.

Monthly waste = the resource's own cost over the last ``window_days`` days before
``now`` (BilledCost, EffectiveCost where BilledCost is null), scaled to 30 days
from the number of days that actually have cost rows, times the rule's waste
fraction (1.0, or e.g. 0.5 for a right-size). ``waste_basis: "cost data"``.

A resource without cost rows gets the rule's documented list-price estimate
(detectors/idle/prices.py, in USD) and ``waste_basis: "estimate"``; without an
estimate either, ``waste_basis: "unknown"`` and no figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from detectors.idle.prices import ESTIMATE_CURRENCY

if TYPE_CHECKING:
    from detectors.idle.common import Verdict

__all__ = ["ResourceCost", "Waste", "resource_costs", "waste_of"]


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


@dataclass(frozen=True, slots=True)
class Waste:
    """A finding's monthly waste and where the figure comes from."""

    monthly: float | None
    currency: str
    basis: str  # "cost data" | "estimate" | "unknown"
    note: str
    fraction: float = 1.0
    cost: ResourceCost | None = None

    def annotations(self) -> dict[str, str]:
        out = {"waste_basis": self.basis, "waste_note": self.note}
        if self.monthly is not None:
            out["monthly_waste"] = f"{self.monthly:.2f}"
            out["currency"] = self.currency
        return out

    def to_evidence(self) -> dict[str, Any]:
        return {
            "monthly_waste": round(self.monthly, 2) if self.monthly is not None else None,
            "currency": self.currency or None,
            "basis": self.basis,
            "fraction": self.fraction,
            "note": self.note,
        }


def waste_of(verdict: Verdict, cost: ResourceCost | None) -> Waste:
    """The waste of a firing verdict: from cost rows when there are some, else the estimate."""
    frac = verdict.waste_fraction
    if cost is not None and cost.days_with_cost:
        note = (
            f"{frac:g} x cost of the last {cost.days_with_cost} billed day(s) in {cost.window_days} d,"
            " scaled to 30 days"
        )
        return Waste(cost.monthly * frac, cost.currency, "cost data", note, frac, cost)
    if verdict.estimate_monthly is not None:
        note = f"no cost rows for this resource: estimate from {verdict.estimate_source} (detectors/idle/prices.py)"
        return Waste(verdict.estimate_monthly, ESTIMATE_CURRENCY, "estimate", note, frac)
    return Waste(None, "", "unknown", "no cost rows for this resource and no list price to estimate from", frac)
