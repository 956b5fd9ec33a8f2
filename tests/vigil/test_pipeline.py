"""run_tenant end to end on a simulated tenant: every family alerts, the outbox fills once, reruns send nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.state import open_store
from vigil.cli.run_cmds import DEMO_CONFIG
from vigil.config import VigilConfig, load_config
from vigil.handlers import previous_findings
from vigil.pipeline import (
    ALERTS_FILE,
    DIGEST_FILE,
    OUTBOX_DIR,
    STATE_FILE,
    PipelineError,
    RunSummary,
    run_tenant,
)
from vigil.simulate import DEFAULT_NOW, SimResult, simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(tmp_path_factory.mktemp("pipeline") / "tenant")


@pytest.fixture(scope="module")
def config() -> VigilConfig:
    return load_config(DEMO_CONFIG)


def _run(tenant: Path, out: Path, config: VigilConfig) -> RunSummary:
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return run_tenant(tenant, config=config, store=store, out_dir=out, now=DEFAULT_NOW, progress=False)
    finally:
        store.close()


def _alerts(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / ALERTS_FILE).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def first(sim: SimResult, config: VigilConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    out = tmp_path_factory.mktemp("out")
    return out, _run(sim.root, out, config)


def test_every_family_alerts_on_its_planted_problem(sim: SimResult, first: tuple[Path, RunSummary]) -> None:
    out, _ = first
    alerts = _alerts(out)
    by_family: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        assert {"status", "labels", "annotations", "fingerprint"} <= set(a)
        by_family.setdefault(a["labels"]["detector"], []).append(a)
    assert set(by_family) == {"overspend", "idle", "drift", "activity"}  # activity: tests/vigil/test_activity_run.py

    spike = sim.planted["cost_spike"].lower()
    assert any(a["labels"]["resource_id"] == spike and a["status"] == "firing" for a in by_family["overspend"])

    idle = {a["labels"]["resource_id"]: a for a in by_family["idle"]}
    assert set(idle) == {sim.planted["idle_vm"].lower(), sim.planted["idle_ml_instance"].lower()}
    vm = idle[sim.planted["idle_vm"].lower()]
    assert vm["labels"]["alertname"] == "vm_shutdown_candidate"
    assert float(vm["annotations"]["monthly_waste"]) > 100
    assert vm["annotations"]["waste_basis"] == "cost data"

    drift = {a["labels"]["resource_id"]: a for a in by_family["drift"]}
    assert set(drift) == {sim.planted["drift_workspace"].lower(), sim.planted["org_policy_storage"].lower()}
    ws = drift[sim.planted["drift_workspace"].lower()]
    assert ws["labels"]["alertname"] == "ml_workspace_public_network_access"
    assert "dana.whitfield@contoso.com" in ws["annotations"]["changed_by"]
    # the organisation's own assignment (tenant policy/): notScopes and the exemption leave one account
    org = drift[sim.planted["org_policy_storage"].lower()]
    assert org["labels"]["alertname"] == "assignment:restrict-storage-network"
    assert org["annotations"]["policy_assignment_id"].endswith("/policyAssignments/restrict-storage-network")
    assert org["annotations"]["non_compliance_message"].startswith("Set the storage firewall's default action")


def test_no_figure_ever_lands_in_a_label(first: tuple[Path, RunSummary]) -> None:
    out, _ = first
    for a in _alerts(out):
        for name, value in a["labels"].items():
            if any(h in name for h in ("cost", "waste", "spend", "amount")):
                pytest.fail(f"label {name}={value} carries a figure")


def test_outbox_holds_teams_cards_and_emails(first: tuple[Path, RunSummary]) -> None:
    out, summary = first
    files = sorted((out / OUTBOX_DIR).iterdir())
    assert files
    assert summary.outbox_files == [f.name for f in files]
    cards = [f for f in files if f.suffix == ".json"]
    emails = [f for f in files if f.suffix == ".eml"]
    assert cards
    assert emails
    card = json.loads(cards[0].read_text(encoding="utf-8"))
    assert card["type"] == "message"
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert b"Subject:" in emails[0].read_bytes()
    assert summary.notifications["failed"] == 0


def test_digest_and_summary(first: tuple[Path, RunSummary]) -> None:
    out, summary = first
    page = (out / DIGEST_FILE).read_text(encoding="utf-8")
    assert "<html" in page.lower()
    assert summary.ingest["rows_rejected"] == 0
    assert summary.ingest["runs_ingested"] == summary.ingest["export_runs"] > 0
    assert summary.sources["cost_rows"] > 0
    assert summary.drift["counts"]["firing"] == 2  # the workspace (rule pack), the storage account (assignment)
    assert set(summary.alerts["by_family"]) == {"overspend", "idle", "drift", "activity"}
    json.dumps(summary.to_dict())


def test_digest_shows_the_planted_spike_and_idle_vm(sim: SimResult, first: tuple[Path, RunSummary]) -> None:
    out, _ = first
    page = (out / DIGEST_FILE).read_text(encoding="utf-8")
    spike = sim.planted["cost_spike"].rsplit("/", 1)[-1]
    idle = sim.planted["idle_vm"].rsplit("/", 1)[-1]
    anomalies = page.split("Cost anomalies this week", 1)[1].split("Idle waste", 1)[0]
    assert spike in anomalies
    assert "Top contributor: " + spike in anomalies
    idle_section = page.split("Idle waste", 1)[1].split("Policy drift", 1)[0]
    assert idle in idle_section
    assert "2 opened" in page  # the drifted workspace and the storage account the organisation's assignment finds


def test_demo_cards_carry_signed_action_links(first: tuple[Path, RunSummary]) -> None:
    from datetime import timedelta
    from urllib.parse import parse_qsl, urlsplit

    from alerts.signing import verify_link

    out, _ = first
    key = (out / ".signing-key").read_text(encoding="utf-8").strip().encode()
    assert oct((out / ".signing-key").stat().st_mode & 0o777) == "0o600"
    card = json.loads(sorted((out / OUTBOX_DIR).glob("*.json"))[0].read_text(encoding="utf-8"))
    text = json.dumps(card)
    urls = re.findall(r'"url": "(http://localhost:7071/api/alerts/action\\?[^"]+)"', text)
    titles = set(re.findall(r'"title": "(Acknowledge|Silence 24h|Approve remediation)"', text))
    # The demo's remediation mode is the default, dry-run: no Approve button (tests/security/test_approvals.py).
    assert titles == {"Acknowledge", "Silence 24h"}
    assert urls
    signed = verify_link(
        dict(parse_qsl(urlsplit(urls[0]).query)),
        key=key,
        now=DEFAULT_NOW + timedelta(minutes=1),
        store=None,
        consume=False,
    )
    assert signed.action in ("ack", "silence", "approve")


def test_second_run_sends_nothing_new(sim: SimResult, config: VigilConfig, first: tuple[Path, RunSummary]) -> None:
    out, summary = first
    before = sorted(p.name for p in (out / OUTBOX_DIR).iterdir())
    again = _run(sim.root, out, config)
    assert sorted(p.name for p in (out / OUTBOX_DIR).iterdir()) == before
    assert again.outbox_files == []
    assert again.notifications["sent"] == 0
    assert again.alerts["enqueued"] == 0
    assert again.ingest["runs_ingested"] == 0
    assert again.ingest["runs_skipped"] == summary.ingest["export_runs"]
    # Every relevant event was seen before (dedup by event id): nothing is evaluated again.
    counts = again.drift["counts"]
    assert counts["duplicates"] > 0
    assert counts["duplicates"] + counts["irrelevant"] == summary.sources["events"]
    assert counts["processed"] == 0
    # The report reflects the alert state, so the drift alert is still listed.
    assert again.alerts["by_family"] == summary.alerts["by_family"]


def test_a_fresh_out_dir_notifies_again(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    summary = _run(sim.root, tmp_path / "fresh", config)
    assert summary.notifications["sent"] > 0


def test_bad_tenant_file_stops_the_run_naming_it(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    (tenant / "events" / "zz-broken.json").write_text("[{", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"zz-broken\.json"):
        _run(tenant, tmp_path / "out", config)


def test_a_corrupt_cost_part_is_reported_and_retried_later(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    part = sorted(tenant.rglob("part_*.csv.gz"))[0]
    good = part.read_bytes()
    part.write_bytes(b"\x1f\x8b not really gzip")
    summary = _run(tenant, tmp_path / "out", config)
    assert summary.ingest["files_failed"] >= 1
    assert summary.ingest["errors"]
    assert "drift" in summary.alerts["by_family"]  # the other detectors still ran
    part.write_bytes(good)
    retry = _run(tenant, tmp_path / "out", config)
    assert retry.ingest["files_failed"] == 0
    assert retry.ingest["runs_ingested"] > 0


def test_requires_timezone_aware_now(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    store = open_store("sqlite", path=tmp_path / STATE_FILE)
    try:
        with pytest.raises(ValueError, match="timezone-aware"):
            run_tenant(sim.root, config=config, store=store, out_dir=tmp_path, now=DEFAULT_NOW.replace(tzinfo=None))
    finally:
        store.close()


def test_fixing_the_workspace_resolves_the_drift_alert(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    out = tmp_path / "out"
    _run(tenant, out, config)
    ws_id = sim.planted["drift_workspace"]
    ws_file = next(p for p in (tenant / "resources").rglob("workspaces--mlw-research.json"))
    ws = json.loads(ws_file.read_text(encoding="utf-8"))
    ws["properties"]["publicNetworkAccess"] = "Disabled"
    ws_file.write_text(json.dumps(ws), encoding="utf-8")
    events = [e for f in sorted((tenant / "events").glob("*.json")) for e in json.loads(f.read_text(encoding="utf-8"))]
    (original,) = [e for e in events if e["subject"] == ws_id]
    fix = {**original, "id": "fix-0001", "eventTime": "2026-11-24T23:30:00.0000000Z"}  # a later write: the fix
    (tenant / "events" / "20261124-fix.json").write_text(json.dumps([fix]), encoding="utf-8")

    before = {p.name for p in (out / OUTBOX_DIR).iterdir()}
    again = _run(tenant, out, config)
    assert again.drift["counts"]["resolved"] == 1
    (drift,) = [a for a in _alerts(out) if a["labels"]["resource_id"] == ws_id.lower()]
    assert drift["status"] == "resolved"
    new = {p.name for p in (out / OUTBOX_DIR).iterdir()} - before
    assert any(n.startswith("security.msteams") for n in new)  # Teams sends resolved notifications
    assert not any(n.startswith("security.email") for n in new)  # email does not (send_resolved: false)


def test_a_tenant_built_from_real_public_samples(samples_dir: Path, config: VigilConfig, tmp_path: Path) -> None:
    """Real ARM, Monitor and Event Grid payloads (not written by us) go through the whole pipeline."""
    tenant = tmp_path / "tenant"
    for sub, names in {
        "resources": [
            "arm/spec_ml_2025-09-01_Workspace_get.json",
            "arm/spec_ml_2025-09-01_Compute_get_ComputeInstance.json",
        ],
        "metrics": ["api/c7n_vm_metrics_PercentageCPU_P1D.real.json"],
        "events": [
            "eventgrid/docs_ResourceWriteSuccess.eventgridschema.json",
            "eventgrid/docs_ResourceWriteSuccess.cloudeventschema.json",
            "eventgrid/docs_ResourceDeleteSuccess.eventgridschema.json",
            "eventgrid/docs_ResourceActionSuccess.eventgridschema.json",
            "eventgrid/docs_BlobCreated.eventgridschema.json",
        ],
        "activity": ["api/spec_monitor_2015-04-01_GetActivityLogsFiltered.json"],
    }.items():
        (tenant / sub).mkdir(parents=True)
        for name in names:
            shutil.copy(samples_dir / name, tenant / sub / Path(name).name)
    summary = _run(tenant, tmp_path / "out", config)
    assert summary.sources["resources"] == 2
    assert summary.sources["metric_resources"] == 1
    assert summary.sources["cost_rows"] == 0
    counts = summary.drift["counts"]
    assert counts["irrelevant"] >= 1  # BlobCreated is not a resource event
    assert counts["processed"] + counts["irrelevant"] + counts["quarantined"] + counts["duplicates"] == 5
    assert (tmp_path / "out" / ALERTS_FILE).exists()
    assert summary.digest == "alerts.digest"  # the full digest copes with no cost data


def test_a_deleted_idle_vm_resolves_its_alert(sim: SimResult, config: VigilConfig, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    shutil.copytree(sim.root, tenant)
    out = tmp_path / "out"
    first = _run(tenant, out, config)
    assert first.alerts["by_family"]["idle"] == {"firing": 2, "resolved": 0}
    vm_id = sim.planted["idle_vm"].lower()
    (idle,) = [a for a in _alerts(out) if a["labels"]["detector"] == "idle" and a["labels"]["resource_id"] == vm_id]
    prev = previous_findings_of(out)
    assert idle["fingerprint"] in {f.fingerprint for f in prev}
    assert len(prev) == 2
    # The VM is deleted: gone from the inventory and from the metrics.
    next(p for p in (tenant / "resources").rglob("virtualmachines--vm-legacy-app-01.json")).unlink()
    next(p for p in (tenant / "metrics").rglob("vm-legacy-app-01.json")).unlink()
    again = _run(tenant, out, config)
    assert again.alerts["by_family"]["idle"] == {"firing": 1, "resolved": 1}  # the ML instance still fires
    by_id = {a["labels"]["resource_id"]: a for a in _alerts(out) if a["labels"]["detector"] == "idle"}
    resolved = by_id[vm_id]
    assert resolved["fingerprint"] == idle["fingerprint"]
    assert resolved["status"] == "resolved"
    assert by_id[sim.planted["idle_ml_instance"].lower()]["status"] == "firing"


def previous_findings_of(out: Path) -> list[Any]:
    store = open_store("sqlite", path=out / STATE_FILE)
    try:
        return previous_findings(store, DEFAULT_NOW, "idle")
    finally:
        store.close()


def test_a_run_with_an_alertmanager_receiver_runs_the_forwarding_timer(sim: SimResult, tmp_path: Path) -> None:
    """`vigil run` calls the forward timer's handler (one code path) when a receiver forwards to
    Alertmanager: what it would post lands in the outbox, firing alerts ending two timer periods on."""
    import yaml

    from vigil.config import parse_config

    doc = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    doc["route"]["routes"].insert(0, {"receiver": "am", "matchers": ['detector="idle"'], "continue": True})
    doc["receivers"].append({"name": "am", "alertmanager_configs": [{"url": "http://127.0.0.1:9"}]})
    summary = _run(sim.root, tmp_path, parse_config(doc))
    assert summary.handlers["run_forward"] == 1
    files = sorted((tmp_path / OUTBOX_DIR).glob("am.alertmanager-0.*.alertmanager.json"))
    posts = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    firing = sorted(d["labels"]["resource_id"] for post in posts for d in post)
    # each idle alert twice: its notification (one group per resource) and the timer's one post of all
    assert len(files) == len(firing) // 2 + 1
    assert firing[::2] == firing[1::2]
    assert {d["labels"]["detector"] for post in posts for d in post} == {"idle"}
