"""The Teams card's Acknowledge / Silence / Approve buttons open the console's confirmation pages when
the receiver names the console (``console_base_url``), else the signed action links of
/api/alerts/action. The console links are followed through the real console app over the demo's store:
a GET shows the page and changes nothing; the action is the page's POST."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from alerts.channels.msteams import render_cards
from alerts.config import MSTeamsConfig
from alerts.notify import AlertView, NotificationPayload
from alerts.silences import list_silences
from core.state.base import Namespace, StateStore
from tests.console.conftest import NOW, MakeClient, approve_mode, csrf_of, fingerprint_of
from vigil.console.data import load_alert

DRIFT = "ml_workspace_public_network_access"
KEY = b"0123456789abcdef0123456789abcdef"
CONSOLE = "https://func-vigil.example.net/api/console"
BUTTONS = ("Acknowledge", "Silence 24h", "Approve remediation")


def _buttons(store: StateStore, fp: str, cfg: MSTeamsConfig) -> dict[str, str]:
    record = load_alert(store, fp)
    assert record is not None
    view = AlertView(record.alert(), fp, dict(record.evidence), None, approvable=True)
    payload = NotificationPayload(
        key="k" * 32,
        receiver="teams",
        integration="msteamsv2[0]",
        group_key="{}:{}",
        group_labels={},
        alerts=[view],
        now=NOW,
        issued_at=NOW,
    )
    (card,) = render_cards(cfg, payload, signing_key=KEY)

    def walk(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            return [node] + [n for v in node.values() for n in walk(v)]
        if isinstance(node, list):
            return [n for v in node for n in walk(v)]
        return []

    return {n["title"]: n["url"] for n in walk(card) if n.get("type") == "Action.OpenUrl" and n["title"] in BUTTONS}


def test_without_a_console_the_buttons_are_signed_action_links(store: StateStore) -> None:
    fp = fingerprint_of(store, DRIFT)
    links = _buttons(store, fp, MSTeamsConfig(webhook_url="http://x", action_base_url="https://func.example.net"))
    assert set(links) == set(BUTTONS)
    for url in links.values():
        assert url.startswith("https://func.example.net/api/alerts/action?")
        assert "sig" in parse_qs(urlsplit(url).query)


def test_with_a_console_the_buttons_open_its_confirmation_pages(make_client: MakeClient, store: StateStore) -> None:
    fp = fingerprint_of(store, DRIFT)
    cfg = MSTeamsConfig(webhook_url="http://x", action_base_url="https://func.example.net", console_base_url=CONSOLE)
    links = _buttons(store, fp, cfg)
    assert links == {
        "Acknowledge": f"{CONSOLE}/alerts/{fp}",
        "Silence 24h": f"{CONSOLE}/silences/new?from={fp}&duration=24h",
        "Approve remediation": f"{CONSOLE}/alerts/{fp}",
    }
    client = make_client(remediation=approve_mode())

    def follow(url: str) -> str:
        parts = urlsplit(url)
        path = parts.path.removeprefix(urlsplit(CONSOLE).path) + (f"?{parts.query}" if parts.query else "")
        resp = client.get(path)
        assert resp.status_code == 200, resp.text
        return str(resp.text)

    detail = follow(links["Acknowledge"])
    assert ">Acknowledge<" in detail
    assert "Approve remediation" in detail  # approve mode: the console's approve control is on the page
    editor = follow(links["Silence 24h"])
    assert 'value="24h"' in editor
    assert f"alertname=&#34;{DRIFT}&#34;" in editor  # pre-filled from the alert (autoescaped)
    # following the links acted on nothing: a GET is a confirmation
    assert store.get(Namespace.ACKS, fp) is None
    assert list_silences(store, now=NOW) == []
    assert list(store.ledger(Namespace.AUDIT)) == []
    # the page's own POST acts
    resp = client.post(f"/alerts/{fp}/ack", data={"csrf": csrf_of(detail)})
    assert resp.status_code in (200, 303)
    assert store.get(Namespace.ACKS, fp) is not None


def test_a_non_web_console_url_is_not_used(store: StateStore) -> None:
    fp = fingerprint_of(store, DRIFT)
    cfg = MSTeamsConfig(webhook_url="http://x", action_base_url="https://f.example", console_base_url="javascript:x")
    for url in _buttons(store, fp, cfg).values():
        assert url.startswith("https://f.example/api/alerts/action?")
