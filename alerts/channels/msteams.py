"""Microsoft Teams via a Workflows webhook: Adaptive Card 1.5 in the message envelope.

Better than Alertmanager's msteamsv2 on each known gap: HTTP 429 (in the status
*or* in a 200 body) is retried honouring Retry-After; cards carry a severity
colour, facts (scope, resource, expected vs actual, who made the change, the
acknowledgement), links to the Azure portal and the runbook, and signed
Acknowledge / Silence 24h / Approve remediation buttons; a large group is split
into cards of at most ``max_card_bytes`` (28 KB by default), and beyond
``max_cards`` the last card says "+N more".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from alerts.config import MSTeamsConfig
from alerts.durations import parse_duration
from alerts.notify import (
    AlertView,
    DirectorySink,
    NotificationPayload,
    NotifyResult,
    part_id,
    post_with_retries,
)
from alerts.signing import derive_nonce, sign_link
from alerts.template import EMPTY, Library, library
from alerts.view import action_view, portal_url, web_url
from core.untrusted import escape_markdown, strip_controls

__all__ = ["MSTeamsConfig", "MSTeamsNotifier", "card_bytes", "portal_url", "render_cards"]

CARD_VERSION = "1.5"
_TEXT_MAX = 600
_CUSTOM_TEXT_MAX = 4000  # a rendered `text` template, repeated on each card of a split group
_DEFAULT_TEXT = re.compile(r'\{\{-?\s*template\s+"msteams(?:v2)?\.default\.text"\s+\.\s*-?\}\}')
_SEVERITY_STYLE = {
    "critical": ("attention", "Attention"),
    "high": ("attention", "Attention"),
    "medium": ("warning", "Warning"),
    "low": ("accent", "Accent"),
    "info": ("emphasis", "Default"),
}


def _clip(text: Any, limit: int = _TEXT_MAX) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _clip_md(text: str, limit: int) -> str:
    """Rendered Markdown clipped without leaving a dangling escape backslash."""
    return text if len(text) <= limit else text[: limit - 1].rstrip("\\") + "…"


def _md(text: Any, limit: int = _TEXT_MAX) -> str:
    """Untrusted text (labels, annotations, event claims, service names) for a Markdown TextBlock or
    FactSet value: clipped, then rendered literally (no links, no formatting, no control characters)."""
    return escape_markdown(_clip(text, limit))


def _envelope(body: list[dict[str, Any]], fallback: str | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if fallback:
        card["fallbackText"] = fallback
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def card_bytes(card: dict[str, Any]) -> bytes:
    return json.dumps(card, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _item_size(item: dict[str, Any]) -> int:
    return len(card_bytes(item)) + 1  # plus the separating comma


class _Renderer:
    def __init__(
        self, cfg: MSTeamsConfig, payload: NotificationPayload, signing_key: bytes | None, lib: Library
    ) -> None:
        self.cfg = cfg
        self.lib = lib
        self.p = payload
        self.key = signing_key
        self.ttl: timedelta = parse_duration(cfg.link_ttl)
        self._data: dict[str, Any] | None = None
        self._text: str | None = None

    def _link(self, action: str, fp: str) -> str | None:
        console = web_url(self.cfg.console_base_url or "").rstrip("/")
        if console:  # the console's pages confirm and act as the signed-in user (roles, CSRF); nothing to sign
            if action == "silence":
                return f"{console}/silences/new?{urlencode({'from': fp, 'duration': '24h'})}"
            return f"{console}/alerts/{quote(fp, safe='')}"
        if not (self.cfg.action_base_url and self.key):
            return None
        issued = self.p.issued_at or self.p.now
        nonce = derive_nonce(self.key, self.p.key, action, fp)
        return sign_link(
            self.cfg.action_base_url, action, {"fp": fp}, key=self.key, issued_at=issued, ttl=self.ttl, nonce=nonce
        )

    def vigil_title(self, *, markdown: bool = True) -> str:
        """Vigil's title: ``[FIRING:2] <alertname>`` (``msteams.default.title``)."""
        common = self.p.common_labels()
        name = common.get("alertname") or ", ".join(f"{k}={v}" for k, v in sorted(self.p.group_labels.items()))
        n_f, n_r = len(self.p.firing), len(self.p.resolved)
        status = f"FIRING:{n_f}" if n_f else "RESOLVED"
        if n_f and n_r:
            status += f" RESOLVED:{n_r}"
        shown = (_md(name, 200) if markdown else strip_controls(_clip(name, 200))) if name else "Vigil alerts"
        return f"[{status}] {shown}"

    def alert_list(self) -> str:
        """The alerts as Markdown lines (``msteams.default.text`` inside a custom ``text``)."""
        lines = []
        for v in self.p.alerts:
            av = action_view(v)
            line = f"- **{_md(av.title, 200)}** · {_md(av.name, 300)}"
            lines.append(line + (f": {_md(av.summary)}" if av.summary else ""))
        return "\n".join(lines)

    def _views(self) -> dict[str, Callable[[Any], str]]:
        from alerts.template.funcs import Safe

        def title(_: Any) -> str:
            return Safe(self.vigil_title())

        return {
            "msteams.default.title": title,
            "msteamsv2.default.title": title,
            "msteams.default.summary": lambda _: self.vigil_title(markdown=False),
            "msteams.default.text": lambda _: Safe(self.alert_list()),
            "msteamsv2.default.text": lambda _: Safe(self.alert_list()),
        }

    def _template(self, text: str, escape: Callable[[str], str]) -> str | None:
        """A Go template field (alertmanager.yml) over Alertmanager's data model; None if not renderable."""
        from alerts.amdata import payload_data
        from alerts.template import render_body

        if self._data is None:
            self._data = payload_data(self.p)
        return render_body(text, self._data, escape=escape, lib=self.lib, views=self._views())

    def title(self) -> str:
        t = self.cfg.title
        if t and "{{" not in t:
            return t
        out = self._template(t, escape_markdown) if t else None
        return out if out and out.strip() else self.vigil_title()

    def text(self) -> str | None:
        """The card's text under the title: ``text`` as written, or rendered when it is a template (the
        values it prints escaped for Markdown). None for no text, also when ``text`` is only Alertmanager's
        default (Vigil's layout below is that)."""
        if self._text is None:
            t = self.cfg.text or ""
            if "{{" not in t:
                self._text = _clip(t)
            elif _DEFAULT_TEXT.fullmatch(t.strip()):
                self._text = ""
            else:
                self._text = _clip_md(self._template(t, escape_markdown) or "", _CUSTOM_TEXT_MAX)
        return self._text or None

    def summary(self) -> str | None:
        """``summary`` as the card's ``fallbackText`` (plain text: values without control characters)."""
        t = self.cfg.summary
        if not t or "{{" not in t:
            return t or None
        out = self._template(t, strip_controls)
        return _clip(out, 300) if out else None

    def header(self, part: str) -> list[dict[str, Any]]:
        sev = self.p.common_labels().get("severity", "")
        if not self.p.firing:
            style, color = "good", "Good"
        else:
            style, color = _SEVERITY_STYLE.get(sev, ("emphasis", "Default"))
        items: list[dict[str, Any]] = [
            {
                "type": "Container",
                "style": style,
                "bleed": True,
                "items": [
                    {
                        "type": "TextBlock",
                        "text": _clip(self.title() + part, 300),
                        "weight": "Bolder",
                        "size": "Large",
                        "wrap": True,
                        "color": color,
                    },
                    {
                        "type": "TextBlock",
                        "text": f"Receiver {_md(self.p.receiver)} · severity {_md(sev) if sev else 'mixed'}",
                        "isSubtle": True,
                        "spacing": "None",
                        "wrap": True,
                    },
                ],
            }
        ]
        text = self.text()
        if text:
            items.append({"type": "TextBlock", "text": text, "wrap": True})
        return items

    def alert_item(self, v: AlertView) -> dict[str, Any]:
        a = v.alert
        labels = a.labels
        firing = a.ends_at is None
        sev = labels.get("severity", "")
        rid = labels.get("resource_id", "")
        av = action_view(v)
        items: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "text": f"**{_md(av.title, 200)}** · {_md(av.name, 300)}",
                "wrap": True,
                "weight": "Bolder",
                "color": "Good" if not firing else _SEVERITY_STYLE.get(sev, ("", "Default"))[1],
            },
        ]
        if av.summary:
            items.append({"type": "TextBlock", "text": _md(av.summary), "wrap": True, "spacing": "Small"})
        items.append({"type": "FactSet", "facts": [{"title": t, "value": _md(x, 300)} for t, x in av.facts]})
        if av.drill_down:
            items.append({"type": "TextBlock", "text": "Drill-down", "weight": "Bolder", "spacing": "Small"})
            items += [
                {"type": "TextBlock", "text": _md(line, 300), "wrap": True, "spacing": "None"} for line in av.drill_down
            ]
        if av.risk:
            items.append({"type": "TextBlock", "text": f"**Risk:** {_md(av.risk)}", "wrap": True, "spacing": "Small"})
        if av.remediation:
            items.append({"type": "TextBlock", "text": "**How to fix**", "wrap": True, "spacing": "Small"})
            items += [
                {"type": "TextBlock", "text": _md(line), "wrap": True, "fontType": "Monospace", "spacing": "None"}
                for line in av.remediation
            ]
        actions: list[dict[str, Any]] = []
        if portal_url(rid):
            actions.append({"type": "Action.OpenUrl", "title": "Open in Azure portal", "url": portal_url(rid)})
        runbook = av.runbook or self.cfg.runbook_url
        if runbook:
            actions.append({"type": "Action.OpenUrl", "title": "Runbook", "url": runbook})
        if firing:
            buttons = [("ack", "Acknowledge"), ("silence", "Silence 24h")]
            if v.approvable:  # only where a remediation exists for the rule and the mode is not dry-run
                buttons.append(("approve", "Approve remediation"))
            for action, title in buttons:
                url = self._link(action, v.fingerprint)
                if url:
                    actions.append({"type": "Action.OpenUrl", "title": title, "url": url})
        if actions:
            items.append({"type": "ActionSet", "actions": actions})
        return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def render_cards(
    cfg: MSTeamsConfig, payload: NotificationPayload, *, signing_key: bytes | None = None, lib: Library = EMPTY
) -> list[dict[str, Any]]:
    """Render a notification as one or more Teams message envelopes, each <= max_card_bytes. ``lib``: the
    ``define`` blocks of the ``templates:`` files, for ``title``/``summary``/``text`` templates."""
    r = _Renderer(cfg, payload, signing_key, lib)
    limit = cfg.max_card_bytes
    views = sorted(payload.alerts, key=lambda v: (v.alert.ends_at is not None, v.alert.labels.get("resource_id", "")))
    items = [r.alert_item(v) for v in views]
    reserve = " (part 999/999)"
    more_reserve = _item_size(
        {
            "type": "TextBlock",
            "text": "+999999 more alerts in this group",
            "wrap": True,
            "weight": "Bolder",
            "isSubtle": True,
        }
    )
    fallback = r.summary()
    base = len(card_bytes(_envelope(r.header(reserve), fallback)))
    pages: list[list[dict[str, Any]]] = []
    cur: list[dict[str, Any]] = []
    size = base
    for full in items:
        item, s = full, _item_size(full)
        if cur and size + s + more_reserve > limit:
            pages.append(cur)
            cur, size = [], base
        if base + s + more_reserve > limit:  # one alert too big on its own: drop its long texts
            item = {
                "type": "Container",
                "separator": True,
                "items": [it for it in full["items"] if it["type"] != "TextBlock"][:2],
            }
            s = _item_size(item)
        cur.append(item)
        size += s
    if cur or not pages:
        pages.append(cur)
    hidden = 0
    if len(pages) > cfg.max_cards:
        hidden = sum(len(p) for p in pages[cfg.max_cards :])
        pages = pages[: cfg.max_cards]
    out = []
    n = len(pages)
    for i, page in enumerate(pages, 1):
        body = r.header(f" (part {i}/{n})" if n > 1 else "") + page
        if hidden and i == n:
            body.append(
                {
                    "type": "TextBlock",
                    "text": f"+{hidden} more alerts in this group",
                    "wrap": True,
                    "weight": "Bolder",
                    "isSubtle": True,
                }
            )
        out.append(_envelope(body, fallback))
    return out


