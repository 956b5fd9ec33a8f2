"""Alertmanager's regular expressions: anchored ``^(?:...)$``, Go's RE2 syntax, linear-time matching.

Alertmanager compiles every regex (``=~``/``!~`` matchers, legacy ``match_re``, inhibit rules, silences)
with Go's ``regexp`` package, which implements RE2: no backreferences or lookaround, inline flags
(``(?i)``, ``(?s)``, ``(?m)``, ``(?U)``) anywhere in the expression, POSIX classes (``[[:alpha:]]``), Unicode
classes (``\\pL``, ``\\p{Greek}``), and guaranteed linear-time matching. Python's ``re`` differs on all of
these (it rejects ``a(?i)b`` and backtracks exponentially on ``(/?[a-z0-9/.-]*)*X``), so Vigil compiles
with Google's RE2 (the ``google-re2`` binding), the engine Go's package was written after.

Where the C++ and Go implementations differ, Go wins, because Go is what Alertmanager runs:

- ``\\C`` (any byte) is rejected, as Go does;
- error messages are Go's (``error parsing regexp: missing closing ]: `[regexp)$```), translated
  from RE2's error codes, whose arguments already agree with Go's.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["AnchoredRegex", "RegexError", "compile_anchored"]

_log = logging.getLogger(__name__)

# RE2 (C++) error code text -> Go regexp/syntax ErrorCode text.
_GO_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid UTF-8": "invalid UTF-8",
}


class RegexError(ValueError):
    """The expression is not valid Go/RE2 syntax; the message is the one Alertmanager prints."""


@functools.cache
def _engine() -> tuple[Any, Any, Any]:
    """(the re2 module, compile options, the anchor of the direct match call), loaded on first use: a
    configuration without regexes does not pay for importing RE2 at cold start."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the error comes back as an exception; RE2's own stderr line is noise
    options.never_capture = True  # matchers only ask "does it match": no submatch bookkeeping
    try:  # the binding's match call without its Match-object bookkeeping (5x cheaper per call)
        from re2 import _re2 as core

        anchor: Any = core.RE2.Anchor.ANCHOR_START
    except (ImportError, AttributeError):  # pragma: no cover - another google-re2 layout: the public API
        anchor = None
    return re2, options, anchor


# A pattern that is only literal alternatives ("critical|high", "prod"), matched by set membership.
# (Python's re is linear here: every repetition starts with a literal "|".)
_LITERALS = re.compile(r"[A-Za-z0-9_:/ -]+(?:\|[A-Za-z0-9_:/ -]+)*")


@dataclass(frozen=True, slots=True)
class AnchoredRegex:
    """A regex compiled as Alertmanager does: ``^(?:pattern)$``."""

    pattern: str
    _re: Any
    _literals: frozenset[str] | None = None
    _anchor: Any = None

    def fullmatch(self, value: str) -> bool:
        if self._literals is not None:
            return value in self._literals
        raw = getattr(self._re, "_regexp", None)
        if self._anchor is None or raw is None:
            return self._re.search(value) is not None
        b = value.encode("utf-8", "surrogatepass")
        return bool(raw.Match(self._anchor, b, 0, len(b))[0][0] >= 0)


def _go_error(raw: object) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, sep, arg = text.partition(": ")
    if not sep:
        return f"error parsing regexp: {text}"
    return f"error parsing regexp: {_GO_CODES.get(code, code)}: `{arg}`"


def _go_only_rejections(pattern: str) -> None:
    """Syntax C++ RE2 accepts and Go's regexp rejects."""
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":  # \Q...\E is literal text: skip to \E (or the end)
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if nxt == "C":
                raise RegexError("error parsing regexp: invalid escape sequence: `\\C`")
            i += 2
            continue
        i += 1


@functools.lru_cache(maxsize=4096)  # the same patterns recur across routes, inhibit rules and silences
def compile_anchored(pattern: str) -> AnchoredRegex:
    """Compile ``^(?:pattern)$`` with RE2; raises :class:`RegexError` with Go's message."""
    re2, options, anchor = _engine()
    full = f"^(?:{pattern})$"
    try:
        compiled = re2.compile(full, options)
    except re2.error as exc:
        raise RegexError(_go_error(exc.args[0] if exc.args else exc)) from None
    _go_only_rejections(pattern)
    literals = frozenset(pattern.split("|")) if _LITERALS.fullmatch(pattern) is not None else None
    return AnchoredRegex(pattern, compiled, literals, anchor)
