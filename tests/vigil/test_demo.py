"""`vigil demo` and `vigil run` through the real CLI entry point."""

from __future__ import annotations

import functools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app

runner = CliRunner()


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _summary(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    return json.loads(last)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, _summary(_invoke("demo", "--out", str(out), "--json"))


def test_demo_simulates_then_runs_the_pipeline(demo_out: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo_out
    assert (out / "tenant" / "tenant.json").is_file()
    assert (out / "state.db").is_file()
    assert set(summary["alerts"]["by_family"]) == {"overspend", "idle", "drift", "activity"}
    assert summary["outbox_files"]
    assert sorted(p.name for p in (out / "outbox").iterdir()) == sorted(summary["outbox_files"])
    assert (out / "alerts.jsonl").stat().st_size > 0
    assert (out / "digest.html").is_file()


def test_demo_twice_sends_nothing_new(demo_out: tuple[Path, dict[str, Any]]) -> None:
    out, first = demo_out
    before = sorted(p.name for p in (out / "outbox").iterdir())
    again = _summary(_invoke("demo", "--out", str(out), "--json"))
    assert again["outbox_files"] == []
    assert again["notifications"]["sent"] == 0
    assert sorted(p.name for p in (out / "outbox").iterdir()) == before
    assert again["alerts"]["by_family"] == first["alerts"]["by_family"]


def test_run_over_the_demo_tenant_is_the_same_pipeline(demo_out: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, first = demo_out
    summary = _summary(_invoke("run", "--tenant", str(out / "tenant"), "--out", str(tmp_path / "run"), "--json"))
    assert summary["alerts"]["by_family"] == first["alerts"]["by_family"]
    assert len(summary["outbox_files"]) == len(first["outbox_files"])
    assert summary["now"] == first["now"] == "2026-11-25T00:00:00+00:00"


def test_run_prints_a_status_line_per_step_on_stderr_when_it_is_not_a_terminal(
    demo_out: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Without a terminal (CI, a pipe, a log file) there is no progress bar; each step still says what it read
    and whether it is done, on stderr, as live mode does, and stdout stays the JSON summary."""
    out, _ = demo_out
    result = _invoke("run", "--tenant", str(out / "tenant"), "--out", str(tmp_path / "run"), "--json")
    summary = _summary(result)
    lines = result.stderr.splitlines()
    for status in summary["source_status"]:
        assert any(line.startswith(f"{status['source']} (") and line.endswith("done") for line in lines), status


HANDLERS = (
    "handle_blob_created",
    "handle_ingest_part",
    "handle_detect",
    "handle_detect_scopes",
    "run_metrics",
    "handle_resource_events",
    "run_sweep",
    "run_activity",
    "dispatch_alert",
)


def test_the_demos_handlers_are_the_function_apps_triggers() -> None:
    """Each handler the demo drives is one a Function front door calls (by reference)."""
    import re

    import vigil

    doors = "".join(p.read_text(encoding="utf-8") for p in Path(vigil.__file__).parent.glob("functions*.py"))
    called = set(re.findall(r"\bhandlers\.([a-z_]+)\b", doors))
    assert set(HANDLERS) <= called


def test_a_demo_run_goes_through_the_function_apps_handlers(
    demo_out: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vigil demo` drives the handlers the Function App's triggers call (vigil.handlers), once per
    manifest, queue message, timer tick and event delivery: every call is counted here."""
    from vigil import handlers

    calls: Counter[str] = Counter()
    for name in HANDLERS:
        original = getattr(handlers, name)

        @functools.wraps(original)
        def counted(*args: Any, _f: Any = original, _n: str = name) -> Any:
            calls[_n] += 1
            return _f(*args)

        monkeypatch.setattr(handlers, name, counted)
    out, first = demo_out
    shutil.copytree(out / "tenant", tmp_path / "out" / "tenant")
    summary = _summary(_invoke("demo", "--out", str(tmp_path / "out"), "--json"))
    ingest = summary["ingest"]
    assert calls["handle_blob_created"] == ingest["export_runs"] > 0  # one BlobCreated per manifest
    assert calls["handle_ingest_part"] == ingest["parts_enqueued"] > 0  # one per ingest-queue message
    assert calls["handle_detect"] >= ingest["runs_ingested"] > 0  # one per completed run (+ group flushes)
    assert calls["handle_detect_scopes"] >= 2  # its batches of subscriptions, then the tenant step
    assert calls["run_metrics"] == 1  # the metrics timer
    assert calls["handle_resource_events"] == 1  # the tenant's Event Grid deliveries
    assert calls["run_sweep"] == 1  # the sweep timer: the periodic drift evaluation of every resource
    assert calls["run_activity"] == 1  # the activity-log timer
    assert calls["dispatch_alert"] == summary["notifications"]["delivered"] > 0  # one per alerts-queue message
    assert summary["handlers"] == dict(calls)
    assert summary["alerts"]["by_family"] == first["alerts"]["by_family"]
    assert len(summary["outbox_files"]) == len(first["outbox_files"])


def test_fresh_starts_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _summary(_invoke("demo", "--out", str(out), "--seed", "3", "--json"))
    (out / "tenant" / "resources" / "marker.json").write_text("[]", encoding="utf-8")
    fresh = _summary(_invoke("demo", "--fresh", "--out", str(out), "--seed", "3", "--json"))
    assert not (out / "tenant" / "resources" / "marker.json").exists()
    assert fresh["notifications"]["sent"] == first["notifications"]["sent"] > 0
    assert fresh["ingest"]["runs_ingested"] == first["ingest"]["runs_ingested"] > 0


def test_fresh_refuses_to_delete_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = _invoke("demo", "--fresh", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert (tmp_path / "notes.txt").exists()


def test_human_output(tmp_path: Path, demo_out: tuple[Path, dict[str, Any]]) -> None:
    out, _ = demo_out
    result = _invoke("run", "--tenant", str(out / "tenant"), "--out", str(tmp_path / "h"))
    assert result.exit_code == 0
    # the ML workspace (rule pack), the storage account (org assignment) and ci-bob (the sweep)
    assert "drift: 3 firing" in result.stdout
    assert "outbox" in result.stdout


def test_live_mode_needs_a_config_with_scopes(tmp_path: Path) -> None:
    """Without --tenant, `vigil run` reads Azure (tests/vigil/test_run_live.py): it needs a config naming scopes."""
    result = _invoke("run")
    assert result.exit_code == 2
    assert "live mode (no --tenant) needs --config" in result.stderr
    empty = tmp_path / "vigil.yaml"
    empty.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n", encoding="utf-8")
    result = _invoke("run", "--config", str(empty), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "names no scopes" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing created for a config that cannot run
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        empty.read_text(encoding="utf-8") + "sources:\n  cost_exports:\n    account_url: http://acct.example\n",
        encoding="utf-8",
    )
    result = _invoke("run", "--config", str(plain), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "sources.cost_exports.account_url" in result.stderr


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert _invoke("run", "--tenant", str(tmp_path / "nope")).exit_code == 2
    assert _invoke("run", "--tenant", str(tmp_path), "--now", "yesterday").exit_code == 2


@pytest.mark.parametrize("command", ["demo", "run"])
def test_help(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout


def test_demo_finds_the_planted_idle_ml_compute_instance_with_its_waste_from_cost_data(
    demo_out: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = demo_out
    planted = json.loads((out / "tenant" / "tenant.json").read_text(encoding="utf-8"))["planted"]
    ci_id = planted["idle_ml_instance"].lower()
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    idle = {a["labels"]["resource_id"]: a for a in alerts if a["labels"]["detector"] == "idle"}
    assert set(idle) == {planted["idle_vm"].lower(), ci_id}  # only the planted idle resources
    ci = idle[ci_id]
    assert ci["status"] == "firing"
    assert ci["labels"]["alertname"] == "ml_compute_instance_idle"
    ann = ci["annotations"]
    assert ann["waste_basis"] == "cost data"
    assert ann["currency"] == "USD"
    # Billed 24 h/day at the NC6s_v3 rate of the EA export: 3.06 USD/h x 24 h x 30 days.
    assert float(ann["monthly_waste"]) == pytest.approx(3.06 * 24 * 30, abs=0.01)
    assert ann["idle_shutdown"] == "PT60M"  # configured, yet the instance sits idle: only utilisation tells
    assert "30 billed day(s)" in ann["waste_note"]
    ev = ci["evidence"]
    assert ev["cpu_max_percent"] < 3
    assert ev["gpu_max_percent"] <= 1
    assert ev["jobs_in_window"] is False
