"""Handlers: what every Function trigger (and the CLI, over a LocalRuntime) runs.

Each takes plain data and a :class:`vigil.runtime.Runtime`, delegates to the
package that owns the work (``vigil.drift_path``, ``ingest.cost``,
``detectors.*``, ``alerts.pipeline``/``alerts.dispatch``) and returns a small
JSON-able dict. Handlers are idempotent (delivery is at-least-once) and raise
to make the platform retry. Heavy imports (pandas, scikit-learn, pyarrow) stay
inside the handlers that need them: importing this module and handling a
resource event never loads them.

Sources of resources and metrics for the timer handlers: live Azure adapters are
not part of this build; a runtime whose ``VIGIL_TENANT_DIR`` setting names a tenant
folder (docs/tenant-layout.md) serves them offline. Without either, the metrics
and sweep timers report what is missing and do nothing (they do not raise:
retrying cannot create an adapter).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.model import Finding
from core.state.base import Namespace, StateUnavailableError

if TYPE_CHECKING:
    from vigil.config import VigilConfig
    from vigil.runtime import Runtime
    from vigil.tenant import TenantFolder

__all__ = [
    "RetryableError",
    "RuntimeOutbox",
    "card_action",
    "dispatch_alert",
    "handle_blob_created",
    "handle_detect",
    "handle_ingest_part",
    "handle_remediation",
    "handle_resource_events",
    "health",
    "link_signing",
    "run_digest",
    "run_metrics",
    "run_sweep",
    "silences_api",
]

log = logging.getLogger(__name__)

# Setting names and defaults (vigil/settings.py is the source of truth for the names).
INGEST_QUEUE = ("INGEST_QUEUE", "vigil-ingest")
DETECT_QUEUE = ("DETECT_QUEUE", "vigil-detect")
ALERTS_QUEUE = ("ALERTS_QUEUE", "vigil-alerts")
REMEDIATION_QUEUE = ("REMEDIATION_QUEUE", "vigil-remediation")
EXPORTS_CONTAINER = ("EXPORTS_CONTAINER", "cost-exports")
COSTS_CONTAINER = ("COSTS_CONTAINER", "costs")
TENANT_DIR = "VIGIL_TENANT_DIR"
COST_HISTORY = timedelta(days=100)  # enough for 8 weekly cycles of the anomaly model plus the month


class RetryableError(RuntimeError):
    """A transient failure: the handler raises it so the platform redelivers."""


def _setting(rt: Runtime, spec: tuple[str, str]) -> str:
    return rt.setting(spec[0], spec[1]) or spec[1]


def _now(message: Mapping[str, Any]) -> datetime:
    value = message.get("now")
    if value:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- outbox over a Runtime


class RuntimeOutbox:
    """The enqueue side of ``alerts.outbox.Outbox`` over ``rt.enqueue`` (the alerts queue).

    Each message is mirrored into ``Namespace.OUTBOX`` under its notification key, in the
    record shape ``alerts.outbox.QueueOutbox`` uses (so ``vigil alerts outbox`` lists it).
    Idempotent per key: a mirrored key is not queued again. The mirror is written after the
    queue send, so a crash in between queues a message twice, which delivery tolerates
    (``alerts.dispatch.deliver`` checks the notification log). A message too big for a
    queue message goes by reference (``{"ref": key}``) and is read back from the mirror.
    """

    MAX_INLINE_CHARS = 48_000  # Storage Queue messages hold 64 KiB; base64 costs a third

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.queue = _setting(rt, ALERTS_QUEUE)

    def enqueue(self, message: Mapping[str, Any], *, now: datetime, delay: timedelta = timedelta(0)) -> bool:
        key = str(message["key"])
        if self.rt.store.get(Namespace.OUTBOX, key) is not None:
            return False
        body: dict[str, Any] = {"message": dict(message), "attempts": 0}
        if len(json.dumps(body, default=str)) > self.MAX_INLINE_CHARS:
            body = {"ref": key, "attempts": 0}
        self.rt.enqueue(self.queue, body, visibility_timeout=int(delay.total_seconds()))
        self.rt.store.put(
            Namespace.OUTBOX,
            key,
            {
                "message": dict(message),
                "state": "pending",
                "attempts": 0,
                "enqueued_at": now.isoformat(),
                "updated_at": now.isoformat(),
                "queue": self.queue,
            },
        )
        return True


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
    for step in steps:
        if step.decision == "execute":
            rt.enqueue(_setting(rt, REMEDIATION_QUEUE), auto_request(step, run_id=run_id))
            queued += 1
    return {"planned": len(steps), "queued": queued}


def _alerts(findings: list[Finding], rt: Runtime, now: datetime) -> dict[str, Any]:
    from alerts.pipeline import process

    res = process(findings, config=rt.config, store=rt.store, outbox=RuntimeOutbox(rt), now=now)  # type: ignore[arg-type]
    out = res.to_dict()
    remediation = _auto_remediation(findings, rt, now)
    if remediation:
        out["remediation"] = remediation
    if res.next_flush_at is not None:
        # Groups waiting for group_wait: ask for a flush when they are due.
        delay = max(0, int((res.next_flush_at - now).total_seconds()) + 1)
        rt.enqueue(
            _setting(rt, DETECT_QUEUE),
            {"type": "flush", "now": res.next_flush_at.isoformat()},
            visibility_timeout=delay,
        )
        out["flush_scheduled_in_s"] = delay
    return out


# ----------------------------------------------------------------------------- sources


def _tenant(rt: Runtime) -> TenantFolder | None:
    folder = rt.setting(TENANT_DIR)
    if not folder:
        return None
    from vigil.tenant import TenantFolder

    return TenantFolder(folder)


_READERS: dict[int, Any] = {}


def _credential(rt: Runtime) -> Any:
    """The runtime's Entra credential (AzureRuntime has one; LocalRuntime does not)."""
    return getattr(rt, "credential", None)


