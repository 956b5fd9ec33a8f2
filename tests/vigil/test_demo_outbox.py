"""The demo's outbox, read as the on-call engineer and the finance reader receive it: every card
and email carries the money, the evidence, the fix and the links (issue 21)."""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from detectors.registry import all_rules
from vigil.cli.main import app

_MONEY = re.compile(r"\$\d[\d,]*\.\d\d\b")  # the demo bills in USD
_TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d UTC\b")


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "outbox"


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _alert_containers(card: dict[str, Any]) -> list[dict[str, Any]]:
    body = card["attachments"][0]["content"]["body"]
    return [c for c in body if c.get("type") == "Container" and c.get("separator")]


def _texts(node: dict[str, Any]) -> str:
    parts = []
    for n in _walk(node):
        if n.get("type") == "TextBlock":
            parts.append(n["text"])
        if n.get("type") == "FactSet":
            parts += [f"{f['title']}: {f['value']}" for f in n["facts"]]
    return "\n".join(parts)


def _alertname(container: dict[str, Any]) -> str:
    first = container["items"][0]["text"]  # "**alert\\_name** · resource"
    return first.split("**")[1].replace("\\", "")


def _facts(container: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for n in _walk(container) if n.get("type") == "FactSet" for f in n["facts"]}


def _actions(container: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _walk(container) if str(n.get("type", "")).startswith("Action.")]


def _by_kind(outbox: Path) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(outbox.glob("*.json")):
        for c in _alert_containers(json.loads(path.read_text(encoding="utf-8"))):
            kinds.setdefault(_alertname(c), []).append(c)
    return kinds


