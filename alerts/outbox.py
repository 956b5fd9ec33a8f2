"""The outbox: a queue between detection and delivery.

:func:`alerts.pipeline.process` writes one message per (receiver, group) notification that is
due through an :class:`OutboxWriter` (``enqueue``). The one implementation,
:class:`QueueOutbox`, hands each message to a queue (the Function App's alerts Storage Queue,
or the CLI's local queue, both through ``Runtime.enqueue``) and mirrors it into
``Namespace.OUTBOX``; the queue's trigger (``vigil.handlers.dispatch_alert``) reads it back with
:meth:`QueueOutbox.resolve` and records each attempt's outcome with :meth:`QueueOutbox.record`.
Retries and the poison queue are the queue host's (``core.runtime.MAX_DEQUEUE_COUNT``
attempts); the mirror records a message given up on as failed. This is the path every run takes
(Function App and CLI).

Enqueue is keyed by the notification key, so re-running the pipeline does not queue a
notification twice. Delivery is idempotent (see alerts.dispatch), so a message delivered
twice is still sent once. :func:`entries` lists the mirror (``vigil alerts outbox``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.runtime import MAX_DEQUEUE_COUNT, MessageTooLargeError, queue_body
from core.state.base import Namespace, StateStore

__all__ = [
    "OutboxEntry",
    "OutboxWriter",
    "QueueOutbox",
    "QueueSender",
    "entries",
]

log = logging.getLogger(__name__)

QUEUE_TRANSPORT = "queue"  # the ``transport`` of a QueueOutbox mirror record


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
