"""An Azure Policy rule engine: compile ``policyRule`` once, evaluate it fast.

Semantics follow the Azure Policy documentation ("definition structure -
policy rule", "author policies for array properties"):

* String comparisons are case-insensitive, except ``match``/``notMatch``.
  Booleans and numbers compare by their text, so ``true`` equals ``"True"``
  and ``0`` equals ``"0"``.
* ``like``/``notLike``: ``*`` is a wildcard. ``match``: ``#`` is a digit,
  ``?`` a letter, ``.`` any character, anything else itself.
* A field that does not exist (or is JSON null): ``exists: false`` is true;
  every positive condition (``equals``, ``like``, ``match*``, ``contains``,
  ``in``, ``containsKey``, ``less``...) is false; every negative one
  (``notEquals``, ``notLike``, ``notMatch*``, ``notContains``, ``notIn``,
  ``notContainsKey``) is true.
* A ``[*]`` alias outside a ``count`` is evaluated for every array member and
  the results are joined with AND (so an empty array satisfies it).
* ``count`` counts array members (field count) or expression-array members
  (value count) that satisfy ``where``; ``current()`` gives the member.
* ``less``/``greater``... compare numbers numerically, ISO dates as dates and
  strings case-insensitively; a type mismatch makes the condition false.
* ``mode: Indexed`` skips resources without a ``location`` (resource types
  that do not support tags and location); ``mode: All`` evaluates everything.

Effects: ``audit``, ``deny``, ``modify``, ``append``, ``denyAction`` are
non-compliant when ``if`` holds. ``auditIfNotExists``/``deployIfNotExists``
are non-compliant when ``if`` holds and no related resource of
``details.type`` satisfies ``details.existenceCondition``; the related
resources come from the caller (``None`` means unknown). ``disabled`` is
never evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from core.timeutil import parse_utc
from detectors.drift.aliases import STAR, PathToken, alias_path, catalogue
from detectors.drift.expr import MISSING, EvaluationError, Expr, ExprError, compile_expr, is_expression, literal

__all__ = [
    "LATEST_API_VERSION",
    "CompiledPolicy",
    "EvalEnv",
    "PolicyLoadError",
    "RelatedProvider",
    "RelatedScope",
    "ScopeReader",
    "Verdict",
    "compile_policy",
    "evaluate_all",
]

# (primary resource, related type) -> related resources, or None when unknown.
RelatedProvider = Callable[[Mapping[str, Any], str], Sequence[Mapping[str, Any]] | None]

EFFECTS = {
    "audit",
    "deny",
    "disabled",
    "auditifnotexists",
    "deployifnotexists",
    "modify",
    "append",
    "denyaction",
    "manual",
}
_EXISTENCE_EFFECTS = {"auditifnotexists", "deployifnotexists"}
_EFFECT_NAMES = {
    e.lower(): e
    for e in (
        "audit",
        "deny",
        "disabled",
        "auditIfNotExists",
        "deployIfNotExists",
        "modify",
        "append",
        "denyAction",
        "manual",
    )
}


_DEFAULT_STATES = {"compliant": "Compliant", "noncompliant": "NonCompliant", "unknown": "Unknown"}


class PolicyLoadError(ValueError):
    """A definition cannot be loaded: names the file and the JSON path."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(f"{source}: {path}: {message}")


@dataclass(frozen=True, slots=True)
class Verdict:
    resource_id: str
    rule: str
    policy_definition_id: str
    compliant: bool | None
    effect: str
    reason: str
    # (the policy condition that held, what compliance needs, the actual value)
    evidence: tuple[tuple[str, str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_id": self.resource_id,
            "rule": self.rule,
            "policy_definition_id": self.policy_definition_id,
            "compliant": self.compliant,
            "effect": self.effect,
            "reason": self.reason,
        }


# --------------------------------------------------------------------------- values


class _Multi(list[Any]):
    """Values of a ``[*]`` path: a condition must hold for every member."""


def _get_key(obj: Any, key: str) -> Any:
    if not isinstance(obj, dict):
        return MISSING
    v = obj.get(key, MISSING)
    if v is MISSING:
        lk = key.lower()
        for k, x in obj.items():
            if k.lower() == lk:
                v = x
                break
    return MISSING if v is None else v


def _walk(obj: Any, tokens: tuple[PathToken, ...], start: int = 0) -> Any:
    for i in range(start, len(tokens)):
        t = tokens[i]
        if t is STAR:
            if not isinstance(obj, list):
                return _Multi()  # a missing array selects an empty collection of values
            out = _Multi()
            for el in obj:
                v = _walk(el, tokens, i + 1)
                if isinstance(v, _Multi):
                    out.extend(v)
                else:
                    out.append(v)
            return out
        if isinstance(t, int):
            obj = obj[t] if isinstance(obj, list) and -len(obj) <= t < len(obj) else MISSING
        else:
            obj = _get_key(obj, t)  # type: ignore[arg-type]
        if obj is MISSING:
            return _Multi() if any(x is STAR for x in tokens[i + 1 :]) else MISSING
    return obj


def _canon(v: Any) -> Any:
    if v is MISSING or v is None:
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v.lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, list):
        return tuple(_canon(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k).lower(), _canon(x)) for k, x in v.items()))
    return str(v).lower()


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _date(v: Any) -> datetime | None:
    if isinstance(v, str) and len(v) >= 10 and v[4:5] == "-":
        try:
            return parse_utc(v)
        except ValueError:
            return None
    return None


def _compare(a: Any, b: Any) -> int | None:
    """-1/0/1, or None when the types cannot be compared."""
    if a is MISSING or b is MISSING:
        return None
    if (isinstance(a, int | float) and not isinstance(a, bool)) or (
        isinstance(b, int | float) and not isinstance(b, bool)
    ):
        x, y = _num(a), _num(b)
        if x is None or y is None:
            return None
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        da, db = _date(a), _date(b)
        if da is not None and db is not None:
            try:
                return (da > db) - (da < db)
            except TypeError:  # naive vs aware
                return None
        la, lb = a.lower(), b.lower()
        return (la > lb) - (la < lb)
    return None


