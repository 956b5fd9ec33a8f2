"""Remediation config (the ``remediation`` section of vigil.yaml, and the
``remediation_configs`` a receiver may carry).

Safe by default: the mode is dry-run, the allow-lists are empty (so nothing can
be executed until a subscription is listed), and ``auto`` needs an explicit
``auto_allow`` entry covering both the rule and the scope.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from core.strict import StrictModel

__all__ = ["AutoAllow", "Mode", "RemediationConfig", "RemediationReceiverConfig"]

Mode = Literal["dry-run", "approve", "auto"]


def _lower(values: list[str]) -> list[str]:
    return [v.strip().lower() for v in values]


class AutoAllow(StrictModel):
    """One grant for ``auto`` mode: these rules, in these subscriptions (and, if
    given, only these resource groups)."""

    rules: list[str] = Field(min_length=1)
    subscriptions: list[str] = Field(min_length=1)
    resource_groups: list[str] = Field(default_factory=list)

    _norm_subs = field_validator("subscriptions")(_lower)
    _norm_rgs = field_validator("resource_groups")(_lower)


class RemediationConfig(StrictModel):
    mode: Mode = "dry-run"
    max_actions_per_run: int = Field(
        default=10,
        ge=0,
        description="Most actions (automatic and approved) executed per hour, across every run and worker.",
    )
    allowed_subscriptions: list[str] = Field(
        default_factory=list, description="Subscriptions remediation may act in. Empty: none."
    )
    allowed_resource_groups: list[str] = Field(
        default_factory=list,
        description="If set, only these resource groups (name, or <subscription>/<name>) may be changed.",
    )
    exempt_tag: str = Field(default="vigil:exempt", description="Tag that exempts a resource: true, or an expiry date.")
    auto_allow: list[AutoAllow] = Field(default_factory=list)
    actions: dict[str, str] = Field(
        default_factory=dict, description="Rule id -> action id; overrides the rule metadata's remediation_action."
    )
    approval_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 7)

    _norm_subs = field_validator("allowed_subscriptions")(_lower)
    _norm_rgs = field_validator("allowed_resource_groups")(_lower)


class RemediationReceiverConfig(StrictModel):
    """``remediation_configs`` on a receiver: the route decides which alerts reach it."""

    mode: Mode = "dry-run"
    send_resolved: bool = False
