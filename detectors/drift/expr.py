"""Template expressions in policy rules: ``"[concat(parameters('p'), '/x')]"``.

Expressions are parsed once, at load time, into small closures. A call that
depends only on parameters is folded into a constant. Supported functions are
the ones the Azure built-ins use (see :data:`FUNCTIONS`); any other name fails
at load time.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
        key = _s(item).lower()  # ARM property names are case-insensitive
        return any(str(k).lower() == key for k in container)
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


def _union(args: list[Any], _ctx: Any) -> Any:
    if args and all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out.update(a)
        return out
    res: list[Any] = []
    for arr in args:
        for x in arr if isinstance(arr, list) else [arr]:
            if x not in res:
                res.append(x)
    return res


_NET_DATE = "%Y-%m-%dT%H:%M:%S"


def _iso(dt: datetime) -> str:
    """Azure Policy's date-time format: ``yyyy-MM-ddTHH:mm:ss.fffffffZ`` (UTC)."""
    dt = dt.astimezone(UTC) if dt.tzinfo is not None else dt
    return f"{dt.strftime(_NET_DATE)}.{dt.microsecond:06d}0Z"


def _parse_date(v: Any) -> datetime:
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not a date-time string")
    text = v.strip()
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", text)
    if m:  # .NET writes up to 7 fractional digits; Python reads 6
        text = f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}{m.group(3)}"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _add_days(args: list[Any], _ctx: Any) -> str:
    return _iso(_parse_date(args[0]) + timedelta(days=int(args[1])))


def _ip_range(text: Any) -> tuple[int, int, int]:
    """(version, first, last) of a single address, a CIDR range or ``first-last``."""
    s = _s(text).strip()
    if not s:
        raise ValueError("an empty IP range")
    if "-" in s:
        a, b = (ipaddress.ip_address(x.strip()) for x in s.split("-", 1))
        if a.version != b.version or int(a) > int(b):
            raise ValueError(f"invalid IP range {s!r}")
        return a.version, int(a), int(b)
    if "/" in s:
        net = ipaddress.ip_network(s, strict=False)
        return net.version, int(net.network_address), int(net.broadcast_address)
    ip = ipaddress.ip_address(s)
    return ip.version, int(ip), int(ip)


def _ip_range_contains(args: list[Any], _ctx: Any) -> bool:
    v1, lo1, hi1 = _ip_range(args[0])
    v2, lo2, hi2 = _ip_range(args[1])
    if v1 != v2:
        raise ValueError("ipRangeContains: the ranges are of different IP families")
    return lo1 <= lo2 and hi2 <= hi1


def _intersection(args: list[Any], _ctx: Any) -> Any:
    if all(isinstance(a, dict) for a in args):
        first = args[0]
        return {k: v for k, v in first.items() if all(k in o and o[k] == v for o in args[1:])}
    if all(isinstance(a, list) for a in args):
        out: list[Any] = []
        for x in args[0]:
            if all(x in o for o in args[1:]) and x not in out:
                out.append(x)
        return out
    raise ValueError("intersection() needs arrays or objects of the same kind")


def _create_object(args: list[Any], _ctx: Any) -> dict[str, Any]:
    if len(args) % 2:
        raise ValueError("createObject() needs key/value pairs")
    return {_s(args[i]): args[i + 1] for i in range(0, len(args), 2)}


def _try_get(args: list[Any], _ctx: Any) -> Any:
    v = args[0]
    for key in args[1:]:
        if isinstance(v, dict):
            k = _s(key).lower()
            v = next((x for name, x in v.items() if str(name).lower() == k), None)
        elif isinstance(v, list) and isinstance(key, int) and not isinstance(key, bool):
            v = v[key] if 0 <= key < len(v) else None
        else:
            return None
        if v is None:
            return None
    return v


def _number(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise ValueError(f"{v!r} is not an integer")
    return int(v)


def _max(args: list[Any], _ctx: Any) -> int:
    vals = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not vals:
        raise ValueError("max() of nothing")
    return max(_number(v) for v in vals)


def _min(args: list[Any], _ctx: Any) -> int:
    vals = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not vals:
        raise ValueError("min() of nothing")
    return min(_number(v) for v in vals)


def _div(args: list[Any], _ctx: Any) -> int:
    a, b = _number(args[0]), _number(args[1])
    if b == 0:
        raise ValueError("div() by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q  # .NET integer division truncates toward zero


def _mod(args: list[Any], _ctx: Any) -> int:
    a, b = _number(args[0]), _number(args[1])
    if b == 0:
        raise ValueError("mod() by zero")
    return a - b * _div([a, b], None)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?::([^}]*))?\}")


