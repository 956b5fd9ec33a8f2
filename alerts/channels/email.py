"""Email: SMTP (STARTTLS + auth, via smtplib) or Azure Communication Services Email.

Both send one message with a plain-text and an HTML part. ACS uses
``azure-communication-email`` with a managed identity (``DefaultAzureCredential``
unless a credential is injected) and passes an ``operation_id`` derived from the
notification key, so a retried send is recognised by the service.
"""

from __future__ import annotations

import base64
import hashlib
import html
import smtplib
import ssl
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from alerts.config import EmailConfig
from alerts.durations import parse_duration
from alerts.notify import (
    AlertView,
    DirectorySink,
    NotificationPayload,
    NotifyResult,
    classify_http,
    part_id,
    redact,
)
from alerts.view import action_view
from core.untrusted import strip_controls

__all__ = ["EmailConfig", "EmailNotifier", "acs_message", "message_id", "render_email"]


def _subject(payload: NotificationPayload) -> str:
    common = payload.common_labels()
    name = common.get("alertname") or ", ".join(f"{k}={v}" for k, v in sorted(payload.group_labels.items()))
    nf, nr = len(payload.firing), len(payload.resolved)
    status = f"FIRING:{nf}" if nf else f"RESOLVED:{nr}"
    return strip_controls(f"[{status}] {name or 'Vigil alerts'}")  # a header: one line, no controls


def _facts(v: AlertView) -> list[tuple[str, str]]:
    """The same parts as the Teams card (alerts.view), as (title, text) lines."""
    av = action_view(v)
    out = list(av.facts)
    if av.summary:
        out.insert(0, ("Summary", av.summary))
    out += [("Drill-down", line) for line in av.drill_down]
    if av.risk:
        out.append(("Risk", av.risk))
    out += [("How to fix", line) for line in av.remediation]
    if av.portal:
        out.append(("Azure portal", av.portal))
    if av.runbook:
        out.append(("Runbook", av.runbook))
    return [(k, strip_controls(x)) for k, x in out if x]  # one line each in the text part, no terminal escapes


def render_email(
    payload: NotificationPayload, *, visible: list[AlertView], intro: str | None = None
) -> tuple[str, str, str]:
    """(subject, text, html) for the alerts to show, after an optional plain ``intro`` paragraph."""
    subject = _subject(payload)
    lines = [subject, ""]
    if intro:
        lines += [intro, ""]
    rows = []
    for v in visible:
        name = strip_controls(v.alert.labels.get("alertname", "alert"))
        facts = _facts(v)
        lines.append(f"- {name} ({v.fingerprint})")
        lines += [f"    {k}: {x}" for k, x in facts]
        lines.append("")
        cells = "".join(
            f"<tr><th align='left' valign='top'>{html.escape(k)}</th><td>{_cell(k, x)}</td></tr>" for k, x in facts
        )
        rows.append(f"<h3>{html.escape(name)}</h3><table>{cells}</table>")
    text = "\n".join(lines) + "\n"
    body = (
        f"<html><head><title>{html.escape(subject)}</title></head><body>"
        f"<h2>{html.escape(subject)}</h2>{f'<p>{html.escape(intro)}</p>' if intro else ''}{''.join(rows)}"
        "</body></html>"
    )
    return subject, text, body


def _cell(title: str, value: str) -> str:
    if title in ("Azure portal", "Runbook") and value.lower().startswith(("https://", "http://")):
        return f"<a href='{html.escape(value, quote=True)}'>{html.escape(value)}</a>"
    if title == "How to fix":
        return f"<code>{html.escape(value)}</code>"
    return html.escape(value)


def _addresses(s: str) -> list[str]:
    return [a.strip() for a in s.split(",") if a.strip()]


def acs_message(
    cfg: EmailConfig,
    subject: str,
    text: str,
    body: str,
    *,
    recipients: list[str] | None = None,
    inline: list[tuple[str, str, str, bytes]] | None = None,
) -> dict[str, Any]:
    """The ACS ``emailMessage`` request body (shape of SendEmail 2025-09-01). ``inline`` are
    (content id, content type, name, bytes) for images the HTML references as ``cid:``."""
    msg: dict[str, Any] = {
        "senderAddress": cfg.from_ or "",
        "recipients": {"to": [{"address": a} for a in (recipients or _addresses(cfg.to))]},
        "content": {"subject": subject, "plainText": text, "html": body},
    }
    if inline:
        msg["attachments"] = [
            {"name": name, "contentType": ctype, "contentInBase64": base64.b64encode(data).decode(), "contentId": cid}
            for cid, ctype, name, data in inline
        ]
    if cfg.headers:
        msg["headers"] = dict(cfg.headers)
    return msg


