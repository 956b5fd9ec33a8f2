"""The event path: Azure resource events -> drift verdicts -> alerts (cold path: no pandas)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import RetryableError, raise_alerts
from vigil.handlers.sources import NO_LIVE, live_sources

if TYPE_CHECKING:
    from detectors.drift.loader import RuleSet
    from vigil.config import VigilConfig
    from vigil.runtime import Runtime

__all__ = ["drift_rules", "handle_activity", "handle_resource_events"]

_RULES: tuple[VigilConfig, RuleSet] | None = None


def drift_rules(config: VigilConfig) -> RuleSet:
    """The drift RuleSet for a config: the built-in pack plus ``detectors.drift.policy_paths``.

    Kept while the same config object is in use (a warm Function instance compiles the
    policies once).
    """
    global _RULES  # noqa: PLW0603
    cached = _RULES
    if cached is not None and cached[0] is config:
        return cached[1]
    from detectors.drift.loader import RuleSet, builtin_rules, load_policies, rules_from_policies

    drift = config.detectors.drift
    params = {k: dict(v) for k, v in drift.parameters.items()}
    ruleset = RuleSet(builtin_rules(params) + rules_from_policies(load_policies(drift.policy_paths, params)))
    _RULES = (config, ruleset)
    return ruleset


def handle_resource_events(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """Resource Write/Action/DeleteSuccess events -> drift verdicts -> alerts."""
    from vigil import drift_path

    reader = live_sources(rt).resource_reader()
    if reader is None:
        raise RetryableError(NO_LIVE.format(what="ARM resource reader"))
    now = rt.now()
    result = drift_path.handle_events(events, store=rt.store, reader=reader, rules=drift_rules(rt.config), now=now)
    out: dict[str, Any] = {"drift": result.counts(), "quarantined": len(result.quarantined)}
    findings = list(result.findings)
    if findings:
        when: datetime = max([now, *(f.observed_at for f in findings)])
        out["alerts"] = raise_alerts(findings, rt, when)
        drift_path.acknowledge(rt.store, findings)  # only now: a failure above leaves them pending
    return out


def handle_activity(records: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """Activity Log records -> control-plane detections (``detectors.activity``) -> alerts.

    The records come from the tenant folder (the CLI) or from ``ingest.activity``'s incremental
    readers, whose caller commits the batch once this returns."""
    from vigil.activity_path import detect_activity

    now = rt.now()
    findings = detect_activity(records, rt.config, now)
    out: dict[str, Any] = {"records": len(records), "findings": len(findings)}
    out["alerts"] = raise_alerts(findings, rt, now)
    return out
