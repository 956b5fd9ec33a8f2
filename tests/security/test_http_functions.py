"""HTTP functions: function-level auth (or stronger) and request body size limits.

The app is indexed in a subprocess: ``FunctionApp.get_functions()`` may be called only once
per process (tests/test_function_app.py calls it in this one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

REPO = Path(__file__).resolve().parents[2]
BODY_METHODS = {"POST", "PUT", "PATCH"}
OVERSIZED = 5 * 1024 * 1024

_INDEX = """
import json, function_app
out = []
for f in function_app.app.get_functions():
    t = f.get_trigger().get_dict_repr()
    out.append({"name": f.get_function_name(), "type": t["type"], "authLevel": str(t.get("authLevel")),
                "methods": [str(m) for m in (t.get("methods") or [])], "route": t.get("route")})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def functions() -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", _INDEX], cwd=REPO, capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def _http(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in functions if f["type"] == "httpTrigger"]


def test_every_http_function_needs_a_function_key_or_stronger(functions: list[dict[str, Any]]) -> None:
    http = _http(functions)
    assert http, "the app has HTTP functions (health at least)"
    for f in http:
        level = f["authLevel"].rsplit(".", 1)[-1].upper()
        if f["name"] == "console":
            # Browsers cannot carry a function key: App Service Authentication fronts the console, which
            # refuses to serve without it (tests/console/test_function_trigger.py, docs/console.md).
            assert level == "ANONYMOUS"
            continue
        assert level in {"FUNCTION", "ADMIN"}, f"{f['name']}: authLevel {f['authLevel']} (anonymous is not allowed)"


def _user_function(name: str) -> Any:
    import asyncio
    import inspect

    import vigil.functions
    import vigil.functions_alerts
    import vigil.functions_console
    import vigil.functions_ingest

    for mod in (vigil.functions, vigil.functions_ingest, vigil.functions_alerts, vigil.functions_console):
        fn = getattr(mod, name, None)
        if fn is not None:
            builder = getattr(fn, "_function", None)  # a FunctionBuilder: the decorated function behind it
            user = builder.get_user_function() if builder is not None else fn
            if inspect.iscoroutinefunction(user):  # the console's ASGI trigger (req, context)
                return lambda req, _fn=user: asyncio.run(_fn(req, None))
            return fn
    raise LookupError(name)


def test_http_functions_that_take_a_body_reject_oversized_ones_with_413(functions: list[dict[str, Any]]) -> None:
    takers = [f for f in _http(functions) if BODY_METHODS & {m.rsplit(".", 1)[-1].upper() for m in f["methods"]}]
    for f in takers:
        method = sorted(BODY_METHODS & {m.rsplit(".", 1)[-1].upper() for m in f["methods"]})[0]
        req = func.HttpRequest(
            method=method, url=f"http://localhost:7071/api/{f['route']}", body=b"{" + b" " * OVERSIZED + b"}", params={}
        )
        resp = _user_function(f["name"])(req)
        assert resp.status_code == 413, f"{f['name']}: a {OVERSIZED} byte body got HTTP {resp.status_code}"


def test_get_only_functions_ignore_a_body(functions: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A GET function never reads or echoes a (large) body."""
    from alerts.testing import MemoryStore
    from vigil import runtime_azure
    from vigil.config import VigilConfig
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    rt = AzureRuntime(Settings.from_env({}), env={}, config=VigilConfig(), store=MemoryStore())
    monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)
    body = b"A" * OVERSIZED
    for f in _http(functions):
        methods = {m.rsplit(".", 1)[-1].upper() for m in f["methods"]}
        if methods & BODY_METHODS:
            continue
        req = func.HttpRequest(method="GET", url=f"http://localhost:7071/api/{f['route']}", body=body, params={})
        resp = _user_function(f["name"])(req)
        assert resp.status_code in (200, 503)
        assert len(resp.get_body()) < 64 * 1024
