"""Matcher parsing and regex semantics, conformance with Alertmanager.

Sources of the tables (inputs and expected results or error strings, transcribed; no code copied):
- CLASSIC: prometheus/alertmanager ``pkg/labels/parse_test.go`` (TestMatchers), the classic parser of
  Alertmanager 0.25. One case differs from that file's newest revision: ``job=`` there errors with
  "matcher value is not present"; Alertmanager 0.25's amtool (Debian 0.25.0-1) accepts it as ``job=""``,
  and we follow the released 0.25.
- UTF8: prometheus/alertmanager ``matcher/parse/parse_test.go`` (TestMatchers), the UTF-8 parser of
  Alertmanager 0.27+.
- REGEX_ERRORS: error strings printed by ``amtool check-config`` of Alertmanager 0.25.0 (Debian
  package prometheus-alertmanager 0.25.0-1+b4) for a route whose matcher holds the regex; the live
  check against amtool is tests/alerts/test_amtool_agreement.py.
"""

from __future__ import annotations

import pytest

from alerts.matchers import MatcherError, MatchType, parse_matchers
from alerts.regex import compile_anchored

EQ, NE, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX

CLASSIC: list[tuple[str, list[tuple[str, MatchType, str]] | str]] = [
    ('{foo="bar"}', [("foo", EQ, "bar")]),
    ('{foo=~"bar.*"}', [("foo", RE, "bar.*")]),
    ('{foo!="bar"}', [("foo", NE, "bar")]),
    ('{foo!~"bar.*"}', [("foo", NRE, "bar.*")]),
    ('{foo="bar", baz!="quux"}', [("foo", EQ, "bar"), ("baz", NE, "quux")]),
    ('{foo="bar", baz!~"quux.*"}', [("foo", EQ, "bar"), ("baz", NRE, "quux.*")]),
    ('{foo="bar",baz!~".*quux", derp="wat"}', [("foo", EQ, "bar"), ("baz", NRE, ".*quux"), ("derp", EQ, "wat")]),
    ('{foo="bar", instance=~"some-api.*"}', [("foo", EQ, "bar"), ("instance", RE, "some-api.*")]),
    ('{foo=""}', [("foo", EQ, "")]),
    ('{foo="bar,quux", job="job1"}', [("foo", EQ, "bar,quux"), ("job", EQ, "job1")]),
    ('{foo = "bar", dings != "bums", }', [("foo", EQ, "bar"), ("dings", NE, "bums")]),
    ("foo=bar,dings!=bums", [("foo", EQ, "bar"), ("dings", NE, "bums")]),
    (
        '{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
        [("quote", EQ, 'She said: "Hi, ladies! That\'s gender-neutral…"')],
    ),
    ('statuscode=~"5.."', [("statuscode", RE, "5..")]),
    ("tricky=~~~", [("tricky", RE, "~~")]),
    ('trickier==\\\\=\\=\\"', [("trickier", EQ, '=\\=\\="')]),
    (
        'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
        [("contains_quote", NE, '"'), ("contains_comma", NRE, "foo,bar")],
    ),
    ("job=", [("job", EQ, "")]),  # 0.25 behaviour, see the module docstring
    ('job="value', 'matcher value contains unescaped double quote: "value'),
    ('job=value"', 'matcher value contains unescaped double quote: value"'),
    ('trickier==\\\\=\\=\\""', 'matcher value contains unescaped double quote: =\\\\=\\=\\""'),
    ('contains_unescaped_quote = foo"bar', 'matcher value contains unescaped double quote: foo"bar'),
    ('{invalid-name = "valid label"}', 'bad matcher format: invalid-name = "valid label"'),
    ('{foo=~"invalid[regexp"}', "error parsing regexp: missing closing ]: `[regexp)$`"),
    ('"{foo=\\"bar"}', 'bad matcher format: "{foo=\\"bar"'),
    ('"foo=\\"bar"', 'bad matcher format: "foo=\\"bar"'),
    ('"foo=\\"bar\\""', 'bad matcher format: "foo=\\"bar\\""'),
    ('"foo=\\"bar\\"', 'bad matcher format: "foo=\\"bar\\"'),
    ('"{foo=\\"bar\\"}"', 'bad matcher format: "{foo=\\"bar\\"}"'),
    ('"foo="bar""', 'bad matcher format: "foo="bar""'),
    # the example, as amtool 0.25 reports it
    ('severity=="high"', 'matcher value contains unescaped double quote: ="high"'),
]