def _ordered(a: Any, b: Any) -> int | None:
    """Ordering for less/greater: None on a missing value; a type mismatch is an evaluation error."""
    if a is MISSING or b is MISSING:
        return None
    c = _compare(a, b)
    if c is None:
        raise EvaluationError(f"cannot compare {_short(a)} with {_short(b)}: the types do not match")
    return c


@lru_cache(maxsize=4096)  # patterns that depend on the resource are compiled once each
def _like_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def _match_regex(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "#":
            parts.append(r"\d")
        elif ch == "?":
            parts.append("[A-Za-z]")
        elif ch == ".":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("^" + "".join(parts) + "$", (re.IGNORECASE if insensitive else 0) | re.DOTALL)


# --------------------------------------------------------------------------- operators
# Each positive operator returns False on a missing value; negatives are `not positive`.


def _op_equals(a: Any, b: Any) -> bool:
    return a is not MISSING and _canon(a) == b


def _op_like(a: Any, b: re.Pattern[str]) -> bool:
    return isinstance(a, str | int | float) and b.match(a if isinstance(a, str) else _text(a)) is not None


def _op_match(a: Any, b: re.Pattern[str]) -> bool:
    return isinstance(a, str | int | float) and b.match(a if isinstance(a, str) else _text(a)) is not None


def _op_contains(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        return isinstance(b, str) and b in a.lower()
    if isinstance(a, list):
        return any(_canon(x) == b for x in a)
    if isinstance(a, dict):
        return isinstance(b, str) and any(k.lower() == b for k in a)
    return False


def _op_in(a: Any, b: Any) -> bool:
    return a is not MISSING and isinstance(b, frozenset) and _canon(a) in b


def _op_contains_key(a: Any, b: Any) -> bool:
    return isinstance(a, dict) and isinstance(b, str) and any(k.lower() == b for k in a)


def _op_less(a: Any, b: Any) -> bool:
    c = _ordered(a, b)
    return c is not None and c < 0


def _op_less_eq(a: Any, b: Any) -> bool:
    c = _ordered(a, b)
    return c is not None and c <= 0


def _op_greater(a: Any, b: Any) -> bool:
    c = _ordered(a, b)
    return c is not None and c > 0


def _op_greater_eq(a: Any, b: Any) -> bool:
    c = _ordered(a, b)
    return c is not None and c >= 0


def _op_exists(a: Any, b: Any) -> bool:
    return bool((a is not MISSING) == b)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _prep_canon(v: Any) -> Any:
    return _canon(v)


def _prep_str_lower(v: Any) -> Any:
    return _text(v).lower() if v is not MISSING and v is not None and not isinstance(v, list | dict) else v


def _prep_in(v: Any) -> Any:
    if not isinstance(v, list):
        raise ExprError("'in'/'notIn' needs an array")
    return frozenset(_canon(x) for x in v)


def _prep_like(v: Any) -> re.Pattern[str]:
    return _like_regex(_text(v))


def _prep_match(v: Any) -> re.Pattern[str]:
    return _match_regex(_text(v), False)


def _prep_match_i(v: Any) -> re.Pattern[str]:
    return _match_regex(_text(v), True)


def _prep_exists(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise ExprError("'exists' needs true or false")


def _prep_raw(v: Any) -> Any:
    return v


# name (lower) -> (positive op, prepare expected, negated)
_OPS: dict[str, tuple[Callable[[Any, Any], bool], Callable[[Any], Any], bool]] = {
    "equals": (_op_equals, _prep_canon, False),
    "notequals": (_op_equals, _prep_canon, True),
    "like": (_op_like, _prep_like, False),
    "notlike": (_op_like, _prep_like, True),
    "match": (_op_match, _prep_match, False),
    "notmatch": (_op_match, _prep_match, True),
    "matchinsensitively": (_op_match, _prep_match_i, False),
    "notmatchinsensitively": (_op_match, _prep_match_i, True),
    "contains": (_op_contains, _prep_str_lower, False),
    "notcontains": (_op_contains, _prep_str_lower, True),
    "in": (_op_in, _prep_in, False),
    "notin": (_op_in, _prep_in, True),
    "containskey": (_op_contains_key, _prep_str_lower, False),
    "notcontainskey": (_op_contains_key, _prep_str_lower, True),
    "less": (_op_less, _prep_raw, False),
    "lessorequals": (_op_less_eq, _prep_raw, False),
    "greater": (_op_greater, _prep_raw, False),
    "greaterorequals": (_op_greater_eq, _prep_raw, False),
    "exists": (_op_exists, _prep_exists, False),
}
_OP_NAMES = {
    k.lower(): k
    for k in (
        "equals",
        "notEquals",
        "like",
        "notLike",
        "match",
        "notMatch",
        "matchInsensitively",
        "notMatchInsensitively",
        "contains",
        "notContains",
        "in",
        "notIn",
        "containsKey",
        "notContainsKey",
        "less",
        "lessOrEquals",
        "greater",
        "greaterOrEquals",
        "exists",
    )
}


_NEGATED = {
    "equals": "notEquals",
    "like": "notLike",
    "match": "notMatch",
    "matchInsensitively": "notMatchInsensitively",
    "contains": "notContains",
    "in": "notIn",
    "containsKey": "notContainsKey",
    "less": "greaterOrEquals",
    "lessOrEquals": "greater",
}
_NEGATED.update({v: k for k, v in list(_NEGATED.items())})

Evidence = tuple[str, str, str]

# --------------------------------------------------------------------------- context


#: ``requestContext().apiVersion`` when the caller does not know the request's version:
#: a compliance scan reads the resource with the latest API version, which compares
#: as later than every dated version a rule names.
LATEST_API_VERSION = "9999-12-31"

# ARM id of a subscription or resource group -> its ARM object (None when unknown).
ScopeReader = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class EvalEnv:
    """Where and when resources are evaluated (shared by every rule in one pass)."""

    now: datetime | None = None
    api_version: str | None = None
    scope_reader: ScopeReader | None = None
    assignment_id: str = ""
    set_definition_id: str = ""
    definition_reference_id: str = ""


_DEFAULT_ENV = EvalEnv()


def _scope_ids(resource_id: str) -> tuple[str | None, str | None]:
    """(subscription id, resource group id) of an ARM id, each None when absent."""
    parts = [p for p in resource_id.split("/") if p]
    low = [p.lower() for p in parts]
    sub = rg = None
    if len(parts) >= 2 and low[0] == "subscriptions":
        sub = f"/subscriptions/{parts[1]}"
        if len(parts) >= 4 and low[2] == "resourcegroups":
            rg = f"{sub}/resourceGroups/{parts[3]}"
    return sub, rg


class _Ctx:
    __slots__ = ("cache", "env", "outer", "policy", "resource", "rtype", "scopes")

    def __init__(
        self,
        resource: Mapping[str, Any],
        env: EvalEnv | None = None,
        outer: _Ctx | None = None,
    ) -> None:
        self.resource = resource
        self.rtype = str(resource.get("type") or "").lower()
        self.env = env or _DEFAULT_ENV
        self.scopes: list[tuple[str, Any]] = []
        self.cache: dict[str, Any] = {}
        self.outer = outer
        self.policy: CompiledPolicy | None = outer.policy if outer is not None else None

    @property
    def now(self) -> datetime:
        if self.env.now is None:
            raise EvaluationError("utcNow() needs the evaluation time, which the caller did not give")
        return self.env.now

    def _evaluated(self) -> Mapping[str, Any]:
        return (self.outer or self).resource

    def request_context(self) -> dict[str, Any]:
        return {"apiVersion": self.env.api_version or LATEST_API_VERSION}

    def _scope(self, scope_id: str, base: dict[str, Any]) -> dict[str, Any]:
        if self.env.scope_reader is not None:
            found = self.env.scope_reader(scope_id)
            if found is not None:
                return {**found, **{k: v for k, v in base.items() if k not in found}}
        return base

    def subscription_id(self) -> str | None:
        """``/subscriptions/<id>`` of the evaluated resource (parsed once per resource)."""
        return self._scope_pair()[0]

    def _scope_pair(self) -> tuple[str | None, str | None]:
        try:
            pair: tuple[str | None, str | None] = self.cache["\0scope"]
        except KeyError:
            pair = self.cache["\0scope"] = _scope_ids(str(self._evaluated().get("id") or ""))
        return pair

    def subscription(self) -> dict[str, Any]:
        sub, _rg = self._scope_pair()
        if sub is None:
            raise EvaluationError("subscription(): the resource is not in a subscription")
        return self._scope(sub, {"id": sub, "subscriptionId": sub.rsplit("/", 1)[1]})

    def resource_group(self) -> dict[str, Any]:
        _sub, rg = self._scope_pair()
        if rg is None:
            raise EvaluationError("resourceGroup(): the resource is not in a resource group")
        return self._scope(rg, {"id": rg, "name": rg.rsplit("/", 1)[1], "type": "Microsoft.Resources/resourceGroups"})

    def policy_info(self) -> dict[str, Any]:
        return {
            "assignmentId": self.env.assignment_id,
            "definitionId": self.policy.definition_id if self.policy is not None else "",
            "setDefinitionId": self.env.set_definition_id,
            "definitionReferenceId": self.env.definition_reference_id,
        }

    def current(self, key: str | None) -> Any:
        if not self.scopes:
            return MISSING
        if key is None:
            return self.scopes[-1][1]
        for skey, element in reversed(self.scopes):
            if skey == key:
                return element
            if key.startswith(skey) and key[len(skey) : len(skey) + 1] in (".", "["):
                rel = _relative_tokens(key, skey, self.rtype)
                return MISSING if rel is None else _walk(element, rel)
        return MISSING


def _relative_tokens(alias: str, scope_alias: str, rtype: str) -> tuple[PathToken, ...] | None:
    """The path of ``alias`` inside one member of the array alias ``scope_alias``."""
    full, prefix = alias_path(alias, rtype), alias_path(scope_alias, rtype)
    if full is None or prefix is None or len(full) < len(prefix):
        return None
    if not all(_tok_eq(a, b) for a, b in zip(full, prefix, strict=False)):
        return None
    return full[len(prefix) :]


def _tok_eq(a: PathToken, b: PathToken) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a is b or a == b


def _full_name(resource: Mapping[str, Any]) -> Any:
    rid = str(resource.get("id") or "")
    parts = [p for p in rid.split("/") if p]
    low = [p.lower() for p in parts]
    if "providers" not in low:
        return resource.get("name", MISSING)
    idx = len(low) - 1 - low[::-1].index("providers")
    names = parts[idx + 2 :][1::2]
    return "/".join(names) if names else resource.get("name", MISSING)


def _location(value: Any) -> Any:
    """Locations are normalised: 'East US 2' equals 'eastus2'."""
    return value.replace(" ", "").lower() if isinstance(value, str) and value else MISSING


def _norm_loc(v: Any) -> Any:
    if isinstance(v, str):
        return v.replace(" ", "").lower()
    if isinstance(v, list):
        return [_norm_loc(x) for x in v]
    return v


def _location_expected(e: Expr) -> Expr:
    if e.is_const:
        val = _norm_loc(e.const)
        return Expr(lambda _c: val, e.source, const=val, is_const=True)
    return Expr(lambda c: _norm_loc(e(c)), e.source)


def _tags(resource: Mapping[str, Any]) -> Any:
    t = resource.get("tags")
    return t if isinstance(t, dict) else MISSING


_BUILTIN_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "type": lambda r: r.get("type") or MISSING,
    "name": lambda r: r.get("name") or MISSING,
    "fullname": _full_name,
    "location": lambda r: _location(r.get("location")),
    "kind": lambda r: r.get("kind") or MISSING,
    "id": lambda r: r.get("id") or MISSING,
    "identity.type": lambda r: _walk(r, ("identity", "type")),
    "identity.userassignedidentities": lambda r: _walk(r, ("identity", "userAssignedIdentities")),
    "tags": _tags,
}
# tags['x'], tags[x], tags.x; tags[] is the tag named "" (a tag-name parameter left empty).
_TAG = re.compile(r"^tags(?:\['(?P<a>(?:[^']|'')*)'\]|\[(?P<b>[^\]']*)\]|\.(?P<c>.+))$", re.IGNORECASE)


def _field_getter(name: str, count_scopes: tuple[str, ...], *, outer: bool = False) -> Callable[[_Ctx], Any]:
    """Compile a ``field`` reference into a getter. Raises ExprError when unsupported."""
    lname = name.strip().lower()
    builtin = _BUILTIN_FIELDS.get(lname)
    if builtin is not None:
        if outer:
            return lambda c: builtin((c.outer or c).resource)
        return lambda c: builtin(c.resource)
    m = _TAG.match(name.strip())
    if m:
        quoted = m.group("a")
        tag = (quoted.replace("''", "'") if quoted is not None else (m.group("b") or m.group("c") or "")).lower()

        def get_tag(c: _Ctx) -> Any:
            res = (c.outer or c).resource if outer else c.resource
            tags = res.get("tags")
            if not isinstance(tags, dict):
                return MISSING
            for k, v in tags.items():
                if k.lower() == tag:
                    return MISSING if v is None else v
            return MISSING

        return get_tag
    if "/" not in lname:
        raise ExprError(
            f"unsupported field {name!r} (expected type, name, fullName, location, kind, id, "
            "identity.type, identity.userAssignedIdentities, tags, tags['x'] or an alias)"
        )
    if not catalogue().known(lname):
        raise ExprError(f"unknown alias {name.strip()!r}: not in Azure's alias catalogue ({catalogue().source})")
    for scope in sorted(count_scopes, key=len, reverse=True):
        if lname == scope:
            sc = scope
            return lambda c: _Multi([c.current(sc)])
        if lname.startswith(scope) and lname[len(scope) : len(scope) + 1] in (".", "["):
            return _scoped_getter(lname, scope)
    # Alias paths per resource type, resolved once per compiled field reference.
    paths: dict[str, tuple[PathToken, ...] | None] = {}

    def get_alias(c: _Ctx) -> Any:
        ctx = (c.outer or c) if outer else c
        try:
            return ctx.cache[lname]
        except KeyError:
            pass
        try:
            toks = paths[ctx.rtype]
        except KeyError:
            toks = paths[ctx.rtype] = alias_path(lname, ctx.rtype)
        v = MISSING if toks is None else _walk(ctx.resource, toks)
        ctx.cache[lname] = v
        return v

    return get_alias


def _scoped_getter(lname: str, scope: str) -> Callable[[_Ctx], Any]:
    """A field inside ``count.where`` that refers to the member being counted."""
    rel_paths: dict[str, tuple[PathToken, ...] | None] = {}

    def get(c: _Ctx) -> Any:
        for skey, element in reversed(c.scopes):
            if skey == scope:
                try:
                    rel = rel_paths[c.rtype]
                except KeyError:
                    rel = rel_paths[c.rtype] = _relative_tokens(lname, scope, c.rtype)
                if rel is None:
                    return MISSING
                v = _walk(element, rel)
                # The counted member is a collection of one value (so field() gives a one-item array).
                return v if isinstance(v, _Multi) else _Multi([v])
        return MISSING

    return get


def _plain(getter: Callable[[_Ctx], Any]) -> Callable[[_Ctx], Any]:
    """field() in an expression returns a plain array for a [*] alias."""

    def get(c: _Ctx) -> Any:
        v = getter(c)
        return list(v) if isinstance(v, _Multi) else v

    return get


# --------------------------------------------------------------------------- nodes


class _Node:
    __slots__ = ()

    def ev(self, c: _Ctx) -> bool:
        raise NotImplementedError

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        raise NotImplementedError


class _AllOf(_Node):
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]) -> None:
        self.children = children

    def ev(self, c: _Ctx) -> bool:
        # a plain loop, not all(<generator>): no generator per evaluation on the hot path
        for ch in self.children:  # noqa: SIM110
            if not ch.ev(c):
                return False
        return True

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        for ch in self.children:
            ch.explain(c, out)


