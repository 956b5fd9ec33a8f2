"""Render a :class:`~alerts.digest.data.Digest` as email-safe HTML, plain text,
a standalone HTML page (chart embedded) and a MIME message (chart attached
inline by Content-ID)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from alerts.digest.charts import daily_spend_png
from alerts.digest.data import Digest, FindingRecord, Mover
from alerts.money import NO_DISPLAY, DisplayConfig, fmt_money
from core.text import shorten

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "MAX_EMAIL_BYTES",
    "AnomalyLine",
    "DigestTooLargeError",
    "RenderedDigest",
    "anomaly_line",
    "mover_label",
    "render",
]

MAX_EMAIL_BYTES = 1_000_000
_CID = "daily-spend"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class DigestTooLargeError(ValueError):
    pass


@cache
def _env() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class AnomalyLine:
    """One cost anomaly as the digest shows it: names in the title, ids in the details, one date."""

    title: str  # "Cost anomaly on resource vm-batch-gpu-01"
    where: str  # "Contoso Production / rg-batch-prod"
    since: str  # the first day of the excess (the detector's first_day), the one date shown
    detail: str  # the figures, in the same money format as the cards
    ident: str  # the full id (ARM resource id or scope), for the details line
    portal: str


_DAY_SUFFIX = re.compile(r"\s+on \d{4}-\d{2}-\d{2}\s*$")
_ELEVATED = re.compile(r"\s*Elevated since \d{4}-\d{2}-\d{2}\.")


def anomaly_line(f: FindingRecord) -> AnomalyLine:
    """The digest's line for a cost anomaly. The detector's text names the ARM id and two dates (the day
    measured, the first elevated day); the line names the resource, the subscription by its display name,
    and one date: since when the cost is elevated."""
    from alerts.view import person_text, portal_url, top_contributors

    sub_name = f.annotations.get("subscription_name", "")
    title = person_text(f.text("summary", "title") or f.rule)
    if f.subscription_id:
        title = title.replace(f.subscription_id, sub_name or shorten(f.subscription_id, 13))
    title = _DAY_SUFFIX.sub("", title)
    where = " / ".join(
        p
        for p in (
            sub_name or (shorten(f.subscription_id, 13) if f.subscription_id else ""),
            f.resource_group,
        )
        if p
    )
    first = f.evidence.get("first_day") or f.annotations.get("first_day")
    since = str(first) if first else (f.starts_at.date().isoformat() if f.starts_at else "")
    currency = str(f.evidence.get("currency", ""))
    actual, expected, impact = f.number("actual"), f.number("expected"), f.number("impact")
    description = f.text("description")
    if currency and actual is not None and expected is not None:
        pct = f.number("impact_percent")
        detail = f"Last day {fmt_money(actual, currency)} against {fmt_money(expected, currency)} expected"
        if impact is not None:
            detail += f" (+{fmt_money(impact, currency)}" + (f", +{pct:.0f}%)" if pct is not None else ")")
        total = f.number("excess_since_first_day")
        if total is not None:
            detail += f"; {fmt_money(total, currency)} above expected since it rose"
        detail += "."
        top = top_contributors(description)
        if top:
            detail += " " + person_text(top)
    else:
        detail = person_text(_ELEVATED.sub("", description)).strip()
    ident = f.resource_id or f.subscription_id
    return AnomalyLine(title, where, since, detail, ident, portal_url(f.resource_id))


def mover_label(m: Mover, width: int) -> str:
    """A mover's label in at most ``width`` characters: the id inside "Name (id)" is shortened in its
    middle first, so a name is never cut mid-GUID (``Contoso Data Science (d23f0824…a6a3a450)``)."""
    if len(m.label) <= width:
        return m.label
    if m.name and m.name != m.key:
        room = width - len(m.name) - 3
        if room >= 9:
            return f"{m.name} ({shorten(m.key, room)})"
    return shorten(m.label, width)


def _helpers(d: Digest, display: DisplayConfig) -> dict[str, Any]:
    cur = d.currency

    def money(v: float) -> str:
        return fmt_money(v, cur)

    def headline(v: float) -> str:
        """A headline figure: the billing amount with the display currency beside it."""
        return display.money(v, cur)

    def signed(v: float) -> str:
        return ("+" if v >= 0 else "-") + fmt_money(abs(v), cur)

    def delta(now: float, then: float) -> str:
        change = now - then
        if then == 0:
            return f"{signed(change)} (new)" if now else "no change"
        return f"{signed(change)} ({100.0 * change / then:+.1f}%)"

    def pct(part: float, whole: float) -> str:
        return f"{100.0 * part / whole:.0f}%" if whole else "n/a"

    def delta_colour(change: float) -> str:
        return "#dc2626" if change > 0 else ("#16a34a" if change < 0 else "inherit")

    from alerts.view import person_text

    metric_label = "actual cost (BilledCost)" if d.metric == "BilledCost" else "amortized cost (EffectiveCost)"
    rate_note = ""
    if display.currency and display.currency != cur:
        rate = display.rates.get(cur)
        rate_note = (
            f"Figures marked ≈ are in {display.currency} at 1 {cur} = {rate:g} {display.currency}"
            + (f" (rate of {display.rates_date.isoformat()})" if display.rates_date else "")
            + ", display.rates in vigil.yaml."
            if rate is not None
            else f"No {cur}→{display.currency} rate in display.rates: figures are in {cur} only."
        )
    return {
        "d": d,
        "money": money,
        "headline": headline,
        "signed": signed,
        "delta": delta,
        "pct": pct,
        "delta_colour": delta_colour,
        "metric_label": metric_label,
        "rate_note": rate_note,
        "anomalies": [anomaly_line(a) for a in d.anomalies],
        "mover_label": mover_label,
        "person_text": person_text,
        "one_day": timedelta(days=1),
        "dim_label": {
            "provider": "Cloud (ProviderName)",
            "invoice-issuer": "Invoice issuer",
            "service": "Service",
            "resource-group": "Resource group (Azure)" if "provider" in d.movers else "Resource group",
            "subscription": "Subscription / account / project" if "provider" in d.movers else "Subscription",
        },
    }


def _chart_alt(d: Digest) -> str:
    if not d.daily:
        return "No daily spend data."
    total = sum(v for _, v in d.daily)
    peak_day, peak = max(d.daily, key=lambda dv: dv[1])
    week = sum(v for day, v in d.daily if day >= d.week_start)
    budget = ""
    if d.budget is not None:
        budget = f" Dashed line: budget of {fmt_money(d.budget / 30.4375, d.currency)} per day."
    return (
        f"Bar chart of daily spend over the 8 weeks from {d.daily[0][0].isoformat()} to "
        f"{d.daily[-1][0].isoformat()}: total {fmt_money(total, d.currency)}; this week (highlighted) "
        f"{fmt_money(week, d.currency)}; highest day {peak_day.isoformat()} at {fmt_money(peak, d.currency)}.{budget}"
    )


class RenderedDigest:
    def __init__(self, digest: Digest, html_email: str, html_standalone: str, text: str, png: bytes | None):
        self.digest = digest
        self.html_email = html_email
        self.html_standalone = html_standalone
        self.text = text
        self.png = png

    def to_email(self, *, sender: str, recipients: list[str], subject: str | None = None) -> EmailMessage:
        """multipart/alternative (text, multipart/related(html, png by Content-ID))."""
        msg = EmailMessage()
        d = self.digest
        msg["Subject"] = subject or f"Vigil weekly digest {d.iso_week}: {d.scope}"
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(d.generated_at.timestamp(), usegmt=True)
        msg["Message-ID"] = make_msgid(domain="vigil.local")
        msg.set_content(self.text)
        msg.add_alternative(self.html_email, subtype="html")
        if self.png is not None:
            for part in msg.iter_parts():
                if part.get_content_type() == "text/html":
                    cast(EmailMessage, part).add_related(
                        self.png, "image", "png", cid=f"<{_CID}>", filename="daily-spend.png"
                    )
        size = len(msg.as_bytes())
        if size > MAX_EMAIL_BYTES:
            raise DigestTooLargeError(f"digest email is {size} bytes; the limit is {MAX_EMAIL_BYTES}")
        return msg


def render(digest: Digest, *, display: DisplayConfig | None = None) -> RenderedDigest:
    """``display`` (vigil.yaml ``display:``) adds the display currency beside the headline figures."""
    env = _env()
    ctx = _helpers(digest, display or NO_DISPLAY)
    png: bytes | None = None
    if digest.has_data and digest.daily:
        budget_daily = digest.budget / 30.4375 if digest.budget is not None else None
        png = daily_spend_png(
            digest.daily, week_start=digest.week_start, currency=digest.currency, budget_daily=budget_daily
        )
    alt = _chart_alt(digest)
    html_tpl = env.get_template("digest.html.j2")
    html_email = html_tpl.render(**ctx, chart_src=f"cid:{_CID}", chart_alt=alt)
    data_uri = f"data:image/png;base64,{base64.b64encode(png).decode()}" if png else ""
    html_standalone = html_tpl.render(**ctx, chart_src=data_uri, chart_alt=alt)
    text = env.get_template("digest.txt.j2").render(**ctx)
    return RenderedDigest(digest, html_email, html_standalone, text, png)
