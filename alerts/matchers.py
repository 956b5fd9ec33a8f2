"""Label matchers in Alertmanager's syntax: ``a="b"``, ``a=~"re"``, ``a!="b"``, ``a!~"re"``.

One string may hold several comma-separated matchers, optionally wrapped in
braces (``{a="b", c=~"d.*"}``), as ``amtool`` and alertmanager.yml accept.
Values may be unquoted (``severity=critical``). Regexes are fully anchored, as
in Prometheus. A missing label matches as the empty string.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["MatchType", "Matcher", "MatcherError", "matchers_from", "matches_all", "parse_matchers"]


class MatcherError(ValueError):
    """A matcher string could not be parsed."""


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, type: MatchType, value: str) -> Matcher:
        compiled = None
        if type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compiled = re.compile(f"^(?:{value})$")
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r} for label {name!r}: {exc}") from None
        return cls(name, type, value, compiled)

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.name, "")
        t = self.type
        if t is MatchType.EQUAL:
            return v == self.value
        if t is MatchType.NOT_EQUAL:
            return v != self.value
        assert self._re is not None
        hit = self._re.match(v) is not None
        return hit if t is MatchType.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


_NAME = re.compile(r"\s*([^\s{}!=~,\"']+)\s*(=~|!~|!=|=)\s*")


def _read_value(s: str, i: int) -> tuple[str, int]:
    """Read a quoted or unquoted value starting at ``s[i]``; return it and the next index."""
    if i < len(s) and s[i] in "\"'":
        quote = s[i]
        out: list[str] = []
        i += 1
        while i < len(s):
            ch = s[i]
            if ch == "\\" and i + 1 < len(s):
                nxt = s[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            if ch == quote:
                return "".join(out), i + 1
            out.append(ch)
            i += 1
        raise MatcherError(f"unterminated quoted value in {s!r}")
    j = i
    while j < len(s) and s[j] not in ",}":
        j += 1
    return s[i:j].strip(), j


def parse_matchers(text: str) -> list[Matcher]:
    """Parse one matcher string (possibly several, comma-separated, in braces)."""
    s = text.strip()
    if s.startswith("{"):
        if not s.endswith("}"):
            raise MatcherError(f"missing closing '}}' in {text!r}")
        s = s[1:-1]
    out: list[Matcher] = []
    i = 0
    while i < len(s):
        if s[i] in " \t,":
            i += 1
            continue
        m = _NAME.match(s, i)
        if not m:
            raise MatcherError(f"bad matcher {text!r}: expected name followed by =, !=, =~ or !~")
        name, op = m.group(1), MatchType(m.group(2))
        value, i = _read_value(s, m.end())
        out.append(Matcher.create(name, op, value))
        while i < len(s) and s[i] == " ":
            i += 1
        if i < len(s) and s[i] not in ",":
            raise MatcherError(f"bad matcher {text!r}: unexpected {s[i]!r} at position {i}")
    if not out:
        raise MatcherError(f"no matcher in {text!r}")
    return out


def matchers_from(
    matchers: Iterable[str] = (), match: Mapping[str, str] | None = None, match_re: Mapping[str, str] | None = None
) -> tuple[Matcher, ...]:
    """Combine new-style ``matchers`` with legacy ``match``/``match_re`` maps."""
    out: list[Matcher] = []
    for text in matchers:
        out.extend(parse_matchers(text))
    for k, v in sorted((match or {}).items()):
        out.append(Matcher.create(k, MatchType.EQUAL, v))
    for k, v in sorted((match_re or {}).items()):
        out.append(Matcher.create(k, MatchType.REGEX, v))
    return tuple(out)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
