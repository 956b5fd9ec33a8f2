"""Test doubles shipped with the library (in the spirit of ``structlog.testing``).

* :class:`MemoryStore`: an in-memory :class:`~core.state.base.StateStore` with
  the protocol's semantics (ETags, add-if-absent, idempotent keyed append).
* :class:`RecordingNotifier`: records payloads; can be scripted to fail.
* :func:`capture_notifications`: one recorder for every channel kind, ready to pass
  as ``notifiers=`` to :func:`alerts.dispatch.deliver`.
* :func:`finding`: a compact Finding factory for tests and benchmarks.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.notify import NotificationPayload, NotifyResult
from core.model import Finding, ResourceRef, Severity, Status
from core.state.base import ConcurrencyError, Namespace, Record

__all__ = ["MemoryStore", "RecordingNotifier", "capture_notifications", "finding"]


class MemoryStore:
    """A dict-backed StateStore for tests and benchmarks (not durable)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Record]] = {}
        self._ledgers: dict[str, list[Record]] = {}
        self._ledger_keys: dict[str, set[str]] = {}
        self._etags = itertools.count(1)
        self._lock = threading.RLock()

    def _ns(self, namespace: Namespace | str) -> dict[str, Record]:
        return self._data.setdefault(str(namespace), {})

    def get(self, namespace: Namespace | str, key: str) -> Record | None:
        return self._ns(namespace).get(key)

    def get_many(self, namespace: Namespace | str, keys: Iterable[str]) -> dict[str, Record]:
        ns = self._ns(namespace)
        return {key: ns[key] for key in set(keys) if key in ns}

    def put(self, namespace: Namespace | str, key: str, value: Mapping[str, Any], *, etag: str | None = None) -> Record:
        with self._lock:
            ns = self._ns(namespace)
            cur = ns.get(key)
            if etag is not None and (cur is None or cur.etag != etag):
                raise ConcurrencyError(f"{namespace}/{key}: etag mismatch")
            rec = Record(str(namespace), key, dict(value), str(next(self._etags)))
            ns[key] = rec
            return rec

    def put_many(self, namespace: Namespace | str, values: Mapping[str, Mapping[str, Any]]) -> None:
        with self._lock:
            ns = self._ns(namespace)
            for key, value in values.items():
                ns[key] = Record(str(namespace), key, dict(value), str(next(self._etags)))

    def add(self, namespace: Namespace | str, key: str, value: Mapping[str, Any]) -> bool:
        with self._lock:
            ns = self._ns(namespace)
            if key in ns:
                return False
            ns[key] = Record(str(namespace), key, dict(value), str(next(self._etags)))
            return True

    def delete(self, namespace: Namespace | str, key: str, *, etag: str | None = None) -> bool:
        with self._lock:
            ns = self._ns(namespace)
            cur = ns.get(key)
            if cur is None:
                return False
            if etag is not None and cur.etag != etag:
                raise ConcurrencyError(f"{namespace}/{key}: etag mismatch")
            del ns[key]
            return True

    def query(self, namespace: Namespace | str, prefix: str = "") -> Iterator[Record]:
        with self._lock:
            items = sorted(self._ns(namespace).items())
        if not prefix:
            return iter([r for _, r in items])
        return iter([r for k, r in items if k.startswith(prefix)])

    def append(self, namespace: Namespace | str, entry: Mapping[str, Any], *, key: str | None = None) -> str:
        with self._lock:
            ns = str(namespace)
            keys = self._ledger_keys.setdefault(ns, set())
            if key is not None and key in keys:
                return key
            led = self._ledgers.setdefault(ns, [])
            k = key or f"{len(led):012d}"
            keys.add(k)
            led.append(Record(ns, k, dict(entry), str(next(self._etags))))
            return k

    def ledger(self, namespace: Namespace | str) -> Iterator[Record]:
        return iter(list(self._ledgers.get(str(namespace), [])))

    def close(self) -> None:
        pass


@dataclass
class RecordingNotifier:
    """Records every payload; ``script`` gives the results to return in order, then ok."""

    script: list[NotifyResult] = field(default_factory=list)
    calls: list[NotificationPayload] = field(default_factory=list)

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        self.calls.append(payload)
        if self.script:
            return self.script.pop(0)
        return NotifyResult(True, reason="recorded")

    @property
    def fingerprints(self) -> list[str]:
        return [v.fingerprint for p in self.calls for v in p.alerts]


def capture_notifications() -> tuple[RecordingNotifier, dict[str, RecordingNotifier]]:
    """``rec, notifiers = capture_notifications()``: ``notifiers`` routes Teams, email and webhook to ``rec``."""
    rec = RecordingNotifier()
    return rec, {"msteams": rec, "email": rec, "webhook": rec}


def finding(
    rule: str = "vm-idle",
    resource: str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/"
    "Microsoft.Compute/virtualMachines/vm1",
    *,
    status: Status = Status.FIRING,
    severity: Severity = Severity.HIGH,
    detector: str = "idle",
    observed_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> Finding:
    return Finding(
        detector=detector,
        rule=rule,
        status=status,
        severity=severity,
        resource=ResourceRef.from_id(resource),
        observed_at=observed_at or datetime(2026, 1, 1, tzinfo=UTC),
        labels=labels or {},
        annotations=annotations or {},
        evidence=evidence or {},
    )
