"""Shared helpers for the alerting tests: a real local HTTP endpoint for Teams/webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.state.base import StateStore
    from vigil.config import VigilConfig
    from vigil.runtime_local import DrainResult as QueueDrain

from alerts.outbox import OutboxEntry, QueueOutbox, entries

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday

TEAMS_BODY_429 = "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production"


@dataclass
class Reply:
    status: int = 202
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    reply: Reply

    def json(self) -> Any:
        return json.loads(self.body)


class Endpoint:
    """A real HTTP server in a thread. ``policy(request_no, path, body) -> Reply`` decides answers.

    Bodies larger than ``max_bytes`` get HTTP 413, as Teams does above ~28 KB.
    """

    def __init__(self, policy: Callable[[int, str, bytes], Reply] | None = None, max_bytes: int = 28 * 1024) -> None:
        self.policy = policy or (lambda n, p, b: Reply())
        self.max_bytes = max_bytes
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer._lock:
                    idx = len(outer.received)
                    reply = (
                        Reply(413, "payload too large") if n > outer.max_bytes else outer.policy(idx, self.path, body)
                    )
                    outer.received.append(Received(self.path, dict(self.headers), body, time.monotonic(), reply))
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}/hook"

    def accepted(self) -> list[Received]:
        """Requests answered with success (2xx and no throttling in the body)."""
        return [r for r in self.received if 200 <= r.reply.status < 300 and "429" not in r.reply.body]


@contextmanager
def serve(policy: Callable[[int, str, bytes], Reply] | None = None, max_bytes: int = 28 * 1024) -> Iterator[Endpoint]:
    ep = Endpoint(policy, max_bytes)
    ep.thread.start()
    try:
        yield ep
    finally:
        ep.server.shutdown()
        ep.server.server_close()


def throttled_for(seconds: float, *, retry_after: str | None = "1") -> Callable[[int, str, bytes], Reply]:
    """429 for ``seconds`` after the first request, alternating status and 200-body forms; then 202."""
    start: list[float] = []

    def policy(n: int, path: str, body: bytes) -> Reply:
        now = time.monotonic()
        if not start:
            start.append(now)
        if now - start[0] < seconds:
            if n % 2:
                return Reply(200, TEAMS_BODY_429)
            return Reply(429, "Too Many Requests", {"Retry-After": retry_after} if retry_after else {})
        return Reply(202, "")

    return policy


@dataclass
class Delivery:
    """One completed ``dispatch_alert`` (its ``DeliveryResult.to_dict``), with tuples as in ``DeliveryResult``."""

    key: str
    sent: list[str]
    skipped: list[tuple[Any, ...]]
    failures: list[tuple[str, str, bool]]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class Delivered:
    """One drain of the alerts queue: delivered, redelivery pending (the trigger raised), failed for good."""

    delivered: int
    retried: int
    failed: int
    results: list[Delivery]


class AlertsQueue:
    """The production delivery path for alert tests: :func:`alerts.pipeline.process` writes through
    :attr:`outbox` (:class:`alerts.outbox.QueueOutbox`) into the alerts queue of a
    :class:`vigil.runtime_local.LocalRuntime` over ``store`` (the CLI's host), and :meth:`drain`
    runs the queue trigger, ``vigil.handlers.dispatch_alert``, over it (the host's retries: a
    failed message is redelivered by the next drain, poisoned after 5 attempts).

    ``at`` is the runtime's clock (``set``/:meth:`drain` move it); ``sink`` a folder the channels
    write to instead of sending; ``settings`` app settings (``VIGIL_SIGNING_KEY`` signs card links).
    """

    def __init__(
        self,
        config: VigilConfig,
        store: StateStore,
        *,
        at: datetime = T0,
        sink: Path | None = None,
        settings: dict[str, str] | None = None,
        notifiers: dict[str, Any] | None = None,
    ) -> None:
        import tempfile

        from vigil.runtime_local import LocalRuntime

        self.at = at
        self.store = store
        self.notifiers = dict(notifiers or {})
        self.rt = LocalRuntime(
            config,
            store,
            Path(tempfile.gettempdir()) / "vigil-alert-tests",  # no blobs are written on this path
            clock=lambda: self.at,
            sink=sink,
            settings=settings,
        )
        self.queue = self.rt.setting("ALERTS_QUEUE") or "vigil-alerts"
        self.outbox = QueueOutbox(self.rt, store, self.queue)

    def drain(self, at: datetime | None = None) -> QueueDrain:
        """Deliver every visible message once (at ``at``, else the current clock)."""
        from vigil.handlers import dispatch_alert

        if at is not None:
            self.at = at
        rt = self.rt
        if not self.notifiers:
            return rt.drain(self.queue, lambda message: dispatch_alert(message, rt))
        # Recording notifiers (by integration kind) stand in for the channels dispatch_alert builds.
        from unittest import mock

        import alerts.dispatch

        real = alerts.dispatch.build_notifier

        def build(integ: Any, **kwargs: Any) -> Any:
            return self.notifiers.get(integ.kind) or real(integ, **kwargs)

        with mock.patch.object(alerts.dispatch, "build_notifier", build):
            return rt.drain(self.queue, lambda message: dispatch_alert(message, rt))

    def deliver(self, at: datetime | None = None) -> Delivered:
        """:meth:`drain`, counted: delivered, redelivery pending (the trigger raised), failed for good."""
        res = self.drain(at)
        views = [
            Delivery(
                r["key"],
                list(r["sent"]),
                [tuple(x) for x in r["skipped"]],
                [(f["integration"], f["reason"], f["retryable"]) for f in r["failures"]],
            )
            for r in res.results
        ]
        ok = sum(1 for v in views if not v.failures)
        return Delivered(ok, res.failed - res.poisoned, len(views) - ok + res.poisoned, views)

    def deliver_until_empty(self, *, deadline: float, poll: float = 0.2, real_time: bool = False) -> Delivered:
        """Drain again (the queue host's redeliveries) until the queue is empty or ``deadline``
        (monotonic) passes; ``real_time``: the runtime's clock follows the wall clock."""
        total = Delivered(0, 0, 0, [])
        while True:
            d = self.deliver(datetime.now(UTC) if real_time else None)
            total.delivered += d.delivered
            total.retried += d.retried
            total.failed += d.failed
            total.results += d.results
            if not self.pending() or time.monotonic() >= deadline:
                return total
            time.sleep(poll)

    @staticmethod
    def sent(result: QueueDrain) -> int:
        """How many messages of one drain were delivered (``DeliveryResult.ok``)."""
        return sum(1 for r in result.results if r["ok"])

    def pending(self) -> list[dict[str, Any]]:
        return self.rt.pending(self.queue)

    def poisoned(self) -> list[dict[str, Any]]:
        return self.rt.pending(f"{self.queue}-poison")

    def entries(self, *, failed: bool = False) -> list[OutboxEntry]:
        return entries(self.store, failed=failed)
