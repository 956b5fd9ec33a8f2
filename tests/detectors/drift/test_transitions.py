"""The pure drift transition table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detectors.drift.transitions import Action, Observation, decide

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)


def rec(compliant: bool | None, at: datetime = T0, deleted: bool = False) -> dict[str, Any]:
    return {"compliant": compliant, "deleted": deleted, "event_time": at.isoformat()}


LATER = T0 + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("prev", "obs", "action", "writes"),
    [
        (None, Observation(False, T0), Action.FIRE, True),
        (None, Observation(True, T0), Action.NONE, True),
        (None, Observation(None, T0), Action.NONE, False),
        (rec(True), Observation(False, LATER), Action.FIRE, True),
        (rec(False), Observation(False, LATER), Action.NONE, True),
        (rec(False), Observation(True, LATER), Action.RESOLVE, True),
        (rec(True), Observation(True, LATER), Action.NONE, True),
        (rec(False), Observation(None, LATER, deleted=True), Action.RESOLVE, True),
        (rec(True), Observation(None, LATER, deleted=True), Action.NONE, True),
        (rec(None, deleted=True), Observation(False, LATER), Action.FIRE, True),  # re-created
        (rec(False), Observation(None, LATER), Action.NONE, False),  # unknown keeps the verdict
        # out of order: an older observation never changes the stored verdict
        (rec(False, LATER), Observation(True, T0), Action.STALE, False),
        (rec(True, LATER), Observation(False, T0), Action.STALE, False),
        # the same observation again (duplicate delivery): no write
        (rec(False, T0), Observation(False, T0), Action.NONE, False),
        # change-only rules
        (None, Observation(False, T0, fire_if_new=False), Action.NONE, True),
        (rec(True), Observation(False, LATER, fire_if_new=False), Action.FIRE, True),
    ],
)
def test_decision_table(prev: dict[str, Any] | None, obs: Observation, action: Action, writes: bool) -> None:
    d = decide(prev, obs)
    assert d.action is action
    assert (d.record is not None) is writes
