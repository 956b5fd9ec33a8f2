from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.remediation import RemediationConfig, action, all_permissions, plan
from alerts.remediation.actions import ACTIONS
from alerts.remediation.guards import exemption
from core.model import Finding, ResourceRef, Severity, Status

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SUB = "11111111-1111-1111-1111-111111111111"
OTHER = "99999999-9999-9999-9999-999999999999"


def vm(name: str, sub: str = SUB, rg: str = "rg-a") -> str:
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines/{name}"


def finding(rid: str, rule: str = "vm_shutdown_candidate", status: Status = Status.FIRING) -> Finding:
    return Finding(
        detector="idle",
        rule=rule,
        status=status,
        severity=Severity.MEDIUM,
        resource=ResourceRef.from_id(rid),
        observed_at=NOW,
    )


STATES: dict[str, dict[str, Any]] = {}


def states(rid: str) -> dict[str, Any] | None:
    return STATES.get(rid, {"id": rid, "tags": {}})


RULES = {"vm_shutdown_candidate": "deallocate_vm"}


def test_default_is_dry_run_and_nothing_allowed() -> None:
    cfg = RemediationConfig()
    steps = plan([finding(vm("a"))], resources=states, config=cfg, rule_actions=RULES, now=NOW)
    assert [s.decision for s in steps] == ["skip"]
    assert "not in allowed_subscriptions" in steps[0].reason
    cfg2 = RemediationConfig(allowed_subscriptions=[SUB])
    steps = plan([finding(vm("a"))], resources=states, config=cfg2, rule_actions=RULES, now=NOW)
    assert [(s.decision, s.mode) for s in steps] == [("dry-run", "dry-run")]
    assert "would deallocate the virtual machine" in steps[0].reason


def test_auto_needs_a_grant_for_rule_and_scope() -> None:
    base = {"allowed_subscriptions": [SUB, OTHER], "mode": "auto"}
    cfg = RemediationConfig(**base)
    steps = plan([finding(vm("a"))], resources=states, config=cfg, rule_actions=RULES, now=NOW)
    assert steps[0].decision == "await-approval"
    assert "auto not granted" in steps[0].reason
    cfg = RemediationConfig(
        **base, auto_allow=[{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB], "resource_groups": ["rg-a"]}]
    )
    steps = plan(
        [finding(vm("a")), finding(vm("b", rg="rg-b")), finding(vm("c", sub=OTHER))],
        resources=states,
        config=cfg,
        rule_actions=RULES,
        now=NOW,
    )
    by_name = {s.resource_id.rsplit("/", 1)[-1]: s for s in steps}
    assert by_name["a"].decision == "execute"
    assert by_name["b"].decision == "await-approval"
    assert by_name["c"].decision == "await-approval"


