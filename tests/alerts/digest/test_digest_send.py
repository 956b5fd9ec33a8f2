from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.config import DigestConfig
from alerts.digest.send import previous_week, send_digests
from tests.alerts.digest.conftest import make_rows, to_frame


class _Collect:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[_Collect, int]]:
    handler = _Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_previous_week_respects_timezone() -> None:
    # Monday 00:30 UTC is still Sunday in New York: the last complete week there ends a week earlier.
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert previous_week(now, "UTC") == date(2026, 11, 16)
    assert previous_week(now, "America/New_York") == date(2026, 11, 9)


def test_each_subscription_gets_its_digest_over_real_smtp(smtp: tuple[_Collect, int]) -> None:
    handler, port = smtp

    def send(msg: EmailMessage, recipients: Sequence[str]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(msg, to_addrs=list(recipients))

    digests = [
        DigestConfig(name="finance-all", scopes=[], recipients=["cfo@example.com"], currency="USD"),
        DigestConfig(
            name="ml-team",
            scopes=["resource-group=rg-ml"],
            recipients=["ml-lead@example.com", "ml-fin@example.com"],
            currency="USD",
        ),
        DigestConfig(name="nothing", scopes=["service=Nope"], recipients=["x@example.com"], currency="USD"),
        DigestConfig(name="bad-tz", scopes=[], recipients=["y@example.com"], timezone="Mars/Base"),
    ]
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    results = send_digests(digests, to_frame(make_rows()), [], now=now, sender="vigil@example.com", send=send)
    assert [r.name for r in results] == ["finance-all", "ml-team", "nothing", "bad-tz"]
    assert [r.has_data for r in results] == [True, True, False, False]
    assert "Mars/Base" in results[3].error
    assert len(handler.messages) == 3
    got = {
        tuple(rcpts): email.message_from_bytes(raw, policy=email.policy.default) for _, rcpts, raw in handler.messages
    }
    ml = got[("ml-lead@example.com", "ml-fin@example.com")]
    assert "2026-W47" in str(ml["Subject"])
    assert "ml-team" in str(ml["Subject"])
    html = next(p for p in ml.walk() if p.get_content_type() == "text/html").get_content()
    assert "resource-group=rg-ml" in html
    empty = got[("x@example.com",)]
    text = next(p for p in empty.walk() if p.get_content_type() == "text/plain").get_content()
    assert "NO DATA FOR THIS SCOPE" in text
    assert all(r.bytes <= 1_000_000 for r in results)


def test_monthly_budget_matches_the_digest_scope() -> None:
    from alerts.digest.send import monthly_budget
    from detectors.config import BudgetConfig

    budgets = [
        BudgetConfig(name="all", scope={"kind": "billing_account"}, amount=12000, period="annual"),
        BudgetConfig(name="ml", scope={"kind": "resource_group", "value": "sub-1/rg-ml"}, amount=900),
        BudgetConfig(
            name="vm", scope={"kind": "service", "value": "Virtual Machines"}, amount=3000, period="quarterly"
        ),
    ]

    def cfg(*scopes: str) -> DigestConfig:
        return DigestConfig(name="d", scopes=list(scopes), recipients=["a@example.com"])

    assert monthly_budget(budgets, cfg()) == 1000.0
    assert monthly_budget(budgets, cfg("resource-group=rg-ml")) == 900.0
    assert monthly_budget(budgets, cfg("service=virtual machines")) == 1000.0
    assert monthly_budget(budgets, cfg("resource-group=rg-web")) is None
    assert monthly_budget(budgets, cfg("resource-group=rg-ml", "resource-group=rg-web")) is None


def test_digest_timer_handler_emails_through_the_email_receiver(smtp: tuple[_Collect, int], tmp_path: Path) -> None:
    """handlers.run_digest: costs from the runtime's store, sent by the alerts email channel over real SMTP."""
    from core.state.sqlite import SQLiteStore
    from ingest.cost import ingest_paths
    from vigil import handlers
    from vigil.config import parse_config
    from vigil.runtime_local import LocalRuntime

    handler, port = smtp
    repo = Path(__file__).resolve().parents[3]
    manifest = repo / "tests/ingest/cost/fixtures/export/focus-daily/20240501-20240531"
    manifest = next(manifest.rglob("manifest.json"))
    ingest_paths([manifest], tmp_path / "costs")
    config = parse_config(
        {
            "route": {"receiver": "finance"},
            "receivers": [
                {
                    "name": "finance",
                    "email_configs": [
                        {
                            "to": "fin@example.com",
                            "from": "vigil@example.com",
                            "smarthost": f"127.0.0.1:{port}",
                            "require_tls": False,
                        }
                    ],
                }
            ],
            "digests": [{"name": "weekly", "scopes": [], "recipients": ["cfo@example.com"], "currency": "USD"}],
            "display": {"currency": "EUR", "rates": {"USD": 0.5}},
        }
    )
    store = SQLiteStore(tmp_path / "state.db")
    try:
        rt = LocalRuntime(config, store, tmp_path)
        out = handlers.run_digest(rt, datetime(2024, 5, 27, 7, 0, tzinfo=UTC))
    finally:
        store.close()
    assert out == {"digests": 1, "failed": []}
    [(sender, rcpts, raw)] = handler.messages
    assert sender == "vigil@example.com"
    assert rcpts == ["cfo@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "2024-W21" in str(msg["Subject"])
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    assert "cid:" in html
    assert any(p.get_content_type() == "image/png" for p in msg.walk())
    # the Function's digest shows vigil.yaml's display currency beside its figures, as `vigil digest --config`
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    assert "(≈ €" in text
    assert "Figures marked ≈ are in EUR at 1 USD = 0.5 EUR" in text
