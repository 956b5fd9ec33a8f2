"""Slack: an incoming webhook, or ``chat.postMessage`` with a bot token, in Alertmanager's message shape.

The request is Alertmanager's (notify/slack): ``{channel, username, icon_emoji, icon_url, link_names,
attachments: [{title, title_link, pretext, text, fallback, callback_id, fields, footer, color,
mrkdwn_in, actions, image_url, thumb_url}]}``, empty fields omitted. ``chat.postMessage`` (an
``api_url`` ending in ``/api/chat.postMessage``, or ``app_token`` with ``app_url``) is sent with
``Authorization: Bearer <token>``; Slack's Web API answers HTTP 200 with ``{"ok": false, "error": ...}``
on failure, which is a failure here too (``ratelimited`` retryable, anything else not).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from alerts.amconfig import SlackConfig
from alerts.amdata import payload_data
from alerts.channels.http import AlertmanagerReceiver, auth_headers, make_client, read_secret
from alerts.durations import parse_duration
from alerts.notify import (
    NotificationPayload,
    NotifyResult,
    classify_http,
    part_id,
    post_with_retries,
)
from alerts.template import EMPTY, Library, render_field

__all__ = ["SlackNotifier", "render_message", "slack_escape"]

_POST_MESSAGE = "https://slack.com/api/chat.postMessage"


def _absolute(url: str) -> str:
    """A link only when absolute: without an external URL the default link is ``/#/alerts?...``."""
    return url if url.startswith(("https://", "http://")) else ""


def slack_escape(text: str) -> str:
    """Slack's control characters in text: &, <, > (api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_message(cfg: SlackConfig, data: dict[str, Any], lib: Library = EMPTY) -> dict[str, Any]:
    """The message; values the templates print from alerts are escaped, the template's own text is not."""

    def r(text: str | None) -> str:
        return render_field(text or "", data, escape=slack_escape, lib=lib)

    att: dict[str, Any] = {
        "title": r(cfg.title),
        "title_link": _absolute(r(cfg.title_link)),
        "pretext": r(cfg.pretext),
        "text": r(cfg.text),
        "fallback": r(cfg.fallback),
        "callback_id": r(cfg.callback_id),
        "footer": r(cfg.footer),
        "color": r(cfg.color),
        "image_url": r(cfg.image_url),
        "thumb_url": r(cfg.thumb_url),
        "mrkdwn_in": list(cfg.mrkdwn_in),
    }
    if cfg.fields:
        att["fields"] = [
            {"title": r(f.title), "value": r(f.value), "short": cfg.short_fields if f.short is None else f.short}
            for f in cfg.fields
        ]
    if cfg.actions:
        att["actions"] = [
            {k: (r(v) if isinstance(v, str) else v) for k, v in a.model_dump(exclude_none=True).items()}
            for a in cfg.actions
        ]
    msg: dict[str, Any] = {
        "channel": r(cfg.channel),
        "username": r(cfg.username),
        "icon_emoji": r(cfg.icon_emoji),
        "icon_url": r(cfg.icon_url),
        "link_names": cfg.link_names,
        "attachments": [{k: v for k, v in att.items() if v not in ("", None, [])}],
    }
    return {k: v for k, v in msg.items() if v not in ("", None, False)}


class SlackNotifier(AlertmanagerReceiver[SlackConfig]):
    def _target(self) -> tuple[str, dict[str, str], bool]:
        """(url, auth headers, is the Web API)."""
        c, g = self.cfg, self.g
        token = read_secret(c.app_token, c.app_token_file) or read_secret(g.slack_app_token, g.slack_app_token_file)
        if token:
            return c.app_url or g.slack_app_url or _POST_MESSAGE, {"Authorization": f"Bearer {token}"}, True
        url = read_secret(c.api_url, c.api_url_file) or read_secret(g.slack_api_url, g.slack_api_url_file)
        if not url:
            raise ValueError("no api_url or app_token in the Slack config or in global")
        headers = auth_headers(c.http_config or g.http_config)
        return url, headers, "/api/chat.postMessage" in url

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        try:
            url, headers, web_api = self._target()
        except (OSError, ValueError) as exc:
            return NotifyResult(False, False, f"slack: {exc}")
        body = json.dumps(render_message(self.cfg, payload_data(payload), self.lib), separators=(",", ":")).encode()
        pid = part_id(body)
        if pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None:
            self.sink.write(payload, "slack", ".json", body)
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        headers = {**headers, "Content-Type": "application/json; charset=utf-8", "User-Agent": "vigil-alerts/1"}
        timeout = parse_duration(self.cfg.timeout or "10s").total_seconds()
        with make_client(self.cfg.http_config or self.g.http_config, timeout=timeout, transport=self._transport) as cl:
            if web_api:
                res = _post_web_api(cl, url, body, headers)
            else:
                res = post_with_retries(
                    cl, url, content=body, headers=headers, max_retries=self.cfg.max_retries, max_wait=30
                )
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())


def _post_web_api(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> NotifyResult:
    try:
        resp = client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:
        return NotifyResult(False, True, f"slack: transport error: {type(exc).__name__}")
    ok, retryable, reason = classify_http(resp.status_code)
    return _check_body(resp.text) if ok else NotifyResult(False, retryable, f"slack: {reason}")


def _check_body(text: str) -> NotifyResult:
    """Slack Web API verdict from the body of an HTTP 200."""
    try:
        doc = json.loads(text)
    except ValueError:
        return NotifyResult(False, False, f"slack: non-JSON answer from chat.postMessage: {text[:200]!r}")
    if isinstance(doc, dict) and doc.get("ok") is True:
        return NotifyResult(True, reason="HTTP 200 ok")
    err = str(doc.get("error", "unknown")) if isinstance(doc, dict) else "unknown"
    return NotifyResult(False, err == "ratelimited", f"slack: {err}")
