"""The explicit registry of every detector and rule.

Each family lists its rule folders in ``detectors/<family>/rules.txt`` (no import-time
registration magic, so a forgotten rule is a failing meta-test, not a silent gap):
``tests/detectors/idle/test_idle_conformance.py`` checks the idle listing against the
checks in ``detectors.idle.detect.RULES``, and ``tests/detectors/drift/test_drift_rule_pack.py``
checks every listed drift folder.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from detectors.base import Family, RuleMeta, load_meta

__all__ = ["all_rules", "family_folders", "rule"]

_ROOT = Path(__file__).resolve().parent


def family_folders(family: Family) -> tuple[Path, ...]:
    """Rule folders of one family, as listed in ``detectors/<family>/rules.txt``."""
    listing = _ROOT / family / "rules.txt"
    if not listing.exists():
        return ()
    names = [ln.strip() for ln in listing.read_text(encoding="utf-8").splitlines()]
    return tuple(_ROOT / family / "rules" / n for n in names if n and not n.startswith("#"))


@cache
def all_rules() -> tuple[RuleMeta, ...]:
    out: list[RuleMeta] = []
    families: tuple[Family, ...] = ("overspend", "idle", "drift", "activity")
    for fam in families:
        out.extend(load_meta(folder, fam) for folder in family_folders(fam))
    return tuple(out)


def rule(rule_id: str) -> RuleMeta:
    for meta in all_rules():
        if meta.id == rule_id:
            return meta
    raise KeyError(f"unknown rule {rule_id!r}")
