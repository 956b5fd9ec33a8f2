"""Row 4: a silence with a catastrophic regex, accepted by the HTTP API, stalled the alert pipeline.

The review posted ``resource_id=~"(/?[a-z0-9/.-]*)*X"`` to the silences API (201) and routing then
took minutes: Python's ``re`` backtracks exponentially on a label of [a-z0-9/.-] characters that does
not end in X. The attack is repeated through the real ``silences`` Function (``azure.functions`` request,
function-key route) and the real pipeline: the silence is stored, its regex is compiled by RE2 (linear
time, no backtracking), and routing a batch whose alerts carry a 26-character label completes, with
the silence applied where the label does end in X. No timing assertion here: a backtracking engine
would not finish inside the suite's timeout.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from alerts.pipeline import process
from alerts.regex import AnchoredRegex
from alerts.silences import active_silences, silenced_by
from alerts.testing import MemoryStore, finding
from core.state.base import Namespace
from vigil.config import parse_config

CATASTROPHIC = "(/?[a-z0-9/.-]*)*X"
MATCHER = f'resource_id=~"{CATASTROPHIC}"'
LABEL = "/" + "a" * 25  # 26 characters of [a-z0-9/.-], no X: the worst case for a backtracking engine


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    from vigil import runtime_azure
    from vigil.config import VigilConfig
    from vigil.runtime_azure import AzureRuntime
    from vigil.settings import Settings

    s = MemoryStore()
    monkeypatch.setattr(
        runtime_azure, "_RUNTIME", AzureRuntime(Settings.from_env({}), env={}, config=VigilConfig(), store=s)
    )
    return s


def _post_silence(body: dict[str, Any]) -> func.HttpResponse:
    from vigil.functions_alerts import silences

    req = func.HttpRequest(
        method="POST",
        url="http://localhost:7071/api/alerts/silences",
        body=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-ms-client-principal-name": "mallory@example.com"},
        params={},
        route_params={},
    )
    resp: func.HttpResponse = silences(req)
    return resp


def test_the_catastrophic_regex_is_compiled_by_re2_not_pythons_re(store: MemoryStore) -> None:
    resp = _post_silence({"matchers": [MATCHER], "duration": "2h", "comment": "review row 4"})
    assert resp.status_code == 201, resp.get_body()
    stored = list(store.query(Namespace.SILENCES))
    assert len(stored) == 1
    ((_silence, matchers),) = active_silences(store, datetime.now(UTC))
    (matcher,) = matchers
    assert matcher.name == "resource_id"
    compiled = matcher._re
    assert isinstance(compiled, AnchoredRegex)
    assert compiled.pattern == CATASTROPHIC
    engine = type(compiled._re)
    assert engine.__module__.split(".")[0] == "re2", f"compiled by {engine.__module__}.{engine.__name__}"
    assert not isinstance(compiled._re, re.Pattern)


def test_routing_a_batch_with_a_26_character_label_completes(store: MemoryStore) -> None:
    assert _post_silence({"matchers": [MATCHER], "duration": "2h", "comment": "review row 4"}).status_code == 201
    now = datetime.now(UTC)  # the API starts the silence at the wall clock
    cfg = parse_config({"route": {"receiver": "r"}, "receivers": [{"name": "r"}]})
    batch = [finding(rule=f"rule-{i}", labels={"resource_id": LABEL}, observed_at=now) for i in range(50)]
    batch.append(finding(rule="ends-in-x", labels={"resource_id": LABEL + "X"}, observed_at=now))
    from tests.alerts.helpers import AlertsQueue

    queue = AlertsQueue(cfg, store, at=now)  # the production outbox (QueueOutbox over a LocalRuntime)
    result = process(batch, config=cfg, store=store, outbox=queue.outbox, now=now)
    assert result.findings == 51
    assert result.firing == 51
    assert result.silenced == 1  # only the label that ends in X matches the silence
    assert result.groups >= 1
    silences = active_silences(store, now)
    assert silenced_by(silences, {"resource_id": LABEL}) == []
    assert len(silenced_by(silences, {"resource_id": LABEL + "X"})) == 1
