"""What the activity rules share: their context and what they report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.activity.record import Operation
from detectors.config import ActivityConfig
from detectors.drift.engine import CompiledPolicy

__all__ = ["Check", "Context", "Hit", "per_operation", "written_resource"]


@dataclass(frozen=True, slots=True)
class Context:
    config: ActivityConfig
    now: datetime
    # The drift rules these rules share (rule id -> compiled policy, with the drift config's parameters).
    policies: Mapping[str, CompiledPolicy]

    def policy(self, rule_id: str) -> CompiledPolicy:
        return self.policies[rule_id]


@dataclass(frozen=True, slots=True)
class Hit:
    """One firing: the resource it is about, why, and the operation(s) behind it."""

    resource_id: str
    reason: str
    operation: Operation
    evidence: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


Check = Callable[[Sequence[Operation], Context], list[Hit]]


def per_operation(judge: Callable[[Operation, Context], Hit | None]) -> Check:
    """A check that judges each operation on its own."""

    def check(ops: Sequence[Operation], ctx: Context) -> list[Hit]:
        return [hit for op in ops if (hit := judge(op, ctx)) is not None]

    return check


# A located resource type written by a PATCH whose body has no location: the policies' "Indexed" mode
# only asks that the resource have one, and the activity record does not say which.
UNKNOWN_LOCATION = "unknown"


def written_resource(
    op: Operation, resource_type: str, resource_id: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The resource an operation wrote, as an ARM object a drift policy can judge."""
    location = (op.body or {}).get("location")
    return {
        "id": resource_id,
        "type": resource_type,
        "name": resource_id.rstrip("/").rsplit("/", 1)[-1],
        "location": location if isinstance(location, str) and location else UNKNOWN_LOCATION,
        "properties": dict(properties),
    }
