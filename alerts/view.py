"""What a person needs to act on one alert, rendered the same way by every channel.

:func:`action_view` turns an :class:`~alerts.notify.AlertView` into plain text parts: ordered
facts (where, since when, how sure, the money, the evidence, who changed it), the risk, the
remediation text, a drill-down and links (portal, runbook). The Teams card and the email render
these parts; neither formats a figure, a time or a link on its own, so the two agree.

Money is written in the billing currency with its symbol and fixed decimals (``$2,203.20``,
``alerts.money``), with the configured display currency beside it (``$2,203.20 (≈ €2,026.94)``);
times as ``2026-11-25 00:00 UTC``. The text is untrusted: channels escape it for their medium.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from alerts.money import NO_DISPLAY, fmt_money
from alerts.notify import AlertView

__all__ = ["ActionView", "action_view", "fmt_money", "fmt_time", "person_text", "portal_url", "top_contributors"]


def fmt_time(when: datetime | str) -> str:
    """One time format for every channel: ``2026-11-25 00:00 UTC``."""
    if isinstance(when, str):
        from core.timeutil import parse_utc

        try:
            parsed = parse_utc(when)
        except ValueError:
            return when
        when = parsed
    return f"{when:%Y-%m-%d %H:%M} UTC"


def portal_url(resource_id: str) -> str:
    """The Azure portal page of an ARM resource id ("" for anything that is not an ARM id)."""
    return f"https://portal.azure.com/#@/resource{resource_id}" if resource_id.startswith("/subscriptions/") else ""


_MONEY = re.compile(r"(?<![\w.])([+-]?)(\d[\d,]*(?:\.\d+)?) ([A-Z]{3})\b")
_TOP_CONTRIBUTORS = re.compile(r"Top contributors?: [^\n]*?\)\.?(?=\s|$)")
_ARM_ID = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}(?:/[^\s/]+/[^\s/]+)*?/providers/[^\s]*/([^\s/]+)")


def person_text(s: str) -> str:
    """A detector's text for a person: "101.68 USD" as "$101.68" (one money format everywhere), and
    a full ARM resource id as its name (the id stays in the "Resource id" fact)."""
    s = _ARM_ID.sub(lambda m: m.group(1), s)
    return _MONEY.sub(lambda m: m.group(1) + fmt_money(m.group(2).replace(",", ""), m.group(3)), s)


def top_contributors(description: str) -> str:
    """The "Top contributor(s): name (+12.34 USD)." sentence of a cost anomaly's description, else ""."""
    top = _TOP_CONTRIBUTORS.search(description)
    return top.group(0) if top else ""


