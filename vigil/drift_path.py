"""The drift event path: Event Grid resource events -> verdicts -> state transitions -> findings.

``handle_events`` is what the Function App's ``resource_events`` trigger and
``vigil events replay`` run. For each delivery it

1. parses Event Grid or CloudEvents events (``ingest.events``); types other than
   ResourceWrite/Action/DeleteSuccess are dropped at once, malformed resource
   events are quarantined with their reason;
2. drops duplicates by event id (``Namespace.EVENTS``, add-if-absent);
3. skips resource types no rule applies to, without reading anything;
4. reads the resource once per batch through ``reader.get`` (ARM GET or a tenant
   folder); ``None`` (HTTP 404) counts as deleted;
5. evaluates only the rules for that type, and records each verdict as an
   ETag-guarded state transition (``Namespace.VERDICTS``), in event-time order, and each
   first observation or change of verdict in the verdict history (``vigil.drift_history``:
   ``Namespace.HISTORY``, with the event id and caller, or the sweep);
6. returns a FIRING finding for compliant/unknown -> non-compliant and a
   RESOLVED one for non-compliant -> compliant or deleted.

A write or delete of a diagnostic setting (a related resource of
auditIfNotExists rules) re-evaluates its parent resource.

Besides the rule pack, the organisation's own Azure Policy assignments
(``detectors.drift.assignments.AssignmentSet``: read from ARM or the tenant folder by the
caller, which caches them) are evaluated on every resource in their scope, minus
``notScopes`` and exemptions; their verdicts are recorded and reported the same way under the
rule ``assignment:<assignment name>[/<policyDefinitionReferenceId>]``, with the assignment's
id, display name and nonComplianceMessage in the finding's annotations.

Related resources (auditIfNotExists/deployIfNotExists) are read once per invocation for each
(scope, type): resources of one batch or sweep that share a resource group or subscription
scope share the read.

Cold path: imports neither pandas nor scikit-learn nor any Azure SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.model import Finding, ResourceRef, Severity, Status
from core.state.base import Namespace, StateStore
from core.state.typed import UNCHANGED, update
from detectors.drift.assignments import Assignment, AssignmentSet, Member
from detectors.drift.engine import EvalEnv, RelatedProvider, Verdict
from detectors.drift.loader import DriftRule, RuleSet
from detectors.drift.transitions import Action, Observation, decide
from ingest.events import EventBatch, Quarantined, ResourceEvent, cap_event_times, parse_events
from vigil.drift_history import DEFAULT_RETENTION, Retention, record_entry, worth_recording

__all__ = [
    "DriftResult",
    "ResourceReader",
    "acknowledge",
    "assignment_rule",
    "handle_events",
    "handle_resources",
    "has_pending",
    "related_provider",
    "verdict_key",
]

logger = logging.getLogger(__name__)

DETECTOR = "drift"
_MAX_ATTEMPTS = 8


@runtime_checkable
class ResourceReader(Protocol):
    """Reads one ARM resource by id; None when it does not exist (HTTP 404)."""

    def get(self, resource_id: str) -> dict[str, Any] | None: ...


@dataclass(slots=True)
class DriftResult:
    findings: list[Finding] = field(default_factory=list)
    processed: int = 0  # relevant events handled
    duplicates: int = 0
    replayed: int = 0  # duplicates re-handled because their transition was still pending (not yet alerted)
    irrelevant: int = 0  # event types or resource types no rule cares about
    stale: int = 0  # verdicts older than the stored one (out-of-order delivery)
    quarantined: list[Quarantined] = field(default_factory=list)
    evaluations: int = 0
    reads: int = 0
    related_reads: int = 0  # related-resource reads (one per scope and type per invocation)
    verdicts: list[Verdict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "processed": self.processed,
            "duplicates": self.duplicates,
            "replayed": self.replayed,
            "irrelevant": self.irrelevant,
            "quarantined": len(self.quarantined),
            "stale": self.stale,
            "evaluations": self.evaluations,
            "reads": self.reads,
            "related_reads": self.related_reads,
            "firing": sum(1 for f in self.findings if f.status is Status.FIRING),
            "resolved": sum(1 for f in self.findings if f.status is Status.RESOLVED),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "quarantined": [{"event_id": q.event_id, "reason": q.reason} for q in self.quarantined],
            "findings": [f.to_dict() for f in self.findings],
        }


def verdict_key(resource_id: str, rule: str) -> str:
    return f"{resource_id.strip().lower().rstrip('/')}|{rule}"


ASSIGNMENT_RULE_PREFIX = "assignment:"


def assignment_rule(assignment: Assignment, member: Member) -> str:
    """The drift rule id of one member of an organisation's assignment."""
    name = f"{assignment.name}/{member.reference_id}" if assignment.is_set else assignment.name
    return ASSIGNMENT_RULE_PREFIX + name


