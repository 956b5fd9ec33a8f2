"""`vigil serve`: loopback only, a token required, over an existing state store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.console.conftest import REPO
from tests.console.test_browser import _wait_port
from vigil.cli.main import app


def test_serve_refuses_a_non_loopback_address_and_a_missing_store(tmp_path: Path, state_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["serve", "--state", str(state_path), "--host", "0.0.0.0"])
    assert out.exit_code == 2
    assert "loopback" in out.output
    out = runner.invoke(app, ["serve", "--state", str(tmp_path / "none.db")])
    assert out.exit_code == 2
    assert "does not exist" in out.output
    out = runner.invoke(app, ["serve", "--state", str(state_path), "--role", "admin"])
    assert out.exit_code == 2


def test_serve_needs_the_printed_token(state_path: Path) -> None:
    cmd = [sys.executable, "-m", "vigil", "serve", "--state", str(state_path), "--port", "0", "--role", "reader"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "Vigil.Reader" in first
        m = re.search(r"open: (http://127\.0\.0\.1:(\d+))/login\?token=(\S+)", proc.stdout.readline())
        assert m
        _wait_port(int(m.group(2)), proc)
        base, token = m.group(1), m.group(3)
        assert httpx.get(f"{base}/alerts").status_code == 401
        assert httpx.get(f"{base}/login?token=x{token}").status_code == 401
        with httpx.Client(base_url=base, follow_redirects=True) as client:
            page = client.get(f"/login?token={token}")
            assert page.status_code == 200
            assert "Alerts" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
