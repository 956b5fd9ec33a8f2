"""Teams card content, the outbox-directory sink and HMAC-signed single-use links."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.acks import acknowledge
from alerts.channels.msteams import card_bytes, render_cards
from alerts.config import MSTeamsConfig
from alerts.notify import AlertView, NotificationPayload
from alerts.pipeline import process
from alerts.signing import LinkError, sign_link, verify_link
from alerts.testing import MemoryStore, finding
from core.model import Alert, Severity
from tests.alerts.helpers import T0, AlertsQueue
from vigil.config import parse_config

KEY = b"0123456789abcdef0123456789abcdef"
RID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1"
    "/providers/microsoft.storage/storageaccounts/st1"
)


def payload(views: list[AlertView], **kw: Any) -> NotificationPayload:
    return NotificationPayload(
        key="k" * 32,
        receiver="teams",
        integration="msteamsv2[0]",
        group_key="{}:{}",
        group_labels={},
        alerts=views,
        now=T0,
        issued_at=T0,
        **kw,
    )


def view(sev: Severity = Severity.CRITICAL, *, ack: dict[str, str] | None = None, resolved: bool = False) -> AlertView:
    f = finding(
        rule="storage-public-access",
        resource=RID,
        severity=sev,
        detector="drift",
        annotations={
            "summary": "Public blob access was enabled",
            "expected": "allowBlobPublicAccess=false",
            "actual": "allowBlobPublicAccess=true",
            "runbook_url": "https://runbooks.example/public-blob",
        },
        evidence={"caller": "mallory@example.com"},
    )
    a = Alert.from_finding(f, starts_at=T0 - timedelta(hours=1))
    if resolved:
        a = Alert(a.labels, a.annotations, a.starts_at, T0)
    return AlertView(a, f.fingerprint, dict(f.evidence), ack, approvable=True)


def walk(node: Any) -> list[dict[str, Any]]:
    out = []
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out += walk(v)
    elif isinstance(node, list):
        for v in node:
            out += walk(v)
    return out


def test_card_envelope_version_facts_links_and_buttons() -> None:
    cfg = MSTeamsConfig(webhook_url="http://x", action_base_url="https://vigil.example.net")
    (card,) = render_cards(cfg, payload([view()]), signing_key=KEY)
    assert card["type"] == "message"
    att = card["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = att["content"]
    assert content["type"] == "AdaptiveCard"
    assert float(content["version"]) <= 1.5
    nodes = walk(content)
    header = content["body"][0]
    assert header["style"] == "attention"  # critical: red
    facts = {f["title"]: f["value"] for n in nodes if n.get("type") == "FactSet" for f in n["facts"]}
    assert facts["Scope"] == "subscription 00000000-0000-0000-0000-000000000001 / resource group rg1"
    assert facts["Resource"].startswith("st1 (microsoft.storage/storageaccounts)")
    assert facts["Expected"] == "allowBlobPublicAccess=false"
    assert facts["Actual"] == "allowBlobPublicAccess=true"
    assert facts["Changed by"] == "mallory@example.com"
    actions = {n["title"]: n["url"] for n in nodes if n.get("type") == "Action.OpenUrl"}
    assert actions["Open in Azure portal"] == f"https://portal.azure.com/#@/resource{RID}"
    assert actions["Runbook"] == "https://runbooks.example/public-blob"
    for title in ("Acknowledge", "Silence 24h", "Approve remediation"):
        assert actions[title].startswith("https://vigil.example.net/api/alerts/action?")
    # the sample envelope from the Teams docs has the same outer shape
    assert set(card) == {"type", "attachments"}
    assert "contentUrl" in att


def test_matches_published_sample_shape(samples_dir: Path) -> None:
    raw = samples_dir / "alerting" / "msteams-docs_adaptive_card_webhook_payload.VERBATIM_has_trailing_comma.json.txt"
    text = raw.read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # the verbatim sample is invalid JSON (trailing comma)
    sample = json.loads(text.replace('",\n                }', '"\n                }'))
    (ours,) = render_cards(MSTeamsConfig(webhook_url="http://x"), payload([view()]))
    assert ours["type"] == sample["type"]
    assert ours["attachments"][0].keys() == sample["attachments"][0].keys()
    assert ours["attachments"][0]["content"]["$schema"] == sample["attachments"][0]["content"]["$schema"]


def test_severity_colours_and_resolved() -> None:
    cfg = MSTeamsConfig(webhook_url="http://x")
    styles = {
        s: render_cards(cfg, payload([view(s)]))[0]["attachments"][0]["content"]["body"][0]["style"] for s in Severity
    }
    assert styles[Severity.CRITICAL] == "attention"
    assert styles[Severity.MEDIUM] == "warning"
    assert styles[Severity.LOW] == "accent"
    resolved = render_cards(cfg, payload([view(resolved=True)]))[0]["attachments"][0]["content"]
    assert resolved["body"][0]["style"] == "good"
    assert not [n for n in walk(resolved) if n.get("title") == "Acknowledge"]  # no buttons on resolved alerts


def test_ack_is_shown() -> None:
    (card,) = render_cards(
        MSTeamsConfig(webhook_url="http://x"),
        payload([view(ack={"by": "bob", "comment": "on it", "at": T0.isoformat()})]),
    )
    facts = {f["title"]: f["value"] for n in walk(card) if n.get("type") == "FactSet" for f in n["facts"]}
    assert facts["Acknowledged"].startswith("by bob")
    assert "on it" in facts["Acknowledged"]


def test_truncation_with_plus_n_more() -> None:
    cfg = MSTeamsConfig(webhook_url="http://x", max_cards=2)
    views = [view() for _ in range(1)] * 200
    cards = render_cards(cfg, payload(views))
    assert len(cards) == 2
    assert all(len(card_bytes(c)) <= 28_000 for c in cards)
    last = cards[-1]["attachments"][0]["content"]["body"][-1]
    shown = sum(1 for c in cards for i in c["attachments"][0]["content"]["body"] if i["type"] == "Container") - 2
    assert last["text"] == f"+{200 - shown} more alerts in this group"


def test_rendering_is_deterministic() -> None:
    cfg = MSTeamsConfig(webhook_url="http://x", action_base_url="https://v.example")
    a = render_cards(cfg, payload([view()]), signing_key=KEY)
    b = render_cards(cfg, payload([view()]), signing_key=KEY)
    assert card_bytes(a[0]) == card_bytes(b[0])  # a retried delivery recognises parts it already sent


# -- signed links -------------------------------------------------------------------------------


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_signed_link_verifies_once_and_expires() -> None:
    store = MemoryStore()
    url = sign_link(
        "https://v.example", "silence", {"fp": "abc"}, key=KEY, issued_at=T0, ttl=timedelta(hours=24), nonce="n1"
    )
    q = _query(url)
    act = verify_link(q, key=KEY, now=T0 + timedelta(hours=1), store=store)
    assert act.action == "silence"
    assert act.params == {"fp": "abc"}
    with pytest.raises(LinkError, match="already used"):
        verify_link(q, key=KEY, now=T0 + timedelta(hours=1), store=store)
    url2 = sign_link(
        "https://v.example", "ack", {"fp": "abc"}, key=KEY, issued_at=T0, ttl=timedelta(hours=24), nonce="n2"
    )
    with pytest.raises(LinkError, match="expired"):
        verify_link(_query(url2), key=KEY, now=T0 + timedelta(hours=25), store=store)


@pytest.mark.parametrize("field", ["fp", "a", "exp", "sig"])
def test_tampered_link_is_rejected(field: str) -> None:
    url = sign_link("https://v.example", "ack", {"fp": "abc"}, key=KEY, issued_at=T0, ttl=timedelta(hours=1), nonce="n")
    q = _query(url)
    q[field] = {"fp": "abd", "a": "approve", "exp": str(int(q["exp"]) + 3600), "sig": "0" * 64}[field]
    with pytest.raises(LinkError):
        verify_link(q, key=KEY, now=T0, store=MemoryStore())


def test_wrong_key_is_rejected() -> None:
    url = sign_link("https://v.example", "ack", {"fp": "abc"}, key=KEY, issued_at=T0, ttl=timedelta(hours=1), nonce="n")
    with pytest.raises(LinkError, match="bad signature"):
        verify_link(_query(url), key=b"other-key", now=T0, store=MemoryStore())


def test_card_links_work_through_apply_action(tmp_path: Path) -> None:
    from alerts.actions import apply_action
    from alerts.silences import list_silences

    store = MemoryStore()
    f = finding(resource=RID, observed_at=T0)
    c = parse_config(
        {
            "route": {"receiver": "t", "group_wait": "0s"},
            "receivers": [{"name": "t", "msteamsv2_configs": [{"action_base_url": "https://v.example"}]}],
        }
    )
    # the alerts queue's trigger, card links signed with the app's VIGIL_SIGNING_KEY, cards written to a folder
    q = AlertsQueue(c, store, at=T0, sink=tmp_path, settings={"VIGIL_SIGNING_KEY": KEY.decode()})
    process([f], config=c, store=store, outbox=q.outbox, now=T0)
    assert q.deliver().delivered == 1
    cards = [json.loads(path.read_bytes()) for path in sorted(tmp_path.glob("*.json"))]
    assert cards
    links = {n["title"]: n["url"] for n in walk(cards) if n.get("type") == "Action.OpenUrl"}
    out = apply_action(_query(links["Silence 24h"]), key=KEY, store=store, now=T0 + timedelta(minutes=5))
    assert out["action"] == "silence"
    (s,) = list_silences(store, now=T0 + timedelta(minutes=5))
    assert s.ends_at == T0 + timedelta(minutes=5, hours=24)
    assert f'resource_id="{f.resource.id}"' in s.matchers
    with pytest.raises(LinkError, match="already used"):
        apply_action(_query(links["Silence 24h"]), key=KEY, store=store, now=T0 + timedelta(minutes=6))
    out = apply_action(_query(links["Acknowledge"]), key=KEY, store=store, now=T0 + timedelta(minutes=7))
    assert out["action"] == "ack"
    from alerts.acks import get_ack

    assert get_ack(store, f.fingerprint)["by"] == "signed link"  # type: ignore[index]
    # The default remediation mode is dry-run: no Approve button (tests/security/test_approvals.py).
    assert "Approve remediation" not in links


# -- outbox directory -----------------------------------------------------------------------------


def test_directory_sink_writes_exact_payloads_once(tmp_path: Path) -> None:
    store = MemoryStore()
    c = parse_config(
        {
            "route": {"receiver": "all", "group_wait": "0s", "group_by": ["alertname"]},
            "receivers": [
                {
                    "name": "all",
                    "msteamsv2_configs": [{"webhook_url": "http://never"}],
                    "email_configs": [{"to": "ops@example.com", "from": "vigil@example.com", "smarthost": "x:25"}],
                    "webhook_configs": [{"url": "http://never"}],
                }
            ],
        }
    )
    fs = [finding(resource=RID, observed_at=T0)]
    q = AlertsQueue(c, store, sink=tmp_path / "outbox")
    for minute in range(3):
        at = T0 + timedelta(minutes=minute)
        process(fs, config=c, store=store, outbox=q.outbox, now=at)
        q.drain(at)
    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert len(files) == 3, files
    by_kind = {f.split(".")[1].split("-")[0]: tmp_path / "outbox" / f for f in files}
    assert set(by_kind) == {"msteamsv2", "email", "webhook"}
    card = json.loads(by_kind["msteamsv2"].read_bytes())
    assert card["attachments"][0]["content"]["version"] == "1.5"
    eml = by_kind["email"].read_bytes()
    assert by_kind["email"].suffix == ".eml"
    assert b"Content-Type: multipart/alternative" in eml
    assert b"text/html" in eml
    assert b"text/plain" in eml
    hook = json.loads(by_kind["webhook"].read_bytes())
    assert hook["status"] == "firing"
    assert hook["alerts"][0]["labels"]["resource_id"] == RID


def test_ack_then_later_card_shows_it(tmp_path: Path) -> None:
    store = MemoryStore()
    c = parse_config(
        {
            "route": {"receiver": "t", "group_wait": "0s", "repeat_interval": "1h"},
            "receivers": [{"name": "t", "msteamsv2_configs": [{"webhook_url": "http://x"}]}],
        }
    )
    f = finding(resource=RID, observed_at=T0)
    q = AlertsQueue(c, store, sink=tmp_path)
    process([f], config=c, store=store, outbox=q.outbox, now=T0)
    q.drain(T0)
    acknowledge(store, f.fingerprint, by="carol", comment="investigating", now=T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=2)
    process([f], config=c, store=store, outbox=q.outbox, now=later)
    q.drain(later)
    texts = [p.read_text() for p in sorted(tmp_path.iterdir())]
    assert len(texts) == 2
    assert sum("carol" in t for t in texts) == 1


def test_http_adapters() -> None:
    from alerts.actions import action_response, silences_response

    store = MemoryStore()
    assert action_response({}, key=None, store=store, now=T0, csrf=None)[0] == 503
    assert action_response({"a": "ack"}, key=KEY, store=store, now=T0, csrf=None)[0] == 403
    status, created = silences_response(
        "POST",
        store=store,
        now=T0,
        body={"matchers": ['alertname="x"'], "duration": "2h", "comment": "c", "createdBy": "me"},
    )
    assert status == 201
    assert created["state"] == "active"
    assert silences_response("GET", store=store, now=T0)[1][0]["id"] == created["id"]
    assert silences_response("DELETE", store=store, now=T0, silence_id=created["id"])[1]["state"] == "expired"
    assert silences_response("DELETE", store=store, now=T0, silence_id="nope")[0] == 404
    assert silences_response("POST", store=store, now=T0, body={"matchers": "x"})[0] == 400


def test_portal_link_only_for_arm_ids() -> None:
    from alerts.channels.msteams import portal_url

    assert portal_url(RID) == f"https://portal.azure.com/#@/resource{RID}"
    assert portal_url("service/virtual machines") == ""
    assert portal_url("") == ""


def test_alertmanager_templates_are_not_shown_verbatim() -> None:
    from alerts.channels.email import EmailNotifier
    from alerts.config import EmailConfig

    templated = MSTeamsConfig(webhook_url="http://x", title='{{ template "msteams.default.title" . }}', text="{{ .X }}")
    (card,) = render_cards(templated, payload([view()]))
    texts = [n.get("text", "") for n in walk(card)]
    assert not [t for t in texts if "{{" in t]
    plain = MSTeamsConfig(webhook_url="http://x", title="Vigil production", text="Owner: platform team")
    texts = [n["text"] for n in walk(render_cards(plain, payload([view()]))[0]) if n.get("text")]
    assert texts[0].startswith("Vigil production")
    assert "Owner: platform team" in texts
    mail = EmailNotifier(EmailConfig(to="a@example.com", text="Sent by Vigil (prod)"))
    body = mail.build_message(payload([view()])).get_body(("plain",))
    assert body is not None
    assert "Sent by Vigil (prod)" in body.get_content()
    mail = EmailNotifier(EmailConfig(to="a@example.com", text='{{ template "email.default.text" . }}'))
    body = mail.build_message(payload([view()])).get_body(("plain",))
    assert body is not None
    assert "{{" not in body.get_content()
