"""What every handler module shares: setting names, the retry signal, and raising alerts.

:func:`raise_alerts` is the one way findings become alerts and notifications, on every path
(events, cost, timers; Function App and CLI): ``alerts.pipeline.process`` into the alerts
queue (``alerts.outbox.QueueOutbox``), auto-remediation for what the routing allows without
approval, and a group flush scheduled on the detect queue for groups still in ``group_wait``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from core.model import Finding
    from detectors.config import OverspendConfig
    from vigil.runtime import Runtime

__all__ = [
    "ALERTS_QUEUE",
    "COSTS_CONTAINER",
    "DETECT_QUEUE",
    "DETECT_SCOPE_QUEUE",
    "EXPORTS_CONTAINER",
    "INGEST_QUEUE",
    "REMEDIATION_QUEUE",
    "TENANT_DIR",
    "RetryableError",
    "cost_history",
    "raise_alerts",
    "setting",
]

log = logging.getLogger(__name__)

# Setting names and defaults (vigil/settings.py is the source of truth for the names).
INGEST_QUEUE = ("INGEST_QUEUE", "vigil-ingest")
DETECT_QUEUE = ("DETECT_QUEUE", "vigil-detect")
DETECT_SCOPE_QUEUE = ("DETECT_SCOPE_QUEUE", "vigil-detect-scope")
ALERTS_QUEUE = ("ALERTS_QUEUE", "vigil-alerts")
REMEDIATION_QUEUE = ("REMEDIATION_QUEUE", "vigil-remediation")
EXPORTS_CONTAINER = ("EXPORTS_CONTAINER", "cost-exports")
COSTS_CONTAINER = ("COSTS_CONTAINER", "costs")
TENANT_DIR = "VIGIL_TENANT_DIR"


def cost_history(config: OverspendConfig) -> timedelta:
    """The cost rows a detection run loads: the anomaly model's ``history_days`` before the earliest day a run
    evaluates, and a month of days evaluated or restated after it."""
    return timedelta(days=config.history_days + 31)


class RetryableError(RuntimeError):
    """A transient failure: the handler raises it so the platform redelivers."""


def setting(rt: Runtime, spec: tuple[str, str]) -> str:
    """The app setting ``spec[0]``, else its default ``spec[1]``."""
    return rt.setting(spec[0], spec[1]) or spec[1]


def _auto_remediation(findings: list[Finding], rt: Runtime, now: datetime) -> dict[str, Any]:
    """Queue the remediation steps the routing and guards allow to run without approval
    (``auto``). The worker re-checks every guard against fresh state before acting."""
    if not any(f.status.value == "firing" for f in findings):
        return {}
    from alerts.remediation import plan
    from alerts.remediation.approve import auto_request
    from alerts.remediation.findings import rule_actions_from_registry
    from alerts.remediation.routing import mode_resolver

    cfg = rt.config
    steps = plan(
        findings,
        resources=lambda _rid: {},  # current state is read by the worker; the plan checks scope and grants
        config=cfg.remediation,
        rule_actions=rule_actions_from_registry(),
        now=now,
        mode_for=mode_resolver(cfg),
    )
    run_id = now.strftime("%Y%m%dT%H%M%S")
    queued = 0
    from alerts.remediation.policy import sign_request
    from vigil.handlers.delivery import link_signing

    key, _ = link_signing(rt)  # queue messages that can act are signed (the worker refuses others)
    for step in steps:
        if step.decision == "execute" and key:
            rt.enqueue(setting(rt, REMEDIATION_QUEUE), sign_request(auto_request(step, run_id=run_id), key=key))
            queued += 1
        elif step.decision == "execute":
            log.warning("auto remediation not queued: VIGIL_SIGNING_KEY is not set", extra={"rule": step.rule})
    return {"planned": len(steps), "queued": queued}


def raise_alerts(findings: list[Finding], rt: Runtime, now: datetime) -> dict[str, Any]:
    """Findings -> alerts -> the alerts queue (see the module docstring). Returns the counts."""
    from alerts.outbox import QueueOutbox
    from alerts.pipeline import process
    from vigil.activity_path import attribute
    from vigil.handlers.sources import live_sources

    # Drift and idle findings whose event named no caller get "changed by/when" from the activity log.
    findings = attribute(findings, live_sources(rt).activity_entries())  # read only if a finding needs it
    outbox = QueueOutbox(rt, rt.store, setting(rt, ALERTS_QUEUE))
    res = process(findings, config=rt.config, store=rt.store, outbox=outbox, now=now)
    out = res.to_dict()
    remediation = _auto_remediation(findings, rt, now)
    if remediation:
        out["remediation"] = remediation
    if res.next_flush_at is not None:
        # Groups waiting for group_wait: ask for a flush when they are due.
        delay = max(0, int((res.next_flush_at - now).total_seconds()) + 1)
        rt.enqueue(
            setting(rt, DETECT_QUEUE),
            {"type": "flush", "now": res.next_flush_at.isoformat()},
            visibility_timeout=delay,
        )
        out["flush_scheduled_in_s"] = delay
    return out
