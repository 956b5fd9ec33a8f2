"""Template expressions in policy rules: ``"[concat(parameters('p'), '/x')]"``.

Expressions are parsed once, at load time, into small closures. A call that
depends only on parameters is folded into a constant. Supported functions are
the ones the Azure built-ins use (see :data:`FUNCTIONS`); any other name fails
at load time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["FUNCTIONS", "MISSING", "EvaluationError", "Expr", "ExprError", "compile_expr", "is_expression"]


class _Missing:
    """A field that does not exist in the resource."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class ExprError(ValueError):
    pass


class EvaluationError(Exception):
    """A template function or comparison failed while evaluating a resource.

    Azure Policy treats a failed evaluation as non-compliant (an implicit deny).
    """


class Expr:
    """A compiled expression: ``fn(ctx)``; ``const`` when it needs no resource."""

    __slots__ = ("const", "fn", "is_const", "source")

    def __init__(self, fn: Callable[[Any], Any], source: str, *, const: Any = None, is_const: bool = False) -> None:
        self.fn = fn
        self.source = source
        self.const = const
        self.is_const = is_const

    def __call__(self, ctx: Any) -> Any:
        return self.const if self.is_const else self.fn(ctx)


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


def literal(value: Any) -> Expr:
    if isinstance(value, str) and value.startswith("[["):
        value = value[1:]
    try:
        src = json.dumps(value)
    except (TypeError, ValueError):
        src = repr(value)
    return Expr(lambda _ctx: value, src, const=value, is_const=True)


_TOKENS = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[(),.\[\]]))"
)