def _client_kwargs(rt: Runtime) -> dict[str, Any]:
    """Extra azure-mgmt client arguments a runtime may offer (``azure_client_kwargs``: endpoint, CA)."""
    return dict(getattr(rt, "azure_client_kwargs", None) or {})


def _resource_reader(rt: Runtime) -> Any:
    """Where the event path reads resources: the tenant folder when configured, else ARM GET
    (``ingest.arm.ArmReader``) with the runtime's credential; None when neither exists."""
    tenant = _tenant(rt)
    if tenant is not None:
        return tenant
    credential = _credential(rt)
    if credential is None:
        return None
    reader = _READERS.get(id(rt))
    if reader is None or reader[0] is not rt:
        from ingest.arm import ArmReader

        reader = (rt, ArmReader(credential, **_client_kwargs(rt)))
        _READERS.clear()
        _READERS[id(rt)] = reader
    return reader[1]


_NO_LIVE = "no {what} source: this runtime has neither a tenant folder ({setting}) nor an Azure credential".replace(
    "{setting}", TENANT_DIR
)


# ----------------------------------------------------------------------------- event path

_RULES: dict[int, Any] = {}


def drift_rules(config: VigilConfig) -> Any:
    """The drift RuleSet for a config: the built-in pack plus ``detectors.drift.policy_paths``.

    Cached per config object (a warm Function instance compiles the policies once).
    """
    key = id(config)
    cached = _RULES.get(key)
    if cached is not None and cached[0] is config:
        return cached[1]
    from detectors.drift.loader import RuleSet, builtin_rules, load_policies, rules_from_policies

    drift = config.detectors.drift
    params = {k: dict(v) for k, v in drift.parameters.items()}
    rules = builtin_rules(params) + rules_from_policies(load_policies(drift.policy_paths, params))
    ruleset = RuleSet(rules)
    _RULES.clear()
    _RULES[key] = (config, ruleset)
    return ruleset