class _AnyOf(_Node):
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]) -> None:
        self.children = children

    def ev(self, c: _Ctx) -> bool:
        for ch in self.children:  # noqa: SIM110 (a plain loop is faster than any(<generator>))
            if ch.ev(c):
                return True
        return False

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        for ch in self.children:
            if ch.ev(c):
                ch.explain(c, out)
                return


class _Not(_Node):
    __slots__ = ("child",)

    def __init__(self, child: _Node) -> None:
        self.child = child

    def ev(self, c: _Ctx) -> bool:
        return not self.child.ev(c)

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        inner: list[Evidence] = []
        self.child.explain(c, inner)
        if not inner and isinstance(self.child, _Cond):
            inner.append(self.child.describe(c))
        out.extend((f"not ({cond})", cond, actual) for cond, _expected, actual in inner)


class _Count:
    """The operand of a ``count`` condition."""

    __slots__ = ("items", "key", "source", "where")

    def __init__(self, items: Callable[[_Ctx], Any], key: str, where: _Node | None, source: str) -> None:
        self.items = items
        self.key = key
        self.where = where
        self.source = source

    def __call__(self, c: _Ctx) -> int:
        items = self.items(c)
        if items is MISSING or items is None:
            return 0
        if not isinstance(items, list):
            items = [items]
        if self.where is None:
            return len(items)
        n = 0
        c.scopes.append((self.key, None))
        try:
            for el in items:
                c.scopes[-1] = (self.key, el)
                if self.where.ev(c):
                    n += 1
        finally:
            c.scopes.pop()
        return n


