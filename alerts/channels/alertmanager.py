"""Forward to an existing Alertmanager: ``POST <url>/api/v2/alerts`` (Vigil's ``alertmanager_configs``).

Each alert is posted as Alertmanager's API v2 ``postableAlert``: ``labels``, ``annotations``,
``startsAt``, ``endsAt`` and ``generatorURL`` (the Azure portal page of the resource). A resolved alert
carries its ``endsAt``. A firing alert carries ``endsAt = now + resolve_timeout`` when it is notified, as
Prometheus does with its own resend window: Alertmanager resolves it then unless it is posted again, so a
finding Vigil stops reporting (a lost resolve) cannot fire forever. The forwarding timer
(:mod:`alerts.forward`, ``FORWARD_SCHEDULE``) re-posts every firing alert with ``endsAt`` beyond its next
run, whatever the route's ``repeat_interval``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.amconfig import AlertmanagerForwardConfig, GlobalConfig
from alerts.amdata import generator_url, rfc3339
from alerts.channels.http import auth_headers, make_client
from alerts.durations import parse_duration
from alerts.notify import DirectorySink, NotificationPayload, NotifyResult, part_id, post_with_retries
from core.model import Alert

__all__ = ["AlertmanagerForwarder", "postable_alerts"]


def postable_alerts(
    alerts: Iterable[Alert], *, now: datetime, resolve_timeout: timedelta, portal: bool = True
) -> list[dict[str, Any]]:
    out = []
    for a in alerts:
        ends = a.ends_at if a.ends_at is not None else now + resolve_timeout
        d: dict[str, Any] = {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "startsAt": rfc3339(a.starts_at),
            "endsAt": rfc3339(ends),
        }
        url = generator_url(a.labels) if portal else ""
        if url:
            d["generatorURL"] = url
        out.append(d)
    return out


class AlertmanagerForwarder:
    def __init__(
        self,
        cfg: AlertmanagerForwardConfig,
        *,
        global_cfg: GlobalConfig | None = None,
        sink: DirectorySink | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        self.g = global_cfg or GlobalConfig()
        self.sink = sink
        self._transport = transport

    @property
    def resolve_timeout(self) -> timedelta:
        return parse_duration(self.cfg.resolve_timeout or self.g.resolve_timeout)

    def post(
        self,
        alerts: Iterable[Alert],
        *,
        now: datetime,
        ends_after: timedelta | None = None,
        payload: NotificationPayload | None = None,
    ) -> NotifyResult:
        """Post these alerts; a firing one ends ``ends_after`` (default: ``resolve_timeout``) from ``now``.
        With a sink, ``payload`` names the file written instead."""
        doc = postable_alerts(
            alerts,
            now=now,
            resolve_timeout=self.resolve_timeout if ends_after is None else ends_after,
            portal=self.cfg.generator_url == "azure_portal",
        )
        body = json.dumps(doc, separators=(",", ":")).encode()
        return self._send(body, payload)

    def _send(self, body: bytes, payload: NotificationPayload | None) -> NotifyResult:
        pid = part_id(body)
        if payload is not None and pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None and payload is not None:
            self.sink.write(payload, "alertmanager", ".json", body)
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        http_cfg = self.cfg.http_config or self.g.http_config
        headers = {**auth_headers(http_cfg), "Content-Type": "application/json", "User-Agent": "vigil-alerts/1"}
        url = self.cfg.url.rstrip("/") + "/api/v2/alerts"
        timeout = parse_duration(self.cfg.timeout or "10s").total_seconds()
        with make_client(http_cfg, timeout=timeout, transport=self._transport) as cl:
            res = post_with_retries(
                cl, url, content=body, headers=headers, max_retries=self.cfg.max_retries, max_wait=30
            )
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        return self.post((v.alert for v in payload.alerts), now=payload.issued_at or payload.now, payload=payload)