def _emails(outbox: Path) -> list[EmailMessage]:
    out = []
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def _plain(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


IDLE = ("vm_shutdown_candidate", "ml_compute_instance_idle")
COST = "overspend_cost_anomaly"
DRIFT = "ml_workspace_public_network_access"


def test_every_idle_card_and_email_shows_monthly_waste_evidence_and_fix(outbox: Path) -> None:
    kinds = _by_kind(outbox)
    idle = [c for k in IDLE for c in kinds.get(k, [])]
    assert len(idle) == 2, sorted(kinds)
    for c in idle:
        facts = _facts(c)
        assert _MONEY.search(facts["Monthly waste"]), facts
        assert "/ month" in facts["Monthly waste"], facts
        assert "CPU" in facts.get("Metrics", "") or "CPU" in facts.get("Evidence", ""), facts
        assert "How to fix" in _texts(c)
        assert "az " in _texts(c)
    carol = next(c for c in idle if "ci-gpu-carol" in _texts(c))
    assert _facts(carol)["Monthly waste"].startswith("$2,203.20 / month")
    assert "GPU max" in _facts(carol)["Metrics"]
    mails = [m for m in _emails(outbox) if any(k in str(m["Subject"]) for k in IDLE)]
    assert len(mails) == 2
    for m in mails:
        text = _plain(m)
        assert re.search(r"Monthly waste: \$\d[\d,]*\.\d\d / month", text), text
        assert "How to fix: cli: az " in text
        assert "Azure portal: https://portal.azure.com/" in text


def test_the_demo_spike_gives_one_cost_alert_with_currency_and_drill_down(outbox: Path) -> None:
    cost = _by_kind(outbox).get(COST, [])
    assert len(cost) == 1, "one spike on vm-batch-gpu-01 is one alert, not one per scope"
    (c,) = cost
    facts = _facts(c)
    for key in ("Expected", "Actual", "Excess"):
        assert _MONEY.search(facts[key]), (key, facts[key])
    assert facts["Resource"].startswith("vm-batch-gpu-01")
    # display names from the cost data (SubAccountName), the id kept beside it
    assert facts["Scope"] == (
        "subscription Contoso Production (6513270e-269e-4d37-b2a7-4de452e6b438) / resource group rg-batch-prod"
    )
    assert facts["Resource id"].endswith("/virtualmachines/vm-batch-gpu-01")  # the id stays in the details
    text = _texts(c)
    assert "Drill-down" in text
    for scope in ("subscription", "resource group rg-batch-prod", "service Virtual Machines", "resource vm-batch"):
        assert scope in text, scope
    assert "/subscriptions/" not in (c["items"][1]["text"]), "no ARM id in the summary line"
    assert " USD" not in text, "one money format: $… not '… USD'"
    (mail,) = [m for m in _emails(outbox) if COST in str(m["Subject"])]
    assert "Drill-down: resource group rg-batch-prod" in _plain(mail)


def test_every_drift_card_and_email_shows_fix_risk_and_portal_link(outbox: Path) -> None:
    drift = _by_kind(outbox).get(DRIFT, [])
    assert drift
    for c in drift:
        text = _texts(c)
        assert "--public-network-access Disabled" in text
        assert "**Risk:**" in text
        assert any(a.get("title") == "Open in Azure portal" for a in _actions(c))
        since = _facts(c)["Since"]
        assert _TIME.fullmatch(since)
    (mail,) = [m for m in _emails(outbox) if DRIFT in str(m["Subject"])]
    text = _plain(mail)
    assert "--public-network-access Disabled" in text
    assert "Risk: " in text
    assert "Azure portal: https://portal.azure.com/#@/resource/subscriptions/" in text
    assert f"Since: {since}" in text, "card and email write the same time the same way"


def test_no_approve_button_without_a_remediation(outbox: Path) -> None:
    """The demo is dry-run: no card offers an Approve button; cost anomalies never do."""
    for kind, containers in _by_kind(outbox).items():
        for c in containers:
            titles = [a.get("title", "") for a in _actions(c)]
            assert not any("Approve" in t for t in titles), (kind, titles)


@pytest.mark.chromium
def test_one_card_of_each_kind_renders_in_chromium_through_the_adaptive_cards_renderer(outbox: Path) -> None:
    """Each card of the demo parses and validates as Adaptive Card 1.5 in the `adaptivecards` renderer
    (no parse or validation events), renders in real Chromium with its money, fix and drill-down visible,
    and one screenshot per kind is written (to $VIGIL_CARD_SHOTS, e.g. out/cards/ via `make card-shots`)."""
    import os

    from tests.support.cards import card_page

    shots = Path(os.environ.get("VIGIL_CARD_SHOTS") or outbox.parent / "cards")
    shots.mkdir(parents=True, exist_ok=True)
    shown: dict[str, str] = {}
    with card_page(outbox.parent) as (render, page):
        for path in sorted(outbox.glob("*.json")):
            envelope = json.loads(path.read_text(encoding="utf-8"))
            content = envelope["attachments"][0]["content"]
            result = render(content)
            assert result["events"] == [], (path.name, result["events"])
            assert result["version"] == "1.5"
            kind = _alertname(_alert_containers(envelope)[0])
            if kind in shown:
                continue
            shown[kind] = result["text"]
            (shots / f"{kind}.png").write_bytes(page.locator("#card").screenshot())
    assert set(shown) >= {*IDLE, COST, DRIFT}
    assert "$2,203.20 / month" in shown["ml_compute_instance_idle"]
    assert "Drill-down" in shown[COST]
    assert "--public-network-access Disabled" in shown[DRIFT]
    assert "-g <rg> -n <ws>" in shown[DRIFT]  # escaped Markdown renders literally, no stray backslashes
    assert "**" not in shown[DRIFT]
    for kind in shown:
        assert (shots / f"{kind}.png").stat().st_size > 5000


def test_alerts_list_is_a_table_with_headers_and_aligned_columns(outbox: Path) -> None:
    state = outbox.parent / "state.db"
    result = CliRunner().invoke(app, ["alerts", "list", "--state", str(state), "--now", "2026-11-25T01:00:00Z"])
    assert result.exit_code == 0, result.output
    header, rule, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["FINGERPRINT", "STATUS", "SEVERITY", "ALERT"]
    # overspend 1, idle 2, drift 3 (the pack, the organisation's assignment, ci-bob from the sweep), activity 3
    assert len(rows) == 9
    col = header.index("STATUS")
    assert all(r[col - 2 : col] == "  " and r[col] != " " for r in rows), rows
    assert set(rule) <= {"-", " "}
    assert any(" vm-batch-gpu-01 " in r for r in rows)  # the name, not a cut ARM id


def test_events_replay_lists_each_transition_and_creates_its_out_folder(outbox: Path, tmp_path: Path) -> None:
    tenant = outbox.parent / "tenant"
    out = tmp_path / "replay" / "out"
    args = ["events", "replay", "--tenant", str(tenant), "--state", str(tmp_path / "r.db"), "--out", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert out.is_dir()
    rows = [line.split() for line in first.stdout.splitlines() if line.startswith("  firing ")]
    fired = sorted((r[0], r[1], r[2]) for r in rows)
    # the rule pack's verdict, and the organisation's own assignment on the same event path
    assert [(s, rule) for s, rule, _res in fired] == [
        ("firing", "assignment:restrict-storage-network"),
        ("firing", DRIFT),
    ]
    assert ("firing", DRIFT, "mlw-research") in fired
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    assert "  firing " not in again.stdout  # a replay fires nothing the second time


def test_every_alert_is_named_by_a_registered_rule(outbox: Path) -> None:
    """Vigil's own rules are registry ids (docs/architecture.md, "Rule names"); an
    organisation's Azure Policy assignment keeps its own name, prefixed ``assignment:``."""
    ids = {r.id for r in all_rules()}
    lines = (outbox.parent / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    names = [json.loads(line)["labels"]["alertname"] for line in lines]
    assert names
    assert [n for n in names if n not in ids and not n.startswith("assignment:")] == []