UTF8: list[tuple[str, list[tuple[str, MatchType, str]] | str]] = [
    ("", []),
    ("{}", []),
    ("{foo=bar}", [("foo", EQ, "bar")]),
    ("{foo=bar,}", [("foo", EQ, "bar")]),
    ("{foo!=bar}", [("foo", NE, "bar")]),
    ("{foo=~[a-z]+}", [("foo", RE, "[a-z]+")]),
    ("{foo!~[a-z]+}", [("foo", NRE, "[a-z]+")]),
    ("{foo=🙂}", [("foo", EQ, "🙂")]),
    ("{foo=🙂bar}", [("foo", EQ, "🙂bar")]),
    ("foo=bar", [("foo", EQ, "bar")]),
    ("foo=bar,", [("foo", EQ, "bar")]),
    ("foo!=bar", [("foo", NE, "bar")]),
    ("foo=~[a-z]+", [("foo", RE, "[a-z]+")]),
    ("foo!~[a-z]+", [("foo", NRE, "[a-z]+")]),
    ('{"foo"="bar"}', [("foo", EQ, "bar")]),
    ('{"foo"="bar",}', [("foo", EQ, "bar")]),
    ('{"foo"!="bar"}', [("foo", NE, "bar")]),
    ('{"foo"=~"[a-z]+"}', [("foo", RE, "[a-z]+")]),
    ('{"foo"!~"[a-z]+"}', [("foo", NRE, "[a-z]+")]),
    ('{"foo"="🙂"}', [("foo", EQ, "🙂")]),
    ('{"foo"="\\xf0\\x9f\\x99\\x82"}', [("foo", EQ, "🙂")]),
    ('{"foo"="\\U0001f642"}', [("foo", EQ, "🙂")]),
    ('{"foo"="🙂bar"}', [("foo", EQ, "🙂bar")]),
    ('{"foo"="bar\\n"}', [("foo", EQ, "bar\n")]),
    ('{"foo"="bar\\t"}', [("foo", EQ, "bar\t")]),
    ('{"foo"="\\"bar\\""}', [("foo", EQ, '"bar"')]),
    ('{"foo"="bar\\\\"}', [("foo", EQ, "bar\\")]),
    ('"foo"="bar"', [("foo", EQ, "bar")]),
    ('"foo"="bar",', [("foo", EQ, "bar")]),
    ("{foo=bar,bar!=baz}", [("foo", EQ, "bar"), ("bar", NE, "baz")]),
    ('{foo="bar",bar!="baz"}', [("foo", EQ, "bar"), ("bar", NE, "baz")]),
    ("foo=bar,bar!=baz", [("foo", EQ, "bar"), ("bar", NE, "baz")]),
    ('foo="bar",bar!="baz"', [("foo", EQ, "bar"), ("bar", NE, "baz")]),
    (",", "0:1: unexpected ,: expected label name"),
    ("{,}", "1:2: unexpected ,: expected label name"),
    ("{", "0:1: end of input: expected close brace"),
    ("}", "0:1: }: expected opening brace"),
    ("foo=bar}", "0:8: }: expected opening brace"),
    ("{foo=bar", "0:8: end of input: expected close brace"),
    ('{foo=:"bar"}', '6:11: unexpected "bar": expected a comma or close brace'),
    ('{foo="bar\\w"}', '5:12: "bar\\w": invalid input'),
    ("{foo=bar\\n}", "8:9: \\: invalid input: expected a comma or close brace"),
    ('{"foo"="\\xf0\\x9f"}', '7:17: "\\xf0\\x9f": invalid input'),
]

