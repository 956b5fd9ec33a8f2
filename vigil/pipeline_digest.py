"""digest.html for ``vigil run``: the weekly digest of the run's week.

:func:`write_digest` is the one function the pipeline calls. It builds the real
digest (``alerts.digest``: spend, movers, anomalies, idle savings, drift, chart)
for the ISO week that contains the last complete day before ``now``. If that
fails, it writes :func:`minimal_digest_html` instead (spend totals, top
services, alerts by family) with the error shown, so a run always leaves a
readable digest and never hides why the full one is missing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.money import DisplayConfig

__all__ = ["minimal_digest_html", "write_digest"]

log = logging.getLogger(__name__)


def write_digest(
    path: Path, costs: Any, alerts: Sequence[Mapping[str, Any]], *, now: datetime, display: DisplayConfig | None = None
) -> str:
    """Write digest.html; returns which renderer produced it ("alerts.digest" or "minimal"). ``display``
    (vigil.yaml ``display:``) shows the display currency beside the headline figures."""
    try:
        page = _full_digest(costs, alerts, now=now, display=display)
        kind = "alerts.digest"
    except Exception as exc:  # the fallback must show any failure, not crash the run
        log.exception("full digest failed; writing the minimal digest", extra={"error": str(exc)})
        page = minimal_digest_html(costs, alerts, now=now, note=f"The full digest failed: {exc}")
        kind = "minimal"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return kind


def _full_digest(
    costs: Any, alerts: Sequence[Mapping[str, Any]], *, now: datetime, display: DisplayConfig | None = None
) -> str:
    from alerts.digest.data import FindingRecord, build_digest
    from alerts.digest.render import render

    last_day = (now - timedelta(days=1)).date()
    week_start = last_day - timedelta(days=last_day.weekday())
    records = [FindingRecord.from_json(a) for a in alerts]
    digest = build_digest(costs, records, week_start=week_start, now=now)
    return str(render(digest, display=display).html_standalone)


def _family(labels: Mapping[str, Any]) -> str:
    return str(labels.get("detector", "other") or "other")


def minimal_digest_html(
    costs: Any, alerts: Sequence[Mapping[str, Any]], *, now: datetime, note: str | None = None
) -> str:
    """Spend totals (last 7 and 30 days), top 5 services, alerts by family and status."""
    from alerts.money import fmt_money

    rows: list[str] = []
    currency = ""
    if costs is not None and len(costs):
        amount = costs["BilledCost"].astype("float64").fillna(costs["EffectiveCost"].astype("float64")).fillna(0.0)
        frame = costs.assign(_amount=amount)
        currency = str(frame["BillingCurrency"].dropna().iloc[0]) if frame["BillingCurrency"].notna().any() else ""
        for days in (7, 30):
            mask = frame["ChargePeriodStart"] >= now - timedelta(days=days)
            total = float(frame.loc[mask & (frame["ChargePeriodStart"] < now), "_amount"].sum())
            rows.append(f"<tr><td>Spend, last {days} days</td><td>{html.escape(fmt_money(total, currency))}</td></tr>")
        recent = frame[frame["ChargePeriodStart"] >= now - timedelta(days=30)]
        top = recent.groupby("ServiceName", dropna=False)["_amount"].sum().sort_values(ascending=False).head(5)
        services = "".join(
            f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(fmt_money(float(value), currency))}</td></tr>"
            for name, value in top.items()
        )
    else:
        services = "<tr><td colspan=2>No cost data</td></tr>"
    counts: dict[tuple[str, str], int] = {}
    for a in alerts:
        key = (_family(a.get("labels") or {}), str(a.get("status", "")))
        counts[key] = counts.get(key, 0) + 1
    by_family = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{html.escape(s)}</td><td>{n}</td></tr>"
        for (f, s), n in sorted(counts.items())
    )
    note_html = f"<p class=note>{html.escape(note)}</p>" if note else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Vigil digest</title></head><body>"
        f"<h1>Vigil digest</h1><p>Data up to {html.escape(now.isoformat())}</p>{note_html}"
        f"<h2>Spend</h2><table>{''.join(rows)}</table>"
        f"<h2>Top services (30 days)</h2><table>{services}</table>"
        f"<h2>Alerts by family</h2><table><tr><th>Family</th><th>Status</th><th>Alerts</th></tr>{by_family}</table>"
        "</body></html>\n"
    )
