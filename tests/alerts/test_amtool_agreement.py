"""`vigil alerts routes test` agrees with Alertmanager 0.25's `amtool config routes test` on random trees.

The trees use regexes with inline flags anywhere (``cri(?i)T.*``), RE2 classes, legacy ``match``/``match_re``,
new-style ``matchers``, ``continue`` and receiver inheritance. A fixed seed keeps the cases reproducible;
each case names its seed and label set. Skipped where amtool is not installed (``make alertmanager``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.alerts.amtool import amtool
from vigil.cli.main import app

REGEXES = [
    "(?i)CRITICAL",
    "cri(?i)T.*",
    "(?i:WARN)ing",
    "[[:lower:]]+",
    "[[:upper:]][[:lower:]]*",
    "\\pL+",
    "crit|warn.*",
    "(?i)prod|dev",
    ".*a.*",
    "(?s).+",
    "[^c].*",
    "(?U)p.+",
    "\\w{4,}",
]
VALUES = {
    "severity": ["critical", "CRITICAL", "Critical", "warning", "WARNing", "info", ""],
    "team": ["a", "B", "ab", "Bc"],
    "env": ["prod", "Prod", "dev", "staging"],
}
RECEIVERS = ["r0", "r1", "r2", "r3", "r4"]


def _matchers(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = rng.choice(list(VALUES))
    kind = rng.randrange(5)
    if kind == 0:
        out["match"] = {name: rng.choice(VALUES[name])}
    elif kind == 1:
        out["match_re"] = {name: rng.choice(REGEXES)}
    else:
        op = rng.choice(["=~", "!~", "=", "!="])
        value = rng.choice(REGEXES) if "~" in op else rng.choice(VALUES[name])
        text = f'{name}{op}"{value.replace(chr(92), chr(92) * 2)}"'
        out["matchers"] = [text]
    return out


def _route(rng: random.Random, depth: int) -> dict[str, Any]:
    r: dict[str, Any] = _matchers(rng)
    if rng.random() < 0.6:
        r["receiver"] = rng.choice(RECEIVERS)
    if rng.random() < 0.4:
        r["continue"] = True
    if depth < 2 and rng.random() < 0.5:
        r["routes"] = [_route(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return r


def _tree(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    return {
        "route": {"receiver": "r0", "routes": [_route(rng, 0) for _ in range(rng.randint(2, 4))]},
        "receivers": [{"name": n} for n in RECEIVERS],
    }


def _label_sets(seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed * 7919)
    return [{k: rng.choice(v) for k, v in VALUES.items() if rng.random() < 0.9} for _ in range(5)]


SEEDS = list(range(40))


@pytest.mark.parametrize("seed", SEEDS)
def test_routing_agrees_with_amtool(seed: int, tmp_path: Path) -> None:
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(yaml.safe_dump(_tree(seed), sort_keys=False), encoding="utf-8")
    runner = CliRunner()
    for labels in _label_sets(seed):
        args = [f"{k}={v}" for k, v in labels.items() if v]  # amtool cannot take an empty value
        am = amtool("config", "routes", "test", f"--config.file={cfg}", *args)
        assert am.returncode == 0, am.stderr
        want = [x for x in am.stdout.strip().split(",") if x]
        ours = runner.invoke(app, ["alerts", "routes", "test", "--config", str(cfg), *args])
        assert ours.exit_code == 0, ours.output
        got = ours.stdout.split()
        assert got == want, f"seed {seed}, labels {args}:\n{cfg.read_text()}"


MATCHER_TOKENS = [
    "a", "b_c", ":x", "1a", "=", "!=", "=~", "!~", "==", '"', '\\"', "\\", "\\n", ",", " ", "{", "}", "v", "v w",
    ".*", "(", ")", "[a-z]+", "'", "~", "!", "\t", "é", "🙂", '"q"',
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_classic_matcher_parser_agrees_with_amtool_error_for_error(seed: int, tmp_path: Path) -> None:
    """Random matcher strings: amtool 0.25 and Vigil's classic parser accept the same ones and give the
    same error for the others (25 strings per seed)."""
    import json

    from alerts.matchers import MatcherError, parse_matchers

    rng = random.Random(seed)
    cfg = tmp_path / "am.yml"
    for _ in range(25):
        text = "".join(rng.choice(MATCHER_TOKENS) for _ in range(rng.randint(1, 7)))
        doc = {
            "route": {"receiver": "r", "routes": [{"receiver": "r", "matchers": [text]}]},
            "receivers": [{"name": "r"}],
        }
        cfg.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        out = amtool("check-config", str(cfg)).stdout
        go_err = out.split("FAILED: ", 1)[1].split("\n\n")[0].rstrip() if "FAILED: " in out else None
        try:
            parse_matchers(text, "classic")
            ours = None
        except MatcherError as exc:
            ours = str(exc).rstrip()
        assert ours == go_err, repr(text)