REGEX_ERRORS = [
    ("x**", "invalid nested repetition operator: `**`"),
    ("*a", "missing argument to repetition operator: `*`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("(?=x)", "invalid or unsupported Perl syntax: `(?=`"),
    ("(?z)", "invalid or unsupported Perl syntax: `(?z`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    ("(", "missing closing ): `^(?:()$`"),
    (")", "unexpected ): `^(?:))$`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("\\pX", "invalid character class range: `\\pX`"),
    ("(?P<>x)", "invalid named capture: `(?P<>`"),
    ("\\8", "invalid escape sequence: `\\8`"),
    ("\\C", "invalid escape sequence: `\\C`"),  # C++ RE2 accepts \C; Go does not
]


def _triples(text: str, mode: str) -> list[tuple[str, MatchType, str]]:
    return [(m.name, m.type, m.value) for m in parse_matchers(text, mode)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "want"), CLASSIC, ids=[c[0] for c in CLASSIC])
def test_classic_parser_matches_alertmanager(text: str, want: list[tuple[str, MatchType, str]] | str) -> None:
    if isinstance(want, str):
        with pytest.raises(MatcherError) as exc:
            parse_matchers(text, "classic")
        assert str(exc.value) == want
    else:
        assert _triples(text, "classic") == want


@pytest.mark.parametrize(("text", "want"), UTF8, ids=[c[0] or "<empty>" for c in UTF8])
def test_utf8_parser_matches_alertmanager(text: str, want: list[tuple[str, MatchType, str]] | str) -> None:
    if isinstance(want, str):
        with pytest.raises(MatcherError) as exc:
            parse_matchers(text, "utf8")
        assert str(exc.value) == want
    else:
        assert _triples(text, "utf8") == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('"service.name"="api"', [("service.name", EQ, "api")]),  # utf8 only
        ('severity=~"(?i)critical"', [("severity", RE, "(?i)critical")]),
        ("foo=bar\\n", [("foo", EQ, "bar\n")]),  # utf8 rejects, classic accepts: classic wins
        ('a="\\t"', [("a", EQ, "\\t")]),  # both accept but disagree (tab vs backslash-t): classic wins
    ],
)
def test_fallback_mode_is_current_alertmanager(text: str, want: list[tuple[str, MatchType, str]]) -> None:
    assert _triples(text, "fallback") == want


def test_fallback_reports_the_classic_error_when_both_fail() -> None:
    with pytest.raises(MatcherError, match=r'^matcher value contains unescaped double quote: ="high"$'):
        parse_matchers('severity=="high"')


@pytest.mark.parametrize(("regex", "message"), REGEX_ERRORS, ids=[r for r, _ in REGEX_ERRORS])
def test_regex_errors_are_gos(regex: str, message: str) -> None:
    with pytest.raises(MatcherError) as exc:
        parse_matchers(f'a=~"{regex.replace(chr(92), chr(92) * 2)}"')
    assert str(exc.value) == f"error parsing regexp: {message}"


# --- RE2 semantics ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "value", "hit"),
    [
        ("(?i)CRITICAL", "critical", True),  # Python's re accepts this one only at the start
        ("crit(?i)ICAL", "critical", True),  # inline flags in the middle: Python's re rejects
        ("crit(?i)ICAL", "CRITICAL", False),  # the flag applies only after it
        ("(?i:WARN)ing", "warning", True),
        ("(?i:WARN)ing", "warnING", False),
        ("a.b", "a\nb", False),  # . does not match newline...
        ("(?s)a.b", "a\nb", True),  # ...unless (?s)
        ("[^x]", "\n", True),  # negated classes match newline (Go's ClassNL)
        ("[[:alpha:]]+", "abcXYZ", True),  # POSIX classes
        ("[[:^digit:]]+", "abc", True),
        ("\\pL+", "ünïcødé", True),  # Unicode classes
        ("\\p{Greek}+", "αβγ", True),
        ("\\p{Greek}+", "abc", False),
        ("\\PL", "1", True),
        ("\\d+", "٣", False),  # \d is ASCII in RE2 (Python's re: Unicode digits)
        ("\\w+", "é", False),  # \w is ASCII in RE2
        ("\\Qa.b\\E", "a.b", True),  # quoted literal
        ("\\Qa.b\\E", "axb", False),
        ("foo|bar", "foobar", False),  # the whole value must match: ^(?:foo|bar)$
        ("foo|bar", "bar", True),
        ("prod$", "prod\n", False),  # $ is end of text (Python's $ also matches before a final \n)
        ("(?m)^b$", "b", True),
        ("a{2,3}", "aaaa", False),
        ("a{,5}", "a{,5}", True),  # literal in Go and RE2
        ("(?U)a+", "aaa", True),  # ungreedy swap; anchoring makes it match all
        ("x*", "", True),
        ("", "", True),
        ("", "x", False),
    ],
)
def test_re2_verdicts(regex: str, value: str, hit: bool) -> None:
    assert compile_anchored(regex).fullmatch(value) is hit


