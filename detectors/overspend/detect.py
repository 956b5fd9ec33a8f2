"""The overspend detector's entry point."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import pandas as pd

from core.model import Finding
from detectors.config import BudgetConfig, OverspendConfig
from detectors.overspend.anomalies import anomaly_findings
from detectors.overspend.budgets import budget_findings
from detectors.overspend.frame import prepare
from detectors.overspend.recurring import recurring_findings

__all__ = ["detect"]


def detect(
    costs: pd.DataFrame,
    *,
    config: OverspendConfig,
    budgets: Iterable[BudgetConfig] = (),
    now: datetime,
    days: Sequence[date] | None = None,
) -> list[Finding]:
    """Cost anomalies for ``days`` (default: the newest day in ``costs``) and budget state at ``now``.

    Budgets are ``config.budgets`` plus ``budgets``. Rows at or after ``now`` are ignored.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not config.enabled or costs.empty:
        return []
    all_budgets = [*config.budgets, *budgets]
    findings: list[Finding] = []
    for prep in prepare(costs, cost_column=config.cost_column, now=now):
        findings.extend(anomaly_findings(prep, config=config, now=now, days=days))
        findings.extend(recurring_findings(prep, config=config, now=now, days=days))
        findings.extend(budget_findings(prep, all_budgets, now=now))
    findings.sort(key=lambda f: (f.observed_at, f.rule, f.status.value))
    return findings
