"""The numbers of the weekly finance digest, computed from the normalized cost
frame (``core/costframe.py`` columns) and the findings.

Every figure here is a plain sum over a documented filter of the cost frame, or
a count over findings, so it can be traced: :class:`Digest.trace` records, for
each headline figure, the rows and window it was summed over.

Definitions (also printed in the digest's footer):

* **Week**: the ISO week, Monday 00:00 to the next Monday 00:00, UTC. While the
  week is still in progress (the data ends inside it), the figures cover the days
  with data and every comparison uses the same weekdays of the earlier week.
* **Previous week**: the 7 days before it (or its first N days, as above).
* **Same week last month**: the 7 days starting 28 days earlier (same weekdays).
* **Month to date**: from the first of the month of the week's last covered day,
  to the end of the covered days.
* **Forecast**: month to date plus, for each remaining day of the month, the
  mean cost of that weekday over the last 28 days of data (weekly seasonality).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.model import Finding, ResourceRef, Status
from core.timeutil import parse_utc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Digest",
    "DigestError",
    "FindingRecord",
    "Mover",
    "RemediationRecord",
    "Scope",
    "ScopeSet",
    "build_digest",
    "load_findings",
    "parse_scope",
    "parse_week",
]

_DIMENSIONS = {
    "provider": "ProviderName",
    "invoice-issuer": "InvoiceIssuerName",
    "service": "ServiceName",
    "resource-group": "x_ResourceGroupName",
    "subscription": "SubAccountId",
}
# Sections shown only when the scope's data has more than one value (a second cloud, a reseller's invoice):
# a one-row "By cloud" table would say nothing.
_ONLY_WHEN_SEVERAL = frozenset({"provider", "invoice-issuer"})
_SCOPE_COLUMNS = {
    "subscription": "SubAccountId",
    "resource-group": "x_ResourceGroupName",
    "service": "ServiceName",
    "provider": "ProviderName",
    "invoice-issuer": "InvoiceIssuerName",
}


class DigestError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Scope:
    """A filter over the cost frame: ``subscription=<id>`` (an AWS account or a Google Cloud project for
    those clouds), ``resource-group=<name>``, ``service=<name>``, ``provider=<name>`` (Microsoft, AWS,
    Google Cloud), ``invoice-issuer=<name>``, ``tag=<key>=<value>`` or ``all``."""

    kind: str
    value: str = ""
    tag_value: str = ""

    def __str__(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "tag":
            return f"tag={self.value}={self.tag_value}"
        return f"{self.kind}={self.value}"


def parse_scope(text: str) -> Scope:
    text = text.strip()
    if text in ("", "all", "*"):
        return Scope("all")
    kind, sep, value = text.partition("=")
    kind = kind.strip().lower()
    if not sep or not value:
        raise DigestError(f"scope {text!r}: expected KIND=VALUE, e.g. subscription=<id>")
    if kind == "tag":
        key, sep2, tag_value = value.partition("=")
        if not sep2:
            raise DigestError(f"scope {text!r}: a tag scope is tag=<key>=<value>")
        return Scope("tag", key, tag_value)
    if kind == "resourcegroup":
        kind = "resource-group"
    if kind not in _SCOPE_COLUMNS:
        raise DigestError(
            f"scope {text!r}: kind must be subscription, resource-group, service, provider, invoice-issuer or tag"
        )
    return Scope(kind, value.strip())


def parse_week(text: str) -> date:
    """``YYYY-Www`` -> the Monday of that ISO week."""
    try:
        year_s, week_s = text.upper().split("-W")
        return date.fromisocalendar(int(year_s), int(week_s), 1)
    except (ValueError, TypeError):
        raise DigestError(f"week {text!r}: expected ISO week YYYY-Www, e.g. 2026-W47") from None


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """The scopes a digest covers (their union); empty means everything."""

    scopes: tuple[Scope, ...] = ()

    def __str__(self) -> str:
        return ", ".join(str(s) for s in self.scopes) if self.scopes else "all"


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding or alert, flattened for the digest (from alerts.jsonl or findings JSON lines)."""

    family: str
    rule: str
    status: str
    resource_id: str
    resource_name: str
    subscription_id: str
    resource_group: str
    starts_at: datetime | None
    ends_at: datetime | None
    annotations: Mapping[str, str]
    evidence: Mapping[str, Any]

    @classmethod
    def from_finding(cls, f: Finding) -> FindingRecord:
        resolved = f.status is Status.RESOLVED
        return cls(
            family=_family(f.detector),
            rule=f.rule,
            status=f.status.value,
            resource_id=f.resource.id,
            resource_name=f.resource.name,
            subscription_id=f.resource.subscription_id,
            resource_group=f.resource.resource_group,
            starts_at=None if resolved else f.observed_at,
            ends_at=f.observed_at if resolved else None,
            annotations=dict(f.annotations),
            evidence=dict(f.evidence),
        )

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FindingRecord:
        if "detector" in d and "resource" in d:
            return cls.from_finding(Finding.from_dict(d))
        labels = d.get("labels") or {}
        starts = d.get("startsAt") or d.get("starts_at")
        ends = d.get("endsAt") or d.get("ends_at")
        evidence = d.get("evidence") or {}
        rid = str(labels.get("resource_id", ""))
        return cls(
            family=_family(str(labels.get("detector", ""))),
            rule=str(labels.get("alertname", labels.get("rule", ""))),
            status=str(d.get("status") or ("resolved" if ends else "firing")),
            resource_id=rid,
            resource_name=rid.rsplit("/", 1)[-1] if rid else "",
            subscription_id=str(labels.get("subscription_id", "")),
            resource_group=str(labels.get("resource_group", "")),
            starts_at=_parse_dt(starts),
            ends_at=_parse_dt(ends),
            annotations={str(k): str(v) for k, v in (d.get("annotations") or {}).items()},
            evidence=evidence if isinstance(evidence, dict) else {},
        )

    def number(self, *keys: str) -> float | None:
        """The first of ``keys`` found in evidence or annotations, as a float."""
        for key in keys:
            for src in (self.evidence, self.annotations):
                if key in src:
                    try:
                        value = float(str(src[key]).replace(",", ""))
                    except ValueError:
                        continue
                    if math.isfinite(value):
                        return value
        return None

    def text(self, *keys: str) -> str:
        for key in keys:
            if self.annotations.get(key):
                return str(self.annotations[key])
        return ""


