"""Label matchers in Alertmanager's syntax: ``a="b"``, ``a=~"re"``, ``a!="b"``, ``a!~"re"``.

Parsing follows Alertmanager error for error. It has two parsers:

- **classic** (Alertmanager 0.25 and earlier, ``pkg/labels``): a name matching
  ``[a-zA-Z_:][a-zA-Z0-9_:]*``, an operator, and a value that may be double-quoted with
  OpenMetrics escapes (``\\"``, ``\\n``, ``\\\\``); commas outside quotes separate matchers;
  ``{``/``}`` are optional.
- **utf8** (Alertmanager 0.27 and later, ``matcher/parse``): a lexer over UTF-8 text where names and
  values are either unquoted (no reserved characters) or double-quoted Go string literals, so label
  names such as ``"service.name"`` can be written.

The default, **fallback**, is what current Alertmanager releases run: input both parsers accept and
agree on, or only the utf8 parser accepts, parses as utf8; input only the classic parser accepts,
or on which they disagree, parses as classic; input both reject gets the classic parser's error.

Regexes are anchored (``^(?:...)$``) and evaluated with RE2 (:mod:`alerts.regex`). A missing
label matches as the empty string.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from alerts.regex import AnchoredRegex, RegexError, compile_anchored

__all__ = [
    "MatchType",
    "Matcher",
    "MatcherError",
    "ParserMode",
    "is_classic_label_name",
    "matchers_from",
    "matches_all",
    "parse_matchers",
]

ParserMode = Literal["fallback", "classic", "utf8"]


class MatcherError(ValueError):
    """A matcher string could not be parsed; the message is Alertmanager's."""


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


# Python's re is safe for these two: no nested or overlapping quantifiers, so matching is linear.
_CLASSIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def is_classic_label_name(name: str) -> bool:
    return _CLASSIC_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _re: AnchoredRegex | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, type: MatchType, value: str) -> Matcher:
        compiled = None
        if type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compiled = compile_anchored(value)
            except RegexError as exc:
                raise MatcherError(str(exc)) from None
        return cls(name, type, value, compiled)

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.name, "")
        t = self.type
        if t is MatchType.EQUAL:
            return v == self.value
        if t is MatchType.NOT_EQUAL:
            return v != self.value
        assert self._re is not None
        hit = self._re.fullmatch(v)
        return hit if t is MatchType.REGEX else not hit

    def __str__(self) -> str:
        name = self.name if is_classic_label_name(self.name) else _quote(self.name)
        return f"{name}{self.type.value}{_quote(self.value)}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- classic parser (pkg/labels, Alertmanager 0.25) -------------------------------------------------

_GO_SPACE = "\t\n\f\r "  # Go's \s (ASCII only)
# Alertmanager's `^\s*(name)\s*(op)\s*((?s).*?)\s*$`, in two linear steps: this prefix, then the rest of
# the string with Go's whitespace stripped from its end (what the lazy group and the final \s* leave).
_CLASSIC_HEAD = re.compile(r"[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*")


def _classic_matcher(s: str) -> Matcher:
    m = _CLASSIC_HEAD.match(s)
    if m is None:
        raise MatcherError(f"bad matcher format: {s}")
    name, op, raw_full = m.group(1), m.group(2), s[m.end() :].rstrip(_GO_SPACE)
    raw = raw_full
    expect_trailing_quote = False
    if raw.startswith('"'):
        raw = raw[1:]
        expect_trailing_quote = True
    out: list[str] = []
    escaped = False
    last = len(raw) - 1
    for i, r in enumerate(raw):
        if escaped:
            escaped = False
            if r == "n":
                out.append("\n")
            elif r in '"\\':
                out.append(r)
            else:  # a spurious escape: the backslash is literal
                out.append("\\" + r)
            continue
        if r == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")  # a backslash as the last character is literal
        elif r == '"':
            if not expect_trailing_quote or i < last:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw_full}")
            expect_trailing_quote = False
        else:
            out.append(r)
    if expect_trailing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw_full}")
    return Matcher.create(name, MatchType(op), "".join(out))


def _classic_matchers(s: str) -> list[Matcher]:
    s = s.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for r in s:
        if r == ",":
            if not inside_quotes:
                tokens.append("".join(token))
                token = []
                continue
        elif r == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif r == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(r)
    rest = "".join(token).strip(_GO_SPACE + "\v\x85\xa0")
    if rest:
        tokens.append(rest)
    return [_classic_matcher(t) for t in tokens]


# --- utf8 parser (matcher/parse, Alertmanager 0.27+) ------------------------------------------------

_UNICODE_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)
_RESERVED = frozenset("{}!=~,\\\"'`")

