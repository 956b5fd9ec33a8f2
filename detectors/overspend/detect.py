"""The overspend detector's entry point."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Literal

import pandas as pd

from core.model import Finding
from detectors.config import BudgetConfig, OverspendConfig
from detectors.overspend.anomalies import RULE_ID as ANOMALY_RULE
from detectors.overspend.anomalies import anomaly_findings
from detectors.overspend.budgets import budget_findings
from detectors.overspend.frame import prepare
from detectors.overspend.recurring import recurring_findings

__all__ = ["PARTITIONED_SCOPES", "Part", "detect", "merge_parts"]

# A subscription's own scopes: their series need only that subscription's rows, so detection of these
# fans out by batches of subscriptions. Every other scope (billing account, provider, service, the
# tenant's top resources), recurring charges and budgets need the whole tenant: the "tenant" part.
PARTITIONED_SCOPES = ("subscription", "resource_group")
Part = Literal["all", "subscriptions", "tenant"]
_KIND_ORDER = ("billing_account", "provider", "subscription", "resource_group", "service", "resource")


def detect(
    costs: pd.DataFrame,
    *,
    config: OverspendConfig,
    budgets: Iterable[BudgetConfig] = (),
    now: datetime,
    days: Sequence[date] | None = None,
    part: Part = "all",
) -> list[Finding]:
    """Cost anomalies for ``days`` (default: the newest day in ``costs``) and budget state at ``now``.

    Budgets are ``config.budgets`` plus ``budgets``. Rows at or after ``now`` are ignored. ``part``
    splits the work for the per-scope fan-out: ``"subscriptions"`` is the anomalies of
    :data:`PARTITIONED_SCOPES` only (over a batch of subscriptions' rows), ``"tenant"`` everything else;
    :func:`merge_parts` of the two is ``"all"``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not config.enabled or costs.empty:
        return []
    all_budgets = [*config.budgets, *budgets]
    if part != "all":
        inside = part == "subscriptions"
        config = config.model_copy(update={"scopes": [s for s in config.scopes if (s in PARTITIONED_SCOPES) == inside]})
    findings: list[Finding] = []
    for prep in prepare(costs, cost_column=config.cost_column, now=now):
        findings.extend(anomaly_findings(prep, config=config, now=now, days=days))
        if part != "subscriptions":
            findings.extend(recurring_findings(prep, config=config, now=now, days=days))
            findings.extend(budget_findings(prep, all_budgets, now=now))
    findings.sort(key=lambda f: (f.observed_at, f.rule, f.status.value))
    return findings


def merge_parts(tenant: Sequence[Finding], subscriptions: Sequence[Sequence[Finding]]) -> list[Finding]:
    """The findings of ``detect(part="tenant")`` and of each batch's ``detect(part="subscriptions")``
    (batches in subscription order) in the order ``detect(part="all")`` gives them."""

    def key(f: Finding) -> tuple[object, ...]:
        kind = f.labels.get("scope_kind", "")
        rank = _KIND_ORDER.index(kind) if f.rule == ANOMALY_RULE and kind in _KIND_ORDER else len(_KIND_ORDER)
        currency = str(f.evidence.get("currency", "")) if f.rule == ANOMALY_RULE else ""
        return (f.observed_at, f.rule, f.status.value, currency, rank)

    return sorted([*tenant, *(f for batch in subscriptions for f in batch)], key=key)
