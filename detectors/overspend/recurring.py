"""Recurring charges whose amount changed: a reservation, savings plan or Marketplace plan billed monthly.

On a cost frame, FOCUS ``ChargeFrequency`` = Recurring marks them (frame.py keeps them
out of the usage series, so a monthly charge never looks like a spike). A charge is
identified by subscription, service, resource and description; each time it is billed
its amount is compared with its previous billing. An increase of at least
``min_impact`` (and 1 %, so rounding never fires) is a FIRING finding on the day it is
billed; the next billing at an unchanged amount resolves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd

from core.model import Finding, ResourceRef, Severity, Status
from detectors.config import OverspendConfig
from detectors.overspend.frame import Prepared

__all__ = ["RULE_ID", "recurring_findings"]

RULE_ID = "overspend_recurring_charge_changed"
_KEY = ["sub", "service", "resource", "description"]
_REL = 0.01  # a change below 1 % is rounding or exchange rate, not a new price


def recurring_findings(
    prep: Prepared, *, config: OverspendConfig, now: datetime, days: Sequence[date] | None
) -> list[Finding]:
    rows = prep.one_off[prep.one_off["frequency"] == "recurring"]
    if rows.empty:
        return []
    if days is None:
        wanted = {prep.buckets.max().normalize()} if len(prep.buckets) else set()
    else:
        wanted = {pd.Timestamp(d) for d in days}
    out: list[Finding] = []
    for key, group in rows.groupby(_KEY, sort=True):
        amounts = group.groupby(group["bucket"].dt.normalize())["cost"].sum().sort_index()
        for i in range(1, len(amounts)):
            day = amounts.index[i]
            if day not in wanted:
                continue
            status = _judge(amounts, i, min_impact=config.min_impact)
            if status is not None:
                before, amount = float(amounts.iloc[i - 1]), float(amounts.iloc[i])
                out.append(
                    _finding(
                        tuple(key), day, before=before, amount=amount, currency=prep.currency, now=now, status=status
                    )
                )
    return out


def _judge(amounts: pd.Series, i: int, *, min_impact: float) -> Status | None:
    """FIRING when the ``i``-th billing rose from the one before; RESOLVED when it holds the level an
    earlier rise reached (that rise is now the recurring amount); else None."""
    before, change = float(amounts.iloc[i - 1]), float(amounts.iloc[i]) - float(amounts.iloc[i - 1])
    if change >= min_impact and change > _REL * abs(before):
        return Status.FIRING
    if i >= 2 and abs(change) <= _REL * abs(before):
        prev_change = before - float(amounts.iloc[i - 2])
        if prev_change >= min_impact and prev_change > _REL * abs(float(amounts.iloc[i - 2])):
            return Status.RESOLVED
    return None


def _finding(
    key: tuple[object, ...],
    day: pd.Timestamp,
    *,
    before: float,
    amount: float,
    currency: str,
    now: datetime,
    status: Status,
) -> Finding:
    sub, service, resource, description = (str(k) for k in key)
    name = description or service or resource or "recurring charge"
    ident = "/".join(x for x in (sub, service.lower(), resource, description.lower()) if x)
    d = day.date().isoformat()
    if status is Status.FIRING:
        summary = f"Recurring charge {name} went up on {d}"
        text = f"{name} billed {amount:.2f} {currency} on {d}, {before:.2f} at its previous billing."
    else:
        summary = f"Recurring charge {name} billed at its new amount on {d}"
        text = f"{name} billed {amount:.2f} {currency} on {d}, as at its previous billing: the new amount is normal."
    return Finding(
        detector="overspend",
        rule=RULE_ID,
        status=status,
        severity=Severity.MEDIUM,
        resource=ResourceRef(id=f"recurringcharge/{ident}", type="vigil/recurringcharge", name=name),
        observed_at=min(datetime.combine(day.date(), datetime.min.time(), tzinfo=UTC) + pd.Timedelta(days=1), now),
        labels={"scope_kind": "recurring_charge", "scope": ident},
        annotations={"summary": summary, "description": text},
        evidence={
            "day": d, "first_day": d, "currency": currency, "amount": round(amount, 2),
            "previous_amount": round(before, 2), "impact": round(amount - before, 2),
            "subscription": sub, "service": service, "resource": resource,
        },
    )  # fmt: skip