class MSTeamsNotifier:
    """Posts cards to a Teams Workflows webhook (or writes them to an outbox directory)."""

    def __init__(
        self,
        cfg: MSTeamsConfig,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sink: DirectorySink | None = None,
        signing_key: bytes | None = None,
        sleep: Callable[[float], None] = time.sleep,
        templates: tuple[str, ...] = (),
    ) -> None:
        self.cfg = cfg
        self.lib = library(templates) if templates else EMPTY
        self.sink = sink
        self.signing_key = signing_key
        self.sleep = sleep
        self._client = client
        self._transport = transport

    def _url(self) -> str | None:
        if self.cfg.webhook_url:
            return self.cfg.webhook_url
        if self.cfg.webhook_url_file:
            return Path(self.cfg.webhook_url_file).read_text(encoding="utf-8").strip()
        return None

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        cards = render_cards(self.cfg, payload, signing_key=self.signing_key, lib=self.lib)
        bodies = [card_bytes(c) for c in cards]
        sent: list[str] = []
        if self.sink is not None:
            for i, b in enumerate(bodies, 1):
                pid = part_id(b)
                if pid not in payload.done_parts:
                    self.sink.write(payload, f"card{i:02d}", ".json", b)
                sent.append(pid)
            return NotifyResult(True, reason=f"{len(bodies)} card(s) written", sent_parts=tuple(sent))
        try:
            url = self._url()
        except OSError as exc:
            return NotifyResult(False, False, f"cannot read webhook_url_file: {exc}")
        if not url:
            return NotifyResult(False, False, "no webhook_url configured")
        client = self._client or httpx.Client(
            transport=self._transport, timeout=parse_duration(self.cfg.timeout).total_seconds()
        )
        try:
            for b in bodies:
                pid = part_id(b)
                if pid in payload.done_parts:
                    sent.append(pid)
                    continue
                res = post_with_retries(
                    client,
                    url,
                    content=b,
                    headers={"Content-Type": "application/json"},
                    max_retries=self.cfg.max_retries,
                    max_wait=parse_duration(self.cfg.max_retry_wait).total_seconds(),
                    sleep=self.sleep,
                )
                if not res.ok:
                    return NotifyResult(False, res.retryable, res.reason, tuple(sent))
                sent.append(pid)
        finally:
            if self._client is None:
                client.close()
        return NotifyResult(True, reason=f"{len(bodies)} card(s) posted", sent_parts=tuple(sent))
