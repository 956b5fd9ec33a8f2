"""Render a :class:`~alerts.digest.data.Digest` as email-safe HTML, plain text,
a standalone HTML page (chart embedded) and a MIME message (chart attached
inline by Content-ID)."""

from __future__ import annotations

import base64
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from alerts.digest.charts import daily_spend_png
from alerts.digest.data import Digest

if TYPE_CHECKING:
    import jinja2

__all__ = ["MAX_EMAIL_BYTES", "DigestTooLargeError", "RenderedDigest", "render"]

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


def _helpers(d: Digest) -> dict[str, Any]:
    cur = d.currency

    def money(v: float) -> str:
        return f"{cur} {v:,.2f}"

    def signed(v: float) -> str:
        return f"{'+' if v >= 0 else '-'}{cur} {abs(v):,.2f}"

    def delta(now: float, then: float) -> str:
        change = now - then
        if then == 0:
            return f"{signed(change)} (new)" if now else "no change"
        return f"{signed(change)} ({100.0 * change / then:+.1f}%)"

    def pct(part: float, whole: float) -> str:
        return f"{100.0 * part / whole:.0f}%" if whole else "n/a"

    def delta_colour(change: float) -> str:
        return "#dc2626" if change > 0 else ("#16a34a" if change < 0 else "inherit")

    metric_label = "actual cost (BilledCost)" if d.metric == "BilledCost" else "amortized cost (EffectiveCost)"
    return {
        "d": d,
        "money": money,
        "signed": signed,
        "delta": delta,
        "pct": pct,
        "delta_colour": delta_colour,
        "metric_label": metric_label,
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
        budget = f" Dashed line: budget of {d.currency} {d.budget / 30.4375:,.2f} per day."
    return (
        f"Bar chart of daily spend over the 8 weeks from {d.daily[0][0].isoformat()} to "
        f"{d.daily[-1][0].isoformat()}: total {d.currency} {total:,.2f}; this week (highlighted) "
        f"{d.currency} {week:,.2f}; highest day {peak_day.isoformat()} at {d.currency} {peak:,.2f}.{budget}"
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


def render(digest: Digest) -> RenderedDigest:
    env = _env()
    ctx = _helpers(digest)
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