class _Cond(_Node):
    __slots__ = (
        "_dyn",
        "expected",
        "expected_src",
        "negated",
        "op",
        "op_name",
        "operand",
        "operand_src",
        "prep",
        "star",
    )

    def __init__(
        self,
        operand: Callable[[_Ctx], Any],
        operand_src: str,
        op_name: str,
        expected: Expr,
        *,
        star: bool,
    ) -> None:
        op, prep, negated = _OPS[op_name.lower()]
        self.operand = operand
        self.operand_src = operand_src
        self.op_name = _OP_NAMES[op_name.lower()]
        self.op = op
        self.prep = prep
        self.negated = negated
        self.star = star
        self.expected_src = expected.source
        if expected.is_const:
            self.expected_src = _short(expected.const)
            self.expected: Any = prep(expected.const)
            self._dyn: Expr | None = None
        else:
            self.expected = None
            self._dyn = expected

    def ev(self, c: _Ctx) -> bool:
        actual = self.operand(c)
        if self._dyn is None:
            exp = self.expected
        else:
            try:
                exp = self.prep(self._dyn(c))
            except (ExprError, TypeError, ValueError):
                return False
        if isinstance(actual, _Multi):
            if self.negated:
                return all(not self.op(a, exp) for a in actual)
            return all(self.op(a, exp) for a in actual)
        r = self.op(actual, exp)
        return not r if self.negated else r

    def describe(self, c: _Ctx) -> Evidence:
        actual = self.operand(c)
        shown = "<missing>" if actual is MISSING else _short(list(actual) if isinstance(actual, _Multi) else actual)
        held = f"{self.operand_src} {self.op_name} {self.expected_src}"
        if self.op_name == "exists":
            wanted = f"{self.operand_src} exists {'false' if self.expected else 'true'}"
        else:
            wanted = f"{self.operand_src} {_NEGATED[self.op_name]} {self.expected_src}"
        return (held, wanted, shown)

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        if self.operand_src.lower() == "field 'type'":
            return
        out.append(self.describe(c))