def handle_resource_events(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """Resource Write/Action/DeleteSuccess events -> drift verdicts -> alerts (cold path: no pandas)."""
    from vigil import drift_path

    reader = _resource_reader(rt)
    if reader is None:
        raise RetryableError(_NO_LIVE.format(what="ARM resource reader"))
    now = datetime.now(UTC)
    result = drift_path.handle_events(
        events,
        store=rt.store,
        reader=reader,
        rules=drift_rules(rt.config),
        now=now,
        api_version=getattr(reader, "api_version_for", None),
    )
    out: dict[str, Any] = {"drift": result.counts()}
    findings = list(result.findings)
    if findings:
        out["alerts"] = _alerts(findings, rt, max([now, *(f.observed_at for f in findings)]))
        drift_path.acknowledge(rt.store, findings)  # only now: a failure above leaves them pending
    return out


# ----------------------------------------------------------------------------- cost path


def _blob_path(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(container, blob path) from a BlobCreated subject ``/blobServices/default/containers/C/blobs/P``."""
    subject = str(event.get("subject") or "")
    marker = "/containers/"
    if marker not in subject or "/blobs/" not in subject:
        return None
    rest = subject.split(marker, 1)[1]
    container, _, path = rest.partition("/blobs/")
    return container, path


def handle_blob_created(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """BlobCreated on an export's manifest.json -> one ingest message per part."""
    from ingest.cost import plan_parts

    queue = _setting(rt, INGEST_QUEUE)
    planned = skipped = 0
    for event in events:
        where = _blob_path(event)
        if where is None or not where[1].endswith("manifest.json"):
            skipped += 1
            continue
        container, path = where
        data = rt.blobs(container).read(path)  # a missing blob raises: the platform retries
        messages = plan_parts(data, path)
        run_id = str(messages[0]["run_id"]) if messages else path
        marker = f"planned|{container}|{run_id}|{path}"
        if rt.store.get(Namespace.CHECKPOINTS, marker) is not None:
            skipped += 1
            continue
        for msg in messages:
            rt.enqueue(queue, {**msg, "container": container})
        rt.store.put(Namespace.CHECKPOINTS, marker, {"parts": len(messages), "event_id": event.get("id")})
        planned += len(messages)
    return {"parts_enqueued": planned, "skipped": skipped}


def handle_ingest_part(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Normalize one export part; the invocation that completes the run enqueues detection."""
    from ingest.cost import ingest_part

    source = rt.blobs(str(message.get("container") or _setting(rt, EXPORTS_CONTAINER)))
    result = ingest_part(message, source, rt.blobs(_setting(rt, COSTS_CONTAINER)), rt.store)
    if result.get("run_complete"):
        rt.enqueue(
            _setting(rt, DETECT_QUEUE),
            {
                "type": "cost-run",
                "run_id": result.get("run_id"),
                "days": result.get("days", []),
                "scope": result.get("scope"),
            },
        )
    return dict(result)


def handle_detect(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Overspend detection after a completed ingest run (or a scheduled group flush)."""
    now = _now(message)
    if message.get("type") == "flush":
        return {"alerts": _alerts([], rt, now)}
    from datetime import date

    from detectors.overspend import detect
    from ingest.cost import load_costs

    days = [date.fromisoformat(d) for d in message.get("days") or []]
    if not message.get("now") and days:
        now = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    costs = load_costs(rt.blobs(_setting(rt, COSTS_CONTAINER)), start=now - COST_HISTORY, end=now, aggregate=True)
    findings = detect(costs, config=rt.config.detectors.overspend, now=now, days=days or None)
    return {"cost_rows": len(costs), "findings": len(findings), "alerts": _alerts(findings, rt, now)}


# ----------------------------------------------------------------------------- timers


IDLE_TYPES = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/disks",
    "microsoft.network/publicipaddresses",
    "microsoft.machinelearningservices/workspaces",
    "microsoft.machinelearningservices/workspaces/computes",
)


def _idle_window_days(rt: Runtime) -> int:
    """The longest lookback any idle rule uses (every ``*lookback_days`` key of the idle config)."""
    cfg = rt.config.detectors.idle.model_dump()
    days = [int(v) for k, v in cfg.items() if k.endswith("lookback_days") and isinstance(v, int)]
    return max([7, *days])


def _live_idle_inputs(rt: Runtime, now: datetime) -> tuple[list[Mapping[str, Any]], dict[str, Any], dict[str, Any]]:
    """Resources from Resource Graph and their hourly metrics from Azure Monitor (``ingest.metrics``)."""
    from ingest.arm import resource_graph_query, resource_graph_sweep
    from ingest.metrics import MonitorMetrics

    credential = _credential(rt)
    scopes = rt.config.scopes
    resources: dict[str, Mapping[str, Any]] = {}
    for query in resource_graph_query(IDLE_TYPES).values():
        for row in resource_graph_sweep(
            credential,
            query=query,
            subscriptions=scopes.subscriptions,
            management_groups=scopes.management_groups,
            **_client_kwargs(rt),
        ):
            resources.setdefault(str(row.get("id", "")).lower(), row)
    options = dict(getattr(rt, "metrics_options", None) or {})
    options.setdefault("client_kwargs", _client_kwargs(rt))
    monitor = MonitorMetrics(credential, **options)
    start = now - timedelta(days=_idle_window_days(rt) + 1)
    metrics = monitor.fetch(resources.values(), start=start, end=now)
    stats = {
        "resources": len(resources),
        "metric_resources": len(metrics),
        "metric_failures": len(monitor.stats.failed),
    }
    return list(resources.values()), dict(metrics), stats


def run_metrics(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Idle detection over resources, metrics and the normalized costs.

    Sources: the tenant folder when configured, else Resource Graph and Azure Monitor with
    the runtime's credential.
    """
    tenant = _tenant(rt)
    stats: dict[str, Any] = {}
    if tenant is not None:
        resources: list[Mapping[str, Any]] = list(tenant.list())
        metrics: Mapping[str, Any] = tenant.all_series()
    elif _credential(rt) is not None:
        resources, metrics, stats = _live_idle_inputs(rt, now)
    else:
        msg = _NO_LIVE.format(what="metrics")
        log.warning("run_metrics skipped: %s", msg)
        return {"skipped": msg}
    from detectors.idle.detect import detect
    from ingest.cost import load_costs
    from vigil.pipeline import previous_findings

    costs = load_costs(rt.blobs(_setting(rt, COSTS_CONTAINER)), start=now - timedelta(days=31), end=now, aggregate=True)
    findings = detect(
        resources=resources,
        metrics=metrics,
        costs=costs,
        config=rt.config.detectors.idle,
        now=now,
        previous=previous_findings(rt.store, now, "idle"),
    )
    return {**stats, "findings": len(findings), "alerts": _alerts(findings, rt, now)}


def run_sweep(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Evaluate the drift rules over every resource (what events may have missed).

    Resources come from the tenant folder when configured, else from Azure Resource
    Graph over ``scopes`` (subscriptions and management groups) with the runtime's credential.
    """
    from vigil import drift_path

    rules = drift_rules(rt.config)
    tenant = _tenant(rt)
    if tenant is not None:
        resources: Iterable[Mapping[str, Any]] = tenant.list()
        related = drift_path.related_provider(tenant)
    else:
        credential = _credential(rt)
        if credential is None:
            msg = _NO_LIVE.format(what="Resource Graph")
            log.warning("run_sweep skipped: %s", msg)
            return {"skipped": msg}
        from ingest.arm import resource_graph_query, resource_graph_sweep

        scopes = rt.config.scopes
        types = {t for r in rules.rules for t in (r.policy.types or ())}
        rows: dict[str, Mapping[str, Any]] = {}  # by id: one row per resource across tables/pages
        for query in resource_graph_query(types).values():
            for row in resource_graph_sweep(
                credential,
                query=query,
                subscriptions=scopes.subscriptions,
                management_groups=scopes.management_groups,
                **_client_kwargs(rt),
            ):
                rows.setdefault(str(row.get("id", "")).lower(), row)
        resources = list(rows.values())
        related = drift_path.related_provider(_resource_reader(rt))
    result = drift_path.handle_resources(resources, store=rt.store, rules=rules, now=now, related=related)
    findings = list(result.findings)
    alerts = _alerts(findings, rt, now)
    drift_path.acknowledge(rt.store, findings)
    return {"drift": result.to_dict(), "alerts": alerts}


def run_digest(rt: Runtime, now: datetime) -> dict[str, Any]:
    """The weekly digest, one email per ``digests:`` entry, through the email channel."""
    digests = rt.config.digests
    if not digests:
        return {"digests": 0, "skipped": "no digests configured"}
    from alerts.digest.data import FindingRecord
    from alerts.digest.send import send_digests
    from ingest.cost import load_costs
    from vigil.pipeline import current_alerts

    costs = load_costs(rt.blobs(_setting(rt, COSTS_CONTAINER)), start=now - timedelta(days=70), end=now, aggregate=True)
    records = [FindingRecord.from_json(a) for a in current_alerts(rt.store, now)]
    email = _digest_email_config(rt)
    if email is None:
        return {"digests": 0, "skipped": "no email receiver (SMTP smarthost or ACS) to send the digest through"}
    from alerts.channels.email import EmailNotifier

    notifier = EmailNotifier(email, credential=getattr(rt, "credential", None) if email.transport == "acs" else None)
    sender = email.from_ or "vigil@localhost"

    def send(msg: Any, recipients: Any) -> None:
        res = notifier.send_message(msg, operation_key=f"digest:{msg['Subject']}", recipients=list(recipients))
        if not res.ok:
            raise (RetryableError if res.retryable else RuntimeError)(f"digest email: {res.reason}")

    from alerts.remediation.execute import ledger_entries

    results = send_digests(
        digests,
        costs,
        records,
        now=now,
        sender=sender,
        send=send,
        budgets=_budget_for(rt),
        remediation_log=list(ledger_entries(rt.store)),
    )
    failed = [r for r in results if r.error]
    if failed and len(failed) == len(results):
        raise RetryableError("every digest failed: " + "; ".join(f"{r.name}: {r.error}" for r in failed))
    return {"digests": len(results), "failed": [r.name for r in failed]}


def _budget_for(rt: Runtime) -> Any:
    from alerts.digest.send import monthly_budget

    budgets = rt.config.detectors.overspend.budgets
    return lambda cfg: monthly_budget(budgets, cfg)


def _digest_email_config(rt: Runtime) -> Any:
    """The transport for digests: the first email_configs entry (in receiver order) that can send."""
    for receiver in rt.config.receivers:
        for cfg in receiver.email_configs:
            if cfg.smarthost or cfg.transport == "acs":
                return cfg
    return None


# ----------------------------------------------------------------------------- delivery and health


def dispatch_alert(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Deliver one outbox message. Retryable channel failures raise (the queue redelivers)."""
    from alerts.dispatch import deliver
    from vigil.runtime import HasReceipts

    if "ref" in message and "message" not in message:
        rec = rt.store.get(Namespace.OUTBOX, str(message["ref"]))
        if rec is None or "message" not in rec.value:
            raise KeyError(f"outbox message {message['ref']} not found in the state store")
        body = dict(rec.value["message"])
    else:
        body = dict(message.get("message", message))
    now = datetime.now(UTC)
    signing_key, action_base_url = link_signing(rt)
    receipts = rt.receipts() if isinstance(rt, HasReceipts) else None
    res = deliver(
        body,
        config=rt.config,
        store=rt.store,
        now=now,
        signing_key=signing_key,
        action_base_url=action_base_url,
        receipts=receipts,
    )
    key = str(body.get("key"))
    rec = rt.store.get(Namespace.OUTBOX, key)
    if rec is not None:
        state = "sent" if res.ok else ("pending" if res.retryable else "failed")
        attempts = int(rec.value.get("attempts", 0)) + 1
        update = {"state": state, "attempts": attempts, "last_error": res.reason, "updated_at": now.isoformat()}
        rt.store.put(Namespace.OUTBOX, key, {**rec.value, **update, "detail": res.to_dict()})
    if res.retryable:
        raise RetryableError(f"notification {key}: {res.reason}")
    if not res.ok:
        log.error("notification %s failed permanently: %s", key, res.reason, extra={"key": key})
    return res.to_dict()


def _secret(rt: Runtime, name: str) -> str | None:
    """A secret setting; an unresolved Key Vault reference counts as unset."""
    value = rt.setting(name)
    if not value or value.startswith("@Microsoft.KeyVault("):
        return None
    return value


def link_signing(rt: Runtime) -> tuple[bytes | None, str | None]:
    """The key for signed card links, and the base URL they point at (with the
    card_action function key as ``?code=``). Cards carry no buttons without both."""
    key = _secret(rt, "VIGIL_SIGNING_KEY")
    base = rt.setting("VIGIL_PUBLIC_BASE_URL")
    if not key or not base:
        return (key.encode() if key else None), None
    code = _secret(rt, "VIGIL_ACTION_KEY")
    if code:
        from urllib.parse import urlencode

        base = f"{base.rstrip('/')}?{urlencode({'code': code})}"
    return key.encode(), base


def card_action(query: Mapping[str, str], rt: Runtime) -> tuple[int, dict[str, Any]]:
    """A button on a card (Acknowledge, Silence 24h, Approve remediation): check the
    signed link and act once. An approval is queued for the remediation worker."""
    from alerts.actions import action_response

    key, _ = link_signing(rt)
    now = datetime.now(UTC)
    status, body = action_response(query, key=key, store=rt.store, now=now)
    approval = body.get("approval") if status == 200 else None
    if approval:
        from alerts.remediation.approve import request_from_approval
        from alerts.remediation.findings import rule_actions_from_registry

        request, why = request_from_approval(
            approval, rule_actions=rule_actions_from_registry(), config=rt.config.remediation
        )
        if request is not None:
            rt.enqueue(_setting(rt, REMEDIATION_QUEUE), request)
        body["remediation"] = why
    return status, body


def silences_api(
    method: str,
    rt: Runtime,
    *,
    silence_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    state: str | None = None,
) -> tuple[int, Any]:
    """The silences API: GET list, POST create, DELETE {id} expire."""
    from alerts.actions import silences_response

    return silences_response(
        method, store=rt.store, now=datetime.now(UTC), silence_id=silence_id, body=body, state=state
    )


REMEDIATION_DEFER_S = 60
REMEDIATION_MAX_DEFERRALS = 60  # an hour: past CLAIM_TTL, when a dead holder's claim is taken over


def handle_remediation(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Execute one approved remediation (guards re-checked). Passing ARM errors raise (redelivery).

    While another worker acts on the same resource the request is queued again a minute later
    (the queue's own quick redeliveries would poison it during a long LRO)."""
    from alerts.remediation.execute import RemediationBusyError
    from vigil.remediation_worker import handle_remediation as work

    try:
        return work(message, rt, now=datetime.now(UTC))
    except RemediationBusyError as exc:
        deferrals = int(message.get("deferrals", 0)) + 1
        if deferrals > REMEDIATION_MAX_DEFERRALS:
            raise
        rt.enqueue(
            _setting(rt, REMEDIATION_QUEUE), {**message, "deferrals": deferrals}, visibility_timeout=REMEDIATION_DEFER_S
        )
        extra = {"deferrals": deferrals, "fingerprint": message.get("fingerprint")}
        log.info("remediation deferred: %s", exc, extra=extra)
        return {"ok": False, "deferred": str(exc), "deferrals": deferrals}


def health(rt: Runtime) -> dict[str, Any]:
    """Config loaded and state store reachable: ``{"ok": bool, "status": "ok"|"unhealthy", "checks": {...}}``."""
    checks: dict[str, str] = {}
    ok = True
    try:
        cfg = rt.config
        checks["config"] = f"ok ({len(cfg.receivers)} receivers)"
    except Exception as exc:  # any config error makes the app unhealthy; report it, do not crash
        checks["config"] = f"error: {exc}"
        ok = False
    try:
        rt.store.get(Namespace.CHECKPOINTS, "health-probe")
        checks["state"] = "ok"
    except Exception as exc:  # StateUnavailableError, or any backend failure: report, do not raise
        kind = "unavailable" if isinstance(exc, StateUnavailableError) else f"unavailable ({type(exc).__name__})"
        checks["state"] = f"{kind}: {exc}"
        ok = False
    checks["queues"] = ", ".join(_setting(rt, q) for q in (INGEST_QUEUE, DETECT_QUEUE, ALERTS_QUEUE))
    return {"ok": ok, "status": "ok" if ok else "unhealthy", "checks": checks}