_OPEN, _CLOSE, _COMMA, _EQ, _NEQ, _RE, _NRE, _QUOTED, _UNQUOTED, _EOF = range(10)


class _Stop(Exception):
    """End of input where the grammar wanted a token (Go's errEOF)."""


@dataclass(slots=True)
class _Token:
    kind: int
    value: str
    start: int
    end: int


class _Lexer:
    """Rune columns equal Python string indices, so positions are plain indices."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.start = 0
        self.pos = 0
        self.err: MatcherError | None = None

    def _pos_err(self, what: str) -> MatcherError:
        return MatcherError(f"{self.start}:{self.pos}: {what}")

    def _emit(self, kind: int) -> _Token:
        t = _Token(kind, self.s[self.start : self.pos], self.start, self.pos)
        self.start = self.pos
        return t

    def _expected(self, expected: str) -> MatcherError:
        if self.pos >= len(self.s):
            return self._pos_err(f"unexpected end of input, expected one of '{expected}'")
        return self._pos_err(f"{self.s[self.start : self.pos]}: expected one of '{expected}'")

    def scan(self) -> _Token:
        if self.err is not None:
            raise self.err
        try:
            return self._scan()
        except MatcherError as exc:
            self.err = exc
            raise

    def _scan(self) -> _Token:
        s = self.s
        while self.pos < len(s):
            r = s[self.pos]
            if r in "{},":
                self.pos += 1
                return self._emit({"{": _OPEN, "}": _CLOSE, ",": _COMMA}[r])
            if r in "=!":
                return self._operator()
            if r == '"':
                return self._quoted()
            if r not in _RESERVED and r not in _UNICODE_SPACE:
                while self.pos < len(s) and s[self.pos] not in _RESERVED and s[self.pos] not in _UNICODE_SPACE:
                    self.pos += 1
                return self._emit(_UNQUOTED)
            self.pos += 1
            if r in _UNICODE_SPACE:
                self.start = self.pos
                continue
            raise self._pos_err(f"{s[self.start : self.pos]}: invalid input")
        return _Token(_EOF, "", self.pos, self.pos)

    def _accept(self, ch: str) -> bool:
        if self.pos < len(self.s) and self.s[self.pos] == ch:
            self.pos += 1
            return True
        return False

    def _operator(self) -> _Token:
        if self._accept("!"):
            if self._accept("="):
                return self._emit(_NEQ)
            if self._accept("~"):
                return self._emit(_NRE)
            raise self._expected("=~")
        self._accept("=")
        return self._emit(_RE if self._accept("~") else _EQ)

    def _quoted(self) -> _Token:
        self.pos += 1
        escaped = False
        s = self.s
        while self.pos < len(s):
            r = s[self.pos]
            if escaped:
                escaped = False
            elif r == "\\":
                escaped = True
            elif r == '"':
                break
            self.pos += 1
        if not self._accept('"'):
            raise self._pos_err(f'{s[self.start : self.pos]}: missing end "')
        return self._emit(_QUOTED)

    def peek(self) -> _Token:
        saved = (self.start, self.pos)
        try:
            return self.scan()
        finally:
            self.start, self.pos = saved


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _go_unquote(lit: str) -> str:
    """Go's strconv.Unquote for a double-quoted literal, then a UTF-8 check; ValueError if invalid."""
    if len(lit) < 2 or lit[0] != '"' or lit[-1] != '"':
        raise ValueError("not quoted")
    body = lit[1:-1]
    if "\n" in body:
        raise ValueError("newline in string")
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == '"':
            raise ValueError("unescaped quote")
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("trailing backslash")
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("bad hex escape")
            v = int(digits, 16)
            i += width
            if e == "x":
                out.append(v)
            else:
                if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                    raise ValueError("bad code point")
                out += chr(v).encode("utf-8")
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise ValueError("bad octal escape")
            v = int(digits, 8)
            if v > 255:
                raise ValueError("bad octal escape")
            out.append(v)
            i += 2
        else:
            raise ValueError("unknown escape")
    return out.decode("utf-8")  # strict: invalid UTF-8 (e.g. "\xf0\x9f") raises


