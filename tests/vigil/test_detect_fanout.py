"""Overspend detection fanned out by subscription (vigil.handlers.cost_scopes) raises exactly the
findings one whole-tenant detection raises: batches of one subscription, batches of all, redelivered
and reordered messages, and the one-alert-per-cost-event collapse across batches."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.model import Finding
from core.state import StateStore, open_store
from detectors.overspend import detect
from detectors.overspend.anomalies import RULE_ID
from detectors.overspend.collapse import collapse_nested
from ingest.cost import cost_accounts, ingest_paths, load_costs
from vigil import handlers
from vigil.config import parse_config
from vigil.handlers import _common, cost_scopes
from vigil.handlers._common import cost_history
from vigil.handlers.cost import with_subscription_names
from vigil.runtime_local import LocalRuntime
from vigil.simulate import DEFAULT_NOW, simulate

SCOPE_QUEUE = "vigil-detect-scope"
DAYS = [(DEFAULT_NOW - timedelta(days=d)).date() for d in (2, 1)]


@pytest.fixture(scope="module")
def costs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fanout")
    sim = simulate(root / "tenant")
    out = root / "costs"
    summary = ingest_paths([sim.root / "exports", sim.root / "focus"], out)
    assert summary.errors == []
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = open_store("sqlite", path=tmp_path / "state.db")
    yield s
    s.close()


def _runtime(tmp_path: Path, store: StateStore, costs_dir: Path) -> LocalRuntime:
    import shutil

    rt = LocalRuntime(parse_config({}), store, tmp_path / "blobs")
    shutil.copytree(costs_dir, rt.blobs("costs").root)
    return rt


def _raised(monkeypatch: pytest.MonkeyPatch) -> list[list[Finding]]:
    """Every list of findings the handlers hand to raise_alerts (the alerts then go on as usual)."""
    calls: list[list[Finding]] = []
    original = _common.raise_alerts

    def recording(findings: list[Finding], rt: Any, now: Any) -> dict[str, Any]:
        calls.append(list(findings))
        return original(findings, rt, now)

    monkeypatch.setattr(_common, "raise_alerts", recording)
    return calls


def _whole_tenant(costs_dir: Path) -> list[dict[str, Any]]:
    """What detection over the whole tenant in one process raises (the pre-fan-out handler)."""
    config = parse_config({}).detectors.overspend
    costs = load_costs(costs_dir, start=DEFAULT_NOW - cost_history(config), end=DEFAULT_NOW, aggregate=True)
    found = detect(costs, config=config, now=DEFAULT_NOW, days=DAYS)
    return [f.to_dict() for f in with_subscription_names(collapse_nested(found, rule=RULE_ID), costs)]


def _message() -> dict[str, Any]:
    return {"type": "cost-run", "run_id": "r1", "days": [d.isoformat() for d in DAYS], "now": DEFAULT_NOW.isoformat()}


@pytest.mark.parametrize("per_message", [1, 2, 50])
def test_fanned_out_detection_raises_what_whole_tenant_detection_raises(
    tmp_path: Path, store: StateStore, costs_dir: Path, monkeypatch: pytest.MonkeyPatch, per_message: int
) -> None:
    monkeypatch.setattr(cost_scopes, "SUBSCRIPTIONS_PER_MESSAGE", per_message)
    raised = _raised(monkeypatch)
    rt = _runtime(tmp_path, store, costs_dir)
    history = cost_history(rt.config.detectors.overspend)
    accounts = cost_accounts(rt.blobs("costs"), start=DEFAULT_NOW - history, end=DEFAULT_NOW)
    assert len(accounts) >= 3  # Azure subscriptions and the AWS account
    out = handlers.handle_detect(_message(), rt)
    assert out == {"fanned_out": -(-len(accounts) // per_message), "subscriptions": len(accounts)}
    batches = rt.pending(SCOPE_QUEUE)
    assert sum(len(m["subscriptions"]) for m in batches) == len(accounts)
    drained = rt.drain(SCOPE_QUEUE, lambda m: handlers.handle_detect_scopes(m, rt))
    assert drained.failed == 0
    [tenant] = [r for r in drained.results if "findings" in r]
    assert len(raised) == 1
    want = _whole_tenant(costs_dir)
    assert [f.to_dict() for f in raised[0]] == want
    # the planted spike: one cost alert, its nested scopes (some found in a batch) as the drill-down
    firing = [f for f in want if f["rule"] == RULE_ID and f["status"] == "firing"]
    assert len(firing) == 1
    assert len(firing[0]["evidence"]["drill_down"]) >= 3
    assert tenant["findings"] == len(want)


def test_redelivered_and_reordered_messages_raise_once(
    tmp_path: Path, store: StateStore, costs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cost_scopes, "SUBSCRIPTIONS_PER_MESSAGE", 1)
    raised = _raised(monkeypatch)
    rt = _runtime(tmp_path, store, costs_dir)
    handlers.handle_detect(_message(), rt)
    handlers.handle_detect(_message(), rt)  # the run message delivered twice: the batches twice
    batches = rt.pending(SCOPE_QUEUE)
    rt.drain(SCOPE_QUEUE, lambda m: {})  # taken off the queue; delivered below by hand
    deliveries = [*batches, batches[0]]
    random.Random(7).shuffle(deliveries)
    results = [handlers.handle_detect_scopes(m, rt) for m in deliveries]
    assert sum(1 for r in results if r.get("duplicate")) == len(deliveries) - len(batches) // 2
    tenant_steps = rt.pending(SCOPE_QUEUE)
    assert tenant_steps
    assert {m["type"] for m in tenant_steps} == {"tenant"}
    outcomes = [handlers.handle_detect_scopes(m, rt) for m in tenant_steps]
    assert len(raised) == 1  # the first tenant step raises; every other is skipped
    assert sum(1 for o in outcomes if "findings" in o) == 1
    assert [f.to_dict() for f in raised[0]] == _whole_tenant(costs_dir)
    # a late batch redelivery after the merge: skipped, no new tenant step
    assert handlers.handle_detect_scopes(batches[-1], rt)["skipped"]
    assert handlers.handle_detect(_message(), rt)["skipped"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "nope"}, "type"),
        ({"batch": 9}, "batch"),
        ({"subscriptions": "abc"}, "subscriptions"),
        ({"days": ["yesterday"]}, "yesterday"),
        ({"now": None}, "now"),
    ],
)
def test_a_malformed_message_is_refused_with_its_field(
    tmp_path: Path, store: StateStore, costs_dir: Path, change: dict[str, Any], field: str
) -> None:
    rt = _runtime(tmp_path, store, costs_dir)
    handlers.handle_detect(_message(), rt)
    good = rt.pending(SCOPE_QUEUE)[0]
    out = handlers.handle_detect_scopes({**good, **change}, rt)
    assert field in out["refused"]


def test_batches_keep_the_spellings_of_one_subscription_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_scopes, "SUBSCRIPTIONS_PER_MESSAGE", 1)
    batches = cost_scopes._batches(["AAA", "bbb", "aaa", "Bbb", "ccc"])
    assert batches == [["AAA", "aaa"], ["bbb", "Bbb"], ["ccc"]]
    monkeypatch.setattr(cost_scopes, "SUBSCRIPTIONS_PER_MESSAGE", 2)
    assert cost_scopes._batches([f"{i:03d}" for i in range(5)]) == [["000", "001"], ["002", "003"], ["004"]]


def test_a_configured_history_is_what_the_handlers_load(
    tmp_path: Path, store: StateStore, costs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``detectors.overspend.history_days`` sets the cost rows each detection step loads (its history and a
    month of days judged after it). Before, the handlers loaded a fixed 100 days, so a history of more than
    about 69 days was configured but never read."""
    import ingest.cost

    starts: list[Any] = []
    real = ingest.cost.load_costs

    def spy(*args: Any, **kwargs: Any) -> Any:
        starts.append(kwargs["start"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.cost, "load_costs", spy)
    rt = LocalRuntime(parse_config({"detectors": {"overspend": {"history_days": 150}}}), store, tmp_path / "blobs")
    import shutil

    shutil.copytree(costs_dir, rt.blobs("costs").root)
    handlers.handle_detect(_message(), rt)
    rt.drain(SCOPE_QUEUE, lambda m: handlers.handle_detect_scopes(m, rt))
    assert starts, "the detect-scope steps load costs"
    assert {DEFAULT_NOW - s for s in starts} == {timedelta(days=181)}
