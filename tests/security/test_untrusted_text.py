"""Rows 9 and 12: untrusted text reaches cards, emails and terminals inert.

The attacks as the review ran them: a resource write whose event claims name the caller
``[Re-authenticate](https://evil.example/login)``, and a cost service name doing the same, produced
a working link on the Teams card; ``vigil silence list`` printed OSC title and hyperlink sequences
from a matcher value and a comment. Here the real card renderer, email renderer and CLI show the
text literally: no Markdown link, no control character.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from alerts.channels.email import render_email
from alerts.channels.msteams import render_cards
from alerts.config import MSTeamsConfig
from alerts.notify import AlertView, NotificationPayload
from alerts.silences import create_silence
from core.model import Alert
from core.state.sqlite import SQLiteStore
from core.untrusted import escape_markdown, strip_controls

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)
LINK = "[Re-authenticate](https://evil.example/login)"
OSC_TITLE = "\x1b]0;you have been pwned\x07"
OSC_LINK = "\x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07"
MD_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


def _view(**labels: str) -> AlertView:
    base = {"alertname": "storage_public_blob_access", "severity": "high", "resource_id": "/subscriptions/s/x"}
    alert = Alert(
        {**base, **labels},
        {"summary": f"**Urgent** {LINK}", "runbook_url": "javascript:alert(1)"},
        NOW - timedelta(hours=1),
        None,
    )
    return AlertView(alert, "f" * 16, {"changed_by": f"{LINK}\n{OSC_TITLE}"}, {"by": LINK, "at": NOW.isoformat()})


def _payload(*views: AlertView) -> NotificationPayload:
    return NotificationPayload("k", "teams", "msteamsv2[0]", "{}:{}", {}, views, NOW, issued_at=NOW)


def _texts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("text", "value", "title") and isinstance(v, str):
                out.append(v)
            else:
                out += _texts(v)
    elif isinstance(node, list):
        for v in node:
            out += _texts(v)
    return out


def test_no_markdown_link_reaches_a_teams_card() -> None:
    service = f"Virtual Machines {LINK}"
    cards = render_cards(MSTeamsConfig(webhook_url="http://x"), _payload(_view(service_name=service, scope=LINK)))
    texts = _texts(cards)
    joined = "\n".join(texts)
    assert "evil.example" in joined, "the text is shown (literally), not dropped"
    for t in texts:
        assert not MD_LINK.search(t), t
        assert "\x1b" not in t
        assert "\x07" not in t
    assert "**Urgent**" not in joined
    urls = [
        a["url"]
        for a in json.loads(json.dumps(cards))[0]["attachments"][0]["content"]["body"][1]["items"][-1]["actions"]
    ]
    assert all(u.startswith("https://") for u in urls), urls  # the javascript: runbook is not linked


def test_the_email_carries_no_control_characters() -> None:
    view = _view(alertname=f"x\r\nBcc: victim@example.com{OSC_TITLE}")
    subject, text, body = render_email(_payload(view), visible=[view])
    assert "\n" not in subject
    assert "\r" not in subject
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "<script" not in body


def test_silence_list_prints_no_terminal_escapes(tmp_path: Path) -> None:
    from vigil.cli.main import app

    db = tmp_path / "state.db"
    store = SQLiteStore(db)
    try:
        create_silence(
            store,
            matchers=[f'alertname="{OSC_TITLE}x"'],
            duration=timedelta(hours=1),
            created_by=f"mallory{OSC_LINK}",
            comment=f"maintenance {OSC_LINK}",
            now=datetime.now(UTC),
        )
    finally:
        store.close()
    result = CliRunner().invoke(app, ["silence", "list", "--state", str(db)])
    assert result.exit_code == 0, result.output
    assert "maintenance" in result.output
    assert "\x1b" not in result.output
    assert "\x07" not in result.output


def test_the_neutralisers() -> None:
    assert strip_controls("a\x1b[31mb\u202ec\nd\x9be") == "a[31mbc de"
    assert escape_markdown("1.5 rg-prod (x)") == "1.5 rg-prod (x)"
    assert not MD_LINK.search(escape_markdown(LINK))
    assert escape_markdown("- a") == "\\- a"