def _tokenize(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    src = src.rstrip()
    while pos < len(src):
        m = _TOKENS.match(src, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected character at {pos}: {src[pos : pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
    return out


# A function gets the evaluated arguments and the context.
Fn = Callable[[list[Any], Any], Any]


def _s(v: Any) -> str:
    if v is MISSING or v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _length(args: list[Any], _ctx: Any) -> int:
    v = args[0]
    if v is MISSING or v is None:
        return 0
    return len(v) if isinstance(v, str | list | dict) else len(_s(v))


def _empty(args: list[Any], _ctx: Any) -> bool:
    v = args[0]
    return v is MISSING or v is None or (isinstance(v, str | list | dict) and len(v) == 0)


def _contains(args: list[Any], _ctx: Any) -> bool:
    container, item = args[0], args[1]
    if isinstance(container, str):
        return _s(item) in container  # case-sensitive, as in ARM templates
    if isinstance(container, list):
        return item in container
    if isinstance(container, dict):
        return _s(item) in container
    return False


def _equals(args: list[Any], _ctx: Any) -> bool:
    return bool(args[0] == args[1])


def _concat(args: list[Any], _ctx: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [x for a in args for x in a]
    return "".join(_s(a) for a in args)


def _if(args: list[Any], _ctx: Any) -> Any:
    return args[1] if args[0] else args[2]


def _pad_left(args: list[Any], _ctx: Any) -> str:
    pad = _s(args[2]) if len(args) > 2 else " "
    return _s(args[0]).rjust(int(args[1]), pad[:1] or " ")


def _int(args: list[Any], _ctx: Any) -> int:
    return int(args[0])


def _bool(args: list[Any], _ctx: Any) -> bool:
    v = args[0]
    return v.lower() == "true" if isinstance(v, str) else bool(v)


def _first(args: list[Any], _ctx: Any) -> Any:
    v = args[0]
    return v[0] if isinstance(v, list | str) and v else MISSING


def _last(args: list[Any], _ctx: Any) -> Any:
    v = args[0]
    return v[-1] if isinstance(v, list | str) and v else MISSING


def _substring(args: list[Any], _ctx: Any) -> str:
    s = _s(args[0])
    start = int(args[1])
    length = int(args[2]) if len(args) > 2 else len(s) - start
    if start < 0 or length < 0 or start + length > len(s):
        raise ValueError(f"substring({s!r}, {start}, {length}) is out of range")  # as in ARM templates
    return s[start : start + length]


FUNCTIONS: dict[str, Fn] = {
    "concat": _concat,
    "tolower": lambda a, _c: _s(a[0]).lower(),
    "toupper": lambda a, _c: _s(a[0]).upper(),
    "length": _length,
    "if": _if,
    "empty": _empty,
    "contains": _contains,
    "split": lambda a, _c: _s(a[0]).split(_s(a[1])) if isinstance(a[1], str) else _split_any(a[0], a[1]),
    "equals": _equals,
    "not": lambda a, _c: not a[0],
    "and": lambda a, _c: all(a),
    "or": lambda a, _c: any(a),
    "true": lambda _a, _c: True,
    "false": lambda _a, _c: False,
    "string": lambda a, _c: _s(a[0]),
    "int": _int,
    "bool": _bool,
    "padleft": _pad_left,
    "first": _first,
    "last": _last,
    "substring": _substring,
    "startswith": lambda a, _c: _s(a[0]).lower().startswith(_s(a[1]).lower()),
    "endswith": lambda a, _c: _s(a[0]).lower().endswith(_s(a[1]).lower()),
    "replace": lambda a, _c: _s(a[0]).replace(_s(a[1]), _s(a[2])),
    "coalesce": lambda a, _c: next((x for x in a if x is not None and x is not MISSING), None),
    "less": lambda a, _c: a[0] < a[1],
    "lessorequals": lambda a, _c: a[0] <= a[1],
    "greater": lambda a, _c: a[0] > a[1],
    "greaterorequals": lambda a, _c: a[0] >= a[1],
    "trim": lambda a, _c: _s(a[0]).strip(),
    "indexof": lambda a, _c: _s(a[0]).lower().find(_s(a[1]).lower()),
    "union": lambda a, _c: list(dict.fromkeys(x for arr in a for x in arr)),
}

# Functions whose value depends on the resource or the count scope.
_DYNAMIC = {"field", "current", "requestcontext"}


def _split_any(value: Any, seps: Any) -> list[str]:
    s = _s(value)
    if not isinstance(seps, list) or not seps:
        return [s]
    return re.split("|".join(re.escape(_s(x)) for x in seps), s)


class _Parser:
    def __init__(self, src: str, resolve_field: Callable[[str], Callable[[Any], Any]], params: dict[str, Any]):
        self.src = src
        self.toks = _tokenize(src)
        self.i = 0
        self.resolve_field = resolve_field
        self.params = params

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, sym: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (sym is not None and tok[1] != sym):
            raise ExprError(f"expected {sym or 'a token'} in {self.src!r}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        e = self.expr()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} in {self.src!r}")  # type: ignore[index]
        return e

    def expr(self) -> Expr:
        tok = self.take()
        kind, text = tok
        if kind == "str":
            val = text[1:-1].replace("''", "'")
            e = Expr(lambda _c: val, text, const=val, is_const=True)
        elif kind == "num":
            num: int | float = float(text) if "." in text else int(text)
            e = Expr(lambda _c: num, text, const=num, is_const=True)
        elif kind == "name":
            e = self.call(text)
        else:
            raise ExprError(f"unexpected {text!r} in {self.src!r}")
        return self.postfix(e)

    def postfix(self, e: Expr) -> Expr:
        while (tok := self.peek()) is not None and tok[1] in (".", "["):
            self.take()
            if tok[1] == ".":
                name = self.take()[1]
                e = _member(e, name)
            else:
                idx = self.expr()
                self.take("]")
                e = _index(e, idx)
        return e

    def call(self, name: str) -> Expr:
        self.take("(")
        args: list[Expr] = []
        if (tok := self.peek()) is not None and tok[1] != ")":
            args.append(self.expr())
            while (tok := self.peek()) is not None and tok[1] == ",":
                self.take()
                args.append(self.expr())
        self.take(")")
        lname = name.lower()
        src = f"{name}(...)"
        if lname == "parameters":
            if len(args) != 1 or not args[0].is_const:
                raise ExprError("parameters() takes one constant name")
            pname = str(args[0].const)
            key = next((k for k in self.params if k.lower() == pname.lower()), None)
            if key is None:
                raise ExprError(f"parameters('{pname}') is not defined")
            pval = self.params[key]
            return Expr(lambda _c: pval, src, const=pval, is_const=True)
        if lname == "field":
            if len(args) != 1 or not args[0].is_const:
                raise ExprError("field() takes one constant name")
            getter = self.resolve_field(str(args[0].const))
            return Expr(getter, src)
        if lname == "current":
            key = str(args[0].const).lower() if args else None
            if args and not args[0].is_const:
                raise ExprError("current() takes a constant name")
            return Expr(lambda c: c.current(key), src)
        if lname == "requestcontext":
            return Expr(lambda c: {"apiVersion": c.api_version}, src)
        fn = FUNCTIONS.get(lname)
        if fn is None:
            raise ExprError(f"unsupported template function {name!r}")
        if lname == "if" and len(args) == 3:
            cond, a, b = args
            return Expr(lambda c: a(c) if cond(c) else b(c), src)
        if all(a.is_const for a in args):
            try:
                val = fn([a.const for a in args], None)
            except (TypeError, ValueError, IndexError) as exc:
                raise ExprError(f"{name}(): {exc}") from None
            return Expr(lambda _c: val, src, const=val, is_const=True)
        return Expr(lambda c: _safe(fn, [a(c) for a in args], c), src)


def _safe(fn: Fn, args: list[Any], ctx: Any) -> Any:
    try:
        return fn(args, ctx)
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise EvaluationError(f"template function failed: {type(exc).__name__}: {exc}") from None


def _member(e: Expr, name: str) -> Expr:
    def get(c: Any) -> Any:
        v = e(c)
        if isinstance(v, dict):
            for k, x in v.items():
                if k.lower() == name.lower():
                    return x
        return MISSING

    if e.is_const:
        val = get(None)
        return Expr(lambda _c: val, f"{e.source}.{name}", const=val, is_const=True)
    return Expr(get, f"{e.source}.{name}")


def _index(e: Expr, idx: Expr) -> Expr:
    def get(c: Any) -> Any:
        v, i = e(c), idx(c)
        try:
            return v[i]
        except (TypeError, IndexError, KeyError):
            return MISSING

    return Expr(get, f"{e.source}[...]")


def compile_expr(value: Any, *, resolve_field: Callable[[str], Callable[[Any], Any]], params: dict[str, Any]) -> Expr:
    """Compile a policy value: a literal, or a ``[...]`` template expression."""
    if not is_expression(value):
        return literal(value)
    return _Parser(value[1:-1], resolve_field, params).parse()
