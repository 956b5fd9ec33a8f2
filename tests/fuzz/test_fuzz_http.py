"""Fuzzing HTTP inputs: the ``health`` function with real ``azure.functions.HttpRequest``
objects, and the adapters behind signed card actions and the silences API
(``alerts.actions.action_response`` / ``silences_response``, which return (status, body)).

No exception escapes; every answer is a known status with a JSON body, and every refusal
carries an ``error`` message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.actions import action_response, silences_response
from alerts.signing import sign_link
from alerts.testing import MemoryStore

NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
KEY = b"fuzz-key"
TEXT = st.text(max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(TEXT, c, max_size=3),
    max_leaves=8,
)
HEADER_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=16)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil import runtime_azure
    from vigil.config import VigilConfig
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    rt = AzureRuntime(Settings.from_env({}), env={}, config=VigilConfig(), store=MemoryStore())
    monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "HEAD", "PUT"]),
    path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/%._-", max_size=30),
    params=st.dictionaries(TEXT, TEXT, max_size=4),
    headers=st.dictionaries(
        HEADER_NAME, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30), max_size=4
    ),
    body=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()),
)
def test_health_function_answers_any_request(
    runtime: None, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    from vigil.functions import health

    req = func.HttpRequest(
        method=method, url=f"http://localhost:7071/api/health/{path}", headers=headers, params=params, body=body
    )
    resp = health(req)
    assert resp.status_code in (200, 503)
    assert resp.mimetype == "application/json"
    doc = json.loads(resp.get_body())
    assert isinstance(doc.get("ok"), bool)


def _valid_query(fp: str = "fp1", action: str = "ack", nonce: str = "n1") -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    url = sign_link("https://v", action, {"fp": fp}, key=KEY, issued_at=NOW, ttl=timedelta(hours=1), nonce=nonce)
    return dict(parse_qsl(urlsplit(url).query))


@st.composite
def queries(draw: st.DrawFn) -> dict[str, str]:
    q = _valid_query(action=draw(st.sampled_from(["ack", "silence", "approve"])))
    for k in draw(st.sets(st.sampled_from([*q, "x"]), max_size=3)):
        if draw(st.booleans()):
            q.pop(k, None)
        else:
            q[k] = draw(TEXT)
    return q


@settings(max_examples=150, deadline=None)
@given(queries() | st.dictionaries(TEXT, TEXT, max_size=5))
def test_card_action_adapter_never_raises(query: dict[str, str]) -> None:
    status, body = action_response(query, key=KEY, store=MemoryStore(), now=NOW, csrf=query.get("csrf"))
    assert status in (200, 403, 410), (status, body)
    if status != 200:
        assert isinstance(body["error"], str)
        assert body["error"]


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "get", "post"]),
    body=st.dictionaries(st.sampled_from(["matchers", "duration", "endsAt", "startsAt", "comment", "createdBy"]), JSON)
    | st.fixed_dictionaries(
        {
            "matchers": st.lists(TEXT | st.just('alertname="vm-idle"'), max_size=3),
            "createdBy": st.just("fuzz") | TEXT,
            "comment": st.just("fuzzing") | TEXT,
        },
        optional={
            "duration": TEXT | st.sampled_from(["24h", "1d", "-1h", "0s", "3000000d", "99999999999h"]),
            "endsAt": TEXT | st.sampled_from(["2027-01-01", "2027-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00"]),
            "startsAt": TEXT
            | st.sampled_from(["2026-01-01T00:00:00", "0001-01-01T00:00:00-05:00", "2026-11-27T06:00Z"]),
        },
    ),
    silence_id=st.none() | TEXT,
    state=st.none() | st.sampled_from(["active", "expired", "pending", "bogus"]),
)
def test_silences_api_adapter_never_raises(
    method: str, body: dict[str, Any], silence_id: str | None, state: str | None
) -> None:
    status, doc = silences_response(method, store=MemoryStore(), now=NOW, silence_id=silence_id, body=body, state=state)
    assert status in (200, 201, 400, 404, 405), (status, doc)
    if status >= 400:
        assert isinstance(doc["error"], str)
        assert doc["error"]
    json.dumps(doc, default=str)


@pytest.fixture
def signed_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil import runtime_azure
    from vigil.config import VigilConfig
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    env = {"VIGIL_SIGNING_KEY": KEY.decode()}
    rt = AzureRuntime(Settings.from_env(env), env=env, config=VigilConfig(), store=MemoryStore())
    monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=queries() | st.dictionaries(TEXT, TEXT, max_size=4), headers=st.dictionaries(HEADER_NAME, TEXT, max_size=3)
)
def test_card_action_function_answers_any_request(
    signed_runtime: None, query: dict[str, str], headers: dict[str, str]
) -> None:
    from vigil.functions_alerts import card_action

    req = func.HttpRequest(
        method="GET", url="http://localhost:7071/api/alerts/action", params=query, headers=headers, body=b""
    )
    resp = card_action(req)
    assert resp.status_code in (200, 403, 410, 503), resp.get_body()
    assert resp.mimetype == "text/html"  # a GET only ever shows a confirmation (or why the link is not valid)
    assert resp.get_body().decode().startswith("<!doctype html>")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    silence_id=st.none() | TEXT,
    body=st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"matchers": st.lists(st.just('alertname="vm-idle"') | TEXT, max_size=2), "createdBy": TEXT, "comment": TEXT},
        optional={"duration": TEXT | st.sampled_from(["1h", "3000000d"]), "endsAt": TEXT | st.just("2027-01-01")},
    ).map(lambda d: json.dumps(d).encode()),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_silences_function_answers_any_request(
    runtime: None, method: str, silence_id: str | None, body: bytes, content_type: str
) -> None:
    from vigil.functions_alerts import silences

    headers = {"Content-Type": content_type} if content_type else {}
    req = func.HttpRequest(
        method=method,
        url="http://localhost:7071/api/alerts/silences",
        route_params={"silence_id": silence_id} if silence_id else {},
        headers=headers,
        params={},
        body=body,
    )
    resp = silences(req)
    assert resp.status_code in (200, 201) or 400 <= resp.status_code < 500, (resp.status_code, resp.get_body())
    doc = json.loads(resp.get_body())
    if resp.status_code >= 400:
        assert isinstance(doc["error"], str)
        assert doc["error"]
