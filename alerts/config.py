"""Wire-form config for routing and receivers, in Alertmanager's shape.

``route``, ``receivers``, ``inhibit_rules`` and ``time_intervals`` are top-level
keys of vigil.yaml, exactly where alertmanager.yml puts them. This module holds
the *wire form* only; ``alerts.routing`` compiles it into a route tree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.strict import StrictModel

__all__ = [
    "DigestConfig",
    "EmailConfig",
    "InhibitRule",
    "MSTeamsConfig",
    "ReceiverConfig",
    "RemediationConfig",
    "RouteConfig",
    "TimeIntervalConfig",
    "WebhookConfig",
]


class MSTeamsConfig(StrictModel):
    webhook_url: str | None = None
    webhook_url_file: str | None = None
    send_resolved: bool = True
    title: str | None = None


class EmailConfig(StrictModel):
    to: str
    send_resolved: bool = False
    from_: str | None = Field(default=None, alias="from")
    smarthost: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    require_tls: bool = True


class WebhookConfig(StrictModel):
    url: str | None = None
    url_file: str | None = None
    send_resolved: bool = True
    max_alerts: int = 0


class ReceiverConfig(StrictModel):
    name: str
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)


class RouteConfig(StrictModel):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(default=False, alias="continue")
    matchers: list[str] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)


class InhibitRule(StrictModel):
    source_matchers: list[str] = Field(default_factory=list)
    target_matchers: list[str] = Field(default_factory=list)
    equal: list[str] = Field(default_factory=list)


class TimeRange(StrictModel):
    start_time: str
    end_time: str


class TimeIntervalSpec(StrictModel):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str | None = None


class TimeIntervalConfig(StrictModel):
    name: str
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)


class DigestConfig(StrictModel):
    name: str
    scopes: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    currency: str = "USD"
    timezone: str = "UTC"


class RemediationConfig(StrictModel):
    mode: Literal["dry-run", "approve", "auto"] = "dry-run"
    max_actions_per_run: int = Field(default=10, ge=0)
    allowed_subscriptions: list[str] = Field(default_factory=list)
    allowed_resource_groups: list[str] = Field(default_factory=list)
    exempt_tag: str = "vigil:exempt"
