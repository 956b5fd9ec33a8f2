"""The README documents the normalized cost frame as a contract: keep the two in step."""

from __future__ import annotations

import re
from pathlib import Path

from core.costframe import COLUMNS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_cost_frame_table_matches_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The normalized cost frame", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (yes|no) \|", section, flags=re.MULTILINE)
    documented = [(name, dtype, nullable == "yes") for name, dtype, nullable in rows]
    assert documented == [(c.name, c.dtype, c.nullable) for c in COLUMNS]


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text