def _family(detector: str) -> str:
    d = detector.lower()
    for fam in ("overspend", "idle", "drift", "remediation"):
        if d.startswith(fam) or f".{fam}" in d or f"/{fam}" in d:
            return fam
    return d.split(".", 1)[0] if d else ""


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_utc(str(value))
    except ValueError:
        return None


def load_findings(lines: Iterable[str], source: str = "<findings>") -> list[FindingRecord]:
    """Parse JSON lines of alerts (alerts.jsonl) or findings; errors name the line."""
    out: list[FindingRecord] = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise TypeError("expected a JSON object")
            out.append(FindingRecord.from_json(data))
        except (ValueError, TypeError, KeyError) as exc:
            raise DigestError(f"{source}:{no}: not a finding or alert: {exc}") from None
    return out


@dataclass(frozen=True, slots=True)
class RemediationRecord:
    """One remediation attempt from the audit ledger (``alerts.remediation.execute``)."""

    at: datetime | None
    action: str
    resource_id: str
    result: str
    approved_by: str
    detail: str

    @property
    def resource_name(self) -> str:
        return self.resource_id.rsplit("/", 1)[-1]

    @property
    def subscription_id(self) -> str:
        return ResourceRef.from_id(self.resource_id).subscription_id

    @property
    def resource_group(self) -> str:
        return ResourceRef.from_id(self.resource_id).resource_group

    @classmethod
    def from_ledger(cls, entry: Mapping[str, Any]) -> RemediationRecord:
        return cls(
            at=_parse_dt(entry.get("at")),
            action=str(entry.get("action", "")),
            resource_id=str(entry.get("resource_id", "")),
            result=str(entry.get("result", "")),
            approved_by=str(entry.get("approved_by", "")),
            detail=str(entry.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class Mover:
    dimension: str
    key: str
    this_week: float
    previous_week: float
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key})" if self.name and self.name != self.key else self.key

    @property
    def change(self) -> float:
        return self.this_week - self.previous_week


