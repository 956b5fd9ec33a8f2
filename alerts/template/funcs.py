"""Template functions: Go's text/template builtins and Alertmanager's defaults (template/template.go)."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, unquote
from zoneinfo import ZoneInfo

import re2

from alerts.template.engine import TemplateError, go_str, truth

__all__ = ["FUNCTIONS", "HtmlEscaped", "Safe"]


class Safe(str):
    """A string a template marked safe (``safeHtml``/``safeUrl``): not escaped on output."""

    __slots__ = ()
    safe = True


class HtmlEscaped(str):
    """The ``html`` function's result: the email ``html`` escaper does not escape it again (Go's
    html/template drops a final ``| html`` that its own escaping makes redundant)."""

    __slots__ = ()
    html_escaped = True


def _eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise TemplateError("missing argument for comparison")
    return any(a == b for b in bs)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def f(a: Any, b: Any) -> bool:
        if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
            raise TemplateError("incompatible types for comparison")
        return op(a, b)

    return f


def _and(*args: Any) -> Any:
    v: Any = None
    for v in args:
        if not truth(v):
            return v
    return v


def _or(*args: Any) -> Any:
    v: Any = None
    for v in args:
        if truth(v):
            return v
    return v


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        v = v.get(k, "") if isinstance(v, Mapping) else v[k]
    return v


def _slice(v: Any, *idx: int) -> Any:
    if len(idx) == 0:
        return v
    if len(idx) == 1:
        return v[idx[0] :]
    return v[idx[0] : idx[1]]


_VERB = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([vsdqfgtxXeT%])")


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def rep(m: re.Match[str]) -> str:
        flags, verb = m.group(1), m.group(2)
        if verb == "%":
            return "%"
        v = next(it, None)
        if verb in "vsT":
            return ("%" + flags + "s") % (type(v).__name__ if verb == "T" else go_str(v))
        if verb == "q":
            return json.dumps(go_str(v), ensure_ascii=False)
        if verb == "t":
            return go_str(bool(v))
        return ("%" + flags + verb) % v

    return _VERB.sub(rep, fmt)


def _go_repl(repl: str) -> str:
    """Go's ReplaceAllString template ($1, ${1}, ${name}) to Python's (\\g<1>)."""
    return re.sub(
        r"\$(\{(\w+)\}|(\w+))", lambda m: "\\g<" + (m.group(2) or m.group(3)) + ">", repl.replace("\\", "\\\\")
    )


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    try:
        rx = re2.compile(pattern)
    except re2.error as exc:
        raise TemplateError(f"reReplaceAll: invalid regexp {pattern!r}: {exc}") from None
    return str(rx.sub(_go_repl(repl), text))


def _match(pattern: str, text: str) -> bool:
    try:
        return re2.search(pattern, text) is not None
    except re2.error as exc:
        raise TemplateError(f"match: invalid regexp {pattern!r}: {exc}") from None


def _title(s: str) -> str:
    # Go's strings.Title: upper-case the first letter of each word (letters after a non-letter).
    return re.sub(r"(?<![^\W\d_])([^\W\d_])", lambda m: m.group(1).upper(), s)


def _join(sep: str, items: Sequence[str]) -> str:
    return sep.join(go_str(x) for x in items)


def _as_time(t: Any) -> datetime:
    if isinstance(t, datetime):
        return t
    raise TemplateError(f"not a time: {go_str(t)}")


_GO_LAYOUT = [
    ("2006", "%Y"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("04", "%M"),
    ("05", "%S"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("-0700", "%z"),
]


def _date(layout: str, t: Any) -> str:
    fmt = layout.replace("%", "%%")
    for go, py in _GO_LAYOUT:
        fmt = fmt.replace(go, py)
    return _as_time(t).strftime(fmt)


def _tz(name: str, t: Any) -> datetime:
    try:
        return _as_time(t).astimezone(ZoneInfo(name))
    except (KeyError, ValueError) as exc:
        raise TemplateError(f"tz: unknown time zone {name!r}") from exc


def _humanize_duration(v: Any) -> str:
    """Prometheus' humanizeDuration: ``1d 1h 0m 0s``, ``14m 59s``, ``1.234s``, ``123.5ms``."""
    if isinstance(v, timedelta):
        x = v.total_seconds()
    elif isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            raise TemplateError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    else:
        x = float(v)
    if math.isnan(x) or math.isinf(x):
        return _g4(x)
    if x == 0:
        return "0s"
    if abs(x) >= 1:
        sign = "-" if x < 0 else ""
        n = int(abs(x))
        secs, mins, hours, days = n % 60, (n // 60) % 60, (n // 3600) % 24, n // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {secs}s"
        if hours:
            return f"{sign}{hours}h {mins}m {secs}s"
        if mins:
            return f"{sign}{mins}m {secs}s"
        return f"{sign}{_g4(abs(x))}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1:
            break
        prefix = p
        x *= 1000
    return f"{_g4(x)}{prefix}s"


def _g4(x: float) -> str:
    """Go's %.4g (no exponent for these magnitudes, trailing zeros dropped)."""
    return f"{x:.4g}"


def _since(t: Any) -> timedelta:
    return datetime.now(UTC) - _as_time(t)


def _json_prep(v: Any) -> Any:
    """Go's encoding/json order: map keys sorted, struct fields in declaration order."""
    from alerts.template.data import Alert, Data, Pair, to_json

    if isinstance(v, Alert | Data | Pair):
        return {k: _json_prep(x) for k, x in to_json(v).items()}
    if isinstance(v, Mapping):
        return {str(k): _json_prep(v[k]) for k in sorted(v)}
    if isinstance(v, list | tuple):
        return [_json_prep(x) for x in v]
    if isinstance(v, datetime):
        return to_json(v)
    return v


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go builtins
    "and": _and,
    "or": _or,
    "not": lambda v: not truth(v),
    "len": len,
    "index": _index,
    "slice": _slice,
    "print": lambda *a: "".join(go_str(x) for x in a),
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "printf": _printf,
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "html": lambda *a: HtmlEscaped(html.escape("".join(go_str(x) for x in a), quote=True)),
    "js": lambda *a: json.dumps("".join(go_str(x) for x in a))[1:-1],
    "urlquery": lambda *a: quote_plus("".join(go_str(x) for x in a)),
    # Alertmanager's defaults
    "toUpper": lambda s: go_str(s).upper(),
    "toLower": lambda s: go_str(s).lower(),
    "title": lambda s: _title(go_str(s)),
    "trimSpace": lambda s: go_str(s).strip(),
    "trimPrefix": lambda p, s: go_str(s).removeprefix(p),
    "trimSuffix": lambda p, s: go_str(s).removesuffix(p),
    "contains": lambda sub, s: sub in go_str(s),
    "join": _join,
    "match": _match,
    "safeHtml": lambda s: Safe(go_str(s)),
    "safeUrl": lambda s: Safe(go_str(s)),
    "urlUnescape": lambda s: unquote(go_str(s)),
    "reReplaceAll": _re_replace_all,
    "stringSlice": lambda *a: [go_str(x) for x in a],
    "date": _date,
    "tz": _tz,
    "since": _since,
    "humanizeDuration": _humanize_duration,
    "toJson": lambda v: json.dumps(_json_prep(v), separators=(",", ":"), ensure_ascii=False),
}
