"""Budgets: thresholds on actual and forecast spend per period, per scope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from core.model import Finding, Severity, Status
from detectors.config import BudgetConfig, BudgetThreshold
from detectors.overspend.forecast import Forecast, forecast_remaining
from detectors.overspend.frame import Prepared, tag_mask
from detectors.overspend.scopes import scope_labels, scope_resource

__all__ = ["RULE_ACTUAL", "RULE_FORECAST", "budget_findings", "period_bounds"]

RULE_ACTUAL = "overspend_budget_actual"
RULE_FORECAST = "overspend_budget_forecast"


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """[start, end) of the calendar month, quarter or year holding ``day``."""
    if period == "monthly":
        start = day.replace(day=1)
        end = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    elif period == "quarterly":
        q0 = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, q0, 1)
        end = date(day.year + (q0 == 10), (q0 + 2) % 12 + 1, 1)
    else:
        start = date(day.year, 1, 1)
        end = date(day.year + 1, 1, 1)
    return start, end


def _scope_rows(rows: pd.DataFrame, budget: BudgetConfig) -> pd.DataFrame:
    kind, value = budget.scope.kind, budget.scope.value.strip()
    if kind == "billing_account":
        return rows
    if kind == "subscription":
        return rows[rows["sub"] == value.lower()]
    if kind == "provider":
        return rows[rows["provider"].str.lower() == value.lower()]
    if kind == "resource_group":
        if "/" in value:
            return rows[rows["rg_key"] == value.lower()]
        return rows[rows["rg"] == value.lower()]
    if kind == "service":
        return rows[rows["service"].str.lower() == value.lower()]
    key, _, val = value.partition("=")
    return rows[tag_mask(rows, key, val)]


def budget_findings(prep: Prepared, budgets: Sequence[BudgetConfig], *, now: datetime) -> list[Finding]:
    out: list[Finding] = []
    today = now.astimezone(UTC).date()
    for budget in budgets:
        start, end = period_bounds(today, budget.period)
        rows = _scope_rows(prep.rows, budget)
        rows = rows.assign(day=rows["bucket"].dt.normalize())
        all_daily = rows.groupby("day")["cost"].sum()
        usage_daily = (
            rows[~rows["category"].isin(("purchase", "credit", "adjustment", "refund"))].groupby("day")["cost"].sum()
        )
        observed_days = pd.DatetimeIndex(sorted(prep.observed.normalize().unique()))
        grid = (
            pd.date_range(observed_days.min(), observed_days.max(), freq="D") if len(observed_days) else observed_days
        )
        usage = usage_daily.reindex(grid, fill_value=0.0).astype(float)
        usage[~grid.isin(observed_days)] = float("nan")
        p_start, p_end = pd.Timestamp(start), pd.Timestamp(end)
        in_period = all_daily[(all_daily.index >= p_start) & (all_daily.index < p_end)]
        cumulative = in_period.cumsum()
        actual = float(in_period.sum())
        as_of_days = [d for d in grid if p_start <= d < p_end and d in observed_days]
        forecasts: dict[pd.Timestamp, tuple[float, Forecast]] = {}
        if any(th.on == "forecast" for th in budget.thresholds):
            sampled = as_of_days if budget.period != "annual" else [*as_of_days[:-7:7], *as_of_days[-7:]]
            for d in sampled:
                future = pd.date_range(d + pd.Timedelta(days=1), p_end - pd.Timedelta(days=1), freq="D")
                fc = forecast_remaining(usage[usage.index <= d], future)
                spent = float(cumulative[cumulative.index <= d].iloc[-1]) if (cumulative.index <= d).any() else 0.0
                forecasts[d] = (spent + fc.remaining, fc)
        latest = forecasts[as_of_days[-1]] if as_of_days and as_of_days[-1] in forecasts else None
        for th in budget.thresholds:
            limit = budget.amount * th.percent / 100.0
            crossed_on: pd.Timestamp | None = None
            if th.on == "actual":
                over = cumulative[cumulative >= limit]
                crossed_on = over.index[0] if len(over) else None
            else:
                crossed_on = next((d for d, (total, _) in forecasts.items() if total >= limit), None)
            out.append(
                _finding(
                    prep,
                    budget=budget,
                    th=th,
                    crossed_on=crossed_on,
                    actual=actual,
                    latest=latest,
                    start=start,
                    end=end,
                    limit=limit,
                    now=now,
                )
            )
    return out


def _finding(
    prep: Prepared,
    *,
    budget: BudgetConfig,
    th: BudgetThreshold,
    crossed_on: pd.Timestamp | None,
    actual: float,
    latest: tuple[float, Forecast] | None,
    start: date,
    end: date,
    limit: float,
    now: datetime,
) -> Finding:
    kind, value = budget.scope.kind, budget.scope.value
    firing = crossed_on is not None
    evidence: dict[str, Any] = {
        "budget": budget.name,
        "period": budget.period,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "amount": budget.amount,
        "threshold_percent": th.percent,
        "threshold_amount": round(limit, 2),
        "currency": prep.currency,
        "actual": round(actual, 2),
        "actual_percent": round(actual / budget.amount * 100, 1),
        "crossed_on": crossed_on.date().isoformat() if crossed_on is not None else None,
    }
    fc_txt = ""
    if latest is not None:
        total, fc = latest
        evidence["forecast"] = {
            "total": round(total, 2),
            "low": round(total - fc.remaining + fc.low, 2),
            "high": round(total - fc.remaining + fc.high, 2),
            "interval": "90%",
            "method": fc.method,
            "days_used": fc.days_used,
            "reason": fc.reason,
        }
        fc_txt = f"; forecast {total:.2f} (90% {evidence['forecast']['low']:.2f}-{evidence['forecast']['high']:.2f})"
    rule = RULE_ACTUAL if th.on == "actual" else RULE_FORECAST
    what = "spent" if th.on == "actual" else "forecast to spend"
    scope_txt = f"{kind.replace('_', ' ')} {value}".strip()
    if firing:
        summary = f"Budget {budget.name} ({scope_txt}): {what} {th.percent:g}% of {budget.period} amount"
    else:
        summary = f"Budget {budget.name} ({scope_txt}): below {th.percent:g}% ({th.on}) this period"
    # Severity is part of the alert identity, so it depends on the threshold only, never on status.
    severity = Severity.HIGH if th.percent >= 100 else Severity.MEDIUM
    description = (
        f"{budget.period.capitalize()} budget {budget.amount:.2f} {prep.currency} for {start.isoformat()}.."
        f"{end.isoformat()}: actual {actual:.2f}{fc_txt}; threshold {th.percent:g}% = {limit:.2f}."
    )
    labels = {**scope_labels(kind, value), "budget": budget.name, "threshold": f"{th.on}>={th.percent:g}%"}
    return Finding(
        detector="overspend",
        rule=rule,
        status=Status.FIRING if firing else Status.RESOLVED,
        severity=severity,
        resource=scope_resource(kind, value),
        observed_at=now,
        labels=labels,
        annotations={"summary": summary, "description": description},
        evidence=evidence,
    )
