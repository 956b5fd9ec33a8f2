"""The notification log: what was sent, per (receiver, integration, group), and when.

Backed by the state store (``Namespace.NFLOG``), so it survives restarts and is
shared by every dispatcher. The "notify again?" decision is the pure function
:func:`needs_update`, a transcription of Alertmanager's ``DedupStage.needsUpdate``
that also returns its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.state.base import Namespace, StateStore

__all__ = ["NflogEntry", "entry_key", "log_sent", "needs_update", "read_entry"]

_KEEP_KEYS = 8  # notification keys remembered per entry (idempotent redelivery)


@dataclass(frozen=True, slots=True)
class NflogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at: datetime
    keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "firing": sorted(self.firing),
            "resolved": sorted(self.resolved),
            "sent_at": self.sent_at.isoformat(),
            "keys": list(self.keys),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NflogEntry:
        return cls(
            firing=frozenset(d.get("firing", ())),
            resolved=frozenset(d.get("resolved", ())),
            sent_at=datetime.fromisoformat(d["sent_at"]),
            keys=tuple(d.get("keys", ())),
        )


def needs_update(
    entry: NflogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    repeat_interval: timedelta,
    send_resolved: bool,
    now: datetime,
) -> tuple[bool, str]:
    """Should this group be notified now? Pure; returns (decision, reason)."""
    if entry is None:
        return (True, "new group") if firing else (False, "only resolved alerts, never notified")
    if not firing <= entry.firing:
        return True, "new firing alerts"
    if not firing:
        # Notify that everything resolved (even without send_resolved) so the log
        # forgets the firing set; the sender drops resolved alerts when not wanted.
        return (True, "all alerts resolved") if entry.firing else (False, "nothing firing, nothing notified")
    if send_resolved and not resolved <= entry.resolved:
        return True, "alerts resolved"
    if entry.sent_at <= now - repeat_interval:
        return True, "repeat interval elapsed"
    return False, "already notified"


def entry_key(receiver: str, integration: str, group_hash: str) -> str:
    return f"{receiver}|{integration}|{group_hash}"


def read_entry(store: StateStore, key: str) -> NflogEntry | None:
    rec = store.get(Namespace.NFLOG, key)
    return NflogEntry.from_dict(dict(rec.value)) if rec else None


def log_sent(
    store: StateStore,
    key: str,
    *,
    firing: Iterable[str],
    resolved: Iterable[str],
    notification_key: str,
    now: datetime,
    group_key: str,
) -> NflogEntry:
    """Record a successful notification (called only after the send succeeded)."""
    old = read_entry(store, key)
    keys = ((old.keys if old else ()) + (notification_key,))[-_KEEP_KEYS:]
    entry = NflogEntry(frozenset(firing), frozenset(resolved), now, keys)
    store.put(Namespace.NFLOG, key, {**entry.to_dict(), "group_key": group_key})
    return entry
