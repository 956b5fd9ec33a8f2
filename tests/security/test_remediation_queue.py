"""Row 6: remediation queue messages are authenticated, and resource ids are normalised before scope checks.

The attacks as the review ran them, against the real worker and the real ARM client (local HTTPS
server): a forged message with no alert and no approval and ``approved_by`` set to any string; a
genuine message with its approver rewritten; and a resource id whose ``/../`` walks out of the
allowed subscription. Each is refused before any ARM write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.remediation.approve import ApprovalRejectedError, execute_approved
from alerts.remediation.arm import ArmClient
from alerts.remediation.config import RemediationConfig
from alerts.remediation.guards import normalise_resource_id
from alerts.remediation.policy import QueueAuthError, sign_request, verify_request
from core.state.sqlite import SQLiteStore
from tests.alerts.remediation.test_execute import VM, FakeTenant
from tests.support.azure_server import AzureTestServer
from vigil.config import parse_config
from vigil.remediation_worker import handle_remediation
from vigil.runtime_local import LocalRuntime

SUB = "11111111-1111-1111-1111-111111111111"
OTHER = "99999999-9999-9999-9999-999999999999"
KEY = b"test-signing-key-for-the-queue-0123"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CONFIG = parse_config({"remediation": {"mode": "approve", "allowed_subscriptions": [SUB]}})


def _forged(resource_id: str = VM) -> dict[str, str]:
    return {
        "kind": "remediation-approved",
        "fingerprint": "0" * 16,
        "resource_id": resource_id,
        "rule": "vm_shutdown_candidate",
        "action": "deallocate_vm",
        "nonce": "forged",
        "approved_by": "the CEO",
    }


def test_a_forged_unsigned_message_is_not_executed(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    tenant = FakeTenant(server)
    rt = LocalRuntime(CONFIG, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    out = handle_remediation(_forged(), rt, now=NOW, arm=arm)
    assert out["ok"] is False
    assert "not signed" in out["rejected"]
    assert tenant.writes() == []
    assert tenant.power == "running"


def test_a_message_signed_with_another_key_or_altered_is_not_executed(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    tenant = FakeTenant(server)
    rt = LocalRuntime(CONFIG, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    for message in (
        sign_request(_forged(), key=b"an attacker's key"),
        {**sign_request(_forged(), key=KEY), "approved_by": "someone else"},
    ):
        out = handle_remediation(message, rt, now=NOW, arm=arm)
        assert out["ok"] is False
        assert "signature does not match" in out["rejected"]
    assert tenant.writes() == []


def test_a_signed_message_with_no_recorded_approval_is_not_executed(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    """Even signed (a leaked or replayed message), an approval must match the one recorded with its nonce."""
    tenant = FakeTenant(server)
    rt = LocalRuntime(CONFIG, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    out = handle_remediation(sign_request(_forged(), key=KEY), rt, now=NOW, arm=arm)
    assert out["ok"] is False
    assert "no recorded approval" in out["rejected"]
    assert tenant.writes() == []


def test_without_a_signing_key_nothing_from_the_queue_acts(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    tenant = FakeTenant(server)
    out = handle_remediation(sign_request(_forged(), key=KEY), LocalRuntime(CONFIG, store, tmp_path), now=NOW, arm=arm)
    assert out["ok"] is False
    assert "VIGIL_SIGNING_KEY" in out["rejected"]
    assert tenant.writes() == []


def test_signature_covers_every_field_and_is_checked_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac as hmac_mod

    signed = sign_request(_forged(), key=KEY)
    verify_request(signed, key=KEY)
    for field in _forged():
        with pytest.raises(QueueAuthError):
            verify_request({**signed, field: signed[field] + "x"}, key=KEY)
    calls: list[object] = []
    real = hmac_mod.compare_digest
    monkeypatch.setattr(hmac_mod, "compare_digest", lambda a, b: calls.append(a) or real(a, b))
    verify_request(signed, key=KEY)
    assert calls, "the signature is compared with hmac.compare_digest"


TRAVERSALS = [
    f"/subscriptions/{SUB}/resourceGroups/rg-a/../../../subscriptions/{OTHER}/resourceGroups/rg"
    "/providers/Microsoft.Compute/virtualMachines/victim",
    f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/./vm",
    f"/subscriptions/{SUB}//resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm",
    f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/%2e%2e/vm",
    f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm?api-version=1",
    f"/subscriptions/{SUB}/resourceGroups/rg-a\\..\\x/providers/Microsoft.Compute/virtualMachines/vm",
    f"subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm",
]


@pytest.mark.parametrize("rid", TRAVERSALS)
def test_a_resource_id_that_walks_out_of_scope_is_refused_before_arm(
    rid: str, store: SQLiteStore, server: AzureTestServer, arm: ArmClient
) -> None:
    """The review's ``/../`` id passed the allowed-scope check and acted in another subscription."""
    tenant = FakeTenant(server)
    request = {"action": "deallocate_vm", "resource_id": rid, "fingerprint": "f", "rule": "r", "nonce": "n"}
    with pytest.raises(ApprovalRejectedError):
        execute_approved(
            request,
            store=store,
            arm=arm,
            config=RemediationConfig(mode="approve", allowed_subscriptions=[SUB]),
            now=NOW,
            approved_by="x",
            correlation_id="c",
        )
    assert server.requests == []
    assert tenant.writes() == []


def test_normalised_ids_are_case_folded_and_trimmed() -> None:
    assert normalise_resource_id(VM.upper() + "/") == VM.lower()
    with pytest.raises(ValueError, match="segment"):
        normalise_resource_id(f"/subscriptions/{SUB}/resourceGroups/rg/..")