def _short(v: Any) -> str:
    import json

    try:
        s = json.dumps(v, sort_keys=True, default=str)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= 200 else s[:197] + "..."


# --------------------------------------------------------------------------- compiler


class _Compiler:
    def __init__(self, source: str, params: dict[str, Any]) -> None:
        self.source = source
        self.params = params

    def err(self, path: str, msg: str) -> PolicyLoadError:
        return PolicyLoadError(self.source, path, msg)

    def expr(self, value: Any, path: str, scopes: tuple[str, ...], *, outer: bool = False) -> Expr:
        try:
            return compile_expr(
                value,
                resolve_field=lambda name: _plain(_field_getter(name, scopes, outer=outer)),
                params=self.params,
            )
        except ExprError as exc:
            raise self.err(path, str(exc)) from None

    def node(self, obj: Any, path: str, scopes: tuple[str, ...] = (), *, outer: bool = False) -> _Node:
        if not isinstance(obj, dict):
            raise self.err(path, "a condition must be a JSON object")
        keys = {k.lower(): k for k in obj}
        for logical in ("allof", "anyof"):
            if logical in keys:
                if len(obj) != 1:
                    raise self.err(path, f"'{keys[logical]}' must be alone in its object")
                items = obj[keys[logical]]
                if not isinstance(items, list) or not items:
                    raise self.err(f"{path}.{keys[logical]}", "expected a non-empty array of conditions")
                kids = [self.node(x, f"{path}.{keys[logical]}[{i}]", scopes, outer=outer) for i, x in enumerate(items)]
                return _AllOf(kids) if logical == "allof" else _AnyOf(kids)
        if "not" in keys:
            if len(obj) != 1:
                raise self.err(path, "'not' must be alone in its object")
            return _Not(self.node(obj[keys["not"]], f"{path}.{keys['not']}", scopes, outer=outer))
        operand_keys = [k for k in ("field", "value", "count") if k in keys]
        if len(operand_keys) != 1:
            raise self.err(path, "a condition needs exactly one of 'field', 'value' or 'count'")
        okey = operand_keys[0]
        ops = [k for k in obj if k.lower() not in (okey,)]
        if len(ops) != 1:
            raise self.err(path, f"a condition needs exactly one operator, found {sorted(ops) or 'none'}")
        op = ops[0]
        if op.lower() not in _OPS:
            raise self.err(f"{path}.{op}", f"unsupported operator {op!r}")
        raw = obj[keys[okey]]
        star = False
        if okey == "field":
            if not isinstance(raw, str):
                raise self.err(f"{path}.field", "field must be a string")
            if is_expression(raw):
                fexpr = self.expr(raw, f"{path}.field", scopes, outer=outer)
                if not fexpr.is_const or not isinstance(fexpr.const, str):
                    raise self.err(f"{path}.field", "a 'field' expression must resolve to a name from parameters")
                raw = fexpr.const
            try:
                operand: Callable[[_Ctx], Any] = _field_getter(raw, scopes, outer=False)
            except ExprError as exc:
                raise self.err(f"{path}.field", str(exc)) from None
            src = f"field '{raw}'"
            star = "[*]" in raw
        elif okey == "value":
            operand = self.expr(raw, f"{path}.value", scopes, outer=outer)
            src = f"value {raw!r}" if not isinstance(raw, str) else f"value '{raw}'"
        else:
            operand = self.count(raw, f"{path}.count", scopes, outer=outer)
            src = f"count of {operand.source}"
        expected = self.expr(obj[op], f"{path}.{op}", scopes, outer=outer)
        if okey == "field" and str(raw).strip().lower() == "location":
            expected = _location_expected(expected)
        try:
            return _Cond(operand, src, op, expected, star=star)
        except ExprError as exc:
            raise self.err(f"{path}.{op}", str(exc)) from None

    def count(self, obj: Any, path: str, scopes: tuple[str, ...], *, outer: bool) -> _Count:
        if not isinstance(obj, dict):
            raise self.err(path, "count must be an object")
        keys = {k.lower(): k for k in obj}
        unknown = set(keys) - {"field", "value", "name", "where"}
        if unknown:
            raise self.err(path, f"unsupported count property {sorted(keys[u] for u in unknown)}")
        if ("field" in keys) == ("value" in keys):
            raise self.err(path, "count needs exactly one of 'field' or 'value'")
        where_raw = obj.get(keys.get("where", "where"))
        if "field" in keys:
            alias = obj[keys["field"]]
            if not isinstance(alias, str) or not alias.strip().endswith("[*]"):
                raise self.err(f"{path}.field", "field count needs an array alias ending in [*]")
            key = alias.strip().lower()
            try:
                items: Callable[[_Ctx], Any] = _field_getter(alias, scopes)
            except ExprError as exc:
                raise self.err(f"{path}.field", str(exc)) from None
            inner = (*scopes, key)
            source = alias
        else:
            name = obj.get(keys.get("name", "name"))
            if name is not None and (not isinstance(name, str) or not name.isalnum()):
                raise self.err(f"{path}.name", "the index name must be English letters and digits")
            key = str(name or "default").lower()
            items = self.expr(obj[keys["value"]], f"{path}.value", scopes, outer=outer)
            inner = scopes
            source = f"value {obj[keys['value']]!r}"
        where = None
        if where_raw is not None:
            where = self.node(where_raw, f"{path}.where", inner, outer=outer)
        return _Count(items, key, where, source)


