"""`make demo` takes the console screenshots and one Teams card of each kind where Chromium is installed,
and skips them with a message (never failing the demo) where it is not. The browser runs themselves are
tests/console/test_browser.py and tests/vigil/test_demo_outbox.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.console.conftest import REPO


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        [make, "-s", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_demo_runs_the_screenshots_step() -> None:
    plan = _make("-n", "demo")
    assert plan.returncode == 0, plan.stderr
    assert "demo-shots" in plan.stdout


@pytest.mark.parametrize("chromium", ["", "/nonexistent/chromium"])
def test_without_chromium_the_screenshots_are_skipped_with_a_message(chromium: str) -> None:
    out = _make("demo-shots", f"CHROMIUM={chromium}")
    assert out.returncode == 0, out.stderr
    assert "screenshots:   skipped: Chromium is not installed" in out.stdout
    assert "make chromium" in out.stdout
    assert "card shots:    skipped: needs Chromium and the adaptivecards renderer" in out.stdout
