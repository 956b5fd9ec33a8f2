"""Channel faults: every notification meets a fault, then the endpoint recovers.

Over the production queue path (the alerts queue written by :class:`alerts.outbox.QueueOutbox`,
kept by the CLI's :class:`vigil.runtime_local.LocalRuntime` and drained by the queue trigger
``vigil.handlers.dispatch_alert``) and the real webhook channel (httpx, built from the config as
in production) against a real local HTTP server:

* pass 1: each notification's first attempt gets one of HTTP 429 with ``Retry-After``
  (header form), HTTP 200 with Teams' "HTTP error 429" text (body form), HTTP 500, HTTP 503,
  or a timeout (the server answers after the client's timeout);
* pass 2: the server is down: connection refused;
* pass 3: the server is back: everything must be delivered, each notification once.

Virtual time advances between passes; a message that failed is redelivered by the next pass
(the queue host's retries: 5 attempts, then the poison queue). A second part checks HTTP 413:
on the webhook channel a 413 is not retryable, so the notification must end *recorded* as
failed (in the outbox mirror, with the reason) and not silently dropped; the Teams channel must avoid
413 by splitting a large group into cards under Teams' ~28 KB limit, all delivered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.faults.harness import Answer, Receiver, Request

__all__ = ["ChannelFaultsResult", "channel_faults"]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TEAMS_429 = "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production"
FAULTS = ("429-header", "429-body", "500", "503", "timeout")
CLIENT_TIMEOUT_S = 1


def _fault(kind: str) -> Answer:
    if kind == "429-header":
        return Answer(429, "Too Many Requests", {"Retry-After": "3600"})
    if kind == "429-body":
        return Answer(200, TEAMS_429)
    if kind == "500":
        return Answer(500, "internal error")
    if kind == "503":
        return Answer(503, "unavailable", {"Retry-After": "120"})
    if kind == "timeout":
        return Answer(202, "", delay=CLIENT_TIMEOUT_S * 2.5, drop=True)  # no answer in time, then hang up
    raise ValueError(kind)


@dataclass
class ChannelFaultsResult:
    notifications: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    delivered: int = 0
    duplicate_deliveries: int = 0
    lost: int = 0
    failed_outbox: int = 0
    oversize_recorded_failed: int = 0
    oversize_reason: str = ""
    teams_alerts: int = 0
    teams_cards_delivered: int = 0
    teams_413: int = 0
    teams_lost: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicate_deliveries == 0
            and self.failed_outbox == 0
            and self.delivered == self.notifications
            and self.oversize_recorded_failed == 1
            and "413" in self.oversize_reason
            and self.teams_413 == 0
            and self.teams_lost == 0
        )

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["ok"] = self.ok
        return d


def _findings(n: int, prefix: str) -> list[Any]:
    from alerts.testing import finding

    return [
        finding(
            rule="vm-idle",
            resource=f"/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg/providers/"
            f"Microsoft.Compute/virtualMachines/{prefix}{i:05d}",
            observed_at=T0,
            annotations={"summary": f"VM {prefix}{i:05d} idle for 14 days " + "x" * 200},
        )
        for i in range(n)
    ]


def _config(url: str, *, group_all: bool, teams: bool = False) -> Any:
    from vigil.config import parse_config

    if teams:
        integ: dict[str, Any] = {"msteams_configs": [{"webhook_url": url, "max_retries": 0, "timeout": "5s"}]}
    else:
        integ = {"webhook_configs": [{"url": url, "max_retries": 0, "timeout": f"{CLIENT_TIMEOUT_S}s"}]}
    return parse_config(
        {
            "route": {
                "receiver": "r",
                "group_by": ["..."] if not group_all else [],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1000h",
            },
            "receivers": [{"name": "r", **integ}],
        },
        "<channel-faults>",
    )


class _Queue:
    """The alerts queue of a :class:`LocalRuntime` over ``store``, on the clock ``t[0]``."""

    def __init__(self, config: Any, store: Any, folder: str, t: list[datetime]) -> None:
        from pathlib import Path

        from alerts.outbox import QueueOutbox
        from vigil.runtime_local import LocalRuntime

        self.store = store
        self.rt = LocalRuntime(config, store, Path(folder), clock=lambda: t[0])
        self.name = self.rt.setting("ALERTS_QUEUE") or "vigil-alerts"
        self.outbox = QueueOutbox(self.rt, store, self.name)

    def drain(self) -> Any:
        from vigil.handlers import dispatch_alert

        rt = self.rt
        return rt.drain(self.name, lambda message: dispatch_alert(message, rt))

    def entries(self, *, failed: bool = False) -> list[Any]:
        from alerts.outbox import entries

        return entries(self.store, failed=failed)


def channel_faults(notifications: int = 200, *, teams_alerts: int = 60) -> ChannelFaultsResult:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vigil-channel-faults-") as folder:
        return _channel_faults(notifications, teams_alerts, folder)


def _channel_faults(notifications: int, teams_alerts: int, folder: str) -> ChannelFaultsResult:
    from alerts.pipeline import process
    from alerts.testing import MemoryStore

    res = ChannelFaultsResult(notifications=notifications)
    attempts: Counter[str] = Counter()
    kinds: dict[str, str] = {}

    def script(n: int, req: Request) -> Answer:
        attempts[req.key] += 1
        if attempts[req.key] == 1:
            kind = kinds.setdefault(req.key, FAULTS[len(kinds) % len(FAULTS)])
            res.faults[kind] = res.faults.get(kind, 0) + 1
            return _fault(kind)
        return Answer(202)

    receiver = Receiver(script).start()
    try:
        store = MemoryStore()
        config = _config(receiver.url, group_all=False)
        t = [T0]
        queue = _Queue(config, store, folder, t)
        process(_findings(notifications, "vm"), config=config, store=store, outbox=queue.outbox, now=T0)
        queue.drain()  # pass 1: faults
        receiver.stop()  # pass 2: connection refused
        t[0] += timedelta(days=1)
        before = len(receiver.requests)
        r2 = queue.drain()
        res.refused = r2.failed
        if len(receiver.requests) != before:
            raise RuntimeError("the receiver answered while stopped")
        receiver.start()  # pass 3: recovered
        for _ in range(3):
            t[0] += timedelta(days=1)
            queue.drain()
        counts = receiver.deliveries_by_key()
        res.delivered = len(counts)
        res.duplicate_deliveries = sum(c - 1 for c in counts.values() if c > 1)
        res.failed_outbox = sum(1 for e in queue.entries() if e.state != "sent")
        res.lost = notifications - len(counts)
    finally:
        receiver.stop()

    # HTTP 413 on the webhook channel: recorded as failed with its reason, not dropped.
    with Receiver(lambda n, r: Answer(413, "Request Entity Too Large")) as big:
        store = MemoryStore()
        config = _config(big.url, group_all=True)
        queue = _Queue(config, store, folder, [T0])
        process(_findings(20, "big"), config=config, store=store, outbox=queue.outbox, now=T0)
        queue.drain()
        failed = queue.entries(failed=True)
        res.oversize_recorded_failed = len(failed)
        res.oversize_reason = failed[0].last_error if failed else ""

    # Teams: a group too big for one card is split under the limit the server enforces.
    limit = 28 * 1024

    def teams_script(n: int, req: Request) -> Answer:
        return Answer(413, "payload too large") if len(req.body) > limit else Answer(202)

    with Receiver(teams_script) as teams:
        store = MemoryStore()
        config = _config(teams.url, group_all=True, teams=True)
        queue = _Queue(config, store, folder, [T0])
        findings = _findings(teams_alerts, "gpu")
        process(findings, config=config, store=store, outbox=queue.outbox, now=T0)
        queue.drain()
        res.teams_alerts = len(findings)
        res.teams_413 = sum(1 for r in teams.requests if r.answer.status == 413)
        res.teams_cards_delivered = len(teams.delivered())
        shown = b"".join(r.body for r in teams.delivered())
        # every alert appears in some delivered card, or is counted in a "+N more" line
        missing = [f for f in findings if f.resource.name.encode() not in shown]
        more = sum(_more_count(r.body) for r in teams.delivered())
        res.teams_lost = max(0, len(missing) - more)
        res.failed_outbox += sum(1 for e in queue.entries() if e.state != "sent")
    return res


def _more_count(body: bytes) -> int:
    import re

    return sum(int(m) for m in re.findall(rb"\+(\d+) more", body))
