"""Cost anomalies per scope, with their root cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from core.model import Finding, Severity, Status
from detectors.anomaly import score_timeseries
from detectors.config import OverspendConfig
from detectors.overspend.frame import Prepared
from detectors.overspend.rootcause import explain
from detectors.overspend.scopes import scope_labels, scope_resource

__all__ = ["RULE_ID", "ScopeBand", "anomaly_findings", "scope_band", "scope_series"]

RULE_ID = "overspend_cost_anomaly"
DETECTOR = "overspend"
# Severity is part of the alert identity: fixed per rule so FIRING and RESOLVED match.
SEVERITY = Severity.MEDIUM
_SCOPE_COLUMNS = {
    "provider": "provider",
    "subscription": "sub",
    "resource_group": "rg_key",
    "service": "service",
    "resource": "resource",
}


def scope_series(prep: Prepared, config: OverspendConfig) -> list[tuple[str, str, pd.Series]]:
    """(kind, value, cost per bucket) for every watched scope. Data gaps are NaN, no rows is 0."""
    usage = prep.usage
    gaps = ~prep.buckets.isin(prep.observed)
    out: list[tuple[str, str, pd.Series]] = []

    def finish(s: pd.Series) -> pd.Series:
        s = s.reindex(prep.buckets, fill_value=0.0).astype("float64")
        s[gaps] = np.nan
        return s

    if "billing_account" in config.scopes:
        out.append(("billing_account", "", finish(usage.groupby("bucket")["cost"].sum())))
    for kind in ("provider", "subscription", "resource_group", "service", "resource"):
        if kind not in config.scopes:
            continue
        col = _SCOPE_COLUMNS[kind]
        keys: list[str]
        if kind == "resource":
            if config.top_resources == 0:
                continue
            recent = usage[usage["bucket"] >= prep.buckets.max() - pd.Timedelta(days=28)]
            totals = recent[recent["resource"] != ""].groupby("resource")["cost"].sum()
            keys = [str(k) for k in totals.sort_values(ascending=False).head(config.top_resources).index]
        else:
            keys = sorted(str(k) for k in usage[col].unique() if k)
        sub = usage[usage[col].isin(keys)]
        table = sub.groupby(["bucket", col])["cost"].sum().unstack(fill_value=0)
        for key in keys:
            series = table[key] if key in table.columns else pd.Series(dtype="float64")
            out.append((kind, key, finish(series)))
    return out


def _eval_buckets(prep: Prepared, days: Sequence[date] | None) -> pd.DatetimeIndex:
    if days is None:
        last = prep.buckets.max()
        wanted = (
            pd.DatetimeIndex([last]) if prep.freq == "D" else prep.buckets[prep.buckets.normalize() == last.normalize()]
        )
    else:
        day_index = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
        wanted = prep.buckets[prep.buckets.normalize().isin(day_index)]
    return wanted[wanted.isin(prep.observed)]


def anomaly_findings(
    prep: Prepared, *, config: OverspendConfig, now: datetime, days: Sequence[date] | None
) -> list[Finding]:
    if prep.buckets.empty:
        return []
    evaluate = _eval_buckets(prep, days)
    if evaluate.empty:
        return []
    # Score only the history the model needs: cycles x period before the first evaluated bucket.
    hist_start = evaluate.min() - pd.Timedelta(days=config.history_days)
    step = pd.Timedelta(1, unit="h" if prep.freq == "h" else "D")
    resolve_from = evaluate.min() - config.resolve_lookback_days * (step if prep.freq == "D" else pd.Timedelta(days=1))
    incomplete_from = _incomplete_from(now, config)
    findings: list[Finding] = []
    for kind, value, full in scope_series(prep, config):
        series = full[full.index >= hist_start]
        scores = _score(series, config=config, now=now)
        flags = pd.Series(scores.is_anomaly, index=series.index)
        watched = flags[(flags.index >= resolve_from) & (flags.index <= evaluate.max())]
        last = evaluate.max()
        for b in evaluate:
            if not flags[b]:
                continue
            # one FIRING per episode: its latest anomalous bucket among those evaluated
            nxt = b + step
            if nxt in evaluate and bool(flags[nxt]):
                continue
            findings.append(
                _firing(
                    prep,
                    config=config,
                    kind=kind,
                    value=value,
                    series=series,
                    scores=scores,
                    bucket=b,
                    now=now,
                    step=step,
                )
            )
        if not flags[last] and watched.any():
            # Over only once a complete bucket after the last flagged one is normal: an incomplete
            # bucket is low because it is incomplete, and its restated value may be flagged again.
            last_flag = watched.index[watched.to_numpy()].max()
            after = flags.index[(flags.index > last_flag) & (flags.index <= last)]
            if bool((after < incomplete_from).any()):
                findings.append(
                    _resolved(
                        prep, kind=kind, value=value, series=series, scores=scores, bucket=last, now=now, step=step,
                        since=last_flag,
                    )
                )  # fmt: skip
    return findings


def _incomplete_from(now: datetime, config: OverspendConfig) -> pd.Timestamp:
    """Buckets of the newest ``provisional_days`` days are incomplete: the export restates them later."""
    now_day = pd.Timestamp(now).tz_convert("UTC").tz_localize(None).normalize()
    return now_day - pd.Timedelta(days=config.provisional_days)


def _score(series: pd.Series, *, config: OverspendConfig, now: datetime) -> Any:
    """The anomaly model's scores of one scope's series, as detection scores it."""
    index = pd.DatetimeIndex(series.index)
    return score_timeseries(
        index, series.to_numpy(), profile="cost", sensitivity=config.sensitivity, min_impact=config.min_impact,
        holidays=config.holidays, provisional=int((index >= _incomplete_from(now, config)).sum()),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScopeBand:
    """One scope's cost per bucket over the model's history, as the anomaly model scored it (for a chart).

    ``low``/``high``: expected -/+ ``sensitivity`` x the model's error scale (the scale in currency,
    read linearly; the model judges log cost), the upper edge at least ``min_impact`` above expected.
    None where the bucket is a data gap (``actual``) or was not judged (the rest)."""

    buckets: list[str]
    actual: list[float | None]
    expected: list[float | None]
    low: list[float | None]
    high: list[float | None]
    anomaly: list[bool]
    currency: str
    sensitivity: float
    min_impact: float


def scope_band(prep: Prepared, *, config: OverspendConfig, kind: str, value: str, now: datetime) -> ScopeBand | None:
    """The series of the scope (``kind``, ``value``: the finding's ``scope_kind`` and ``scope`` labels,
    ``all`` for the billing account) over ``history_days`` before ``now``, scored exactly as
    :func:`anomaly_findings` scores it; None when the scope has no series."""
    wanted = "" if kind == "billing_account" else value.lower()
    for k, v, full in scope_series(prep, config):
        if k != kind or v.lower() != wanted:
            continue
        if full.empty:
            return None
        series = full[full.index >= full.index.max() - pd.Timedelta(days=config.history_days)]
        scores = _score(series, config=config, now=now)
        step = pd.Timedelta(1, unit="h" if prep.freq == "h" else "D")

        def num(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 2)

        spread = config.sensitivity * np.asarray(scores.scale, dtype=np.float64)
        expected = np.asarray(scores.expected, dtype=np.float64)
        return ScopeBand(
            buckets=[_fmt_bucket(pd.Timestamp(b), step) for b in series.index],
            actual=[num(x) for x in series.to_numpy(dtype=np.float64)],
            expected=[num(x) for x in expected],
            low=[num(max(x, 0.0)) for x in expected - spread],
            high=[num(x) for x in expected + np.maximum(spread, config.min_impact)],
            anomaly=[bool(f) for f in scores.is_anomaly],
            currency=prep.currency,
            sensitivity=config.sensitivity,
            min_impact=config.min_impact,
        )
    return None


def _observed_at(bucket: pd.Timestamp, step: pd.Timedelta, now: datetime) -> datetime:
    end = (bucket + step).to_pydatetime().replace(tzinfo=UTC)
    return min(end, now)


def _scope_rows(prep: Prepared, kind: str, value: str) -> pd.DataFrame:
    if kind == "billing_account":
        return prep.usage
    return prep.usage[prep.usage[_SCOPE_COLUMNS[kind]] == value]


def _fmt_bucket(b: pd.Timestamp, step: pd.Timedelta) -> str:
    return b.date().isoformat() if step >= pd.Timedelta(days=1) else b.isoformat()


def _firing(
    prep: Prepared,
    *,
    config: OverspendConfig,
    kind: str,
    value: str,
    series: pd.Series,
    scores: Any,
    bucket: pd.Timestamp,
    now: datetime,
    step: pd.Timedelta,
) -> Finding:
    pos = int(np.searchsorted(series.index.to_numpy(), bucket.to_datetime64()))
    actual = float(series.iloc[pos])
    expected = float(scores.expected[pos])
    flags = scores.is_anomaly
    start = pos
    while start > 0 and bool(flags[start - 1]):
        start -= 1
    episode_start = series.index[start]
    baseline = series.index[(series.index < episode_start) & series.notna().to_numpy()][
        -28 * (24 if step < pd.Timedelta(days=1) else 1) :
    ]
    rows = _scope_rows(prep, kind, value)
    cause = explain(
        rows, bucket=bucket, episode_start=episode_start, baseline=pd.DatetimeIndex(baseline),
        freq=prep.freq, max_contributors=config.max_contributors,
    )  # fmt: skip
    impact = actual - expected
    pct = impact / expected * 100 if expected > 0 else None
    excess = float(np.nansum(series.iloc[start : pos + 1].to_numpy() - scores.expected[start : pos + 1]))
    one_off = prep.one_off[prep.one_off["bucket"] == bucket]
    scope_name = value or "billing account"
    day = _fmt_bucket(bucket, step)
    top = cause["resources"][0] if cause["resources"] else None
    top_txt = f" Top contributor: {top['name']} (+{top['delta']:.2f} {prep.currency})." if top else ""
    pct_txt = f", +{pct:.0f}%" if pct is not None else ""
    summary = f"Cost anomaly on {kind.replace('_', ' ')} {scope_name} on {day}"
    description = (
        f"{kind.replace('_', ' ').capitalize()} {scope_name} cost {actual:.2f} {prep.currency} on {day}, "
        f"expected {expected:.2f} (+{impact:.2f}{pct_txt}). Elevated since {_fmt_bucket(episode_start, step)}."
        + top_txt
    )
    evidence: dict[str, Any] = {
        "day": day,
        "granularity": "hourly" if prep.freq == "h" else "daily",
        "currency": prep.currency,
        "actual": round(actual, 2),
        "expected": round(expected, 2),
        "impact": round(impact, 2),
        "impact_percent": round(pct, 1) if pct is not None else None,
        "excess_since_first_day": round(excess, 2),
        "score": round(float(scores.score[pos]), 4),
        "scale": round(float(scores.scale[pos]), 2),
        "first_day": _fmt_bucket(episode_start, step),
        "one_off_charges_same_day": round(float(one_off["cost"].sum()), 2),
        **cause,
    }
    return Finding(
        detector=DETECTOR,
        rule=RULE_ID,
        status=Status.FIRING,
        severity=SEVERITY,
        resource=scope_resource(kind, value),
        observed_at=_observed_at(bucket, step, now),
        labels=scope_labels(kind, value),
        annotations={"summary": summary, "description": description},
        evidence=evidence,
    )


def _resolved(
    prep: Prepared,
    *,
    kind: str,
    value: str,
    series: pd.Series,
    scores: Any,
    bucket: pd.Timestamp,
    now: datetime,
    step: pd.Timedelta,
    since: pd.Timestamp,
) -> Finding:
    pos = int(np.searchsorted(series.index.to_numpy(), bucket.to_datetime64()))
    actual = float(series.iloc[pos])
    expected = float(scores.expected[pos]) if not np.isnan(scores.expected[pos]) else None
    day = _fmt_bucket(bucket, step)
    # A change that lasted became the baseline: say what the new baseline is.
    rebased = np.zeros(len(series), dtype=bool) if scores.rebased is None else scores.rebased
    idx = series.index
    moved = np.nonzero(rebased & np.asarray(idx > since) & np.asarray(idx <= bucket))[0]
    new_baseline = float(scores.expected[moved[-1]]) if len(moved) else None
    text = f"{actual:.2f} {prep.currency} on {day}" + (f", expected {expected:.2f}." if expected is not None else ".")
    summary = f"Cost of {kind.replace('_', ' ')} {value or 'billing account'} back to normal on {day}"
    if new_baseline is not None:
        summary = f"Cost of {kind.replace('_', ' ')} {value or 'billing account'}: lasting change, new baseline"
        text = (
            f"The change lasted more than 7 days and is now the baseline: {new_baseline:.2f} {prep.currency} "
            f"per {'hour' if step < pd.Timedelta(days=1) else 'day'} (from {_fmt_bucket(idx[moved[-1]], step)}). "
            + text
        )
    return Finding(
        detector=DETECTOR,
        rule=RULE_ID,
        status=Status.RESOLVED,
        severity=SEVERITY,
        resource=scope_resource(kind, value),
        observed_at=_observed_at(bucket, step, now),
        labels=scope_labels(kind, value),
        annotations={"summary": summary, "description": text},
        evidence={
            "day": day,
            "new_baseline": round(new_baseline, 2) if new_baseline is not None else None,
            "new_baseline_day": _fmt_bucket(idx[moved[-1]], step) if len(moved) else None,
            "currency": prep.currency,
            "actual": round(actual, 2),
            "expected": round(expected, 2) if expected is not None else None,
        },
    )
