"""Safe auto-remediation: dry-run by default, approval links, exemptions,
allow-lists, a blast-radius limit and an append-only audit ledger."""

from alerts.remediation.actions import ACTIONS, Action, action, all_permissions
from alerts.remediation.config import RemediationConfig, RemediationReceiverConfig
from alerts.remediation.plan import PlanStep, plan

__all__ = [
    "ACTIONS",
    "Action",
    "PlanStep",
    "RemediationConfig",
    "RemediationReceiverConfig",
    "action",
    "all_permissions",
    "plan",
]
