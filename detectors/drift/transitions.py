"""Drift is a state transition: the pure decision from the last verdict to the next.

* unknown or compliant -> non-compliant: FIRE
* non-compliant -> compliant: RESOLVE
* non-compliant -> non-compliant: nothing (routing handles repeats)
* non-compliant -> deleted: RESOLVE
* rules marked ``fire_on_first_seen: false`` fire only on compliant -> non-compliant
* an observation older than the stored one (out-of-order delivery): STALE, ignored; a stored
  time further ahead of the observation's ``received_at`` than ``MAX_FUTURE_SKEW`` is not
  believed (a forged future-dated event must not make every later observation stale)
* the same observation twice (duplicate delivery): nothing, and no write

The caller stores the returned record with an ETag-conditional write.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.timeutil import MAX_FUTURE_SKEW

__all__ = ["Action", "Decision", "Observation", "decide"]


class Action(enum.StrEnum):
    FIRE = "fire"
    RESOLVE = "resolve"
    NONE = "none"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Observation:
    compliant: bool | None  # None: could not be decided (e.g. related resources unknown)
    event_time: datetime
    deleted: bool = False
    # False for rules about a change (e.g. "diagnostic settings deleted"): a resource first
    # seen non-compliant is recorded but fires only after it was seen compliant.
    fire_if_new: bool = True
    received_at: datetime | None = None  # our clock when the observation was made


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    record: dict[str, Any] | None  # the new stored verdict, or None when nothing changes


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def decide(prev: Mapping[str, Any] | None, obs: Observation) -> Decision:
    record = {
        "compliant": obs.compliant,
        "deleted": obs.deleted,
        "event_time": obs.event_time.isoformat(),
    }
    if prev is not None:
        prev_time = _time(prev.get("event_time"))
        if prev_time is not None and obs.received_at is not None and prev_time > obs.received_at + MAX_FUTURE_SKEW:
            prev_time = None  # a future-dated verdict (recorded before event times were capped): not believed
        if prev_time is not None and obs.event_time < prev_time:
            return Decision(Action.STALE, None)
        same_time = prev_time is not None and obs.event_time == prev_time
        if same_time and prev.get("compliant") == obs.compliant and bool(prev.get("deleted")) == obs.deleted:
            return Decision(Action.NONE, None)
    was_firing = prev is not None and prev.get("compliant") is False and not prev.get("deleted")
    if obs.deleted:
        return Decision(Action.RESOLVE if was_firing else Action.NONE, record)
    if obs.compliant is None:
        return Decision(Action.NONE, None)
    if obs.compliant is False:
        if was_firing:
            return Decision(Action.NONE, record)
        was_compliant = prev is not None and prev.get("compliant") is True and not prev.get("deleted")
        return Decision(Action.FIRE if was_compliant or obs.fire_if_new else Action.NONE, record)
    return Decision(Action.RESOLVE if was_firing else Action.NONE, record)