def _assignment_annotations(assignment: Assignment, member: Member | None) -> dict[str, str]:
    ann = {
        "title": assignment.display_name or assignment.name,
        "policy_assignment_id": assignment.id,
        "policy_assignment_name": assignment.name,
        "policy_assignment_display_name": assignment.display_name or assignment.name,
        "enforcement_mode": "Default" if assignment.enforce else "DoNotEnforce",
    }
    if assignment.is_set:
        ann["policy_set_definition_id"] = assignment.definition_id
    if member is not None:
        ann["policy_definition_id"] = member.policy.definition_id
        ann["policy_display_name"] = member.policy.display_name
        if member.reference_id:
            ann["policy_definition_reference_id"] = member.reference_id
        if member.message:
            ann["non_compliance_message"] = member.message
    return ann


def related_provider(reader: Any) -> RelatedProvider | None:
    """Related resources (e.g. diagnosticSettings) from the reader, when it can list them."""
    if hasattr(reader, "related"):
        related = reader.related

        def via_reader(resource: Mapping[str, Any], rtype: str) -> Sequence[Mapping[str, Any]] | None:
            result: Sequence[Mapping[str, Any]] | None = related(str(resource.get("id") or ""), rtype)
            return result

        return via_reader
    if hasattr(reader, "list"):
        lister = reader.list

        def via_list(resource: Mapping[str, Any], rtype: str) -> Sequence[Mapping[str, Any]] | None:
            prefix = str(resource.get("id") or "").lower().rstrip("/") + "/"  # children and extensions
            return [r for r in lister([rtype]) if str(r.get("id", "")).lower().startswith(prefix)]

        return via_list
    return None


def _parent_of_extension(resource_id: str) -> str | None:
    """``<parent>/providers/Microsoft.Insights/diagnosticSettings/x`` -> ``<parent>``."""
    low = resource_id.lower()
    idx = low.rfind("/providers/")
    return resource_id[:idx] if idx > 0 else None


# --------------------------------------------------------------------------- findings


