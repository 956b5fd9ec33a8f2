"""Console fixtures: the demo's real state store (``vigil demo`` run once per session, copied
per test), and a console app over it with a chosen set of roles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.compiled import compiled
from alerts.remediation.config import RemediationConfig
from alerts.remediation.findings import rule_actions_from_registry
from core.state import open_store
from core.state.base import StateStore
from vigil.cli.run_cmds import DEMO_CONFIG
from vigil.config import load_config
from vigil.console.app import ConsoleConfig, create_app
from vigil.console.auth import ALL_ROLES, SESSION_COOKIE, LocalTokenAuth
from vigil.console.costs import store_series_reader
from vigil.runtime_local import LocalBlobStore

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789abcdef"
SECRET = b"console-test-secret-0123456789ab"
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # an hour after the demo tenant's "now"


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [sys.executable, "-m", "vigil", "demo", "--out", str(out)], cwd=REPO, check=True, capture_output=True
    )
    return out


@pytest.fixture
def state_path(demo_out: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's state store (the tests write to it), beside the demo's blobs
    (``data/``: the cost store), as `vigil run` lays them out."""
    for f in demo_out.glob("state.db*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "data").symlink_to(demo_out / "data", target_is_directory=True)
    return tmp_path / "state.db"


@pytest.fixture
def store(state_path: Path) -> Iterator[StateStore]:
    s = open_store("sqlite", path=state_path)
    yield s
    s.close()


def approve_mode() -> RemediationConfig:
    return RemediationConfig(mode="approve", allowed_subscriptions=["d23f0824-128b-4f33-8c5c-7fd0a6a3a450"])


MakeClient = Callable[..., Any]


@pytest.fixture
def make_client(store: StateStore, demo_out: Path) -> MakeClient:
    from starlette.testclient import TestClient

    def make(
        roles: tuple[str, ...] = ALL_ROLES,
        *,
        remediation: RemediationConfig | None = None,
        queued: list[dict[str, str]] | None = None,
        login: bool = True,
        tenant: Path | None = None,
    ) -> TestClient:
        cfg = ConsoleConfig(
            store=store,
            auth=LocalTokenAuth(TOKEN, roles=roles, name=f"tester ({'+'.join(r.split('.')[1] for r in roles)})"),
            secret=SECRET,
            clock=lambda: NOW,
            remediation=remediation or RemediationConfig(),
            rule_actions=rule_actions_from_registry(),
            enqueue_remediation=(queued.append if queued is not None else None),
            index_ttl=0.0,
            route=compiled(load_config(DEMO_CONFIG)).root,
            cost_series=store_series_reader(
                lambda: LocalBlobStore(demo_out / "data" / "costs"), load_config(DEMO_CONFIG).detectors.overspend
            ),
        )
        if tenant is not None:
            from vigil.console.hosts import tenant_sources

            cfg.resource_reader, cfg.activity = tenant_sources(tenant)
        client = TestClient(create_app(cfg), base_url="http://127.0.0.1:8765")
        if login:
            client.cookies.set(SESSION_COOKIE, TOKEN)
        return client

    return make


def fingerprint_of(store: StateStore, alertname: str) -> str:
    from core.state.base import Namespace

    for rec in store.query(Namespace.ALERTS):
        if rec.value["labels"].get("alertname") == alertname:
            return rec.key
    raise AssertionError(f"the demo has no {alertname} alert")


def csrf_of(html: str) -> str:
    import re

    m = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


ML_WORKSPACE = (
    "/subscriptions/d23f0824-128b-4f33-8c5c-7fd0a6a3a450/resourcegroups/rg-ml-research"
    "/providers/microsoft.machinelearningservices/workspaces/mlw-research"
)


def more_verdicts(store: StateStore, tenant: Path) -> str:
    """After the demo (whose event made the ML workspace non-compliant at 20:43), the real drift
    path records two more changes: fixed by an event from Bob at 22:00, broken again as a sweep at
    23:30 saw it (no caller: the console attributes it from the Activity Log). Returns the id."""
    import copy

    from detectors.drift.loader import RuleSet, builtin_rules
    from tests.vigil.test_drift_path import eg_event
    from vigil.drift_path import handle_events, handle_resources
    from vigil.tenant import TenantFolder

    current = TenantFolder(tenant).get(ML_WORKSPACE)
    assert current is not None, "the demo tenant has no mlw-research workspace"
    fixed = copy.deepcopy(dict(current))
    fixed["properties"]["publicNetworkAccess"] = "Disabled"
    rules = RuleSet(builtin_rules())
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)

    class Reader:
        def get(self, resource_id: str) -> dict[str, Any] | None:
            return copy.deepcopy(fixed)

    event = eg_event(current["id"], eid="evt-fix-by-bob", when=at, upn="bob@contoso.com")
    handle_events([event], store=store, reader=Reader(), rules=rules, now=at)
    handle_resources([dict(current)], store=store, rules=rules, now=datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    return str(current["id"])
