"""Remediation against the shared local HTTPS ARM server, with the real SDK pipeline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.remediation import RemediationConfig, plan
from alerts.remediation.approve import ApprovalRejectedError, approval_link, handle_approval
from alerts.remediation.arm import ArmClient
from alerts.remediation.execute import LedgerEntry, ledger_entries, outcome_for
from alerts.signing import LinkError
from core.model import Finding, ResourceRef, Severity, Status
from core.state.sqlite import SQLiteStore
from tests.support.azure_server import AzureTestServer, Request

SUB = "11111111-1111-1111-1111-111111111111"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/idle-vm"
WS = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
KEY = b"test-signing-key"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


class FakeTenant:
    """Stateful resources behind the HTTPS server: writes change what GET returns."""

    def __init__(self, server: AzureTestServer, *, lro_status: str = "Succeeded") -> None:
        self.server = server
        self.power = "running"
        self.ws: dict[str, Any] = {
            "id": WS,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "tags": {},
            "properties": {"publicNetworkAccess": "Enabled"},
        }
        server.route(
            "GET",
            re.escape(VM) + "/instanceView",
            lambda _r, _m: {
                "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{self.power}"}]
            },
            api_versions={"2024-07-01"},
        )
        server.add_resource({"id": VM, "type": "Microsoft.Compute/virtualMachines", "tags": {}})
        server.add_lro(
            "POST",
            re.escape(VM) + "/deallocate",
            polls=2,
            api_versions={"2024-07-01"},
            final_status=lro_status,
            on_done=lambda _r: self._deallocated(lro_status),
        )
        server.route("GET", re.escape(WS), lambda _r, _m: self.ws, api_versions={"2024-04-01"})
        server.route("PATCH", re.escape(WS), self._patch_ws, api_versions={"2024-04-01"})

    def _deallocated(self, status: str) -> None:
        if status == "Succeeded":
            self.power = "deallocated"

    def _patch_ws(self, req: Request, _m: re.Match[str]) -> dict[str, Any]:
        body = req.json()
        self.ws["properties"].update(body["properties"])
        return self.ws

    def writes(self) -> list[Request]:
        return [r for r in self.server.requests if r.method in WRITES]


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


@pytest.fixture
def arm(server: AzureTestServer) -> Iterator[ArmClient]:
    client = ArmClient(server.credential(), polling_interval=0, **server.client_kwargs())
    yield client
    client.close()


@pytest.fixture
def store(tmp_path: Any) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


def vm_finding() -> Finding:
    return Finding(
        detector="idle",
        rule="vm_shutdown_candidate",
        status=Status.FIRING,
        severity=Severity.MEDIUM,
        resource=ResourceRef.from_id(VM),
        observed_at=NOW,
    )


def query_of(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


CFG = RemediationConfig(mode="approve", allowed_subscriptions=[SUB])
RULES = {"vm_shutdown_candidate": "deallocate_vm"}


def dave_approves(nonce: str) -> dict[str, str]:
    """The queue message for dave's click on the idle VM's Approve button."""
    from alerts.remediation.approve import approval_request

    return approval_request(
        fingerprint="fp1",
        resource_id=VM,
        rule="vm_shutdown_candidate",
        action_id="deallocate_vm",
        nonce=nonce,
        approved_by="dave",
    )


def apply(
    steps: list[Any],
    *,
    arm: ArmClient,
    store: SQLiteStore,
    now: datetime,
    run_id: str,
    correlation_id: str,
    config: RemediationConfig,
) -> list[LedgerEntry]:
    """What production does with a plan (``vigil.handlers.raise_alerts`` then the remediation worker):
    each step marked ``execute`` becomes an auto request, executed with the guards re-checked."""
    from alerts.remediation.approve import auto_request, execute_approved

    return [
        execute_approved(
            auto_request(step, run_id=run_id),
            store=store,
            arm=arm,
            config=config,
            now=now,
            approved_by="vigil (auto)",
            correlation_id=correlation_id,
        )
        for step in steps
        if step.decision == "execute"
    ]


def approve_step() -> Any:
    (step,) = plan([vm_finding()], resources=lambda _i: {"tags": {}}, config=CFG, rule_actions=RULES, now=NOW)
    assert step.decision == "await-approval"
    return step


def test_dry_run_makes_zero_write_calls(server: AzureTestServer, arm: ArmClient, store: SQLiteStore) -> None:
    tenant = FakeTenant(server)
    cfg = RemediationConfig(allowed_subscriptions=[SUB])  # mode defaults to dry-run
    steps = plan([vm_finding()], resources=lambda _i: {"tags": {}}, config=cfg, rule_actions=RULES, now=NOW)
    assert [s.decision for s in steps] == ["dry-run"]
    assert apply(steps, arm=arm, store=store, now=NOW, run_id="r1", correlation_id="c1", config=cfg) == []
    assert tenant.writes() == []
    assert list(ledger_entries(store)) == []


def test_auto_mode_deallocates_through_the_lro(server: AzureTestServer, arm: ArmClient, store: SQLiteStore) -> None:
    tenant = FakeTenant(server)
    cfg = RemediationConfig(
        mode="auto",
        allowed_subscriptions=[SUB],
        auto_allow=[{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
    )
    steps = plan([vm_finding()], resources=lambda _i: {"tags": {}}, config=cfg, rule_actions=RULES, now=NOW)
    (entry,) = apply(steps, arm=arm, store=store, now=NOW, run_id="r1", correlation_id="corr-1", config=cfg)
    assert entry.result == "succeeded"
    assert tenant.power == "deallocated"
    assert entry.before == {"exists": True, "target_state": False}
    assert entry.after == {"exists": True, "target_state": True}
    polls = server.requests_to(r"/vigil-test/operations/")
    assert len(polls) >= 3  # two InProgress answers, then Succeeded
    assert all(r.headers.get("Authorization", "").startswith("Bearer ") for r in server.requests)
    (logged,) = list(ledger_entries(store))
    assert logged["correlation_id"] == "corr-1"
    assert logged["approved_by"] == "vigil (auto)"
    assert "Microsoft.Compute/virtualMachines/deallocate/action" in logged["permissions"]


def test_approval_link_executes_once_and_rejects_replay(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore
) -> None:
    tenant = FakeTenant(server)
    link = approval_link(approve_step(), base_url="https://vigil.example", key=KEY, now=NOW, ttl=timedelta(hours=24))
    entry = handle_approval(
        query_of(link),
        key=KEY,
        store=store,
        arm=arm,
        config=CFG,
        now=NOW + timedelta(minutes=5),
        approved_by="alice@example.com",
        correlation_id="corr-2",
    )
    assert entry.result == "succeeded"
    assert entry.approved_by == "alice@example.com"
    assert tenant.power == "deallocated"
    assert outcome_for(store, entry.fingerprint) == ("remediated by alice@example.com: Deallocate the virtual machine")
    with pytest.raises(LinkError, match="already used"):
        handle_approval(
            query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="x", correlation_id="c"
        )
    assert len([r for r in tenant.writes() if r.path.endswith("/deallocate")]) == 1


def test_same_action_applied_twice_makes_one_change(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore
) -> None:
    tenant = FakeTenant(server)
    results = []
    for i in range(2):
        issued = NOW + timedelta(minutes=i)
        link = approval_link(approve_step(), base_url="https://v", key=KEY, now=issued, ttl=timedelta(hours=1))
        results.append(
            handle_approval(
                query_of(link),
                key=KEY,
                store=store,
                arm=arm,
                config=CFG,
                now=issued,
                approved_by="bob",
                correlation_id=f"c{i}",
            ).result
        )
    assert results == ["succeeded", "noop"]
    assert len(tenant.writes()) == 1
    assert [e["result"] for e in ledger_entries(store)] == ["succeeded", "noop"]


def test_tampered_and_expired_links_are_rejected(server: AzureTestServer, arm: ArmClient, store: SQLiteStore) -> None:
    tenant = FakeTenant(server)
    link = approval_link(approve_step(), base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    q = query_of(link)
    tampered = dict(q, rid=q["rid"].replace("idle-vm", "prod-db"))
    with pytest.raises(LinkError, match="bad signature"):
        handle_approval(
            tampered, key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="m", correlation_id="c"
        )
    with pytest.raises(LinkError, match="bad signature"):
        handle_approval(
            q, key=b"other-key", store=store, arm=arm, config=CFG, now=NOW, approved_by="m", correlation_id="c"
        )
    with pytest.raises(LinkError, match="expired"):
        handle_approval(
            q,
            key=KEY,
            store=store,
            arm=arm,
            config=CFG,
            now=NOW + timedelta(hours=2),
            approved_by="m",
            correlation_id="c",
        )
    assert tenant.writes() == []
    assert tenant.power == "running"


def test_guards_are_checked_again_at_approval_time(server: AzureTestServer, arm: ArmClient, store: SQLiteStore) -> None:
    tenant = FakeTenant(server)
    link = approval_link(approve_step(), base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    server.add_resource({"id": VM, "type": "Microsoft.Compute/virtualMachines", "tags": {"vigil:exempt": "true"}})
    with pytest.raises(ApprovalRejectedError, match="exempt"):
        handle_approval(
            query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="m", correlation_id="c"
        )
    narrowed = RemediationConfig(mode="approve", allowed_subscriptions=["22222222-2222-2222-2222-222222222222"])
    link2 = approval_link(
        approve_step(), base_url="https://v", key=KEY, now=NOW + timedelta(seconds=1), ttl=timedelta(hours=1)
    )
    with pytest.raises(ApprovalRejectedError, match="allowed_subscriptions"):
        handle_approval(
            query_of(link2),
            key=KEY,
            store=store,
            arm=arm,
            config=narrowed,
            now=NOW,
            approved_by="m",
            correlation_id="c",
        )
    assert tenant.writes() == []


def test_failed_lro_is_recorded_as_failed_and_the_alert_says_so(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore
) -> None:
    tenant = FakeTenant(server, lro_status="Failed")
    link = approval_link(approve_step(), base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    entry = handle_approval(
        query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="carol", correlation_id="c9"
    )
    assert entry.result == "failed"
    assert "long-running operation failed" in entry.detail
    assert tenant.power == "running"
    (logged,) = list(ledger_entries(store))
    assert logged["result"] == "failed"
    assert logged["correlation_id"] == "c9"
    outcome = outcome_for(store, entry.fingerprint)
    assert outcome is not None
    assert outcome.startswith("remediation failed:")


def test_patch_action_and_throttling(server: AzureTestServer, arm: ArmClient, store: SQLiteStore) -> None:
    tenant = FakeTenant(server)
    ws_finding = Finding(
        detector="drift",
        rule="ml_workspace_public_network_access",
        status=Status.FIRING,
        severity=Severity.HIGH,
        resource=ResourceRef.from_id(WS),
        observed_at=NOW,
    )
    cfg = RemediationConfig(
        mode="auto",
        allowed_subscriptions=[SUB],
        auto_allow=[{"rules": ["ml_workspace_public_network_access"], "subscriptions": [SUB]}],
    )
    steps = plan(
        [ws_finding],
        resources=lambda _i: tenant.ws,
        config=cfg,
        rule_actions={"ml_workspace_public_network_access": "disable_ml_workspace_public_access"},
        now=NOW,
    )
    server.throttle(1, retry_after=0)  # the SDK's ARM retry policy must ride out a 429
    (entry,) = apply(steps, arm=arm, store=store, now=NOW, run_id="r2", correlation_id="c", config=cfg)
    assert entry.result == "succeeded"
    assert tenant.ws["properties"]["publicNetworkAccess"] == "Disabled"
    assert any(r.status == 429 for r in server.requests)
    patches = [r for r in tenant.writes() if r.method == "PATCH"]
    assert [p.json() for p in patches] == [{"properties": {"publicNetworkAccess": "Disabled"}}]


def test_redelivered_approval_request_records_nothing_new(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore
) -> None:
    from alerts.remediation.approve import execute_approved

    tenant = FakeTenant(server)
    request = dave_approves("n1")
    first = execute_approved(request, store=store, arm=arm, config=CFG, now=NOW, approved_by="dave", correlation_id="c")
    again = execute_approved(request, store=store, arm=arm, config=CFG, now=NOW, approved_by="dave", correlation_id="c")
    assert first == again
    assert first.result == "succeeded"
    assert len(tenant.writes()) == 1
    assert len(list(ledger_entries(store))) == 1
    assert outcome_for(store, "fp1") == "remediated by dave: Deallocate the virtual machine"


def test_passing_arm_error_leaves_the_link_usable(server: AzureTestServer, store: SQLiteStore) -> None:
    from alerts.remediation.arm import ArmError
    from tests.support.azure_server import Response

    tenant = FakeTenant(server)
    outage = {"on": True}

    def deallocate(_req: Request, _m: re.Match[str]) -> Response:
        if outage["on"]:
            return Response(503, {"error": {"code": "ServiceUnavailable", "message": "try later"}})
        tenant.power = "deallocated"
        return Response(200, None)

    server.route("POST", re.escape(VM) + "/deallocate", deallocate, api_versions={"2024-07-01"})
    arm = ArmClient(server.credential(), polling_interval=0, **{**server.client_kwargs(), "retry_total": 1})
    link = approval_link(approve_step(), base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    try:
        with pytest.raises(ArmError) as info:
            handle_approval(
                query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="f", correlation_id="c"
            )
        assert info.value.retryable
        assert list(ledger_entries(store)) == []
        assert tenant.power == "running"
        outage["on"] = False
        entry = handle_approval(
            query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="f", correlation_id="c"
        )
    finally:
        arm.close()
    assert entry.result == "succeeded"
    assert tenant.power == "deallocated"
    assert [e["result"] for e in ledger_entries(store)] == ["succeeded"]


def test_auto_mode_end_to_end_through_the_remediation_queue(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore, tmp_path: Any
) -> None:
    """Detection -> alerts -> a queued auto step -> the worker deallocates through ARM, once."""
    from vigil import handlers
    from vigil.config import parse_config
    from vigil.remediation_worker import handle_remediation
    from vigil.runtime_local import LocalRuntime

    tenant = FakeTenant(server)
    config = parse_config(
        {
            "route": {"receiver": "ops", "routes": [{"matchers": ['detector="idle"'], "receiver": "fixit"}]},
            "receivers": [{"name": "ops"}, {"name": "fixit", "remediation_configs": [{"mode": "auto"}]}],
            "remediation": {
                "allowed_subscriptions": [SUB],
                "auto_allow": [{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
            },
        }
    )
    rt = LocalRuntime(config, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    out = handlers.raise_alerts([vm_finding()], rt, NOW)
    assert out["remediation"] == {"planned": 1, "queued": 1}
    [message] = rt.pending("vigil-remediation")
    assert message["kind"] == "remediation-auto"
    first = handle_remediation(message, rt, now=NOW, arm=arm)
    again = handle_remediation(message, rt, now=NOW, arm=arm)  # a redelivered message
    assert first == again == {"ok": True, "result": "succeeded", "detail": "Deallocate the virtual machine"}
    assert tenant.power == "deallocated"
    assert len([r for r in tenant.writes() if r.path.endswith("/deallocate")]) == 1
    # Without the grant the same message is refused, and nothing is called.
    from alerts.remediation.policy import sign_request

    narrowed = parse_config({**config.model_dump(exclude_unset=True), "remediation": {"allowed_subscriptions": [SUB]}})
    refused = handle_remediation(
        sign_request({**message, "nonce": "other"}, key=KEY),
        LocalRuntime(narrowed, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()}),
        now=NOW,
        arm=arm,
    )
    assert refused["ok"] is False
    assert "no longer granted" in refused["rejected"]


def test_the_alert_shows_the_remediation_outcome(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore, tmp_path: Any
) -> None:
    """After a failed LRO the next card and `vigil alerts list` say so."""
    from typer.testing import CliRunner

    from alerts.pipeline import process
    from tests.alerts.helpers import AlertsQueue
    from vigil.cli.main import app
    from vigil.config import parse_config

    FakeTenant(server, lro_status="Failed")
    config = parse_config(
        {
            "route": {"receiver": "t", "group_wait": "0s"},
            "receivers": [{"name": "t", "msteams_configs": [{"webhook_url": "https://teams.invalid/hook"}]}],
        }
    )
    finding = vm_finding()
    link = approval_link(approve_step(), base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    handle_approval(
        query_of(link), key=KEY, store=store, arm=arm, config=CFG, now=NOW, approved_by="g", correlation_id="c"
    )
    out = tmp_path / "outbox"
    q = AlertsQueue(config, store, at=NOW, sink=out)
    process([finding], config=config, store=store, outbox=q.outbox, now=NOW)
    assert q.deliver(NOW + timedelta(minutes=1)).delivered == 1
    card = json.dumps(json.loads(next(out.glob("*.json")).read_text(encoding="utf-8")))
    assert '"title": "Remediation", "value": "remediation failed: ' in card
    listed = CliRunner().invoke(app, ["alerts", "list", "--state", str(tmp_path / "state.db"), "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["remediation"].startswith("remediation failed:")


class GatedTenant(FakeTenant):
    """The first read of the VM's power state waits for ``release``: an execution is held mid-flight."""

    def __init__(self, server: AzureTestServer) -> None:
        import threading

        self.held = threading.Event()
        self.release = threading.Event()
        self._power = "running"
        super().__init__(server)

    @property
    def power(self) -> str:
        if not self.held.is_set():
            self.held.set()
            self.release.wait(10)
        return self._power

    @power.setter
    def power(self, value: str) -> None:
        self._power = value


