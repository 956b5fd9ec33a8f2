"""Checkov over infra/ with the bicep framework: no failed check, no file it cannot parse, and every
skipped check carries a written justification (an inline `//checkov:skip=ID: reason`).

Checkov pins heavy dependencies, so it lives in its own virtualenv, .venv-tools (`make checkov` creates
it). Its bundled pycep-parser is older than ours: a Bicep file it cannot parse is a failure here too."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.infra.conftest import REPO

CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov not found at {CHECKOV.relative_to(REPO)}: run `make checkov` (it creates .venv-tools)",
            pytrace=False,
        )
    result = subprocess.run(
        [str(CHECKOV), "-d", "infra", "--framework", "bicep", "--skip-download", "--output", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed nothing (exit {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (bicep,) = [r for r in reports if r.get("check_type") == "bicep"]
    return dict(bicep)


def test_checkov_parses_every_bicep_file(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["results"].get("parsing_errors", []) == []
    assert checkov_report["summary"]["resource_count"] > 0


def test_checkov_has_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert not failed, "fix these or skip them inline with a justification:\n" + "\n".join(failed)
    assert checkov_report["summary"]["passed"] > 0


def test_every_skipped_check_is_justified(checkov_report: dict[str, Any]) -> None:
    for check in checkov_report["results"]["skipped_checks"]:
        reason = str(check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 40, f"{check['check_id']} in {check['file_path']}: justification too thin: {reason!r}"