@dataclass
class Digest:
    scope: ScopeSet
    week_start: date
    currency: str
    metric: str
    generated_at: datetime
    has_data: bool
    empty_reason: str = ""
    days_covered: int = 7  # fewer while the week is in progress: comparisons use the same weekdays
    week_total: float = 0.0
    previous_week_total: float = 0.0
    same_week_last_month_total: float = 0.0
    month_to_date: float = 0.0
    month_forecast: float | None = None
    budget: float | None = None
    daily: list[tuple[date, float]] = field(default_factory=list)
    movers: dict[str, list[Mover]] = field(default_factory=dict)
    anomalies: list[FindingRecord] = field(default_factory=list)
    idle: list[tuple[FindingRecord, float | None]] = field(default_factory=list)
    idle_total_monthly: float = 0.0
    drift_opened: int = 0
    drift_resolved: int = 0
    remediations: list[RemediationRecord] = field(default_factory=list)
    other_currencies: list[str] = field(default_factory=list)
    trace: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=7)

    @property
    def iso_week(self) -> str:
        y, w, _ = self.week_start.isocalendar()
        return f"{y}-W{w:02d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": str(self.scope),
            "week": self.iso_week,
            "currency": self.currency,
            "metric": self.metric,
            "has_data": self.has_data,
            "days_covered": self.days_covered,
            "empty_reason": self.empty_reason,
            "week_total": round(self.week_total, 2),
            "previous_week_total": round(self.previous_week_total, 2),
            "same_week_last_month_total": round(self.same_week_last_month_total, 2),
            "month_to_date": round(self.month_to_date, 2),
            "month_forecast": None if self.month_forecast is None else round(self.month_forecast, 2),
            "budget": self.budget,
            "movers": {
                dim: [
                    {"key": m.key, "this_week": round(m.this_week, 2), "previous_week": round(m.previous_week, 2)}
                    for m in movers
                ]
                for dim, movers in self.movers.items()
            },
            "anomalies": len(self.anomalies),
            "idle_top": [{"resource_id": f.resource_id, "rule": f.rule, "monthly_waste": w} for f, w in self.idle],
            "idle_total_monthly": round(self.idle_total_monthly, 2),
            "drift_opened": self.drift_opened,
            "drift_resolved": self.drift_resolved,
            "remediations": len(self.remediations),
            "other_currencies": self.other_currencies,
            "trace": self.trace,
        }


def _scope_mask(frame: pd.DataFrame, scope: Scope) -> pd.Series:
    import pandas as pd

    if scope.kind == "all":
        return pd.Series(True, index=frame.index)
    if scope.kind == "tag":

        def has_tag(raw: object) -> bool:
            if not isinstance(raw, str) or not raw:
                return False
            try:
                tags = json.loads(raw)
            except ValueError:
                return False
            if not isinstance(tags, dict):
                return False
            lowered = {str(k).lower(): str(v) for k, v in tags.items()}
            return lowered.get(scope.value.lower()) == scope.tag_value

        tags = frame["Tags"]  # judged once per distinct value (the frame may hold them as a categorical)
        return tags.isin([v for v in tags.dropna().unique() if has_tag(v)])
    column = _SCOPE_COLUMNS[scope.kind]
    if column not in frame.columns:  # a frame from before the provider columns: nothing matches
        return pd.Series(False, index=frame.index)
    return (frame[column].astype("string").str.lower() == scope.value.lower()).fillna(False).astype(bool)


