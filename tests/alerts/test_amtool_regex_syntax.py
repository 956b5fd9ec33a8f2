"""Regex syntax, accept/reject and error message, checked live against Alertmanager 0.25's amtool.

Each pattern goes into a legacy ``match_re``; ``amtool check-config`` and Vigil must both accept it, or both
reject it with the same message. One deliberate difference: ``(?<name>...)``, which Go accepts since 1.22
(current Alertmanager releases) and the Go of Debian's amtool 0.25 does not; Vigil accepts it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.regex import RegexError, compile_anchored
from tests.alerts.amtool import amtool

PATTERNS = [
    r"\C", r"a\C", r"[\C]", r"\Qa\C\E", r"(?P<n>x)(?P<n>y)", r"(?i)(?-i)a", r"(?i-s:a)", r"(?x)a", r"(?U)a*",
    r"a{2,1}", r"a{,3}", r"a{1000}", r"a{1001}", r"(a{1000}){1000}", r"\pN", r"\p{Han}", r"\p{Foo}",
    r"[[:word:]]", r"[[:^space:]]", r"\z", r"\Z", r"\A", r"\b\B", r"\v", r"\e", r"\cA", r"\0", r"\01", r"\012",
    r"\8", r"\x{10FFFF}", r"\x{110000}", r"\xZZ", r"[a-\d]", r"[\d-z]", r"[]a]", r"[^]a]", r"()", r"(?:)", r"(?)",
    r"(?P=n)", r"(?#comment)", r"a**", r"a*?", r"a+?", r"a??", r"a{2}?", r"a{2}{3}", r"a|*", r"^*", r"$*", r"\b*",
    r"(?i)\Q*\E", r"\Q", r"\E", r"x\Ey", r"[\Q]\E]", r"\pL\PL", r"\p{^L}", r"\P{^L}", r"[\p{L}]", r"(?s).", r"\1",
    r"(a)\1", r"\k<n>", r"[[=a=]]", r"[[.a.]]", r"\N{DIGIT ONE}", r"\u0041", r"\X", r"\R", r"\h", r"\G", r"(?|a)",
    r"(?>a)", r"a++", r"(?m)^$", r"((((((((((a))))))))))", "\\", r"[", r"[a", r"a)", r"(a", r"a{", r"a{1", r"a{1,",
    r"x{2,3}{4}", r"crit(?i)ICAL", r"(?i:a)b(?-i)c",
]  # fmt: skip


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_syntax_agrees_with_amtool(pattern: str, tmp_path: Path) -> None:
    cfg = tmp_path / "am.yml"
    doc = {"route": {"receiver": "r", "routes": [{"receiver": "r", "match_re": {"a": pattern}}]}}
    cfg.write_text(json.dumps({**doc, "receivers": [{"name": "r"}]}), encoding="utf-8")
    out = amtool("check-config", str(cfg)).stdout
    go_err = out.split("FAILED: ", 1)[1].strip().splitlines()[0] if "FAILED: " in out else None
    try:
        compile_anchored(pattern)
        ours = None
    except RegexError as exc:
        ours = str(exc)
    assert ours == go_err


def test_named_group_with_angle_brackets_is_current_go() -> None:
    compile_anchored("(?<n>x)")  # Go >= 1.22 (Alertmanager >= 0.27); amtool 0.25's Go rejects it
