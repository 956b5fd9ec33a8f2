"""The timer handlers: idle detection (metrics), the drift sweep, the activity log, the weekly digest and
the forwarding of alerts to Alertmanager."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import COSTS_CONTAINER, RetryableError, raise_alerts, setting
from vigil.handlers.sources import NO_LIVE, live_sources

if TYPE_CHECKING:
    from core.model import Finding
    from core.state.base import StateStore
    from vigil.runtime import Runtime

__all__ = [
    "FORWARD_SCHEDULE",
    "previous_findings",
    "run_activity",
    "run_digest",
    "run_forward",
    "run_metrics",
    "run_sweep",
]

FORWARD_SCHEDULE = ("FORWARD_SCHEDULE", "0 */2 * * * *")

log = logging.getLogger(__name__)


def previous_findings(store: StateStore, now: datetime, detector: str) -> list[Finding]:
    """The firing alerts of one detector family, back as findings (for stateful detectors).

    Each finding's fingerprint equals its alert's (``Finding.from_alert_labels``); an alert
    whose labels do not round-trip is left out.
    """
    from alerts.alertstate import load_alerts
    from alerts.pipeline import RESOLVED_RETENTION
    from core.model import Finding

    records, _ = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    out = []
    for rec in records.values():
        labels = rec.labels
        if not rec.firing or labels.get("detector") != detector or "resource_id" not in labels:
            continue
        finding = Finding.from_alert_labels(labels, observed_at=rec.starts_at, annotations=rec.annotations)
        if finding.fingerprint == rec.fingerprint:
            out.append(finding)
    return out


def _idle_window_days(rt: Runtime) -> int:
    """The longest lookback any idle rule uses (every ``*lookback_days`` key of the idle config)."""
    cfg = rt.config.detectors.idle.model_dump()
    days = [int(v) for k, v in cfg.items() if k.endswith("lookback_days") and isinstance(v, int)]
    return max([7, *days])


def run_metrics(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Idle detection over resources, metrics and the normalized costs (sources: :class:`LiveSources`)."""
    inputs = live_sources(rt).idle_inputs(now, _idle_window_days(rt))
    if inputs is None:
        msg = NO_LIVE.format(what="metrics")
        log.warning("run_metrics skipped: %s", msg)
        return {"skipped": msg}
    resources, metrics, stats = inputs
    from detectors.idle.detect import detect
    from ingest.cost import load_costs

    costs = load_costs(rt.blobs(setting(rt, COSTS_CONTAINER)), start=now - timedelta(days=31), end=now, aggregate=True)
    findings = detect(
        resources=resources,
        metrics=metrics,
        costs=costs,
        config=rt.config.detectors.idle,
        now=now,
        previous=previous_findings(rt.store, now, "idle"),
    )
    return {**stats, "findings": len(findings), "alerts": raise_alerts(findings, rt, now)}


