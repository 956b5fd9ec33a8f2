"""One channel interface, HTTP status classification in one place, and the outbox-directory sink.

A channel (``alerts/channels/<name>.py``) implements :class:`Notifier`:
``notify(payload) -> NotifyResult(ok, retryable, reason)``. Retrying across
minutes is the outbox's job; a channel only retries briefly inside one call
(HTTP 429 with a short Retry-After, a transient 5xx) via :func:`post_with_retries`.

A notification may need several requests (a Teams group split into several
cards). Each request is a *part* with a content hash; the channel reports the
parts it sent and skips parts already sent in an earlier attempt
(``payload.done_parts``), so a retried notification never repeats a card.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from alerts.money import DisplayConfig
from core.model import Alert

__all__ = [
    "AlertView",
    "DirectorySink",
    "NotificationPayload",
    "Notifier",
    "NotifyResult",
    "classify_http",
    "part_id",
    "post_with_retries",
    "redact",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

# httpx logs every request URL at INFO, and a webhook URL is a secret (Teams Workflows carry
# the signature in the query, connectors and generic webhooks a token in the path). The Functions
# host ships INFO logs to Application Insights: keep httpx's own request log at WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as a channel renders it: the alert plus its evidence and acknowledgement."""

    alert: Alert
    fingerprint: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    ack: Mapping[str, Any] | None = None
    remediation: str | None = None  # the outcome of a remediation, e.g. "remediated by …" or "failed: …"
    approvable: bool = False  # an Approve button may be shown (alerts.remediation.policy.approval_refusal)
    display: DisplayConfig | None = None  # the display currency shown beside billing amounts (vigil.yaml display:)


@dataclass(frozen=True, slots=True)
class NotificationPayload:
    key: str  # notification key (stable across retries)
    receiver: str
    integration: str  # e.g. "msteamsv2[0]"
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[AlertView]
    now: datetime
    done_parts: frozenset[str] = frozenset()
    issued_at: datetime | None = None  # when the notification was queued (link expiry base)

    @property
    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.alert.ends_at is None]

    @property
    def resolved(self) -> list[AlertView]:
        return [a for a in self.alerts if a.alert.ends_at is not None]

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    def common_labels(self) -> dict[str, str]:
        if not self.alerts:
            return {}
        first = dict(self.alerts[0].alert.labels)
        for a in self.alerts[1:]:
            first = {k: v for k, v in first.items() if a.alert.labels.get(k) == v}
        return first


@dataclass(frozen=True, slots=True)
class NotifyResult:
    ok: bool
    retryable: bool = False
    reason: str = ""
    sent_parts: tuple[str, ...] = ()


class Notifier(Protocol):
    def notify(self, payload: NotificationPayload) -> NotifyResult: ...


def part_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


# -- HTTP status classification (the one place) ---------------------------------------------------

_BODY_429 = re.compile(r"\b429\b|too many requests|throttl", re.IGNORECASE)


def classify_http(status: int, body: str = "") -> tuple[bool, bool, str]:
    """(ok, retryable, reason) for an HTTP response.

    2xx is success unless the body reports throttling (Teams Workflows and the old
    connector answer 200/202 with "HTTP error 429" in the body). 408/425/429 and
    5xx are retryable; 413 and other 4xx are not (a 413 is fixed by splitting).
    """
    if 200 <= status < 300:
        if body and _BODY_429.search(body[:2000]):
            return False, True, f"HTTP {status} with throttling in body: {body[:200]!r}"
        return True, False, f"HTTP {status}"
    if status in (408, 425, 429):
        return False, True, f"HTTP {status}"
    if status >= 500:
        return False, True, f"HTTP {status}: {body[:200]!r}"
    if status == 413:
        return False, False, "HTTP 413 payload too large"
    return False, False, f"HTTP {status}: {body[:200]!r}"


_ANY_URL = re.compile(r"(?i)\b(https?)://([^/\s'\"?#<>]+)[^\s'\"<>]*")
_MIN_SECRET = 8  # shorter path segments and query values ("services", "1.0") are not worth hiding


def redact(text: str, *secrets: str | None) -> str:
    """``text`` without receiver URL secrets, as Alertmanager treats receiver URLs: each given
    secret URL, every path segment and query value of it that could be a token (also percent-
    decoded), and then the path and query of any URL left in the text, become ``<redacted>``.
    Upstream error bodies echo the URL or its token; they land in logs and outbox rows."""
    tokens: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        tokens.add(secret)
        parts = urlsplit(secret)
        pieces = [*parts.path.split("/"), *(v for _, v in parse_qsl(parts.query, keep_blank_values=True))]
        for piece in pieces:
            for form in (piece, unquote(piece), quote(piece, safe="")):
                if len(form) >= _MIN_SECRET:
                    tokens.add(form)
    text = _ANY_URL.sub(lambda m: f"{m.group(1)}://{m.group(2)}/<redacted>", text)
    for token in sorted(tokens, key=len, reverse=True):
        text = text.replace(token, "<redacted>")
    return text


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    ref = now or datetime.now(UTC)
    return max(0.0, (when - ref).total_seconds())


def post_with_retries(
    client: httpx.Client,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    max_retries: int,
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """POST once, retrying retryable answers up to ``max_retries`` times within this call.

    Honours Retry-After (seconds or HTTP date) when it is at most ``max_wait``;
    a longer Retry-After ends the call as retryable, for the outbox to retry later.
    Without Retry-After it backs off 0.5 s, 1 s, 2 s… with jitter.
    """
    attempt = 0
    while True:
        try:
            resp = client.post(url, content=content, headers=dict(headers))
            # Redacted before classify_http clips it: a clipped token would escape the redaction.
            ok, retryable, reason = classify_http(resp.status_code, redact(resp.text[:8000], url))
            wait = retry_after_seconds(resp.headers)
        except httpx.TimeoutException as exc:
            ok, retryable, reason, wait = False, True, f"timeout: {type(exc).__name__}", None
        except httpx.TransportError as exc:
            ok, retryable, reason, wait = False, True, f"transport error: {type(exc).__name__}: {exc}", None
        reason = redact(reason, url)  # upstream bodies and transport errors may echo the URL
        if ok or not retryable or attempt >= max_retries:
            return NotifyResult(ok, retryable, reason)
        if wait is None:
            wait = min(max_wait, 0.5 * (2**attempt)) * (0.8 + 0.4 * random.random())
        elif wait > max_wait:
            return NotifyResult(False, True, f"{reason}; Retry-After {wait:.0f}s exceeds in-call limit")
        attempt += 1
        log.info("retrying HTTP notification", extra={"attempt": attempt, "wait_s": wait, "reason": reason})
        sleep(wait)


class DirectorySink:
    """The outbox-directory mode: write exactly what would be sent, instead of sending it.

    Teams cards and webhook bodies are written as ``.json``, emails as ``.eml``.
    File names are derived from the notification key, so a re-run that sends
    nothing new writes nothing new.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def write(self, payload: NotificationPayload, part: str, suffix: str, data: bytes) -> Path:
        safe_recv = re.sub(r"[^A-Za-z0-9_.-]+", "_", payload.receiver)
        safe_int = re.sub(r"[^A-Za-z0-9_.-]+", "_", payload.integration.replace("[", "-").replace("]", ""))
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.root / f"{safe_recv}.{safe_int}.{payload.key[:16]}.{part}{suffix}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        # Cards carry live signed links (approve, silence): readable by the owner only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # an older file of the same name may have had a wider mode
            fh.write(data)
        tmp.replace(path)
        return path