def _finding(
    rule: DriftRule | None,
    rule_id: str,
    status: Status,
    resource: ResourceRef,
    *,
    when: datetime,
    verdict: Verdict | None,
    event: ResourceEvent | None,
    source: str,
    assignment: dict[str, str] | None = None,
) -> Finding:
    meta = rule.meta if rule is not None else None
    title = meta.title if meta is not None else (rule.policy.display_name if rule is not None else rule_id)
    if assignment is not None:
        title = assignment["title"]
    ann: dict[str, str] = {
        "title": title,
        "summary": f"{title}: {resource.name or resource.id}" + (" (resolved)" if status is Status.RESOLVED else ""),
        "source": source,
    }
    if rule is not None:
        ann["policy_definition_id"] = rule.policy.definition_id
        ann["policy_display_name"] = rule.policy.display_name
    if assignment is not None:
        ann.update({k: v for k, v in assignment.items() if k != "title"})
    if meta is not None:
        ann["risk"] = meta.risk
        ann["remediation"] = meta.remediation
        builtin = meta.extra.get("builtin_policy_id")
        if builtin:
            ann["builtin_policy_id"] = str(builtin)
        if meta.runbook_url:
            ann["runbook_url"] = meta.runbook_url
    if verdict is not None:
        ann["effect"] = verdict.effect
        ann["reason"] = verdict.reason
        if verdict.evidence:
            ann["violation"] = "; ".join(held for held, _, _ in verdict.evidence)
            # the conditions all held; compliance needs any one of them to fail
            ann["expected"] = " or ".join(expected for _, expected, _ in verdict.evidence)
            ann["actual"] = "; ".join(actual for _, _, actual in verdict.evidence)
    elif status is Status.RESOLVED:
        ann["reason"] = "resource deleted"
    if event is not None:
        ann["changed_by"] = event.caller or "unknown"
        ann["correlation_id"] = event.correlation_id
        ann["event_id"] = event.id
        ann["event_type"] = event.event_type
        if event.operation_name:
            ann["operation"] = event.operation_name
    evidence: dict[str, Any] = {}
    if verdict is not None:
        evidence["verdict"] = verdict.to_dict()
    if event is not None:
        evidence["event"] = {
            "id": event.id,
            "type": event.event_type,
            "time": event.event_time.isoformat(),
            "schema": event.schema,
            "caller": event.caller,
            "correlation_id": event.correlation_id,
        }
    return Finding(
        detector=DETECTOR,
        rule=rule_id,
        status=status,
        severity=meta.severity if meta is not None else Severity.MEDIUM,
        resource=resource,
        observed_at=when,
        annotations=ann,
        evidence=evidence,
    )


# --------------------------------------------------------------------------- transitions


_HISTORY_BASE = ("resource_id", "rule", "resource_type", "assignment_id")
_NOTIFY = "notify"  # a fire/resolve recorded with the verdict and not yet handed to the alerts pipeline


@dataclass(frozen=True, slots=True)
class _Source:
    """Where an observation came from, for its history entry (``vigil.drift_history``)."""

    kind: str  # "event", "sweep", ...
    event: ResourceEvent | None
    now: datetime
    retention: Retention

    @property
    def id(self) -> str:
        return self.event.id if self.event is not None else self.kind

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.kind, "recorded_at": self.now.isoformat()}
        e = self.event
        if e is not None:
            out.update(event_id=e.id, event_type=e.event_type, who=e.caller or "", correlation_id=e.correlation_id)
            if e.operation_name:
                out["operation"] = e.operation_name
        return out


def _transition(
    store: StateStore,
    key: str,
    base: Mapping[str, Any],
    obs: Observation,
    *,
    replay: bool = False,
    source: _Source | None = None,
) -> Action:
    """Record the verdict and return what to report.

    A fire or resolve is written *with* the verdict as pending (``notify``), in the same write,
    and stays pending until :func:`acknowledge` clears it after the alerts pipeline has taken
    the finding. A redelivered event (``replay``) reports a still-pending transition again, so
    a crash or storage outage between the verdict and the alert cannot lose the notification;
    the alerts pipeline is idempotent, so a repeat is harmless. Other events do not repeat it.
    """
    result: list[Action] = [Action.NONE]
    observed = {"compliant": obs.compliant, "deleted": obs.deleted, "event_time": obs.event_time.isoformat()}
    noted: list[tuple[bool, bool]] = [(False, False)]  # (write a history entry, the verdict existed)

    def record(current: Mapping[str, Any] | None) -> Any:
        decision = decide(current, obs)
        stale = decision.action is Action.STALE
        noted[0] = (worth_recording(current, observed, stale=stale), current is not None)
        pending = str(current.get(_NOTIFY) or "") if current is not None else ""
        action = decision.action
        if decision.record is None:
            # On a redelivery, a transition still pending is reported again (even when the stored
            # verdict is newer than the redelivered event: it is the stored transition that is pending).
            replayed = replay and pending and action in (Action.NONE, Action.STALE)
            result[0] = Action(pending) if replayed else action
            return UNCHANGED
        value = {**base, **decision.record}
        if action in (Action.FIRE, Action.RESOLVE):
            value[_NOTIFY] = action.value
        elif action is Action.NONE and pending:
            value[_NOTIFY] = pending  # still not taken by the alerts pipeline
            if replay:
                action = Action(pending)
        result[0] = action
        return value

    update(store, Namespace.VERDICTS, key, record, attempts=_MAX_ATTEMPTS)
    # After the verdict: a crash in between leaves the entry to the redelivery (worth_recording
    # repeats the stored observation; the key makes a second add a no-op).
    if source is not None and noted[0][0]:
        value = {**{k: base[k] for k in _HISTORY_BASE if k in base}, **observed, **source.details()}
        record_entry(
            store, key, obs.event_time, source.id, value,
            now=source.now, retention=source.retention, prune=noted[0][1],
        )  # fmt: skip
    return result[0]


