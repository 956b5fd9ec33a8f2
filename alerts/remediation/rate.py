"""``max_actions_per_run`` as a rate per hour, kept in the state store.

Every execution (automatic or approved) takes a slot in the current UTC hour before it may act.
The count is shared by every worker and every function call through the store (compare-and-swap
on the hour's record), so five event deliveries with a cap of 1 act once. A redelivered request
(the same execution key) keeps its slot and takes no second one.
"""

from __future__ import annotations

from datetime import datetime

from core.state.base import ConcurrencyError, StateStore

__all__ = ["RATE", "take_slot"]

RATE = "remediation_rate"  # "<YYYY-MM-DDTHH>" -> {"keys": [execution keys that took a slot]}
_CAS_ATTEMPTS = 20


def take_slot(store: StateStore, key: str, *, limit: int, now: datetime) -> bool:
    """Take one of ``limit`` execution slots of the hour ``now`` falls in; False when all are taken."""
    hour = now.strftime("%Y-%m-%dT%H")
    for _ in range(_CAS_ATTEMPTS):
        rec = store.get(RATE, hour)
        keys = [str(k) for k in (rec.value.get("keys") or [])] if rec is not None else []
        if key in keys:
            return True
        if len(keys) >= limit:
            return False
        try:
            if rec is None:
                if store.add(RATE, hour, {"keys": [key]}):
                    return True
                continue
            store.put(RATE, hour, {"keys": [*keys, key]}, etag=rec.etag)
            return True
        except ConcurrencyError:
            continue
    raise ConcurrencyError(f"could not take a remediation slot for {hour}: too much contention")