def _type_filter(node: _Node) -> frozenset[str] | None:
    """Static resource types a rule applies to (None: any type)."""
    if isinstance(node, _Cond) and node.operand_src.lower() == "field 'type'" and not node.negated:
        if node.op is _op_equals and isinstance(node.expected, str):
            return frozenset({node.expected})
        if node.op is _op_in and isinstance(node.expected, frozenset):
            return frozenset(x for x in node.expected if isinstance(x, str))
        return None
    if isinstance(node, _AllOf):
        found: frozenset[str] | None = None
        for ch in node.children:
            t = _type_filter(ch)
            if t is not None:
                found = t if found is None else found & t
        return found
    if isinstance(node, _AnyOf):
        sets = [_type_filter(ch) for ch in node.children]
        if any(s is None for s in sets):
            return None
        return frozenset().union(*[s for s in sets if s is not None])
    return None


def _is_type_filter(node: _Node) -> bool:
    return (
        isinstance(node, _Cond)
        and node.operand_src.lower() == "field 'type'"
        and not node.negated
        and (node.op is _op_equals or node.op is _op_in)
    )


class _True(_Node):
    __slots__ = ()

    def ev(self, c: _Ctx) -> bool:
        return True

    def explain(self, c: _Ctx, out: list[Evidence]) -> None:
        return None


def _without_type_filter(root: _Node) -> _Node:
    """The root with its top-level type conditions removed (checked up front instead).

    Only called when the root pins the types (``_type_filter`` returned a set), so the
    removed conditions hold exactly when the resource type is in that set.
    """
    if _is_type_filter(root):
        return _True()
    if isinstance(root, _AllOf):
        rest = [ch for ch in root.children if not _is_type_filter(ch)]
        if len(rest) == len(root.children):
            return root
        if not rest:
            return _True()
        return rest[0] if len(rest) == 1 else _AllOf(rest)
    return root


@dataclass(frozen=True, slots=True)
class _Existence:
    """``then.details`` of auditIfNotExists/deployIfNotExists: which related resources to read.

    ``type`` is a child type of the evaluated resource (``Microsoft.Sql/servers/auditingSettings``
    under a SQL server) or an extension type (``Microsoft.Insights/diagnosticSettings`` under
    ``<id>/providers/``). ``existence_scope: subscription`` or a ``resource_group_name`` look for
    resources of that type in a subscription or a resource group instead.
    """

    type: str
    name: Expr | None
    condition: _Node | None
    existence_scope: str = "resourcegroup"
    resource_group_name: Expr | None = None


@dataclass(frozen=True, slots=True)
class RelatedScope:
    """Where related resources are looked for: under ``id`` (a resource, a resource group or a
    subscription), of ``type``. A :data:`RelatedProvider` gets it as the scope mapping."""

    kind: str  # "child", "extension", "resourceGroup" or "subscription"
    id: str
    type: str

    def as_resource(self) -> dict[str, Any]:
        scope_type = {
            "resourceGroup": "Microsoft.Resources/resourceGroups",
            "subscription": "Microsoft.Resources/subscriptions",
        }.get(self.kind)
        return {"id": self.id, "type": scope_type} if scope_type else {"id": self.id}


def _last_segment(v: Any) -> str:
    return str(v or "").rstrip("/").rsplit("/", 1)[-1].lower()


