"""Helpers shared by the state backends (not part of the public API)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from core.state.base import Namespace

_ledger_lock = threading.Lock()
_ledger_last = 0


def ns_name(namespace: Namespace | str) -> str:
    name = namespace.value if isinstance(namespace, Namespace) else str(namespace)
    if not name:
        raise ValueError("state namespace must be a non-empty string")
    return name


def dump_value(value: Mapping[str, Any]) -> str:
    """Serialise a record value: a JSON object, ASCII-only, compact and key-sorted."""
    if not isinstance(value, Mapping):
        raise TypeError(f"state values must be mappings, got {type(value).__name__}")
    try:
        return json.dumps(dict(value), ensure_ascii=True, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"state value is not JSON-serialisable: {exc}") from exc


def load_value(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("stored state value is not a JSON object")
    return loaded


def ledger_id() -> str:
    """A unique, time-ordered ledger entry id: 20-digit ns clock (monotonic per process) + random suffix."""
    global _ledger_last  # noqa: PLW0603 - process-wide monotonic counter
    with _ledger_lock:
        now = max(time.time_ns(), _ledger_last + 1)
        _ledger_last = now
    return f"{now:020d}-{os.urandom(6).hex()}"