def _format(args: list[Any], _ctx: Any) -> str:
    """.NET composite formatting: ``{0}``, ``{1:N0}``-style items (``{{``/``}}`` escape braces)."""
    fmt, values = _s(args[0]), args[1:]

    def item(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        i = int(m.group(1))
        if i >= len(values):
            raise ValueError(f"format(): no argument {{{i}}}")
        v, spec = values[i], m.group(2)
        if spec and isinstance(v, int | float) and not isinstance(v, bool):
            kind, digits = spec[:1].upper(), spec[1:]
            n = int(digits) if digits.isdigit() else (2 if kind in "NF" else 0)
            if kind == "N":
                return f"{v:,.{n}f}"
            if kind == "F":
                return f"{v:.{n}f}"
            if kind == "D":
                return f"{int(v):0{n}d}"
        return _s(v)

    return _FORMAT_ITEM.sub(item, fmt)


def _base64(args: list[Any], _ctx: Any) -> str:
    return base64.b64encode(_s(args[0]).encode("utf-8")).decode("ascii")


def _base64_to_string(args: list[Any], _ctx: Any) -> str:
    return base64.b64decode(_s(args[0]), validate=True).decode("utf-8")


_M32 = 0xFFFFFFFF


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _murmur64(data: bytes) -> int:
    """The 64-bit MurmurHash variant behind ARM's ``uniqueString`` (seed 0).

    Two interleaved 32-bit lanes over 8-byte blocks (little-endian), then a
    MurmurHash3-style finaliser on each lane, combined into 64 bits.
    """
    c1, c2, c3, c4 = 0xAB0E9789, 0x239B961B, 0x85EBCA6B, 0xC2B2AE35
    h1 = h2 = 0
    n = len(data)
    i = 0
    while i + 8 <= n:
        k1 = int.from_bytes(data[i : i + 4], "little")
        k2 = int.from_bytes(data[i + 4 : i + 8], "little")
        h1 = _rotl(h1 ^ (_rotl(k1 * c2 & _M32, 15) * c1 & _M32), 19)
        h1 = ((h1 + h2) * 5 + 0x561CCD1B) & _M32
        h2 = _rotl(h2 ^ (_rotl(k2 * c1 & _M32, 17) * c2 & _M32), 13)
        h2 = ((h2 + h1) * 5 + 0x0BCAA747) & _M32
        i += 8
    rest = data[i:]
    if rest:
        k1 = int.from_bytes(rest[:4], "little")
        h1 ^= _rotl(k1 * c2 & _M32, 15) * c1 & _M32
        if len(rest) > 4:
            k2 = int.from_bytes(rest[4:], "little")
            h2 ^= _rotl(k2 * c1 & _M32, 17) * c2 & _M32
    h2 = (h2 ^ n) & _M32
    h1 = ((h1 ^ n) + h2) & _M32
    h2 = (h2 + h1) & _M32

    def fmix(h: int) -> int:
        h = ((h ^ (h >> 16)) * c3) & _M32
        h = ((h ^ (h >> 13)) * c4) & _M32
        return h ^ (h >> 16)

    h1, h2 = fmix(h1), fmix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    """ARM's ``uniqueString``: the values joined with ``-``, hashed, 13 base-32 characters."""
    h = _murmur64("-".join(values).encode("utf-8"))
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[((h << (5 * i)) & 0xFFFFFFFFFFFFFFFF) >> 59] for i in range(13))


def _unique_string(args: list[Any], _ctx: Any) -> str:
    if not args or not all(isinstance(a, str) for a in args):
        raise ValueError("uniqueString() takes one or more strings")
    return unique_string(*args)


def _array(args: list[Any], _ctx: Any) -> list[Any]:
    v = args[0]
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return [v]
    return [v]


def _keys(args: list[Any], _ctx: Any) -> list[str]:
    if not isinstance(args[0], dict):
        raise ValueError("keys() needs an object")
    return list(args[0])


def _take(args: list[Any], _ctx: Any) -> Any:
    v, n = args[0], max(0, _number(args[1]))
    return v[:n] if isinstance(v, list | str) else MISSING


def _skip(args: list[Any], _ctx: Any) -> Any:
    v, n = args[0], max(0, _number(args[1]))
    return v[n:] if isinstance(v, list | str) else MISSING


def _epoch_to_date(args: list[Any], _ctx: Any) -> str:
    return _iso(datetime.fromtimestamp(_number(args[0]), UTC))


def _date_to_epoch(args: list[Any], _ctx: Any) -> int:
    return int(_parse_date(args[0]).timestamp())


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
    "union": _union,
    "adddays": _add_days,
    "iprangecontains": _ip_range_contains,
    "intersection": _intersection,
    "createobject": _create_object,
    "createarray": lambda a, _c: list(a),
    "array": _array,
    "add": lambda a, _c: _number(a[0]) + _number(a[1]),
    "sub": lambda a, _c: _number(a[0]) - _number(a[1]),
    "mul": lambda a, _c: _number(a[0]) * _number(a[1]),
    "div": _div,
    "mod": _mod,
    "max": _max,
    "min": _min,
    "tryget": _try_get,
    "base64": _base64,
    "base64tostring": _base64_to_string,
    "uniquestring": _unique_string,
    "format": _format,
    "json": lambda a, _c: json.loads(_s(a[0])),
    "null": lambda _a, _c: None,
    "keys": _keys,
    "take": _take,
    "skip": _skip,
    "datetimefromepoch": _epoch_to_date,
    "datetimetoepoch": _date_to_epoch,
}

# Functions whose value depends on where and when a resource is evaluated (never folded).
# The context provides them: see ``engine._Ctx``.
_SCOPE_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "requestcontext": lambda c: c.request_context(),
    "subscription": lambda c: c.subscription(),
    "resourcegroup": lambda c: c.resource_group(),
    "policy": lambda c: c.policy_info(),
    "utcnow": lambda c: _iso(c.now),
}


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
        scoped = _SCOPE_FUNCTIONS.get(lname)
        if scoped is not None:
            if args and lname != "utcnow":
                raise ExprError(f"{name}() takes no arguments")
            if args:
                raise ExprError("utcNow() in a policy rule takes no format argument")
            return Expr(scoped, src)
        fn = FUNCTIONS.get(lname)
        if fn is None:
            raise ExprError(f"unsupported template function {name!r}")
        if lname == "if":
            if len(args) != 3:
                raise ExprError("if() takes three arguments")
            cond, a, b = args
            if cond.is_const:  # folded: only the branch taken is compiled into the rule
                return a if cond.const else b
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
