"""PagerDuty Events API v2: one event per notification, deduplicated on the group.

As Alertmanager (notify/pagerduty): ``POST <url>`` with ``{routing_key, event_action: trigger|resolve,
dedup_key: sha256(group key), payload: {summary, source, severity, custom_details, component, group,
class}, client, client_url, images, links}``; a resolve event carries no ``payload``. The summary is
cut to PagerDuty's 1024 characters. PagerDuty answers 202; 429 and 5xx are retryable, other 4xx not.
The v1 ``service_key`` (Events API v1) loads but is not delivered to.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from alerts.amconfig import PagerDutyConfig
from alerts.amdata import payload_data
from alerts.channels.http import AlertmanagerReceiver, auth_headers, make_client, read_secret
from alerts.durations import parse_duration
from alerts.notify import NotificationPayload, NotifyResult, part_id, post_with_retries
from alerts.template import EMPTY, Library, render_field

__all__ = ["PagerDutyNotifier", "render_event"]

SUMMARY_MAX = 1024


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_event(
    cfg: PagerDutyConfig, payload: NotificationPayload, routing_key: str, lib: Library = EMPTY
) -> dict[str, Any]:
    data = payload_data(payload)

    def r(text: str | None) -> str:
        return render_field(text or "", data, lib=lib)

    resolve = payload.status == "resolved"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if resolve else "trigger",
        "dedup_key": hashlib.sha256(payload.group_key.encode("utf-8")).hexdigest(),
    }
    if resolve:
        return event
    details = dict(cfg.details) or {
        "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
        "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
        "num_firing": "{{ .Alerts.Firing | len }}",
        "num_resolved": "{{ .Alerts.Resolved | len }}",
    }
    body: dict[str, Any] = {
        "summary": _clip(r(cfg.description), SUMMARY_MAX),
        "source": r(cfg.source or cfg.client),
        "severity": r(cfg.severity),
        "custom_details": {k: r(v) for k, v in details.items()},
    }
    for key, val in (("component", cfg.component), ("group", cfg.group), ("class", cfg.class_)):
        if val:
            body[key] = r(val)
    event["payload"] = body
    event["client"] = r(cfg.client)
    client_url = r(cfg.client_url)
    if client_url.startswith(("https://", "http://")):  # the default is relative without an external URL
        event["client_url"] = client_url
    if cfg.images:
        event["images"] = [{k: r(v) for k, v in i.model_dump(exclude_none=True).items()} for i in cfg.images]
    if cfg.links:
        event["links"] = [{k: r(v) for k, v in li.model_dump(exclude_none=True).items()} for li in cfg.links]
    return event


class PagerDutyNotifier(AlertmanagerReceiver[PagerDutyConfig]):
    def notify(self, payload: NotificationPayload) -> NotifyResult:
        c = self.cfg
        try:
            key = read_secret(c.routing_key, c.routing_key_file)
        except OSError as exc:
            return NotifyResult(False, False, f"pagerduty: cannot read routing_key_file: {exc}")
        if not key:
            return NotifyResult(
                False, False, "pagerduty: service_key (Events API v1) is not supported; use routing_key"
            )
        body = json.dumps(render_event(c, payload, key, self.lib), separators=(",", ":")).encode()
        pid = part_id(body)
        if pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None:
            self.sink.write(payload, "pagerduty", ".json", body)
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        http_cfg = c.http_config or self.g.http_config
        headers = {**auth_headers(http_cfg), "Content-Type": "application/json", "User-Agent": "vigil-alerts/1"}
        timeout = parse_duration(c.timeout or "10s").total_seconds()
        with make_client(http_cfg, timeout=timeout, transport=self._transport) as cl:
            res = post_with_retries(
                cl, c.url or self.g.pagerduty_url, content=body, headers=headers, max_retries=c.max_retries, max_wait=30
            )
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())
