"""The console through the Function App: indexed by ``function_app.app.get_functions()`` and
called with real ``azure.functions`` request objects, over a real runtime on Azurite
(Table state store, Storage Queue for approvals)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import pytest

from alerts.silences import list_silences
from core.state.base import Namespace
from tests.console.conftest import REPO
from tests.support.azurite import host_settings
from vigil import functions_console
from vigil.console.auth import READER, TRIAGER
from vigil.runtime_azure import get_runtime, reset_runtime

# get_functions() may run once per process (tests/test_function_app.py runs it in this one): index in a subprocess.
_INDEX = """
import json, function_app
out = {}
for f in function_app.app.get_functions():
    t = f.get_trigger().get_dict_repr()
    out[f.get_function_name()] = {"type": t["type"], "route": t.get("route"), "authLevel": str(t.get("authLevel")),
                                  "methods": [str(getattr(m, "value", m)) for m in (t.get("methods") or [])],
                                  "bindings": f.get_bindings_dict()["bindings"]}
print(json.dumps(out, default=str))
"""


@pytest.fixture
def host_env(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = host_settings(azurite.connection_string)
    env["WEBSITE_AUTH_ENABLED"] = "True"  # App Service Authentication in front (set by the platform)
    env["VIGIL_CONSOLE_SECRET"] = "function-trigger-test-secret"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    reset_runtime()
    functions_console.reset_console()
    yield env
    functions_console.reset_console()
    reset_runtime()


def _principal(name: str, *roles: str) -> str:
    claims = [{"typ": "name", "val": name}, *({"typ": "roles", "val": r} for r in roles)]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


def _call(method: str, path: str, *, principal: str | None, body: bytes = b"", query: str = "") -> func.HttpResponse:
    headers = {"host": "vigil.azurewebsites.net"}
    if principal:
        headers["x-ms-client-principal"] = principal
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    req = func.HttpRequest(
        method=method,
        url=f"https://vigil.azurewebsites.net/api/console/{path}" + (f"?{query}" if query else ""),
        headers=headers,
        params={},
        route_params={"path": path},
        body=body,
    )
    # The function the app indexed (functions_console.console is its FunctionBuilder: calling it calls the body).
    resp: func.HttpResponse = asyncio.run(functions_console.console(req, None))
    return resp


def test_console_is_indexed_as_an_anonymous_http_trigger_under_api_console() -> None:
    out = subprocess.run([sys.executable, "-c", _INDEX], cwd=REPO, capture_output=True, text=True, check=True)
    trigger = json.loads(out.stdout)["console"]
    assert trigger["type"] == "httpTrigger"
    assert trigger["route"] == "console/{*path}"
    assert trigger["authLevel"].rsplit(".", 1)[-1].upper() == "ANONYMOUS"
    assert sorted(m.rsplit(".", 1)[-1].upper() for m in trigger["methods"]) == ["GET", "POST"]
    assert sorted(b["type"] for b in trigger["bindings"]) == ["http", "httpTrigger"]


@pytest.mark.azurite
def test_pages_and_a_silence_through_the_http_trigger(host_env: dict[str, str]) -> None:
    store = get_runtime().store
    now = datetime.now(UTC)
    store.put(
        Namespace.ALERTS,
        "f00dfeedf00dfeed",
        {
            "labels": {
                "alertname": "storage_https_only",
                "detector": "drift",
                "severity": "high",
                "resource_id": "/subscriptions/s1/x",
            },
            "annotations": {"summary": "Storage account allows HTTP"},
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": None,
        },
    )
    assert _call("GET", "alerts", principal=None).status_code == 401
    page = _call("GET", "alerts", principal=_principal("Ana", READER))
    assert page.status_code == 200
    assert "Storage account allows HTTP" in page.get_body().decode()
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert 'href="/api/console/alerts/f00dfeedf00dfeed"' in page.get_body().decode()

    triager = _principal("Tom Triage", TRIAGER)
    new = _call(
        "GET", "silences/new", principal=triager, query=urlencode({"matchers": 'alertname="storage_https_only"'})
    )
    html = new.get_body().decode()
    assert 'data-testid="preview-total">1<' in html
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert csrf
    form = {"csrf": csrf.group(1), "matchers": 'alertname="storage_https_only"', "duration": "1h", "comment": "window"}
    # A Reader's POST is refused whatever it carries.
    assert (
        _call("POST", "silences", principal=_principal("Ana", READER), body=urlencode(form).encode()).status_code == 403
    )
    resp = _call("POST", "silences", principal=triager, body=urlencode(form).encode())
    assert resp.status_code == 303
    assert resp.headers["location"] == "/api/console/silences"
    (silence,) = list_silences(store, now=datetime.now(UTC))
    assert silence.created_by == "Tom Triage"


@pytest.mark.azurite
def test_without_app_service_authentication_the_trigger_serves_nothing(
    host_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")
    functions_console.reset_console()
    assert _call("GET", "alerts", principal=_principal("Ana", READER)).status_code == 503


def test_indexing_imports_no_console_dependencies() -> None:
    code = (
        "import sys, function_app; "
        "print(','.join(m for m in ('starlette', 'jinja2', 'uvicorn', 'vigil.console') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.azurite
def test_the_drift_timeline_reads_arm_and_the_activity_log_in_azure(
    host_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tenant folder: the console the Function App serves reads the resource's current ARM JSON
    with the drift path's ARM reader and its Activity Log with the REST API, both through the real
    SDK clients with the runtime's credential, against the local HTTPS Azure server."""
    from tests.support.activity import SUB, add_activity_log, event
    from tests.support.azure_server import AzureTestServer
    from tests.vigil.test_drift_path import eg_event
    from vigil import handlers, runtime_azure
    from vigil.runtime_azure import AzureRuntime

    rg = f"/subscriptions/{SUB}/resourceGroups/rg-data"
    rid = f"{rg}/providers/Microsoft.Storage/storageAccounts/stdata01"
    resource = {
        "id": rid,
        "name": "stdata01",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "kind": "StorageV2",
        "properties": {"supportsHttpsTrafficOnly": False, "minimumTlsVersion": "TLS1_2"},
    }
    now = datetime.now(UTC)
    with AzureTestServer() as server:
        server.add_resource(resource)
        server.add_list("GET", re.escape(rid) + r"/providers/Microsoft\.Insights/diagnosticSettings", [])
        filters = add_activity_log(
            server,
            [
                event(
                    "Microsoft.Storage/storageAccounts/write", rid, now - timedelta(hours=2), caller="erin@contoso.com"
                ),
                event("Microsoft.Storage/storageAccounts/write", f"{rg}/providers/x/y/other", now - timedelta(hours=1)),
            ],
        )
        rt = AzureRuntime.from_env(credential=server.credential(), azure_client_kwargs=server.client_kwargs())
        monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)
        # The real drift path records the verdict, its history and the alert in the Azure Table store.
        out = handlers.handle_resource_events(
            [eg_event(rid, eid="evt-https-off", when=now - timedelta(hours=2), upn="erin@contoso.com")], rt
        )
        assert out["drift"]["firing"] >= 1
        page = _call("GET", "resource", principal=_principal("Ana", READER), query=urlencode({"id": rid.lower()}))
        activity_calls = server.requests_to(r"/eventtypes/management/values", "GET")
        arm_gets = server.requests_to(re.escape(rid) + "$", "GET")
    html = page.get_body().decode()
    assert page.status_code == 200, html
    # The current ARM JSON, read through ARM, with the failing property highlighted.
    marked = re.findall(r"<mark>▶ ([^<]*)</mark>", html)
    assert any("supportsHttpsTrafficOnly" in m for m in marked), marked
    # Who changed what, from the Activity Log (the other resource's entry is not asked for).
    assert "<strong>change</strong>" in html
    assert "by erin@contoso.com" in html
    assert "x/y/other" not in html
    assert filters[-1].endswith(f"and resourceUri eq '{rid.lower()}'")
    # The verdict history, from the event's claims.
    assert 'data-testid="verdict-history"' in html
    assert "evt-https-off" in html
    # Real SDK calls with the runtime's bearer token: the drift path's GET and the console's.
    assert len(arm_gets) == 2
    assert all(r.headers["Authorization"] == "Bearer vigil-test-token" for r in [*arm_gets, *activity_calls])
    assert len(activity_calls) == 1


