"""`vigil silence …` and `vigil alerts …` end to end on a SQLite state file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from alerts.outbox import QueueOutbox
from alerts.pipeline import process
from alerts.testing import finding
from core.model import Severity
from core.state import open_store
from tests.alerts.helpers import T0, AlertsQueue
from vigil.cli.main import app
from vigil.config import parse_config
from vigil.runtime_local import LocalRuntime

runner = CliRunner()
NOW = ["--now", (T0 + timedelta(minutes=10)).isoformat()]


def _seed(db: Path) -> list[str]:
    store = open_store("sqlite", path=db)
    try:
        cfg = parse_config({"route": {"receiver": "r"}, "receivers": [{"name": "r"}]})
        fs = [
            finding(rule="vm-idle", severity=Severity.LOW, observed_at=T0),
            finding(rule="storage-public", severity=Severity.CRITICAL, observed_at=T0),
        ]
        process(fs, config=cfg, store=store, outbox=AlertsQueue(cfg, store).outbox, now=T0)
        return [f.fingerprint for f in fs]
    finally:
        store.close()


def test_silence_add_list_expire(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    add = runner.invoke(
        app,
        [
            "silence",
            "add",
            "--matcher",
            'alertname="vm-idle"',
            "--matcher",
            "severity=~low|info",
            "--duration",
            "24h",
            "--comment",
            "planned",
            "--author",
            "ana",
            "--state",
            db,
            *NOW,
        ],
    )
    assert add.exit_code == 0, add.output
    sid = add.output.strip()
    out = runner.invoke(app, ["silence", "list", "--json", "--state", db, *NOW])
    (s,) = json.loads(out.output)
    assert s["id"] == sid
    assert s["state"] == "active"
    assert s["matchers"] == ['alertname="vm-idle"', "severity=~low|info"]
    assert runner.invoke(app, ["silence", "expire", sid, "--state", db, *NOW]).exit_code == 0
    assert json.loads(runner.invoke(app, ["silence", "list", "--json", "--state", db, *NOW]).output) == []
    everything = json.loads(runner.invoke(app, ["silence", "list", "--all", "--json", "--state", db, *NOW]).output)
    assert [x["state"] for x in everything] == ["expired"]
    assert runner.invoke(app, ["silence", "expire", "nope", "--state", db]).exit_code == 1
    bad = runner.invoke(app, ["silence", "add", "--matcher", "a=~(", "--comment", "c", "--author", "a", "--state", db])
    assert bad.exit_code == 2
    assert "error parsing regexp: missing closing )" in bad.output


def test_alerts_list_filter_ack(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    idle_fp, public_fp = _seed(db)
    out = runner.invoke(app, ["alerts", "list", "--json", "--state", str(db), *NOW])
    assert {a["fingerprint"] for a in json.loads(out.output)} == {idle_fp, public_fp}
    out = runner.invoke(
        app,
        [
            "alerts",
            "list",
            "--status",
            "firing",
            "--matcher",
            'severity="critical"',
            "--json",
            "--state",
            str(db),
            *NOW,
        ],
    )
    assert [a["fingerprint"] for a in json.loads(out.output)] == [public_fp]
    assert (
        json.loads(
            runner.invoke(app, ["alerts", "list", "--status", "resolved", "--json", "--state", str(db), *NOW]).output
        )
        == []
    )
    ack = runner.invoke(
        app, ["alerts", "ack", public_fp, "--by", "bob", "--comment", "looking", "--state", str(db), *NOW]
    )
    assert ack.exit_code == 0, ack.output
    (row,) = json.loads(
        runner.invoke(app, ["alerts", "list", "-m", 'severity="critical"', "--json", "--state", str(db), *NOW]).output
    )
    assert row["ack"]["by"] == "bob"
    assert row["ack"]["comment"] == "looking"
    assert row["remediation"] is None
    # a remediation's outcome shows beside the alert (read with the acks, one batched read per namespace)
    from alerts.remediation.execute import OUTCOMES

    store = open_store("sqlite", path=db)
    try:
        store.put(OUTCOMES, public_fp, {"outcome": "remediated by carol: Deallocate", "result": "succeeded"})
    finally:
        store.close()
    (row,) = json.loads(
        runner.invoke(app, ["alerts", "list", "-m", 'severity="critical"', "--json", "--state", str(db), *NOW]).output
    )
    assert row["remediation"] == "remediated by carol: Deallocate"
    assert row["ack"]["by"] == "bob"
    text = runner.invoke(app, ["alerts", "list", "--state", str(db), *NOW]).output
    assert "acked by bob" in text
    assert runner.invoke(app, ["alerts", "ack", "0000", "--by", "x", "--state", str(db)]).exit_code == 1


def test_routes_test_and_tree(tmp_path: Path) -> None:
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(
        """
