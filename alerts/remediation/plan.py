"""Planning: which action each firing finding gets, in which mode, or why it
is skipped. Pure: a function of findings, resource states, config and ``now``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from alerts.remediation.actions import Action, action
from alerts.remediation.config import Mode, RemediationConfig
from alerts.remediation.guards import check_scope, effective_mode, exemption
from core.model import Finding, Status

__all__ = ["Decision", "PlanStep", "plan"]

log = logging.getLogger(__name__)

Decision = Literal["dry-run", "await-approval", "execute", "skip"]


@dataclass(frozen=True, slots=True)
class PlanStep:
    fingerprint: str
    rule: str
    resource_id: str
    action: str
    mode: Mode
    decision: Decision
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "resource_id": self.resource_id,
            "action": self.action,
            "mode": self.mode,
            "decision": self.decision,
            "reason": self.reason,
        }


def _tags(state: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not state:
        return None
    tags = state.get("tags")
    return tags if isinstance(tags, Mapping) else None


def plan(
    findings: Iterable[Finding],
    *,
    resources: Callable[[str], Mapping[str, Any] | None],
    config: RemediationConfig,
    rule_actions: Mapping[str, str],
    now: datetime,
    mode_for: Callable[[Finding], Mode] | None = None,
) -> list[PlanStep]:
    """One step per firing finding whose rule has an action.

    ``rule_actions`` maps rule ids to action ids (from rule metadata);
    ``config.actions`` overrides it. ``mode_for`` gives the mode the routing
    chose for the finding (default: ``config.mode``). Every skip has a reason
    and is logged.
    """
    mapping = {**rule_actions, **config.actions}
    steps: list[PlanStep] = []
    executions = 0
    for f in sorted(findings, key=lambda x: (x.rule, x.resource.id)):
        if f.status is not Status.FIRING or f.rule not in mapping:
            continue
        act: Action = action(mapping[f.rule])
        state = resources(f.resource.id)
        requested: Mode = mode_for(f) if mode_for else config.mode
        mode, why = effective_mode(requested, f.rule, f.resource, config)

        def step(decision: Decision, reason: str, *, f: Finding = f, act: Action = act, mode: Mode = mode) -> PlanStep:
            return PlanStep(f.fingerprint, f.rule, f.resource.id, act.id, mode, decision, reason)

        skip_reason: str | None = None
        if state is None:
            skip_reason = "resource not found"
        elif not act.applies_to(f.resource.type, state):
            skip_reason = f"action {act.id} does not apply to {f.resource.type}"
        else:
            skip_reason = exemption(_tags(state), config.exempt_tag, now)
            if skip_reason is None:
                scope = check_scope(f.resource, config)
                skip_reason = None if scope.allowed else scope.reason
        if skip_reason is not None:
            steps.append(step("skip", skip_reason))
        elif mode == "approve":
            steps.append(step("await-approval", f"{why}: a signed approval link is sent"))
        elif executions >= config.max_actions_per_run:
            steps.append(step("skip", f"max_actions_per_run ({config.max_actions_per_run}) reached"))
        else:
            executions += 1
            if mode == "dry-run":
                steps.append(step("dry-run", f"dry-run: would {act.title[0].lower()}{act.title[1:]}"))
            else:
                steps.append(step("execute", why))
    for s in steps:
        if s.decision == "skip":
            log.info(
                "remediation skipped %s on %s: %s",
                s.action,
                s.resource_id,
                s.reason,
                extra={"rule": s.rule, "resource_id": s.resource_id, "action": s.action, "reason": s.reason},
            )
    return steps
