"""Inhibition, as Alertmanager's inhibit/ package.

A firing alert matching a rule's source matchers mutes every alert matching
its target matchers that has the same values for the ``equal`` labels (a label
missing on both counts as equal). An alert that matches both source and target
of a rule does not inhibit itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts.config import InhibitRule
from alerts.matchers import Matcher, matchers_from

__all__ = ["CompiledInhibitRule", "Inhibitor"]


@dataclass(frozen=True, slots=True)
class CompiledInhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, r: InhibitRule) -> CompiledInhibitRule:
        return cls(
            source=matchers_from(r.source_matchers, r.source_match, r.source_match_re),
            target=matchers_from(r.target_matchers, r.target_match, r.target_match_re),
            equal=tuple(sorted(r.equal)),
        )


class Inhibitor:
    """Built from the firing alerts of one evaluation; answers ``inhibited(labels)``."""

    def __init__(self, rules: Iterable[InhibitRule], firing: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        self.rules = [CompiledInhibitRule.from_config(r) for r in rules]
        # per rule: equal-label values -> fingerprints of firing sources
        self._sources: list[dict[tuple[str, ...], set[str]]] = [{} for _ in self.rules]
        if not self.rules:
            return
        for fp, labels in firing:
            for i, rule in enumerate(self.rules):
                if all(m.matches(labels) for m in rule.source):
                    key = tuple(labels.get(n, "") for n in rule.equal)
                    self._sources[i].setdefault(key, set()).add(fp)

    def inhibited_by(self, fp: str, labels: Mapping[str, str]) -> list[str]:
        """Fingerprints of the source alerts inhibiting this alert (empty: not inhibited)."""
        out: list[str] = []
        for i, rule in enumerate(self.rules):
            if not self._sources[i] or not all(m.matches(labels) for m in rule.target):
                continue
            srcs = self._sources[i].get(tuple(labels.get(n, "") for n in rule.equal), set())
            out.extend(sorted(s for s in srcs if s != fp))
        return out
