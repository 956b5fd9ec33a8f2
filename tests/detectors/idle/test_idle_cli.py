"""`vigil detect idle` on a simulated tenant: the planted idle VM (waste from cost data) and an idle
Azure ML GPU compute instance added to the tenant folder as REST JSON (waste estimated, and said so)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.simulate import SimResult, simulate
from vigil.tenant import TenantFolder

runner = CliRunner()


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimResult, str]:
    root = tmp_path_factory.mktemp("tenant")
    sim = simulate(root)
    ci_id = plant_idle_gpu_instance(root)
    return root, sim, ci_id


def plant_idle_gpu_instance(root: Path) -> str:
    """A running GPU compute instance without idle shutdown, CPU/GPU near zero for the last 12 hours."""
    folder = TenantFolder(root)
    now = folder.now
    assert now is not None
    ws = next(r for r in folder.list(["Microsoft.MachineLearningServices/workspaces"]) if r["name"] == "mlw-forecast")
    sub, rg = ws["id"].split("/")[2], ws["id"].split("/")[4]
    ci_id = f"{ws['id']}/computes/ci-gpu-night"
    arm = {
        "id": ci_id,
        "name": "mlw-forecast/ci-gpu-night",
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": ws["location"],
        "properties": {
            "computeType": "ComputeInstance",
            "computeLocation": ws["location"],
            "provisioningState": "Succeeded",
            "properties": {"vmSize": "Standard_NC6s_v3", "state": "Running"},
        },
    }
    (root / "resources" / sub / rg / "computes--mlw-forecast__ci-gpu-night.json").write_text(json.dumps(arm))
    start = now - timedelta(hours=12)

    def series(name: str, value: float) -> dict[str, Any]:
        data = [
            {
                "timeStamp": (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "average": value,
                "maximum": value,
            }
            for h in range(12)
        ]
        return {
            "id": f"{ws['id']}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": name},
            "unit": "Percent",
            "timeseries": [
                {"metadatavalues": [{"name": {"value": "ComputeName"}, "value": "ci-gpu-night"}], "data": data}
            ],
        }

    body = {
        "timespan": f"{start:%Y-%m-%dT%H:%M:%SZ}/{now:%Y-%m-%dT%H:%M:%SZ}",
        "interval": "PT1H",
        "value": [series("CpuUtilizationPercentage", 0.8), series("GpuUtilizationPercentage", 0.0)],
    }
    (root / "metrics" / sub / rg / "mlw-forecast-gpu.json").write_text(json.dumps(body))
    return ci_id.lower()


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in output.splitlines() if ln.strip().startswith("{")]


def test_detect_idle_finds_the_planted_vm_and_the_idle_ml_instance(tenant: tuple[Path, SimResult, str]) -> None:
    root, sim, ci_id = tenant
    res = runner.invoke(app, ["detect", "idle", "--tenant", str(root), "--json"])
    assert res.exit_code == 0, res.output
    found = {(d["rule"], d["resource_id"]): d for d in lines(res.stdout)}
    vm = found[("vm_shutdown_candidate", sim.planted["idle_vm"].lower())]
    assert vm["status"] == "firing"
    assert vm["waste_basis"] == "cost data"
    assert vm["monthly_waste"] > 100
    assert vm["evidence"]["cpu_p95_of_max_percent"] < 3
    assert vm["evidence"]["waste"]["basis"] == "cost data"
    ci = found[("ml_compute_instance_idle", ci_id)]
    assert ci["annotations"]["idle_shutdown"] == "not configured"
    assert ci["waste_basis"] == "estimate"
    assert ci["monthly_waste"] == pytest.approx(3.06 * 730, abs=0.01)
    assert ci["evidence"]["gpu_max_percent"] == 0.0
    assert all(d["status"] == "firing" for d in found.values())
    text = runner.invoke(app, ["detect", "idle", "--tenant", str(root)])
    rows = text.stdout.splitlines()
    assert rows[0].split() == ["STATUS", "RULE", "RESOURCE", "WASTE/MONTH", "BASIS"]
    ci_row = next(r for r in rows if ci_id in r)
    assert ci_row.endswith(f"{3.06 * 730:,.2f} {ci['annotations']['currency']}  estimate")


def test_now_option_and_all_flag(tenant: tuple[Path, SimResult, str]) -> None:
    root, _sim, ci_id = tenant
    now = TenantFolder(root).now
    assert now is not None
    later = (now + timedelta(hours=20)).isoformat()  # the instance's metrics stop: no verdict for it then
    res = runner.invoke(app, ["detect", "idle", "--tenant", str(root), "--now", later, "--json", "--all"])
    assert res.exit_code == 0, res.output
    got = lines(res.stdout)
    assert any(d["status"] == "resolved" for d in got)
    assert not [d for d in got if d["resource_id"] == ci_id]
    assert {datetime.fromisoformat(d["observed_at"]) for d in got} == {datetime.fromisoformat(later)}


def test_bad_tenant_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["detect", "idle", "--tenant", str(tmp_path / "nope"), "--json"])
    assert res.exit_code == 2
    assert "no such directory" in res.output
