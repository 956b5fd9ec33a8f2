"""Initiatives (policy set definitions), assignments and exemptions, as Azure Policy applies them.

* A **policy set definition** (initiative) groups definitions: ``properties.policyDefinitions[]``
  with ``policyDefinitionId``, ``policyDefinitionReferenceId`` and ``parameters`` whose values
  are expressions over the set's own parameters (``"[parameters('effect')]"``).
* An **assignment** binds a definition or a set to a ``scope`` (minus ``notScopes``) with
  ``parameters``, ``enforcementMode`` (``Default`` or ``DoNotEnforce``: still evaluated and
  reported, never enforced) and ``nonComplianceMessages`` (one for the assignment, or one per
  ``policyDefinitionReferenceId``).
* An **exemption** (``Microsoft.Authorization/policyExemptions``) exempts the resources at
  and below its scope from an assignment (all its members, or the listed
  ``policyDefinitionReferenceIds``), as ``Waiver`` or ``Mitigated``, until ``expiresOn``. An
  exempt resource is reported compliant with the exemption in the reason; an expired
  exemption no longer applies.

Documents are what ``az policy ... show``/``list`` print (``id``, ``name``, ``properties``).
Everything is compiled once; a bad document is a :class:`PolicyLoadError` naming the source
and the JSON path. Pure: the caller reads the documents (tenant folder or ARM).

Scopes: a resource is in a subscription or resource-group scope when its id is at or under
it. A management-group scope (``/providers/Microsoft.Management/managementGroups/<mg>``)
covers every resource given, since the subscription-to-management-group tree is not read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detectors.drift.engine import (
    CompiledPolicy,
    EvalEnv,
    PolicyLoadError,
    RelatedProvider,
    Verdict,
    _bind_parameters,
    compile_policy,
)
from detectors.drift.expr import ExprError, compile_expr

__all__ = [
    "Assignment",
    "AssignmentSet",
    "Exemption",
    "Member",
    "PolicyDocuments",
    "compile_assignment",
    "load_policy_documents",
    "parse_exemption",
]

_ASSIGNMENT = "microsoft.authorization/policyassignments"
_DEFINITION = "microsoft.authorization/policydefinitions"
_SET = "microsoft.authorization/policysetdefinitions"
_EXEMPTION = "microsoft.authorization/policyexemptions"
_MG = "/providers/microsoft.management/managementgroups/"


def _props(doc: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    props = doc.get("properties")
    if not isinstance(props, Mapping):
        raise PolicyLoadError(source, "$.properties", "expected an object")
    return props


def _under(resource_id: str, scope: str) -> bool:
    rid, sc = resource_id.lower().rstrip("/"), scope.lower().rstrip("/")
    if sc.startswith(_MG) or sc == "":
        return True
    return rid == sc or rid.startswith(sc + "/")


def _scope_of(document_id: str, kind: str) -> str:
    low = document_id.lower()
    marker = f"/providers/{kind}/"
    i = low.rfind(marker)
    return document_id[:i] if i >= 0 else ""


def _parse_time(value: Any, source: str, path: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PolicyLoadError(source, path, f"not an ISO 8601 date-time: {value!r}") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Exemption:
    id: str
    scope: str
    assignment_id: str
    category: str  # "Waiver" or "Mitigated"
    reference_ids: frozenset[str] = frozenset()  # lower case; empty: every member
    expires_on: datetime | None = None

    def applies(self, resource_id: str, assignment_id: str, reference_id: str, now: datetime | None) -> bool:
        if self.assignment_id.lower() != assignment_id.lower() or not _under(resource_id, self.scope):
            return False
        if self.reference_ids and reference_id.lower() not in self.reference_ids:
            return False
        return not (self.expires_on is not None and now is not None and now >= self.expires_on)


def parse_exemption(doc: Mapping[str, Any], *, source: str = "<exemption>") -> Exemption:
    props = _props(doc, source)
    category = str(props.get("exemptionCategory") or "")
    if category.lower() not in ("waiver", "mitigated"):
        raise PolicyLoadError(
            source, "$.properties.exemptionCategory", f"must be Waiver or Mitigated, not {category!r}"
        )
    assignment_id = props.get("policyAssignmentId")
    if not isinstance(assignment_id, str) or not assignment_id:
        raise PolicyLoadError(source, "$.properties.policyAssignmentId", "missing")
    refs = props.get("policyDefinitionReferenceIds") or []
    if not isinstance(refs, list):
        raise PolicyLoadError(source, "$.properties.policyDefinitionReferenceIds", "expected an array")
    eid = str(doc.get("id") or "")
    return Exemption(
        id=eid,
        scope=_scope_of(eid, "microsoft.authorization/policyexemptions"),
        assignment_id=assignment_id,
        category="Waiver" if category.lower() == "waiver" else "Mitigated",
        reference_ids=frozenset(str(r).lower() for r in refs),
        expires_on=_parse_time(props.get("expiresOn"), source, "$.properties.expiresOn"),
    )


@dataclass(frozen=True, slots=True)
class Member:
    """One definition of an assignment (the definition itself, or one member of the set)."""

    policy: CompiledPolicy
    reference_id: str = ""
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    id: str
    name: str
    scope: str
    definition_id: str  # the assigned definition or set
    members: tuple[Member, ...]
    not_scopes: tuple[str, ...] = ()
    enforce: bool = True
    is_set: bool = False
    display_name: str = ""

    def applies_to(self, resource_type: str) -> bool:
        return any(m.policy.applies_to(resource_type) for m in self.members)

    def member(self, reference_id: str) -> Member | None:
        return next((m for m in self.members if m.reference_id.lower() == reference_id.lower()), None)

    def in_scope(self, resource_id: str) -> bool:
        return _under(resource_id, self.scope) and not any(
            _under(resource_id, ns) for ns in self.not_scopes if not ns.lower().startswith(_MG)
        )

    def evaluate(
        self,
        resource: Mapping[str, Any],
        *,
        related: RelatedProvider | None = None,
        env: EvalEnv | None = None,
        exemptions: Iterable[Exemption] = (),
    ) -> list[Verdict]:
        """A verdict per member that applies to the resource (none when it is out of scope)."""
        rid = str(resource.get("id") or "")
        if not self.in_scope(rid):
            return []
        base = env or EvalEnv()
        exemptions = list(exemptions)
        rtype = str(resource.get("type") or "")
        out = []
        for m in self.members:
            if not m.policy.applies_to(rtype):
                continue
            rule = f"{self.name}/{m.reference_id}" if self.is_set else self.name
            exempt = next((e for e in exemptions if e.applies(rid, self.id, m.reference_id, base.now)), None)
            if exempt is not None:
                until = f" until {exempt.expires_on.isoformat()}" if exempt.expires_on else ""
                reason = f"exempt ({exempt.category}) by {exempt.id}{until}"
                out.append(dataclasses.replace(m.policy._verdict(rid, True, reason), rule=rule))
                continue
            menv = dataclasses.replace(
                base,
                assignment_id=self.id,
                set_definition_id=self.definition_id if self.is_set else "",
                definition_reference_id=m.reference_id,
            )
            v = m.policy.evaluate(resource, related=related, env=menv)
            reason = v.reason
            if v.compliant is False:
                if m.message:
                    reason = f"{m.message} ({reason})"
                if not self.enforce:
                    reason += " [enforcementMode DoNotEnforce: reported, not enforced]"
            out.append(dataclasses.replace(v, rule=rule, reason=reason))
        return out


def _messages(props: Mapping[str, Any], source: str) -> tuple[str | None, dict[str, str]]:
    raw = props.get("nonComplianceMessages") or []
    if not isinstance(raw, list):
        raise PolicyLoadError(source, "$.properties.nonComplianceMessages", "expected an array")
    default: str | None = None
    per_ref: dict[str, str] = {}
    for i, m in enumerate(raw):
        if not isinstance(m, Mapping) or not isinstance(m.get("message"), str):
            raise PolicyLoadError(source, f"$.properties.nonComplianceMessages[{i}].message", "expected a string")
        ref = m.get("policyDefinitionReferenceId")
        if ref:
            per_ref[str(ref).lower()] = m["message"]
        else:
            default = m["message"]
    return default, per_ref


def _no_field(name: str) -> Any:
    raise ExprError(f"field({name!r}) cannot be used in a parameter value")


def compile_assignment(
    doc: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    source: str = "<assignment>",
) -> Assignment:
    """Compile an assignment; ``definitions`` maps definition and set ids (any case) to documents."""
    props = _props(doc, source)
    by_id = {k.lower(): v for k, v in definitions.items()}
    target = props.get("policyDefinitionId")
    if not isinstance(target, str) or target.lower() not in by_id:
        raise PolicyLoadError(source, "$.properties.policyDefinitionId", f"unknown definition or set {target!r}")
    target_doc = by_id[target.lower()]
    aid = str(doc.get("id") or "")
    scope = str(props.get("scope") or _scope_of(aid, "microsoft.authorization/policyassignments"))
    not_scopes = props.get("notScopes") or []
    if not isinstance(not_scopes, list) or not all(isinstance(s, str) for s in not_scopes):
        raise PolicyLoadError(source, "$.properties.notScopes", "expected an array of scope ids")
    mode = str(props.get("enforcementMode") or "Default")
    if mode.lower() not in ("default", "donotenforce"):
        raise PolicyLoadError(source, "$.properties.enforcementMode", f"must be Default or DoNotEnforce, not {mode!r}")
    values = props.get("parameters") or {}
    if not isinstance(values, Mapping):
        raise PolicyLoadError(source, "$.properties.parameters", "expected an object")
    default_msg, per_ref = _messages(props, source)
    tprops = _props(target_doc, f"{source} -> {target}")
    is_set = "policyDefinitions" in tprops
    members: list[Member] = []
    if not is_set:
        policy = compile_policy(target_doc, source=f"{source} -> {target}", parameters=values)
        members.append(Member(policy, "", default_msg))
    else:
        set_source = f"{source} -> {target}"
        set_params = _bind_parameters(tprops.get("parameters"), values, set_source, "$.properties")
        items = tprops["policyDefinitions"]
        if not isinstance(items, list) or not items:
            raise PolicyLoadError(set_source, "$.properties.policyDefinitions", "expected a non-empty array")
        for i, item in enumerate(items):
            path = f"$.properties.policyDefinitions[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("policyDefinitionId"), str):
                raise PolicyLoadError(set_source, f"{path}.policyDefinitionId", "missing")
            did = item["policyDefinitionId"]
            if did.lower() not in by_id:
                raise PolicyLoadError(set_source, f"{path}.policyDefinitionId", f"unknown definition {did!r}")
            ref = str(item.get("policyDefinitionReferenceId") or did.rsplit("/", 1)[-1])
            member_values: dict[str, Any] = {}
            for pname, pval in (item.get("parameters") or {}).items():
                raw = pval.get("value") if isinstance(pval, Mapping) else pval
                try:
                    e = compile_expr(raw, resolve_field=_no_field, params=set_params)
                except ExprError as exc:
                    raise PolicyLoadError(set_source, f"{path}.parameters.{pname}", str(exc)) from None
                if not e.is_const:
                    raise PolicyLoadError(set_source, f"{path}.parameters.{pname}", "must depend on parameters only")
                member_values[pname] = e.const
            policy = compile_policy(
                by_id[did.lower()], source=f"{set_source} [{ref}]", rule=ref, parameters=member_values
            )
            members.append(Member(policy, ref, per_ref.get(ref.lower(), default_msg)))
    return Assignment(
        id=aid,
        name=str(doc.get("name") or aid.rsplit("/", 1)[-1]),
        scope=scope,
        definition_id=target,
        members=tuple(members),
        not_scopes=tuple(not_scopes),
        enforce=mode.lower() == "default",
        is_set=is_set,
        display_name=str(props.get("displayName") or ""),
    )


@dataclass
class PolicyDocuments:
    """Definitions, sets, assignments and exemptions read from files (``az policy ... list`` output)."""

    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id (lower) -> document
    assignments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (source, document)
    exemptions: list[Exemption] = field(default_factory=list)

    def add(self, doc: Any, source: str) -> None:
        if not isinstance(doc, dict):
            raise PolicyLoadError(source, "$", "expected a JSON object")
        kind = str(doc.get("type") or "").lower()
        raw_props = doc.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        if not kind:  # classify by shape
            if "policyAssignmentId" in props:
                kind = _EXEMPTION
            elif "policyDefinitionId" in props:
                kind = _ASSIGNMENT
            elif "policyDefinitions" in props:
                kind = _SET
            elif "policyRule" in props:
                kind = _DEFINITION
        if kind in (_DEFINITION, _SET):
            did = str(doc.get("id") or "")
            if not did:
                raise PolicyLoadError(source, "$.id", "a definition needs its id (assignments refer to it)")
            self.definitions[did.lower()] = doc
        elif kind == _ASSIGNMENT:
            self.assignments.append((source, doc))
        elif kind == _EXEMPTION:
            self.exemptions.append(parse_exemption(doc, source=source))
        else:
            raise PolicyLoadError(source, "$.type", f"not a policy document: {doc.get('type')!r}")

    def compile(self, extra_definitions: Mapping[str, Mapping[str, Any]] | None = None) -> list[Assignment]:
        known: dict[str, Mapping[str, Any]] = dict(self.definitions)
        known.update({k.lower(): v for k, v in (extra_definitions or {}).items()})
        return [compile_assignment(doc, known, source=src) for src, doc in self.assignments]


class AssignmentSet:
    """Compiled assignments and the exemptions that apply to them, indexed by resource type.

    Built once per read of the documents (tenant folder or ARM) and reused for every event
    until the caller refreshes it. An assignment that does not compile is left out and its
    :class:`PolicyLoadError` kept in ``errors`` (the rest still evaluate)."""

    def __init__(
        self,
        assignments: Iterable[Assignment] = (),
        exemptions: Iterable[Exemption] = (),
        errors: Iterable[PolicyLoadError] = (),
    ) -> None:
        self.assignments = list(assignments)
        self.exemptions = list(exemptions)
        self.errors = list(errors)
        self._by_type: dict[str, list[Assignment]] = {}
        self.existence_types = {
            m.policy.existence.type.lower()
            for a in self.assignments
            for m in a.members
            if m.policy.existence is not None
        }

    @classmethod
    def from_documents(
        cls, docs: PolicyDocuments, extra_definitions: Mapping[str, Mapping[str, Any]] | None = None
    ) -> AssignmentSet:
        known: dict[str, Mapping[str, Any]] = dict(docs.definitions)
        known.update({k.lower(): v for k, v in (extra_definitions or {}).items()})
        compiled: list[Assignment] = []
        errors: list[PolicyLoadError] = []
        for src, doc in docs.assignments:
            try:
                compiled.append(compile_assignment(doc, known, source=src))
            except PolicyLoadError as exc:
                errors.append(exc)
        return cls(compiled, docs.exemptions, errors)

    def for_type(self, resource_type: str) -> list[Assignment]:
        key = resource_type.lower()
        found = self._by_type.get(key)
        if found is None:
            found = [a for a in self.assignments if a.applies_to(key)]
            self._by_type[key] = found
        return found

    def is_related_type(self, resource_type: str) -> bool:
        return resource_type.lower() in self.existence_types

    def by_id(self, assignment_id: str) -> Assignment | None:
        low = assignment_id.lower()
        return next((a for a in self.assignments if a.id.lower() == low), None)

    def __len__(self) -> int:
        return len(self.assignments)


def load_policy_documents(paths: Iterable[str | Path]) -> PolicyDocuments:
    """Every ``*.json`` under the files/folders: one document, an array, or a list response."""
    docs = PolicyDocuments()
    for p in paths:
        path = Path(p)
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for f in files:
            try:
                data = json.loads(f.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise PolicyLoadError(str(f), "$", f"cannot read JSON: {exc}") from None
            if isinstance(data, dict) and isinstance(data.get("value"), list) and "properties" not in data:
                items = [(f"{f} $.value[{i}]", d) for i, d in enumerate(data["value"])]
            elif isinstance(data, list):
                items = [(f"{f} [{i}]", d) for i, d in enumerate(data)]
            else:
                items = [(str(f), data)]
            for src, d in items:
                docs.add(d, src)
    return docs
