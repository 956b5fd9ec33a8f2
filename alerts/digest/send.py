"""Build and send the digest for every subscription in ``digests:`` (the timer path).

Sending is injected (``send``), so the same code serves the Function timer
(through the alerts email channel) and tests (through a real SMTP server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.config import DigestConfig
from alerts.digest.data import DigestError, FindingRecord, build_digest, parse_scope
from alerts.digest.render import render
from alerts.money import DisplayConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DigestSendResult", "monthly_budget", "previous_week", "send_digests"]

log = logging.getLogger(__name__)

SendFn = Callable[[EmailMessage, Sequence[str]], None]


@dataclass(frozen=True, slots=True)
class DigestSendResult:
    name: str
    week: str
    recipients: tuple[str, ...]
    has_data: bool
    bytes: int
    error: str = ""


def previous_week(now: datetime, timezone: str = "UTC") -> date:
    """Monday of the last complete ISO week before ``now``, in ``timezone``."""
    try:
        tz = ZoneInfo(timezone)
    except ZoneInfoNotFoundError:
        raise DigestError(f"digest timezone {timezone!r} is not a known IANA time zone") from None
    local = now.astimezone(tz).date()
    this_monday = local - timedelta(days=local.weekday())
    return this_monday - timedelta(days=7)


def send_digests(
    digests: Sequence[DigestConfig],
    costs: pd.DataFrame,
    findings: Sequence[FindingRecord],
    *,
    now: datetime,
    sender: str,
    send: SendFn,
    budgets: Callable[[DigestConfig], float | None] | None = None,
    remediation_log: Sequence[Mapping[str, Any]] = (),
    display: DisplayConfig | None = None,
) -> list[DigestSendResult]:
    """One email per digest subscription, with ``display`` (vigil.yaml's display currency) beside the
    figures. A failure for one subscription is logged and reported, and does not stop the others; the
    caller decides whether to fail the invocation (so that the platform retries)."""
    results: list[DigestSendResult] = []
    for cfg in digests:
        try:
            week = previous_week(now, cfg.timezone)
            scopes = [parse_scope(s) for s in cfg.scopes]
            digest = build_digest(
                costs,
                findings,
                week_start=week,
                scopes=scopes,
                now=now,
                currency=cfg.currency,
                budget=budgets(cfg) if budgets else None,
                remediation_log=remediation_log,
            )
            msg = render(digest, display=display).to_email(
                sender=sender,
                recipients=list(cfg.recipients),
                subject=f"Vigil weekly digest {digest.iso_week}: {cfg.name}",
            )
            size = len(msg.as_bytes())
            send(msg, cfg.recipients)
        except Exception as exc:
            log.exception("digest %s failed", cfg.name, extra={"digest": cfg.name})
            results.append(DigestSendResult(cfg.name, "", tuple(cfg.recipients), False, 0, str(exc)))
            continue
        log.info(
            "digest %s for %s sent to %d recipient(s)",
            cfg.name,
            digest.iso_week,
            len(cfg.recipients),
            extra={"digest": cfg.name, "week": digest.iso_week, "bytes": size},
        )
        results.append(DigestSendResult(cfg.name, digest.iso_week, tuple(cfg.recipients), digest.has_data, size))
    return results


_BUDGET_KIND = {
    "subscription": "subscription",
    "resource_group": "resource-group",
    "service": "service",
    "tag": "tag",
}
_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def monthly_budget(budgets: Sequence[Any], cfg: DigestConfig) -> float | None:
    """The monthly budget of a digest's scope: a budget whose scope is exactly the digest's
    single scope (or the billing account for a digest over everything), prorated to a month
    when it is quarterly or annual. None when no budget matches."""
    scopes = [parse_scope(s) for s in cfg.scopes]
    for b in budgets:
        kind, value = b.scope.kind, b.scope.value
        if kind == "billing_account":
            if not scopes or all(s.kind == "all" for s in scopes):
                return float(b.amount) / _MONTHS[b.period]
            continue
        if len(scopes) != 1:
            continue
        scope = scopes[0]
        text = str(scope).split("=", 1)[1] if "=" in str(scope) else ""
        if _BUDGET_KIND.get(kind) == scope.kind and value.lower().split("/")[-1] == text.lower().split("/")[-1]:
            return float(b.amount) / _MONTHS[b.period]
    return None
