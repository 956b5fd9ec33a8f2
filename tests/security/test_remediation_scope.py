"""Remediation cannot act outside its allowed scopes, whatever the config says.

Property tests over random configs and findings: no plan step outside
``allowed_subscriptions`` / ``allowed_resource_groups`` is ever ``execute`` (or even sent
for approval), ``execute`` needs ``mode: auto`` *and* an ``auto_allow`` grant covering the
rule and scope, and an approval for an out-of-scope resource is rejected before ARM is called.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.remediation.approve import ApprovalRejectedError, execute_approved
from alerts.remediation.config import RemediationConfig
from alerts.remediation.plan import plan
from alerts.testing import MemoryStore, finding
from core.model import Status

NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
SUBS = [
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333",
]
RGS = ["rg-prod", "rg-dev", "rg-ml"]
RULES = {"vm-idle": "deallocate_vm", "vm-shutdown": "deallocate_vm", "untagged": "tag_flagged"}

cased = st.sampled_from(SUBS).flatmap(lambda s: st.sampled_from([s, s.upper()]))


@st.composite
def configs(draw: st.DrawFn) -> RemediationConfig:
    grants = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "rules": st.lists(st.sampled_from(sorted(RULES)), min_size=1, max_size=2),
                    "subscriptions": st.lists(cased, min_size=1, max_size=2),
                    "resource_groups": st.lists(st.sampled_from(RGS), max_size=2),
                }
            ),
            max_size=2,
        )
    )
    rgs = draw(st.lists(st.sampled_from(RGS) | st.sampled_from(SUBS).map(lambda s: f"{s}/rg-prod"), max_size=2))
    return RemediationConfig.model_validate(
        {
            "mode": draw(st.sampled_from(["dry-run", "approve", "auto"])),
            "allowed_subscriptions": draw(st.lists(cased, max_size=2)),
            "allowed_resource_groups": rgs,
            "auto_allow": grants,
            "max_actions_per_run": draw(st.integers(0, 5)),
        }
    )


@st.composite
def findings(draw: st.DrawFn) -> list[Any]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        sub, rg, rule = (
            draw(cased),
            draw(st.sampled_from([*RGS, "RG-PROD", "rg-other"])),
            draw(st.sampled_from(sorted(RULES))),
        )
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm{i}"
        out.append(finding(rule=rule, resource=rid, status=draw(st.sampled_from([Status.FIRING, Status.RESOLVED]))))
    return out


def _in_scope(rid: str, cfg: RemediationConfig) -> bool:
    parts = rid.lower().split("/")
    sub, rg = parts[2], parts[4]
    if sub not in cfg.allowed_subscriptions:
        return False
    return (
        not cfg.allowed_resource_groups
        or rg in cfg.allowed_resource_groups
        or f"{sub}/{rg}" in cfg.allowed_resource_groups
    )


def _granted(rule: str, rid: str, cfg: RemediationConfig) -> bool:
    parts = rid.lower().split("/")
    return any(
        rule in g.rules and parts[2] in g.subscriptions and (not g.resource_groups or parts[4] in g.resource_groups)
        for g in cfg.auto_allow
    )


@settings(max_examples=300, deadline=None)
@given(
    configs(),
    findings(),
    st.dictionaries(
        st.sampled_from(["vigil:exempt", "env"]), st.sampled_from(["true", "no", "2020-01-01"]), max_size=1
    ),
)
def test_no_step_outside_the_allowed_scope_is_executed(
    cfg: RemediationConfig, fs: list[Any], tags: dict[str, str]
) -> None:
    state = {"tags": tags, "properties": {"extended": {"instanceView": {"powerState": {"code": "PowerState/running"}}}}}
    steps = plan(fs, resources=lambda rid: state, config=cfg, rule_actions=RULES, now=NOW)
    executed = 0
    for step in steps:
        if step.decision in ("execute", "await-approval", "dry-run"):
            assert _in_scope(step.resource_id, cfg), step
        if step.decision == "execute":
            executed += 1
            assert cfg.mode == "auto", step
            assert step.mode == "auto", step
            assert _granted(step.rule, step.resource_id, cfg), f"auto without an auto_allow grant: {step}"
            assert tags.get("vigil:exempt") != "true", step
        if step.decision == "skip":
            assert step.reason, step
    assert executed <= cfg.max_actions_per_run


class _Arm:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def get(self, resource_id: str, api_version: str) -> dict[str, Any] | None:
        self.calls.append(("get", resource_id))
        return {"id": resource_id, "tags": {}, "properties": {}}

    def post(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("post", *map(str, args)))
        return {}

    def put(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("put", *map(str, args)))
        return {}

    def patch(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("patch", *map(str, args)))
        return {}


@settings(max_examples=60, deadline=None)
@given(configs(), cased, st.sampled_from([*RGS, "rg-other"]))
def test_an_out_of_scope_approval_is_rejected_before_any_arm_call(cfg: RemediationConfig, sub: str, rg: str) -> None:
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm1"
    if _in_scope(rid, cfg):
        return
    arm = _Arm()
    request = {"action": "deallocate_vm", "resource_id": rid, "fingerprint": "fp", "rule": "vm-idle", "nonce": "n"}
    with pytest.raises(ApprovalRejectedError):
        execute_approved(
            request,
            store=MemoryStore(),
            arm=arm,  # type: ignore[arg-type]
            config=cfg,
            now=NOW,
            approved_by="x",
            correlation_id="c",
        )
    assert arm.calls == []


def test_the_default_config_executes_nothing() -> None:
    fs = [
        finding(
            rule="vm-idle",
            resource=f"/subscriptions/{SUBS[0]}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm1",
        )
    ]
    for mode in ("dry-run", "approve", "auto"):
        cfg = RemediationConfig.model_validate({"mode": mode})
        steps = plan(fs, resources=lambda rid: {"tags": {}}, config=cfg, rule_actions=RULES, now=NOW)
        assert [s.decision for s in steps] == ["skip"], steps
        assert "allowed_subscriptions" in steps[0].reason


def test_auto_with_a_grant_in_scope_does_execute() -> None:
    """The property above is not vacuous: in scope, with mode auto and a grant, a step executes."""
    rid = f"/subscriptions/{SUBS[0]}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm1"
    cfg = RemediationConfig.model_validate(
        {
            "mode": "auto",
            "allowed_subscriptions": [SUBS[0]],
            "auto_allow": [{"rules": ["vm-idle"], "subscriptions": [SUBS[0]]}],
        }
    )
    steps = plan(
        [finding(rule="vm-idle", resource=rid)],
        resources=lambda r: {"tags": {}},
        config=cfg,
        rule_actions=RULES,
        now=NOW,
    )
    assert [s.decision for s in steps] == ["execute"]
    other = RemediationConfig.model_validate({**cfg.model_dump(), "auto_allow": []})
    steps = plan(
        [finding(rule="vm-idle", resource=rid)],
        resources=lambda r: {"tags": {}},
        config=other,
        rule_actions=RULES,
        now=NOW,
    )
    assert [s.decision for s in steps] == ["await-approval"]
