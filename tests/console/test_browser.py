"""The console in real Chromium (Debian's package, driven by Playwright), served by the real
`vigil serve` command (uvicorn on loopback) over a copy of the demo's state store.

Screenshots go to ``$VIGIL_CONSOLE_SHOTS`` when set (``make console-shots`` points it at
out/console/), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.console.conftest import ML_WORKSPACE, REPO

pytestmark = pytest.mark.chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
DEMO_CONFIG = REPO / "vigil" / "pipeline_demo.yaml"
ML_SUBSCRIPTION = "d23f0824-128b-4f33-8c5c-7fd0a6a3a450"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _wait_port(port: int, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"vigil serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"vigil serve did not listen on port {port} within {timeout} s")


Serve = Callable[..., str]


@pytest.fixture
def serve(state_path: Path, tmp_path: Path, demo_out: Path) -> Iterator[Serve]:
    """Start `vigil serve` (mode dry-run or approve); returns the login URL it printed."""
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str = "dry-run", roles: tuple[str, ...] = ()) -> str:
        config = tmp_path / f"vigil-{mode}.yaml"
        config.write_text(
            DEMO_CONFIG.read_text(encoding="utf-8")
            + f"remediation:\n  mode: {mode}\n  allowed_subscriptions: ['{ML_SUBSCRIPTION}']\n",
            encoding="utf-8",
        )
        cmd = [
            sys.executable,
            "-m",
            "vigil",
            "serve",
            "--state",
            str(state_path),
            "--port",
            "0",
            "--config",
            str(config),
        ]
        cmd += [a for r in roles for a in ("--role", r)]
        cmd += ["--name", "Sam Browser", "--tenant", str(demo_out / "tenant")]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        for _ in range(5):
            line = proc.stdout.readline()
            m = re.search(r"open: (http://127\.0\.0\.1:(\d+)/login\?token=\S+)", line)
            if m:
                _wait_port(int(m.group(2)), proc)
                return m.group(1)
        raise AssertionError("vigil serve printed no URL")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: `make chromium` installs Debian's chromium package")
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("VIGIL_CONSOLE_SHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _page(
    browser: Any, *, width: int = 1280, height: int = 900, scheme: str = "light", **kw: Any
) -> tuple[Any, list[str]]:
    ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme, **kw)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())  # the confirm() before approving or expiring
    return page, errors


def test_triage_in_chromium(browser: Any, serve: Serve, shots: Path) -> None:
    url = serve("approve")
    page, errors = _page(browser)
    page.goto(url)
    assert page.get_by_role("heading", name="Alerts").is_visible()
    total = int(page.get_by_test_id("total").inner_text())
    assert total == 8  # the demo: overspend 1 (one spike, nested scopes collapsed), idle 2, drift 2, activity 3

    # Filter: drift alerts only.
    page.get_by_label("Detector").select_option("drift")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_test_id("total").inner_text() == "2"  # the ML workspace and the org-assignment storage account
    page.screenshot(path=shots / "alerts-filtered.png", full_page=True)

    # Open the detail page.
    page.get_by_role("link", name="ml_workspace_public_network_access").click()
    assert page.get_by_role("heading", name="Labels").is_visible()
    assert page.get_by_test_id("mode").inner_text() == "approve"

    # Acknowledge.
    page.get_by_label("Comment").fill("on it")
    page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged by Sam Browser" in page.get_by_test_id("ack").inner_text()
    assert "✓ acknowledged" in page.locator(".status-line").inner_text()
    detail_url = page.url

    # Silence from the alert: the preview shows what it would match, live as one types.
    page.get_by_role("link", name="Silence…").click()
    assert page.get_by_test_id("preview-total").inner_text() == "1"
    box = page.get_by_label("Matchers (one per line)")
    pre_filled = box.input_value()
    box.fill('detector=~"overspend|idle"')
    page.wait_for_function("() => document.querySelector('[data-testid=preview-total]')?.textContent === '3'")
    box.fill(pre_filled)
    page.wait_for_function("() => document.querySelector('[data-testid=preview-total]')?.textContent === '1'")
    page.get_by_label("Comment").fill("change window for the workspace")
    page.screenshot(path=shots / "silence-preview.png", full_page=True)
    page.get_by_role("button", name="Create silence").click()
    assert page.url == detail_url
    assert "◌ silenced" in page.locator(".status-line").inner_text()

    # Approve the remediation (approve mode): recorded in the ledger under the approver's name.
    page.get_by_role("button", name="Approve remediation").click()
    page.get_by_role("link", name="Remediation ledger").click()
    row = page.locator("tbody tr").first
    assert "remediation_approved" in row.inner_text()
    assert "Sam Browser" in row.inner_text()
    page.screenshot(path=shots / "ledger.png", full_page=True)

    # Read the drift timeline of the resource.
    page.goto(detail_url)
    page.locator("dl.kv a").first.click()
    assert page.get_by_role("heading", name="Drift timeline").is_visible()
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "fired" in timeline
    assert "Dana Whitfield" in timeline
    assert page.locator("mark").first.is_visible()  # the failing clause
    assert "publicNetworkAccess" in page.get_by_test_id("arm").locator("mark").inner_text()
    page.screenshot(path=shots / "drift-timeline.png", full_page=True)
    assert errors == []  # no script error and no Content-Security-Policy violation


def test_drift_timeline_shows_several_verdicts_over_time(
    browser: Any, serve: Serve, shots: Path, state_path: Path, demo_out: Path
) -> None:
    from core.state import open_store
    from tests.console.conftest import more_verdicts

    store = open_store("sqlite", path=state_path)
    try:
        rid = more_verdicts(store, demo_out / "tenant")
    finally:
        store.close()
    url = serve()
    page, errors = _page(browser)
    page.goto(url)
    page.goto(url.split("/login")[0] + "/resource?" + urlencode({"id": rid}))
    history = page.get_by_test_id("verdict-history")
    rows = history.locator("tbody tr").filter(has_text="ml_workspace_public_network_access")
    assert rows.count() == 3
    texts = [rows.nth(i).inner_text() for i in range(3)]
    assert ["✗ non-compliant" in texts[0], "✓ compliant" in texts[1], "✗ non-compliant" in texts[2]] == [True] * 3
    assert "Dana Whitfield" in texts[0]
    assert "bob@contoso.com" in texts[1]
    assert "sweep" in texts[2]
    timeline = page.get_by_test_id("timeline").inner_text()
    assert timeline.count("ml_workspace_public_network_access non-compliant") == 2
    history.scroll_into_view_if_needed()
    page.screenshot(path=shots / "drift-verdict-history.png", full_page=True)
    assert errors == []


VM = (
    "/subscriptions/6513270e-269e-4d37-b2a7-4de452e6b438/resourcegroups/rg-batch-prod"
    "/providers/microsoft.compute/virtualmachines/vm-batch-gpu-01"
)


def test_cost_drill_down_charts_the_series_with_its_band(browser: Any, serve: Serve, shots: Path) -> None:
    url = serve()
    page, errors = _page(browser)
    page.goto(url)
    page.get_by_role("link", name="Cost", exact=True).click()
    page.get_by_label("Scope").select_option(VM)
    page.get_by_role("button", name="Show").click()
    chart = page.get_by_test_id("cost-chart")
    assert chart.is_visible()
    assert chart.get_attribute("role") == "img"
    assert "flagged as anomalous" in (chart.locator("desc").text_content() or "")
    band = chart.locator("polygon.band")
    assert band.count() >= 1
    box = band.first.bounding_box()
    assert box is not None
    assert box["width"] > 300  # the band spans the series, not a bar per anomaly day
    assert box["height"] > 5
    assert chart.locator("path.actual").count() >= 1  # the flagged days
    assert chart.locator("circle.dot").count() > 60  # every other day of the series
    page.get_by_text("Daily figures").click()  # the table alternative
    assert page.get_by_test_id("cost-table").locator("tbody tr").count() == 71
    page.screenshot(path=shots / "cost-drill-down.png", full_page=True)
    assert errors == []


def test_no_approve_control_in_dry_run(browser: Any, serve: Serve, shots: Path) -> None:
    url = serve("dry-run")
    page, errors = _page(browser)
    page.goto(url)
    page.get_by_role("link", name="ml_workspace_public_network_access").click()
    assert page.get_by_test_id("mode").inner_text() == "dry-run"
    assert page.get_by_role("button", name="Approve remediation").count() == 0
    assert page.get_by_text("No approval in dry-run mode").is_visible()
    page.screenshot(path=shots / "alert-detail-dry-run.png", full_page=True)
    assert errors == []


def test_a_reader_sees_no_action_controls(browser: Any, serve: Serve) -> None:
    url = serve("approve", roles=("reader",))
    page, _ = _page(browser)
    page.goto(url)
    page.get_by_role("link", name="ml_workspace_public_network_access").click()
    assert page.get_by_role("button").filter(has_text=re.compile("Acknowledge|Approve")).count() == 0


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 390)])
def test_accessibility_with_axe_core(browser: Any, serve: Serve, shots: Path, scheme: str, width: int) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make node` (npm ci)")
    url = serve("approve")
    # axe is injected as an inline script, which the console's CSP forbids: bypass it for this audit only.
    page, _ = _page(browser, width=width, scheme=scheme, bypass_csp=True)
    page.goto(url)
    paths = ["/alerts", "/silences/new?matchers=detector%3D%22drift%22", "/silences", "/resources", "/cost", "/ledger"]
    paths.append("/cost?" + urlencode({"scope": VM}))
    paths.append("/resource?" + urlencode({"id": ML_WORKSPACE}))
    fp = page.get_by_role("link", name="ml_workspace_public_network_access").get_attribute("href")
    assert fp
    paths.append(fp)
    base = url.split("/login")[0]
    found: dict[str, list[str]] = {}
    for path in paths:
        page.goto(base + path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if serious:
            found[path] = serious
        # Nothing overflows the viewport sideways (usable at phone width).
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.goto(base + fp)
    page.screenshot(path=shots / f"alert-detail-{scheme}-{width}.png", full_page=True)
    page.goto(base + "/alerts")
    page.screenshot(path=shots / f"alerts-{scheme}-{width}.png", full_page=True)
    assert found == {}


def test_keyboard_reaches_the_filter_and_the_first_alert(browser: Any, serve: Serve) -> None:
    page, _ = _page(browser)
    page.goto(serve())
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "f-matchers":
            break
    else:
        raise AssertionError("Tab never reached the label matcher field")
    page.keyboard.type('alertname="ml_workspace_public_network_access"')
    page.keyboard.press("Enter")
    assert page.get_by_test_id("total").inner_text() == "1"