route:
  receiver: default
  routes:
    - matchers: ['severity=~"critical|high"']
      receiver: oncall
      continue: true
    - matchers: [detector="drift"]
      receiver: security
receivers: [{name: default}, {name: oncall}, {name: security}]
""",
        encoding="utf-8",
    )
    out = runner.invoke(app, ["alerts", "routes", "test", "--config", str(cfg), "severity=high", "detector=drift"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["oncall", "security"]
    out = runner.invoke(app, ["alerts", "routes", "test", "--config", str(cfg), "severity=low"])
    assert out.output.splitlines() == ["default"]
    out = runner.invoke(
        app, ["alerts", "routes", "test", "--config", str(cfg), "--verify-receivers", "oncall", "severity=low"]
    )
    assert out.exit_code == 1
    tree = runner.invoke(app, ["alerts", "routes", "test", "--config", str(cfg), "--tree"])
    assert tree.exit_code == 0
    assert len(tree.output.splitlines()) == 3
    assert tree.output.splitlines()[1].startswith('  {severity=~"critical|high"}  receiver: oncall')


def test_routes_test_reports_config_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("route: {receiver: ghost, colour: blue}\nreceivers: [{name: a}]\n", encoding="utf-8")
    out = runner.invoke(app, ["alerts", "routes", "test", "--config", str(cfg), "a=b"])
    assert out.exit_code == 2
    assert "route.colour: unknown key" in out.output


def test_dispatch_to_outbox_dir(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    cfgfile = tmp_path / "vigil.yaml"
    cfgfile.write_text(
        "route: {receiver: t, group_wait: 0s}\n"
        "receivers: [{name: t, msteamsv2_configs: [{webhook_url: 'http://never'}]}]\n",
        encoding="utf-8",
    )
    from vigil.config import load_config

    store = open_store("sqlite", path=db)
    try:  # the alerts queue of `vigil run`'s local runtime, as the handlers fill it
        cfg = load_config(cfgfile)
        queue = QueueOutbox(LocalRuntime(cfg, store, tmp_path / "data"), store, "vigil-alerts")
        process([finding(observed_at=T0)], config=cfg, store=store, outbox=queue, now=T0)
    finally:
        store.close()
    out = runner.invoke(
        app,
        [
            "alerts",
            "dispatch",
            "--config",
            str(cfgfile),
            "--state",
            str(db),
            "--outbox-dir",
            str(tmp_path / "outbox"),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["delivered"] == 1
    assert len(list((tmp_path / "outbox").glob("*.json"))) == 1
    shown = runner.invoke(app, ["alerts", "outbox", "--state", str(db)]).output
    assert " sent " in shown


def test_alerts_list_shows_inhibited_with_config(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    idle_fp, public_fp = _seed(db)
    cfgfile = tmp_path / "vigil.yaml"
    cfgfile.write_text(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "inhibit_rules: [{source_matchers: ['severity=\"critical\"'], target_matchers: ['severity=\"low\"'], "
        "equal: [resource_id]}]\n",
        encoding="utf-8",
    )
    rows = json.loads(
        runner.invoke(app, ["alerts", "list", "--json", "--config", str(cfgfile), "--state", str(db), *NOW]).output
    )
    by_fp = {r["fingerprint"]: r for r in rows}
    assert by_fp[idle_fp]["inhibited_by"] == [public_fp]
    assert by_fp[public_fp]["inhibited_by"] == []
