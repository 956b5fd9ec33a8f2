from __future__ import annotations

import pytest

from alerts.matchers import MatcherError, MatchType, matchers_from, parse_matchers


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('a="b"', {"a": "b"}, True),
        ('a="b"', {"a": "bb"}, False),
        ('a!="b"', {"a": "c"}, True),
        ('a!="b"', {}, True),
        ('a=""', {}, True),  # missing label is the empty string
        ('a=~"b.*"', {"a": "bcd"}, True),
        ('a=~"b"', {"a": "abc"}, False),  # anchored
        ('a!~"b.*"', {"a": "bcd"}, False),
        ('a!~"b.*"', {"a": "cb"}, True),
        ("a=b", {"a": "b"}, True),  # unquoted value
        ('{a="b", c=~"d|e"}', {"a": "b", "c": "e"}, True),
        ('{a="b", c=~"d|e"}', {"a": "b", "c": "f"}, False),
        ('a="x,y"', {"a": "x,y"}, True),  # comma inside quotes
        (r'a="say \"hi\""', {"a": 'say "hi"'}, True),  # escapes
        ('a=~"mysql|cassandra"', {"a": "mysql"}, True),
    ],
)
def test_matcher_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    ms = parse_matchers(text)
    assert all(m.matches(labels) for m in ms) is expected


def test_types_and_roundtrip() -> None:
    ms = parse_matchers('{a="1", b!="2", c=~"3", d!~"4"}')
    assert [m.type for m in ms] == [MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX]
    again = [m2 for m in ms for m2 in parse_matchers(str(m))]
    assert again == ms


# "" (no matchers) and "{a=b" (braces are optional in the classic parser) are valid, as in Alertmanager.
@pytest.mark.parametrize("bad", ["a", 'a=~"("', 'a="unterminated', "=b", 'a="b" c="d"'])
def test_bad_matchers_are_rejected(bad: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(bad)


def test_legacy_match_and_match_re() -> None:
    ms = matchers_from([], {"a": "1"}, {"b": "x|y"})
    assert all(m.matches({"a": "1", "b": "y"}) for m in ms)
    assert not all(m.matches({"a": "1", "b": "xy"}) for m in ms)