def _filter_scopes(frame: pd.DataFrame, scopes: Sequence[Scope]) -> pd.DataFrame:
    """Rows in any of the scopes (a digest subscription lists several)."""
    if not scopes or any(s.kind == "all" for s in scopes):
        return frame
    mask = _scope_mask(frame, scopes[0])
    for scope in scopes[1:]:
        mask = mask | _scope_mask(frame, scope)
    return frame[mask]


def _pick_metric(frame: pd.DataFrame) -> str:
    billed = frame["BilledCost"].notna().any() if "BilledCost" in frame else False
    return "BilledCost" if billed else "EffectiveCost"


def _sum(frame: pd.DataFrame, metric: str, start: date, end: date) -> tuple[float, int]:
    import pandas as pd

    lo = pd.Timestamp(start, tz="UTC")
    hi = pd.Timestamp(end, tz="UTC")
    sel = frame[(frame["ChargePeriodStart"] >= lo) & (frame["ChargePeriodStart"] < hi)]
    return float(sel[metric].fillna(0.0).sum()), len(sel)


def _opened_in(f: FindingRecord, start: datetime, end: datetime) -> bool:
    return f.starts_at is not None and start <= f.starts_at < end


def _resolved_in(f: FindingRecord, start: datetime, end: datetime) -> bool:
    return f.ends_at is not None and start <= f.ends_at < end