class _Parser:
    def __init__(self, text: str) -> None:
        self.lx = _Lexer(text)
        self.matchers: list[Matcher] = []
        self.open_brace = False

    def _peek_nonempty(self) -> _Token:
        t = self.lx.peek()
        if t.kind == _EOF:
            raise _Stop
        return t

    def _expect_peek(self, *kinds: int) -> _Token:
        t = self._peek_nonempty()
        if t.kind not in kinds:
            raise MatcherError(f"{t.start}:{t.end}: unexpected {t.value}")
        return t

    def _expect(self, *kinds: int) -> _Token:
        t = self._expect_peek(*kinds)
        self.lx.scan()
        return t

    @staticmethod
    def _wrap(exc: MatcherError, what: str) -> MatcherError:
        return MatcherError(f"{exc}: {what}")

    def parse(self) -> list[Matcher]:
        lx = self.lx
        # open brace
        try:
            t = self._peek_nonempty()
            if t.kind == _OPEN:
                lx.scan()
                self.open_brace = True
            state = "close" if self._peek_nonempty().kind == _CLOSE else "matcher"
        except _Stop:
            state = "close" if self.open_brace else "eof"
        while True:
            if state == "eof":
                try:
                    t = lx.scan()
                except MatcherError as exc:
                    raise self._wrap(exc, "expected end of input") from None
                if t.kind != _EOF:
                    raise MatcherError(f"{t.start}:{t.end}: {t.value}: expected end of input")
                return self.matchers
            if state == "close":
                if self.open_brace:
                    try:
                        self._expect(_CLOSE)
                    except _Stop:
                        raise MatcherError(f"0:{lx.pos}: end of input: expected close brace") from None
                    except MatcherError as exc:
                        raise MatcherError(f"0:{lx.pos}: {exc}: expected close brace") from None
                else:
                    try:
                        self._expect(_CLOSE)
                    except (_Stop, MatcherError):
                        pass
                    else:
                        raise MatcherError(f"0:{lx.pos}: }}: expected opening brace")
                state = "eof"
            elif state == "matcher":
                self._matcher()
                try:
                    t = self._expect_peek(_COMMA, _CLOSE)
                except _Stop:
                    state = "close"
                    continue
                except MatcherError as exc:
                    raise self._wrap(exc, "expected a comma or close brace") from None
                if t.kind == _CLOSE:
                    state = "close"
                    continue
                lx.scan()  # the comma
                try:
                    t = self._expect_peek(_CLOSE, _UNQUOTED, _QUOTED)
                except _Stop:
                    state = "close"
                    continue
                except MatcherError as exc:
                    raise self._wrap(exc, "expected a matcher or close brace after comma") from None
                state = "close" if t.kind == _CLOSE else "matcher"

    def _value(self, t: _Token) -> str:
        if t.kind == _UNQUOTED:
            return t.value
        try:
            return _go_unquote(t.value)
        except ValueError:
            raise MatcherError(f"{t.start}:{t.end}: {t.value}: invalid input") from None

    def _matcher(self) -> None:
        def expect(what: str, *kinds: int) -> _Token:
            try:
                return self._expect(*kinds)
            except _Stop:
                raise MatcherError(f"end of input: {what}") from None
            except MatcherError as exc:
                raise self._wrap(exc, what) from None

        name = self._value(expect("expected label name", _QUOTED, _UNQUOTED))
        op = expect("expected an operator such as '=', '!=', '=~' or '!~'", _EQ, _NEQ, _RE, _NRE)
        value = self._value(expect("expected label value", _UNQUOTED, _QUOTED))
        mtype = {_EQ: MatchType.EQUAL, _NEQ: MatchType.NOT_EQUAL, _RE: MatchType.REGEX, _NRE: MatchType.NOT_REGEX}
        try:
            self.matchers.append(Matcher.create(name, mtype[op.kind], value))
        except MatcherError as exc:
            raise MatcherError(f"failed to create matcher: {exc}") from None


def _utf8_matchers(text: str) -> list[Matcher]:
    return _Parser(text).parse()


# --- entry points -----------------------------------------------------------------------------------


def parse_matchers(text: str, mode: ParserMode = "fallback") -> list[Matcher]:
    """Parse one matcher string (zero or more comma-separated matchers, optionally in braces).

    Raises :class:`MatcherError` with the message Alertmanager gives for the same input.
    """
    if mode == "classic":
        return _classic_matchers(text)
    if mode == "utf8":
        return _utf8_matchers(text)
    try:
        new = _utf8_matchers(text)
    except MatcherError:
        return _classic_matchers(text)  # both fail: the classic error, as Alertmanager
    try:
        old = _classic_matchers(text)
    except MatcherError:
        return new
    return old if old != new else new


def matchers_from(
    matchers: Iterable[str] = (), match: Mapping[str, str] | None = None, match_re: Mapping[str, str] | None = None
) -> tuple[Matcher, ...]:
    """Combine new-style ``matchers`` with legacy ``match``/``match_re`` maps (Alertmanager's order)."""
    out: list[Matcher] = []
    for k, v in sorted((match or {}).items()):
        out.append(Matcher.create(k, MatchType.EQUAL, v))
    for k, v in sorted((match_re or {}).items()):
        out.append(Matcher.create(k, MatchType.REGEX, v))
    for text in matchers:
        out.extend(parse_matchers(text))
    return tuple(out)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
