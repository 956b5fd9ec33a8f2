"""The activity log in a tenant run: the simulated tenant's planted control-plane operations (Activity Log
REST pages and a Log Analytics AzureActivity answer in ``activity/``) alert with their callers; near
misses (a managed identity listing keys, Reader on one resource group) do not; a record held by both
sources is read once."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.sources import SourceError
from core.state import open_store
from vigil.cli.run_cmds import DEMO_CONFIG
from vigil.config import load_config
from vigil.pipeline import ALERTS_FILE, OUTBOX_DIR, STATE_FILE, run_tenant
from vigil.simulate import DEFAULT_NOW, SimResult, simulate
from vigil.simulate.activity import GUEST_OBJECT_ID
from vigil.tenant import TenantFolder


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(tmp_path_factory.mktemp("activity") / "tenant")


@pytest.fixture(scope="module")
def alerts(sim: SimResult, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("out")
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        run_tenant(sim.root, config=load_config(DEMO_CONFIG), store=store, out_dir=out, now=DEFAULT_NOW, progress=False)
    finally:
        store.close()
    lines = (out / ALERTS_FILE).read_text(encoding="utf-8").splitlines()
    return out, [json.loads(line) for line in lines]


def test_the_tenant_holds_rest_pages_and_a_log_analytics_answer_read_once(sim: SimResult) -> None:
    files = sorted(p.name for p in (sim.root / "activity").iterdir())
    assert any(n.endswith("-security-page1.json") for n in files)
    assert any(n.startswith("law-central-") for n in files)
    page1 = json.loads(next((sim.root / "activity").glob("*-security-page1.json")).read_text(encoding="utf-8"))
    assert "nextLink" in page1
    entries = list(TenantFolder(sim.root).entries())
    ids = [e["eventDataId"] for e in entries]
    assert len(ids) == len(set(ids))  # the key listing is in both the REST page and the query answer
    from_la = [
        e
        for e in entries
        if e["resourceId"] == e["resourceId"].lower() and "listkeys" in e["operationName"]["value"].lower()
    ]
    assert from_la  # rows of the AzureActivity answer, in the REST shape
    assert {e["status"]["value"] for e in from_la} <= {"Started", "Succeeded"}


def test_planted_activity_findings_alert_with_their_callers(
    sim: SimResult, alerts: tuple[Path, list[dict[str, Any]]]
) -> None:
    _out, found = alerts
    activity = {a["labels"]["alertname"]: a for a in found if a["labels"]["detector"] == "activity"}
    assert set(activity) == {"privileged_role_assignment", "diagnostic_settings_deleted", "storage_keys_listed_by_user"}

    grant = activity["privileged_role_assignment"]
    assert grant["labels"]["resource_id"] == sim.planted["guest_owner_grant"].lower()
    assert grant["annotations"]["changed_by"] == "lena.okafor@contoso.com"
    assert "Owner at scope /subscriptions/" in grant["annotations"]["reason"]
    assert GUEST_OBJECT_ID in grant["annotations"]["reason"]
    assert grant["annotations"]["caller_ip"].startswith("203.0.113.")

    diag = activity["diagnostic_settings_deleted"]
    assert diag["labels"]["resource_id"] == sim.planted["diagnostic_setting_deleted"].lower()
    assert diag["annotations"]["changed_by"] == "lena.okafor@contoso.com"
    assert "export-to-siem" in diag["annotations"]["reason"]

    keys = activity["storage_keys_listed_by_user"]
    assert keys["labels"]["resource_id"] == sim.planted["storage_keys_listed"].lower()
    assert keys["annotations"]["changed_by"] == "ravi.menon@contoso.com"  # not the managed identity's listing
    for a in activity.values():
        assert a["status"] == "firing"
        assert a["annotations"]["changed_at"].startswith("2026-11-24T")
        assert a["annotations"]["correlation_id"] == a["labels"]["correlation_id"]


def test_activity_alerts_reach_the_security_receiver_with_the_caller(alerts: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _found = alerts
    cards = [json.loads(p.read_text(encoding="utf-8")) for p in (out / OUTBOX_DIR).glob("security.msteams-*.json")]
    text = json.dumps(cards)
    assert "ravi.menon@contoso.com" in text
    assert "lena.okafor@contoso.com" in text
    assert "export-to-siem" in text


def test_tenant_folder_names_the_file_and_table_of_a_bad_query_answer(tmp_path: Path) -> None:
    (tmp_path / "activity").mkdir()
    (tmp_path / "activity" / "law.json").write_text(json.dumps({"tables": [{"name": "PrimaryResult", "rows": []}]}))
    with pytest.raises(SourceError, match=r"law\.json: tables\[0\] needs 'columns' and 'rows'"):
        list(TenantFolder(tmp_path).entries())
    (tmp_path / "activity" / "law.json").write_text(json.dumps({"tables": [{"columns": [{"name": "A"}], "rows": [1]}]}))
    with pytest.raises(SourceError, match=r"law\.json: tables\[0\]\.rows\[0\] is not a list"):
        list(TenantFolder(tmp_path).entries())


def test_a_drift_event_without_claims_gets_its_caller_from_the_activity_log(sim: SimResult, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    for path in (tenant / "events").glob("*.json"):
        events = json.loads(path.read_text(encoding="utf-8"))
        for ev in events:
            ev["data"].pop("claims", None)  # as in the Azure SDK's sample events
        path.write_text(json.dumps(events), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        run_tenant(tenant, config=load_config(DEMO_CONFIG), store=store, out_dir=out, now=DEFAULT_NOW, progress=False)
    finally:
        store.close()
    found = [json.loads(line) for line in (out / ALERTS_FILE).read_text(encoding="utf-8").splitlines()]
    ws = sim.planted["drift_workspace"].lower()
    (drift,) = [a for a in found if a["labels"]["detector"] == "drift" and a["labels"]["resource_id"] == ws]
    ann = drift["annotations"]
    assert ann["changed_by"] == "dana.whitfield@contoso.com"
    assert ann["changed_by_source"] == "activity log"
    assert ann["caller_ip"].startswith("203.0.113.")
    assert ann["changed_at"].startswith("2026-11-24T20:43")
    assert ann["event_principal"]  # the RBAC evidence's object id, all the event had


def test_the_activity_log_read_live_gives_the_same_alerts_as_the_tenant_folder(
    sim: SimResult, alerts: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The simulated tenant's activity records served by the local HTTPS server (Activity Log REST for each
    subscription, the AzureActivity answer for the workspace), read by ``read_live`` through the configured
    sources with the real SDK clients: the same records once each, and the same activity alerts, as
    ``run_tenant`` over the folder; a second read after the commit finds nothing new."""
    import yaml

    from alerts.pipeline import current_alerts, process
    from core.state.sqlite import SQLiteStore
    from tests.alerts.helpers import AlertsQueue
    from tests.support.activity import add_activity_log, add_log_analytics
    from tests.support.azure_server import AzureTestServer
    from tests.support.live_tenant import tenant_activity
    from vigil.activity_path import detect_activity, read_live
    from vigil.config import parse_config
    from vigil.simulate.activity import LAW_CUSTOMER_ID

    raw = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    raw["sources"] = {
        "activity": {
            "rest": [{"subscription_id": s} for s in sim.subscriptions],
            "log_analytics": [{"workspace_id": LAW_CUSTOMER_ID}],
            "initial_lookback_hours": 96,
            "max_window_hours": 24,
        }
    }
    config = parse_config(raw)
    folder = list(TenantFolder(sim.root).entries())
    rest, rows = tenant_activity(sim.root)
    lines: list[str] = []
    store = SQLiteStore(tmp_path / "state.db")
    try:
        with AzureTestServer() as server:
            add_activity_log(server, rest, page_size=3)
            add_log_analytics(server, LAW_CUSTOMER_ID, rows)
            kwargs: dict[str, Any] = {
                "credential": server.credential(),
                "arm_kwargs": server.client_kwargs(),
                "logs_kwargs": {
                    "endpoint": server.url,
                    "connection_verify": server.ca_path,
                    "retry_backoff_factor": 0.01,
                },
            }
            batch = read_live(config, store, DEFAULT_NOW, progress=lines.append, **kwargs)
            assert not batch.quarantined
            assert sorted(r["eventDataId"] for r in batch.records) == sorted(e["eventDataId"] for e in folder)
            findings = detect_activity(batch.records, config, DEFAULT_NOW)
            process(findings, config=config, store=store, outbox=AlertsQueue(config, store).outbox, now=DEFAULT_NOW)
            batch.commit()
            again = read_live(config, store, DEFAULT_NOW + timedelta(minutes=15), **kwargs)
            assert again.records == []
        live = {
            a["fingerprint"]: a for a in current_alerts(store, DEFAULT_NOW) if a["labels"]["detector"] == "activity"
        }
    finally:
        store.close()
    _out, offline_all = alerts
    offline = {a["fingerprint"]: a for a in offline_all if a["labels"]["detector"] == "activity"}
    assert len(live) == 3
    assert set(live) == set(offline)
    for fp, a in live.items():
        assert a["labels"] == offline[fp]["labels"]
        assert a["annotations"] == offline[fp]["annotations"]
    # progress: one line per source, with its figures
    assert len(lines) == len(sim.subscriptions) + 1
    assert any(line.startswith(f"activity log_analytics/{LAW_CUSTOMER_ID}: 4 window(s)") for line in lines)
    assert all("problem" not in line for line in lines)


