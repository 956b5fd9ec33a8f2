"""Wrong paths fail with one clear error naming the path, and create nothing (issue 21)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["alerts", "list"],
        ["alerts", "outbox"],
        ["alerts", "ack", "0123abcd", "--by", "me"],
        ["silence", "list"],
        ["silence", "expire", "some-id"],
    ],
)
def test_a_typod_state_file_fails_and_is_not_created(args: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    result = runner.invoke(app, [*args, "--state", str(typo)])
    assert result.exit_code == 2, result.output
    assert f"--state {typo}: no such file" in result.stderr
    assert result.stderr.count("error:") == 1
    assert not typo.exists()
    assert not any(tmp_path.iterdir())


def test_silence_add_creates_the_state_it_writes(tmp_path: Path) -> None:
    db = tmp_path / "new" / "state.db"
    args = ["silence", "add", "-m", 'alertname="vm_shutdown_candidate"', "-c", "maintenance", "-a", "me"]
    result = runner.invoke(app, [*args, "--state", str(db)])
    assert result.exit_code == 0, result.output
    assert db.is_file()


def test_costs_summary_on_a_typod_folder_names_it(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    result = runner.invoke(app, ["costs", "summary", "--data", str(typo)])
    assert result.exit_code == 2
    assert f"--data {typo}: no such folder" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["costs", "summary", "--data", str(empty)])
    assert result.exit_code == 2
    assert f"--data {empty}: no cost data" in result.stderr


def test_ids_are_shortened_in_the_middle_never_cut_at_the_end() -> None:
    from vigil.cli.common import shorten

    rid = "/subscriptions/6513270e-269e-4d37-b2a7-4de452e6b438/resourcegroups/rg/providers/x/y/vm-batch-gpu-01"
    short = shorten(rid, 40)
    assert len(short) == 40
    assert short.startswith("/subscriptions/")
    assert short.endswith("vm-batch-gpu-01")
    assert "…" in short
    assert shorten("vm-01", 40) == "vm-01"


def test_detect_idle_on_a_first_run_reports_no_resolved(tmp_path: Path) -> None:
    from vigil.simulate import simulate

    tenant = tmp_path / "tenant"
    simulate(str(tenant))
    result = runner.invoke(app, ["detect", "idle", "--tenant", str(tenant)])
    assert result.exit_code == 0, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("2 idle, ")
    assert "resolved" not in last


def test_option_help_is_labelled_by_type() -> None:
    silence = runner.invoke(app, ["silence", "add", "--help"], terminal_width=200).stdout
    assert re.search(r"--duration\s+-d\s+<duration>", silence)
    assert re.search(r"--json\s+flag\s", silence)
    assert re.search(r"--state\s+<path>", silence)
    for cmd in (["demo"], ["alerts", "list"], ["events", "replay"], ["costs", "summary"], ["init"]):
        assert "<bool>" not in runner.invoke(app, [*cmd, "--help"], terminal_width=200).stdout, cmd
