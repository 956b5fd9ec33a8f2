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
from tests.alerts.helpers import T0, AlertsQueue
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


def _forward_cfg(url: str, *, repeat: str = "4h", resolve_timeout: str = "5m", **route: Any) -> Any:
    return parse_config(
        {
            "route": {"receiver": "d", "routes": [{"receiver": "am", "repeat_interval": repeat, **route}]},
            "receivers": [
                {"name": "d"},
                {"name": "am", "alertmanager_configs": [{"url": url, "resolve_timeout": resolve_timeout}]},
            ],
        }
    )


def test_validate_no_longer_ties_repeat_interval_to_resolve_timeout() -> None:
    """The forwarding timer keeps forwarded alerts active: a long repeat_interval is fine."""
    from alerts.amcheck import config_warnings

    assert config_warnings(_forward_cfg("http://am:9093", repeat="1h")) == []


def _posted(ep: Any) -> list[list[dict[str, Any]]]:
    return [r.json() for r in ep.received]


def test_forwarding_timer_posts_firing_alerts_beyond_its_next_run_and_resolved_ones_once() -> None:
    """The handler of the ``forward`` timer over a local HTTP server: endsAt = now + twice the longest gap
    of FORWARD_SCHEDULE; a resolved alert is posted once with its resolution time; a silenced alert and
    alerts of other receivers are not posted; a failed post is posted again by the next run."""
    from alerts.silences import create_silence
    from tests.alerts.helpers import Reply, serve
    from vigil.handlers import run_forward

    down = [True]
    with serve(lambda n, p, b: Reply(503, "down") if down[0] else Reply(200, "")) as ep:
        cfg = _forward_cfg(ep.url, match={"detector": "idle"})
        store = MemoryStore()
        t0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        q = AlertsQueue(cfg, store, at=t0, settings={"FORWARD_SCHEDULE": "0 */5 * * * *"})
        idle = finding(observed_at=t0, annotations={"summary": "idle"})
        quiet = finding(resource=f"{idle.resource.id}-2", observed_at=t0)
        other = finding(detector="drift", rule="storage-public-access", observed_at=t0)
        process([idle, quiet, other], config=cfg, store=store, outbox=q.outbox, now=t0)
        create_silence(
            store, matchers=[f'resource_id="{quiet.resource.id}"'], duration=timedelta(hours=1),
            created_by="t", comment="maintenance", now=t0,
        )  # fmt: skip

        first = run_forward(q.rt, t0 + timedelta(minutes=1))  # 503 (with its retries): nothing recorded
        assert [(x["receiver"], "503" in x["reason"]) for x in first["failed"]] == [("am", True)]
        down[0] = False
        tried = len(ep.received)
        run = run_forward(q.rt, t0 + timedelta(minutes=5))
        assert (run["firing"], run["resolved"], run["failed"]) == (1, 0, [])
        (doc,) = _posted(ep)[tried]
        assert doc["labels"] == dict(idle.identity)
        assert doc["endsAt"] == "2026-03-02T12:15:00Z"  # now + 2 x 5 min

        t1 = t0 + timedelta(minutes=7)
        process([finding(status=Status.RESOLVED, observed_at=t1)], config=cfg, store=store, outbox=q.outbox, now=t1)
        run = run_forward(q.rt, t0 + timedelta(minutes=10))
        assert (run["firing"], run["resolved"]) == (0, 1)
        (doc,) = _posted(ep)[tried + 1]
        assert doc["endsAt"] == "2026-03-02T12:07:00Z"  # its resolution time
        run = run_forward(q.rt, t0 + timedelta(minutes=15))
        assert (run["firing"], run["resolved"]) == (0, 0)
        assert len(ep.received) == tried + 2  # posted once


def test_forwarding_timer_does_nothing_without_forwarders() -> None:
    from vigil.handlers import run_forward

    cfg = parse_config({"route": {"receiver": "d"}, "receivers": [{"name": "d"}]})
    q = AlertsQueue(cfg, MemoryStore())
    assert run_forward(q.rt, T0) == {"forwarders": 0, "firing": 0, "resolved": 0, "failed": []}


def test_forwarding_timer_keeps_an_alert_active_in_a_real_alertmanager(alertmanager: str) -> None:
    """repeat_interval (4h) is far longer than the alert's endsAt window (resolve_timeout 2s, timer every
    2 s so endsAt = now + 4 s): the alert stays active across two timer runs, each past the previous
    endsAt, and leaves Alertmanager's active list when the timer posts its resolution. A control alert
    posted once with the same window is resolved by Alertmanager: the window is real."""
    import time

    from vigil.handlers import run_forward

    cfg = _forward_cfg(alertmanager, resolve_timeout="2s", group_wait="0s", group_interval="1s")
    store = MemoryStore()
    t0 = datetime.now(UTC)
    q = AlertsQueue(cfg, store, at=t0, settings={"FORWARD_SCHEDULE": "*/2 * * * * *"})
    f = finding(observed_at=t0 - timedelta(seconds=1))
    process([f], config=cfg, store=store, outbox=q.outbox, now=t0)
    assert [r["ok"] for r in q.drain(t0).results] == [True]  # the notification: endsAt = t0 + 2 s
    control = Alert({"alertname": "control"}, {}, t0)
    assert (
        AlertmanagerForwarder(AlertmanagerForwardConfig(url=alertmanager))
        .post([control], now=t0, ends_after=timedelta(seconds=2))
        .ok
    )

    def at(offset: float) -> datetime:
        time.sleep(max(0.0, (t0 + timedelta(seconds=offset) - datetime.now(UTC)).total_seconds()))
        return datetime.now(UTC)

    def names() -> list[str]:
        return sorted(a["labels"]["alertname"] for a in _active(alertmanager))

    assert names() == ["control", "vm-idle"]
    assert run_forward(q.rt, at(1.0))["firing"] == 1  # endsAt = t0 + 5 s
    at(3.5)
    assert names() == ["vm-idle"]  # past the notification's endsAt (and the control's): still active
    assert run_forward(q.rt, datetime.now(UTC))["firing"] == 1  # endsAt = t0 + 7.5 s
    at(6.0)
    assert names() == ["vm-idle"]  # past the first run's endsAt
    t1 = datetime.now(UTC)
    process([finding(status=Status.RESOLVED, observed_at=t1)], config=cfg, store=store, outbox=q.outbox, now=t1)
    assert run_forward(q.rt, t1)["resolved"] == 1  # the timer posts the resolution (queue not drained)
    assert names() == []
