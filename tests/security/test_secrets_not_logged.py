"""Secrets (webhook URLs and their path/query tokens, SMTP passwords, the signing key) never appear in logs.

Every log record (message, arguments, ``extra=`` fields and tracebacks; every logger, at
DEBUG) is captured during (1) a full demo run (``vigil.pipeline.run_tenant`` over the
simulated tenant) with a config holding secret-looking Teams/webhook URLs and an SMTP
password, and (2) the Function handlers over a local runtime delivering those
notifications for real to a local HTTP server whose URL carries a secret token, with a
throttled first answer so the retry paths log too.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.faults.harness import Answer, Receiver, Request, free_port

TEAMS_SIG = "sigTEAMS0a1b2c3d4e5f6SECRET"
HOOK_TOKEN = "tokHOOK9z8y7x6w5v4SECRET"
SMTP_PASSWORD = "smtpPASSw0rd-7f3kSECRET"
SIGNING_KEY = "signKEY-51c2d3e4f5SECRET"
ACTION_KEY = "actKEY-fnkey-0c9d8e7SECRET"  # the card_action function key carried in card links
PATH_TOKEN = "B0pathTOKEN4u5v6w7SECRET"  # a Slack/connector-style receiver token in the URL path
SECRETS = (TEAMS_SIG, HOOK_TOKEN, SMTP_PASSWORD, SIGNING_KEY, ACTION_KEY, PATH_TOKEN)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.name, record.getMessage(), repr(record.args)]
        parts += [f"{k}={v!r}" for k, v in record.__dict__.items() if k not in ("args", "msg")]
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        self.lines.append(" | ".join(parts))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _config(teams_url: str, hook_url: str, dead_url: str = "") -> Any:
    from vigil.config import parse_config

    return parse_config(
        {
            "route": {"receiver": "all", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1m"},
            "receivers": [
                {
                    "name": "all",
                    "msteams_configs": [{"webhook_url": teams_url, "max_retries": 1, "max_retry_wait": "1s"}],
                    "webhook_configs": [
                        {"url": hook_url, "max_retries": 1, "max_retry_wait": "1s"},
                        *([{"url": dead_url, "max_retries": 0}] if dead_url else []),
                    ],
                    "email_configs": [
                        {
                            "to": "finops@example.com",
                            "from": "vigil@example.com",
                            "smarthost": "127.0.0.1:1",
                            "auth_username": "vigil",
                            "auth_password": SMTP_PASSWORD,
                        }
                    ],
                }
            ],
        },
        "<secrets>",
    )


def _assert_clean(lines: list[str]) -> None:
    assert lines, "nothing was logged: the capture is not working"
    leaks = [(s, line[:300]) for line in lines for s in SECRETS if s in line]
    assert not leaks, f"secret values in {len(leaks)} log line(s), e.g. {leaks[:3]}"


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vigil.simulate import simulate

    root = tmp_path_factory.mktemp("secrets") / "t"
    simulate(root)
    return root


def test_full_demo_run_logs_no_secret(
    captured: _Capture, tenant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.state import open_store
    from vigil.pipeline import run_tenant

    monkeypatch.setenv("VIGIL_SIGNING_KEY", SIGNING_KEY)
    teams = f"https://prod-01.westeurope.logic.azure.com/workflows/w/triggers/manual/paths/invoke?sig={TEAMS_SIG}"
    hook = f"https://hooks.example.com/services/T0/{PATH_TOKEN}?token={HOOK_TOKEN}"
    store = open_store("sqlite", path=tmp_path / "state.db")
    try:
        summary = run_tenant(
            tenant,
            config=_config(teams, hook),
            store=store,
            out_dir=tmp_path / "out",
            now=datetime.now(UTC),
            progress=False,
        )
    finally:
        store.close()
    assert summary.notifications, "the demo run delivered notifications (to the outbox folder)"
    _assert_clean(captured.lines)


def test_handlers_delivering_for_real_log_no_secret(
    captured: _Capture, tenant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from core.state import open_store
    from vigil import handlers
    from vigil.runtime_local import LocalRuntime

    monkeypatch.setenv("VIGIL_SIGNING_KEY", SIGNING_KEY)

    def throttle_first(n: int, req: Request) -> Answer:
        return Answer(429, "slow down", {"Retry-After": "0"}) if n == 0 else Answer(202)

    with Receiver(throttle_first) as rx:
        teams = f"{rx.url}/teams?sig={TEAMS_SIG}"
        hook = f"{rx.url}?token={HOOK_TOKEN}"
        dead = f"http://127.0.0.1:{free_port()}/{HOOK_TOKEN}/hook"  # connection refused: error paths log
        store = open_store("sqlite", path=tmp_path / "state.db")
        settings = {
            "VIGIL_TENANT_DIR": str(tenant),
            "VIGIL_SIGNING_KEY": SIGNING_KEY,
            "VIGIL_ACTION_KEY": ACTION_KEY,
            "VIGIL_PUBLIC_BASE_URL": "https://vigil-func.azurewebsites.net",
        }
        rt = LocalRuntime(_config(teams, hook, dead), store, tmp_path / "blobs", settings=settings)
        try:
            events = [e for p in sorted((tenant / "events").glob("*.json")) for e in json.loads(p.read_text("utf-8"))]
            handlers.handle_resource_events(events, rt)
            handlers.run_sweep(rt, datetime.now(UTC))
            handlers.run_metrics(rt, datetime.now(UTC))
            rt.run_pending(ignore_visibility=True)
            handlers.health(rt)
        finally:
            store.close()
        assert rx.delivered(), "notifications really reached the local endpoint"
        sent = b"".join(r.body for r in rx.delivered())
        assert b"sig=" in sent, "cards carried signed action links (so the keys were in use)"
    assert any("notification failed" in line for line in captured.lines), "the failure paths were logged"
    _assert_clean(captured.lines)


def _stored_rows(store: Any) -> list[str]:
    from core.state.base import Namespace

    rows = [repr(r.value) for ns in Namespace for r in store.query(ns)]
    rows += [repr(r.value) for r in store.ledger(Namespace.AUDIT)]
    return rows


def test_upstream_errors_echoing_receiver_urls_leave_no_token_in_logs_or_rows(
    captured: _Capture, tenant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 10: the receiver answers 400/500 with a body quoting the URL and its tokens (as real
    upstreams and proxies do). Neither the WARNING logs nor the outbox rows keep them."""
    import json

    from core.state import open_store
    from vigil import handlers
    from vigil.runtime_local import LocalRuntime

    monkeypatch.setenv("VIGIL_SIGNING_KEY", SIGNING_KEY)
    urls: dict[str, str] = {}

    def echo(which: str, token: str) -> Any:
        def answer(n: int, req: Request) -> Answer:
            # As real upstreams do: the error quotes the URL called, and the token on its own.
            return Answer(500 if n % 2 else 400, f"no such hook: {urls[which]} (token {token} revoked)")

        return answer

    with Receiver(echo("teams", TEAMS_SIG)) as rx_teams, Receiver(echo("hook", PATH_TOKEN)) as rx_hook:
        urls["teams"] = f"{rx_teams.url}/workflows/{PATH_TOKEN}/invoke?sig={TEAMS_SIG}"
        urls["hook"] = f"{rx_hook.url}/services/T0/{PATH_TOKEN}?token={HOOK_TOKEN}"
        store = open_store("sqlite", path=tmp_path / "state.db")
        settings = {"VIGIL_TENANT_DIR": str(tenant), "VIGIL_SIGNING_KEY": SIGNING_KEY}
        rt = LocalRuntime(_config(urls["teams"], urls["hook"]), store, tmp_path / "blobs", settings=settings)
        try:
            events = [e for p in sorted((tenant / "events").glob("*.json")) for e in json.loads(p.read_text("utf-8"))]
            handlers.handle_resource_events(events, rt)
            rt.run_pending(ignore_visibility=True)
            rows = _stored_rows(store)
        finally:
            store.close()
        assert rx_teams.requests, "the receivers were called and answered with the echo"
        assert rx_hook.requests
    failures = [line for line in captured.lines if "notification failed" in line]
    assert failures, "the failure path was logged"
    assert any("no such hook" in line for line in failures), "the upstream body is kept (redacted), not dropped"
    _assert_clean(captured.lines)
    leaks = [row[:200] for row in rows for s in SECRETS if s in row]
    assert not leaks, f"secret values in stored rows: {leaks[:3]}"
    assert not any(PATH_TOKEN in line for line in captured.lines)