@pytest.mark.azurite
def test_the_cost_drill_down_says_when_azure_has_no_cost_store(host_env: dict[str, str]) -> None:
    """The Function App's console reads the costs container (``COSTS_CONTAINER``) on Azurite; before
    any export was ingested it holds nothing, and the page says so instead of drawing an empty chart."""
    store = get_runtime().store
    scope = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
    store.put(
        Namespace.ALERTS,
        "c0575c0575c0575c",
        {
            "labels": {
                "alertname": "overspend_cost_anomaly",
                "detector": "overspend",
                "severity": "medium",
                "scope_kind": "resource",
                "scope": scope,
                "resource_id": scope,
            },
            "annotations": {"summary": "Cost anomaly", "description": "vm1 cost 90.00 USD on 2026-11-24"},
            "evidence": {"day": "2026-11-24", "actual": 90.0, "expected": 20.0, "currency": "USD"},
            "starts_at": datetime(2026, 11, 25, tzinfo=UTC).isoformat(),
            "ends_at": None,
        },
    )
    page = _call("GET", "cost", principal=_principal("Ana", READER), query=urlencode({"scope": scope}))
    html = page.get_body().decode()
    assert page.status_code == 200, html
    assert 'data-testid="cost-problem"' in html
    assert "The cost store holds no costs in the 101 days before 2026-11-25" in html  # history_days 70 + 31
    assert "<svg" not in html
    assert "vm1 cost 90.00 USD" in html  # the anomaly alert itself is still listed
