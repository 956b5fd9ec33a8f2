"""One naming scheme for every rule Vigil ships (docs/architecture.md, "Rule names").

The demo's alerts are checked against the registry in tests/vigil/test_demo_outbox.py.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from detectors.registry import all_rules

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_every_rule_id_is_snake_case_and_its_folder_name() -> None:
    rules = all_rules()
    assert len(rules) >= 30  # every family is listed: 4 overspend, 7 idle, 19 drift, 8 activity
    bad = [f"{r.family}/{r.id}" for r in rules if not SNAKE.match(r.id) or r.folder.name != r.id]
    assert bad == []


def test_rule_ids_are_unique_across_families() -> None:
    counts = Counter(r.id for r in all_rules())
    assert [rid for rid, n in counts.items() if n > 1] == []


def test_overspend_rules_carry_their_family_prefix() -> None:
    assert all(r.id.startswith("overspend_") for r in all_rules() if r.family == "overspend")


@pytest.mark.parametrize("name", ["vm-shutdown-candidate", "VmShutdown", "vm__idle", "_vm", "9vm"])
def test_the_pattern_refuses_other_schemes(name: str) -> None:
    assert not SNAKE.match(name)
