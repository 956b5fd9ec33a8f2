"""Generic webhook: Alertmanager's webhook JSON, POSTed with an HMAC-SHA256 signature header.

The signature header (default ``X-Vigil-Signature``) is ``t=<unix>,v1=<hex>``
where ``hex = HMAC-SHA256(secret, "<t>." + body)``; receivers recompute it and
compare in constant time (see :func:`verify_signature`). The timestamp is the
notification's queue time, so a retried delivery sends identical bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from alerts.config import WebhookConfig
from alerts.durations import parse_duration
from alerts.notify import DirectorySink, NotificationPayload, NotifyResult, part_id, post_with_retries

__all__ = ["WebhookConfig", "WebhookNotifier", "render_body", "sign_body", "verify_signature"]


def render_body(cfg: WebhookConfig, payload: NotificationPayload) -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4, plus Vigil's ``notificationKey``, ``ack`` and ``remediation``.

    Bridges written for Alertmanager read it unchanged; the extra fields are additions only.
    """
    from alerts.amdata import alert_dict, payload_data

    views = list(payload.alerts)
    truncated = 0
    if cfg.max_alerts and len(views) > cfg.max_alerts:
        truncated = len(views) - cfg.max_alerts
        views = views[: cfg.max_alerts]
    alerts = []
    for v in views:
        d = alert_dict(v)
        if v.ack:
            d["ack"] = dict(v.ack)
        if v.remediation:
            d["remediation"] = v.remediation
        alerts.append(d)
    data = payload_data(payload)
    return {
        "version": "4",
        "groupKey": payload.group_key,
        "truncatedAlerts": truncated,
        **{k: data[k] for k in ("status", "receiver", "groupLabels", "commonLabels", "commonAnnotations")},
        "externalURL": data["externalURL"],
        "notificationKey": payload.key,
        "alerts": alerts,
    }


def sign_body(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: bytes, body: bytes, header: str, *, now: float, tolerance: float = 86400) -> bool:
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - ts) > tolerance:
        return False
    expected = sign_body(secret, body, ts)
    return hmac.compare_digest(expected.encode(), header.encode())


class WebhookNotifier:
    def __init__(
        self,
        cfg: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sink: DirectorySink | None = None,
        secret: bytes | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.sleep = sleep
        self._client = client
        self._transport = transport
        self._secret = secret

    def _secret_bytes(self) -> bytes | None:
        if self._secret is not None:
            return self._secret
        if self.cfg.hmac_secret_file:
            return Path(self.cfg.hmac_secret_file).read_bytes().strip()
        return None

    def request(self, payload: NotificationPayload) -> tuple[bytes, Mapping[str, str]]:
        body = json.dumps(render_body(self.cfg, payload), separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vigil-alerts/1",
            # The same on every attempt: a receiver drops the repeat at-least-once delivery can make.
            "Idempotency-Key": payload.key,  # IETF draft-ietf-httpapi-idempotency-key-header
            "X-Vigil-Key": payload.key,
        }
        from alerts.channels.http import auth_headers

        headers.update(auth_headers(self.cfg.http_config))  # basic_auth / authorization / bearer_token
        secret = self._secret_bytes()
        if secret:
            ts = int((payload.issued_at or payload.now).timestamp())
            headers[self.cfg.signature_header] = sign_body(secret, body, ts)
        return body, headers

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        try:
            body, headers = self.request(payload)
            url = self.cfg.url or Path(str(self.cfg.url_file)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            return NotifyResult(False, False, f"cannot read webhook secret or url file: {exc}")
        pid = part_id(body)
        if pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None:
            self.sink.write(payload, "webhook", ".json", body)  # the exact bytes that would be POSTed
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        from alerts.channels.http import make_client

        client = self._client or make_client(
            self.cfg.http_config, timeout=parse_duration(self.cfg.timeout).total_seconds(), transport=self._transport
        )
        try:
            res = post_with_retries(
                client,
                url,
                content=body,
                headers=headers,
                max_retries=self.cfg.max_retries,
                max_wait=parse_duration(self.cfg.max_retry_wait).total_seconds(),
                sleep=self.sleep,
            )
        finally:
            if self._client is None:
                client.close()
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())