def test_health_reports_no_config_text(tmp_path: Path) -> None:
    """Row 10: a broken vigil.yaml holding a webhook token; the health check names where, not what."""
    from alerts.testing import MemoryStore
    from vigil import handlers
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    head = f"receivers:\n  - name: t\n    msteams_configs:\n      - webhook_url: https://x/{PATH_TOKEN}\n"
    broken_line = f"      - webhook_url: https://x/{PATH_TOKEN}: oops\n"  # YAML quotes this line in its error
    for text in (head + "  oops: [\n", head + "        nope: 1\n", head.rsplit("      - ", 1)[0] + broken_line):
        path = tmp_path / "vigil.yaml"
        path.write_text(text, encoding="utf-8")
        env = {"VIGIL_CONFIG": str(path)}
        rt = AzureRuntime(Settings.from_env(env), env=env, store=MemoryStore())
        out = handlers.health(rt)
        assert out["ok"] is False
        assert out["checks"]["config"].startswith("error: ")
        assert PATH_TOKEN not in repr(out)
        assert "webhook_url: https" not in repr(out)


def test_outbox_files_holding_links_are_private(tenant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also found: outbox card files carry live signed (approve/silence) links; they are 0600."""
    import os
    import stat

    from core.state import open_store
    from vigil.pipeline import run_tenant

    monkeypatch.setenv("VIGIL_SIGNING_KEY", SIGNING_KEY)
    old = os.umask(0o022)
    try:
        store = open_store("sqlite", path=tmp_path / "state.db")
        try:
            run_tenant(
                tenant,
                config=_config("https://t.example/hook", "https://h.example/hook"),
                store=store,
                out_dir=tmp_path / "out",
                now=datetime.now(UTC),
                progress=False,
            )
        finally:
            store.close()
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".json", ".eml")]
    cards = [p for p in files if "sig=" in p.read_text(encoding="utf-8", errors="replace")]
    assert cards, "the demo wrote cards with signed links"
    for p in cards:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, f"{p}: {oct(p.stat().st_mode)}"
