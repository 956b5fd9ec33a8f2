"""Notifiers for the Alertmanager receiver types beyond Teams, email and webhook."""

from __future__ import annotations

from typing import Any

import httpx

from alerts.amconfig import GlobalConfig
from alerts.notify import DirectorySink, NotificationPayload, Notifier, NotifyResult

__all__ = ["UndeliveredNotifier", "build_channel"]


class UndeliveredNotifier:
    """A receiver type Vigil loads but does not deliver to: every notification fails, with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def notify(self, payload: NotificationPayload) -> NotifyResult:
        return NotifyResult(False, False, self.reason)


def build_channel(
    cfg: Any,
    *,
    global_cfg: GlobalConfig | None = None,
    sink: DirectorySink | None = None,
    transport: httpx.BaseTransport | None = None,
    templates: tuple[str, ...] = (),
) -> Notifier:
    """``templates``: the config's ``templates:`` globs, whose ``define`` blocks the fields may call."""
    from alerts.amconfig import AlertmanagerForwardConfig, OpsgenieConfig, PagerDutyConfig, SlackConfig
    from alerts.compiled import Undelivered

    if isinstance(cfg, SlackConfig):
        from alerts.channels.slack import SlackNotifier

        return SlackNotifier(cfg, global_cfg=global_cfg, sink=sink, transport=transport, templates=templates)
    if isinstance(cfg, PagerDutyConfig):
        from alerts.channels.pagerduty import PagerDutyNotifier

        return PagerDutyNotifier(cfg, global_cfg=global_cfg, sink=sink, transport=transport, templates=templates)
    if isinstance(cfg, OpsgenieConfig):
        from alerts.channels.opsgenie import OpsgenieNotifier

        return OpsgenieNotifier(cfg, global_cfg=global_cfg, sink=sink, transport=transport, templates=templates)
    if isinstance(cfg, AlertmanagerForwardConfig):
        from alerts.channels.alertmanager import AlertmanagerForwarder

        return AlertmanagerForwarder(cfg, global_cfg=global_cfg, sink=sink, transport=transport)
    if isinstance(cfg, Undelivered):
        return UndeliveredNotifier(cfg.reason)
    raise TypeError(f"unknown integration config {type(cfg).__name__}")
