"""The runtime form of the alerting config: route tree, integrations, time intervals.

Compiled once per (immutable) AlertingConfig and cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alerts.config import (
    UNDELIVERED_TYPES,
    AlertmanagerForwardConfig,
    EmailConfig,
    GlobalConfig,
    MSTeamsConfig,
    OpsgenieConfig,
    PagerDutyConfig,
    ReceiverConfig,
    SlackConfig,
    WebhookConfig,
    with_global_smtp,
)
from alerts.routing import Route, compile_routes
from alerts.timeintervals import CompiledSpec, compile_time_intervals

if TYPE_CHECKING:
    from alerts.config import AlertingConfig

__all__ = ["Compiled", "Integration", "Undelivered", "compiled", "integrations"]


@dataclass(frozen=True, slots=True)
class Undelivered:
    """An Alertmanager receiver type Vigil loads but does not deliver to (e.g. ``victorops_configs``)."""

    type: str  # the config key, e.g. "victorops_configs"
    raw: Mapping[str, Any]

    @property
    def send_resolved(self) -> bool:
        return bool(self.raw.get("send_resolved", False))

    @property
    def reason(self) -> str:
        return f"Vigil does not deliver to {self.type}: notification not sent"


IntegrationConfig = (
    MSTeamsConfig
    | EmailConfig
    | WebhookConfig
    | SlackConfig
    | PagerDutyConfig
    | OpsgenieConfig
    | AlertmanagerForwardConfig
    | Undelivered
)


@dataclass(frozen=True, slots=True)
class Integration:
    name: str  # "msteamsv2[0]"
    kind: str  # msteams | email | webhook | slack | pagerduty | opsgenie | alertmanager | undelivered
    config: IntegrationConfig

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved


def integrations(receiver: ReceiverConfig, global_cfg: GlobalConfig | None = None) -> list[Integration]:
    """The receiver's integrations, with ``global`` defaults filled in as Alertmanager does at load."""
    out: list[Integration] = []
    for field_name, kind in (
        ("msteams_configs", "msteams"),
        ("msteamsv2_configs", "msteams"),
        ("email_configs", "email"),
        ("webhook_configs", "webhook"),
        ("slack_configs", "slack"),
        ("pagerduty_configs", "pagerduty"),
        ("opsgenie_configs", "opsgenie"),
        ("alertmanager_configs", "alertmanager"),
    ):
        prefix = field_name.removesuffix("_configs")
        for i, c in enumerate(getattr(receiver, field_name)):
            conf = with_global_smtp(c, global_cfg) if isinstance(c, EmailConfig) and global_cfg is not None else c
            out.append(Integration(f"{prefix}[{i}]", kind, conf))
    for field_name in UNDELIVERED_TYPES:
        prefix = field_name.removesuffix("_configs")
        for i, raw in enumerate(getattr(receiver, field_name)):
            out.append(Integration(f"{prefix}[{i}]", "undelivered", Undelivered(field_name, raw)))
    return out


@dataclass(frozen=True, slots=True)
class Compiled:
    root: Route
    receivers: dict[str, ReceiverConfig]
    integrations: dict[str, list[Integration]]
    time_intervals: dict[str, tuple[CompiledSpec, ...]]

    def routes(self) -> Iterator[Route]:
        return self.root.walk()


_cache: dict[int, tuple[AlertingConfig, Compiled]] = {}
_lock = threading.Lock()


def compiled(config: AlertingConfig) -> Compiled:
    with _lock:
        hit = _cache.get(id(config))
        if hit is not None and hit[0] is config:
            return hit[1]
    root = compile_routes(config.route, list(config.receivers), config.all_time_intervals)
    c = Compiled(
        root=root,
        receivers={r.name: r for r in config.receivers},
        integrations={r.name: integrations(r, config.global_) for r in config.receivers},
        time_intervals=compile_time_intervals(config.all_time_intervals),
    )
    with _lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[id(config)] = (config, c)
    return c
