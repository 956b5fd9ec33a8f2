"""Email via a real SMTP server (aiosmtpd, STARTTLS + AUTH) and ACS request shape; signed webhooks."""

from __future__ import annotations

import email
import json
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.channels.email import EmailNotifier, acs_message
from alerts.channels.webhook import WebhookNotifier, verify_signature
from alerts.config import EmailConfig, WebhookConfig
from alerts.notify import AlertView, NotificationPayload
from alerts.pipeline import process
from alerts.testing import MemoryStore, finding
from core.model import Alert
from tests.alerts.helpers import T0, AlertsQueue, Reply, serve
from vigil.config import parse_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Controller, Inbox, ssl.SSLContext]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"vigil" and data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    ctl = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_ctx,
        require_starttls=True,
        auth_required=True,
        authenticator=auth,
    )
    ctl.start()
    try:
        yield ctl, inbox, client_ctx
    finally:
        ctl.stop()


def _payload(n: int = 2, resolved: int = 0) -> NotificationPayload:
    views = []
    for i in range(n + resolved):
        f = finding(
            resource=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm{i}",
            annotations={"summary": f"VM {i} <idle> & cheap"},
        )
        a = Alert.from_finding(f, starts_at=T0)
        if i >= n:
            a = Alert(a.labels, a.annotations, a.starts_at, T0 + timedelta(hours=1))
        views.append(AlertView(a, f.fingerprint))
    return NotificationPayload("k" * 32, "mail", "email[0]", "{}:{}", {}, views, T0, issued_at=T0)


def test_smtp_starttls_auth_html_and_text(smtp_server: Any) -> None:
    ctl, inbox, client_ctx = smtp_server
    cfg = EmailConfig.model_validate(
        {
            "to": "ops@example.com, sec@example.com",
            "from": "vigil@example.com",
            "smarthost": f"127.0.0.1:{ctl.port}",
            "auth_username": "vigil",
            "auth_password": "s3cret",
        }
    )
    res = EmailNotifier(cfg, tls_context=client_ctx).notify(_payload())
    assert res.ok, res.reason
    (msg,) = inbox.messages
    assert msg["Subject"] == "[FIRING:2] vm-idle"
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["ops@example.com", "sec@example.com"]
    assert msg["X-Vigil-Notification-Key"] == "k" * 32
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "VM 0 <idle> & cheap" in parts["text/plain"]
    assert "VM 0 &lt;idle&gt; &amp; cheap" in parts["text/html"]  # escaped in HTML


def test_smtp_bad_password_is_not_retryable(smtp_server: Any) -> None:
    ctl, inbox, client_ctx = smtp_server
    cfg = EmailConfig.model_validate(
        {
            "to": "ops@example.com",
            "from": "vigil@example.com",
            "smarthost": f"127.0.0.1:{ctl.port}",
            "auth_username": "vigil",
            "auth_password": "wrong",
        }
    )
    res = EmailNotifier(cfg, tls_context=client_ctx).notify(_payload())
    assert not res.ok
    assert not res.retryable
    assert "authentication" in res.reason
    assert inbox.messages == []


def test_smtp_unreachable_is_retryable() -> None:
    cfg = EmailConfig.model_validate({"to": "a@example.com", "smarthost": f"127.0.0.1:{_free_port()}", "timeout": "2s"})
    res = EmailNotifier(cfg).notify(_payload())
    assert not res.ok
    assert res.retryable


def test_email_send_resolved_false_shows_only_firing(smtp_server: Any) -> None:
    ctl, _inbox, client_ctx = smtp_server
    cfg = EmailConfig.model_validate(
        {
            "to": "a@example.com",
            "smarthost": f"127.0.0.1:{ctl.port}",
            "auth_username": "vigil",
            "auth_password": "s3cret",
        }
    )
    msg = EmailNotifier(cfg, tls_context=client_ctx).build_message(_payload(n=1, resolved=2))
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "vm0" in text
    assert "vm1" not in text


def test_acs_request_matches_published_shape(samples_dir: Path) -> None:
    sample = json.loads((samples_dir / "alerting" / "spec_communication_email_2025-09-01_SendEmail.json").read_text())
    ref = sample["parameters"]["emailMessage"]
    cfg = EmailConfig.model_validate(
        {
            "to": "ops@example.com",
            "from": "DoNotReply@contoso.example",
            "transport": "acs",
            "acs_endpoint": "https://contoso.communication.azure.com",
        }
    )
    calls: list[tuple[dict[str, Any], str]] = []

    class FakeClient:  # stands in for azure.communication.email.EmailClient (no real Azure in tests)
        def begin_send(self, message: dict[str, Any], *, operation_id: str, polling: bool) -> Any:
            calls.append((message, operation_id))

            class Poller:
                def status(self) -> str:
                    return "Running"

            return Poller()

    n = EmailNotifier(cfg, acs_client=FakeClient())
    assert n.notify(_payload()).ok
    assert n.notify(_payload()).ok
    (m1, op1), (_m2, op2) = calls
    assert op1 == op2  # the same notification -> the same ACS operation id (service-side idempotency)
    assert set(m1) <= set(ref)
    assert set(m1["content"]) == set(ref["content"]) == {"subject", "plainText", "html"}
    assert set(m1["recipients"]["to"][0]) <= set(ref["recipients"]["to"][0])
    assert m1["senderAddress"] == "DoNotReply@contoso.example"
    assert acs_message(cfg, "s", "t", "<p>h</p>")["content"] == {"subject": "s", "plainText": "t", "html": "<p>h</p>"}


