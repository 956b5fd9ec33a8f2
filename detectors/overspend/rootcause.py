"""Root cause of a cost change: who moved, by how much, since when, and what is new or gone."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["DIMENSIONS", "explain"]

# evidence key -> column of the prepared rows
DIMENSIONS: dict[str, str] = {"resources": "resource", "services": "service", "resource_groups": "rg_key"}


def _per_key(rows: pd.DataFrame, col: str, grid: pd.DatetimeIndex) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(index=grid)
    daily = rows.groupby(["bucket", col])["cost"].sum().unstack(fill_value=0)
    return daily.reindex(grid, fill_value=0.0)


def _phase(ts: pd.Timestamp, freq: str) -> int:
    return ts.hour if freq == "h" else ts.day_of_week


def explain(
    rows: pd.DataFrame,
    *,
    bucket: pd.Timestamp,
    episode_start: pd.Timestamp,
    baseline: pd.DatetimeIndex,
    freq: str,
    max_contributors: int,
) -> dict[str, Any]:
    """Contributors to the change at ``bucket`` against ``baseline`` buckets (before the episode)."""
    step = pd.Timedelta(1, unit="h" if freq == "h" else "D")
    lookback = pd.date_range(max(episode_start - 31 * step, bucket - 62 * step), bucket, freq=freq)
    grid = baseline.union(lookback).union(pd.DatetimeIndex([bucket]))
    names = rows.drop_duplicates("resource").set_index("resource")["resource_name"].to_dict()
    out: dict[str, Any] = {}
    for dim, col in DIMENSIONS.items():
        daily = _per_key(rows, col, grid)
        if "" in daily.columns:
            daily = daily.drop(columns=[""])
        base = daily.loc[daily.index.isin(baseline)]
        ph = _phase(bucket, freq)
        same = base[[_phase(t, freq) == ph for t in base.index]] if len(base) else base
        zeros = pd.Series(0.0, index=daily.columns)
        expected: pd.Series = (same if len(same) >= 2 else base).median() if len(base) else zeros
        actual: pd.Series = daily.loc[bucket].astype(float) if bucket in daily.index else zeros  # type: ignore[assignment]
        delta: pd.Series = (actual - expected.reindex(actual.index, fill_value=0.0)).sort_values(ascending=False)
        total_delta = float(delta[delta > 0].sum())
        top = []
        for key, d in delta.head(max_contributors).items():
            if d <= 0:
                break
            exp_k = float(expected.get(key, 0.0))
            entry: dict[str, Any] = {
                "id": str(key),
                "actual": round(float(actual.to_dict()[key]), 2),
                "expected": round(exp_k, 2),
                "delta": round(float(d), 2),
                "share": round(float(d) / total_delta, 3) if total_delta > 0 else None,
                "first_day": _first_day(daily[key], bucket, exp_k, float(d), step),
            }
            if dim == "resources":
                entry["name"] = str(names.get(key) or str(key).rsplit("/", 1)[-1])
            top.append(entry)
        out[dim] = top
        if dim in ("resources", "services"):
            seen_before = base.sum() > 0 if len(base) else pd.Series(dtype=bool)
            recent = base.tail(3).sum() > 0 if len(base) else pd.Series(dtype=bool)
            now_on = actual > 0
            out[f"new_{dim}"] = sorted(
                str(k) for k in actual.index if now_on[k] and len(base) and not bool(seen_before.get(k, False))
            )
            out[f"vanished_{dim}"] = sorted(
                str(k) for k in recent.index if bool(recent[k]) and not now_on.get(k, False)
            )
    return out


def _first_day(series: pd.Series, bucket: pd.Timestamp, expected: float, delta: float, step: pd.Timedelta) -> str:
    """First bucket of the run, ending at ``bucket``, where this key was above half its change."""
    first = bucket
    t = bucket - step
    while t in series.index and float(series[t]) - expected > 0.5 * delta:
        first = t
        t -= step
    return first.isoformat() if step < pd.Timedelta(1, unit="D") else first.date().isoformat()
