"""The outbox: a queue between detection and delivery.

:func:`alerts.pipeline.process` writes one message per (receiver, group) notification
that is due through an :class:`OutboxWriter`; delivery reads them back. One protocol,
split in two:

* :class:`OutboxWriter` (``enqueue``) is what the alert pipeline needs.
* :class:`OutboxReader` (``receive``/``complete``/``retry``/``fail``/``entries``) is what
  :func:`alerts.dispatch.drain` needs.

Two implementations:

* :class:`QueueOutbox` (writer) hands each message to a queue (the Function App's alerts
  Storage Queue, or the CLI's local queue, both through ``Runtime.enqueue``) and mirrors
  it into ``Namespace.OUTBOX``; the queue's trigger (``vigil.handlers.dispatch_alert``)
  reads it back with :meth:`QueueOutbox.resolve` and records the outcome with
  :meth:`QueueOutbox.record`. This is the path every run takes (Function App and CLI).
* :class:`StoreOutbox` (writer and reader) keeps the messages in ``Namespace.OUTBOX`` and
  leases them itself: ``vigil alerts dispatch`` drains it, and so do the alert benches.

Enqueue is keyed by the notification key, so re-running the pipeline does not queue a
notification twice. Delivery is idempotent (see alerts.dispatch), so a message delivered
twice is still sent once. ``vigil alerts outbox`` lists both kinds of record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.runtime import MAX_DEQUEUE_COUNT, MessageTooLargeError, queue_body
from core.state.base import ConcurrencyError, Namespace, StateStore

__all__ = [
    "Lease",
    "OutboxEntry",
    "OutboxReader",
    "OutboxWriter",
    "QueueOutbox",
    "QueueSender",
    "RetryPolicy",
    "StoreOutbox",
    "entries",
]

log = logging.getLogger(__name__)

QUEUE_TRANSPORT = "queue"  # the ``transport`` of a QueueOutbox mirror record


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(minutes=15)

    def backoff(self, attempts: int) -> timedelta:
        """Delay before attempt ``attempts + 1`` (exponential, capped)."""
        secs = self.base.total_seconds() * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(secs, self.cap.total_seconds()))


@dataclass(slots=True)
class Lease:
    key: str
    message: dict[str, Any]
    attempts: int  # including this one
    handle: Any = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    key: str
    state: str  # pending | sent | failed
    attempts: int
    receiver: str
    group_key: str
    alerts: int
    enqueued_at: str
    updated_at: str
    not_before: str = ""
    last_error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class OutboxWriter(Protocol):
    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        """Queue a message under ``message["key"]``; False when that key is already queued or done."""
        ...


class OutboxReader(Protocol):
    policy: RetryPolicy

    def receive(
        self, *, now: datetime, max_messages: int = 32, lease: timedelta = timedelta(minutes=2)
    ) -> list[Lease]: ...

    def complete(self, lease: Lease, *, now: datetime, detail: Mapping[str, Any] | None = None) -> None: ...

    def retry(self, lease: Lease, *, reason: str, now: datetime) -> bool:
        """Make the message visible again after backoff; False if it went to the poison queue."""
        ...

    def fail(self, lease: Lease, *, reason: str, now: datetime) -> None:
        """Give up now (non-retryable): poison the message with its reason."""
        ...

    def entries(self, *, failed: bool = False) -> list[OutboxEntry]: ...


def _entry(key: str, v: Mapping[str, Any]) -> OutboxEntry:
    msg = v.get("message", {})
    return OutboxEntry(
        key=key,
        state=v.get("state", "pending"),
        attempts=int(v.get("attempts", 0)),
        receiver=msg.get("receiver", ""),
        group_key=msg.get("group_key", ""),
        alerts=len(msg.get("firing", ())) + len(msg.get("resolved", ())),
        enqueued_at=v.get("enqueued_at", ""),
        updated_at=v.get("updated_at", ""),
        not_before=v.get("not_before", ""),
        last_error=v.get("last_error", ""),
        detail=dict(v.get("detail", {})),
    )


def entries(store: StateStore, *, failed: bool = False) -> list[OutboxEntry]:
    """Every outbox record in ``Namespace.OUTBOX`` (a :class:`QueueOutbox` mirror, with the state
    :meth:`QueueOutbox.record` gave it), oldest first; ``failed``: only those given up on."""
    out = [_entry(r.key, r.value) for r in store.query(Namespace.OUTBOX)]
    if failed:
        out = [e for e in out if e.state == "failed"]
    return sorted(out, key=lambda e: (e.enqueued_at, e.key))


class StoreOutbox:
    """Outbox kept in the state store (CLI). Single-process leasing via ETags."""

    def __init__(self, store: StateStore, policy: RetryPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()

    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        ts = now.isoformat()
        value = {
            "message": dict(message),
            "state": "pending",
            "attempts": 0,
            "enqueued_at": ts,
            "updated_at": ts,
            "not_before": (now + delay).isoformat(),
            "last_error": "",
        }
        return self.store.add(Namespace.OUTBOX, str(message["key"]), value)

    def receive(self, *, now: datetime, max_messages: int = 32, lease: timedelta = timedelta(minutes=2)) -> list[Lease]:
        out: list[Lease] = []
        for rec in self.store.query(Namespace.OUTBOX):
            v = rec.value
            if "message" not in v or v.get("state") != "pending" or v.get("transport") == QUEUE_TRANSPORT:
                continue  # not a StoreOutbox record (a QueueOutbox mirror: its queue delivers it)
            if datetime.fromisoformat(v.get("not_before") or v.get("enqueued_at") or now.isoformat()) > now:
                continue
            claimed = {**v, "attempts": int(v.get("attempts", 0)) + 1, "not_before": (now + lease).isoformat()}
            try:
                self.store.put(Namespace.OUTBOX, rec.key, claimed, etag=rec.etag)
            except ConcurrencyError:
                continue  # another dispatcher took it
            out.append(Lease(rec.key, dict(v["message"]), claimed["attempts"]))
            if len(out) >= max_messages:
                break
        return out

    def _update(self, key: str, **changes: Any) -> None:
        rec = self.store.get(Namespace.OUTBOX, key)
        if rec is not None:
            self.store.put(Namespace.OUTBOX, key, {**rec.value, **changes})

    def complete(self, lease: Lease, *, now: datetime, detail: Mapping[str, Any] | None = None) -> None:
        self._update(lease.key, state="sent", updated_at=now.isoformat(), last_error="", detail=dict(detail or {}))

    def retry(self, lease: Lease, *, reason: str, now: datetime) -> bool:
        if lease.attempts >= self.policy.max_attempts:
            self.fail(lease, reason=f"gave up after {lease.attempts} attempts: {reason}", now=now)
            return False
        nb = now + self.policy.backoff(lease.attempts)
        self._update(lease.key, not_before=nb.isoformat(), updated_at=now.isoformat(), last_error=reason)
        return True

    def fail(self, lease: Lease, *, reason: str, now: datetime) -> None:
        log.warning("outbox message poisoned", extra={"key": lease.key, "reason": reason})
        self._update(lease.key, state="failed", updated_at=now.isoformat(), last_error=reason)

    def entries(self, *, failed: bool = False) -> list[OutboxEntry]:
        return entries(self.store, failed=failed)


class QueueSender(Protocol):
    """Where a :class:`QueueOutbox` sends: ``vigil.runtime.Runtime`` has this method."""

    def enqueue(self, queue: str, message: Mapping[str, Any], *, visibility_timeout: int = 0) -> None: ...


class QueueOutbox:
    """:class:`OutboxWriter` over a queue, with each message mirrored into ``Namespace.OUTBOX``.

    Idempotent per key: a mirrored key is not queued again. The mirror is written after the
    queue send, so a crash in between queues a message twice, which delivery tolerates
    (``alerts.dispatch.deliver`` checks the notification log). A body over the queue limit
    (``core.runtime.MAX_QUEUE_MESSAGE_BYTES``) goes by reference (``{"ref": key}``) and is
    read back from the mirror by :meth:`resolve`. Retries and the poison queue are the queue host's.
    """

    def __init__(self, sender: QueueSender, store: StateStore, queue: str) -> None:
        self.sender = sender
        self.store = store
        self.queue = queue

    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        key = str(message["key"])
        if self.store.get(Namespace.OUTBOX, key) is not None:
            return False
        body: dict[str, Any] = {"message": dict(message), "attempts": 0}
        try:
            queue_body(self.queue, body)
        except MessageTooLargeError:
            body = {"ref": key, "attempts": 0}
            self._mirror(key, message, now)  # the reader needs it before the message can arrive
        self.sender.enqueue(self.queue, body, visibility_timeout=int(delay.total_seconds()))
        self._mirror(key, message, now)
        return True

    def _mirror(self, key: str, message: Mapping[str, Any], now: datetime) -> None:
        ts = now.isoformat()
        self.store.put(
            Namespace.OUTBOX,
            key,
            {
                "message": dict(message),
                "state": "pending",
                "attempts": 0,
                "enqueued_at": ts,
                "updated_at": ts,
                "queue": self.queue,
                "transport": QUEUE_TRANSPORT,
            },
        )

    @staticmethod
    def resolve(store: StateStore, body: Mapping[str, Any]) -> dict[str, Any]:
        """The outbox message a queue body carries (inline, or by reference to the mirror)."""
        if "ref" in body and "message" not in body:
            rec = store.get(Namespace.OUTBOX, str(body["ref"]))
            if rec is None or "message" not in rec.value:
                raise KeyError(f"outbox message {body['ref']} not found in the state store")
            return dict(rec.value["message"])
        return dict(body.get("message", body))

    @staticmethod
    def record(
        store: StateStore,
        key: str,
        *,
        ok: bool,
        retryable: bool,
        detail: Mapping[str, Any],
        now: datetime,
        max_attempts: int = MAX_DEQUEUE_COUNT,
    ) -> bool:
        """Record one delivery attempt's outcome in the mirror (sent, pending for a retry, or failed).

        A retryable failure on attempt ``max_attempts`` (the queue host's last delivery before the
        poison queue) is recorded as failed, ``gave up after N attempts: <reason>``, so
        ``vigil alerts outbox --failed`` lists it. Returns whether the message is given up on.
        """
        from core.state.typed import UNCHANGED, Unchanged, update

        reason = "; ".join(f"{f['integration']}: {f['reason']}" for f in detail.get("failures", ()))
        gave_up = [False]

        def apply(current: Mapping[str, Any] | None) -> Mapping[str, Any] | Unchanged:
            if current is None:
                return UNCHANGED
            attempts = int(current.get("attempts", 0)) + 1
            state = "sent" if ok else ("pending" if retryable else "failed")
            error = reason
            if state == "pending" and attempts >= max_attempts:
                state, error = "failed", f"gave up after {attempts} attempts: {reason}"
            gave_up[0] = state == "failed"
            return {
                **current,
                "state": state,
                "attempts": attempts,
                "last_error": error,
                "updated_at": now.isoformat(),
                "detail": dict(detail),
            }

        update(store, Namespace.OUTBOX, key, apply)
        if gave_up[0]:
            log.warning("outbox message given up", extra={"key": key, "reason": reason})
        return gave_up[0]
