"""Roles, CSRF, sign-in and output escaping, over the demo's real state store."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from alerts.silences import list_silences
from core.state.base import Namespace, StateStore
from tests.console.conftest import NOW, SECRET, MakeClient, approve_mode, csrf_of, fingerprint_of
from vigil.console.app import CSP, ConsoleConfig, create_app
from vigil.console.auth import (
    APPROVER,
    READER,
    TRIAGER,
    AppServiceAuth,
    AuthError,
    parse_client_principal,
)

DRIFT = "ml_workspace_public_network_access"


def _silence_form(csrf: str | None) -> dict[str, str]:
    form = {"matchers": f'alertname="{DRIFT}"', "duration": "2h", "comment": "maintenance"}
    if csrf is not None:
        form["csrf"] = csrf
    return form


def test_reader_cannot_silence_acknowledge_or_approve(make_client: MakeClient, store: StateStore) -> None:
    client = make_client((READER,), remediation=approve_mode())
    fp = fingerprint_of(store, DRIFT)
    page = client.get(f"/alerts/{fp}")
    assert page.status_code == 200
    assert 'name="csrf"' not in page.text, "a Reader's page carries no action forms"
    assert "Approve remediation" not in page.text
    assert ">Acknowledge<" not in page.text
    from vigil.console.auth import Identity, csrf_token

    token = csrf_token(SECRET, Identity("local", "x", frozenset({READER})))  # a valid token: the role still refuses
    assert client.post("/silences", data=_silence_form(token)).status_code == 403
    assert client.post(f"/alerts/{fp}/ack", data={"csrf": token}).status_code == 403
    resp = client.post(f"/alerts/{fp}/approve", data={"csrf": token, "key": "k1"})
    assert resp.status_code == 403
    assert "Vigil.Approver" in resp.text
    assert list_silences(store, now=NOW) == []
    assert store.get(Namespace.ACKS, fp) is None
    assert list(store.ledger(Namespace.AUDIT)) == []


def test_triager_can_silence_but_not_approve(make_client: MakeClient, store: StateStore) -> None:
    queued: list[dict[str, str]] = []
    client = make_client((TRIAGER,), remediation=approve_mode(), queued=queued)
    fp = fingerprint_of(store, DRIFT)
    page = client.get(f"/alerts/{fp}")
    assert "Approve remediation" not in page.text
    assert "needs the Vigil.Approver role" in page.text
    csrf = csrf_of(page.text)
    assert client.post(f"/alerts/{fp}/approve", data={"csrf": csrf, "key": "k1"}).status_code == 403
    assert queued == []
    assert list(store.ledger(Namespace.AUDIT)) == []
    resp = client.post("/silences", data=_silence_form(csrf), follow_redirects=False)
    assert resp.status_code == 303
    (silence,) = list_silences(store, now=NOW)
    assert silence.created_by == "tester (Triager)"


def test_posts_without_or_with_a_wrong_csrf_token_are_rejected(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    fp = fingerprint_of(store, DRIFT)
    for bad in (None, "", "0" * 64):
        assert client.post("/silences", data=_silence_form(bad)).status_code == 403
        form = {} if bad is None else {"csrf": bad}
        assert client.post(f"/alerts/{fp}/ack", data=form).status_code == 403
    assert list_silences(store, now=NOW) == []
    assert store.get(Namespace.ACKS, fp) is None


def test_cross_origin_post_is_rejected_even_with_a_token(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    fp = fingerprint_of(store, DRIFT)
    csrf = csrf_of(client.get(f"/alerts/{fp}").text)
    resp = client.post(f"/alerts/{fp}/ack", data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403
    ok = client.post(f"/alerts/{fp}/ack", data={"csrf": csrf}, headers={"Origin": "http://127.0.0.1:8765"})
    assert ok.status_code == 200  # followed the 303 to the detail page
    assert store.get(Namespace.ACKS, fp) is not None


def test_state_changes_are_post_only(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    fp = fingerprint_of(store, DRIFT)
    assert client.get(f"/alerts/{fp}/ack").status_code == 405
    assert client.get(f"/alerts/{fp}/approve").status_code == 405
    assert store.get(Namespace.ACKS, fp) is None


def test_no_token_no_console(make_client: MakeClient) -> None:
    client = make_client(login=False)
    assert client.get("/alerts").status_code == 401
    assert client.get("/login?token=wrong-token-wrong-token").status_code == 401
    assert client.get("/alerts", headers={"Authorization": "Bearer test-token-0123456789abcdef"}).status_code == 200
    resp = client.get("/login?token=test-token-0123456789abcdef", follow_redirects=False)
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_every_response_carries_a_strict_csp(make_client: MakeClient) -> None:
    client = make_client()
    for path in ("/alerts", "/silences", "/nope", "/static/console.css"):
        resp = client.get(path)
        assert resp.headers["content-security-policy"] == CSP
        assert resp.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP


def test_untrusted_text_is_escaped(make_client: MakeClient, store: StateStore) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    store.put(
        Namespace.ALERTS,
        "evil0000evil0000",
        {
            "labels": {"alertname": evil, "detector": "drift", "severity": "high", "resource_id": evil},
            "annotations": {"summary": evil, "changed_by": evil},
            "evidence": {"note": evil},
            "starts_at": (NOW - timedelta(hours=1)).isoformat(),
            "ends_at": None,
            "updated_at": NOW.isoformat(),
        },
    )
    client = make_client()
    for path in ("/alerts", "/alerts/evil0000evil0000", "/silences/new?matchers=" + evil):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path


def _principal(claims: list[dict[str, str]], **extra: str) -> str:
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles", **extra}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_app_service_principal_gives_name_and_roles() -> None:
    header = _principal(
        [
            {"typ": "name", "val": "Ana Ops"},
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "oid-1"},
            {"typ": "roles", "val": TRIAGER},
            {"typ": "roles", "val": "Something.Else"},
        ]
    )
    ident = parse_client_principal(header)
    assert (ident.id, ident.name, ident.roles) == ("oid-1", "Ana Ops", frozenset({TRIAGER}))
    with pytest.raises(AuthError) as err:
        parse_client_principal("not base64 json!")
    assert err.value.status == 401


def test_app_service_auth_refuses_without_easy_auth_and_checks_roles(store: StateStore) -> None:
    from starlette.testclient import TestClient

    def client(settings: dict[str, str]) -> TestClient:
        cfg = ConsoleConfig(store=store, auth=AppServiceAuth(settings), secret=SECRET, clock=lambda: NOW)
        return TestClient(create_app(cfg))

    reader = {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "name", "val": "r"}, {"typ": "roles", "val": READER}])}
    nobody = {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "name", "val": "n"}])}
    # Without App Service Authentication nothing strips a forged header: the console refuses.
    assert client({}).get("/alerts", headers=reader).status_code == 503
    on = client({"WEBSITE_AUTH_ENABLED": "True"})
    assert on.get("/alerts").status_code == 401
    assert on.get("/alerts", headers=nobody).status_code == 403
    assert on.get("/alerts", headers=reader).status_code == 200
    approver = {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "name", "val": "a"}, {"typ": "roles", "val": APPROVER}])}
    assert on.get("/alerts", headers=approver).status_code == 200