def test_catastrophic_regex_is_linear_not_backtracking() -> None:
    """The issue's example: 19 s with Python's re on a 26-character label. RE2 has no backtracking, so
    this is a verdict check, not a timing one; bench/ measures the time."""
    m = parse_matchers('resource_id=~"(/?[a-z0-9/.-]*)*X"')[0]
    assert type(m._re._re).__module__.startswith("re2")  # type: ignore[union-attr]
    label = "/subscriptions/abc/def/ghi"
    assert len(label) == 26
    assert m.matches({"resource_id": label}) is False
    assert m.matches({"resource_id": label + "X"}) is True
    # 10k characters, still one pass: a backtracking engine would never return
    assert m.matches({"resource_id": "/a" * 5000}) is False


def test_matchers_roundtrip_through_str() -> None:
    ms = parse_matchers('{a="1", b!="2", c=~"3", d!~"4", "service.name"="x\\"y"}')
    again = [m2 for m in ms for m2 in parse_matchers(str(m))]
    assert again == ms


def test_invalid_regexes_are_validation_errors_naming_the_key_path() -> None:
    """Routes, legacy match_re and inhibit rules: an error with its key path, never a traceback."""
    from vigil.config import ConfigError, parse_config

    data = {
        "route": {
            "receiver": "r",
            "routes": [
                {"receiver": "r", "match_re": {"severity": "crit(?i)ICAL"}},  # valid in Go, not in Python's re
                {"receiver": "r", "match_re": {"severity": "(?=x)"}},
                {"receiver": "r", "matchers": ['a="b"', 'severity=="high"']},
                {"receiver": "r", "match": {"bad-name": "x"}},
            ],
        },
        "inhibit_rules": [{"source_match_re": {"a": "[z-a]"}, "target_matchers": ['b=~"x**"']}],
        "receivers": [{"name": "r"}],
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    errors = dict(exc.value.errors)
    assert set(errors) == {
        "route.routes[1].match_re.severity",
        "route.routes[2].matchers[1]",
        "route.routes[3].match.bad-name.[key]",
        "inhibit_rules[0].source_match_re.a",
        "inhibit_rules[0].target_matchers[0]",
    }
    assert "invalid or unsupported Perl syntax: `(?=`" in errors["route.routes[1].match_re.severity"]
    assert "matcher value contains unescaped double quote" in errors["route.routes[2].matchers[1]"]
    assert "invalid nested repetition operator" in errors["inhibit_rules[0].target_matchers[0]"]


def test_legacy_match_re_routes_with_go_semantics() -> None:
    from alerts.config import AlertingConfig
    from alerts.routing import compile_routes

    cfg = AlertingConfig.model_validate(
        {
            "route": {
                "receiver": "default",
                "routes": [{"receiver": "pager", "match_re": {"severity": "crit(?i)ICAL|page"}}],
            },
            "receivers": [{"name": "default"}, {"name": "pager"}],
        }
    )
    root = compile_routes(cfg.route, list(cfg.receivers))
    assert [r.opts.receiver for r in root.match({"severity": "critICAL"})] == ["pager"]
    assert [r.opts.receiver for r in root.match({"severity": "CRITICAL"})] == ["default"]  # flag is after "crit"
    assert [r.opts.receiver for r in root.match({"severity": "page"})] == ["pager"]


@pytest.mark.parametrize("pattern", ["critical|high", "prod", "team-a|team_b|x:y/z", "a b|c"])
@pytest.mark.parametrize("value", ["critical", "high", "prod", "", "a", "team-a", "x:y/z", "a b", "HIGH", "highx"])
def test_literal_fast_path_agrees_with_re2(pattern: str, value: str) -> None:
    fast = compile_anchored(pattern)
    assert fast._literals is not None
    slow = type(fast)(fast.pattern, fast._re, None)
    assert fast.fullmatch(value) is slow.fullmatch(value)


def test_odd_text_never_raises() -> None:
    m = compile_anchored("a.*")
    # a lone surrogate (possible in JSON text) is one invalid character, as Go's decoder makes it U+FFFD
    assert m.fullmatch("a\ud800") is True
    assert compile_anchored("a").fullmatch("a\ud800") is False
    assert m.fullmatch("aé🙂") is True
