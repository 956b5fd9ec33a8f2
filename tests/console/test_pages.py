"""The console's pages and actions over the demo's real state store (in-process ASGI client)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from alerts.silences import list_silences
from core.state.base import Namespace, StateStore
from detectors.config import OverspendConfig
from tests.console.conftest import NOW, MakeClient, approve_mode, csrf_of, fingerprint_of
from vigil.console.data import AlertFilter, AlertIndex

DRIFT = "ml_workspace_public_network_access"
ANOMALY = "overspend_cost_anomaly"


def _total(html: str) -> int:
    m = re.search(r'data-testid="total">(\d+)<', html)
    assert m
    return int(m.group(1))


def test_alert_filters_and_counts(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    all_alerts = sum(1 for _ in store.query(Namespace.ALERTS))
    assert _total(client.get("/alerts").text) == all_alerts == 8  # overspend 1 (one spike), idle 2, drift 2, activity 3
    assert _total(client.get("/alerts", params={"detector": "drift"}).text) == 2
    assert _total(client.get("/alerts", params={"detector": "overspend"}).text) == 1
    assert (
        _total(client.get("/alerts", params={"matchers": 'alertname=~"overspend-.*", scope_kind!="resource"'}).text)
        == 0
    )
    assert _total(client.get("/alerts", params={"scope": "RG-BATCH-PROD"}).text) == 1
    assert _total(client.get("/alerts", params={"status": "resolved"}).text) == 0
    receivers = {r.key.split("|", 1)[0] for r in store.query(Namespace.NFLOG)}
    for receiver in receivers:
        notified = {
            fp for r in store.query(Namespace.NFLOG) if r.key.startswith(receiver + "|") for fp in r.value["firing"]
        }
        assert _total(client.get("/alerts", params={"receiver": receiver}).text) == len(notified)


def test_a_bad_matcher_is_reported_next_to_the_field(make_client: MakeClient) -> None:
    html = make_client().get("/alerts", params={"matchers": 'alertname=~"("'}).text
    assert 'aria-invalid="true"' in html
    assert "error parsing regexp" in html  # Alertmanager's (Go RE2) wording


def test_pagination_is_server_side(store: StateStore) -> None:
    base = {"detector": "drift", "severity": "low", "resource_id": "/subscriptions/s/x"}
    for i in range(120):
        store.put(
            Namespace.ALERTS,
            f"bulk{i:012d}",
            {
                "labels": {**base, "alertname": f"bulk-{i:03d}"},
                "annotations": {},
                "starts_at": NOW.isoformat(),
                "ends_at": None,
            },
        )
    index = AlertIndex(store, ttl=0)
    page = index.page(AlertFilter(matchers='alertname=~"bulk-.*"'), now=NOW, page=3, per_page=50)
    assert (page.total, page.pages, page.page, len(page.rows)) == (120, 3, 3, 20)
    assert index.page(AlertFilter(), now=NOW, page=99, per_page=50).page == page.pages  # clamped to the last page


def test_detail_page_shows_labels_evidence_notifications_and_plan(make_client: MakeClient, store: StateStore) -> None:
    fp = fingerprint_of(store, DRIFT)
    html = make_client().get(f"/alerts/{fp}").text
    assert "Dana Whitfield" in html  # who changed it, from the event
    assert "disable_ml_workspace_public_access" in html  # the remediation action
    sent = [r for r in store.query(Namespace.NFLOG) if fp in r.value["firing"]]
    assert sent
    for r in sent:
        assert r.key.split("|")[0] in html
    assert "No approval in dry-run mode" in html
    assert "Approve remediation" not in html


def test_acknowledge_records_who(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    fp = fingerprint_of(store, ANOMALY)
    csrf = csrf_of(client.get(f"/alerts/{fp}").text)
    html = client.post(f"/alerts/{fp}/ack", data={"csrf": csrf, "comment": "looking into it"}).text
    ack = store.get(Namespace.ACKS, fp)
    assert ack is not None
    assert ack.value["by"].startswith("tester")
    assert ack.value["comment"] == "looking into it"
    assert 'data-testid="ack"' in html
    assert fp in client.get("/alerts", params={"status": "acknowledged"}).text


def test_silence_from_an_alert_mutes_it_and_expiring_unmutes(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    fp = fingerprint_of(store, DRIFT)
    detail = client.get(f"/alerts/{fp}").text
    link = re.search(r'href="(/silences/new\?[^"]+)"', detail)
    assert link
    new = client.get(link.group(1).replace("&amp;", "&")).text
    assert 'data-testid="preview-total">1<' in new  # the pre-filled matchers match exactly this alert
    matchers = re.search(r'<textarea id="s-matchers"[^>]*>([^<]*)</textarea>', new)
    assert matchers
    import html as h

    form = {
        "csrf": csrf_of(new),
        "matchers": h.unescape(matchers.group(1)),
        "duration": "2h",
        "comment": "change window",
        "from": fp,
    }
    after = client.post("/silences", data=form).text
    assert "◌ silenced" in after
    (silence,) = list_silences(store, now=NOW)
    assert silence.ends_at - silence.starts_at == timedelta(hours=2)
    assert fp in client.get("/alerts", params={"status": "silenced"}).text
    page = client.get("/silences").text
    client.post(f"/silences/{silence.id}/expire", data={"csrf": csrf_of(page)})
    assert list_silences(store, now=NOW, state="expired")
    assert fp not in client.get("/alerts", params={"status": "silenced"}).text


def test_bad_silence_input_is_shown_not_stored(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    csrf = csrf_of(client.get("/silences/new").text)
    resp = client.post("/silences", data={"csrf": csrf, "matchers": 'a="b"', "duration": "soon", "comment": "x"})
    assert resp.status_code == 400
    assert "not a valid duration" in resp.text
    resp = client.post("/silences", data={"csrf": csrf, "matchers": 'a="b"', "duration": "1h", "comment": ""})
    assert resp.status_code == 400
    assert "needs a comment" in resp.text
    assert list_silences(store, now=NOW) == []


def test_approve_in_approve_mode_records_and_queues_once(make_client: MakeClient, store: StateStore) -> None:
    queued: list[dict[str, str]] = []
    client = make_client(remediation=approve_mode(), queued=queued)
    fp = fingerprint_of(store, DRIFT)
    detail = client.get(f"/alerts/{fp}").text
    assert "Approve remediation" in detail
    key = re.search(r'name="key" value="([0-9a-f]+)"', detail)
    assert key
    for _ in range(2):  # a double submit of one form approves once
        assert (
            client.post(f"/alerts/{fp}/approve", data={"csrf": csrf_of(detail), "key": key.group(1)}).status_code == 200
        )
    (entry,) = [dict(r.value) for r in store.ledger(Namespace.AUDIT)]
    assert entry["event"] == "remediation_approved"
    assert entry["by"].startswith("tester")
    assert entry["via"] == "console"
    (request,) = queued
    assert request["kind"] == "remediation-approved"
    assert request["action"] == "disable_ml_workspace_public_access"
    assert request["approved_by"] == entry["by"]
    assert "remediation_approved" in client.get("/ledger").text


def test_approve_is_refused_in_dry_run(make_client: MakeClient, store: StateStore) -> None:
    queued: list[dict[str, str]] = []
    client = make_client(queued=queued)  # the demo config: dry-run
    fp = fingerprint_of(store, DRIFT)
    csrf = csrf_of(client.get(f"/alerts/{fp}").text)
    resp = client.post(f"/alerts/{fp}/approve", data={"csrf": csrf, "key": "k"})
    assert resp.status_code == 409
    assert "dry-run" in resp.text
    assert queued == []
    assert list(store.ledger(Namespace.AUDIT)) == []


def test_drift_timeline_and_resources(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    listing = client.get("/resources", params={"failing": "1"}).text
    assert "✗ 1" in listing
    rid = next(
        r.value["labels"]["resource_id"]
        for r in store.query(Namespace.ALERTS)
        if r.value["labels"]["alertname"] == DRIFT
    )
    html = client.get("/resource", params={"id": rid}).text
    assert "✗ non-compliant" in html
    assert "<mark>" in html
    assert "publicNetworkAccess" in html
    assert "Dana Whitfield" in html
    assert "<strong>fired</strong>" in html
    assert client.get("/resource", params={"id": "/subscriptions/none/x"}).status_code == 404


def test_cost_drill_down_chart(make_client: MakeClient) -> None:
    client = make_client()
    listing = client.get("/cost").text
    # The demo spike is one alert at its most specific scope (the VM); the broader scopes that moved
    # with it are its drill-down (detectors/overspend/collapse.py), not alerts of their own.
    vm = (
        "/subscriptions/6513270e-269e-4d37-b2a7-4de452e6b438/resourcegroups/rg-batch-prod"
        "/providers/microsoft.compute/virtualmachines/vm-batch-gpu-01"
    )
    assert f'<option value="{vm}">resource: ' in listing
    assert "subscription: 6513270e-269e-4d37-b2a7-4de452e6b438" not in listing
    html = client.get("/cost", params={"scope": vm}).text
    assert "<svg" in html
    assert 'class="band"' in html
    assert "73.44" in html
    # The full daily series over the model's history (70 days and the day itself), not only the anomaly days.
    table = html.split('data-testid="cost-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r"<tr><td>(\d{4}-\d{2}-\d{2})</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", table
    )
    assert len(rows) == 71
    assert rows[-1][0] == "2026-11-24"  # the alert's day: the series ends where detection looked
    flagged = [r[0] for r in rows if "yes" in r[4]]
    assert flagged[-1] == "2026-11-24"
    assert len(flagged) < 5
    # The expected value on the alert's day is the one the detector reported (the same model, same inputs).
    assert rows[-1][1] == "73.44"
    assert rows[-1][2] == "15.30"
    assert "<tr><td>2026-11-24</td><td>73.44</td><td>15.3</td>" in html  # the alert's own evidence
    low, high = (float(x) for x in rows[-1][3].split(" – "))
    assert low < 15.3 < high < 73.44


def test_cost_drill_down_says_when_the_cost_store_cannot_be_read(make_client: MakeClient, tmp_path: Path) -> None:
    from vigil.console.costs import store_series_reader
    from vigil.runtime_local import LocalBlobStore

    client = make_client()
    vm = (
        "/subscriptions/6513270e-269e-4d37-b2a7-4de452e6b438/resourcegroups/rg-batch-prod"
        "/providers/microsoft.compute/virtualmachines/vm-batch-gpu-01"
    )
    cfg = client.app.state.console.cfg
    cfg.cost_series = store_series_reader(lambda: LocalBlobStore(tmp_path / "nothing"), load_config_demo())
    html = client.get("/cost", params={"scope": vm}).text
    assert 'data-testid="cost-problem"' in html
    assert "holds no costs" in html
    assert "<svg" not in html
    assert "73.44" in html  # the anomaly alerts are still listed

    def unreachable() -> LocalBlobStore:
        raise ConnectionError("storage account unreachable")

    cfg.cost_series = store_series_reader(unreachable, load_config_demo())
    html = client.get("/cost", params={"scope": vm}).text
    assert "The cost store could not be read: ConnectionError: storage account unreachable" in html


def load_config_demo() -> OverspendConfig:
    from vigil.cli.run_cmds import DEMO_CONFIG
    from vigil.config import load_config

    return load_config(DEMO_CONFIG).detectors.overspend


def test_silence_double_submit_creates_one_and_preview_is_a_post(make_client: MakeClient, store: StateStore) -> None:
    client = make_client()
    new = client.get("/silences/new", params={"matchers": 'detector="idle"'}).text
    key = re.search(r'name="key" value="([0-9a-f]{32})"', new)
    assert key
    form = {"csrf": csrf_of(new), "key": key.group(1), "matchers": 'detector="idle"', "duration": "1h", "comment": "c"}
    # The Preview button (no script) posts the form: the token never lands in a URL.
    preview = client.post("/silences/new", data={**form, "matchers": 'detector=~"overspend|idle"'})
    assert 'data-testid="preview-total">3<' in preview.text
    assert 'formmethod="get"' not in preview.text
    for _ in range(2):
        assert client.post("/silences", data=form).status_code == 200
    assert len(list_silences(store, now=NOW)) == 1


def test_drift_timeline_shows_current_arm_json_and_the_activity_log(
    make_client: MakeClient, store: StateStore, demo_out: Path
) -> None:
    client = make_client(tenant=demo_out / "tenant")
    rid = next(
        r.value["labels"]["resource_id"]
        for r in store.query(Namespace.ALERTS)
        if r.value["labels"]["alertname"] == DRIFT
    )
    html = client.get("/resource", params={"id": rid}).text
    marked = re.findall(r"<mark>▶ ([^<]*)</mark>", html)
    assert marked  # the failing property's line, highlighted
    assert all("publicNetworkAccess" in m for m in marked)
    # A resource with Activity Log entries: who changed it, and how.
    import json

    entries = json.loads((demo_out / "tenant" / "activity" / "6513270e-269e-4d37-b2a7-4de452e6b438.json").read_text())
    entry = next(e for e in entries.get("value", entries) if e.get("resourceId"))
    html = client.get("/resource", params={"id": entry["resourceId"].lower()}).text
    assert "<strong>change</strong>" in html
    assert f"by {entry['caller']}" in html


def test_grouping_as_routed_matches_the_pipelines_notification_groups(
    make_client: MakeClient, store: StateStore
) -> None:
    client = make_client()
    html = client.get("/alerts", params={"group": "1"}).text
    m = re.search(r'data-testid="groups">(\d+)<', html)
    assert m
    # The pipeline notified one group per (receiver, group key); each integration logs it once.
    notified = {(r.key.split("|")[0], r.value["group_key"]) for r in store.query(Namespace.NFLOG)}
    assert int(m.group(1)) == len(notified) > 0
    assert html.count("<td>security</td>") == 5  # the 2 drift alerts and the 3 activity alerts route to security
    link = re.search(r'href="(/alerts\?[^"]*matchers=[^"]+)"', html)
    assert link
    assert _total(client.get(link.group(1).replace("&amp;", "&")).text) == 1


def test_drift_timeline_shows_every_verdict_over_time_with_who(
    make_client: MakeClient, store: StateStore, demo_out: Path
) -> None:
    from tests.console.conftest import more_verdicts

    rid = more_verdicts(store, demo_out / "tenant")
    client = make_client()
    # The sweep has no caller of its own: the Activity Log's newest change before it names one.
    client.app.state.console.cfg.activity = lambda _rid: [
        {
            "eventTimestamp": "2026-11-24T23:10:00.0000000Z",
            "caller": "carol@contoso.com",
            "operationName": {"value": "Microsoft.MachineLearningServices/workspaces/write"},
            "status": {"value": "Succeeded"},
            "resourceId": rid,
        }
    ]
    html = client.get("/resource", params={"id": rid}).text
    table = html.split('data-testid="verdict-history"', 1)[1].split("</table>", 1)[0]
    rows = [r for r in table.split("<tr>")[2:] if DRIFT in r]
    assert len(rows) == 3
    assert ["non-compliant" in rows[0], "✓ compliant" in rows[1], "non-compliant" in rows[2]] == [True] * 3
    assert "Dana Whitfield" in rows[0]
    assert "94923e74" in rows[0]  # the demo's event id
    assert "bob@contoso.com" in rows[1]
    assert "evt-fix-by-bob" in rows[1]
    assert "sweep" in rows[2]
    assert "carol@contoso.com" in rows[2]
    assert "(activity log)" in rows[2]
    timeline = html.split('data-testid="timeline"', 1)[1].split("</ol>", 1)[0]
    assert timeline.count(f"<span>{DRIFT}</span> non-compliant") == 2
    assert timeline.count(f"<span>{DRIFT}</span> compliant") == 1


def test_drift_timeline_says_when_arm_or_the_activity_log_cannot_be_read(
    make_client: MakeClient, store: StateStore
) -> None:
    from tests.console.conftest import ML_WORKSPACE

    client = make_client()
    cfg = client.app.state.console.cfg

    def forbidden(rid: str) -> None:
        raise PermissionError(f"{rid}: read forbidden (HTTP 403)")

    def throttled(rid: str) -> list[dict[str, str]]:
        raise ConnectionError("429 Too Many Requests")

    cfg.resource_reader, cfg.activity = forbidden, throttled
    resp = client.get("/resource", params={"id": ML_WORKSPACE})
    assert resp.status_code == 200
    assert "The Activity Log could not be read: ConnectionError: 429 Too Many Requests" in resp.text
    assert "The resource (ARM) could not be read: PermissionError:" in resp.text
    assert "The resource is not found" not in resp.text  # a failed read is not a deleted resource
    assert "✗ non-compliant" in resp.text  # the state store's part of the page is still there