class CompiledPolicy:
    """One policy definition with its parameters bound, ready to evaluate."""

    __slots__ = (
        "_fast_root",
        "default_state",
        "definition_id",
        "display_name",
        "effect",
        "existence",
        "mode",
        "name",
        "root",
        "rule",
        "source",
        "types",
    )

    def __init__(
        self,
        *,
        rule: str,
        name: str,
        definition_id: str,
        display_name: str,
        mode: str,
        effect: str,
        root: _Node,
        existence: _Existence | None,
        source: str,
        default_state: str = "unknown",
    ) -> None:
        self.default_state = default_state
        self.rule = rule
        self.name = name
        self.definition_id = definition_id
        self.display_name = display_name
        self.mode = mode
        self.effect = effect
        self.root = root
        self.existence = existence
        self.source = source
        self.types = _type_filter(root)
        self._fast_root = _without_type_filter(root) if self.types is not None else root

    def applies_to(self, resource_type: str) -> bool:
        return self.types is None or resource_type.lower() in self.types

    def evaluate(
        self,
        resource: Mapping[str, Any],
        *,
        related: RelatedProvider | None = None,
        api_version: str | None = None,
        env: EvalEnv | None = None,
        _ctx: _Ctx | None = None,
    ) -> Verdict:
        """The verdict for one resource.

        ``env`` gives ``now`` (``utcNow()``), the request's API version, a reader for
        subscription/resource-group objects and the assignment (``policy()``);
        ``api_version`` alone is a shortcut for ``EvalEnv(api_version=...)``.
        """
        rid = str(resource.get("id") or "")
        if _ctx is None:
            if env is None and api_version is not None:
                env = EvalEnv(api_version=api_version)
            _ctx = _Ctx(resource, env)
        c = _ctx
        c.policy = self
        if self.effect == "disabled":
            return self._verdict(rid, True, "effect is Disabled")
        if self.mode == "indexed" and not resource.get("location"):
            return self._verdict(rid, True, "not evaluated: mode Indexed and the resource has no location")
        if self.types is not None and c.rtype not in self.types:
            return self._verdict(rid, True, "policy condition not met")
        try:
            matched = self._fast_root.ev(c)
        except EvaluationError as exc:
            # Azure Policy: a failed evaluation is an implicit deny, i.e. non-compliant.
            return self._verdict(
                rid, False, f"evaluation failed: {exc}", (("evaluation failed", "a successful evaluation", str(exc)),)
            )
        if not matched:
            return self._verdict(rid, True, "policy condition not met")
        if self.effect == "manual":
            # Manual attestation: the resource has the definition's defaultState until attested.
            state = {"compliant": True, "noncompliant": False}.get(self.default_state)
            return self._verdict(rid, state, f"manual attestation: defaultState {_DEFAULT_STATES[self.default_state]}")
        if self.existence is None:
            ev: list[Evidence] = []
            self.root.explain(c, ev)
            reason = "; ".join(f"{cond} (actual: {actual})" for cond, _exp, actual in ev) or "policy condition met"
            return self._verdict(rid, False, reason, tuple(ev))
        return self._existence(c, rid, related)

    def related_scope(self, resource: Mapping[str, Any], env: EvalEnv | None = None) -> RelatedScope | None:
        """Where the related resources of this auditIfNotExists/deployIfNotExists rule are."""
        if self.existence is None:
            return None
        return self._related_scope(_Ctx(resource, env))

    def _related_scope(self, c: _Ctx) -> RelatedScope:
        ex = self.existence
        assert ex is not None
        rid = str(c.resource.get("id") or "").rstrip("/")
        sub = c.subscription_id()
        if ex.existence_scope == "subscription" and sub is not None:
            return RelatedScope("subscription", sub, ex.type)
        if ex.resource_group_name is not None and sub is not None:
            rg_name = str(ex.resource_group_name(c))
            return RelatedScope("resourceGroup", f"{sub}/resourceGroups/{rg_name}", ex.type)
        if ex.type.lower().startswith(c.rtype + "/") and c.rtype:
            return RelatedScope("child", rid, ex.type)
        return RelatedScope("extension", rid, ex.type)

    @staticmethod
    def _related(c: _Ctx, scope: RelatedScope, related: RelatedProvider | None) -> Sequence[Mapping[str, Any]] | None:
        """The provider's answer, asked once per resource, scope and type (rules share it)."""
        if related is None:
            return None
        key = f"\0related|{scope.kind}|{scope.id.lower()}|{scope.type.lower()}"
        try:
            found: Sequence[Mapping[str, Any]] | None = c.cache[key]
        except KeyError:
            found = c.cache[key] = related(scope.as_resource() if scope.kind != "child" else c.resource, scope.type)
        return found

    def _existence(self, c: _Ctx, rid: str, related: RelatedProvider | None) -> Verdict:
        ex = self.existence
        assert ex is not None
        try:
            scope = self._related_scope(c)
            want = ex.name(c) if ex.name is not None else None
        except EvaluationError as exc:
            return self._verdict(
                rid, False, f"evaluation failed: {exc}", (("evaluation failed", "a successful evaluation", str(exc)),)
            )
        rel = self._related(c, scope, related)
        if rel is None:
            return self._verdict(rid, None, f"related resources of type {ex.type} are not available")
        prefix = scope.id.lower() + "/"
        rtype = ex.type.lower()
        want_l = str(want).lower() if want not in (None, "") and want is not MISSING else None
        matches = 0
        seen = 0
        for r in rel:
            r_id = str(r.get("id") or "").lower()
            if r_id and not r_id.startswith(prefix):
                continue
            if r.get("type") and str(r.get("type")).lower() != rtype:
                continue
            if want_l is not None and want_l not in (
                str(r.get("name", "")).lower(),
                _last_segment(r.get("name")),
                _last_segment(r_id),
            ):
                continue
            seen += 1
            rc = _Ctx(r, c.env, outer=c)
            try:
                ok = ex.condition is None or ex.condition.ev(rc)
            except EvaluationError:
                ok = False  # a related resource the condition cannot evaluate does not satisfy it
            if ok:
                matches += 1
        if matches:
            return self._verdict(rid, True, f"{matches} related {ex.type} resource(s) satisfy the existence condition")
        return self._verdict(
            rid,
            False,
            f"no related {ex.type} resource satisfies the existence condition ({seen} found)",
            (
                (
                    f"no {ex.type} satisfies the existence condition",
                    f"at least one {ex.type} satisfying the existence condition",
                    f"{seen} found, none satisfying it",
                ),
            ),
        )

    def _verdict(self, rid: str, compliant: bool | None, reason: str, evidence: tuple[Evidence, ...] = ()) -> Verdict:
        return Verdict(
            resource_id=rid,
            rule=self.rule,
            policy_definition_id=self.definition_id,
            compliant=compliant,
            effect=_EFFECT_NAMES.get(self.effect, self.effect),
            reason=reason,
            evidence=evidence,
        )


def _bind_parameters(declared: Any, values: Mapping[str, Any], compiler_source: str, base: str) -> dict[str, Any]:
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        raise PolicyLoadError(compiler_source, f"{base}.parameters", "parameters must be an object")
    lower_values = {k.lower(): v for k, v in values.items()}
    bound: dict[str, Any] = {}
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            raise PolicyLoadError(compiler_source, f"{base}.parameters.{name}", "parameter must be an object")
        if name.lower() in lower_values:
            v = lower_values[name.lower()]
            if isinstance(v, dict) and set(v) == {"value"}:
                v = v["value"]
        elif "defaultValue" in spec:
            v = spec["defaultValue"]
        else:
            raise PolicyLoadError(compiler_source, f"{base}.parameters.{name}", "no value given and no defaultValue")
        allowed = spec.get("allowedValues")
        if (
            isinstance(allowed, list)
            and allowed
            and not isinstance(v, list)
            and _canon(v) not in {_canon(a) for a in allowed}
        ):
            raise PolicyLoadError(compiler_source, f"{base}.parameters.{name}", f"value {v!r} is not one of {allowed}")
        bound[name] = v
    unknown = [k for k in values if k.lower() not in {n.lower() for n in declared}]
    if unknown:
        raise PolicyLoadError(compiler_source, f"{base}.parameters", f"unknown parameter(s) {unknown}")
    return bound