def test_allowed_resource_groups_and_blast_radius(caplog: pytest.LogCaptureFixture) -> None:
    cfg = RemediationConfig(
        mode="auto",
        allowed_subscriptions=[SUB],
        allowed_resource_groups=["rg-a"],
        max_actions_per_run=2,
        auto_allow=[{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
    )
    findings = [finding(vm(n)) for n in "abcd"] + [finding(vm("z", rg="rg-z"))]
    with caplog.at_level(logging.INFO, logger="alerts.remediation.plan"):
        steps = plan(findings, resources=states, config=cfg, rule_actions=RULES, now=NOW)
    decisions = [(s.resource_id.rsplit("/", 1)[-1], s.decision) for s in steps]
    assert decisions == [("a", "execute"), ("b", "execute"), ("c", "skip"), ("d", "skip"), ("z", "skip")]
    assert "max_actions_per_run (2)" in steps[2].reason
    assert "rg-z is not in allowed_resource_groups" in steps[4].reason
    logged = [r for r in caplog.records if "remediation skipped" in r.getMessage()]
    assert len(logged) == 3
    assert all(getattr(r, "reason", "") for r in logged)


def test_exempt_resources_are_skipped_with_reason(caplog: pytest.LogCaptureFixture) -> None:
    STATES[vm("ex")] = {"tags": {"vigil:exempt": "true"}}
    STATES[vm("until")] = {"tags": {"Vigil:Exempt": "2026-12-31"}}
    STATES[vm("expired")] = {"tags": {"vigil:exempt": "2026-01-01"}}
    try:
        cfg = RemediationConfig(allowed_subscriptions=[SUB])
        with caplog.at_level(logging.INFO, logger="alerts.remediation.plan"):
            steps = plan(
                [finding(vm("ex")), finding(vm("until")), finding(vm("expired"))],
                resources=states,
                config=cfg,
                rule_actions=RULES,
                now=NOW,
            )
    finally:
        STATES.clear()
    got = {s.resource_id.rsplit("/", 1)[-1]: (s.decision, s.reason) for s in steps}
    assert got["ex"][0] == "skip"
    assert "vigil:exempt=true" in got["ex"][1]
    assert got["until"][0] == "skip"
    assert "until 2026-12-31" in got["until"][1]
    assert got["expired"][0] == "dry-run"
    assert any("exempt" in r.getMessage() for r in caplog.records)


def test_exemption_values() -> None:
    assert exemption({"vigil:exempt": "yes"}, "vigil:exempt", NOW)
    assert exemption({"vigil:exempt": "nonsense"}, "vigil:exempt", NOW) is None
    assert exemption({"vigil:exempt": "2026-11-27"}, "vigil:exempt", NOW)  # through the end of that day
    assert exemption({"vigil:exempt": "2026-11-26"}, "vigil:exempt", NOW) is None
    assert exemption(None, "vigil:exempt", NOW) is None


def test_resolved_and_unmapped_findings_get_no_step() -> None:
    cfg = RemediationConfig(allowed_subscriptions=[SUB])
    steps = plan(
        [finding(vm("a"), status=Status.RESOLVED), finding(vm("b"), rule="unknown_rule")],
        resources=states,
        config=cfg,
        rule_actions=RULES,
        now=NOW,
    )
    assert steps == []


def test_config_overrides_rule_metadata_and_unknown_action_fails_clearly() -> None:
    cfg = RemediationConfig(allowed_subscriptions=[SUB], actions={"vm_shutdown_candidate": "tag_flagged"})
    steps = plan([finding(vm("a"))], resources=states, config=cfg, rule_actions=RULES, now=NOW)
    assert steps[0].action == "tag_flagged"
    with pytest.raises(KeyError, match="unknown remediation action 'nope'"):
        action("nope")


def test_compute_actions_apply_only_to_their_compute_kind() -> None:
    rid = (
        f"/subscriptions/{SUB}/resourcegroups/rg-a/providers/microsoft.machinelearningservices/"
        "workspaces/ws/computes/ci1"
    )
    STATES[rid] = {"properties": {"computeType": "AmlCompute"}}
    try:
        steps = plan(
            [finding(rid, rule="ml_ci_idle")],
            resources=states,
            config=RemediationConfig(allowed_subscriptions=[SUB]),
            rule_actions={"ml_ci_idle": "stop_ml_compute_instance"},
            now=NOW,
        )
    finally:
        STATES.clear()
    assert steps[0].decision == "skip"
    assert "does not apply" in steps[0].reason


def test_permissions_are_declared_per_action_and_unioned() -> None:
    perms = all_permissions()
    assert "Microsoft.Compute/virtualMachines/deallocate/action" in perms
    for a in ACTIONS:
        assert a.permissions, a.id
        assert set(a.permissions) <= set(perms)
    assert len(perms) == len(set(perms))


def test_mode_comes_from_the_receiver_the_route_picks() -> None:
    from alerts.remediation.routing import mode_resolver
    from vigil.config import parse_config

    cfg = parse_config(
        {
            "route": {
                "receiver": "ops",
                "routes": [
                    {"matchers": ['detector="idle"'], "receiver": "fixit", "continue": True},
                    {"matchers": ['resource_group="rg-a"'], "receiver": "careful"},
                ],
            },
            "receivers": [
                {"name": "ops"},
                {"name": "fixit", "remediation_configs": [{"mode": "auto"}]},
                {"name": "careful", "remediation_configs": [{"mode": "approve"}]},
            ],
            "remediation": {
                "allowed_subscriptions": [SUB],
                "auto_allow": [{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
            },
        }
    )
    mode_for = mode_resolver(cfg)
    assert mode_for(finding(vm("x", rg="rg-b"))) == "auto"
    assert mode_for(finding(vm("x", rg="rg-a"))) == "approve"  # two receivers: the safer mode wins
    drift = Finding(
        detector="drift",
        rule="r",
        status=Status.FIRING,
        severity=Severity.HIGH,
        resource=ResourceRef.from_id(vm("y", rg="rg-b")),
        observed_at=NOW,
    )
    assert mode_for(drift) == "dry-run"  # no remediation receiver: the section's default
    steps = plan(
        [finding(vm("x", rg="rg-b")), finding(vm("z", rg="rg-a"))],
        resources=states,
        config=cfg.remediation,
        rule_actions=RULES,
        now=NOW,
        mode_for=mode_for,
    )
    by_name = {s.resource_id.rsplit("/", 1)[-1]: s.decision for s in steps}
    assert by_name == {"x": "execute", "z": "await-approval"}


def test_every_rule_remediation_action_exists() -> None:
    """Meta-test over the detector registry: a rule's remediation_action names a real action."""
    from alerts.remediation.actions import ACTIONS
    from alerts.remediation.findings import rule_actions_from_registry

    mapping = rule_actions_from_registry()
    assert mapping["vm_shutdown_candidate"] == "deallocate_vm"
    assert mapping["ml_workspace_public_network_access"] == "disable_ml_workspace_public_access"
    known = {a.id for a in ACTIONS}
    assert set(mapping.values()) <= known