def web_url(url: str) -> str:
    """An http(s) URL, else "" (an annotation or setting must not carry a javascript: or other scheme)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


@dataclass(frozen=True, slots=True)
class ActionView:
    title: str  # alert name
    name: str  # the resource (or scope) it is about
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    risk: str = ""
    remediation: list[str] = field(default_factory=list)  # the rule's fix, one line each
    drill_down: list[str] = field(default_factory=list)
    portal: str = ""
    runbook: str = ""


def _first(v: AlertView, *names: str) -> str:
    a = v.alert
    for n in names:
        for src in (a.annotations, v.evidence, a.labels):
            val = src.get(n)
            if val not in (None, ""):
                return str(val)
    return ""


def _num(v: AlertView, name: str) -> float | None:
    for src in (v.evidence, v.alert.annotations):
        raw = src.get(name)
        if raw in (None, ""):
            continue
        try:
            return float(raw)
        except (TypeError, ValueError):
            return None
    return None


def _scope(v: AlertView, names: Mapping[str, str]) -> str:
    labels = v.alert.labels
    parts = []
    sub = labels.get("subscription_id", "")
    name = names.get(sub) or _first(v, "subscription_name")
    if sub:
        parts.append(f"subscription {name} ({sub})" if name else f"subscription {sub}")
    if labels.get("resource_group"):
        parts.append(f"resource group {labels['resource_group']}")
    kind = labels.get("scope_kind", "")
    if kind in ("service", "provider", "tag") and labels.get("scope"):
        parts.append(f"{kind} {labels['scope']}")
    return " / ".join(parts) or _first(v, "scope")


def _money_facts(v: AlertView, currency: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    display = v.display or NO_DISPLAY

    def money(amount: float) -> str:
        return display.money(amount, currency)

    waste = _num(v, "monthly_waste")
    if waste is not None:
        out.append(("Monthly waste", f"{money(waste)} / month ({money(waste / 30)} / day)"))
    expected, actual = _num(v, "expected"), _num(v, "actual")
    if expected is not None and actual is not None and currency:
        day = _first(v, "day")
        out.append(("Expected", money(expected) + (f" on {day}" if day else "")))
        out.append(("Actual", money(actual)))
        impact = _num(v, "impact")
        if impact is not None:
            pct = _num(v, "impact_percent")
            out.append(("Excess", money(impact) + (f" (+{pct:.0f}%)" if pct is not None else "")))
        since = _num(v, "excess_since_first_day")
        if since is not None and _first(v, "first_day"):
            out.append(("Excess since " + _first(v, "first_day"), money(since)))
    return out


def _evidence_facts(v: AlertView, *, with_figures: bool = False) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    cpu, gpu = _num(v, "cpu_max_percent"), _num(v, "gpu_max_percent")
    metrics = [f"CPU max {cpu:.2f} %" if cpu is not None else "", f"GPU max {gpu:.2f} %" if gpu is not None else ""]
    if any(metrics):
        window = _first(v, "idle_hours_window")
        out.append(("Metrics", ", ".join(m for m in metrics if m) + (f" over {window} h" if window else "")))
    description = _first(v, "description")
    if description and with_figures:
        # the cost figures are facts of their own (Expected, Actual, Excess, in currency): the detector's
        # sentence would repeat them without a currency ("expected 15.30"); keep what it adds
        has_list = isinstance(v.evidence.get("resources"), list) and bool(v.evidence.get("resources"))
        description = "" if has_list else top_contributors(description)  # the list is its own fact
    if description:
        out.append(("Evidence", person_text(description)))
    contributors = v.evidence.get("resources")
    if isinstance(contributors, list) and contributors and isinstance(contributors[0], dict):
        cur = str(v.evidence.get("currency", ""))
        top = [
            f"{c.get('name') or str(c.get('id', '')).rsplit('/', 1)[-1]} +{fmt_money(c.get('delta', 0), cur)}"
            for c in contributors[:3]
            if isinstance(c, dict)
        ]
        out.append(("Top contributors", "; ".join(top)))
    return out


def action_view(v: AlertView, *, names: Mapping[str, str] | None = None) -> ActionView:
    """The parts of one alert's message. ``names`` maps subscription ids to display names."""
    a = v.alert
    labels = a.labels
    firing = a.ends_at is None
    rid = labels.get("resource_id", "")
    name = rid.rsplit("/", 1)[-1] if rid.startswith("/") else (labels.get("scope") or rid)
    currency = _first(v, "currency")
    facts: list[tuple[str, str]] = [
        ("Status", "firing" if firing else f"resolved {fmt_time(a.ends_at)}" if a.ends_at else "resolved"),
        ("Severity", labels.get("severity", "")),
        ("Scope", _scope(v, names or {})),
    ]
    if rid:
        rtype = labels.get("resource_type", "")
        facts.append(("Resource", f"{name} ({rtype})" if rtype else name))
    money = _money_facts(v, currency)
    facts += money
    if not money:
        for title, keys in (("Expected", ("expected", "expected_value")), ("Actual", ("actual", "actual_value"))):
            val = _first(v, *keys)
            if val:
                facts.append((title, val))
    facts += _evidence_facts(v, with_figures=any(k == "Expected" for k, _ in money))
    policy = _first(v, "violation")
    if policy:
        facts.append(("Failed clause", policy))
    changed = _first(v, "changed_by", "caller", "claims_name", "principal")
    if changed:
        at = _first(v, "changed_at")
        facts.append(("Changed by", changed + (f" at {fmt_time(at)}" if at else "")))
    facts.append(("Since", fmt_time(a.starts_at)))
    confidence = _num(v, "score")
    if confidence is not None:
        facts.append(("Confidence", f"anomaly score {confidence:.2f}"))
    if v.ack:
        at = str(v.ack.get("at", ""))
        comment = f": {v.ack['comment']}" if v.ack.get("comment") else ""
        facts.append(("Acknowledged", f"by {v.ack.get('by', '?')}" + (f" at {fmt_time(at)}" if at else "") + comment))
    if v.remediation:
        facts.append(("Remediation", v.remediation))
    if rid.startswith("/subscriptions/"):
        facts.append(("Resource id", rid))
    remediation = [line.strip() for line in _first(v, "remediation").splitlines() if line.strip()]
    drill_lines = [person_text(line) for line in _first(v, "drill_down").splitlines() if line.strip()]
    sub, sub_name = labels.get("subscription_id", ""), _first(v, "subscription_name")
    if sub and sub_name:  # the display name beside the id, as in the Scope fact
        drill_lines = [
            line.replace(f"subscription {sub}:", f"subscription {sub_name} ({sub}):", 1) for line in drill_lines
        ]
    return ActionView(
        title=labels.get("alertname", "alert"),
        name=name or v.fingerprint,
        summary=person_text(_first(v, "summary", "title")),
        facts=[(k, x) for k, x in facts if x],
        risk=_first(v, "risk"),
        remediation=remediation,
        drill_down=drill_lines,
        portal=portal_url(rid),
        runbook=web_url(_first(v, "runbook_url")),
    )