def test_untrusted_names_from_the_activity_log_are_escaped_in_emails(sim: SimResult, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    evil = "<img src=x onerror=alert(1)>"
    for path in (tenant / "activity").glob("*-security-page*.json"):
        text = path.read_text(encoding="utf-8").replace("export-to-siem", evil.replace('"', '\\"'))
        path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        run_tenant(tenant, config=load_config(DEMO_CONFIG), store=store, out_dir=out, now=DEFAULT_NOW, progress=False)
    finally:
        store.close()
    found = [json.loads(line) for line in (out / ALERTS_FILE).read_text(encoding="utf-8").splitlines()]
    (diag,) = [a for a in found if a["labels"]["alertname"] == "diagnostic_settings_deleted"]
    assert evil in diag["annotations"]["reason"]  # kept as data...
    import email
    from email import policy

    htmls = []
    for path in (out / OUTBOX_DIR).glob("security.email-*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        htmls += [part.get_content() for part in msg.walk() if part.get_content_type() == "text/html"]
    mentioned = [h for h in htmls if "onerror" in h]
    assert mentioned
    for html in mentioned:  # ...and escaped wherever it reaches an email
        assert evil not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_latest_change_per_resource_is_kept_once_for_live_attribution(sim: SimResult, tmp_path: Path) -> None:
    """In Azure the sweep reads no activity log: ``run_activity`` keeps the latest attributable change per
    resource (``remember_changes``), and attribution reads them back (``remembered_changes``)."""
    from core.state.sqlite import SQLiteStore
    from detectors.activity.attribution import attribute
    from vigil.activity_path import remember_changes, remembered_changes

    records = list(TenantFolder(sim.root).entries())
    store = SQLiteStore(tmp_path / "state.db")
    try:
        kept = remember_changes(store, records)
        assert kept > 0
        assert remember_changes(store, records) == 0  # idempotent: nothing newer
        remembered = list(remembered_changes(store))
        assert len(remembered) < len(records)  # only the latest change per resource, no reads or key listings
        for rid in (sim.planted["drift_workspace"], sim.planted["org_policy_storage"]):
            assert attribute(remembered, rid) == attribute(records, rid) is not None
    finally:
        store.close()


def test_kept_changes_older_than_the_activity_logs_retention_are_forgotten(sim: SimResult, tmp_path: Path) -> None:
    """``Namespace.CHANGES`` is bounded: the sweep timer's ``forget_changes`` deletes kept changes older than
    the activity log's 90-day retention (which event mode could not read either) and keeps the rest."""
    from core.state.base import Namespace
    from core.state.sqlite import SQLiteStore
    from ingest.activity.reader import RETENTION
    from vigil.activity_path import forget_changes, remember_changes

    records = list(TenantFolder(sim.root).entries())
    store = SQLiteStore(tmp_path / "state.db")
    try:
        assert remember_changes(store, records) > 0
        times = sorted(datetime.fromisoformat(r.value["time"]) for r in store.query(Namespace.CHANGES))
        kept = len(times)
        assert kept > 2
        middle = times[len(times) // 2]
        assert forget_changes(store, times[0]) == 0  # all within retention
        expected = sum(t < middle for t in times)
        assert expected > 0
        assert forget_changes(store, middle + RETENTION) == expected
        left = [datetime.fromisoformat(r.value["time"]) for r in store.query(Namespace.CHANGES)]
        assert len(left) == kept - expected
        assert min(left) >= middle
        assert forget_changes(store, middle + RETENTION) == 0  # idempotent
        assert forget_changes(store, times[-1] + RETENTION + timedelta(seconds=1)) == len(left)
    finally:
        store.close()