def build_digest(
    costs: pd.DataFrame,
    findings: Sequence[FindingRecord],
    *,
    week_start: date,
    scopes: Sequence[Scope] = (),
    now: datetime,
    currency: str | None = None,
    budget: float | None = None,
    top_n: int = 10,
    remediation_log: Iterable[Mapping[str, Any]] = (),
) -> Digest:
    """Compute the digest for one scope and ISO week. Pure: no I/O, no clock."""
    import pandas as pd

    week_end = week_start + timedelta(days=7)
    frame = costs
    present = sorted({str(c) for c in frame["BillingCurrency"].dropna().unique()}) if len(frame) else []
    if currency is None:
        if present:
            by_cur = frame.groupby("BillingCurrency", observed=True)[_pick_metric(frame)].sum()
            currency = str(by_cur.idxmax())
        else:
            currency = "USD"
    other = [c for c in present if c != currency]
    frame = frame[frame["BillingCurrency"] == currency] if len(frame) else frame
    frame = _filter_scopes(frame, scopes) if len(frame) else frame
    metric = _pick_metric(frame) if len(frame) else "BilledCost"
    scope = ScopeSet(tuple(scopes))
    digest = Digest(
        scope=scope,
        week_start=week_start,
        currency=currency,
        metric=metric,
        generated_at=now,
        has_data=False,
        budget=budget,
        other_currencies=other,
    )
    wk_start_dt = datetime(week_start.year, week_start.month, week_start.day, tzinfo=now.tzinfo)
    wk_end_dt = wk_start_dt + timedelta(days=7)
    _fill_findings(digest, findings, scope=scope, start=wk_start_dt, end=wk_end_dt, top_n=top_n)
    _fill_remediations(digest, remediation_log, scope=scope, start=wk_start_dt, end=wk_end_dt)

    if not len(frame):
        digest.empty_reason = (
            f"No cost rows in {currency} for scope {scope} at all."
            if not present
            else f"No cost rows for scope {scope} in {currency}."
        )
        return digest
    _, week_rows = _sum(frame, metric, week_start, week_end)
    if week_rows == 0:
        last = frame["ChargePeriodStart"].max()
        digest.empty_reason = (
            f"No cost rows for scope {scope} in week {digest.iso_week}; "
            f"the latest data is for {last.date().isoformat()}."
        )
        return digest
    digest.has_data = True
    # A week still in progress is compared like for like: the same weekdays of earlier weeks.
    data_end = frame["ChargePeriodStart"].max().date() + timedelta(days=1)
    span_end = min(week_end, data_end)
    digest.days_covered = (span_end - week_start).days
    span = timedelta(days=digest.days_covered)
    week_total, week_rows = _sum(frame, metric, week_start, span_end)
    digest.week_total = week_total
    prev_start = week_start - timedelta(days=7)
    digest.previous_week_total, prev_rows = _sum(frame, metric, prev_start, prev_start + span)
    lm_start = week_start - timedelta(days=28)
    digest.same_week_last_month_total, lm_rows = _sum(frame, metric, lm_start, lm_start + span)
    last_day = span_end - timedelta(days=1)
    month_start = last_day.replace(day=1)
    digest.month_to_date, mtd_rows = _sum(frame, metric, month_start, span_end)
    digest.trace = {
        "week_total": {"metric": metric, "from": week_start.isoformat(), "to": span_end.isoformat(), "rows": week_rows},
        "previous_week_total": {
            "metric": metric,
            "from": prev_start.isoformat(),
            "to": (prev_start + span).isoformat(),
            "rows": prev_rows,
        },
        "same_week_last_month_total": {
            "metric": metric,
            "from": lm_start.isoformat(),
            "to": (lm_start + span).isoformat(),
            "rows": lm_rows,
        },
        "month_to_date": {
            "metric": metric,
            "from": month_start.isoformat(),
            "to": span_end.isoformat(),
            "rows": mtd_rows,
        },
    }
    for key in digest.trace:
        digest.trace[key].update({"scope": str(scope), "currency": currency})

    # Daily series: 8 weeks ending with the digest's week.
    day = frame["ChargePeriodStart"].dt.floor("D")
    daily = frame.assign(_day=day).groupby("_day", observed=True)[metric].sum()
    chart_start = pd.Timestamp(week_end - timedelta(days=56), tz="UTC")
    idx = pd.date_range(chart_start, periods=56, freq="D", tz="UTC")
    daily_8w = daily.reindex(idx, fill_value=0.0)
    digest.daily = [(ts.date(), float(v)) for ts, v in zip(idx, daily_8w.to_numpy(), strict=True)]

    digest.month_forecast = _forecast(daily, month_start, span_end, digest.month_to_date)

    digest.movers = {}
    this = frame[
        (frame["ChargePeriodStart"] >= pd.Timestamp(week_start, tz="UTC"))
        & (frame["ChargePeriodStart"] < pd.Timestamp(span_end, tz="UTC"))
    ]
    prev = frame[
        (frame["ChargePeriodStart"] >= pd.Timestamp(prev_start, tz="UTC"))
        & (frame["ChargePeriodStart"] < pd.Timestamp(prev_start + span, tz="UTC"))
    ]
    for dim, column in _DIMENSIONS.items():
        if column not in frame.columns:
            continue
        if dim in _ONLY_WHEN_SEVERAL and frame[column].dropna().nunique() < 2:
            continue
        this_d, prev_d = this, prev
        if dim == "resource-group" and "provider" in digest.movers:
            # resource groups are Azure's: other clouds' rows are not a "(none)" resource group
            this_d, prev_d = _azure_rows(this), _azure_rows(prev)
        a = this_d.groupby(this_d[column].astype("string").fillna("(none)"), observed=True)[metric].sum()
        b = prev_d.groupby(prev_d[column].astype("string").fillna("(none)"), observed=True)[metric].sum()
        keys = sorted(set(a.index) | set(b.index))
        names: dict[str, str] = {}
        if dim == "subscription":
            pairs = frame[["SubAccountId", "SubAccountName"]].dropna().drop_duplicates("SubAccountId")
            names = {str(i): str(n) for i, n in zip(pairs["SubAccountId"], pairs["SubAccountName"], strict=True)}
        movers = [Mover(dim, str(k), float(a.get(k, 0.0)), float(b.get(k, 0.0)), names.get(str(k), "")) for k in keys]
        movers.sort(key=lambda m: (-abs(m.change), m.key))
        digest.movers[dim] = movers[:top_n]
    return digest