def acknowledge(store: StateStore, findings: Iterable[Finding]) -> int:
    """Clear the pending mark of drift transitions the alerts pipeline has taken. Returns how many."""
    cleared = 0
    for f in findings:
        want = Action.FIRE.value if f.status is Status.FIRING else Action.RESOLVE.value
        key = verdict_key(f.resource.id, f.rule)
        taken: list[bool] = [False]

        def clear(current: Mapping[str, Any] | None, want: str = want, taken: list[bool] = taken) -> Any:
            taken[0] = current is not None and current.get(_NOTIFY) == want
            if not taken[0] or current is None:
                return UNCHANGED
            return {k: v for k, v in current.items() if k != _NOTIFY}

        update(store, Namespace.VERDICTS, key, clear, attempts=_MAX_ATTEMPTS)
        cleared += int(taken[0])
    return cleared


def has_pending(store: StateStore, resource_id: str) -> bool:
    ref = ResourceRef.from_id(resource_id)
    return any(rec.value.get(_NOTIFY) for rec in store.query(Namespace.VERDICTS, prefix=verdict_key(ref.id, "")))


class _Run:
    def __init__(
        self,
        store: StateStore,
        reader: ResourceReader,
        rules: RuleSet,
        now: datetime,
        result: DriftResult,
        *,
        api_version: Any = None,
        assignments: AssignmentSet | None = None,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self.store = store
        self.retention = retention
        self.reader = reader
        self.rules = rules
        self.by_id = {r.id: r for r in rules.rules}
        self.now = now
        self.result = result
        self.assignments = assignments if assignments is not None else AssignmentSet()
        self.related_cache: dict[tuple[str, str], Sequence[Mapping[str, Any]] | None] = {}
        self.related = self.cached_related(related_provider(reader))
        self.api_version = api_version
        self.cache: dict[str, dict[str, Any] | None] = {}
        self.replay = False  # handling a redelivered event: report still-pending transitions again

    def source(self, kind: str, event: ResourceEvent | None) -> _Source:
        return _Source(kind, event, self.now, self.retention)

    def cached_related(self, provider: RelatedProvider | None) -> RelatedProvider | None:
        """``provider`` with one read per (scope, type) for this invocation."""
        if provider is None:
            return None

        def cached(scope: Mapping[str, Any], rtype: str) -> Sequence[Mapping[str, Any]] | None:
            key = (str(scope.get("id") or "").lower().rstrip("/"), rtype.lower())
            if key not in self.related_cache:
                self.result.related_reads += 1
                self.related_cache[key] = provider(scope, rtype)
            return self.related_cache[key]

        return cached

    def forget_related(self, scope_id: str) -> None:
        """A related resource under ``scope_id`` changed: read it again."""
        low = scope_id.lower().rstrip("/")
        for key in [k for k in self.related_cache if k[0] == low]:
            del self.related_cache[key]

    def covers(self, resource_type: str) -> bool:
        return bool(self.rules.for_type(resource_type) or self.assignments.for_type(resource_type))

    def is_related_type(self, resource_type: str) -> bool:
        return self.rules.is_related_type(resource_type) or self.assignments.is_related_type(resource_type)

    def read(self, resource_id: str) -> dict[str, Any] | None:
        key = resource_id.lower()
        if key not in self.cache:
            self.result.reads += 1
            self.cache[key] = self.reader.get(resource_id)
        return self.cache[key]

    def evaluate(self, resource: Mapping[str, Any], when: datetime, event: ResourceEvent | None, source: str) -> None:
        rtype = str(resource.get("type") or "")
        rid = str(resource.get("id") or "")
        ref = ResourceRef.from_id(rid, type=rtype, location=str(resource.get("location") or ""))
        api = self.api_version(rtype) if callable(self.api_version) else self.api_version
        if event is not None and event.request_api_version:  # requestContext(): the request's own version
            api = event.request_api_version
        # utcNow() is the evaluation's now; subscription()/resourceGroup() read through the reader
        env = EvalEnv(now=self.now, api_version=api, scope_reader=getattr(self.reader, "scope_object", None))
        for rule in self.rules.for_type(rtype):
            verdict = rule.policy.evaluate(resource, related=self.related, env=env)
            self.result.evaluations += 1
            self.result.verdicts.append(verdict)
            base = {"resource_id": ref.id, "rule": rule.id, "resource_type": ref.type}
            fire_if_new = rule.meta is None or rule.meta.extra.get("fire_on_first_seen", True) is not False
            obs = Observation(verdict.compliant, when, fire_if_new=fire_if_new, received_at=self.now)
            key = verdict_key(ref.id, rule.id)
            origin = self.source(source, event)
            action = _transition(self.store, key, base, obs, replay=self.replay, source=origin)
            self._emit(action, rule, rule.id, ref, when=when, verdict=verdict, event=event, source=source)
        for assignment in self.assignments.for_type(rtype):
            verdicts = assignment.evaluate(
                resource, related=self.related, env=env, exemptions=self.assignments.exemptions
            )
            for verdict in verdicts:
                ref_id = verdict.rule.partition("/")[2] if assignment.is_set else ""
                member = assignment.member(ref_id)
                rule_id = ASSIGNMENT_RULE_PREFIX + verdict.rule
                self.result.evaluations += 1
                self.result.verdicts.append(verdict)
                base = {
                    "resource_id": ref.id,
                    "rule": rule_id,
                    "resource_type": ref.type,
                    "assignment_id": assignment.id,
                }
                obs = Observation(verdict.compliant, when, received_at=self.now)
                key = verdict_key(ref.id, rule_id)
                origin = self.source(source, event)
                action = _transition(self.store, key, base, obs, replay=self.replay, source=origin)
                ann = _assignment_annotations(assignment, member)
                self._emit(
                    action, None, rule_id, ref, when=when, verdict=verdict, event=event, source=source, assignment=ann
                )

    def deleted(self, resource_id: str, when: datetime, event: ResourceEvent | None, source: str) -> None:
        ref = ResourceRef.from_id(resource_id)
        for rec in list(self.store.query(Namespace.VERDICTS, prefix=verdict_key(ref.id, ""))):
            rule_id = str(rec.value.get("rule") or rec.key.rsplit("|", 1)[-1])
            ann: dict[str, str] | None = None
            assignment = self.assignments.by_id(str(rec.value.get("assignment_id") or ""))
            if assignment is not None:
                ann = _assignment_annotations(assignment, assignment.member(rule_id.partition("/")[2]))
            elif rule_id.startswith(ASSIGNMENT_RULE_PREFIX):
                ann = {"title": rule_id[len(ASSIGNMENT_RULE_PREFIX) :]}
                if rec.value.get("assignment_id"):
                    ann["policy_assignment_id"] = str(rec.value["assignment_id"])
            action = _transition(
                self.store,
                rec.key,
                dict(rec.value),
                Observation(None, when, deleted=True, received_at=self.now),
                replay=self.replay,
                source=self.source(source, event),
            )
            self._emit(
                action,
                self.by_id.get(rule_id),
                rule_id,
                ref,
                when=when,
                verdict=None,
                event=event,
                source=source,
                assignment=ann,
            )

    def _emit(
        self,
        action: Action,
        rule: DriftRule | None,
        rule_id: str,
        ref: ResourceRef,
        *,
        when: datetime,
        verdict: Verdict | None,
        event: ResourceEvent | None,
        source: str,
        assignment: dict[str, str] | None = None,
    ) -> None:
        if action is Action.STALE:
            self.result.stale += 1
            return
        if action is Action.NONE:
            return
        status = Status.FIRING if action is Action.FIRE else Status.RESOLVED
        finding = _finding(
            rule, rule_id, status, ref, when=when, verdict=verdict, event=event, source=source, assignment=assignment
        )
        self.result.findings.append(finding)
        logger.info(
            "drift %s: %s on %s",
            status.value,
            rule_id,
            ref.id,
            extra={"rule": rule_id, "resource_id": ref.id, "status": status.value, "fingerprint": finding.fingerprint},
        )

    def relevant(self, event: ResourceEvent) -> bool:
        """Cheap pre-check: could any rule care about this event's resource?"""
        rtype = ResourceRef.from_id(event.resource_id).type
        if self.covers(rtype):
            return True
        if self.is_related_type(rtype):
            parent = _parent_of_extension(event.resource_id)
            return parent is not None and self.covers(ResourceRef.from_id(parent).type)
        return event.is_delete and self.store_has(event.resource_id)

    def handle(self, event: ResourceEvent) -> None:
        rid = event.resource_id
        rtype = ResourceRef.from_id(rid).type
        if self.is_related_type(rtype):
            # A diagnostic setting changed: its parent's auditIfNotExists rules may change.
            parent = _parent_of_extension(rid)
            if parent is not None:
                self.cache.pop(parent.lower(), None)
                self.forget_related(parent)
                resource = self.read(parent)
                if resource is not None:
                    self.evaluate(resource, event.event_time, event, "event")
                self.result.processed += 1
                return
        if event.is_delete:
            if not (self.covers(rtype) or self.store_has(rid)):
                self.result.irrelevant += 1
                return
            self.result.processed += 1
            resource = self.read(rid)  # a delete is believed only once ARM answers 404
            if resource is None:
                self.deleted(rid, event.event_time, event, "event")
            elif self.covers(rtype):
                self.evaluate(resource, event.event_time, event, "event")
            return
        if not self.covers(rtype):
            self.result.irrelevant += 1
            return
        resource = self.read(rid)
        self.result.processed += 1
        if resource is None:  # 404: deleted since the event was sent
            self.deleted(rid, event.event_time, event, "event")
            return
        self.evaluate(resource, event.event_time, event, "event")

    def store_has(self, resource_id: str) -> bool:
        prefix = verdict_key(resource_id, "")
        return next(iter(self.store.query(Namespace.VERDICTS, prefix=prefix)), None) is not None


def _ruleset(rules: RuleSet | Iterable[DriftRule]) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else RuleSet(rules)


def handle_events(
    events: Any,
    *,
    store: StateStore,
    reader: ResourceReader,
    rules: RuleSet | Iterable[DriftRule],
    now: datetime,
    api_version: Any = None,
    assignments: AssignmentSet | None = None,
    retention: Retention = DEFAULT_RETENTION,
) -> DriftResult:
    """Handle one Event Grid delivery (see the module docstring).

    ``events``: raw JSON, one event dict, a list of event dicts, or an EventBatch.
    ``api_version``: the value of ``requestContext().apiVersion`` (a string, or a
    function of the resource type). ``assignments``: the organisation's own Azure Policy
    assignments and exemptions, evaluated beside ``rules``. Reader errors propagate (after forgetting
    the event id) so the platform redelivers, except ``PermissionError`` (HTTP 403),
    which quarantines the event with its reason.
    """
    batch = cap_event_times(events if isinstance(events, EventBatch) else parse_events(events), now)
    result = DriftResult(irrelevant=batch.irrelevant, quarantined=list(batch.quarantined))
    for q in batch.quarantined:
        shown = q.event_id or "(without an id)"
        logger.warning("quarantined event %s: %s", shown, q.reason, extra={"event_id": q.event_id})
    if api_version is None:  # the ARM reader knows which api-version it reads each type with
        api_version = getattr(reader, "api_version_for", None)
    run = _Run(
        store, reader, _ruleset(rules), now, result, api_version=api_version, assignments=assignments,
        retention=retention,
    )  # fmt: skip
    for event in sorted(batch.events, key=lambda e: e.event_time):
        if not run.relevant(event):
            result.irrelevant += 1  # no rule covers the type: dropped before any I/O
            continue
        marker = {
            "type": event.event_type,
            "resource_id": event.resource_id,
            "event_time": event.event_time.isoformat(),
            "received": now.isoformat(),
        }
        # The event id is marked done only once its verdicts are recorded; a marker left behind by
        # an attempt that failed midway (storage outage, crash) does not make the redelivery a duplicate.
        duplicate = False
        if not store.add(Namespace.EVENTS, event.id, marker):
            seen = store.get(Namespace.EVENTS, event.id)
            if seen is None or seen.value.get("done"):
                duplicate = True
                result.duplicates += 1
                if not has_pending(store, event.resource_id):
                    continue
            # A redelivery after a failure before the verdict, or between the verdict and the
            # alert: handle it again and report any transition still pending.
            run.replay = True
        try:
            before = result.processed
            run.handle(event)
            if duplicate:  # counted as a duplicate already
                result.processed = before
                result.replayed += 1
            store.put(Namespace.EVENTS, event.id, {**marker, "done": True})
        except PermissionError as exc:
            # e.g. HTTP 403 on the ARM GET: a redelivery would fail the same way.
            result.quarantined.append(Quarantined(event.id, f"event {event.id}: {exc}", -1))
            logger.warning("quarantined event %s: %s", event.id, exc, extra={"event_id": event.id})
            store.put(Namespace.EVENTS, event.id, {**marker, "done": True, "quarantined": str(exc)})
        finally:
            run.replay = False
    return result


def handle_resources(
    resources: Iterable[Mapping[str, Any]],
    *,
    store: StateStore,
    rules: RuleSet | Iterable[DriftRule],
    now: datetime,
    related: RelatedProvider | None = None,
    source: str = "sweep",
    resolve_missing: bool = False,
    assignments: AssignmentSet | None = None,
    retention: Retention = DEFAULT_RETENTION,
) -> DriftResult:
    """The sweep path: evaluate resources (e.g. from Resource Graph) as of ``now``.

    With ``resolve_missing`` (only when the sweep covered every monitored scope), a
    resource that still has a firing verdict but was not in the sweep is treated as
    deleted (a missed ResourceDeleteSuccess) and resolves.
    """
    result = DriftResult()
    ruleset = _ruleset(rules)
    run = _Run(store, _NoReader(), ruleset, now, result, assignments=assignments, retention=retention)
    run.related = run.cached_related(related)
    seen: set[str] = set()
    for resource in resources:
        result.processed += 1
        seen.add(str(resource.get("id") or "").strip().lower().rstrip("/"))
        run.evaluate(resource, now, None, source)
    if resolve_missing:
        firing = {
            str(rec.value.get("resource_id") or "")
            for rec in store.query(Namespace.VERDICTS)
            if rec.value.get("compliant") is False and not rec.value.get("deleted")
        }
        for rid in sorted(firing - seen):
            if rid:
                run.deleted(rid, now, None, source)
    return result


class _NoReader:
    def get(self, resource_id: str) -> dict[str, Any] | None:
        return None
