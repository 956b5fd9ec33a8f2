"""The outbox: a queue between detection and delivery.

:func:`alerts.pipeline.process` enqueues one message per (receiver, group)
notification that is due; :mod:`alerts.dispatch` delivers them. Two
implementations of one :class:`Outbox` protocol:

* :class:`StoreOutbox` keeps messages in the state store (``Namespace.OUTBOX``):
  the CLI's outbox, inspected by ``vigil alerts outbox``.
* :class:`QueueOutbox` uses an Azure Storage Queue (the Function App). Failed
  deliveries come back after an exponentially growing visibility timeout; after
  ``max_attempts`` the message goes to ``<queue>-poison`` with its reason. Given
  a state store it mirrors each message's state into ``Namespace.OUTBOX`` so the
  CLI shows queue deliveries too, and skips re-enqueueing a key already queued.

Enqueue is keyed by the notification key, so re-running the pipeline does not
queue a notification twice. Delivery is idempotent (see alerts.dispatch), so a
message delivered twice by the queue is still sent once.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.state.base import ConcurrencyError, Namespace, StateStore

__all__ = ["Lease", "Outbox", "OutboxEntry", "QueueOutbox", "RetryPolicy", "StoreOutbox"]

log = logging.getLogger(__name__)

# A queue message holds at most 64 KiB; base64 (Functions' default encoding) adds a third.
MAX_INLINE_CHARS = 45_000


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


class Outbox(Protocol):
    policy: RetryPolicy

    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        """Queue a message under ``message["key"]``; False when that key is already queued or done."""
        ...

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
            if "message" not in v or v.get("state") != "pending":
                continue  # not a StoreOutbox record (e.g. a queue marker written by another outbox)
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
        out = [_entry(r.key, r.value) for r in self.store.query(Namespace.OUTBOX)]
        if failed:
            out = [e for e in out if e.state == "failed"]
        return sorted(out, key=lambda e: (e.enqueued_at, e.key))


class QueueOutbox:
    """Azure Storage Queue outbox with exponential visibility backoff and a poison queue."""

    def __init__(
        self,
        queue_client: Any,
        poison_client: Any,
        *,
        store: StateStore | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.queue = queue_client
        self.poison = poison_client
        self.store = store
        self.policy = policy or RetryPolicy()

    @classmethod
    def from_connection_string(
        cls,
        conn: str,
        queue_name: str = "vigil-alerts",
        *,
        store: StateStore | None = None,
        policy: RetryPolicy | None = None,
        create: bool = True,
    ) -> QueueOutbox:
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        def client(name: str) -> Any:
            c = QueueClient.from_connection_string(
                conn,
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            if create:
                from azure.core.exceptions import ResourceExistsError

                with contextlib.suppress(ResourceExistsError):
                    c.create_queue()
            return c

        return cls(client(queue_name), client(f"{queue_name}-poison"), store=store, policy=policy)

    # -- mirror into the state store -------------------------------------------------
    def mirror(self, key: str, **changes: Any) -> None:
        if self.store is None:
            return
        rec = self.store.get(Namespace.OUTBOX, key)
        base = dict(rec.value) if rec else {}
        self.store.put(Namespace.OUTBOX, key, {**base, **changes})

    def _body(self, message: Mapping[str, Any], **extra: Any) -> str:
        """Queue body; a message too big for a queue message (64 KiB) is sent by reference."""
        body = json.dumps({"message": dict(message), **extra}, separators=(",", ":"))
        if len(body) <= MAX_INLINE_CHARS:
            return body
        if self.store is None:
            raise ValueError(
                f"outbox message {message.get('key')} is {len(body)} characters; "
                "a state store is needed to send it by reference"
            )
        return json.dumps({"ref": str(message["key"]), **extra}, separators=(",", ":"))

    def resolve(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if "message" in body:
            return dict(body["message"])
        rec = self.store.get(Namespace.OUTBOX, str(body["ref"])) if self.store is not None else None
        if rec is None or "message" not in rec.value:
            raise KeyError(f"outbox message {body.get('ref')} not found in the state store")
        return dict(rec.value["message"])

    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        key = str(message["key"])
        if self.store is not None and self.store.get(Namespace.OUTBOX, key) is not None:
            return False
        body = self._body(message, attempts=0)
        if body.startswith('{"ref"'):
            self.mirror(
                key,
                message=dict(message),
                state="pending",
                attempts=0,
                enqueued_at=now.isoformat(),
                updated_at=now.isoformat(),
                transport="queue",
            )
        self.queue.send_message(body, visibility_timeout=int(delay.total_seconds()) or None)
        ts = now.isoformat()
        self.mirror(
            key,
            message=dict(message),
            state="pending",
            attempts=0,
            enqueued_at=ts,
            updated_at=ts,
            not_before=(now + delay).isoformat(),
            last_error="",
            transport="queue",
        )
        return True

    def receive(self, *, now: datetime, max_messages: int = 32, lease: timedelta = timedelta(minutes=2)) -> list[Lease]:
        out: list[Lease] = []
        for msg in self.queue.receive_messages(
            messages_per_page=min(32, max_messages), visibility_timeout=int(lease.total_seconds())
        ):
            message = self.resolve(json.loads(msg.content))
            out.append(Lease(str(message["key"]), message, int(msg.dequeue_count), msg))
            if len(out) >= max_messages:
                break
        return out

    def complete(self, lease: Lease, *, now: datetime, detail: Mapping[str, Any] | None = None) -> None:
        self.queue.delete_message(lease.handle)
        self.mirror(
            lease.key,
            state="sent",
            attempts=lease.attempts,
            updated_at=now.isoformat(),
            last_error="",
            detail=dict(detail or {}),
        )

    def retry(self, lease: Lease, *, reason: str, now: datetime) -> bool:
        if lease.attempts >= self.policy.max_attempts:
            self.fail(lease, reason=f"gave up after {lease.attempts} attempts: {reason}", now=now)
            return False
        delay = self.policy.backoff(lease.attempts)
        body = self._body(lease.message, attempts=lease.attempts, last_error=reason[:2000])
        self.queue.update_message(
            lease.handle,
            pop_receipt=lease.handle.pop_receipt,
            content=body,
            visibility_timeout=int(delay.total_seconds()),
        )
        self.mirror(
            lease.key,
            attempts=lease.attempts,
            updated_at=now.isoformat(),
            last_error=reason,
            not_before=(now + delay).isoformat(),
        )
        return True

    def fail(self, lease: Lease, *, reason: str, now: datetime) -> None:
        self.poison_message(lease.message, reason=reason, attempts=lease.attempts, now=now)
        if lease.handle is not None:
            self.queue.delete_message(lease.handle)

    def poison_message(self, message: Mapping[str, Any], *, reason: str, attempts: int, now: datetime) -> None:
        self.poison.send_message(
            self._body(message, reason=reason[:4000], attempts=attempts, failed_at=now.isoformat())
        )
        log.warning("alert notification sent to poison queue", extra={"key": message.get("key"), "reason": reason})
        self.mirror(
            str(message["key"]), state="failed", attempts=attempts, updated_at=now.isoformat(), last_error=reason
        )

    def requeue(self, message: Mapping[str, Any], *, attempts: int, reason: str, now: datetime) -> bool:
        """For queue-triggered Functions: re-send a failed message with backoff (False: poisoned)."""
        if attempts >= self.policy.max_attempts:
            self.poison_message(
                message, reason=f"gave up after {attempts} attempts: {reason}", attempts=attempts, now=now
            )
            return False
        delay = self.policy.backoff(attempts)
        body = self._body(message, attempts=attempts, last_error=reason[:2000])
        self.queue.send_message(body, visibility_timeout=int(delay.total_seconds()))
        self.mirror(
            str(message["key"]),
            attempts=attempts,
            updated_at=now.isoformat(),
            last_error=reason,
            not_before=(now + delay).isoformat(),
        )
        return True

    def entries(self, *, failed: bool = False) -> list[OutboxEntry]:
        if self.store is not None:
            out = [_entry(r.key, r.value) for r in self.store.query(Namespace.OUTBOX)]
            if failed:
                out = [e for e in out if e.state == "failed"]
            return sorted(out, key=lambda e: (e.enqueued_at, e.key))
        if not failed:
            return []
        entries = []
        for msg in self.poison.peek_messages(max_messages=32):
            body = json.loads(msg.content)
            v = {
                "message": body["message"],
                "state": "failed",
                "attempts": body.get("attempts", 0),
                "last_error": body.get("reason", ""),
                "updated_at": body.get("failed_at", ""),
            }
            entries.append(_entry(str(body["message"]["key"]), v))
        return entries