def _azure_rows(frame: pd.DataFrame) -> pd.DataFrame:
    provider = frame["ProviderName"].astype("string").str.lower()
    return frame[(provider == "microsoft").fillna(True).astype(bool)]


def _forecast(daily: pd.Series, month_start: date, week_end: date, mtd: float) -> float | None:
    """Month-end forecast: MTD plus weekday means over the last 28 days of data."""
    import calendar

    import pandas as pd

    if daily.empty:
        return None
    hist_end = pd.Timestamp(week_end, tz="UTC")
    hist = daily[(daily.index < hist_end) & (daily.index >= hist_end - pd.Timedelta(days=28))]
    if len(hist) < 7:
        return None
    by_weekday = hist.groupby(pd.DatetimeIndex(hist.index).day_of_week).mean()
    days_in_month = calendar.monthrange(month_start.year, month_start.month)[1]
    month_end = month_start + timedelta(days=days_in_month)
    remaining = 0.0
    d = week_end
    while d < month_end:
        remaining += float(by_weekday.get(d.weekday(), hist.mean()))
        d += timedelta(days=1)
    return mtd + remaining


def _in_scope(f: FindingRecord, scopes: ScopeSet) -> bool:
    return not scopes.scopes or any(_in_one_scope(f, s) for s in scopes.scopes)


def _in_one_scope(f: FindingRecord, scope: Scope) -> bool:
    if scope.kind == "all":
        return True
    if scope.kind == "subscription":
        return f.subscription_id.lower() == scope.value.lower()
    if scope.kind == "resource-group":
        return f.resource_group.lower() == scope.value.lower()
    # Service and tag scopes are cost dimensions; findings carry them only in annotations.
    return f.annotations.get(scope.kind, "").lower() == scope.value.lower()


def _fill_findings(
    digest: Digest,
    findings: Sequence[FindingRecord],
    *,
    scope: ScopeSet,
    start: datetime,
    end: datetime,
    top_n: int,
) -> None:
    scoped = [f for f in findings if _in_scope(f, scope)]
    digest.anomalies = [f for f in scoped if f.family == "overspend" and _opened_in(f, start, end)]
    idle_firing = [f for f in scoped if f.family == "idle" and f.status == "firing"]
    ranked = sorted(
        ((f, f.number("monthly_waste", "waste_monthly", "monthly_cost")) for f in idle_firing),
        key=lambda fw: (-(fw[1] or 0.0), fw[0].resource_id),
    )
    digest.idle = ranked[:top_n]
    digest.idle_total_monthly = sum(w or 0.0 for _, w in ranked)
    drift = [f for f in scoped if f.family == "drift"]
    digest.drift_opened = sum(1 for f in drift if _opened_in(f, start, end))
    digest.drift_resolved = sum(1 for f in drift if _resolved_in(f, start, end))


def _fill_remediations(
    digest: Digest, log: Iterable[Mapping[str, Any]], *, scope: ScopeSet, start: datetime, end: datetime
) -> None:
    """Actions from the remediation audit ledger in the week (approval events are not actions)."""
    out: list[RemediationRecord] = []
    for entry in log:
        if "action" not in entry or "result" not in entry:
            continue
        rec = RemediationRecord.from_ledger(entry)
        if rec.at is None or not start <= rec.at < end:
            continue
        probe = FindingRecord(
            "remediation",
            rec.action,
            rec.result,
            rec.resource_id,
            rec.resource_name,
            rec.subscription_id,
            rec.resource_group,
            rec.at,
            None,
            {},
            {},
        )
        if _in_scope(probe, scope):
            out.append(rec)
    digest.remediations = sorted(out, key=lambda r: (r.at or start, r.resource_id))
