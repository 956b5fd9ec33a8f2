"""The ``alertmanager_configs`` receiver against a real Alertmanager 0.25 that the test starts.

Fire: the alert is active in Alertmanager's API with Vigil's labels, annotations, startsAt and a
generatorURL to the Azure portal. Re-post: ``endsAt`` moves forward (Alertmanager would resolve it at
``endsAt`` otherwise). Resolve: the alert leaves the active list. Skipped where Debian's
prometheus-alertmanager is not installed (``make alertmanager``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.amconfig import AlertmanagerForwardConfig
from alerts.channels.alertmanager import AlertmanagerForwarder, postable_alerts
from alerts.pipeline import process
from alerts.testing import MemoryStore, finding
from core.model import Alert, Status
from tests.alerts.amtool import running_alertmanager
from tests.alerts.helpers import AlertsQueue
from vigil.config import parse_config


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    with running_alertmanager(tmp_path, "route: {receiver: d}\nreceivers: [{name: d}]\n") as url:
        yield url


def _active(url: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v2/alerts", params={"active": "true"}, timeout=5)
    r.raise_for_status()
    return list(r.json())


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_fire_refresh_resolve_through_a_real_alertmanager(alertmanager: str) -> None:
    cfg = parse_config(
        {
            "global": {"resolve_timeout": "5m"},
            "route": {"receiver": "am", "group_wait": "0s", "group_interval": "1s"},
            "receivers": [{"name": "am", "alertmanager_configs": [{"url": alertmanager}]}],
        }
    )
    store = MemoryStore()
    t0 = datetime.now(UTC).replace(microsecond=0)
    q = AlertsQueue(cfg, store, at=t0)
    f = finding(observed_at=t0 - timedelta(minutes=1), annotations={"summary": "VM idle for 7 days"})
    process([f], config=cfg, store=store, outbox=q.outbox, now=t0)
    assert [r["ok"] for r in q.drain().results] == [True]

    (got,) = _active(alertmanager)
    assert got["labels"] == dict(f.identity)
    assert got["annotations"] == {"summary": "VM idle for 7 days"}
    assert got["status"]["state"] == "active"
    assert _ts(got["startsAt"]) == t0 - timedelta(minutes=1)
    assert got["generatorURL"] == f"https://portal.azure.com/#@/resource{f.resource.id}"
    first_end = _ts(got["endsAt"])
    assert first_end == t0 + timedelta(minutes=5)  # now + resolve_timeout: Alertmanager resolves it then

    # a re-post before resolve_timeout moves endsAt forward
    fwd = AlertmanagerForwarder(AlertmanagerForwardConfig(url=alertmanager))
    assert fwd.post([Alert.from_finding(f)], now=t0 + timedelta(minutes=2)).ok
    (again,) = _active(alertmanager)
    assert _ts(again["endsAt"]) == t0 + timedelta(minutes=7)
    assert again["fingerprint"] == got["fingerprint"]

    t1 = datetime.now(UTC)
    r = finding(status=Status.RESOLVED, observed_at=t1)
    process([r], config=cfg, store=store, outbox=q.outbox, now=t1 + timedelta(seconds=2))
    assert [r["ok"] for r in q.drain(t1 + timedelta(seconds=2)).results] == [True]
    assert [e.state for e in q.entries()] == ["sent", "sent"]
    assert _active(alertmanager) == []
    everything = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    assert everything == []  # resolved alerts are not listed by Alertmanager's API


def test_postable_alert_shape() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    a = Alert({"alertname": "x", "resource_id": "/subscriptions/s/resourcegroups/rg"}, {}, now)
    (doc,) = postable_alerts([a], now=now, resolve_timeout=timedelta(minutes=5))
    assert doc == {
        "labels": {"alertname": "x", "resource_id": "/subscriptions/s/resourcegroups/rg"},
        "annotations": {},
        "startsAt": "2026-03-02T12:00:00Z",
        "endsAt": "2026-03-02T12:05:00Z",
        "generatorURL": "https://portal.azure.com/#@/resource/subscriptions/s/resourcegroups/rg",
    }


def test_validate_warns_when_repeats_are_slower_than_resolve_timeout() -> None:
    from alerts.amcheck import config_warnings

    def cfg(repeat: str) -> Any:
        return parse_config(
            {
                "route": {"receiver": "d", "routes": [{"receiver": "am", "repeat_interval": repeat}]},
                "receivers": [{"name": "d"}, {"name": "am", "alertmanager_configs": [{"url": "http://am:9093"}]}],
            }
        )

    assert config_warnings(cfg("2m")) == []
    ((path, msg),) = config_warnings(cfg("1h"))
    assert path == "route.routes[0].repeat_interval"
    assert "1h is not shorter than the resolve_timeout (5m)" in msg