# -- webhook -----------------------------------------------------------------------------------------


def test_webhook_signed_and_retried(tmp_path: Path) -> None:
    secret = tmp_path / "hmac.key"
    secret.write_bytes(b"topsecret\n")
    with serve(lambda k, p, b: Reply(502, "bad gateway") if k == 0 else Reply(200, "ok")) as ep:
        c = parse_config(
            {
                "route": {"receiver": "hook", "group_wait": "0s"},
                "receivers": [
                    {
                        "name": "hook",
                        "webhook_configs": [{"url": ep.url, "hmac_secret_file": str(secret), "max_retries": 0}],
                    }
                ],
            }
        )
        store = MemoryStore()
        t = datetime.now(UTC)
        q = AlertsQueue(c, store, at=t)
        process([finding(observed_at=t)], config=c, store=store, outbox=q.outbox, now=t)
        first = q.deliver()  # 502: the trigger raises, the queue redelivers
        assert (first.delivered, first.retried) == (0, 1)
        assert q.deliver(t + timedelta(seconds=30)).delivered == 1
        assert len(ep.received) == 2
        last = ep.received[-1]
        sig = last.headers["X-Vigil-Signature"]
        assert verify_signature(b"topsecret", last.body, sig, now=time.time())
        assert not verify_signature(b"wrong", last.body, sig, now=time.time())
        assert not verify_signature(b"topsecret", last.body + b" ", sig, now=time.time())
        assert ep.received[0].body == last.body  # a retry sends identical, identically signed bytes
        body = last.json()
        assert body["version"] == "4"
        assert body["status"] == "firing"
        assert body["alerts"][0]["labels"]["alertname"] == "vm-idle"
        assert q.drain().processed == 0  # delivered: nothing left on the queue
        assert len(ep.received) == 2


def test_webhook_max_alerts_truncates() -> None:
    n = WebhookNotifier(WebhookConfig(url="http://x", max_alerts=1))
    body, headers = n.request(_payload(n=3))
    doc = json.loads(body)
    assert len(doc["alerts"]) == 1
    assert doc["truncatedAlerts"] == 2
    assert "X-Vigil-Signature" not in headers  # no secret configured


def test_acs_with_the_real_sdk_against_a_local_server(samples_dir: Path) -> None:
    """The real azure-communication-email client, HMAC-authenticated, against a local endpoint."""
    import base64

    from azure.communication.email import EmailClient
    from azure.core.credentials import AzureKeyCredential

    ref = json.loads((samples_dir / "alerting" / "spec_communication_email_2025-09-01_SendEmail.json").read_text())
    answers = [
        Reply(
            202, json.dumps({"id": "op", "status": "Running"}), {"Content-Type": "application/json", "Retry-After": "1"}
        ),
        Reply(
            429,
            json.dumps({"error": {"code": "TooManyRequests", "message": "slow down"}}),
            {"Content-Type": "application/json"},
        ),
        Reply(
            400,
            json.dumps({"error": {"code": "BadRequest", "message": "bad sender"}}),
            {"Content-Type": "application/json"},
        ),
    ]
    with serve(lambda k, p, b: answers[min(k, 2)]) as ep:
        endpoint = ep.url.removesuffix("/hook")
        cfg = EmailConfig.model_validate(
            {
                "to": "ops@example.com",
                "from": "DoNotReply@contoso.example",
                "transport": "acs",
                "acs_endpoint": endpoint,
            }
        )
        cred = AzureKeyCredential(base64.b64encode(b"k" * 32).decode())
        client = EmailClient(endpoint, cred, retry_total=0)  # retries are the outbox's job
        n = EmailNotifier(cfg, acs_client=client)
        first = n.notify(_payload())
        assert first.ok, first.reason
        throttled = n.notify(_payload())
        assert not throttled.ok
        assert throttled.retryable
        rejected = n.notify(_payload())
        assert not rejected.ok
        assert not rejected.retryable
    sent = ep.received[0]
    assert sent.path == f"/emails:send?api-version={ref['parameters']['api-version']}"
    assert sent.headers["Authorization"].startswith("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256")
    assert sent.headers["Operation-Id"] == ep.received[1].headers["Operation-Id"]  # same notification, same op
    body = sent.json()
    assert set(body) <= set(ref["parameters"]["emailMessage"])
    assert set(body["content"]) == {"subject", "plainText", "html"}


def test_every_attempt_of_one_notification_carries_the_same_idempotency_key() -> None:
    """At-least-once leaves one repeat possible (killed after the server accepted): the repeat
    must be recognisably the same notification, by Message-ID (email) and Idempotency-Key (webhook)."""
    from dataclasses import replace

    cfg = EmailConfig.model_validate({"to": "ops@example.com", "from": "Vigil <vigil@contoso.example>"})
    first = _payload()
    retry = replace(first, now=T0 + timedelta(minutes=7))
    other_integration = replace(first, integration="email[1]")
    other_notification = replace(first, key="j" * 32)
    ids = [
        EmailNotifier(cfg).build_message(p)["Message-ID"] for p in (first, retry, other_integration, other_notification)
    ]
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert ids[0].startswith("<")
    assert ids[0].endswith("@contoso.example>")
    hook = WebhookNotifier(WebhookConfig(url="http://x"))
    headers = [dict(hook.request(p)[1]) for p in (first, retry)]
    assert headers[0]["Idempotency-Key"] == headers[1]["Idempotency-Key"] == first.key
    assert headers[0]["X-Vigil-Key"] == first.key
