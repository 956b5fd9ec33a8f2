"""From a cost frame (core/costframe.py columns) to the rows and series the detectors read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = ["ONE_OFF_CATEGORIES", "Prepared", "prepare", "scope_key_columns", "tag_mask"]

# Charges that are one-off by nature: kept out of the anomaly series, still counted in budgets.
ONE_OFF_CATEGORIES = frozenset({"purchase", "credit", "adjustment", "refund"})


@dataclass(frozen=True)
class Prepared:
    """Rows with a ``cost`` and a ``bucket`` (day or hour start, UTC, tz-naive), split by kind."""

    rows: pd.DataFrame  # every charge, for budgets
    usage: pd.DataFrame  # usage charges, for anomalies
    one_off: pd.DataFrame  # purchases, credits, adjustments (recurring ones included)
    freq: str  # "D" or "h"
    buckets: pd.DatetimeIndex  # the full grid from first to last bucket
    observed: pd.DatetimeIndex  # buckets that hold at least one row (others are data gaps)
    currency: str


def _text(frame: pd.DataFrame, col: str, *, case: str = "") -> pd.Series:
    """``frame[col]`` as a categorical of text (null -> "", ``case`` "lower" or "upper" folds it): each
    distinct value is held once, so a long window of labels costs an integer per row, not a string."""
    if col not in frame.columns:
        empty = pd.Categorical.from_codes(np.zeros(len(frame), dtype="int8"), pd.Index([""]))
        return pd.Series(empty, index=frame.index)
    s = frame[col]
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    values = pd.Index(s.cat.categories.astype(str))
    if case:
        values = values.str.lower() if case == "lower" else values.str.upper()
    uniq, inverse = np.unique(np.append(values.to_numpy(dtype=object), ""), return_inverse=True)
    codes = s.cat.codes.to_numpy()
    new = np.where(codes >= 0, inverse[:-1][codes] if len(values) else 0, inverse[-1])
    return pd.Series(pd.Categorical.from_codes(new, categories=pd.Index(uniq, dtype=object)), index=frame.index)


def _joined(sub: pd.Series, rg: pd.Series) -> pd.Series:
    """``sub/rg`` per row ("" where the resource group is empty), built once per distinct pair."""
    pairs = pd.MultiIndex.from_arrays([sub.cat.codes.to_numpy(), rg.cat.codes.to_numpy()])
    codes, uniq = pd.factorize(pairs)
    subs, rgs = sub.cat.categories, rg.cat.categories
    labels = [f"{subs[i]}/{rgs[j]}" if rgs[j] else "" for i, j in uniq]
    cats, inverse = np.unique(np.asarray([*labels, ""], dtype=object), return_inverse=True)
    joined = pd.Categorical.from_codes(inverse[:-1][codes], categories=pd.Index(cats, dtype=object))
    return pd.Series(joined, index=sub.index)


def prepare(costs: pd.DataFrame, *, cost_column: str, now: datetime) -> list[Prepared]:
    """One ``Prepared`` per billing currency. Rows at or after ``now`` are ignored."""
    if "ChargePeriodStart" not in costs.columns:
        raise ValueError("cost frame has no ChargePeriodStart column")
    other = "BilledCost" if cost_column == "EffectiveCost" else "EffectiveCost"
    df = pd.DataFrame(index=costs.index)
    start = pd.to_datetime(costs["ChargePeriodStart"], utc=True)
    df["start"] = start.dt.tz_convert("UTC").dt.tz_localize(None)
    primary = pd.to_numeric(costs[cost_column], errors="coerce") if cost_column in costs.columns else None
    fallback = pd.to_numeric(costs[other], errors="coerce") if other in costs.columns else None
    if primary is None and fallback is None:
        raise ValueError(f"cost frame has neither {cost_column} nor {other}")
    cost = primary if primary is not None else fallback
    assert cost is not None
    if primary is not None and fallback is not None:
        cost = primary.fillna(fallback)
    df["cost"] = cost.fillna(0.0).astype("float64")
    df["currency"] = _text(costs, "BillingCurrency", case="upper")
    df["sub"] = _text(costs, "SubAccountId", case="lower")  # an AWS account or Google Cloud project too
    df["provider"] = _text(costs, "ProviderName")
    df["rg"] = _text(costs, "x_ResourceGroupName", case="lower")
    df["resource"] = _text(costs, "ResourceId", case="lower")
    df["resource_name"] = _text(costs, "ResourceName")
    df["service"] = _text(costs, "ServiceName")
    df["category"] = _text(costs, "ChargeCategory", case="lower")
    df["frequency"] = _text(costs, "ChargeFrequency", case="lower")  # FOCUS: One-Time, Recurring, Usage-Based
    df["description"] = _text(costs, "ChargeDescription")
    df["tags"] = _text(costs, "Tags")
    df["rg_key"] = _joined(df["sub"], df["rg"])
    now_naive = pd.Timestamp(now).tz_convert("UTC").tz_localize(None)
    df = df[df["start"].notna() & (df["start"] < now_naive)]
    freq = _granularity(costs.loc[df.index])
    df["bucket"] = df["start"].dt.floor("D" if freq == "D" else "h")
    out: list[Prepared] = []
    for currency, group in df.groupby("currency", sort=True):
        part = group.copy()
        # Purchases and other one-off categories, and any charge FOCUS calls Recurring (a reservation or
        # Marketplace plan billed monthly), stay out of the usage series: their own check is recurring.py.
        one_off_mask = part["category"].isin(ONE_OFF_CATEGORIES) | (part["frequency"] == "recurring")
        observed = pd.DatetimeIndex(sorted(part["bucket"].unique()))
        buckets = pd.date_range(observed.min(), observed.max(), freq=freq) if len(observed) else observed
        out.append(
            Prepared(
                rows=part,
                usage=part[~one_off_mask],
                one_off=part[one_off_mask],
                freq=freq,
                buckets=pd.DatetimeIndex(buckets),
                observed=observed,
                currency=str(currency),
            )
        )
    return out


def _granularity(costs: pd.DataFrame) -> str:
    """Hourly when most rows span less than a day (hourly exports), daily otherwise."""
    if "ChargePeriodEnd" not in costs.columns or costs.empty:
        return "D"
    start = pd.to_datetime(costs["ChargePeriodStart"], utc=True)
    end = pd.to_datetime(costs["ChargePeriodEnd"], utc=True)
    span = (end - start).dt.total_seconds()
    span = span[span.notna() & (span > 0)]
    if span.empty:
        return "D"
    return "h" if float(np.median(span)) <= 3600 else "D"


def scope_key_columns() -> dict[str, str]:
    """Scope kind -> the column of ``Prepared.rows`` that holds its value."""
    return {
        "provider": "provider",
        "subscription": "sub",
        "resource_group": "rg_key",
        "service": "service",
        "resource": "resource",
    }


def tag_mask(rows: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Rows whose Tags JSON has ``key`` (case-insensitive) equal to ``value``."""
    cache: dict[str, bool] = {}
    k, v = key.strip().lower(), value.strip()

    def match(raw: str) -> bool:
        if raw not in cache:
            try:
                text = raw.strip()
                if text and not text.startswith("{"):
                    text = "{" + text + "}"  # EA exports write tags without the braces
                tags = json.loads(text) if text else {}
            except (ValueError, TypeError):
                tags = {}
            cache[raw] = isinstance(tags, dict) and any(
                str(tk).lower() == k and str(tv) == v for tk, tv in tags.items()
            )
        return cache[raw]

    return rows["tags"].map(match).astype(bool)
