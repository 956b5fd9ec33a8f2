from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from alerts.remediation.actions import action
from alerts.remediation.execute import execute
from core.state.sqlite import SQLiteStore
from vigil.cli.main import app

SUB = "11111111-1111-1111-1111-111111111111"


def _vm(name: str, tags: dict[str, str]) -> dict[str, object]:
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/{name}",
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "tags": tags,
        "properties": {},
    }


def _alert(rid: str) -> str:
    return json.dumps(
        {
            "status": "firing",
            "labels": {
                "alertname": "vm_shutdown_candidate",
                "detector": "idle",
                "severity": "medium",
                "resource_id": rid.lower(),
                "subscription_id": SUB,
                "resource_group": "rg-a",
                "resource_type": "microsoft.compute/virtualmachines",
            },
            "annotations": {"summary": "idle"},
            "startsAt": "2026-11-20T00:00:00+00:00",
            "endsAt": None,
        }
    )


def test_plan_lists_steps_and_guard_skips(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    (tenant / "resources").mkdir(parents=True)
    vms = [_vm("idle1", {}), _vm("keep", {"vigil:exempt": "true"})]
    (tenant / "resources" / "vms.json").write_text(json.dumps({"value": vms}))
    (tmp_path / "alerts.jsonl").write_text("\n".join(_alert(str(v["id"])) for v in vms) + "\n")
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"remediation:\n  allowed_subscriptions: ['{SUB}']\n  actions:\n    vm_shutdown_candidate: deallocate_vm\n"
    )
    result = CliRunner().invoke(
        app,
        ["remediate", "plan", "--tenant", str(tenant), "--config", str(cfg), "--now", "2026-11-27T00:00:00Z", "--json"],
    )
    assert result.exit_code == 0, result.output
    steps = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    by_name = {s["resource_id"].rsplit("/", 1)[-1]: s for s in steps}
    assert by_name["idle1"]["decision"] == "dry-run"
    assert by_name["idle1"]["action"] == "deallocate_vm"
    assert by_name["keep"]["decision"] == "skip"
    assert "vigil:exempt=true" in by_name["keep"]["reason"]


def test_plan_without_findings_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "t" / "resources").mkdir(parents=True)
    result = CliRunner().invoke(app, ["remediate", "plan", "--tenant", str(tmp_path / "t")])
    assert result.exit_code == 2
    assert "vigil run --tenant" in result.output


class _OfflineArm:
    """Stands in for ARM only to build ledger rows for the log command's formatting."""

    def get(self, path: str, api_version: str) -> dict[str, object] | None:
        return {"statuses": [{"code": "PowerState/deallocated"}]}


def test_log_shows_the_ledger(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    db = tmp_path / "state.db"
    store = SQLiteStore(db)
    execute(
        action("deallocate_vm"),
        resource_id="/subscriptions/s/resourcegroups/r/providers/microsoft.compute/virtualmachines/v",
        fingerprint="abc",
        rule="vm_shutdown_candidate",
        mode="approve",
        approved_by="erin",
        correlation_id="corr-7",
        arm=_OfflineArm(),  # type: ignore[arg-type]
        store=store,
        now=datetime(2026, 11, 27, tzinfo=UTC),
        key="k1",
    )
    store.close()
    result = CliRunner().invoke(app, ["remediation", "log", "--state", str(db), "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(line) for line in result.output.splitlines()]
    assert entry["approved_by"] == "erin"
    assert entry["result"] == "noop"
    assert entry["correlation_id"] == "corr-7"
    text = CliRunner().invoke(app, ["remediation", "log", "--state", str(db)])
    assert "1 ledger entry" in text.output