def _inline_parts(msg: EmailMessage) -> list[tuple[str, str, str, bytes]]:
    out: list[tuple[str, str, str, bytes]] = []
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and not part.is_multipart():
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                out.append((str(cid).strip("<>"), part.get_content_type(), part.get_filename() or "inline", data))
    return out


class EmailNotifier:
    def __init__(
        self,
        cfg: EmailConfig,
        *,
        sink: DirectorySink | None = None,
        tls_context: ssl.SSLContext | None = None,
        acs_client: Any = None,
        credential: Any = None,
        smtp_factory: Callable[..., smtplib.SMTP] | None = None,
        templates: tuple[str, ...] = (),
    ) -> None:
        """``templates``: the config's ``templates:`` globs, whose ``define`` blocks ``html``/``text`` may call."""
        self.cfg = cfg
        self.templates = templates
        self.sink = sink
        self.tls_context = tls_context
        self._acs_client = acs_client
        self._credential = credential
        self._smtp_factory = smtp_factory

    def _visible(self, payload: NotificationPayload) -> list[AlertView]:
        return list(payload.alerts) if self.cfg.send_resolved else payload.firing

    def build_message(self, payload: NotificationPayload) -> EmailMessage:
        """The message. ``html`` and a templated ``text`` (alertmanager.yml's Go templates) are rendered
        over Alertmanager's data model and replace Vigil's HTML and text parts; a field the template
        subset cannot render keeps Vigil's part (and is logged). A plain ``text`` without ``{{`` is an
        intro paragraph in Vigil's layout. Printed values are escaped: html/template-like for ``html``
        (:mod:`alerts.template.htmlesc`), control characters removed for ``text`` and headers."""
        plain = self.cfg.text if self.cfg.text and "{{" not in self.cfg.text else None
        subject, text, body = render_email(payload, visible=self._visible(payload), intro=plain)
        from alerts.template.funcs import Safe

        vigil_html, vigil_text = Safe(body), Safe(text)  # Vigil's parts, already escaped for their context
        views = {
            "email.default.subject": lambda _: subject,
            "email.default.html": lambda _: vigil_html,
            "email.default.text": lambda _: vigil_text,
        }
        data: dict[str, Any] | None = None
        if self.cfg.html or (self.cfg.text and plain is None):
            from alerts.amdata import payload_data
            from alerts.template import EMPTY, library, render_body
            from alerts.template.htmlesc import HtmlEscaper

            data = payload_data(payload)
            lib = library(self.templates) if self.templates else EMPTY
            if self.cfg.html:
                body = render_body(self.cfg.html, data, escape=HtmlEscaper(), lib=lib, views=views) or body
            if self.cfg.text and plain is None:
                text = render_body(self.cfg.text, data, escape=strip_controls, lib=lib, views=views) or text
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.cfg.from_ or "vigil@localhost"
        msg["To"] = ", ".join(_addresses(self.cfg.to))
        when = payload.issued_at or payload.now
        msg["Date"] = formatdate(when.timestamp(), usegmt=True)
        msg["Message-ID"] = message_id(payload, self.cfg.from_)
        msg["X-Vigil-Notification-Key"] = payload.key
        for k, raw in self.cfg.headers.items():
            value = raw
            if "{{" in raw:  # Alertmanager's headers are Go templates (Subject: '{{ template "__subject" . }}')
                from alerts.amdata import payload_data
                from alerts.template import render_field

                data = data or payload_data(payload)
                value = render_field(raw, data, views=views)
            if k in msg:
                del msg[k]
            msg[k] = " ".join(value.split())  # one line: a label value cannot add a header
        msg.set_content(text)
        msg.add_alternative(body, subtype="html")
        return msg

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        msg = self.build_message(payload)
        raw = msg.as_bytes()
        pid = part_id(payload.key.encode())
        if pid in payload.done_parts:
            return NotifyResult(True, reason="already sent", sent_parts=(pid,))
        if self.sink is not None:
            self.sink.write(payload, "email", ".eml", raw)
            return NotifyResult(True, reason="written", sent_parts=(pid,))
        res = self.send_message(msg, operation_key=f"{payload.key}:{payload.integration}")
        return NotifyResult(res.ok, res.retryable, res.reason, (pid,) if res.ok else ())

    def send_message(
        self, msg: EmailMessage, *, operation_key: str, recipients: list[str] | None = None
    ) -> NotifyResult:
        """Send a prepared message (the digest uses this) over this integration's transport.
        ``operation_key`` makes an ACS retry reuse the same operation id."""
        if self.cfg.transport == "acs":
            return self._send_acs(msg, operation_key=operation_key, recipients=recipients)
        return self._send_smtp(msg, recipients=recipients)

    # -- SMTP -------------------------------------------------------------------------------------
    def _password(self) -> str | None:
        if self.cfg.auth_password_file:
            return Path(self.cfg.auth_password_file).read_text(encoding="utf-8").strip()
        return self.cfg.auth_password

    def _send_smtp(self, msg: EmailMessage, *, recipients: list[str] | None = None) -> NotifyResult:
        if not self.cfg.smarthost:
            return NotifyResult(False, False, "no smarthost configured")
        host, _, port_s = self.cfg.smarthost.rpartition(":")
        if not host:
            host, port_s = self.cfg.smarthost, "25"
        port = int(port_s)
        timeout = parse_duration(self.cfg.timeout).total_seconds()
        ctx = self.tls_context or ssl.create_default_context()
        try:
            if self._smtp_factory is not None:
                smtp = self._smtp_factory(host, port, timeout=timeout)
            elif port == 465:
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ctx, local_hostname=self.cfg.hello)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout, local_hostname=self.cfg.hello)
            with smtp:
                smtp.ehlo()
                if port != 465:
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=ctx)
                        smtp.ehlo()
                    elif self.cfg.require_tls:
                        return NotifyResult(False, False, "require_tls is true but the server offers no STARTTLS")
                if self.cfg.auth_username:
                    smtp.login(self.cfg.auth_username, self._password() or "")
                refused = smtp.send_message(msg, to_addrs=recipients) if recipients else smtp.send_message(msg)
            if refused:
                return NotifyResult(False, False, f"recipients refused: {sorted(refused)}")
            return NotifyResult(True, reason="sent via SMTP")
        except smtplib.SMTPAuthenticationError as exc:
            return NotifyResult(False, False, f"SMTP authentication failed: {exc.smtp_code}")
        except smtplib.SMTPResponseException as exc:
            return NotifyResult(False, 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        except smtplib.SMTPRecipientsRefused as exc:
            return NotifyResult(False, False, f"recipients refused: {sorted(exc.recipients)}")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return NotifyResult(False, True, f"SMTP error: {type(exc).__name__}: {exc}")

    # -- Azure Communication Services ---------------------------------------------------------------
    def _client(self) -> Any:
        if self._acs_client is not None:
            return self._acs_client
        from azure.communication.email import EmailClient

        cred = self._credential
        if cred is None:
            from azure.identity import DefaultAzureCredential

            cred = DefaultAzureCredential()
        self._acs_client = EmailClient(str(self.cfg.acs_endpoint), cred)
        return self._acs_client

    def _send_acs(self, msg: EmailMessage, *, operation_key: str, recipients: list[str] | None = None) -> NotifyResult:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError

        text_part = msg.get_body(("plain",))
        html_part = msg.get_body(("html",))
        text = text_part.get_content() if text_part is not None else ""
        body = html_part.get_content() if html_part is not None else ""
        message = acs_message(
            self.cfg, str(msg["Subject"]), text, body, recipients=recipients, inline=_inline_parts(msg)
        )
        op_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigil:{operation_key}"))
        try:
            poller = self._client().begin_send(message, operation_id=op_id, polling=False)  # accepted is enough
        except HttpResponseError as exc:
            ok, retryable, reason = classify_http(int(exc.status_code or 500), redact(str(exc.message or "")))
            return NotifyResult(ok, retryable, f"ACS: {reason}")
        except ServiceRequestError as exc:
            return NotifyResult(False, True, f"ACS unreachable: {exc}")
        status = poller.status() if hasattr(poller, "status") else "accepted"
        return NotifyResult(True, reason=f"ACS accepted (operation {op_id}, {status})")


def message_id(payload: NotificationPayload, sender: str | None) -> str:
    """The same Message-ID for every attempt of one notification to one integration.

    A retry after an unknown outcome (killed after the server accepted) is then the same
    message to mail systems that drop a repeated Message-ID; two integrations differ.
    """
    digest = hashlib.sha256(f"{payload.receiver}|{payload.integration}|{payload.key}".encode()).hexdigest()[:32]
    domain = (sender or "").rpartition("@")[2].strip(" <>") or "vigil.local"
    return f"<{digest}.vigil@{domain}>"
