"""Rows 1 and 2, and "the Approve link is a GET": approvals follow the remediation mode and the alert.

The attack as the review ran it: a dry-run deployment sends a Teams card; the Approve link on it
is opened (or fetched by a link scanner); the VM is deallocated. And: a resolved alert's link,
opened later, still acts. Here every step is taken as a reviewer would, through the real card
renderer, the real HTTP function and the real remediation worker against the local HTTPS ARM
server (the Azure SDK pipeline), and the safe outcome is shown: no button, no action, no ARM write.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.actions import action_response, confirmation_page, csrf_token
from alerts.pipeline import process
from alerts.remediation.arm import ArmClient
from alerts.remediation.execute import ledger_entries
from alerts.remediation.policy import approval_refusal, sign_request
from alerts.signing import derive_nonce, sign_link
from core.model import Finding, ResourceRef, Severity, Status
from core.state.base import Namespace
from core.state.sqlite import SQLiteStore
from tests.alerts.helpers import AlertsQueue
from tests.alerts.remediation.test_execute import VM, FakeTenant
from tests.support.azure_server import AzureTestServer
from vigil.config import VigilConfig, parse_config
from vigil.remediation_worker import handle_remediation
from vigil.runtime_local import LocalRuntime

SUB = "11111111-1111-1111-1111-111111111111"
KEY = b"test-signing-key-for-approvals-0123"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
ALICE = "alice@example.com"


def _config(mode: str, *, receiver_mode: str | None = None) -> VigilConfig:
    receiver: dict[str, Any] = {"name": "ops", "msteamsv2_configs": [{"action_base_url": "https://vigil.example"}]}
    if receiver_mode:
        receiver["remediation_configs"] = [{"mode": receiver_mode}]
    return parse_config(
        {
            "route": {"receiver": "ops", "group_wait": "0s"},
            "receivers": [receiver],
            "remediation": {"mode": mode, "allowed_subscriptions": [SUB]},
        }
    )


def _finding(rule: str = "vm_shutdown_candidate", status: Status = Status.FIRING, at: datetime = NOW) -> Finding:
    return Finding(
        detector="idle",
        rule=rule,
        status=status,
        severity=Severity.MEDIUM,
        resource=ResourceRef.from_id(VM),
        observed_at=at,
    )


def _card_buttons(config: VigilConfig, store: SQLiteStore, out: Path, finding: Finding) -> dict[str, str]:
    """Run the alert pipeline and the real Teams renderer; the titles and URLs of the card's buttons."""
    # the alerts queue's trigger signs card links with the app's VIGIL_SIGNING_KEY
    q = AlertsQueue(config, store, at=NOW, sink=out, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    process([finding], config=config, store=store, outbox=q.outbox, now=NOW)
    assert q.deliver().delivered == 1
    buttons: dict[str, str] = {}
    for card in sorted(out.glob("*.json")):
        text = card.read_text(encoding="utf-8")
        for m in re.finditer(r'"title":"([^"]+)","url":"([^"]+)"', text):
            buttons[m.group(1)] = m.group(2)
    return buttons


def _approve_link(fp: str) -> dict[str, str]:
    """A genuine approval link, as an older card (or one built under another mode) carried it."""
    url = sign_link(
        "https://vigil.example",
        "approve",
        {"fp": fp},
        key=KEY,
        issued_at=NOW,
        ttl=timedelta(hours=24),
        nonce=derive_nonce(KEY, "old-card", fp),
    )
    return dict(parse_qsl(urlsplit(url).query))


def _post(query: dict[str, str], store: SQLiteStore, config: VigilConfig, who: str = ALICE) -> tuple[int, Any]:
    """The confirmation form's POST, with a valid anti-forgery token for ``who``."""
    return action_response(
        query,
        key=KEY,
        store=store,
        now=NOW + timedelta(minutes=5),
        csrf=csrf_token(query, key=KEY, principal=who),
        principal=who,
        approvable=lambda labels: approval_refusal(labels, config),
    )


def test_a_dry_run_card_has_no_approve_button(store: SQLiteStore, tmp_path: Path) -> None:
    buttons = _card_buttons(_config("dry-run"), store, tmp_path / "out", _finding())
    assert {"Acknowledge", "Silence 24h"} <= set(buttons), buttons
    assert "Approve remediation" not in buttons


def test_a_dry_run_receiver_overrides_an_approve_deployment(store: SQLiteStore, tmp_path: Path) -> None:
    buttons = _card_buttons(_config("approve", receiver_mode="dry-run"), store, tmp_path / "out", _finding())
    assert "Approve remediation" not in buttons


def test_the_button_is_shown_in_approve_mode_where_a_remediation_exists(store: SQLiteStore, tmp_path: Path) -> None:
    """Not vacuous: in approve mode, for a rule with a remediation action, the button is there."""
    buttons = _card_buttons(_config("approve"), store, tmp_path / "out", _finding())
    assert buttons["Approve remediation"].startswith("https://vigil.example")


def test_no_button_for_a_rule_without_a_remediation(store: SQLiteStore, tmp_path: Path) -> None:
    buttons = _card_buttons(_config("approve"), store, tmp_path / "out", _finding(rule="no_such_remediation_rule"))
    assert "Acknowledge" in buttons
    assert "Approve remediation" not in buttons


def test_approving_in_dry_run_does_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    """The review's high finding: a genuine Approve link, opened in a dry-run deployment."""
    config = _config("dry-run")
    _card_buttons(config, store, tmp_path / "out", _finding())
    fp = _finding().fingerprint
    status, body = _post(_approve_link(fp), store, config)
    assert status == 409, body
    assert "dry-run" in body["error"]
    assert "approval" not in body
    assert list(store.ledger(Namespace.AUDIT)) == []
    assert list(store.query(Namespace.NONCES)) == []


def test_approving_a_resolved_alert_does_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    """Row 2: the alert resolved after the card was sent; its link no longer acts."""
    config = _config("approve")
    _card_buttons(config, store, tmp_path / "out", _finding())
    process(
        [_finding(status=Status.RESOLVED, at=NOW + timedelta(minutes=1))],
        config=config,
        store=store,
        outbox=AlertsQueue(config, store).outbox,
        now=NOW + timedelta(minutes=1),
    )
    status, body = _post(_approve_link(_finding().fingerprint), store, config)
    assert status == 409, body
    assert "resolved" in body["error"]
    assert list(store.ledger(Namespace.AUDIT)) == []


def test_a_get_never_acts_it_shows_a_confirmation(store: SQLiteStore, tmp_path: Path) -> None:
    """A link scanner or preview fetcher GETs the Approve link: nothing is recorded or queued."""
    config = _config("approve")
    _card_buttons(config, store, tmp_path / "out", _finding())
    query = _approve_link(_finding().fingerprint)
    for _ in range(3):
        status, page = confirmation_page(query, key=KEY, store=store, now=NOW, principal=ALICE)
        assert status == 200
        assert "<form method='post'" in page
    assert list(store.ledger(Namespace.AUDIT)) == []
    assert list(store.query(Namespace.NONCES)) == []


def test_the_post_needs_the_anti_forgery_token_of_the_signed_in_user(store: SQLiteStore, tmp_path: Path) -> None:
    config = _config("approve")
    _card_buttons(config, store, tmp_path / "out", _finding())
    query = _approve_link(_finding().fingerprint)
    approvable = lambda labels: approval_refusal(labels, config)  # noqa: E731
    for csrf in (None, "", "0" * 64, csrf_token(query, key=KEY, principal="mallory@example.com")):
        status, body = action_response(
            query, key=KEY, store=store, now=NOW, csrf=csrf, principal=ALICE, approvable=approvable
        )
        assert status == 403, (csrf, body)
    # Without a signed-in user (App Service Authentication) nothing is approved, token or not.
    status, body = _post(query, store, config, who="")
    assert status == 409
    assert "signed-in user" in body["error"]
    assert list(store.ledger(Namespace.AUDIT)) == []


def test_the_approver_identity_reaches_the_ledger_and_the_guards_read_fresh_arm_state(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    """End to end in approve mode: card -> confirmation POST as alice -> signed queue message ->
    worker -> ARM (real SDK, local HTTPS server). The ledger names alice, not "signed link"."""
    tenant = FakeTenant(server)
    config = _config("approve")
    buttons = _card_buttons(config, store, tmp_path / "out", _finding())
    query = dict(parse_qsl(urlsplit(buttons["Approve remediation"]).query))
    status, body = _post(query, store, config)
    assert status == 200, body
    assert body["approval"]["by"] == ALICE
    from alerts.remediation.approve import request_from_approval

    request, _ = request_from_approval(
        body["approval"], rule_actions={"vm_shutdown_candidate": "deallocate_vm"}, config=config.remediation
    )
    assert request is not None
    rt = LocalRuntime(config, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    # The guards are re-checked on fresh ARM state: exempted since the click, nothing is done.
    server.add_resource({"id": VM, "type": "Microsoft.Compute/virtualMachines", "tags": {"vigil:exempt": "true"}})
    refused = handle_remediation(sign_request(request, key=KEY), rt, now=NOW, arm=arm)
    assert refused["ok"] is False
    assert "exempt" in refused["rejected"]
    assert tenant.writes() == []
    server.add_resource({"id": VM, "type": "Microsoft.Compute/virtualMachines", "tags": {}})
    done = handle_remediation(sign_request(request, key=KEY), rt, now=NOW, arm=arm)
    assert done["ok"] is True, done
    [entry] = [e for e in ledger_entries(store) if e.get("result")]
    assert entry["approved_by"] == ALICE
    assert tenant.power == "deallocated"


def test_the_worker_refuses_an_approval_for_an_alert_since_resolved(
    store: SQLiteStore, tmp_path: Path, server: AzureTestServer, arm: ArmClient
) -> None:
    tenant = FakeTenant(server)
    config = _config("approve")
    buttons = _card_buttons(config, store, tmp_path / "out", _finding())
    query = dict(parse_qsl(urlsplit(buttons["Approve remediation"]).query))
    status, body = _post(query, store, config)
    assert status == 200
    from alerts.remediation.approve import request_from_approval

    request, _ = request_from_approval(
        body["approval"], rule_actions={"vm_shutdown_candidate": "deallocate_vm"}, config=config.remediation
    )
    assert request is not None
    process(
        [_finding(status=Status.RESOLVED, at=NOW + timedelta(minutes=1))],
        config=config,
        store=store,
        outbox=AlertsQueue(config, store).outbox,
        now=NOW + timedelta(minutes=1),
    )
    rt = LocalRuntime(config, store, tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    out = handle_remediation(sign_request(request, key=KEY), rt, now=NOW, arm=arm)
    assert out["ok"] is False
    assert "no longer firing" in out["rejected"]
    assert tenant.writes() == []
    assert json.dumps(out)


def test_the_direct_link_handler_refuses_in_dry_run(
    store: SQLiteStore, server: AzureTestServer, arm: ArmClient
) -> None:
    """``alerts.remediation.approve.handle_approval`` (link straight to execution) follows the mode too."""
    from alerts.remediation.approve import ApprovalRejectedError, approval_link, handle_approval
    from alerts.remediation.config import RemediationConfig
    from alerts.remediation.plan import PlanStep

    tenant = FakeTenant(server)
    step = PlanStep("fp", "vm_shutdown_candidate", VM, "deallocate_vm", "dry-run", "dry-run", "dry-run")
    link = approval_link(step, base_url="https://v", key=KEY, now=NOW, ttl=timedelta(hours=1))
    with pytest.raises(ApprovalRejectedError, match="dry-run"):
        handle_approval(
            dict(parse_qsl(urlsplit(link).query)),
            key=KEY,
            store=store,
            arm=arm,
            config=RemediationConfig(mode="dry-run", allowed_subscriptions=[SUB]),
            now=NOW,
            approved_by=ALICE,
            correlation_id="c",
        )
    assert tenant.writes() == []
    assert server.requests == []


def test_the_http_function_never_acts_on_get_and_answers_a_forged_post_with_403(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import azure.functions as func

    from alerts.testing import MemoryStore
    from vigil import runtime_azure
    from vigil.functions_alerts import card_action
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    env = {"VIGIL_SIGNING_KEY": KEY.decode()}
    store = MemoryStore()
    monkeypatch.setattr(runtime_azure, "_RUNTIME", AzureRuntime(Settings.from_env(env), env=env, store=store))
    query = _approve_link("0" * 16)
    url = "http://localhost:7071/api/alerts/action"
    page = card_action(func.HttpRequest(method="GET", url=url, params=query, body=b""))
    assert page.mimetype == "text/html"
    assert page.headers.get("Cache-Control") == "no-store"
    for body in (b"", b"csrf=" + b"0" * 64, b"\xff\xfe", b"csrf=%%%", "csrf=\u00e9t\u00e9".encode()):
        resp = card_action(
            func.HttpRequest(
                method="POST", url=url, params=query, body=body, headers={"x-ms-client-principal-name": ALICE}
            )
        )
        assert resp.status_code == 403, (body, resp.get_body())
    assert list(store.query(Namespace.NONCES)) == []
