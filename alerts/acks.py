"""Acknowledgements per alert fingerprint (``Namespace.ACKS``); later cards show them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.state.base import Namespace, StateStore

__all__ = ["acknowledge", "get_ack", "get_acks"]


def acknowledge(store: StateStore, fingerprint: str, *, by: str, comment: str = "", now: datetime) -> dict[str, Any]:
    if not by.strip():
        raise ValueError("an acknowledgement needs a name (--by)")
    if store.get(Namespace.ALERTS, fingerprint) is None:
        raise KeyError(f"no alert with fingerprint {fingerprint!r}")
    value = {"fingerprint": fingerprint, "by": by.strip(), "comment": comment.strip(), "at": now.isoformat()}
    store.put(Namespace.ACKS, fingerprint, value)
    return value


def get_ack(store: StateStore, fingerprint: str) -> dict[str, Any] | None:
    rec = store.get(Namespace.ACKS, fingerprint)
    return dict(rec.value) if rec else None


def get_acks(store: StateStore, fingerprints: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The acknowledgements of those of ``fingerprints`` that have one."""
    return {fp: dict(rec.value) for fp, rec in store.get_many(Namespace.ACKS, fingerprints).items()}
