"""The event path: Azure resource events -> drift verdicts -> alerts (cold path: no pandas)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import RetryableError, raise_alerts
from vigil.handlers.sources import NO_LIVE, live_sources

if TYPE_CHECKING:
    from detectors.drift.assignments import AssignmentSet
    from detectors.drift.loader import RuleSet
    from vigil.config import VigilConfig
    from vigil.drift_history import Retention
    from vigil.runtime import Runtime

__all__ = [
    "ASSIGNMENTS_REFRESH",
    "drift_rules",
    "handle_activity",
    "handle_resource_events",
    "history_retention",
    "org_assignments",
]

log = logging.getLogger(__name__)

_RULES: tuple[VigilConfig, RuleSet] | None = None

#: How long the organisation's assignments are reused before they are read again (they change
#: rarely; a warm Function instance reads them at most this often), and after a failed read.
ASSIGNMENTS_REFRESH = timedelta(minutes=15)
ASSIGNMENTS_RETRY = timedelta(minutes=1)
_ASSIGNMENTS: dict[tuple[str, ...], tuple[datetime, AssignmentSet]] = {}  # source -> (valid until, set)


def drift_rules(config: VigilConfig) -> RuleSet:
    """The drift RuleSet for a config: the built-in pack plus ``detectors.drift.policy_paths``.

    Kept while the same config object is in use (a warm Function instance compiles the
    policies once).
    """
    global _RULES  # noqa: PLW0603
    cached = _RULES
    if cached is not None and cached[0] is config:
        return cached[1]
    from detectors.drift.loader import RuleSet, builtin_rules, load_policies, rules_from_policies

    drift = config.detectors.drift
    params = {k: dict(v) for k, v in drift.parameters.items()}
    ruleset = RuleSet(builtin_rules(params) + rules_from_policies(load_policies(drift.policy_paths, params)))
    _RULES = (config, ruleset)
    return ruleset


def history_retention(config: VigilConfig) -> Retention:
    """The verdict history's retention (``detectors.drift.history_days`` / ``history_entries``)."""
    from vigil.drift_history import Retention

    drift = config.detectors.drift
    return Retention(days=drift.history_days, entries=drift.history_entries)


def _read_assignments(rt: Runtime) -> tuple[tuple[str, ...], Any] | None:
    """(cache key, reader of the PolicyDocuments) for the runtime's source; None without one."""
    sources = live_sources(rt)
    if sources.tenant is not None:
        tenant = sources.tenant
        return ("tenant", str(tenant.root.resolve())), tenant.policy_documents
    azure = sources.azure
    subscriptions = tuple(rt.config.scopes.subscriptions)
    if azure is None or not subscriptions:
        return None

    def from_arm() -> Any:
        from detectors.drift.assignments import PolicyDocuments
        from detectors.drift.loader import builtin_definitions
        from ingest.policy_state import read_policy_documents

        docs = PolicyDocuments()
        known = list(builtin_definitions())
        for sub in subscriptions:
            for i, doc in enumerate(
                read_policy_documents(azure.credential, sub, known_definitions=known, **azure.azure_client_kwargs)
            ):
                docs.add(doc, f"ARM /subscriptions/{sub} [{i}]")
            known.extend(docs.definitions)
        return docs

    return ("azure", *subscriptions), from_arm


def org_assignments(rt: Runtime, now: datetime) -> AssignmentSet:
    """The organisation's own Azure Policy assignments and exemptions (tenant folder ``policy/``,
    or ARM for the config's subscriptions), compiled. Those read through ARM are reused for
    :data:`ASSIGNMENTS_REFRESH`; a tenant folder is local files, read again on every call (so an
    edited ``policy/`` counts at once, whatever ``now`` a CLI run is given).

    A failed read is logged and the last good set (or none) is used until a retry a minute
    later: the rule pack still evaluates. Assignments that do not compile are logged and left out.
    """
    from detectors.drift.assignments import AssignmentSet
    from detectors.drift.engine import PolicyLoadError
    from detectors.drift.loader import builtin_definitions

    found = _read_assignments(rt)
    if found is None:
        return AssignmentSet()
    key, read = found
    cached = _ASSIGNMENTS.get(key)
    if cached is not None and now < cached[0]:
        return cached[1]
    try:
        docs = read()
        compiled = AssignmentSet.from_documents(docs, builtin_definitions())
    except Exception as exc:
        # a bad document, or an ARM error (azure.core's HttpResponseError): the pack still evaluates
        expected = isinstance(exc, (PolicyLoadError, OSError, ValueError, LookupError))
        if not expected and type(exc).__module__.split(".")[0] != "azure":
            raise
        log.warning("cannot read policy assignments: %s", exc, extra={"source": key[0]})
        stale = cached[1] if cached is not None else AssignmentSet()
        if key[0] != "tenant":
            _ASSIGNMENTS[key] = (now + ASSIGNMENTS_RETRY, stale)
        return stale
    for err in compiled.errors:
        log.warning("policy assignment left out: %s", err, extra={"source": key[0]})
    log.info(
        "policy assignments loaded",
        extra={"source": key[0], "assignments": len(compiled), "exemptions": len(compiled.exemptions)},
    )
    if key[0] != "tenant":
        _ASSIGNMENTS[key] = (now + ASSIGNMENTS_REFRESH, compiled)
    return compiled


def handle_resource_events(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """Resource Write/Action/DeleteSuccess events -> drift verdicts -> alerts."""
    from vigil import drift_path

    reader = live_sources(rt).resource_reader()
    if reader is None:
        raise RetryableError(NO_LIVE.format(what="ARM resource reader"))
    now = rt.now()
    result = drift_path.handle_events(
        events,
        store=rt.store,
        reader=reader,
        rules=drift_rules(rt.config),
        now=now,
        assignments=org_assignments(rt, now),
        retention=history_retention(rt.config),
    )
    out: dict[str, Any] = {"drift": result.counts(), "quarantined": len(result.quarantined)}
    findings = list(result.findings)
    if findings:
        when: datetime = max([now, *(f.observed_at for f in findings)])
        out["alerts"] = raise_alerts(findings, rt, when)
        drift_path.acknowledge(rt.store, findings)  # only now: a failure above leaves them pending
    return out


def handle_activity(records: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """Activity Log records -> control-plane detections (``detectors.activity``) -> alerts.

    The records come from the tenant folder (the CLI) or from ``ingest.activity``'s incremental
    readers, whose caller commits the batch once this returns."""
    from vigil.activity_path import detect_activity

    now = rt.now()
    findings = detect_activity(records, rt.config, now)
    out: dict[str, Any] = {"records": len(records), "findings": len(findings)}
    out["alerts"] = raise_alerts(findings, rt, now)
    return out