def compile_policy(
    definition: Mapping[str, Any],
    *,
    source: str = "<definition>",
    rule: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> CompiledPolicy:
    """Compile one definition as ``az policy definition show`` prints it.

    Also accepts the bare ``properties`` object. ``parameters`` are values by
    parameter name (plain, or ``{"value": ...}`` as in an assignment).
    """
    if not isinstance(definition, Mapping):
        raise PolicyLoadError(source, "$", "a policy definition must be a JSON object")
    if "properties" in definition and isinstance(definition["properties"], Mapping):
        props, base = definition["properties"], "$.properties"
    elif "policyRule" in definition:
        props, base = definition, "$"
    else:
        raise PolicyLoadError(source, "$.properties", "missing properties.policyRule")
    name = str(definition.get("name") or props.get("name") or rule or source)
    definition_id = str(definition.get("id") or f"/providers/Microsoft.Authorization/policyDefinitions/{name}")
    mode = str(props.get("mode") or "Indexed")
    if mode.lower() not in ("all", "indexed"):
        raise PolicyLoadError(
            source,
            f"{base}.mode",
            f"unsupported mode {mode!r}: resource-provider (data-plane) modes evaluate objects ARM does "
            "not return (Key Vault keys/secrets/certificates, Kubernetes objects...); only All and "
            "Indexed are supported (see detectors/drift/README.md)",
        )
    params = _bind_parameters(props.get("parameters"), parameters or {}, source, base)
    comp = _Compiler(source, params)
    prule = props.get("policyRule")
    if not isinstance(prule, Mapping):
        raise PolicyLoadError(source, f"{base}.policyRule", "policyRule must be an object")
    if "if" not in prule:
        raise PolicyLoadError(source, f"{base}.policyRule.if", "missing 'if'")
    then = prule.get("then")
    if not isinstance(then, Mapping) or "effect" not in then:
        raise PolicyLoadError(source, f"{base}.policyRule.then.effect", "missing 'then.effect'")
    root = comp.node(prule["if"], f"{base}.policyRule.if")
    eff_expr = comp.expr(then["effect"], f"{base}.policyRule.then.effect", ())
    if not eff_expr.is_const:
        raise PolicyLoadError(source, f"{base}.policyRule.then.effect", "effect must not depend on the resource")
    effect = str(eff_expr.const).lower()
    if effect not in EFFECTS:
        raise PolicyLoadError(source, f"{base}.policyRule.then.effect", f"unsupported effect {eff_expr.const!r}")
    existence = None
    if effect in _EXISTENCE_EFFECTS:
        details = then.get("details")
        dpath = f"{base}.policyRule.then.details"
        if not isinstance(details, Mapping) or not isinstance(details.get("type"), str):
            raise PolicyLoadError(source, f"{dpath}.type", f"{eff_expr.const} needs details.type")
        cond_raw = details.get("existenceCondition")
        cond = comp.node(cond_raw, f"{dpath}.existenceCondition", outer=True) if cond_raw is not None else None
        name_expr = (
            comp.expr(details["name"], f"{dpath}.name", (), outer=True) if details.get("name") is not None else None
        )
        scope_raw = details.get("existenceScope", "resourceGroup")
        scope_expr = comp.expr(scope_raw, f"{dpath}.existenceScope", (), outer=True)
        existence_scope = str(scope_expr.const).lower() if scope_expr.is_const else ""
        if existence_scope not in ("resourcegroup", "subscription"):
            raise PolicyLoadError(
                source,
                f"{dpath}.existenceScope",
                f"existenceScope must be resourceGroup or subscription, not {scope_raw!r}",
            )
        rg_expr = (
            comp.expr(details["resourceGroupName"], f"{dpath}.resourceGroupName", (), outer=True)
            if details.get("resourceGroupName") not in (None, "")
            else None
        )
        existence = _Existence(
            type=details["type"],
            name=name_expr,
            condition=cond,
            existence_scope=existence_scope,
            resource_group_name=rg_expr,
        )
    default_state = "unknown"
    if effect == "manual":
        details = then.get("details")
        raw_state = details.get("defaultState", "Unknown") if isinstance(details, Mapping) else "Unknown"
        state_expr = comp.expr(raw_state, f"{base}.policyRule.then.details.defaultState", ())
        default_state = str(state_expr.const).lower() if state_expr.is_const else ""
        if default_state not in _DEFAULT_STATES:
            raise PolicyLoadError(
                source,
                f"{base}.policyRule.then.details.defaultState",
                f"defaultState must be Compliant, NonCompliant or Unknown, not {raw_state!r}",
            )
    return CompiledPolicy(
        rule=rule or name,
        name=name,
        definition_id=definition_id,
        display_name=str(props.get("displayName") or name),
        mode=mode.lower(),
        effect=effect,
        root=root,
        existence=existence,
        source=source,
        default_state=default_state,
    )


def evaluate_all(
    policies: Iterable[CompiledPolicy],
    resource: Mapping[str, Any],
    *,
    related: RelatedProvider | None = None,
    api_version: str | None = None,
    env: EvalEnv | None = None,
) -> list[Verdict]:
    """Evaluate every policy that applies to the resource's type (one shared context)."""
    rtype = str(resource.get("type") or "")
    if env is None and api_version is not None:
        env = EvalEnv(api_version=api_version)
    ctx = _Ctx(resource, env)
    return [p.evaluate(resource, related=related, _ctx=ctx) for p in policies if p.applies_to(rtype)]


# keep the literal helper importable for tests of the expression layer
_ = literal
