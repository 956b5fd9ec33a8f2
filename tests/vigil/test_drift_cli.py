"""`vigil drift evaluate` and `vigil events replay`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app

SUB = "00000000-0000-0000-0000-000000000001"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ws-demo"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
runner = CliRunner()


def _ws(pna: str) -> dict[str, Any]:
    return {
        "id": WS_ID,
        "name": "ws-demo",
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "properties": {"publicNetworkAccess": pna},
    }


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_evaluate_prints_one_json_line_per_resource_and_rule(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps({"value": [_ws("Enabled")]}))
    result = runner.invoke(app, ["drift", "evaluate", "--resources", str(tmp_path / "list.json"), "--json"])
    assert result.exit_code == 0, result.output
    rows = _lines(result.stdout)
    assert len(rows) == 6  # the six workspace rules of the pack
    for row in rows:
        assert list(row) == ["resource_id", "rule", "policy_definition_id", "compliant", "effect", "reason"]
    pna = next(r for r in rows if r["rule"] == "ml_workspace_public_network_access")
    assert pna["compliant"] is False
    assert pna["effect"] == "audit"
    assert '"Enabled"' in pna["reason"]
    diag = next(r for r in rows if r["rule"] == "ml_workspace_diagnostic_logs")
    assert diag["compliant"] is None  # no diagnostic settings given: unknown


def test_evaluate_user_policies_with_params(tmp_path: Path) -> None:
    definition = {
        "id": "/subscriptions/x/providers/Microsoft.Authorization/policyDefinitions/allowed-locations",
        "name": "allowed-locations",
        "properties": {
            "displayName": "Allowed locations",
            "mode": "Indexed",
            "parameters": {"listOfAllowedLocations": {"type": "Array"}},
            "policyRule": {
                "if": {"field": "location", "notIn": "[parameters('listOfAllowedLocations')]"},
                "then": {"effect": "deny"},
            },
        },
    }
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "allowed.json").write_text(json.dumps(definition))
    res = tmp_path / "ws.json"
    res.write_text(json.dumps(_ws("Disabled")))
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"allowed-locations": {"listOfAllowedLocations": ["eastus"]}}))
    result = runner.invoke(
        app, ["drift", "evaluate", "-r", str(res), "-p", str(pol), "--params", str(params), "--json"]
    )
    assert result.exit_code == 0, result.output
    [row] = _lines(result.stdout)
    assert (row["rule"], row["compliant"], row["effect"]) == ("allowed-locations", False, "deny")
    assert row["policy_definition_id"].endswith("/allowed-locations")


def test_evaluate_reports_load_errors_with_file_and_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "properties": {
                    "mode": "All",
                    "policyRule": {"if": {"field": "type", "startsWith": "x"}, "then": {"effect": "audit"}},
                }
            }
        )
    )
    res = tmp_path / "ws.json"
    res.write_text(json.dumps(_ws("Enabled")))
    result = runner.invoke(app, ["drift", "evaluate", "-r", str(res), "-p", str(bad), "--json"])
    assert result.exit_code == 2
    assert f"{bad}: $.properties.policyRule.if.startsWith: unsupported operator" in result.stderr


def test_evaluate_real_samples() -> None:
    if not (SAMPLES / "arm").is_dir():
        pytest.skip("samples absent")
    result = runner.invoke(app, ["drift", "evaluate", "-r", str(SAMPLES / "arm"), "--json"])
    assert result.exit_code == 0, result.output
    verdicts = {(r["resource_id"].rsplit("/", 1)[-1], r["rule"]): r["compliant"] for r in _lines(result.stdout)}
    assert verdicts[("testworkspace", "ml_workspace_private_link")] is True
    assert verdicts[("testworkspace", "ml_workspace_public_network_access")] is True
    assert verdicts[("compute123", "ml_compute_vnet")] is True
    assert verdicts[("compute123", "ml_compute_idle_shutdown")] is False


def _tenant(tmp_path: Path, pna: str) -> Path:
    tenant = tmp_path / "tenant"
    (tenant / "resources").mkdir(parents=True, exist_ok=True)
    (tenant / "resources" / "ws.json").write_text(json.dumps(_ws(pna)))
    (tenant / "resources" / "diag.json").write_text(
        json.dumps(
            {
                "id": f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/d",
                "name": "d",
                "type": "Microsoft.Insights/diagnosticSettings",
                "properties": {"logs": [{"categoryGroup": "allLogs", "enabled": True}]},
            }
        )
    )
    return tenant


def _events(path: Path, eid: str, when: str) -> Path:
    path.write_text(
        json.dumps(
            [
                {
                    "id": eid,
                    "subject": WS_ID,
                    "eventType": "Microsoft.Resources.ResourceWriteSuccess",
                    "eventTime": when,
                    "dataVersion": "2",
                    "metadataVersion": "1",
                    "data": {
                        "resourceUri": WS_ID,
                        "correlationId": "c-1",
                        "status": "Succeeded",
                        "claims": {"name": "Alice", "upn": "alice@contoso.com"},
                    },
                },
                {
                    "id": f"{eid}-blob",
                    "subject": "/blobServices/default/containers/c/blobs/b",
                    "eventType": "Microsoft.Storage.BlobCreated",
                    "eventTime": when,
                    "data": {},
                },
            ]
        )
    )
    return path


def test_replay_goes_through_the_function_handler(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, "Enabled")
    events = _events(tmp_path / "e1.json", "ev-1", "2026-11-27T09:00:00Z")
    args = [
        "events",
        "replay",
        str(events),
        "--tenant",
        str(tenant),
        "--state",
        str(tmp_path / "s.db"),
        "--out",
        str(tmp_path / "out"),
        "--json",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    [row] = _lines(first.stdout)
    assert row["drift"]["processed"] == 1
    assert row["drift"]["irrelevant"] == 1
    assert row["drift"]["firing"] >= 1
    assert row["alerts"]["firing"] == row["drift"]["firing"]
    again = runner.invoke(app, args)
    [row2] = _lines(again.stdout)
    assert row2["drift"]["duplicates"] == 1
    assert row2["drift"]["firing"] == 0
    # the workspace is fixed; a later event resolves
    (tenant / "resources" / "ws.json").write_text(json.dumps(_ws("Disabled")))
    later = _events(tmp_path / "e2.json", "ev-2", "2026-11-27T09:05:00Z")
    fixed = runner.invoke(app, [*args[:2], str(later), *args[3:]])
    [row3] = _lines(fixed.stdout)
    assert row3["drift"]["resolved"] == 1


def test_replay_of_documented_samples_parses_them(tmp_path: Path) -> None:
    if not (SAMPLES / "eventgrid").is_dir():
        pytest.skip("samples absent")
    tenant = _tenant(tmp_path, "Disabled")
    files = sorted(str(p) for p in (SAMPLES / "eventgrid").glob("docs_Resource*.json"))
    result = runner.invoke(
        app,
        [
            "events",
            "replay",
            *files,
            "--tenant",
            str(tenant),
            "--state",
            str(tmp_path / "s.db"),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = _lines(result.stdout)
    assert len(rows) == len(files)
    assert all(r["drift"]["quarantined"] == 0 for r in rows)
    # Storage write/delete samples name a storage account the tenant lacks: read -> 404 -> deleted, nothing fires;
    # the same event id in both schemas is a duplicate the second time.
    assert sum(r["drift"]["duplicates"] for r in rows) == 2
    assert sum(r["drift"]["firing"] for r in rows) == 0


def test_evaluate_uses_diagnostic_settings_given_with_the_resources(tmp_path: Path) -> None:
    diag: dict[str, Any] = {
        "id": f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/d",
        "name": "d",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {"logs": [{"categoryGroup": "allLogs", "enabled": True}]},
    }
    (tmp_path / "all.json").write_text(json.dumps([_ws("Disabled"), diag]))
    result = runner.invoke(app, ["drift", "evaluate", "-r", str(tmp_path / "all.json"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["rule"]: r for r in _lines(result.stdout)}
    assert rows["ml_workspace_diagnostic_logs"]["compliant"] is True
    diag["properties"]["logs"][0]["enabled"] = False
    (tmp_path / "all.json").write_text(json.dumps([_ws("Disabled"), diag]))
    result = runner.invoke(app, ["drift", "evaluate", "-r", str(tmp_path / "all.json"), "--json"])
    rows = {r["rule"]: r for r in _lines(result.stdout)}
    assert rows["ml_workspace_diagnostic_logs"]["compliant"] is False


def test_replay_reports_a_bad_tenant_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    events = _events(tmp_path / "e1.json", "ev-1", "2026-11-27T09:00:00Z")
    result = runner.invoke(
        app,
        [
            "events",
            "replay",
            str(events),
            "--tenant",
            str(tmp_path / "empty"),
            "--state",
            str(tmp_path / "s.db"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "not a tenant folder" in result.stderr