def run_sweep(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Evaluate the drift rules and the organisation's own policy assignments over every resource
    (what events may have missed).

    Resources come from the tenant folder when configured, else from Azure Resource Graph
    over ``scopes`` (subscriptions and management groups) with the runtime's credential.
    """
    from vigil import drift_path
    from vigil.handlers.events import drift_rules, history_retention, org_assignments

    rules = drift_rules(rt.config)
    assignments = org_assignments(rt, now)
    types = {t for r in rules.rules for t in (r.policy.types or ())}
    types |= {t for a in assignments.assignments for m in a.members for t in (m.policy.types or ())}
    swept = live_sources(rt).sweep_resources(types)
    if swept is None:
        msg = NO_LIVE.format(what="Resource Graph")
        log.warning("run_sweep skipped: %s", msg)
        return {"skipped": msg}
    resources, reader = swept
    related = drift_path.related_provider(reader)
    result = drift_path.handle_resources(
        resources,
        store=rt.store,
        rules=rules,
        now=now,
        related=related,
        assignments=assignments,
        retention=history_retention(rt.config),
    )
    findings = list(result.findings)
    alerts = raise_alerts(findings, rt, now)
    drift_path.acknowledge(rt.store, findings)
    from vigil.activity_path import forget_changes
    from vigil.drift_history import prune_expired

    pruned = prune_expired(rt.store, now=now, retention=history_retention(rt.config))
    forgotten = forget_changes(rt.store, now)
    return {"drift": result.to_dict(), "alerts": alerts, "history_pruned": pruned, "changes_pruned": forgotten}


def run_digest(rt: Runtime, now: datetime) -> dict[str, Any]:
    """The weekly digest, one email per ``digests:`` entry, through the email channel."""
    digests = rt.config.digests
    if not digests:
        return {"digests": 0, "skipped": "no digests configured"}
    from alerts.digest.data import FindingRecord
    from alerts.digest.send import monthly_budget, send_digests
    from alerts.pipeline import current_alerts
    from alerts.remediation.execute import ledger_entries
    from ingest.cost import load_costs
    from vigil.runtime import AzureAccess

    email = _digest_email_config(rt)
    if email is None:
        return {"digests": 0, "skipped": "no email receiver (SMTP smarthost or ACS) to send the digest through"}
    costs = load_costs(
        rt.blobs(setting(rt, COSTS_CONTAINER)),
        start=now - timedelta(days=70),
        end=now,
        aggregate=True,
        categorical=True,
    )
    records = [FindingRecord.from_json(a) for a in current_alerts(rt.store, now)]
    from alerts.channels.email import EmailNotifier

    credential = rt.credential if email.transport == "acs" and isinstance(rt, AzureAccess) else None
    notifier = EmailNotifier(email, credential=credential)
    sender = email.from_ or "vigil@localhost"

    def send(msg: Any, recipients: Any) -> None:
        res = notifier.send_message(msg, operation_key=f"digest:{msg['Subject']}", recipients=list(recipients))
        if not res.ok:
            raise (RetryableError if res.retryable else RuntimeError)(f"digest email: {res.reason}")

    budgets = rt.config.detectors.overspend.budgets
    results = send_digests(
        digests,
        costs,
        records,
        now=now,
        sender=sender,
        send=send,
        budgets=lambda cfg: monthly_budget(budgets, cfg),
        remediation_log=list(ledger_entries(rt.store)),
        display=rt.config.display,
    )
    failed = [r for r in results if r.error]
    if failed and len(failed) == len(results):
        raise RetryableError("every digest failed: " + "; ".join(f"{r.name}: {r.error}" for r in failed))
    return {"digests": len(results), "failed": [r.name for r in failed]}


def _digest_email_config(rt: Runtime) -> Any:
    """The transport for digests: the first email_configs entry (in receiver order) that can send."""
    for receiver in rt.config.receivers:
        for cfg in receiver.email_configs:
            if cfg.smarthost or cfg.transport == "acs":
                return cfg
    return None


def run_activity(rt: Runtime, now: datetime) -> dict[str, Any]:
    """The activity-log timer: new Activity Log records -> control-plane detections -> alerts.

    A tenant folder gives its ``activity/`` records. In Azure the configured sources
    (``sources.activity``: Activity Log REST, Log Analytics) are read incrementally, and the batch is
    committed only once its alerts are stored, so a failure in between reads the same records again."""
    from vigil.handlers.events import handle_activity

    sources = live_sources(rt)
    if sources.tenant is not None:
        return handle_activity([dict(r) for r in sources.activity_entries()], rt)
    if sources.azure is None:
        log.warning(NO_LIVE.format(what="activity log"))
        return {"skipped": NO_LIVE.format(what="activity log")}
    cfg = rt.config.sources.activity
    if not cfg.rest and not cfg.log_analytics:
        return {"skipped": "no activity-log source configured (sources.activity in vigil.yaml)"}
    from vigil.activity_path import read_live, remember_changes
    from vigil.runtime import HasLogsEndpoint

    kwargs = dict(sources.azure.azure_client_kwargs)
    logs = rt.logs_client_kwargs if isinstance(rt, HasLogsEndpoint) else None
    batch = read_live(
        rt.config, rt.store, now, credential=sources.azure.credential, arm_kwargs=kwargs, logs_kwargs=logs
    )
    out = handle_activity(batch.records, rt)
    out["changes_kept"] = remember_changes(rt.store, batch.records)  # for the sweep's and idle's attribution
    batch.commit()
    problems = [f"{key}: {problem}" for key, p in batch.progress.items() for problem in p.problems]
    if problems:  # a source that failed for a window is read again from its checkpoint next time
        out["problems"] = problems
    return out


def run_forward(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Re-post the alerts of ``alertmanager_configs`` receivers (:func:`alerts.forward.forward`): a firing
    alert ends two timer periods from now (the longest gap of ``FORWARD_SCHEDULE``), so one late or
    missed run does not resolve it in Alertmanager. A failed post is logged; the next run posts again."""
    from alerts.forward import forward
    from vigil.ncrontab import longest_gap
    from vigil.runtime import HasChannelSink

    period = longest_gap(setting(rt, FORWARD_SCHEDULE))
    sink = rt.channel_sink() if isinstance(rt, HasChannelSink) else None
    return forward(rt.config, rt.store, now, ends_after=2 * period, sink=sink)
