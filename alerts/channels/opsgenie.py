"""Opsgenie Alert API v2: create the alert while the group fires, close it when it resolves.

As Alertmanager (notify/opsgenie): firing ``POST <api_url>v2/alerts`` with ``{alias: sha256(group key),
message (cut to 130), description, details, source, responders, tags, note, priority, entity, actions}``;
resolved ``POST <api_url>v2/alerts/<alias>/close?identifierType=alias`` with ``{source}``. Both carry
``Authorization: GenieKey <api_key>``. Opsgenie answers 202.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from alerts.amconfig import OpsgenieConfig
from alerts.amdata import payload_data
from alerts.channels.http import AlertmanagerReceiver, make_client, read_secret
from alerts.durations import parse_duration
from alerts.notify import NotificationPayload, NotifyResult, part_id, post_with_retries
from alerts.template import EMPTY, Library, render_field

__all__ = ["OpsgenieNotifier", "render_request"]

MESSAGE_MAX = 130


def render_request(
    cfg: OpsgenieConfig, payload: NotificationPayload, api_url: str, lib: Library = EMPTY
) -> tuple[str, dict[str, Any]]:
    """(url, JSON body) of the request for this notification."""
    data = payload_data(payload)

    def r(text: str | None) -> str:
        return render_field(text or "", data, lib=lib)

    alias = hashlib.sha256(payload.group_key.encode("utf-8")).hexdigest()
    base = api_url if api_url.endswith("/") else api_url + "/"
    if payload.status == "resolved":
        return f"{base}v2/alerts/{alias}/close?identifierType=alias", {"source": r(cfg.source)}
    message = r(cfg.message)
    body: dict[str, Any] = {
        "alias": alias,
        "message": message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 1] + "…",
        "description": r(cfg.description),
        "details": {k: r(v) for k, v in cfg.details.items()},
        "source": r(cfg.source),
    }
    if cfg.responders:
        body["responders"] = [
            {k: r(v) for k, v in x.model_dump(exclude_none=True).items() if k != "type"} | {"type": x.type}
            for x in cfg.responders
        ]
    if cfg.tags:
        body["tags"] = [t.strip() for t in r(cfg.tags).split(",") if t.strip()]
    if cfg.actions:
        body["actions"] = [t.strip() for t in r(cfg.actions).split(",") if t.strip()]
    for key, val in (("note", cfg.note), ("priority", cfg.priority), ("entity", cfg.entity)):
        if val:
            body[key] = r(val)
    return f"{base}v2/alerts", body


class OpsgenieNotifier(AlertmanagerReceiver[OpsgenieConfig]):
    def notify(self, payload: NotificationPayload) -> NotifyResult:
        c, g = self.cfg, self.g
        try:
            key = read_secret(c.api_key, c.api_key_file) or read_secret(g.opsgenie_api_key, g.opsgenie_api_key_file)
        except OSError as exc:
            return NotifyResult(False, False, f"opsgenie: cannot read api_key_file: {exc}")
        if not key:
            return NotifyResult(False, False, "opsgenie: no api_key in the config or in global")
        url, doc = render_request(c, payload, c.api_url or g.opsgenie_api_url, self.lib)
        body = json.dumps(doc, separators=(",", ":")).encode()
        pid = part_id(url.encode() + body)
        if pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None:
            self.sink.write(payload, "opsgenie", ".json", body)
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        headers = {
            "Authorization": f"GenieKey {key}",
            "Content-Type": "application/json",
            "User-Agent": "vigil-alerts/1",
        }
        timeout = parse_duration(c.timeout or "10s").total_seconds()
        with make_client(c.http_config or g.http_config, timeout=timeout, transport=self._transport) as cl:
            res = post_with_retries(cl, url, content=body, headers=headers, max_retries=c.max_retries, max_wait=30)
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())
