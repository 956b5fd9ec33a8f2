"""Event storm: N resource events (30 % duplicates, shuffled, random Event Grid batches)
through the real drift event path, the alerts pipeline, the alerts queue (``QueueOutbox`` over
the CLI's ``LocalRuntime``, drained by its trigger ``vigil.handlers.dispatch_alert``: the
production path) and the webhook channel to a real local HTTP server.

The tenant is ``resources`` container registries (rule ``acr_admin_user``: the admin user
must be disabled). The storm runs in ``phases``; in each phase every registry's admin user
is set on or off at random, every registry gets at least one ResourceWriteSuccess event, and
the phase's events (plus duplicates of them) are delivered shuffled in batches of 1-10, as
Event Grid may. After each phase the alerts queue is drained to the receiver.

Expected notifications are computed independently of Vigil: per registry, a FIRING notice
when it becomes non-compliant (first sight included) and a RESOLVED notice when it becomes
compliant again. The receiver must get exactly those, each once.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.faults.harness import Answer, Receiver, hook_config

__all__ = ["StormResult", "event_storm", "storm_config"]

SUB = "00000000-0000-0000-0000-0000000000aa"
TYPE = "Microsoft.ContainerRegistry/registries"
RULE = "acr_admin_user"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def storm_config(url: str, **webhook: Any) -> Any:
    """One webhook receiver; one alert per group; notified at once; never repeated during the run."""
    from vigil.config import parse_config

    return parse_config(hook_config(url, **webhook), "<storm>")


def registry_id(i: int) -> str:
    rg = f"/subscriptions/{SUB}/resourceGroups/rg-storm-{i % 7}"
    return f"{rg}/providers/Microsoft.ContainerRegistry/registries/acr{i:05d}"


class TenantState:
    """The 'ARM' the reader sees: current state of every registry."""

    def __init__(self) -> None:
        self.admin: dict[str, bool] = {}
        self.reads = 0

    def get(self, resource_id: str) -> dict[str, Any] | None:
        self.reads += 1
        key = resource_id.lower()
        if key not in self.admin:
            return None
        name = resource_id.rsplit("/", 1)[-1]
        return {
            "id": resource_id,
            "name": name,
            "type": TYPE,
            "location": "westeurope",
            "properties": {"adminUserEnabled": self.admin[key]},
        }


def write_event(resource_id: str, when: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "topic": f"/subscriptions/{SUB}",
        "subject": resource_id,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "data": {
            "resourceUri": resource_id,
            "operationName": "Microsoft.ContainerRegistry/registries/write",
            "status": "Succeeded",
            "subscriptionId": SUB,
            "correlationId": str(uuid.UUID(int=rng.getrandbits(128))),
            "claims": {"name": "Storm Tester", "upn": "storm@example.com"},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


@dataclass
class StormResult:
    events: int = 0
    unique_events: int = 0
    duplicates_injected: int = 0
    processed: int = 0
    duplicates_dropped: int = 0
    quarantined: int = 0
    transitions_expected: int = 0
    findings: int = 0
    enqueued: int = 0
    notifications_sent: int = 0
    duplicate_notifications: int = 0
    lost: int = 0
    unexpected: int = 0
    failed_outbox: int = 0
    resources: int = 0
    phases: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicate_notifications == 0
            and self.unexpected == 0
            and self.failed_outbox == 0
            and self.duplicates_dropped == self.duplicates_injected
            and self.processed == self.unique_events
            and self.notifications_sent == self.transitions_expected
        )

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "details"}
        d["ok"] = self.ok
        d["details"] = self.details[:10]
        return d


def event_storm(
    events: int = 10_000,
    *,
    duplicate_ratio: float = 0.3,
    phases: int = 4,
    seed: int = 11,
    store_factory: Callable[[], Any] | None = None,
    script: Callable[[int, Any], Answer] | None = None,
    settle_rounds: int = 20,
) -> StormResult:
    """Run the storm; returns the figures (see :class:`StormResult`)."""
    import tempfile
    from pathlib import Path

    from alerts.outbox import QueueOutbox, entries
    from alerts.pipeline import process
    from detectors.drift.loader import RuleSet, builtin_rules
    from vigil.drift_path import handle_events
    from vigil.handlers import dispatch_alert
    from vigil.runtime_local import LocalRuntime

    rng = random.Random(seed)
    unique = round(events * (1 - duplicate_ratio))
    dups = events - unique
    per_phase = max(1, unique // phases)
    resources = max(2, per_phase // 2)
    if store_factory is None:
        from alerts.testing import MemoryStore

        store_factory = MemoryStore
    store = store_factory()
    rules = RuleSet(builtin_rules())
    tenant = TenantState()
    ids = [registry_id(i) for i in range(resources)]
    res = StormResult(events=events, resources=resources, phases=phases)
    expected: dict[str, list[str]] = {}  # resource id -> statuses expected, in order
    compliant_before: dict[str, bool | None] = dict.fromkeys(ids)
    dup_left = dups
    clock = [T0]
    with Receiver(script) as receiver, tempfile.TemporaryDirectory(prefix="vigil-storm-") as folder:
        config = storm_config(receiver.url)
        # The production path: the alerts queue (kept in the store, drained in process by the CLI's
        # runtime) and its trigger, vigil.handlers.dispatch_alert, with the real webhook channel.
        rt = LocalRuntime(config, store, Path(folder), clock=lambda: clock[0])
        queue = rt.setting("ALERTS_QUEUE") or "vigil-alerts"
        outbox = QueueOutbox(rt, store, queue)

        def deliver() -> None:
            rt.drain(queue, lambda message: dispatch_alert(message, rt))

        for phase in range(phases):
            now = T0 + timedelta(hours=phase)
            clock[0] = now
            n_unique = per_phase if phase < phases - 1 else unique - per_phase * (phases - 1)
            n_dups = dup_left if phase == phases - 1 else round(dups / phases)
            dup_left -= n_dups
            for rid in ids:
                admin = rng.random() < 0.5
                tenant.admin[rid.lower()] = admin
                compliant = not admin
                before = compliant_before[rid]
                if not compliant and before is not False:
                    expected.setdefault(rid, []).append("firing")
                elif compliant and before is False:
                    expected.setdefault(rid, []).append("resolved")
                compliant_before[rid] = compliant
            targets = list(ids) + [rng.choice(ids) for _ in range(max(0, n_unique - len(ids)))]
            phase_events = [
                write_event(rid, now - timedelta(minutes=30) + timedelta(seconds=rng.randrange(1800)), rng)
                for rid in targets
            ]
            res.unique_events += len(phase_events)
            deliveries = phase_events + [dict(rng.choice(phase_events)) for _ in range(n_dups)]
            res.duplicates_injected += n_dups
            rng.shuffle(deliveries)
            i = 0
            while i < len(deliveries):
                size = rng.randint(1, 10)
                batch, i = deliveries[i : i + size], i + size
                out = handle_events(batch, store=store, reader=tenant, rules=rules, now=now)
                res.processed += out.processed
                res.duplicates_dropped += out.duplicates
                res.quarantined += len(out.quarantined)
                res.findings += len(out.findings)
                pr = process(out.findings, config=config, store=store, outbox=outbox, now=now)
                res.enqueued += len(pr.enqueued)
            deliver()
        later = T0 + timedelta(hours=phases)
        for _ in range(settle_rounds):  # redeliveries still queued: the host's next attempt
            if not rt.pending(queue):
                break
            later += timedelta(hours=1)
            clock[0] = later
            deliver()
        res.events = res.unique_events + res.duplicates_injected
        res.failed_outbox = sum(1 for e in entries(store) if e.state != "sent")
        by_id = {rid.lower(): rid for rid in ids}
        got: dict[str, list[str]] = {}
        for _fp, rid, status in receiver.delivered_alerts():
            got.setdefault(by_id.get(rid.lower(), "?" + rid), []).append(status)
        res.notifications_sent = len(receiver.delivered())
        res.duplicate_notifications = sum(c - 1 for c in receiver.deliveries_by_key().values() if c > 1)
    res.transitions_expected = sum(len(v) for v in expected.values())
    for rid in sorted(set(expected) | set(got)):
        want, have = expected.get(rid, []), got.get(rid, [])
        if want == have:
            continue
        missing = Counter(want) - Counter(have)
        extra = Counter(have) - Counter(want)
        res.lost += sum(missing.values())
        res.unexpected += sum(extra.values())
        if not missing and not extra:
            res.unexpected += 1  # same notices, wrong order
        res.details.append(f"{rid}: expected {want}, received {have}")
    return res