def test_two_workers_never_act_on_one_resource_at_once(server: AzureTestServer, store: SQLiteStore) -> None:
    """An approval and an auto request for the same VM arrive together: the second finds the
    first's claim, makes no ARM call and is deferred; run later it is a no-op. One change in all."""
    import threading

    from alerts.remediation.approve import auto_request, execute_approved
    from alerts.remediation.execute import RemediationBusyError

    tenant = GatedTenant(server)
    approved = dave_approves("n1")
    cfg = RemediationConfig(
        mode="auto",
        allowed_subscriptions=[SUB],
        auto_allow=[{"rules": ["vm_shutdown_candidate"], "subscriptions": [SUB]}],
    )
    (step,) = plan([vm_finding()], resources=lambda _i: {"tags": {}}, config=cfg, rule_actions=RULES, now=NOW)
    auto = auto_request(step, run_id="r1")
    results: dict[str, Any] = {}

    def run(name: str, request: dict[str, str]) -> None:
        client = ArmClient(server.credential(), polling_interval=0, **server.client_kwargs())
        try:
            results[name] = execute_approved(
                request, store=store, arm=client, config=cfg, now=NOW, approved_by=name, correlation_id=name
            )
        except Exception as exc:
            results[name] = exc
        finally:
            client.close()

    first = threading.Thread(target=run, args=("dave", approved))
    first.start()
    assert tenant.held.wait(10), "the first execution reached ARM"
    second = threading.Thread(target=run, args=("vigil (auto)", auto))
    second.start()
    second.join(5)  # busy at once; without the claim it would read the state and act too
    tenant.release.set()
    first.join(30)
    second.join(30)
    assert results["dave"].result == "succeeded"
    assert isinstance(results["vigil (auto)"], RemediationBusyError), results["vigil (auto)"]
    assert len(tenant.writes()) == 1
    later = execute_approved(
        auto, store=store, arm=ArmClient(server.credential(), **server.client_kwargs()), config=cfg,
        now=NOW + timedelta(minutes=1), approved_by="vigil (auto)", correlation_id="c2",
    )  # fmt: skip
    assert later.result == "noop"
    assert len(tenant.writes()) == 1
    assert [e["result"] for e in ledger_entries(store)] == ["succeeded", "noop"]


def test_a_dead_workers_claim_is_taken_over_after_the_ttl(
    server: AzureTestServer, arm: ArmClient, store: SQLiteStore
) -> None:
    from alerts.remediation.approve import execute_approved
    from alerts.remediation.execute import CLAIM_TTL, CLAIMS, RemediationBusyError

    tenant = FakeTenant(server)
    store.add(CLAIMS, f"deallocate_vm|{VM.lower()}", {"key": "approve:dead", "at": NOW.isoformat()})  # holder killed
    request = dave_approves("n2")
    with pytest.raises(RemediationBusyError):
        execute_approved(request, store=store, arm=arm, config=CFG, now=NOW, approved_by="dave", correlation_id="c")
    assert tenant.writes() == []
    after = NOW + CLAIM_TTL + timedelta(seconds=1)
    entry = execute_approved(
        request, store=store, arm=arm, config=CFG, now=after, approved_by="dave", correlation_id="c"
    )
    assert entry.result == "succeeded"
    assert len(tenant.writes()) == 1
    assert store.get(CLAIMS, f"deallocate_vm|{VM.lower()}") is None, "released after the execution"
