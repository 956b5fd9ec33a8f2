"""Row 8: ``max_actions_per_run`` is a rate per hour kept in the state store, approvals counted.

The review's attack: five deliveries of the same event, with a cap of 1, gave five automatic
actions (the cap counted per function call), and approvals were not counted at all. Here five
separate alert runs each queue an auto step for a different VM; the real worker, against the
local HTTPS ARM server, acts once in the hour, and an approval in the same hour is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.remediation.arm import ArmClient
from alerts.remediation.policy import sign_request
from alerts.remediation.rate import take_slot
from core.model import Finding, ResourceRef, Severity, Status
from core.state.base import Namespace
from core.state.sqlite import SQLiteStore
from tests.support.azure_server import AzureTestServer
from vigil import handlers
from vigil.config import parse_config
from vigil.remediation_worker import handle_remediation
from vigil.runtime_local import LocalRuntime

SUB = "11111111-1111-1111-1111-111111111111"
KEY = b"test-signing-key-for-the-rate-0123"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
VMS = [f"/subscriptions/{SUB}/resourcegroups/rg-a/providers/microsoft.compute/virtualmachines/vm{i}" for i in range(5)]


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    power = dict.fromkeys(VMS, "running")
    with AzureTestServer() as s:
        for vm in VMS:
            s.add_resource({"id": vm, "type": "Microsoft.Compute/virtualMachines", "tags": {}})
            s.route(
                "GET",
                re.escape(vm) + "/instanceView",
                lambda _r, _m, vm=vm: {"statuses": [{"code": f"PowerState/{power[vm]}"}]},
                api_versions={"2024-07-01"},
            )
            s.add_lro(
                "POST",
                re.escape(vm) + "/deallocate",
                polls=1,
                api_versions={"2024-07-01"},
                on_done=lambda _r, vm=vm: power.__setitem__(vm, "deallocated"),
            )
        yield s


def _finding(vm: str) -> Finding:
    return Finding(
        detector="idle",
        rule="vm_shutdown_candidate",
        status=Status.FIRING,
        severity=Severity.MEDIUM,
        resource=ResourceRef.from_id(vm),
        observed_at=NOW,
    )


def test_five_deliveries_with_a_cap_of_one_act_once_in_the_hour(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    config = parse_config(
        {
            "remediation": {
                "mode": "auto",
                "max_actions_per_run": 1,
                "allowed_subscriptions": [SUB],
                "auto_allow": [{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
            }
        }
    )
    rt = LocalRuntime(config, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    for i, vm in enumerate(VMS):  # five separate function calls, seconds apart
        out = handlers.raise_alerts([_finding(vm)], rt, NOW + timedelta(seconds=i))
        assert out["remediation"]["queued"] == 1
    messages = rt.pending("vigil-remediation")
    assert len(messages) == 5
    results = [handle_remediation(m, rt, now=NOW + timedelta(minutes=1), arm=arm) for m in messages]
    assert [r["ok"] for r in results].count(True) == 1, results
    assert all("max_actions_per_run (1)" in r["rejected"] for r in results if not r["ok"])
    assert len([r for r in server.requests if r.method == "POST" and r.path.endswith("/deallocate")]) == 1
    # A redelivery of the one that acted keeps its slot (idempotent), and acts no more.
    acted = messages[[r["ok"] for r in results].index(True)]
    assert handle_remediation(acted, rt, now=NOW + timedelta(minutes=2), arm=arm)["ok"] is True
    # An approval in the same hour counts against the same cap.
    fp = _finding(VMS[1]).fingerprint
    store.put(Namespace.NONCES, "n-approve", {"action": "approve", "fp": fp, "resource_id": VMS[1], "by": "alice"})
    approved = {
        "kind": "remediation-approved",
        "fingerprint": fp,
        "resource_id": VMS[1],
        "rule": "vm_shutdown_candidate",
        "action": "deallocate_vm",
        "nonce": "n-approve",
        "approved_by": "alice",
    }
    refused = handle_remediation(sign_request(approved, key=KEY), rt, now=NOW + timedelta(minutes=3), arm=arm)
    assert refused["ok"] is False
    assert "max_actions_per_run" in refused["rejected"]
    # The next hour has its slot again.
    later = handle_remediation(sign_request(approved, key=KEY), rt, now=NOW + timedelta(hours=1), arm=arm)
    assert later["ok"] is True, later


def test_slots_are_shared_through_the_store(tmp_path: Path) -> None:
    a = SQLiteStore(tmp_path / "s.db")
    b = SQLiteStore(tmp_path / "s.db")  # a second worker on the same store
    try:
        assert take_slot(a, "k1", limit=2, now=NOW)
        assert take_slot(b, "k2", limit=2, now=NOW)
        assert not take_slot(a, "k3", limit=2, now=NOW)
        assert take_slot(b, "k1", limit=2, now=NOW)  # already holds one
        assert take_slot(a, "k3", limit=2, now=NOW + timedelta(hours=1))
    finally:
        a.close()
        b.close()
